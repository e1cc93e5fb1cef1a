"""The files of a settled month, agency by agency: each agency's 业务明细_<YYYY-MM>.xlsx and its
statements (对账单_<no>.xlsx/.html/.json). A large month is written by helper processes, one agency at a
time each, while month-end checks the ledger: each helper reads its agency's policies from the ledger
itself (nothing large is pickled across), and writes every file whole, as the month-end itself would.
A small month is written in the month-end's own process (starting helpers would cost more)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import TypeVar

from ..domain.policy import Policy
from ..domain.settlement import Statement, month_bounds
from ..faults import describe
from ..io.month_summary import detail_name
from ..io.settlement_files import write_detail_file, write_statement_files
from ..kinds.queries import month_detail_table
from ..layout import Layout
from .lifeline import die_with_parent, ignore_stop_signals

log = logging.getLogger("watcher")
T = TypeVar("T")

PARALLEL_FROM = 20_000  # policies in the month: from here on helper processes write its files
HELPERS = 2  # at most; never more than the machine's cores


@dataclass(frozen=True)
class AgencyFiles:
    """What one agency gets from a month-end: its detail sheet (`detail`), and these statements' files."""

    agency: str
    agency_name: str
    detail: bool
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class Written:
    details: list[Path]
    statements: dict[str, list[Path]]  # statement number → its files
    failed: dict[str, str] = field(default_factory=dict)  # agency → why its files could not be written


@dataclass(frozen=True)
class MonthFiles:
    """How the files of `month` are written: where, in which zone, by whom, as of when."""

    layout: Layout
    zone: tzinfo
    insurer: str
    month: date
    now: datetime


def write_agency(ledger, how: MonthFiles, task: AgencyFiles) -> Written:
    """One agency's files for the month, read from `ledger` now (its statement numbers included)."""
    start, end = month_bounds(how.month, how.zone)
    policies = ledger.month_policies(start, end, agency=task.agency)
    out = how.layout.out(task.agency)
    details = []
    failed: OSError | None = None  # one file that cannot be written keeps none of the others back
    if task.detail:
        table = month_detail_table(task.agency, how.month, policies, how.zone)
        try:
            details.append(write_detail_file(out / detail_name(how.month), table))
        except OSError as exc:
            failed = exc
    members: dict[str, list[Policy]] = defaultdict(list)
    for p in policies:
        if p.statement_no:
            members[p.statement_no].append(p)
    statements = {}
    for s in task.statements:
        found = members.get(s.statement_no) or ledger.statement_policies(s.statement_no)
        try:
            statements[s.statement_no] = write_statement_files(
                how.layout.root, out, s, found, task.agency_name, how.insurer, how.zone, how.now
            )
        except OSError as exc:
            failed = failed or exc
    if failed is not None:
        raise failed
    return Written(details, statements)


def write_month(
    ledger, how: MonthFiles, tasks: list[AgencyFiles], size: int, meanwhile: Callable[[], T]
) -> tuple[Written, T]:
    """Every task's files, and what `meanwhile` returned: it runs in this process while helpers write (a
    large month, `size` policies) or after the files are written (a small one). Details in agency order.
    One agency's folder that takes nothing (a file in its place, no permission) keeps back only that
    agency's files: it is named in `failed`, the others are written."""
    cores = os.cpu_count() or 1
    failed: dict[str, str] = {}
    if size < PARALLEL_FROM or cores < 2 or len(tasks) < 2:
        done = [_own(partial(write_agency, ledger, how, task), task, failed) for task in tasks]
        also = meanwhile()
    else:
        # spawn, not fork: a forked helper would inherit the root lock and the ledger's connection.
        with ProcessPoolExecutor(
            min(HELPERS, cores, len(tasks)),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_helper_start,
            initargs=(os.getpid(), ledger.target, how.zone, how.now),
        ) as pool:
            futures = [pool.submit(_write_in_helper, how, task) for task in tasks]
            also = meanwhile()
            done = [
                _own(partial(_result, f, ledger, how, task), task, failed)
                for f, task in zip(futures, tasks, strict=True)
            ]
    written = Written(
        [p for w in done for p in w.details], {no: paths for w in done for no, paths in w.statements.items()}, failed
    )
    return written, also


def _own(write: Callable[[], Written], task: AgencyFiles, failed: dict[str, str]) -> Written:
    """One agency's files; where its folder refuses them, nothing of it (and the reason in `failed`)."""
    try:
        return write()
    except OSError as exc:
        failed[task.agency] = describe(exc)  # the month-end says so (and retries: write_unwritten)
        return Written([], {})


def _result(future: Future[Written], ledger, how: MonthFiles, task: AgencyFiles) -> Written:
    """A helper's files; where the helper failed otherwise than on the files themselves (it could not
    start, could not reach the ledger, lost its connection, was killed) this process writes them: the
    helpers only make it faster. A fault of the files (a full disk, a folder in the way) is raised as it
    would be here."""
    try:
        return future.result()
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 — written here instead; anything it had is raised here again
        log.warning("月结：辅助进程未能写出 %s 的文件（%s），改在主进程中写出", task.agency, type(exc).__name__)
        return write_agency(ledger, how, task)


class HelperWithoutLedger(Exception):
    """The helper could not open the ledger: its tasks are written by the month-end itself."""


_ledger = None  # in a helper: its own connection to the ledger


def _helper_start(parent: int, target, zone: tzinfo, now: datetime) -> None:
    """In each helper: it dies with the month-end (even one killed with kill -9), leaves Ctrl-C and
    systemd's stop to it (ignore_stop_signals), and opens the ledger once. What it cannot do is said by
    its tasks (never a traceback on the console: the month-end reports what matters), and an error
    Python could only print while cleaning up (a half-written workbook on a full disk) is not printed
    either: the month-end has raised it already."""
    global _ledger
    die_with_parent(parent)
    ignore_stop_signals()
    sys.unraisablehook = lambda unraisable: None
    from ..ledger import Ledger

    try:
        _ledger = Ledger(target, zone, now=now)
    except Exception:  # noqa: BLE001 — each task says so, and is written by the month-end
        _ledger = None


def _write_in_helper(how: MonthFiles, task: AgencyFiles) -> Written:
    if _ledger is None:
        raise HelperWithoutLedger(task.agency)
    return write_agency(_ledger, how, task)
