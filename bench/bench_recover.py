"""Replay speed of `watcher recover`: a month of requests processed on a demo desk (spread over the
month under an injected clock, in batches of one `watcher process` each), the ledger then replaced by
the backup taken before the month, and `watcher recover` timed: originals replayed per second.

    python bench/bench_recover.py [--requests 10000] [--size 10] [--batches 30] [--code DIR]

`--code DIR` measures another checkout the same way in the same run (it must have `watcher recover`).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # measured as deployed: bytecode cached
sys.path.insert(0, str(ROOT))

from watcher.domain.idcard import mod11_2_check  # noqa: E402

HEAD = ["序号", "姓名", "证件类型", "证件号码"]


def _env(code: Path, now: str | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(code), "PYTHONUTF8": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if now:
        env["WATCHER_FAKE_NOW"] = now
    return env


def watcher(code: Path, root: Path, *args: str, now: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args, "--root", str(root)],
        capture_output=True,
        text=True,
        env=_env(code, now),
        cwd=code,
    )


def request(path: Path, i: int, size: int) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "申请"
    fields = {
        "操作类型": "投保",
        "旅行团号": f"T{i:05d}",
        "区域": "境内",
        "方案代码": "GN-A",
        "生效时间": "2026-12-20 08:00",
        "天数": 5,
        "行程路线": "广州—桂林",
        "经办人": "李经办",
    }
    for r, (label, value) in enumerate(fields.items(), start=1):
        ws.cell(r, 1, label)
        ws.cell(r, 2, value)
    rs = wb.create_sheet("被保险人名单")
    rs.append(HEAD)
    for k in range(size):
        n = i * size + k
        body = f"440106{1950 + n % 50}{n % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}"
        rs.append(
            [k + 1, "赵钱孙李周吴郑王"[n % 8] + "一二三四五六七八"[n // 8 % 8], "身份证", body + mod11_2_check(body)]
        )
        rs.cell(k + 2, 4).number_format = "@"
    wb.save(path)


def a_month(code: Path, count: int, size: int, batches: int) -> tuple[Path, Path]:
    """A desk with `count` requests processed over November 2026; and the backup taken before them."""
    root = Path(tempfile.mkdtemp(prefix="watcher-recover-")) / "desk"
    assert watcher(code, root, "init", "--demo", now="2026-11-01T00:00:00+08:00").returncode == 0
    (root / "watcher.toml").write_text("settle_seconds = 0\ntext_settle_seconds = 0\n", encoding="utf-8")
    backup = root.parent / "backup.sqlite3"
    source, copy = sqlite3.connect(root / "ledger.sqlite3"), sqlite3.connect(backup)
    source.backup(copy)
    copy.close()
    source.close()
    per = -(-count // batches)
    made = 0
    for b in range(batches):
        for i in range(made, min(count, made + per)):
            request(root / "workbooks" / "GZ001" / f"团{i:05d}.xlsx", i, size)
        made = min(count, made + per)
        moment = f"2026-11-{1 + b * 29 // batches:02d}T{9 + b % 8:02d}:00:00+08:00"
        done = watcher(code, root, "process", now=moment)
        assert done.returncode == 0, done.stderr
        if made >= count:
            break
    return root, backup


def timed_recover(code: Path, root: Path, backup: Path) -> float:
    ledger = root / "ledger.sqlite3"
    for extra in ("", "-wal", "-shm"):
        Path(str(ledger) + extra).unlink(missing_ok=True)
    shutil.copy(backup, ledger)
    started = time.perf_counter()
    done = watcher(code, root, "recover")
    took = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--code", type=Path, help="another checkout to measure the same way in the same run")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.requests} requests of {args.size} people over a month, in {args.batches} `process` runs"
    )
    for code in [ROOT, *([args.code.resolve()] if args.code else [])]:
        started = time.perf_counter()
        root, backup = a_month(code, args.requests, args.size, args.batches)
        made = time.perf_counter() - started
        took = timed_recover(code, root, backup)
        print(
            f"  {code}: the month made and processed in {made:.0f} s; `watcher recover` from the backup before it: "
            f"{took:.1f} s, {args.requests / took:.0f} originals/s"
        )
        shutil.rmtree(root.parent)


if __name__ == "__main__":
    main()
