"""The pipeline shared by `process` and `serve`: walk each file here, render its outputs, archive it.

Files are walked one at a time in this process (the ledger has one writer). With several files in
flight, the outputs of small requests are written by two render processes while the next file is
walked; large outcomes are rendered inline (pickling them costs more than it saves). Outputs that are
not the file's own (statements, detail sheets, exchange files, reprinted pages) may also be written by
a file still in flight, so such a file waits for those before and writes them here: the last written
is always the newest. A file is archived only once all its outputs are written, in order of arrival.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import clock, events
from ..faults import LOCKED, DeskFault, classify, describe, os_words
from ..layout import CLAIMED
from ..ledger.policies import TurnBusy
from ..walk.archive import archive_claim, forget
from ..walk.claim import Claim, read_record, unclaim, update_record
from ..walk.desk import Desk
from ..walk.outcome import Outcome, OutputsPending
from ..walk.render import RenderPlan, finish, plan, run_jobs, twin
from ..walk.take import FileChanged, ahead, claim_file
from .lifeline import render_helper_start

log = logging.getLogger("watcher")

# Above this many rows, pickling the outcome to the worker costs more than rendering it here (measured
# with a 10,000-person request; a fork per file was slower still: copy-on-write faults): `process` renders
# such a file itself. `serve` does not: files dropped after a big roster would wait for its result
# workbook (half a second for 10,000 people), so a renderer writes it while the service walks them.
BIG_ROWS = 2000
# Render processes: one cannot keep up with the walk of small requests (measured: 200 requests of 30
# people went from 125 to 138 a second with two).
RENDERERS = 2


@dataclass
class RunReport:
    """What a run did. `keep`: the outcomes themselves too (a `process` run, tests); a service that runs for
    months keeps only the counts, or it would hold every file's cells for ever."""

    keep: bool = True
    done: list[Outcome] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    refused_folders: list[tuple[str, str]] = field(default_factory=list)
    halted: DeskFault | None = None  # the fault of the desk that stopped the run
    # Committed, its outputs still to be written: (claimed file, agency).
    pending: list[tuple[Path, str]] = field(default_factory=list)
    held: list[tuple[Path, str]] = field(default_factory=list)  # kept in hand uncommitted (Pipeline.held)

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome.status] += 1
        if self.keep:
            self.done.append(outcome)

    def count(self, status: str) -> int:
        return self.counts[status]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class _InHand:
    record: Claim
    outcome: Outcome
    rendering: RenderPlan
    future: Future | None  # None when rendered inline
    started: float
    twin_sent: bool = False  # the helper writes the JSON twin after the other outputs


