"""The service's speed, with `watcher serve` running (run by hand: python bench/bench_serve.py).

1. Drop → result latency of 30-person requests, one at a time, p50 and p95 over 100 drops
   (target: p95 ≤ settle time + 1 s; the default settle time, 2 s, is used).
2. A 30-person request dropped just after a 10,000-person one (`--after-big N` rounds): how long after
   its own settle time its result appears (target ≤ 1 s: a big roster never holds a small agency up).
3. A 500-file burst: files per second from the moment the burst lands until the last result,
   next to `watcher process` over the same files in the same run (target ≥ 80 % of it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_issue import new_root, write_request  # noqa: E402


def serve(root: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "serve", "--root", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.5)  # started and watching
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def settings(root: Path, settle: float) -> None:
    (root / "watcher.toml").write_text(f"settle_seconds = {settle}\n", encoding="utf-8")


def bench_latency(count: int, settle: float) -> None:
    root = new_root()
    settings(root, settle)
    staging = Path(tempfile.mkdtemp(prefix="watcher-stage-"))
    for i in range(count):
        write_request(staging / f"L{i:03d}.xlsx", 30, f"L{i:03d}", offset=i * 30)
    proc = serve(root)
    latencies = []
    try:
        for i in range(count):
            name = f"L{i:03d}"
            result = root / "outbox" / "GZ001" / f"{name}_结果.json"
            started = time.monotonic()
            os.rename(staging / f"{name}.xlsx", root / "workbooks" / "GZ001" / f"{name}.xlsx")
            while not result.exists():
                time.sleep(0.01)
            latencies.append(time.monotonic() - started)
    finally:
        stop(proc)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(
        f"drop → result, 30 people, {count} drops, settle {settle:g} s: p50 {statistics.median(latencies):.2f} s, "
        f"p95 {p95:.2f} s (target ≤ {settle + 1:g} s)"
    )
    shutil.rmtree(root)
    shutil.rmtree(staging)


def bench_burst(count: int, settle: float) -> None:
    staging = Path(tempfile.mkdtemp(prefix="watcher-stage-"))
    for i in range(count):
        write_request(staging / f"B{i:03d}.xlsx", 30, f"B{i:03d}", offset=i * 30)

    # watcher process over the same files, already settled
    root = new_root()
    settings(root, settle)
    for f in staging.iterdir():
        shutil.copy(f, root / "workbooks" / "GZ001" / f.name)
    old = time.time() - 3600
    for f in (root / "workbooks" / "GZ001").iterdir():
        if f.is_file():
            os.utime(f, (old, old))
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "watcher", "process", "--root", str(root)], check=True, capture_output=True)
    process_rate = count / (time.monotonic() - started)
    shutil.rmtree(root)

    # watcher serve, the burst renamed in at once
    root = new_root()
    settings(root, settle)
    burst = root / "burst"
    shutil.copytree(staging, burst)
    proc = serve(root)
    out = root / "outbox" / "GZ001"
    try:
        started = time.monotonic()
        for f in sorted(burst.iterdir()):
            os.rename(f, root / "workbooks" / "GZ001" / f.name)
        while len(list(out.glob("*_结果.json"))) < count:
            time.sleep(0.05)
        serve_rate = count / (time.monotonic() - started)
    finally:
        stop(proc)
    print(
        f"{count}-file burst of 30-person requests: serve {serve_rate:.0f} files/s (settle {settle:g} s included), "
        f"process {process_rate:.0f} files/s; serve/process {serve_rate / process_rate:.0%} (target ≥ 80 %)"
    )
    shutil.rmtree(root)
    shutil.rmtree(staging)


def bench_after_big(rounds: int, settle: float, people: int = 10_000) -> None:
    staging = Path(tempfile.mkdtemp(prefix="watcher-stage-"))
    write_request(staging / "BIG.xlsx", people, "BIG")
    write_request(staging / "small.xlsx", 30, "SMALL", offset=people)
    waits = []
    for r in range(rounds):
        root = new_root()
        settings(root, settle)
        proc = serve(root)
        out = root / "outbox" / "GZ001"
        try:
            shutil.copy(staging / "BIG.xlsx", root / f"big{r}.xlsx")
            shutil.copy(staging / "small.xlsx", root / f"small{r}.xlsx")
            os.rename(root / f"big{r}.xlsx", root / "workbooks" / "GZ001" / "big.xlsx")
            time.sleep(0.1)
            dropped = time.monotonic()
            os.rename(root / f"small{r}.xlsx", root / "workbooks" / "GZ001" / "small.xlsx")
            while not (out / "small_结果.json").exists():
                time.sleep(0.01)
            waits.append(time.monotonic() - dropped - settle)
            while not (out / "big_结果.json").exists():
                time.sleep(0.05)
        finally:
            stop(proc)
        shutil.rmtree(root)
    shutil.rmtree(staging)
    print(
        f"30 people dropped 0.1 s after {people:,} people, settle {settle:g} s: its result came "
        f"{', '.join(f'{w:.2f}' for w in waits)} s after its settle time (median {statistics.median(waits):.2f} s; "
        "target ≤ 1 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drops", type=int, default=100)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--after-big", type=int, default=3, help="rounds of a small request just after a big one")
    args = parser.parse_args()
    print(f"machine: {os.uname().machine}, {os.cpu_count()} cores")
    if args.drops:
        bench_latency(args.drops, args.settle)
    if args.after_big:
        bench_after_big(args.after_big, args.settle)
    if args.burst:
        bench_burst(args.burst, args.settle)


if __name__ == "__main__":
    main()
