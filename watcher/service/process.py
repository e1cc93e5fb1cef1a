"""`watcher process`: take every stable file waiting now, walk it, and exit."""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..domain.problems import problem
from ..layout import ADMIN, Layout
from ..walk import Desk, finish_claimed, process_file
from ..walk.outcome import Outcome
from ..walk.render import render
from . import scan

log = logging.getLogger("watcher")


@dataclass
class RunReport:
    done: list[Outcome] = field(default_factory=list)
    refused_folders: list[tuple[str, str]] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.done if o.status == status)


def process_all(desk: Desk) -> RunReport:
    report = RunReport()
    layout, settings = desk.layout, desk.settings
    for who in scan.folders(layout):
        for claimed in scan.claimed_in(layout, who):  # left in hand by a run that was stopped
            report.done.append(_logged(desk, who, claimed.name, lambda: finish_claimed(desk, claimed, who)))
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
                report.done.append(_take(desk, item))
            else:
                recent.append(item)
    for item in recent:  # written moments ago: wait for each to hold still, then take it
        stable = scan.wait_until_stable(item, settings.settle_seconds, settings.stall_seconds)
        if stable is not None:
            report.done.append(_take(desk, stable))
    return report


def _active(desk: Desk, who: str) -> bool:
    agency = desk.ledger.agency(who)
    return agency is not None and agency.active


def _take(desk: Desk, item: scan.Waiting) -> Outcome:
    return _logged(desk, item.who, item.path.name, lambda: process_file(desk, item.path, item.who))


def _logged(desk: Desk, who: str, name: str, work) -> Outcome:
    started = time.monotonic()
    outcome = work()
    ms = (time.monotonic() - started) * 1000
    log.info("%s\t%s\t%s\t%s\t%s\t%.0fms", who, name, outcome.sha256, outcome.action or "-", outcome.status, ms)
    return outcome


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
