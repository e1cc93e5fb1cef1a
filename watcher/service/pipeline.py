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
import signal
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..walk import Desk, archive_claim, claim_file, reclaim, walk
from ..walk.claim import Claim
from ..walk.outcome import Outcome
from ..walk.render import Plan, finish, plan, run_job

log = logging.getLogger("watcher")

# Above this many rows, pickling the outcome to the worker costs more than rendering it here (measured
# with a 10,000-person request; a fork per file was slower still: copy-on-write faults).
BIG_ROWS = 2000
# Render processes: one cannot keep up with the walk of small requests (measured: 200 requests of 30
# people went from 125 to 138 a second with two).
RENDERERS = 2


@dataclass
class RunReport:
    done: list[Outcome] = field(default_factory=list)
    refused_folders: list[tuple[str, str]] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.done if o.status == status)


@dataclass
class _InHand:
    record: Claim
    outcome: Outcome
    rendering: Plan
    future: Future | None  # None when rendered inline
    started: float


def _ignore_interrupt() -> None:
    """Ctrl-C reaches every process of the terminal's group; the service finishes and stops its helpers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_jobs(jobs: list) -> None:
    for job in jobs:
        run_job(job)


class Pipeline:
    def __init__(self, desk: Desk, report: RunReport, *, workers: bool, depth: int = 4):
        self.desk, self.report, self.depth = desk, report, depth
        self.pool: ProcessPoolExecutor | None = None
        if workers:
            # spawn, not fork: a forked worker would inherit the root lock and hold it after a kill -9.
            self.pool = ProcessPoolExecutor(RENDERERS, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_ignore_interrupt)
            for _ in range(RENDERERS):  # start them now, not when the first file is waiting for one
                self.pool.submit(run_jobs, [])
        self.in_hand: deque[_InHand] = deque()

    def take(self, path: Path, who: str) -> None:
        started = time.monotonic()
        try:
            record = claim_file(self.desk, path, who)
        except OSError as exc:  # gone, or the share refused the rename: left where it is, tried next scan
            log.warning("could not claim %s/%s: %s", who, path.name, exc.strerror or exc)
            return
        self._guarded(record, lambda: self._render(record, walk(self.desk, record), started))

    def resume(self, claimed: Path, who: str) -> None:
        """A file claimed by an earlier run that did not finish it."""
        started = time.monotonic()
        record = reclaim(self.desk, claimed, who)
        self._guarded(record, lambda: self._render(record, walk(self.desk, record), started))

    def _guarded(self, record: Claim, work) -> None:
        """The walk traps errors of the file itself; this catches the outputs that cannot be written
        (a full disk, an outbox without permission). The file stays in hand, finished at the next start."""
        try:
            work()
        except Exception:
            log.exception("%s/%s: its outputs could not be written; it stays in hand and is finished at the next"
                          " start", record.who, record.original)
            self.in_hand = deque(item for item in self.in_hand if item.record is not record)
            self.desk.reserved.discard((record.who, record.stem))

    def _render(self, record: Claim, outcome: Outcome, started: float) -> None:
        out_dir = self.desk.layout.out(outcome.who)
        out_dir.mkdir(parents=True, exist_ok=True)
        rendering = plan(outcome, out_dir, self.desk)
        future = None
        shared = any(job.kind not in ("book", "page") for job in rendering.jobs)
        if shared:
            self.drain(block=True)  # the files before it finish first: their outputs are older than its own
        if self.pool is not None and not shared and _rows(outcome) <= BIG_ROWS:
            try:
                future = self.pool.submit(run_jobs, rendering.jobs)
            except BrokenProcessPool:  # the worker died: render here from now on
                log.warning("the render processes are gone; rendering in the main process")
                self.pool = None
        if future is None:
            run_jobs(rendering.jobs)
        self.in_hand.append(_InHand(record, outcome, rendering, future, started))
        self.drain(block=False)

    def drain(self, block: bool = True) -> None:
        """Finish the files whose outputs are written; with `block`, all of them."""
        while self.in_hand and (block or len(self.in_hand) > self.depth or self._ready(self.in_hand[0])):
            record = self.in_hand[0].record
            self._guarded(record, self._finish_oldest)

    def wait(self, timeout: float) -> None:
        """Wait up to `timeout` for the oldest file's outputs, then finish what is done."""
        if self.in_hand and self.in_hand[0].future is not None:
            futures_wait([self.in_hand[0].future], timeout)
        self.drain(block=False)

    @staticmethod
    def _ready(item: _InHand) -> bool:
        return item.future is None or item.future.done()

    def _finish_oldest(self) -> None:
        item = self.in_hand.popleft()
        if item.future is not None:
            try:
                item.future.result()
            except Exception:  # the worker died or failed: write the outputs here instead
                log.exception("rendering %s in the worker failed; writing it here", item.outcome.file_name)
                run_jobs(item.rendering.jobs)
        finish(item.rendering)
        archive_claim(self.desk, item.record, item.outcome)
        self._log(item.outcome, (time.monotonic() - item.started) * 1000)
        self.report.done.append(item.outcome)

    def _log(self, outcome: Outcome, ms: float) -> None:
        log.info("%s\t%s\t%s\t%s\t%s\t%.0fms", outcome.who, outcome.file_name, outcome.sha256,
                 outcome.action or "-", outcome.status, ms)
        # One line a file for `watcher status`: what was done today and how it ended.
        line = {"at": datetime.now(self.desk.zone).isoformat(timespec="seconds"), "agency": outcome.who,
                "file": outcome.file_name, "sha256": outcome.sha256, "action": outcome.action,
                "status": outcome.status, "ms": round(ms), "result": outcome.result_stem + ".xlsx"}
        folder = self.desk.layout.root / "logs"
        folder.mkdir(exist_ok=True)
        with open(folder / f"processed-{datetime.now(self.desk.zone):%Y-%m-%d}.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.drain()
        if self.pool is not None:
            self.pool.shutdown()


def _rows(outcome: Outcome) -> int:
    return sum(len(sheet.rows) for sheet in outcome.book.sheets.values()) if outcome.book else 0