class Pipeline:
    def __init__(
        self, desk: Desk, report: RunReport, *, workers: bool, depth: int = 4, stop=None, big_inline: bool = True
    ):
        self.desk, self.report, self.depth = desk, report, depth
        self.big_inline = big_inline  # a big file's outputs written here (process), or by a renderer (serve)
        self.stop = stop  # a threading.Event set by SIGTERM/SIGINT: waits end early
        self.pool: ProcessPoolExecutor | None = None
        if workers:
            # spawn, not fork: a forked worker would inherit the root lock and hold it after a kill -9.
            self.pool = ProcessPoolExecutor(
                RENDERERS,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=render_helper_start,
                initargs=(os.getpid(),),
            )
            for _ in range(RENDERERS):  # start them now, not when the first file is waiting for one
                self.pool.submit(run_jobs, [])
        self.in_hand: deque[_InHand] = deque()
        self.ahead: tuple[Claim, float] | None = None  # claimed and sent to the parser, walked next
        self.halted: DeskFault | None = None  # a fault of the desk stopped the intake
        self.pending: dict[Path, str] = {}  # claimed file → agency: outputs waiting for a disk that takes them
        self.stems: dict[Path, str] = {}  # claimed file → the result name its pending outputs take
        # Claimed files never committed, kept in hand under their result name because the ledger was away when
        # they were to go back (_put_back): walked again once the desk works (retry_pending), never said done.
        self.held: dict[Path, str] = {}
        # (agency, sha256, result stem) of the files in hand or pending whose walk is in the event log: their
        # outputs tried again are not logged as another walk. Emptied as each file finishes.
        self.logged: set[tuple[str, str, str]] = set()

    # --- taking files ----------------------------------------------------------------------------

    def take(self, path: Path, who: str) -> None:
        """Claim a dropped file and send it to the parser; meanwhile the file taken before it is walked (one
        file ahead: `flush` walks the last one taken)."""
        if self.halted is not None:
            return  # the intake is stopped: every file stays where it is
        started = time.monotonic()
        try:
            record = claim_file(self.desk, path, who)
        except Exception as exc:
            fault = classify(exc)
            if fault is not None:
                self.halt(DeskFault(fault, exc))
            elif isinstance(exc, FileNotFoundError):  # taken by another worker, or moved away meanwhile
                log.info("%s/%s 已不在原处（已被其他 worker 受理，或被移走）", who, path.name)
            elif isinstance(exc, OSError):  # the share refused the rename: left, tried next scan
                log.warning("暂时无法受理 %s/%s：%s", who, path.name, os_words(exc))
            else:
                raise
            return
        record = ahead(self.desk, record)
        before, self.ahead = self.ahead, (record, started)
        if before is not None:
            self._process(*before, fresh=True)

    def flush(self) -> None:
        """Walk the file taken ahead. After a fault of the desk it goes back where it was dropped instead
        (nothing of it was committed); on a stop (SIGTERM) it is finished like the one before it."""
        if self.ahead is None:
            return
        (record, started), self.ahead = self.ahead, None
        if self.halted is not None:
            self._put_back(record)
        else:
            self._process(record, started, fresh=True)

    def resume(self, claimed: Path, who: str) -> None:
        """A file claimed by an earlier run that did not finish it, or one whose outputs were pending."""
        from ..walk.recover import reclaim

        started = time.monotonic()
        try:
            record = reclaim(self.desk, claimed, who)
        except Exception as exc:
            fault = classify(exc)
            if fault is None:
                raise
            self.halt(DeskFault(fault, exc))
            self.pending[claimed] = who
            return
        self._process(record, started, fresh=False)

    def _process(self, record: Claim, started: float, *, fresh: bool) -> None:
        try:
            self._process_one(record, started, fresh=fresh)
        finally:
            self._unsend(record)

    def _unsend(self, record: Claim) -> None:
        """What the parser still holds of a file (sent ahead, then not read: a duplicate, a file put back)."""
        if self.desk.parser is not None and record.snap is not None:
            self.desk.parser.cancel(record.snap.path)

    def _process_one(self, record: Claim, started: float, *, fresh: bool) -> None:
        try:
            outcome = self._walk(record)
        except FileChanged:
            log.info(
                "%s/%s：受理后文件仍在变化（还在写入），已放回原处，等它不再变化后再受理",
                record.who,
                record.original,
            )
            self._put_back(record)
            return
        except TurnBusy as busy:
            if busy.waited > 0:
                log.warning(
                    "%s/%s：%s 的办理次序被另一个工作进程占用，已等 %g 秒仍未轮到（它可能已停止响应，watcher status"
                    " 会指出是哪一个），文件已放回原处，稍后再办；其他文件照常办理",
                    record.who,
                    record.original,
                    busy.name.removeprefix("agency:"),
                    busy.waited,
                )
            else:  # (found held a moment ago: only tried this time)
                log.info(
                    "%s/%s：%s 的办理次序仍被另一个工作进程占用，文件已放回原处，稍后再办",
                    record.who,
                    record.original,
                    busy.name.removeprefix("agency:"),
                )
            self._put_back(record)
            return
        except DeskFault as fault:
            self.halt(fault)
            # Nothing of it was committed: a file just taken goes back where it was dropped; one that an
            # earlier run left in hand stays in hand and is finished once the desk works again. So does one
            # whose COMMIT got no answer (a connection lost at that moment): the database may hold it, and
            # walked again it is finished as that request (its result, its event line, its archived copy),
            # where put back it came again as a 重复提交 of a request that had no result and no line.
            if fresh and not self.desk.ledger.commit_unknown:
                self._put_back(record)
            else:
                self._pend(record, fault.line())
            return
        except OutputsPending as exc:
            self._pend(record, describe(exc.__cause__ or exc))
            return
        self._record(outcome)
        issued = self.desk.ledger.issued
        if outcome.recovered and outcome.numbers and issued is not None:  # finished now: the mark covers them
            try:
                issued.raise_to({n: max(v) for n, v in outcome.numbers.items() if v})
            except OSError as exc:
                log.error("未能更新已发出编号的记录（%s），下次提交时再更新", os_words(exc))
        from ..kinds.agencies import AgencyKind  # (the kinds are loaded with the walk's stages)

        if outcome.committed and outcome.action == AgencyKind.action:
            ensure_folders(self.desk)  # the agencies it registered get their drop and outbox folders now
        self._guarded(record, lambda: self._render(record, outcome, started))

    def _record(self, outcome: Outcome) -> None:
        """The walk in the desk's event log, in walk order (what `watcher recover` replays). A log that cannot
        be written fails nothing: `recover` then orders the file by its archive name."""
        key = (outcome.who, outcome.sha256, outcome.result_stem)
        if outcome.recovered and key in self.logged:
            return  # its outputs tried again (a folder that takes nothing, each rescan): logged when walked
        self.logged.add(key)
        archive = self.desk.layout.archive
        try:
            archived = str(Path(outcome.archived).relative_to(archive)) if outcome.archived else ""
        except ValueError:
            archived = ""
        more: dict[str, Any] = {"numbers": outcome.numbers} if outcome.numbers else {}
        try:
            events.append(
                archive,
                "file",
                outcome.processed_at,
                agency=outcome.who,
                file=outcome.file_name,
                archived=archived,
                sha256=outcome.sha256,
                stem=outcome.result_stem,
                status=outcome.status,
                action=outcome.action,
                committed=outcome.committed,
                changed_after=any(p.code == "file.changed_after" for p in outcome.problems),
                **more,
            )
        except OSError as exc:
            log.warning("未能写入事件记录（%s）：%s", events.NAME, os_words(exc))

    def _walk(self, record: Claim) -> Outcome:
        """The walk, a ledger locked by another program waited out with retries and backoff (besides the
        ledger's own busy timeout in each try) for up to lock_wait_seconds; then the intake stops."""
        from ..walk.flow import walk  # the walk loads once a file is taken (process._load_walk)
        from .recovering import UNDER_WAY, under_way

        delay, give_up = 1.0, time.monotonic() + self.desk.settings.lock_wait_seconds
        current = record  # as claimed (with the copy just made) or as read back by reclaim
        while True:
            try:
                if under_way(self.desk.layout.root):  # a worker back from an outage, mid-replay
                    self.desk.ledger._swapped(UNDER_WAY)
                return walk(self.desk, current)
            except DeskFault as fault:
                if fault.reason != LOCKED or time.monotonic() + delay > give_up or self._stopping():
                    raise
                log.warning("账本被其他程序锁定，%g 秒后重试 %s/%s", delay, record.who, record.original)
                self._sleep(delay)
                delay = min(delay * 2, 16)
                current = read_record(record.path, record.who) or record

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _sleep(self, seconds: float) -> None:
        if self.stop is not None:
            self.stop.wait(seconds)
        else:
            time.sleep(seconds)

    # --- faults of the desk, outputs that wait -----------------------------------------------------

    def halt(self, fault: DeskFault) -> None:
        """Stop the intake: the service looks at the desk again at every rescan and goes on once it works."""
        if self.halted is None:
            log.error("%s", fault.line())
        self.halted = fault
        self.say_halted()

    def say_halted(self) -> None:
        """What stops the intake, for `watcher status` (each worker of a shared ledger its own)."""
        if self.halted is not None:
            from .health import say_halted

            say_halted(self.desk.layout.root, self.halted, self.desk.now(), self.desk.worker)

    def _put_back(self, record: Claim) -> None:
        self._unsend(record)
        try:
            self.desk.ledger.release_stem(record.who, record.stem)
        except Exception:  # noqa: BLE001 — the ledger away: it keeps the name taken
            # Put back, the file was taken again (by this worker or another) under the next name, 团A_结果_2, with
            # no 团A_结果 anywhere: it stays in hand under its name, finished once the desk works again.
            log.warning(
                "%s/%s：账本暂时无法访问，文件留在处理中（尚未办理），账本恢复后继续处理", record.who, record.original
            )
            self.held[record.path] = record.who
            return
        current = read_record(record.path, record.who) or record
        try:
            if current.archived:
                forget(Path(current.archived))
                Path(current.archived).unlink(missing_ok=True)  # never committed: its copy is no original yet
            unclaim(current, self.desk.layout.drop(record.who))
        except OSError as exc:
            # An archive gone read-only, a share that refuses the rename: it stays in hand with its record
            # (which names its copy) and is finished once the desk works again, or at the next start, under
            # its name (taken again: freed a moment ago).
            log.error(
                "%s/%s：未能放回原处（%s），留在处理中，磁盘恢复后或下次启动时继续处理",
                record.who,
                record.original,
                os_words(exc),
            )
            try:
                self.desk.ledger.reserve_stem(record.who, record.stem, self.desk.now())
            except Exception:  # noqa: BLE001 — (the names are only a courtesy between workers here)
                pass
            self.pending[record.path] = record.who
            return
        self.desk.reserved.discard((record.who, record.stem))

    def _pend(self, record: Claim, why: str) -> None:
        """Its outputs could not be written (a full disk, an outbox that cannot be written): the file stays
        in hand, the service writes them at the next rescan, `watcher status` lists it."""
        self.pending[record.path] = record.who
        self.stems[record.path] = record.stem
        self.in_hand = deque(item for item in self.in_hand if item.record.path != record.path)
        try:
            update_record(read_record(record.path, record.who) or record, pending=why)
        except OSError:  # the same full disk: the log still says it
            pass
        log.error(
            "%s/%s：结果暂时无法写出（%s），稍后重试",
            record.who,
            record.original,
            why,
        )

    def retry_pending(self) -> None:
        """At every rescan: write the outputs that could not be written before; walk again the files kept in
        hand while the ledger was away (once it works)."""
        if self.halted is None:
            for path, who in list(self.held.items()):
                del self.held[path]
                if path.exists():
                    log.info("%s/%s：账本已恢复，继续处理留在处理中的文件", who, path.name)
                    self.resume(path, who)
                else:  # (never committed: taken over by another worker meanwhile, nothing is owed)
                    log.info("%s/%s 已由其他工作进程接手", who, path.name)
        for path, who in list(self.pending.items()):
            del self.pending[path]
            stem = self.stems.pop(path, None)
            if not path.exists() and stem and (self.desk.layout.out(who) / f"{stem}.json").is_file():
                # Finished elsewhere meanwhile (another worker took it over while this one was cut off from
                # the database; the same bytes dropped again): its outputs are there, nothing is lost.
                log.info("%s/%s 的结果已写出（%s）", who, path.name, stem)
                continue
            if not path.exists():  # its claim record went with the agency's hidden folder: never silently
                log.error(
                    "%s/%s 已办理（已生效），但结果未写出，且其受理记录已被删除（%s/%s）：请用 watcher recover "
                    "补写结果，或联系技术人员",
                    who,
                    path.name,
                    who,
                    CLAIMED,
                )
                from .recovering import note_lost  # (status lists it until recover writes the outputs)

                note_lost(
                    self.desk.layout.root,
                    f"{who}/{path.name}（{clock.now():%Y-%m-%d %H:%M:%S} 发现）",
                    f"{who}/{stem}.json" if stem else None,
                )
                continue
            log.warning("重新写出 %s/%s 的结果", who, path.name)
            self.resume(path, who)

    def _guarded(self, record: Claim, work) -> None:
        """The walk traps errors of the file itself; this catches the outputs that cannot be written (a
        full disk, an outbox without permission): the file stays in hand, its outputs pending."""
        try:
            work()
        except Exception as exc:
            fault = classify(exc)
            if fault is not None:
                # Where it hit, when the fault says (the archive refusing the changed bytes' copy); else the
                # agency's outbox, where the outputs go.
                hit = exc.where if isinstance(exc, DeskFault) and exc.where is not None else None
                self.halt(DeskFault(fault, exc, where=hit or self.desk.layout.out(record.who)))
            log.debug("outputs of %s/%s failed", record.who, record.original, exc_info=True)
            self._pend(record, describe(exc))

    def _render(self, record: Claim, outcome: Outcome, started: float) -> None:
        from ..walk.shows import gather

        out_dir = self.desk.layout.out(outcome.who)
        out_dir.mkdir(parents=True, exist_ok=True)
        outcome = gather(outcome, self.desk.ledger, self.desk.zone)  # what it shows from the ledger, read now
        rendering = plan(outcome, out_dir, self.desk.layout, self.desk.settings)
        self.desk.ledger.marked()  # no output carries a number before the desk's mark of it is synced
        future = None
        shared = any(job.output not in ("book", "page") for job in rendering.jobs)
        if shared:
            self.drain(block=True)  # the files before it finish first: their outputs are older than its own
        last = twin(rendering)
        if self.pool is not None and not shared and (not self.big_inline or _rows(outcome) <= BIG_ROWS):
            try:
                # The helper writes the JSON twin too, after the rest: off the main process's path.
                future = self.pool.submit(run_jobs, [*rendering.jobs, *([last] if last else [])])
            except BrokenProcessPool:  # the worker died: render here from now on
                log.warning("输出辅助进程已退出，改在主进程中写出结果")
                self.pool = None
        if future is None:
            run_jobs(rendering.jobs)
        self.in_hand.append(_InHand(record, outcome, rendering, future, started, twin_sent=future is not None))
        self.drain(block=False)

    def drain(self, block: bool = True) -> None:
        """Finish the files whose outputs are written; with `block`, all of them."""
        while self.in_hand and (block or len(self.in_hand) > self.depth or self._ready(self.in_hand[0])):
            record = self.in_hand[0].record
            self._guarded(record, self._finish_oldest)

    @staticmethod
    def _ready(item: _InHand) -> bool:
        return item.future is None or item.future.done()

    def _finish_oldest(self) -> None:
        item = self.in_hand.popleft()
        written = False  # the JSON twin, by the helper
        if item.future is not None:
            try:
                item.future.result()
                written = item.twin_sent
            except Exception as exc:  # the worker died or failed: write the outputs here instead
                if classify(exc) is not None or isinstance(exc, OSError):
                    # A full disk, or a folder that takes nothing, fails here just the same (and writing
                    # again what the worker wrote would set its own page aside): the outputs wait for it.
                    raise
                log.exception("辅助进程写出 %s 的结果失败，改在主进程中写出", item.outcome.file_name)
                run_jobs(item.rendering.jobs)
        if not written:
            finish(item.rendering)
        archive_claim(self.desk, item.record, item.outcome)
        self.logged.discard((item.outcome.who, item.outcome.sha256, item.outcome.result_stem))
        self._log(item.outcome, (time.monotonic() - item.started) * 1000)
        self.report.add(item.outcome)

    def _log(self, outcome: Outcome, ms: float) -> None:
        log.info(
            "%s\t%s\t%s\t%s\t%s\t%.0fms",
            outcome.who,
            outcome.file_name,
            outcome.sha256,
            outcome.action or "-",
            outcome.status,
            ms,
        )
        # One line a file for `watcher status`: what was done today and how it ended, by the desk's clock (the
        # one status reads "today" by: WATCHER_FAKE_NOW pins both).
        at = clock.now().astimezone(self.desk.zone)
        line = {
            "at": at.isoformat(timespec="seconds"),
            "agency": outcome.who,
            "file": outcome.file_name,
            "sha256": outcome.sha256,
            "action": outcome.action,
            "status": outcome.status,
            "ms": round(ms),
            "result": outcome.result_stem + ".xlsx",
        }
        folder = self.desk.layout.root / "logs"
        folder.mkdir(exist_ok=True)
        with open(folder / f"processed-{at:%Y-%m-%d}.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.flush()
        self.drain()
        if self.pool is not None:
            self.pool.shutdown()


def _rows(outcome: Outcome) -> int:
    return sum(len(sheet.rows) for sheet in outcome.book.sheets.values()) if outcome.book else 0


def ensure_folders(desk: Desk) -> None:
    """Every registered agency has its drop and outbox folders (one that could not be made when it was
    registered, on a full disk, is made now). Not while the drop or output root itself is missing: that is
    a share away (health.folders_gone), never made again empty here."""
    from .health import folders_gone

    if folders_gone(desk.layout) is not None:
        return
    for agency in desk.ledger.agencies():
        if not desk.layout.drop(agency.code).is_dir() or not desk.layout.out(agency.code).is_dir():
            try:
                desk.layout.create_agency(agency.code)
            except OSError as exc:
                log.warning("暂时无法建立机构 %s 的文件夹：%s", agency.code, os_words(exc))
