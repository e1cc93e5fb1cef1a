"""`watcher process`: take every stable file waiting now, walk it, and exit.

Files are walked one at a time in this process (the ledger has one writer). The outputs of small
requests are written by a long-lived render worker on the other core while the next file is walked;
large ones inline. A file is archived only once all its outputs are written.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import sys
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..domain.problems import problem
from ..layout import ADMIN
from ..walk import Desk, archive_claimed, take, walk_claimed
from ..walk.outcome import Outcome
from ..walk.render import finish, plan, render, run_job
from . import scan

log = logging.getLogger("watcher")


@dataclass
class RunReport:
    done: list[Outcome] = field(default_factory=list)
    refused_folders: list[tuple[str, str]] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.done if o.status == status)


@dataclass
class _InHand:
    claimed: Path
    outcome: Outcome
    rendering: object
    writer: object  # _Pooled, or None when written inline
    started: float


def run_jobs(jobs: list) -> None:
    for job in jobs:
        run_job(job)


class _Pooled:
    """A small outcome, pickled to the long-lived render worker (cheaper than a fork per file)."""

    def __init__(self, pool: ProcessPoolExecutor, jobs: list):
        self.future = pool.submit(run_jobs, jobs)

    def done(self) -> bool:
        return self.future.done()

    def ok(self) -> bool:
        try:
            self.future.result()
            return True
        except Exception:
            log.exception("the render worker failed")
            return False


# Above this many rows, pickling the outcome to the worker costs more than it saves (measured: a
# 10,000-person request renders faster inline; so does a fork, whose copy-on-write faults cost more).
BIG_ROWS = 2000


class Pipeline:
    """Walk here; render small outcomes on the other core; archive in order of arrival."""

    def __init__(self, desk: Desk, report: RunReport, parallel: bool, depth: int = 4):
        self.desk, self.report, self.parallel, self.depth = desk, report, parallel, depth
        self.pool: ProcessPoolExecutor | None = None
        self.in_hand: deque[_InHand] = deque()

    def take(self, item: scan.Waiting) -> None:
        started = time.monotonic()
        claimed, outcome = take(self.desk, item.path, item.who)
        self._render(claimed, outcome, started)

    def resume(self, claimed: Path, who: str) -> None:
        """A file claimed by an earlier run that did not finish it."""
        started = time.monotonic()
        self._render(claimed, walk_claimed(self.desk, claimed, who), started)

    def _render(self, claimed: Path, outcome: Outcome, started: float) -> None:
        out_dir = self.desk.layout.out(outcome.who)
        out_dir.mkdir(parents=True, exist_ok=True)
        rendering = plan(outcome, out_dir, self.desk)
        writer = None
        if not self.parallel or _rows(outcome) > BIG_ROWS:
            run_jobs(rendering.jobs)
        else:
            if self.pool is None:
                self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            writer = _Pooled(self.pool, rendering.jobs)
        self.in_hand.append(_InHand(claimed, outcome, rendering, writer, started))
        while self.in_hand and (len(self.in_hand) > self.depth or self._ready(self.in_hand[0])):
            self._finish_oldest()

    @staticmethod
    def _ready(item: _InHand) -> bool:
        return item.writer is None or item.writer.done()

    def _finish_oldest(self) -> None:
        item = self.in_hand.popleft()
        if item.writer is not None and not item.writer.ok():
            log.error("rendering the outputs of %s elsewhere failed; writing them here", item.outcome.file_name)
            run_jobs(item.rendering.jobs)
        finish(item.rendering)
        archive_claimed(self.desk, item.claimed, item.outcome)
        outcome = item.outcome
        ms = (time.monotonic() - item.started) * 1000
        log.info("%s\t%s\t%s\t%s\t%s\t%.0fms", outcome.who, outcome.file_name, outcome.sha256,
                 outcome.action or "-", outcome.status, ms)
        self.report.done.append(outcome)

    def close(self) -> None:
        while self.in_hand:
            self._finish_oldest()
        if self.pool is not None:
            self.pool.shutdown()


def _rows(outcome: Outcome) -> int:
    return sum(len(sheet.rows) for sheet in outcome.book.sheets.values()) if outcome.book else 0


def process_all(desk: Desk, parallel: bool | None = None) -> RunReport:
    report = RunReport()
    layout, settings = desk.layout, desk.settings
    pipeline = Pipeline(desk, report, (os.cpu_count() or 1) > 1 if parallel is None else parallel)
    try:
        for who in scan.folders(layout):
            for claimed in scan.claimed_in(layout, who):  # left in hand by a run that was stopped
                pipeline.resume(claimed, who)
        recent: list[scan.Waiting] = []
        for who in scan.folders(layout):
            items = scan.waiting_in(layout, who)
            if not items:
                continue
            if who != ADMIN and not _active(desk, who):
                for item in items:
                    _tell_admin(desk, item)
                    report.refused_folders.append((who, item.path.name))
                continue
            for item in items:
                if scan.settled(item, settings.settle_seconds):
                    pipeline.take(item)
                else:
                    recent.append(item)
        for item in recent:  # written moments ago: wait for each to hold still, then take it
            stable = scan.wait_until_stable(item, settings.settle_seconds, settings.stall_seconds)
            if stable is not None:
                pipeline.take(stable)
    finally:
        pipeline.close()
    return report


def _active(desk: Desk, who: str) -> bool:
    agency = desk.ledger.agency(who)
    return agency is not None and agency.active


def _tell_admin(desk: Desk, item: scan.Waiting) -> None:
    """A file in a folder that is not an active agency: left where it is, staff told once in outbox/_admin."""
    sha = hashlib.sha256(item.path.read_bytes()).hexdigest()
    stem = f"未受理_{item.who}_{Path(item.path.name).stem}_{sha[:8]}"
    out = desk.layout.out(ADMIN)
    if (out / f"{stem}.json").exists():
        return
    outcome = Outcome(ADMIN, f"{item.who}/{item.path.name}", sha, desk.now(), action="未受理")
    outcome.problems = [problem("folder.unknown", folder=item.who, file=item.path.name)]
    outcome.result_stem = stem
    render(outcome, out, desk)


def configure_logging(root: Path) -> None:
    logger = logging.getLogger("watcher")
    if logger.handlers:
        return
    logger.setLevel(logging.INFO)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s\t%(message)s", "%Y-%m-%d %H:%M:%S"))
    logger.addHandler(handler)
