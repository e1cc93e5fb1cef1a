"""Issuing speed, end to end through `watcher process` (run by hand: python bench/bench_issue.py).

1. One 10,000-person 投保 workbook: time and peak memory of `watcher process`, and the ratio to the
   floor measured in the same run (the same workbook read with python-calamine plus a same-size
   result workbook written with xlsxwriter). Target: within 1.5x of the floor, under 200 MB.
2. 200 requests of 30 people in one `watcher process` run: requests per second. Target 100/s.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import xlsxwriter

ROOT = Path(__file__).resolve().parents[1]
# Measure watcher as it is deployed: with its bytecode cached. Some machines (this one) set
# PYTHONDONTWRITEBYTECODE, which makes every `watcher` start compile the whole package again.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.path.insert(0, str(ROOT))

from watcher.domain.idcard import mod11_2_check  # noqa: E402

SHANGHAI = timezone(timedelta(hours=8))


def resident(i: int) -> str:
    body = f"440106{1950 + i % 50}{i % 12 + 1:02d}{i % 28 + 1:02d}{i % 1000:03d}"
    return body + mod11_2_check(body)


def write_request(path: Path, n: int, group: str, offset: int = 0) -> None:
    """A request as Excel would save it (xlsxwriter, shared strings), IDs as text."""
    start = (datetime.now(SHANGHAI) + timedelta(days=20)).strftime("%Y-%m-%d 08:00")
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    ws = wb.add_worksheet("申请")
    for r, (k, v) in enumerate(
        [
            ("操作类型", "投保"),
            ("旅行团号", group),
            ("区域", "境内"),
            ("方案代码", "GN-A"),
            ("生效时间", start),
            ("天数", 5),
            ("行程路线", "广州—桂林"),
            ("经办人", "李经办"),
        ]
    ):
        ws.write_string(r, 0, k)
        ws.write(r, 1, v)
    rs = wb.add_worksheet("被保险人名单")
    for c, h in enumerate(["序号", "姓名", "证件类型", "证件号码", "性别", "出生日期", "联系电话", "备注"]):
        rs.write_string(0, c, h)
    names = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"
    for i in range(n):
        k = offset + i
        rs.write_number(i + 1, 0, i + 1)
        rs.write_string(i + 1, 1, names[k % 16] + names[(k // 16) % 16] + names[(k // 256) % 16])
        rs.write_string(i + 1, 2, "身份证")
        rs.write_string(i + 1, 3, resident(k))
        rs.write_string(i + 1, 6, f"138{k:08d}")
    wb.close()


def floor(path: Path, out: Path) -> float:
    """The least any design must do: read the values, write a same-size result."""
    started = time.perf_counter()
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_path(str(path))
    rows = book.get_sheet_by_name("被保险人名单").to_python(skip_empty_area=False)
    wb = xlsxwriter.Workbook(str(out), {"in_memory": True})
    ws = wb.add_worksheet("被保险人名单")
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if v != "":
                ws.write(r, c, v)
        if r:
            ws.write_number(r, len(row), 5)
            ws.write_string(r, len(row) + 1, "")
    wb.close()
    return time.perf_counter() - started


def new_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="watcher-bench-"))
    subprocess.run(
        [sys.executable, "-m", "watcher", "init", "--demo", "--root", str(root)], check=True, capture_output=True
    )
    (root / "watcher.toml").write_text("settle_seconds = 0\n", encoding="utf-8")
    return root


def run_process(root: Path) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one `watcher process` run (its largest process)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "process", "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0 or "成功 " not in out:
        raise SystemExit(out + err)
    return elapsed, usage.ru_maxrss


def bench_big(n: int, rounds: int) -> None:
    """Floor and watcher alternate, so both see the same machine; best and median of each."""
    import json
    import statistics

    scratch = Path(tempfile.mkdtemp(prefix="watcher-floor-"))
    src = scratch / "big.xlsx"
    write_request(src, n, "BIG")
    floors, runs, peaks = [], [], []
    for _ in range(rounds):
        floors.append(floor(src, scratch / "floor.xlsx"))
        root = new_root()
        shutil.copy(src, root / "workbooks" / "GZ001" / "big.xlsx")
        elapsed, peak = run_process(root)
        data = json.loads((root / "outbox" / "GZ001" / "big_结果.json").read_text(encoding="utf-8"))
        assert data["status"] == "success" and data["policies"][0]["insured_count"] == n, data["errors"][:3]
        runs.append(elapsed)
        peaks.append(peak)
        shutil.rmtree(root)
    best, median = min(runs), statistics.median(runs)
    fbest, fmedian = min(floors), statistics.median(floors)
    print(
        f"{n}-person 投保, `watcher process` end to end (interpreter start included): best {best:.2f} s, "
        f"median {median:.2f} s; peak RSS {max(peaks) / 1024:.0f} MB"
    )
    print(f"floor (calamine read + same-size xlsxwriter write, in-process): best {fbest:.2f} s, median {fmedian:.2f} s")
    print(f"ratio: best/best {best / fbest:.2f}x, median/median {median / fmedian:.2f}x")
    shutil.rmtree(scratch)


def bench_many(count: int, size: int, rounds: int) -> None:
    rates = []
    for _ in range(rounds):
        root = new_root()
        for i in range(count):
            write_request(root / "workbooks" / "GZ001" / f"团{i:03d}.xlsx", size, f"T{i:03d}", offset=i * size)
        elapsed, peak = run_process(root)
        results = list((root / "outbox" / "GZ001").glob("*_结果.json"))
        assert len(results) == count
        rates.append(count / elapsed)
        shutil.rmtree(root)
    import statistics

    print(
        f"{count} requests of {size} people in one `watcher process` run: best {max(rates):.0f} requests/s, "
        f"median {statistics.median(rates):.0f} requests/s (interpreter start included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--size", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    bench_big(args.people, args.rounds)
    bench_many(args.requests, args.size, max(1, args.rounds // 2))


if __name__ == "__main__":
    main()
