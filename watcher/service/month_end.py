"""Month-end: settle a month, write its detail sheets, statements and the staff summary, verify the ledger.

    1. One transaction: record the run, settle every (agency, plan) of the month whose policies have
       all taken effect (a statement each, numbered by the ledger), leave the others waiting.
    2. Files, each whole: 业务明细_<YYYY-MM>.xlsx per agency, 对账单_<no>.xlsx/.json/.html per new
       statement (and any whose files are missing), 月结汇总_<YYYY-MM>.xlsx for staff.
    3. `watcher check`; then the run is marked finished with what it did.

Re-running a month settles only what is still unsettled and rewrites the same file names, so it never
duplicates a statement, a number or a file. A run stopped before step 3 is run again at the next
start (its month has no finished run).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from .. import events
from ..domain.policy import ACTIVE, Policy
from ..domain.settlement import (
    Statement,
    month_bounds,
    month_ended,
    month_of,
    month_text,
    next_month,
    parse_run_time,
    receipt_warning,
)
from ..faults import describe, os_words
from ..io.month_summary import Line, MonthSummary, WaitingPlan, summary_name
from ..io.settlement_files import keep_filled_summary, write_summary_file
from ..io.statement_book import statement_names
from ..layout import ADMIN, Layout
from ..ledger.check import check_ledger
from ..ledger.settlement import Run
from .month_files import AgencyFiles, MonthFiles, write_month

log = logging.getLogger("watcher")

SCHEDULED, CAUGHT_UP, RETRY, COMMAND = "定时", "补跑", "每日重试", "命令"


class MonthNotEnded(Exception):
    pass


@dataclass
class MonthEndReport:
    month: date
    created: list[Statement] = field(default_factory=list)
    waiting: list[WaitingPlan] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    unwritten: dict[str, str] = field(default_factory=dict)  # agency → why its files wait (written later)


def run_month_end(
    ledger,
    layout: Layout,
    settings,
    month: date,
    now: datetime,
    trigger: str,
    *,
    replay: bool = False,
    resume: int | None = None,
    printed: Layout | None = None,
) -> MonthEndReport:
    """`replay`: run again by `watcher recover` at its recorded moment (not recorded once more), writing into
    a scratch `layout`; `printed`: the desk whose outbox counts too when a statement's files are looked for
    (the run wrote none for a statement whose files were there); `resume`:
    the run of that moment the ledger holds started but not finished (a backup taken, or a replay killed,
    in the middle of it): its settlement is there, its files and its finish are done now."""
    zone = settings.zone
    if not month_ended(month, now, zone):
        raise MonthNotEnded(
            f"{month_text(month)} 尚未结束（{next_month(month):%Y-%m-%d} 00:00 结束），月结只能在月份结束后运行"
        )
    report = MonthEndReport(month)
    with ledger.atomic():
        run_id = resume if resume is not None else ledger.start_run(month, trigger, now)
        report.created, groups = ledger.settle_month(month, now, run_id=run_id)
    if resume is not None:  # settled when it started: the same moment settles nothing more
        report.created = ledger.run_statements(run_id)
    ledger.marked()  # the statement numbers just drawn are in the desk's mark before any file shows them
    drawn = {name: list(values) for name, values in ledger.drawn.items()} if resume is None else {}
    if not replay and resume is None:  # a resumed run was recorded when it started
        record_run(layout, month, now, trigger, drawn)
    names = {a.code: a.name for a in ledger.agencies()}
    report.waiting = [
        WaitingPlan(
            g.agency, names.get(g.agency, ""), f"{g.plan_code} {g.plan_name}", len(g.waiting), g.waits_for(zone)
        )
        for g in groups
        if g.state == "waiting"
    ]
    start, end = month_bounds(month, zone)
    tasks, size = month_tasks(ledger, layout, month, {s.statement_no for s in report.created}, names, printed)

    def meanwhile() -> tuple[list[Policy], list[str]]:  # while helpers write a large month's files
        policies = ledger.month_policies(start, end)  # again: now with their statement numbers
        return policies, [d.message for d in check_ledger(ledger, now, parse_run_time(settings.month_end_time))]

    how = MonthFiles(layout, zone, settings.insurer_name, month, now)
    written, (policies, report.problems) = write_month(ledger, how, tasks, size, meanwhile)
    report.unwritten = written.failed
    report.files += written.details
    report.files += [p for number in sorted(written.statements) for p in written.statements[number]]
    if report.problems:
        log.error(
            "账本核对发现 %d 处不一致（月结 %s 之后）：%s",
            len(report.problems),
            month_text(month),
            "；".join(report.problems[:5]),
        )
    summary = month_summary(ledger, month, now, trigger, policies, report, names, zone)
    target = layout.out(ADMIN) / summary_name(month)
    try:
        summary.kept_aside = keep_filled_summary(target, zone)
        if summary.kept_aside:
            log.warning("月结 %s：上次的月结汇总已有人填写，另存为 %s，未被覆盖", month_text(month), summary.kept_aside)
        report.files.append(write_summary_file(target, summary, settings.channels, zone))
    except OSError as exc:  # staff's folder takes nothing: the run stays unfinished, resumed at the next try
        _note_stopped(ledger, run_id, exc)
        raise
    with ledger.atomic():
        ledger.finish_run(
            run_id,
            created=len(report.created),
            waiting=len(report.waiting),
            at=now,
            summary={
                "created": [s.statement_no for s in report.created],
                "waiting": [[w.agency, w.plan, w.count] for w in report.waiting],
                "problems": len(report.problems),
                "files": [str(p.relative_to(layout.root)) for p in report.files],
                "unwritten": dict(sorted(report.unwritten.items())),  # agency → why; written later: write_unwritten
            },
        )
    for agency, why in sorted(report.unwritten.items()):
        log.error(
            "月结 %s：%s 的文件未能写出（%s），其他机构的文件已写出；该文件夹恢复后自动补写",
            month_text(month),
            agency,
            why,
        )
    log.info(
        "月结 %s（%s）：新生成对账单 %d 张，等待结账 %d 个方案，账本核对%s",
        month_text(month),
        trigger,
        len(report.created),
        len(report.waiting),
        "一致" if not report.problems else "有不一致",
    )
    return report


RESUME_AFTER = timedelta(minutes=5)  # serve tries a run stopped by staff's folder again after this


def _note_stopped(ledger, run_id: int, exc: OSError) -> None:
    """Why the run stopped, and when, on the run itself (status shows it; serve waits RESUME_AFTER). A
    ledger that cannot take even that (the same full disk) leaves the run as it is: the folder's error is
    what the operator is told."""
    try:
        with ledger.atomic():
            ledger.set_run_summary(run_id, {"error": describe(exc), "tried_at": datetime.now(UTC).isoformat()})
    except Exception:  # noqa: BLE001 — the error raised is the folder's
        log.warning("月结运行停止的原因未能记入账本", exc_info=True)


def unfinished(ledger, month: date) -> Run | None:
    """The month's latest run that started (its settlement committed) and did not finish, if any."""
    runs = [r for r in ledger.runs() if r.month == month]
    return runs[-1] if runs and runs[-1].finished_at is None else None


