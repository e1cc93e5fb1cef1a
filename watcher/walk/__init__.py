"""The way through watcher, one stage a module:
claim → preflight → read → parse → validate → decide → commit → render → archive."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .. import clock, crash
from ..domain.money import Amount
from ..domain.problems import Problem, file_problem, problem
from ..faults import DeskFault, classify
from ..io.reader import Limits, read_book
from ..layout import ADMIN, Layout
from ..ledger.common import LedgerError
from ..ledger.policies import Ledger
from ..settings import Settings
from .archive import Snapshot, archive, durable, forget, snapshot
from .claim import Claim, claim, drop_record, original_name, read_record, update_record, write_record
from .commit import commit
from .decide import decide
from .names import display_name, safe_stem
from .outcome import Outcome, SheetTable
from .parse import parse
from .preflight import preflight, sha256_of
from .read import read
from .recognise import recognise
from .validate import validate

log = logging.getLogger("watcher")


class OutputsPending(Exception):
    """The request is committed but what it shows could not be finished (the ledger or disk failed after
    the commit): a success whose outputs are written as soon as they can be, never a failure."""


@dataclass
class Desk:
    """Everything the walk needs, opened once per run."""

    layout: Layout
    settings: Settings
    ledger: Ledger
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
    try:
        return _record(desk, claimed, who, display_name(path.name))
    except Exception:
        # The claim failed halfway (a disk full after the rename): the file goes back, to be taken again.
        try:
            os.rename(claimed, path)
        except OSError:
            log.exception("%s/%s: could not put it back; it is finished at the next start", who, path.name)
        raise


def reclaim(desk: Desk, claimed: Path, who: str) -> Claim:
    """A file left in the claim area by a run that was stopped: keep the result name it was given. A record
    lost to a power cut (written without fsync) loses nothing: a request already committed from these
    bytes keeps the result name it recorded, so its own outputs are written, not a 重复提交."""
    record = read_record(claimed, who)
    if record is None:
        sha, _ = sha256_of(claimed)
        earlier = desk.ledger.effective_request(who, sha)
        if earlier is not None:
            stem = earlier.outputs[0].removesuffix(".xlsx")
            desk.reserved.add((who, stem))
            return write_record(claimed, who, stem, earlier.file_name)
        return _record(desk, claimed, who)
    desk.reserved.add((who, record.stem))
    return record


def _record(desk: Desk, claimed: Path, who: str, original: str | None = None) -> Claim:
    original = original or original_name(claimed)
    stem = result_stem(desk, who, original)
    desk.reserved.add((who, stem))
    return write_record(claimed, who, stem, original)


def archive_claim(desk: Desk, record: Claim, outcome: Outcome) -> Path:
    """The last step: the claimed file leaves the claim area. Its archived copy was made before anything
    was committed; if a writer changed the file since, the changed bytes are archived beside it."""
    crash.point("before_archive")
    if outcome.archived:
        target = Path(outcome.archived)
        if record.path.exists():
            if sha256_of(record.path)[0] != outcome.sha256:
                kept = snapshot(
                    record.path,
                    desk.layout.archived(record.who),
                    record.original,
                    outcome.processed_at,
                    desk.zone,
                    tag="_办理后修改",
                )
                durable(kept.path)
                forget(kept.path)
                log.warning(
                    "%s/%s: changed after it was processed; the changed file is kept as %s",
                    record.who,
                    record.original,
                    kept.path.name,
                )
            durable(target)  # the copy is on the disk before the original goes
            record.path.unlink()
        forget(target)
    else:  # it could not even be copied (unreadable): moved as it is
        target = archive(
            record.path,
            desk.layout.archived(record.who),
            record.original,
            outcome.sha256,
            outcome.processed_at,
            desk.zone,
        )
    drop_record(record.path)
    desk.reserved.discard((record.who, record.stem))
    desk.ledger.release_stem(record.who, record.stem)
    return target


class FileChanged(Exception):
    """The claimed file changed while it was walked (a writer still at it): nothing was committed, and it
    goes back to be taken once it holds still."""


def _snapshot(desk: Desk, record: Claim, at: datetime) -> tuple[Claim, Snapshot]:
    """The archived copy the walk reads: the one made by an earlier attempt, or a new one."""
    if record.archived:
        earlier = Path(record.archived)
        if earlier.exists() and sha256_of(earlier)[0] == record.sha256:
            return record, Snapshot(earlier, record.sha256, earlier.stat().st_size)
        earlier.unlink(missing_ok=True)  # never committed (or it would not be walked again): a stale copy
    snap = snapshot(record.path, desk.layout.archived(record.who), record.original, at, desk.zone)
    return update_record(record, archived=str(snap.path), sha256=snap.sha256), snap


def unchanged(record: Claim, snap: Snapshot) -> bool:
    """Whether the claimed file still holds the bytes that were archived and read."""
    try:
        return record.path.stat().st_size == snap.size and sha256_of(record.path)[0] == snap.sha256
    except FileNotFoundError:
        return True  # gone (another worker took it back to finish): nothing of it is read from here


def walk(desk: Desk, record: Claim) -> Outcome:
    """snapshot → preflight → read → parse → validate → decide → commit, inside the error trap.

    A fault of the desk (the ledger locked, broken or away; the disk full) raises DeskFault: the file is
    not failed. After the commit nothing turns the request into a failure (OutputsPending)."""
    outcome = Outcome(record.who, record.original, "", desk.now())
    outcome.result_stem = record.stem
    try:
        record, snap = _snapshot(desk, record, outcome.processed_at)
        outcome.sha256, outcome.archived = snap.sha256, str(snap.path)
        checked = preflight(snap.path, record.original, desk.settings, (snap.sha256, snap.size))
        if checked.problem is not None or checked.kind is None:
            outcome.problems = [checked.problem or file_problem("file.unreadable", detail="格式错误")]
        else:
            earlier = desk.ledger.effective_request(record.who, checked.sha256)
            if earlier is not None and f"{record.stem}.xlsx" in earlier.outputs:
                outcome.committed = True
                _rebuild(desk, outcome, earlier, snap.path, checked.kind)
            elif earlier is not None:
                _duplicate(desk, outcome, earlier, snap.path, checked.kind)
            else:
                try:
                    _walk(desk, outcome, snap, checked.kind, lambda: unchanged(record, snap))
                except (LedgerError, desk.ledger.db.IntegrityError):
                    # Another worker changed what this request relied on between its checks and its
                    # commit (nothing of this request was committed): walk it again against the ledger
                    # as it is now; the same bytes committed by the other worker come back as a duplicate.
                    log.info("%s/%s: the ledger changed under it; checking it again", record.who, record.original)
                    _again(desk, outcome, record, snap, checked)
        if not outcome.committed and not unchanged(record, snap):
            raise FileChanged(record.path)
        if outcome.committed and not outcome.recovered and not unchanged(record, snap):
            # Changed after the commit: what was committed is what the archive keeps; say the rest was not.
            outcome.problems.append(file_problem("file.changed_after", warning=True))
    except (FileChanged, DeskFault):
        raise
    except Exception as exc:  # the trap
        if outcome.committed:
            raise OutputsPending(exc) from exc
        fault = classify(exc)
        if fault is not None:
            raise DeskFault(fault, exc) from exc
        log.exception("unexpected error in %s/%s", record.who, record.original)  # this file fails, the run goes on
        outcome.status = "failed"
        outcome.policies, outcome.cancelled = [], []
        outcome.problems = [file_problem("file.internal", detail=type(exc).__name__)]
    return outcome


def _again(desk: Desk, outcome: Outcome, record: Claim, snap: Snapshot, checked) -> None:
    fresh = Outcome(record.who, record.original, checked.sha256, desk.now())
    fresh.result_stem, fresh.archived = record.stem, outcome.archived
    earlier = desk.ledger.effective_request(record.who, checked.sha256)
    if earlier is not None:
        _duplicate(desk, fresh, earlier, snap.path, checked.kind)
    else:
        _walk(desk, fresh, snap, checked.kind, lambda: unchanged(record, snap))
    outcome.__dict__.update(fresh.__dict__)


def _rebuild(desk: Desk, outcome: Outcome, earlier, archived: Path, kind_name: str) -> None:
    """A request committed before the run was stopped: show the committed result again."""
    ledger = desk.ledger
    shown = earlier.result
    outcome.status, outcome.action = "success", earlier.action
    outcome.processed_at = earlier.processed_at
    outcome.policies = [p for n in earlier.policies if (p := ledger.policy(n)) is not None]
    outcome.cancelled = list(earlier.cancelled)
    outcome.outputs = list(earlier.outputs)
    outcome.problems = [
        Problem(code, message, sheet, row, column, col, True)
        for code, message, sheet, row, column, col in shown.get("warnings", [])
    ]
    summary = shown.get("summary", {})  # a dict of text: what the release before recorded
    outcome.summary = (
        dict(summary)
        if isinstance(summary, dict)
        else {label: Amount(v) if kind == "money" else v for label, kind, v in summary}
    )
    outcome.notes = shown.get("notes", [])
    outcome.row_premiums = {int(r): fen for r, fen in shown.get("row_premiums", {}).items()}
    outcome.roster_sheet, outcome.roster_header = shown.get("roster_sheet"), shown.get("roster_header")
    outcome.roster_columns = shown.get("roster_columns", {})
    outcome.tables = [
        SheetTable(name, headers, kinds, rows, {int(k): v for k, v in totals.items()}, note)
        for name, headers, kinds, rows, totals, note in shown.get("tables", [])
    ]
    outcome.premium_before = shown.get("premium_before")
    outcome.statements, outcome.core = shown.get("statements", []), shown.get("core", [])
    outcome.details = [tuple(d) for d in shown.get("details", [])]
    outcome.content = shown.get("content", {})
    book, _ = read(desk.reader, archived, kind_name)
    outcome.book = recognise(book, outcome.who, ledger, desk.zone)[0] if book is not None else None
    outcome.recovered = True


def _walk(desk: Desk, outcome: Outcome, snap: Snapshot, kind_name: str, still: Callable[[], bool]) -> None:
    book, trouble = read(desk.reader, snap.path, kind_name)
    if trouble is None and book is not None:
        book, trouble = recognise(book, outcome.who, desk.ledger, desk.zone)
    if trouble is not None or book is None:
        outcome.problems = [trouble or file_problem("file.unreadable", detail="格式错误")]
        return
    outcome.book = book
    kind, request = parse(book, outcome.who, desk.settings)
    if kind is None:
        outcome.problems = [request]
        return
    outcome.action = request.action
    if ended(desk, outcome.who) and request.action not in ENDED_MAY:
        # A terminated agency still settles what it owes and may look things up; nothing else.
        outcome.problems = [
            problem("agency.ended", sheet="申请", column="操作类型", agency=outcome.who, action=request.action)
        ]
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
    if decision.status == "success" and decision.ops:
        crash.point("before_commit")
        if not still():
            raise FileChanged(snap.path)  # a writer is still at the file: never commit from bytes it is changing
        durable(snap.path)  # nothing is committed from a copy the disk may not hold (synced while it was read)
    commit(desk.ledger, desk.layout, outcome, decision)


ENDED_MAY = ("保单查询", "业务明细", "补打保单", "对账单查询")  # what a terminated agency may still ask


def ended(desk: Desk, who: str) -> bool:
    agency = desk.ledger.agency(who) if who != ADMIN else None
    return agency is not None and not agency.active


def _duplicate(desk: Desk, outcome: Outcome, earlier, archived: Path, kind_name: str) -> None:
    """Same bytes again after a request that changed the ledger: nothing changes, the first result again.
    If that request's own outputs are missing (lost with a claim record, or deleted), they are written too,
    under the names it recorded."""
    outcome.status = "duplicate"
    outcome.action = earlier.action
    outcome.policies = [p for n in earlier.policies if (p := desk.ledger.policy(n)) is not None]
    outcome.cancelled = list(earlier.cancelled)
    outcome.first_processed_at = earlier.processed_at
    out = desk.layout.out(outcome.who)
    if any(not (out / name).exists() for name in earlier.outputs):
        repair = Outcome(outcome.who, earlier.file_name, earlier.sha256, earlier.processed_at)
        repair.result_stem = earlier.outputs[0].removesuffix(".xlsx")
        _rebuild(desk, repair, earlier, archived, kind_name)
        outcome.repair = repair


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
        if (
            (who, candidate) not in desk.reserved
            and not any((out / name).exists() for name in names)
            and not desk.ledger.output_taken(who, *names)
            and desk.ledger.reserve_stem(who, candidate, desk.now())
        ):  # the final word, across workers
            return candidate
        n += 1
