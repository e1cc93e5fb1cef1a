"""When month-end runs: the scheduled month, months missed while the service was down, runs stopped before
they finished, and months with waiting plans or late business (once a day). What is due comes from the
ledger's runs and the desk clock, so a run missed while the service was down is caught up, whatever the
process's TZ says; `serve` asks at every tick of `schedule`."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from ..domain.settlement import due_months, month_of, parse_run_time, retry_due, scheduled_at
from ..layout import Layout
from ..ledger.settlement import Run
from .month_end import CAUGHT_UP, LOCK, RETRY, SCHEDULED, MonthEndReport, run_or_resume, write_unwritten

log = logging.getLogger("watcher")

__all__ = ["CAUGHT_UP", "LATE", "RETRY", "SCHEDULED", "due", "run_due"]


LATE = timedelta(minutes=10)  # a scheduled run that starts later than this was missed: it is a catch-up


def due(ledger, settings, now: datetime) -> list[tuple[date, str]]:
    """(month, trigger) to run now: the scheduled month, months missed while the service was down,
    runs that were stopped before they finished, and months with waiting plans (once a day)."""
    zone = settings.zone
    at = parse_run_time(settings.month_end_time)
    runs = ledger.runs()
    finished = {r.month for r in runs if r.finished_at}
    first = ledger.first_issued_at()
    if first is None:
        return []  # a desk with no business yet has no month to settle (nor an empty 业务明细 to write)
    months = due_months(now, zone, settings.month_end_day, at, finished, month_of(first, zone))
    # A month with business but no month-end yet: stopped runs, months past their schedule.
    months = [m for m in months if m >= month_of(first, zone)]
    out = []
    for m in months:
        on_time = now < scheduled_at(m, settings.month_end_day, at, zone) + LATE and not any(r.month == m for r in runs)
        out.append((m, SCHEDULED if on_time else CAUGHT_UP))
    last: dict[date, Run] = {}
    for r in runs:
        if r.finished_at:
            last[r.month] = r
    # Besides plans that waited: business recorded later for a month already settled (a correction, a
    # clock moved back) is billed too, in a supplementary statement, at the next daily slot.
    late = ledger.unsettled_months(now)
    for month, r in sorted(last.items()):
        if (r.waiting or month in late) and month not in months and retry_due(now, zone, at, r.started_at):
            out.append((month, RETRY))
    # In month order: an earlier month's overdue retry before a later month's run. After a downtime the later
    # month ran first, its check met the earlier month's unbilled business, and its summary said 不一致 (and
    # lacked the statement the retry made a second later).
    return sorted(out, key=lambda entry: entry[0])


def run_due(ledger, layout: Layout, settings, now: datetime) -> list[MonthEndReport]:
    """Whatever month-end is due, on this worker if no other is running one (then it is skipped here);
    then the files of an earlier run that an agency's folder refused."""
    if not ledger.try_lock(LOCK):
        log.debug("另一个 watcher 正在运行月结，本进程跳过")  # every tick on a second worker: not news
        return []
    try:
        reports = [
            report
            for month, trigger in due(ledger, settings, now)
            if (report := run_or_resume(ledger, layout, settings, month, now, trigger, wait=True)) is not None
        ]
        write_unwritten(ledger, layout, settings, now)  # files an agency's folder refused before
        return reports
    finally:
        ledger.unlock(LOCK)
