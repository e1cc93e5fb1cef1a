"""Month-end speed (run by hand: python bench/bench_month_end.py [--policies 100000 --agencies 200]).

Generates a ledger of policies applied for in November 2026 by many agencies under two plans (through
the ledger's own methods, journal included), then times `watcher month-end --month 2026-11` as a
subprocess: wall time and peak memory (max RSS of the child). It settles every (agency, plan), writes
every agency's 业务明细, every statement (xlsx, json, html) and the staff summary, then runs `check`.
Target: under 60 s and 500 MB for 100,000 policies from 200 agencies.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.path.insert(0, str(ROOT))

from watcher.demo import DEMO_PLANS  # noqa: E402
from watcher.domain.dates import cover_end  # noqa: E402
from watcher.domain.idcard import mod11_2_check  # noqa: E402
from watcher.domain.policy import Agency, Insured, Policy  # noqa: E402
from watcher.ledger import Ledger  # noqa: E402
from watcher.settings import Settings  # noqa: E402

SHANGHAI = timezone(timedelta(hours=8))


def generate(root: Path, policies: int, agencies: int, people: int) -> float:
    started = time.perf_counter()
    zone = Settings().zone
    now = datetime(2026, 10, 31, 9, tzinfo=SHANGHAI)
    ledger = Ledger(root / "ledger.sqlite3", zone, now=now)
    versions = {}
    with ledger.atomic():
        for plan in DEMO_PLANS:
            versions[plan.code] = ledger.add_plan_version(plan, request_id=None, at=now)
        for a in range(agencies):
            ledger.save_agency(
                Agency(f"A{a:04d}", f"第{a}旅行社有限公司", "L", "X", ("GN-A", "GW-B")), request_id=None, at=now
            )

    def crowd(n: int) -> tuple[Insured, ...]:
        """The people of policy n: numbers spread so that a traveller is on a few policies, not all."""
        out = []
        for k in range(people):
            j = (n * people + k) % 2_000_000
            body = f"{440106 + j // 40000 % 50:06d}{1960 + j % 40}{j // 40 % 12 + 1:02d}{j // 480 % 28 + 1:02d}{j % 997:03d}"
            out.append(
                Insured(f"旅客{j}", "身份证", body + mod11_2_check(body), "男", date(1960 + j % 40, 1, 1), 40, 500)
            )
        return tuple(out)

    month = datetime(2026, 11, 1, tzinfo=SHANGHAI)
    per_tx = 2000
    for first in range(0, policies, per_tx):
        with ledger.atomic():
            request = ledger.record_request(
                agency=f"A{first % agencies:04d}",
                sha256=f"{first:064d}",
                file_name="bench.xlsx",
                action="投保",
                at=now,
                outputs=[],
            )
            for i in range(first, min(first + per_tx, policies)):
                plan = DEMO_PLANS[(i // agencies) % 2]  # every agency sells both plans
                issued = month + timedelta(seconds=(i * 25) % (29 * 86400))
                start = (issued + timedelta(days=2)).replace(minute=0, second=0)
                p = Policy(
                    "",
                    f"A{i % agencies:04d}",
                    f"T{i}",
                    plan.region,
                    plan.code,
                    plan.name,
                    versions[plan.code],
                    start,
                    3,
                    cover_end(start, 3, SHANGHAI),
                    "广州—桂林",
                    "经办",
                    f"S{i % 50:03d}",
                    "营销员",
                    500 * people,
                    crowd(i),
                    issued,
                )
                number = ledger.issue_policy(p, request_id=request)
                if i % 19 == 0:  # some cancelled: they stay out of every statement
                    ledger.cancel_policy(number, request_id=request, at=issued + timedelta(hours=1), reason="撤单")
    ledger.close()
    return time.perf_counter() - started


def run_month_end(root: Path, code: Path) -> tuple[float, float, int, subprocess.CompletedProcess]:
    """`watcher month-end` over `root` with the code of the checkout `code`: wall time, peak memory of the
    child (MB), files written."""
    env = {**os.environ, "WATCHER_FAKE_NOW": "2026-12-10T02:00:00+08:00", "PYTHONPATH": str(code)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "watcher", "month-end", "--month", "2026-11", "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=code,
    ) as child:
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        out, err = child.stdout.read() if child.stdout else "", child.stderr.read() if child.stderr else ""
    proc = subprocess.CompletedProcess(child.args, os.waitstatus_to_exitcode(status), out, err)
    files = sum(1 for p in (root / "outbox").rglob("*") if p.is_file())
    return seconds, usage.ru_maxrss / 1024, files, proc


def main() -> None:
    import shutil
    import statistics

    parser = argparse.ArgumentParser()
    parser.add_argument("--policies", type=int, default=100_000)
    parser.add_argument("--agencies", type=int, default=200)
    parser.add_argument("--people", type=int, default=10, help="people on each policy")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--code",
        action="append",
        default=[],
        help="another checkout to measure in the same run, alternating with this one (e.g. a worktree of main)",
    )
    args = parser.parse_args()
    codes = [ROOT, *(Path(c).resolve() for c in args.code)]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        made_root = Path(tmp) / "generated"
        subprocess.run(
            [sys.executable, "-m", "watcher", "init", "--root", str(made_root)], check=True, capture_output=True
        )
        made = generate(made_root, args.policies, args.agencies, args.people)
        print(
            f"ledger: {args.policies} policies ({args.people} people each) from {args.agencies} agencies, "
            f"generated in {made:.0f} s"
        )
        times: dict[Path, list[float]] = {c: [] for c in codes}
        for _ in range(args.rounds):
            for code in codes:
                root = Path(tmp) / "desk"
                shutil.copytree(made_root, root)
                seconds, peak, files, proc = run_month_end(root, code)
                times[code].append(seconds)
                print(proc.stdout.strip().splitlines()[0] if proc.stdout else proc.stderr)
                print(
                    f"{code}: month-end {seconds:.1f} s, peak memory {peak:.0f} MB, {files} files written "
                    f"(target: under 60 s and 500 MB); exit {proc.returncode}"
                )
                shutil.rmtree(root)
        if len(codes) > 1:
            base = statistics.median(times[codes[-1]])
            for code in codes:
                median = statistics.median(times[code])
                print(f"{code}: median {median:.1f} s ({base / median:.2f}x as fast as {codes[-1]})")


if __name__ == "__main__":
    main()