def run_or_resume(
    ledger, layout: Layout, settings, month: date, now: datetime, trigger: str, *, wait: bool = False
) -> MonthEndReport | None:
    """Month-end of `month`; a run of it that started and did not finish (its summary could not be written,
    the process was stopped) is finished instead of starting another, at its own moment (as `watcher
    recover` replays it: the same statements, nothing more settled under its number; business that became
    ready since is the daily retry's): its statements count as new in its summary, it keeps its trigger.
    `wait` (serve's tick): a run stopped by a folder that took nothing is tried again RESUME_AFTER later,
    not at every tick (None then)."""
    run = unfinished(ledger, month)
    if run is None:
        return run_month_end(ledger, layout, settings, month, now, trigger)
    tried = run.summary.get("tried_at")
    # abs: a clock moved back since leaves the mark in the future, which must not hold the run back for hours.
    if wait and tried and abs(datetime.now(UTC) - datetime.fromisoformat(tried)) < RESUME_AFTER:
        return None
    return run_month_end(ledger, layout, settings, month, run.started_at, run.trigger, resume=run.id)


def write_unwritten(ledger, layout: Layout, settings, now: datetime) -> dict[str, list[str]]:
    """The month-end files an agency's folder refused (a file in its place, no permission), written now
    where the folder takes them: `serve` tries at every tick, `month-end` after its own run.
    Returns month (YYYY-MM) → the agencies whose files still wait."""
    latest: dict[date, Run] = {}
    for run in ledger.runs():
        if run.finished_at is not None:
            latest[run.month] = run
    left: dict[str, list[str]] = {}
    for month, run in sorted(latest.items()):
        reasons: dict[str, str] = run.summary.get("unwritten") or {}  # agency → why
        if not reasons:
            continue
        # An outbox still not a folder is not rebuilt for nothing at every tick: it keeps waiting as it was.
        blocked = {a: why for a, why in reasons.items() if layout.out(a).exists() and not layout.out(a).is_dir()}
        tries = set(reasons) - set(blocked)
        failed: dict[str, str] = {}
        files: list[str] = []
        if tries:
            names = {a.code: a.name for a in ledger.agencies()}
            tasks, _size = month_tasks(ledger, layout, month, set(), names)
            how = MonthFiles(layout, settings.zone, settings.insurer_name, month, now)
            written, _ = write_month(ledger, how, [t for t in tasks if t.agency in tries], 0, lambda: None)
            failed = written.failed
            files = [str(p.relative_to(layout.root)) for p in written.details]
            files += [
                str(p.relative_to(layout.root)) for n in sorted(written.statements) for p in written.statements[n]
            ]
        waiting = dict(sorted({**blocked, **failed}.items()))
        summary = {**run.summary, "unwritten": waiting, "files": run.summary.get("files", []) + files}
        if summary != run.summary:  # serve tries at every tick: the ledger is written when something changed
            with ledger.atomic():
                ledger.set_run_summary(run.id, summary)
        for agency in sorted(set(reasons) - set(waiting)):
            log.info("月结 %s：%s 的文件已补写出", month_text(month), agency)
        if waiting:
            left[month_text(month)] = list(waiting)
    return left


