"""Issuing speed, end to end through `watcher process` (run by hand: python bench/bench_issue.py).

The method, pinned so anyone can rerun it: every request is watcher's own blank 投保 template filled in
and saved with openpyxl (as Excel-like tools save them), dropped into a fresh demo desk with the default
settings, the default settle time waited out, then one `watcher process` timed.

1. One 10,000-person 投保 workbook: time and peak memory of `watcher process`, and the ratio to the
   floor measured in the same run (the same workbook read with python-calamine plus a same-size
   result workbook written with xlsxwriter, as a whole process: both pay an interpreter start).
   Target: within 1.5x of the floor, under 200 MB.
2. 200 requests of 30 people in one `watcher process` run: requests per second. Target 100/s.

`--code DIR` (repeatable) measures another checkout in the same run, alternating with this one (each
runs `watcher` with its own code: PYTHONPATH and working directory), so a change is compared with the
commit it started from on the same machine: `git worktree add /tmp/base <commit>` then
`python bench/bench_issue.py --code /tmp/base`. Medians of at least 3 rounds.
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


_TEMPLATE: list[Path] = []  # made once a run


def blank_template() -> Path:
    """watcher's own blank 投保 workbook (`watcher template 投保`, from this checkout, on a demo desk so
    its plan dropdown is filled): every request is filled from it, so both sides read the same bytes."""
    if _TEMPLATE:
        return _TEMPLATE[0]
    root = new_root()
    path = Path(tempfile.mkdtemp(prefix="watcher-template-")) / "投保_模板.xlsx"
    subprocess.run(
        [sys.executable, "-m", "watcher", "template", "投保", "-o", str(path), "--root", str(root)],
        check=True,
        capture_output=True,
        env=_env(ROOT),
        cwd=ROOT,
    )
    shutil.rmtree(root.parent)
    _TEMPLATE.append(path)
    return path


def write_request(path: Path, n: int, group: str, offset: int = 0) -> None:
    """A request as a clerk makes one: the blank template filled in and saved by an Excel-like tool
    (openpyxl: inline strings become shared strings, styles kept), the example row left where it is and
    the travellers typed below it, IDs as text."""
    import openpyxl

    wb = openpyxl.load_workbook(blank_template())
    ws = wb["申请"]
    rows = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
    start = (datetime.now(SHANGHAI) + timedelta(days=20)).replace(hour=8, minute=0, second=0, microsecond=0)
    fields = {
        "旅行团号": group,
        "区域": "境内",
        "方案代码": "GN-A",
        "生效时间": start.replace(tzinfo=None),  # a typed date-time, as Excel keeps one
        "天数": 5,
        "行程路线": "广州—桂林",
        "经办人": "李经办",
    }
    for label, value in fields.items():
        ws.cell(rows[label], 2, value)
    rs = wb["被保险人名单"]
    header = {rs.cell(1, c).value: c for c in range(1, rs.max_column + 1)}
    assert rs.cell(2, 1).value == "示例", "the template's example row"
    names = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"
    for i in range(n):
        k, r = offset + i, i + 3
        rs.cell(r, header["序号"], i + 1)
        rs.cell(r, header["姓名"], names[k % 16] + names[(k // 16) % 16] + names[(k // 256) % 16])
        rs.cell(r, header["证件类型"], "身份证")
        rs.cell(r, header["证件号码"], resident(k))
        rs.cell(r, header["联系电话"], f"138{k:08d}")
    wb.save(path)


FLOOR = """
import sys, python_calamine, xlsxwriter
book = python_calamine.CalamineWorkbook.from_path(sys.argv[1])
rows = book.get_sheet_by_name("被保险人名单").to_python(skip_empty_area=False)
wb = xlsxwriter.Workbook(sys.argv[2], {"in_memory": True})
ws = wb.add_worksheet("被保险人名单")
for r, row in enumerate(rows):
    for c, v in enumerate(row):
        if v != "":
            ws.write(r, c, v)
    if r:
        ws.write_number(r, len(row), 5)
        ws.write_string(r, len(row) + 1, "")
wb.close()
"""


def floor(path: Path, out: Path) -> float:
    """The least any design must do, as a whole process like `watcher process` (an interpreter start
    included): read the values with calamine, write a same-size result with xlsxwriter."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR, str(path), str(out)], check=True)
    return time.perf_counter() - started


