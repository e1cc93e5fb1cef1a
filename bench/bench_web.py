"""Lookup page speed (run by hand: python bench/bench_web.py [--policies 100000 --clients 50 --seconds 20]).

A ledger of 100,000 policies (10 people each, generated as bench_month_end does), `watcher web` on
loopback, and 50 concurrent clients (5 processes × 10 threads, keep-alive connections) posting
lookups for a while: half find a person, half are mismatches from addresses forwarded through a
trusted proxy (so each failure is counted in the lock-out store, as on a real desk). Reports
lookups per second and p50/p99 latency. Target: p99 under 100 ms.

Paced mode (`--rate 200 --clients 50`): lookups arrive at a fixed rate whatever the answers' speed (an
open loop, as real visitors do), spread over the clients; a lookup's latency counts from when it was
due, so time spent waiting for a free client is counted too (no coordinated omission).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import multiprocessing
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def client(port: int, cases: list, seconds: float, threads: int, out, rate: float = 0.0) -> None:
    """`threads` keep-alive clients for `seconds`: as fast as answered, or, with `rate` (lookups a second
    for this process), each taking the next due slot of a fixed schedule."""
    latencies: list[float] = []
    errors, slowed = [0], [0]
    lock = threading.Lock()
    slots = itertools.count()
    start = time.perf_counter() + 0.5

    def due() -> float | None:
        if not rate:
            return time.perf_counter()
        with lock:
            at = start + next(slots) / rate
        return at if at < start + seconds else None

    def run(seed: int) -> None:
        rnd = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        deadline = (start if rate else time.perf_counter()) + seconds
        while time.perf_counter() < deadline:
            at = due()
            if at is None:
                break
            time.sleep(max(0.0, at - time.perf_counter()))
            policy_no, id_no, found = rnd.choice(cases)
            body = urllib.parse.urlencode({"id_type": "身份证", "policy_no": policy_no, "id_no": id_no})
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Forwarded-For": f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}",
            }
            conn.request("POST", "/", body, headers)
            response = conn.getresponse()
            page = response.read()
            mine.append(time.perf_counter() - at)
            if response.status == 429:
                slowed[0] += 1
            elif response.status != 200 or (b'id="result"' in page) != found:
                errors[0] += 1
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=run, args=(os.getpid() * 100 + i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((latencies, errors[0], slowed[0]))


def main() -> None:
    from bench_month_end import generate

    parser = argparse.ArgumentParser()
    parser.add_argument("--policies", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4, help="watcher web processes (the default of web_workers)")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="paced: lookups a second arriving on a fixed schedule (default: as fast as answered)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "desk"
        subprocess.run([sys.executable, "-m", "watcher", "init", "--root", str(root)], check=True, capture_output=True)
        generate(root, args.policies, 200, 10)
        (root / "watcher.toml").write_text('web_trusted_proxies = ["127.0.0.1"]\nweb_threads = 16\n', encoding="utf-8")
        import sqlite3

        conn = sqlite3.connect(root / "ledger.sqlite3")
        sample = conn.execute(
            "SELECT p.policy_no, i.id_no FROM policies p JOIN insured i ON i.policy_no = p.policy_no"
            " WHERE i.seq = 3 ORDER BY random() LIMIT 2000"
        ).fetchall()
        conn.close()
        cases = [(no, id_no, True) for no, id_no in sample]
        cases += [(no, "110101199003070011", False) for no, _ in sample]  # known policy, wrong person
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "watcher",
                "web",
                "--root",
                str(root),
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            time.sleep(1)
            procs = 5
            queue = multiprocessing.get_context("spawn").Queue()
            children = [
                multiprocessing.get_context("spawn").Process(
                    target=client,
                    args=(port, cases, args.seconds, max(1, args.clients // procs), queue, args.rate / procs),
                )
                for _ in range(procs)
            ]
            for c in children:
                c.start()
            results = [queue.get() for _ in children]
            for c in children:
                c.join()
        finally:
            server.terminate()
            server.wait()
        latencies = sorted(x for lat, _, _ in results for x in lat)
        errors = sum(e for _, e, _ in results)
        slowed = sum(s for _, _, s in results)
        n = len(latencies)
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
            f"clients and server share the cores"
        )
        mode = f"paced at {args.rate:g}/s over" if args.rate else "as fast as answered by"
        print(
            f"ledger: {args.policies} policies; {mode} {args.clients} clients for {args.seconds:g} s; "
            f"{args.workers} web process(es)"
        )
        print(
            f"lookups: {n} ({n / args.seconds:.0f}/s), p50 {latencies[n // 2] * 1000:.1f} ms, "
            f"p99 {latencies[int(n * 0.99)] * 1000:.1f} ms, wrong answers {errors}, 429 {slowed} "
            f"(target p99 under 100 ms)"
        )


if __name__ == "__main__":
    main()
