"""Several workers (run by hand: python bench/bench_workers.py [--files 500]).

The same burst of request files (30 people each) dropped at once into one root, processed by
`watcher serve`: 1 worker on SQLite, then 1, 2 and 4 workers sharing one PostgreSQL ledger
($WATCHER_TEST_PG, default postgresql://postgres@127.0.0.1:5432/test; each run in a fresh schema),
all in one run. Reports files per second from the drop to the last result. Target: 2 workers on
PostgreSQL at least 1.6x one.

Workers are meant for several hosts. On one machine they share its cores with each other and with
PostgreSQL, so by default the run is made twice: workers free to use every core, and each worker (with
its helper processes) pinned to a core of its own, the nearest a small machine comes to one host per
worker. PostgreSQL is never pinned. Each line also says how many cores the whole machine kept busy
during the burst. `--workers 1,2,4,8`, `--modes free` and `--runs 3` choose what is run.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PG = os.environ.get("WATCHER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _results(out: Path) -> int:
    try:
        return sum(1 for entry in os.scandir(out) if entry.name.endswith(".json"))
    except FileNotFoundError:
        return 0


def _busy() -> float:
    """Busy CPU seconds of the whole machine so far, from /proc/stat (Linux); zero elsewhere."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def burst(files: list[bytes], workers: int, url: str | None, pinned: bool = False) -> tuple[float, float]:
    """(files per second, cores the whole machine kept busy on average: workers and PostgreSQL together)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "desk"
        env = {**os.environ, "PYTHONUTF8": "1"}
        env.pop("WATCHER_LEDGER_URL", None)
        if url:
            env["WATCHER_LEDGER_URL"] = url
        subprocess.run(
            [sys.executable, "-m", "watcher", "init", "--demo", "--root", str(root)],
            check=True,
            capture_output=True,
            env=env,
        )
        (root / "watcher.toml").write_text("settle_seconds = 0.5\nrescan_seconds = 2\n", encoding="utf-8")
        cores = sorted(os.sched_getaffinity(0))
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "watcher", "serve", "--root", str(root)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # pinned: each worker (and its helpers) kept to a core of its own
                preexec_fn=(lambda core=cores[i % len(cores)]: os.sched_setaffinity(0, {core}))  # noqa: B008
                if pinned
                else None,
            )
            for i in range(workers)
        ]
        time.sleep(3)
        staging = root / "staging"
        staging.mkdir()
        for i, data in enumerate(files):
            (staging / f"团{i:04d}.xlsx").write_bytes(data)
        out = root / "outbox" / "GZ001"
        started = time.monotonic()
        busy_before = _busy()
        for i in range(len(files)):
            os.rename(staging / f"团{i:04d}.xlsx", root / "workbooks" / "GZ001" / f"团{i:04d}.xlsx")
        while _results(out) < len(files):  # cheap to count: the harness shares the cores it measures
            time.sleep(0.05)
        took = time.monotonic() - started
        cores = (_busy() - busy_before) / took
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)
        return len(files) / took, cores


def main() -> None:
    import psycopg
    from bench_issue import write_request

    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--workers", default="1,2,4", help="worker counts on PostgreSQL, e.g. 1,2,4,8")
    parser.add_argument("--modes", default="free,pinned", help="free, pinned or both (free,pinned)")
    parser.add_argument("--runs", type=int, default=1, help="repeat the whole run this many times")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    modes = [m.strip() == "pinned" for m in args.modes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(args.files):
            path = Path(tmp) / f"{i}.xlsx"
            write_request(path, 30, f"B{i:04d}", offset=i * 30)
            files.append(path.read_bytes())
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.files} files of 30 people; workers and PostgreSQL share the cores"
    )
    for run, pinned in ((run, pinned) for run in range(1, args.runs + 1) for pinned in modes):
        print(f"run {run}: " if args.runs > 1 else "", end="")
        print("each worker pinned to a core of its own" if pinned else "workers free to use every core", flush=True)
        rates = {}
        if not pinned:
            rates["sqlite-1"], cores = burst(files, 1, None)
            print(f"  SQLite, 1 worker: {rates['sqlite-1']:.1f} files/s; {cores:.1f} cores busy", flush=True)
        for n in counts:
            if pinned and n > (os.cpu_count() or 1):
                continue
            schema = "b_" + uuid.uuid4().hex[:12]
            with psycopg.connect(PG, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            try:
                url = f"{PG}{'&' if '?' in PG else '?'}options=-csearch_path%3D{schema}"
                rates[f"pg-{n}"], cores = burst(files, n, url, pinned)
            finally:
                with psycopg.connect(PG, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
            ratio = f" ({rates[f'pg-{n}'] / rates['pg-1']:.2f}x one worker)" if "pg-1" in rates else ""
            print(
                f"  PostgreSQL, {n} worker(s): {rates[f'pg-{n}']:.1f} files/s{ratio}; {cores:.1f} cores busy",
                flush=True,
            )


if __name__ == "__main__":
    main()
