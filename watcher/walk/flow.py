"""The walk of one file, stage by stage (each stage a module of this package): claim (walk/take.py) →
preflight → read → parse → validate → decide → commit; render and archive follow in the pipeline
(service/pipeline.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from .. import crash
from ..domain.problems import file_problem, problem
from ..faults import DeskFault, classify
from ..io.result_book import premium_total
from ..kinds.common import ApplySheet
from ..layout import ADMIN
from ..ledger.common import LedgerError
from ..ledger.policies import TurnBusy
from .archive import CopyChanged, Snapshot, archived_copy, durable, unchanged
from .claim import Claim
from .commit import commit
from .decide import decide
from .desk import Desk
from .names import editor_lock
from .outcome import Outcome, OutputsPending
from .parse import parse, said_action
from .preflight import preflight
from .read import read
from .recognise import quote_changed, recognise
from .recover import duplicate, rebuild
from .take import FileChanged
from .validate import validate

log = logging.getLogger("watcher")


def walk(desk: Desk, record: Claim) -> Outcome:
    """snapshot → preflight → read → parse → validate → decide → commit, inside the error trap.

    A fault of the desk (the ledger locked, broken or away; the disk full) raises DeskFault: the file is
    not failed. After the commit nothing turns the request into a failure (OutputsPending)."""
    made = record.snap if record.snap is not None and record.archived == str(record.snap.path) else None
    # The frame: the file as taken. Each stage that ends the walk builds the outcome from it.
    outcome = Outcome(
        record.who, record.original, "", record.at if made and record.at else desk.now(), result_stem=record.stem
    )
    try:
        if made is not None:
            snap = made  # made at the claim, a moment ago: read as it is, processed at that moment
        else:
            record, snap = archived_copy(desk, record, outcome.processed_at)
        outcome = replace(outcome, sha256=snap.sha256, archived=str(snap.path))
        checked = record.checked if made is not None and record.checked is not None else None
        if checked is None:
            checked = preflight(snap.path, record.original, desk.settings, (snap.sha256, snap.size))
        if checked.problem is not None or checked.format is None:
            outcome = outcome.refused(checked.problem or file_problem("file.unreadable", detail="格式错误"))
        else:
            earlier = desk.ledger.effective_request(record.who, checked.sha256)
            if earlier is not None and f"{record.stem}.xlsx" in earlier.outputs:
                outcome = replace(outcome, committed=True)  # shown again: nothing may fail it now
                outcome = rebuild(desk, outcome, earlier, snap.path, checked.format)
            elif earlier is not None:
                outcome = duplicate(desk, outcome, earlier, snap.path, checked.format)
            else:
                frame = outcome
                try:
                    outcome = _walk(desk, frame, snap, checked.format, lambda: unchanged(record, snap))
                except (LedgerError, desk.ledger.db.IntegrityError):
                    # Another worker changed what this request relied on between its checks and its
                    # commit (nothing of this request was committed): walk it again against the ledger
                    # as it is now; the same bytes committed by the other worker come back as a duplicate.
                    log.info("%s/%s：检查期间账本被另一个进程改变，按现在的账本重新检查", record.who, record.original)
                    outcome = _again(desk, frame, snap, checked.sha256, checked.format, record)
        if not outcome.committed and not unchanged(record, snap):
            raise FileChanged(record.path)
        if outcome.committed and not outcome.recovered and not unchanged(record, snap):
            # Changed after the commit: what was committed is what the archive keeps; say the rest was not.
            outcome = replace(outcome, problems=[*outcome.problems, file_problem("file.changed_after", warning=True)])
    except (FileChanged, DeskFault, TurnBusy):
        raise
    except CopyChanged as exc:
        raise FileChanged(record.path) from exc
    except Exception as exc:  # the trap
        if outcome.committed:
            raise OutputsPending(exc) from exc
        fault = classify(exc)
        if fault is not None:
            raise DeskFault(fault, exc) from exc
        log.exception("处理 %s/%s 时发生意外错误", record.who, record.original)  # this file fails, the run goes on
        outcome = outcome.refused(file_problem("file.internal", detail=type(exc).__name__))
    return outcome


def _again(desk: Desk, first: Outcome, snap: Snapshot, sha256: str, fmt: str, record: Claim) -> Outcome:
    """The same file walked again against the ledger as it is now (a new frame: processed now)."""
    frame = replace(first, processed_at=desk.now())
    earlier = desk.ledger.effective_request(frame.who, sha256)
    if earlier is not None:
        return duplicate(desk, frame, earlier, snap.path, fmt)
    return _walk(desk, frame, snap, fmt, lambda: unchanged(record, snap))


def _walk(desk: Desk, frame: Outcome, snap: Snapshot, fmt: str, still: Callable[[], bool]) -> Outcome:
    book, trouble = read(desk.reader, snap.path, fmt)
    if trouble is None and book is not None:
        book, trouble = recognise(book, frame.who, desk.ledger, desk.zone)
    if trouble is not None or book is None:
        said = said_action(book) if book is not None else None  # (a result dropped back says what it was)
        return replace(frame, action=said or frame.action).refused(
            trouble or file_problem("file.unreadable", detail="格式错误")
        )
    kind, request = parse(book, frame.who, desk.settings)
    if kind is None:  # (an action not for this folder still says which it was)
        refused = replace(frame, book=book, action=said_action(book) or frame.action).refused(request)
        return replace(refused, notes=[*refused.notes, *_tail_of(desk, frame, request)])
    frame = replace(frame, book=book, action=request.action)
    # Several workers on one ledger: one request of an agency at a time from reading what it decides by to
    # its commit (two 投保 of one group with the same people, a 加人 beside a 撤单, a 投保 beside the 机构
    # that terminates the agency: both passed otherwise). 机构 takes the turn of each agency it saves too.
    names = turns(frame.who, request)
    try:
        with desk.ledger.turn(*names, wait=_turn_wait(desk, names)):
            for name in names:
                desk.busy_turns.pop(name, None)
            return _decided(desk, frame, book, kind, request, snap, still)
    except TurnBusy as busy:
        if busy.waited > 0:  # (only tried: the time it was found held stays, so the next wait is short again)
            desk.busy_turns[busy.name] = time.monotonic()
        raise


BUSY_FOR = 300.0  # seconds an agency's turn found held past the wait is waited for briefly (BUSY_WAIT)
BUSY_WAIT = 5.0  # (a 10,000-person file holds its turn about a second)
BUSY_NOW = 30.0  # found held this recently (the same pass over the folders): only tried, not waited for
TURN_WAIT_AT_LEAST = 10.0  # (lock_wait_seconds may be 0: two workers meeting on an agency is no fault)


def _turn_wait(desk: Desk, names: list[str]) -> float:
    """How long to wait for a turn: lock_wait_seconds (at least TURN_WAIT_AT_LEAST); briefly where it was
    found held that long a little while ago, and not at all where just now (a frozen worker: each of that
    agency's files would hold every other agency up again, one wait a file)."""
    now = time.monotonic()
    wait = max(desk.settings.lock_wait_seconds, TURN_WAIT_AT_LEAST)
    since = min((now - desk.busy_turns.get(name, -1e9) for name in names), default=1e9)
    if since < BUSY_NOW:
        return 0.0
    if since < BUSY_FOR:
        return min(BUSY_WAIT, wait)
    return wait


TAIL_WITHIN = timedelta(hours=1)


def _tail_of(desk: Desk, frame: Outcome, why) -> list[str]:
    """A file with no 操作类型 named as one processed a little earlier: the rest of that file, copied in two
    goes (a share that hung between them)? The earlier one was issued with the people it held; said here, or
    the clerk reads two unrelated results and believes the whole group covered."""
    if getattr(why, "code", "") not in ("file.no_action", "file.no_apply_sheet") or frame.who == ADMIN:
        return []
    try:
        earlier = desk.ledger.named_before(frame.who, frame.file_name, frame.processed_at - TAIL_WITHIN)
    except Exception:  # noqa: BLE001 — only a note: the result stands without it
        return []
    if earlier is None or not earlier[1]:  # (a 撤单 or 减人 of that name issued nothing: no roster was cut)
        return []
    at, policies = earlier
    issued = f"，出具了保单 {'、'.join(policies)}"
    return [
        f"同名文件“{frame.file_name}”已于 {at.astimezone(desk.zone):%Y-%m-%d %H:%M:%S} 处理{issued}。本文件可能是它的后半部分"
        "（文件复制中途中断过）：请核对那份结果中的人数和名单；缺少的人请用“加人”补上，不要重新投保"
    ]


def turns(who: str, request) -> list[str]:
    """The turns a request takes, always in this order: its folder's, then (机构) each agency's it saves."""
    names = [f"agency:{who}"]
    if request.action == "机构":
        names += [f"agency:{code}" for code in sorted({a.code for _, a in request.fields.rows} - {who})]
    return names


def _decided(desk: Desk, frame: Outcome, book, kind, request, snap, still) -> Outcome:
    if ended(desk, frame.who) and request.action not in ENDED_MAY:
        # A terminated agency still settles what it owes and may look things up; nothing else.
        return frame.refused(
            problem("agency.ended", **ApplySheet(book, []).at("操作类型"), agency=frame.who, action=request.action)
        )
    if request.roster is not None:
        frame = replace(
            frame,
            roster_sheet=request.roster.sheet.name,
            roster_header=request.roster.header_row,
            roster_columns=dict(request.roster.columns),
        )
    checked = validate(kind, request, desk.ledger, frame.processed_at)
    decision = decide(kind, checked, frame.processed_at)
    if decision.status == "success" and decision.ops:
        crash.point("before_commit")
        if not still():
            raise FileChanged(snap.path)  # a writer is still at the file: never commit from bytes it is changing
        durable(snap.path)  # nothing is committed from a copy the disk may not hold (synced while it was read)
    said = [*checked.problems, *_taken_as_it_was(desk, frame, book, decision)]
    outcome = commit(desk.ledger, replace(frame, problems=said), decision)
    if outcome.status in ("failed", "quote") and outcome.action in ISSUE_LIKE:
        agency = desk.ledger.agency(frame.who)
        outcome = replace(outcome, plan_choices=agency.plans if agency is not None else ())
    return outcome


def _taken_as_it_was(desk: Desk, frame: Outcome, book, decision) -> list:
    """Warnings about the file as it was taken, for a request that changes who is covered: said before the
    commit, so the result the commit records (shown again after a crash, or to a duplicate) carries them.
    A workbook still open in Excel, WPS or LibreOffice (its lock file beside it: a clerk filling the roster
    in the drop folder, saving as they go, taken at that save with the travellers typed so far; said, not
    waited for: the lock of an Excel that crashed stays for good, and a file is taken once stable); a 试算
    result turned into 投保 and priced otherwise than it quoted."""
    if decision.status != "success" or frame.action not in ROSTER_CHANGES:
        return []
    found = []
    lock = editor_lock(desk.layout.drop(frame.who), frame.file_name)
    if lock is not None:
        found.append(file_problem("file.open_in_editor", warning=True, lock=lock))
    changed = quote_changed(book, frame.action, premium_total(decision))
    if changed is not None:
        found.append(changed)
    return found


ROSTER_CHANGES = ("投保", "加人", "减人", "换人", "信息变更")  # who is covered follows the roster as read
ISSUE_LIKE = ("投保", "试算")  # a result the clerk fixes in place (or turns into 投保) and drops back
ENDED_MAY = ("保单查询", "业务明细", "补打保单", "对账单查询")  # what a terminated agency may still ask


def ended(desk: Desk, who: str) -> bool:
    agency = desk.ledger.agency(who) if who != ADMIN else None
    return agency is not None and not agency.active