def _env(code: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(code), "PYTHONUTF8": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def new_root(code: Path = ROOT) -> Path:
    root = Path(tempfile.mkdtemp(prefix="watcher-bench-")) / "desk"
    subprocess.run(
        [sys.executable, "-m", "watcher", "init", "--demo", "--root", str(root)],
        check=True,
        capture_output=True,
        env=_env(code),
        cwd=code,
    )
    return root  # the default settings: the settle time is waited out before a run is timed


SETTLE = 2.0  # the default settle_seconds: a dropped file is taken once unchanged this long


def settled() -> None:
    """Wait out the default settle time after the files were dropped, before the clock starts."""
    time.sleep(SETTLE + 0.2)


def _tree(pid: int) -> list[int]:
    """The process and every process under it (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return found


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemory:
    """The peak of the resident memory of a process and all its children together, sampled every 10 ms
    on a thread (Linux; elsewhere it stays 0)."""

    def __init__(self, pid: int):
        import threading

        self.pid, self.peak = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, sum(_rss_kib(p) for p in _tree(self.pid)))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_process(root: Path, code: Path = ROOT, together: list[int] | None = None) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one `watcher process` run (its largest process), with the code
    of the checkout `code`; with `together`, the peak of all its processes at once is appended to it."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "process", "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(code),
        cwd=code,
    )
    sampler = TreeMemory(proc.pid) if together is not None else None
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if sampler is not None and together is not None:
        together.append(sampler.stop())
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0 or "成功 " not in out:
        raise SystemExit(out + err)
    return elapsed, usage.ru_maxrss


def bench_big(n: int, rounds: int, codes: list[Path]) -> None:
    """The floor and each checkout alternate, so all see the same machine; best and median of each."""
    import json
    import statistics

    scratch = Path(tempfile.mkdtemp(prefix="watcher-floor-"))
    src = scratch / "big.xlsx"
    write_request(src, n, "BIG")
    floors: list[float] = []
    runs: dict[Path, list[float]] = {c: [] for c in codes}
    peaks: dict[Path, list[int]] = {c: [] for c in codes}
    together: dict[Path, list[int]] = {c: [] for c in codes}
    for _ in range(rounds):
        floors.append(floor(src, scratch / "floor.xlsx"))
        for code in codes:
            root = new_root(code)
            shutil.copy(src, root / "workbooks" / "GZ001" / "big.xlsx")
            settled()
            elapsed, peak = run_process(root, code, together[code])
            data = json.loads((root / "outbox" / "GZ001" / "big_结果.json").read_text(encoding="utf-8"))
            assert data["status"] == "success" and data["policies"][0]["insured_count"] == n, data["errors"][:3]
            runs[code].append(elapsed)
            peaks[code].append(peak)
            shutil.rmtree(root.parent)
    fbest, fmedian = min(floors), statistics.median(floors)
    print(
        f"floor (calamine read + same-size xlsxwriter write, a whole process): best {fbest:.2f} s, median {fmedian:.2f} s"
    )
    for code in codes:
        best, median = min(runs[code]), statistics.median(runs[code])
        print(
            f"{code}: {n}-person 投保, `watcher process` end to end: best {best:.2f} s, median {median:.2f} s "
            f"(best/best {best / fbest:.2f}x, median/median {median / fmedian:.2f}x the floor); "
            f"peak RSS {max(peaks[code]) / 1024:.0f} MB (the largest process; target under 200 MB), "
            f"{max(together[code]) / 1024:.0f} MB all its processes together (sampled; target under 400 MB)"
        )
    shutil.rmtree(scratch)


def bench_many(count: int, size: int, rounds: int, codes: list[Path]) -> None:
    import json
    import statistics

    scratch = Path(tempfile.mkdtemp(prefix="watcher-many-"))
    for i in range(count):  # the same workbooks for every checkout and round
        write_request(scratch / f"团{i:03d}.xlsx", size, f"T{i:03d}", offset=i * size)
    rates: dict[Path, list[float]] = {c: [] for c in codes}
    for _ in range(rounds):
        for code in codes:
            root = new_root(code)
            for i in range(count):
                shutil.copy(scratch / f"团{i:03d}.xlsx", root / "workbooks" / "GZ001" / f"团{i:03d}.xlsx")
            settled()
            elapsed, _peak = run_process(root, code)
            answers = [
                json.loads(p.read_text(encoding="utf-8")) for p in (root / "outbox" / "GZ001").glob("*_结果.json")
            ]
            assert len(answers) == count and all(a["status"] == "success" for a in answers), "every request issued"
            rates[code].append(count / elapsed)
            shutil.rmtree(root.parent)
    shutil.rmtree(scratch)
    for code in codes:
        print(
            f"{code}: {count} requests of {size} people in one `watcher process` run: best {max(rates[code]):.0f}, "
            f"median {statistics.median(rates[code]):.0f} requests/s (interpreter start included)"
        )
    if len(codes) > 1:
        base = statistics.median(rates[codes[-1]])
        for code in codes[:-1]:
            print(f"{code} / {codes[-1]}: {statistics.median(rates[code]) / base:.2f}x (medians)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--size", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--code",
        action="append",
        default=[],
        help="another checkout to measure in the same run, alternating with this one (e.g. a worktree of main)",
    )
    parser.add_argument("--only", choices=("big", "many"), help="run one of the two measurements")
    args = parser.parse_args()
    codes = [ROOT, *(Path(c).resolve() for c in args.code)]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    if args.only != "many":
        bench_big(args.people, args.rounds, codes)
    if args.only != "big":
        bench_many(args.requests, args.size, max(3, args.rounds // 2), codes)


if __name__ == "__main__":
    main()
