"""Does `watcher serve` stay flat over many files? Drops N small requests in batches into a running
service and reads its main process's resident memory after 1,000 and after N files.

    python bench/bench_memory.py [--files 10000] [--batch 200] [--code DIR]

--code runs another checkout's watcher (e.g. the commit before a change) the same way, for a ratio in
one run. Requests are workbooks of 30 people each (a tour group of their own), written whole
and renamed in, so the service takes each as soon as it settles. Target (issue 16): RSS after 1,000
and after 10,000 files within 10 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "tests"))

from conftest import future  # noqa: E402

from watcher.domain.idcard import mod11_2_check  # noqa: E402


def person(k: int) -> list:
    """The k-th of a million distinct residents: nobody is on two policies (no overlap to check against)."""
    from datetime import date, timedelta

    birth = date(1950, 1, 1) + timedelta(days=k // 900)
    body = f"440106{birth:%Y%m%d}{k % 900 + 100:03d}"
    return [k, "旅客" + "甲乙丙丁戊己庚辛壬癸"[k % 10], "身份证", body + mod11_2_check(body)]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def request(path: Path, i: int, roster: list[list]) -> None:
    """A 投保 workbook as a clerk's would be: 申请 labels and values, the roster with text IDs."""
    import xlsxwriter

    tmp = path.with_name(f".{path.name}.tmp")
    wb = xlsxwriter.Workbook(str(tmp))
    apply = wb.add_worksheet("申请")
    start = future(days=20).strftime("%Y-%m-%d %H:%M")
    for r, (label, value) in enumerate(
        (
            ("操作类型", "投保"),
            ("旅行团号", f"M{i:06d}"),
            ("区域", "境内"),
            ("方案代码", "GN-A"),
            ("生效时间", start),
            ("天数", "2"),
        )
    ):
        apply.write_string(r, 0, label)
        apply.write_string(r, 1, value)
    names = wb.add_worksheet("被保险人名单")
    for c, head in enumerate(("序号", "姓名", "证件类型", "证件号码")):
        names.write_string(0, c, head)
    for k, person in enumerate(roster, 1):
        names.write_number(k, 0, k)
        for c, value in ((1, person[1]), (2, "身份证"), (3, person[3])):
            names.write_string(k, c, value)
    wb.close()
    os.replace(tmp, path)


def run(code: Path, files: int, batch: int, checkpoints: list[int], same: bool = False) -> dict[int, float]:
    env = {**os.environ, "PYTHONUTF8": "1", "PYTHONPATH": str(code)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    root = Path(tempfile.mkdtemp(prefix="watcher-mem-")) / "desk"
    subprocess.run(
        [sys.executable, "-m", "watcher", "init", "--demo", "--root", str(root)],
        env=env,
        check=True,
        capture_output=True,
    )
    (root / "watcher.toml").write_text("settle_seconds = 0.2\nrescan_seconds = 5\n", encoding="utf-8")
    serve = subprocess.Popen(
        [sys.executable, "-m", "watcher", "serve", "--root", str(root)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out = root / "outbox" / "GZ001"
    seen: dict[int, float] = {}
    try:
        time.sleep(3)
        done = 0
        while done < files:
            for i in range(done, min(done + batch, files)):
                first = 0 if same else i * 30  # --same-people: every group the same 30 travellers
                request(root / "workbooks" / "GZ001" / f"r{i:06d}.xlsx", i, [person(first + k) for k in range(30)])
            done = min(done + batch, files)
            deadline = time.monotonic() + 600
            while len(list(out.glob(f"r{done - 1:06d}_结果.json"))) < 1 or len(list(out.glob("*_结果.json"))) < done:
                if time.monotonic() > deadline or serve.poll() is not None:
                    raise SystemExit("the service did not keep up")
                time.sleep(0.2)
            for mark in checkpoints:
                if done >= mark and mark not in seen:
                    seen[mark] = rss_mb(serve.pid)
                    print(f"  {code.name}: after {mark:,} files, serve's main process {seen[mark]:.1f} MB", flush=True)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)
        shutil.rmtree(root.parent, ignore_errors=True)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--code", action="append", default=[], help="another checkout to measure as well")
    parser.add_argument(
        "--same-people",
        action="store_true",
        help="the same 30 travellers in every group (each file overlaps all before it)",
    )
    args = parser.parse_args()
    checkpoints = sorted({min(1000, args.files), args.files})
    for code in [HERE, *map(Path, args.code)]:
        seen = run(code.resolve(), args.files, args.batch, checkpoints, args.same_people)
        grew = seen[checkpoints[-1]] - seen[checkpoints[0]]
        print(
            f"{code}: {checkpoints[0]:,} files {seen[checkpoints[0]]:.1f} MB → {checkpoints[-1]:,} files "
            f"{seen[checkpoints[-1]]:.1f} MB (grew {grew:+.1f} MB; target within 10 MB)"
        )


if __name__ == "__main__":
    main()
