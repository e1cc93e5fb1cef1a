"""The way through watcher, one stage a module:
claim → preflight → read → parse → validate → decide → commit → render → archive."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from .. import clock, crash
from ..domain.money import Amount
from ..domain.problems import Problem, file_problem, problem
from ..io.reader import Limits, read_book
from ..layout import ADMIN, Layout
from ..ledger.common import LedgerError
from ..settings import Settings
from .archive import archive
from .names import display_name, safe_stem
from .claim import Claim, claim, drop_record, original_name, read_record, write_record
from .commit import commit
from .decide import decide
from .outcome import Outcome, SheetTable
from .parse import parse
from .preflight import preflight
from .read import read
from .recognise import recognise
from .validate import validate

log = logging.getLogger("watcher")


@dataclass
class Desk:
    """Everything the walk needs, opened once per run."""
    layout: Layout
    settings: Settings
    ledger: object
    now: Callable[[], datetime] = clock.now
    reserved: set = field(default_factory=set)  # (who, result stem) of files in hand, not yet archived
    reader: Callable | None = None  # (path, kind) → Book; the sandbox when the service runs
    worker: str | None = None  # with several workers (PostgreSQL): this one's name; its claims live apart

    def __post_init__(self):
        self.zone = self.settings.zone
        if self.reader is None:
            limits = limits_of(self.settings)
            self.reader = lambda path, kind: read_book(path, kind, limits)


def claim_dir(desk: Desk, who: str) -> Path:
    """Where this worker keeps the files it has claimed: the claim area, or its own folder in it."""
    base = desk.layout.claimed(who)
    return base / desk.worker if desk.worker else base


def claim_file(desk: Desk, path: Path, who: str) -> Claim:
    claimed = claim(path, claim_dir(desk, who))
    crash.point("after_claim")
    return _record(desk, claimed, who, display_name(path.name))


def reclaim(desk: Desk, claimed: Path, who: str) -> Claim:
    """A file left in the claim area by a run that was stopped: keep the result name it was given."""
    record = read_record(claimed, who)
    if record is None:  # stopped between the claim and its record: nothing was written yet
        return _record(desk, claimed, who)
    desk.reserved.add((who, record.stem))
    return record


def _record(desk: Desk, claimed: Path, who: str, original: str | None = None) -> Claim:
    original = original or original_name(claimed)
    stem = result_stem(desk, who, original)
    desk.reserved.add((who, stem))
    return write_record(claimed, who, stem, original)


def archive_claim(desk: Desk, record: Claim, outcome: Outcome) -> Path:
    crash.point("before_archive")
    target = archive(record.path, desk.layout.archived(record.who), record.original, outcome.sha256,
                     outcome.processed_at, desk.zone)
    drop_record(record.path)
    desk.reserved.discard((record.who, record.stem))
    desk.ledger.release_stem(record.who, record.stem)
    return target


def walk(desk: Desk, record: Claim) -> Outcome:
    """preflight → read → parse → validate → decide → commit, inside the error trap."""
    outcome = Outcome(record.who, record.original, "", desk.now())
    outcome.result_stem = record.stem
    try:
        checked = preflight(record.path, record.original, desk.settings)
        outcome.sha256 = checked.sha256
        if checked.problem is not None:
            outcome.problems = [checked.problem]
        else:
            earlier = desk.ledger.effective_request(record.who, checked.sha256)
            if earlier is not None and f"{record.stem}.xlsx" in earlier.outputs:
                _rebuild(desk, outcome, earlier, record.path, checked.kind)
            elif earlier is not None:
                _duplicate(desk, outcome, earlier)
            else:
                try:
                    _walk(desk, outcome, record.path, checked.kind)
                except (LedgerError, desk.ledger.db.IntegrityError):
                    # Another worker changed what this request relied on between its checks and its
                    # commit (nothing of this request was committed): walk it again against the ledger
                    # as it is now; the same bytes committed by the other worker come back as a duplicate.
                    log.info("%s/%s: the ledger changed under it; checking it again", record.who, record.original)
                    _again(desk, outcome, record, checked)
    except Exception as exc:  # the trap: this file fails with a result, the run goes on
        log.exception("unexpected error in %s/%s", record.who, record.original)
        outcome.status = "failed"
        outcome.policies, outcome.cancelled = [], []
        outcome.problems = [file_problem("file.internal", detail=type(exc).__name__)]
    return outcome


def _again(desk: Desk, outcome: Outcome, record: Claim, checked) -> None:
    fresh = Outcome(record.who, record.original, checked.sha256, desk.now())
    fresh.result_stem = record.stem
    earlier = desk.ledger.effective_request(record.who, checked.sha256)
    if earlier is not None:
        _duplicate(desk, fresh, earlier)
    else:
        _walk(desk, fresh, record.path, checked.kind)
    outcome.__dict__.update(fresh.__dict__)


def _rebuild(desk: Desk, outcome: Outcome, earlier, claimed: Path, kind_name: str) -> None:
    """This very claim committed before the run was stopped: show the committed result again."""
    ledger = desk.ledger
    shown = earlier.result
    outcome.status, outcome.action = "success", earlier.action
    outcome.processed_at = earlier.processed_at
    outcome.policies = [ledger.policy(n) for n in earlier.policies]
    outcome.cancelled = list(earlier.cancelled)
    outcome.outputs = list(earlier.outputs)
    outcome.problems = [Problem(code, message, sheet, row, column, col, True)
                        for code, message, sheet, row, column, col in shown.get("warnings", [])]
    summary = shown.get("summary", {})  # a dict of text: what the release before recorded
    outcome.summary = dict(summary) if isinstance(summary, dict) else {
        label: Amount(v) if kind == "money" else v for label, kind, v in summary}
    outcome.notes = shown.get("notes", [])
    outcome.row_premiums = {int(r): fen for r, fen in shown.get("row_premiums", {}).items()}
    outcome.roster_sheet, outcome.roster_header = shown.get("roster_sheet"), shown.get("roster_header")
    outcome.roster_columns = shown.get("roster_columns", {})
    outcome.tables = [SheetTable(name, headers, kinds, rows, {int(k): v for k, v in totals.items()}, note)
                      for name, headers, kinds, rows, totals, note in shown.get("tables", [])]
    outcome.premium_before = shown.get("premium_before")
    outcome.statements, outcome.core = shown.get("statements", []), shown.get("core", [])
    outcome.details = [tuple(d) for d in shown.get("details", [])]
    outcome.content = shown.get("content", {})
    book, _ = read(desk.reader, claimed, kind_name)
    outcome.book = recognise(book, outcome.who, ledger, desk.zone)[0] if book is not None else None
    outcome.recovered = True


def _walk(desk: Desk, outcome: Outcome, claimed: Path, kind_name: str) -> None:
    book, trouble = read(desk.reader, claimed, kind_name)
    if trouble is None:
        book, trouble = recognise(book, outcome.who, desk.ledger, desk.zone)
    if trouble is not None:
        outcome.problems = [trouble]
        return
    outcome.book = book
    kind, request = parse(book, outcome.who, desk.settings)
    if kind is None:
        outcome.problems = [request]
        return
    outcome.action = request.action
    if ended(desk, outcome.who) and request.action not in ENDED_MAY:
        # A terminated agency still settles what it owes and may look things up; nothing else.
        outcome.problems = [problem("agency.ended", sheet="申请", column="操作类型", agency=outcome.who,
                                    action=request.action)]
        return
    if request.roster is not None:
        outcome.roster_sheet = request.roster.sheet.name
        outcome.roster_header = request.roster.header_row
        outcome.roster_columns = dict(request.roster.columns)
    checked = validate(kind, request, desk.ledger, outcome.processed_at)
    outcome.problems = checked.problems
    decision = decide(kind, checked, outcome.processed_at)
    outcome.status = decision.status
    outcome.cancelled = decision.cancelled
    outcome.summary = decision.summary
    outcome.notes = decision.notes
    outcome.row_premiums = decision.row_premiums
    outcome.tables = decision.tables
    outcome.reprint = decision.reprint
    outcome.premium_before = decision.premium_before
    outcome.statements = list(decision.statements)
    outcome.content = dict(decision.content)
    commit(desk.ledger, desk.layout, outcome, decision)


ENDED_MAY = ("保单查询", "业务明细", "补打保单", "对账单查询")  # what a terminated agency may still ask


def ended(desk: Desk, who: str) -> bool:
    agency = desk.ledger.agency(who) if who != ADMIN else None
    return agency is not None and not agency.active


def _duplicate(desk: Desk, outcome: Outcome, earlier) -> None:
    """Same bytes again after a request that changed the ledger: nothing changes, the first result again."""
    outcome.status = "duplicate"
    outcome.action = earlier.action
    outcome.policies = [desk.ledger.policy(n) for n in earlier.policies]
    outcome.cancelled = list(earlier.cancelled)
    outcome.first_processed_at = earlier.processed_at


def limits_of(settings: Settings) -> Limits:
    return Limits(max_unzipped=settings.max_unzipped_mb * 2**20, max_cells=settings.max_cells)


def result_stem(desk: Desk, who: str, original: str) -> str:
    """团A.xlsx → 团A_结果; a later file of the same name → 团A_结果_2. Nothing is ever overwritten."""
    stem = safe_stem(Path(original).stem if "." in original else original)
    out = desk.layout.out(who)
    n = 1
    while True:
        candidate = f"{stem}_结果" if n == 1 else f"{stem}_结果_{n}"
        names = (candidate + ".xlsx", candidate + ".json")
        if (who, candidate) not in desk.reserved and not any((out / name).exists() for name in names) \
                and not desk.ledger.output_taken(who, *names) \
                and desk.ledger.reserve_stem(who, candidate, desk.now()):  # the final word, across workers
            return candidate
        n += 1