def record_run(layout: Layout, month: date, now: datetime, trigger: str, numbers: dict[str, list[int]]) -> None:
    """The run in the desk's event log, synced (no dropped file tells of it): `watcher recover` repeats it,
    its statements under the `numbers` they were given."""
    try:
        more = {"numbers": numbers} if numbers else {}
        events.append(layout.archive, "month-end", now, sync=True, month=month_text(month), trigger=trigger, **more)
    except OSError as exc:  # the files matter more to the clerks; a rebuilt ledger without it is refused
        log.error("月结 %s 未能写入事件记录 %s：%s", month_text(month), events.NAME, os_words(exc))


def month_tasks(
    ledger, layout: Layout, month: date, fresh: set[str], names: dict[str, str], printed: Layout | None = None
) -> tuple[list[AgencyFiles], int]:
    """What each agency gets, and how many policies the month holds: a 业务明细_<YYYY-MM>.xlsx for every
    agency with business that month and every active agency (but no empty one for a month before the
    desk's first business); the files of every new statement (`fresh`) and of any whose files are missing
    (a stopped run) in `layout`'s outbox and in `printed`'s."""
    start, end = month_bounds(month, ledger.zone)
    counts = ledger.month_agencies(start, end)
    codes = set(counts)
    first = ledger.first_issued_at()
    if first is not None and month >= month_of(first, ledger.zone):
        codes |= {a.code for a in ledger.agencies() if a.active}
    statements: dict[str, list[Statement]] = defaultdict(list)
    for s in ledger.statements(month=month):
        outs = [x.out(s.agency) for x in (layout, printed) if x is not None]
        names_ = statement_names(s.statement_no)
        if s.statement_no in fresh or not any(all((out / n).exists() for n in names_) for out in outs):
            statements[s.agency].append(s)
    tasks = [
        AgencyFiles(code, names.get(code, ""), code in codes, tuple(statements.get(code, ())))
        for code in sorted(codes | set(statements))
    ]
    return tasks, sum(counts.values())


def month_summary(
    ledger,
    month: date,
    now: datetime,
    trigger: str,
    policies: list[Policy],
    report: MonthEndReport,
    names: dict[str, str],
    zone,
) -> MonthSummary:
    by_agency: dict[str, Line] = {}
    by_plan: dict[str, Line] = {}
    for p in policies:
        for key, name, lines in ((p.agency, names.get(p.agency, ""), by_agency), (p.plan_code, p.plan_name, by_plan)):
            line = lines.get(key) or lines.setdefault(key, Line(key, name))
            if p.status == ACTIVE:
                line.policies += 1
                line.insured += p.insured_count
                line.premium_fen += p.premium_fen
            else:
                line.cancelled += 1
    today = now.astimezone(zone).date()
    return MonthSummary(
        month=month,
        run_at=now,
        trigger=trigger,
        by_agency=[by_agency[k] for k in sorted(by_agency)],
        by_plan=[by_plan[k] for k in sorted(by_plan)],
        statements=ledger.statements(month=month),
        created={s.statement_no for s in report.created},
        waiting=report.waiting,
        to_confirm=ledger.statements(status="待确认"),
        names=names,
        receipts=[(r, why) for r in ledger.receipts() if (why := receipt_warning(r, today))],
        performance=ledger.performance(),
        problems=report.problems,
    )


LOCK = "month-end"  # with several workers, month-end runs on one of them at a time
