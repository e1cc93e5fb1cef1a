"""Hostile files against a running `watcher serve` (run by hand: python bench/bench_hostile.py).

1. Peak memory of the service (its main process, the parser worker, the render processes) while the
   whole hostile corpus of tests/test_hostile.py is processed. Target: under 300 MB.
2. How long a hostile file delays a good file dropped beside it: the good file's drop → result time
   with a file that runs the parser into its time limit, next to the same drop alone. Target: the
   delay is no more than the time limit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

import test_hostile as corpus  # noqa: E402
from bench_issue import new_root  # noqa: E402

PARSE_SECONDS = 1


def rss_tree(pid: int) -> int:
    """RSS in KiB of a process and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            continue
    return total


def serve(root: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "serve", "--root", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2)
    return proc


def wait_results(root: Path, count: int, proc, timeout: float = 300) -> tuple[float, int]:
    started, peak = time.monotonic(), 0
    out = root / "outbox" / "GZ001"
    while len(list(out.glob("*_结果*.json"))) < count:
        peak = max(peak, rss_tree(proc.pid))
        if time.monotonic() - started > timeout:
            raise SystemExit("timed out")
        time.sleep(0.05)
    return time.monotonic() - started, peak


def bench_memory() -> None:
    root = new_root()
    (root / "watcher.toml").write_text("settle_seconds = 0.5\n", encoding="utf-8")
    staging = root / "staging"
    staging.mkdir()
    for name, (make, _) in corpus.CORPUS.items():
        (staging / name).write_bytes(make())
    proc = serve(root)
    idle = rss_tree(proc.pid)
    try:
        for f in staging.iterdir():
            os.rename(f, root / "workbooks" / "GZ001" / f.name)
        elapsed, peak = wait_results(root, len(corpus.CORPUS), proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    print(
        f"hostile corpus ({len(corpus.CORPUS)} files, incl. a 1 GiB bomb): all failed with a result in "
        f"{elapsed:.1f} s; service peak RSS {peak / 1024:.0f} MB (all its processes; idle {idle / 1024:.0f} MB)"
    )


def bench_delay() -> None:
    # A roster sheet of two million numbered rows: every check passes, parsing takes seconds.
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (i, i, i) for i in range(2, 2_000_002))
    sheet = (
        corpus.HEAD
        + b"<worksheet "
        + corpus.NS
        + b'><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
        + "姓名".encode()
        + b"</t></is></c></row>"
        + rows
        + b"</sheetData></worksheet>"
    )
    heavy = corpus.rezip(corpus.valid_bytes(), {corpus.SHEET: sheet}, compresslevel=1)
    timings = {}
    for label, hostile in (("alone", False), ("beside a file that hits the time limit", True)):
        root = new_root()
        (root / "watcher.toml").write_text(
            f"settle_seconds = 0.5\nparse_memory_mb = 1024\nparse_seconds = {PARSE_SECONDS}\n", encoding="utf-8"
        )
        staging = root / "staging"
        staging.mkdir()
        (staging / "好.xlsx").write_bytes(corpus.valid_bytes(30))
        if hostile:
            (staging / "坏.xlsx").write_bytes(heavy)
        proc = serve(root)
        try:
            started = time.monotonic()
            for name in ("坏.xlsx", "好.xlsx"):  # the hostile one first: the worst case for the good one
                if (staging / name).exists():
                    os.rename(staging / name, root / "workbooks" / "GZ001" / name)
            good = root / "outbox" / "GZ001" / "好_结果.json"
            while not good.exists():
                time.sleep(0.01)
            timings[label] = time.monotonic() - started
            if hostile:
                bad = root / "outbox" / "GZ001" / "坏_结果.json"
                while not bad.exists():
                    time.sleep(0.01)
                print("  the hostile file:", json.loads(bad.read_text(encoding="utf-8"))["errors"][0]["message"])
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    delay = timings["beside a file that hits the time limit"] - timings["alone"]
    print(
        f"good file drop → result: alone {timings['alone']:.2f} s, beside a hostile file "
        f"{timings['beside a file that hits the time limit']:.2f} s; delay {delay:.2f} s "
        f"(time limit {PARSE_SECONDS} s)"
    )


if __name__ == "__main__":
    print(f"machine: {os.uname().machine}, {os.cpu_count()} cores")
    bench_memory()
    bench_delay()
