"""`watcher process`: take every stable file waiting now, walk it, and exit."""

from __future__ import annotations

import logging
import os
import sys
import time

from ..faults import classify, describe
from ..walk.desk import Desk
from ..walk.names import display_name
from . import scan
from .intake import gather, sandboxed, start
from .pipeline import Pipeline, RunReport

log = logging.getLogger("watcher")

WORKER_FROM = 8  # files waiting: below this, starting the render processes costs more than it saves


def process_all(desk: Desk, workers: bool | None = None, progress: bool = False, stop=None) -> RunReport:
    report = RunReport()
    settings = desk.settings
    sandbox = sandboxed(desk)
    tracker = scan.Tracker(
        settings.settle_seconds, settings.stall_seconds, settings.text_settle_seconds, settings.writer_wait_seconds
    )
    gather(desk, tracker, report, backdate=True)
    if workers is None:
        workers = (os.cpu_count() or 1) > 1 and len(tracker) >= WORKER_FROM
    pipeline = Pipeline(desk, report, workers=workers, stop=stop)
    bar = Progress(len(tracker)) if progress and len(tracker) else None
    try:
        start(desk, pipeline)
        loaded = False
        while len(tracker) and not (stop and stop.is_set()) and pipeline.halted is None:
            ready = tracker.ready()
            for item in ready:
                if stop and stop.is_set():
                    break
                tracker.forget(item.path)
                if item.path.exists():
                    pipeline.take(item.path, item.who)
                    if not loaded:  # the sandbox reads the first file taken while the walk loads here
                        _load_walk(desk, workers)
                        loaded = True
                if bar:
                    bar.step(display_name(item.path.name))
            pipeline.flush()
            if not ready:  # written moments ago: wait for them to hold still
                time.sleep(0.1)
                tracker.refresh()
        pipeline.drain()
        pipeline.retry_pending()  # once more before giving up: whatever is left is finished at the next run
        if pipeline.halted is None:
            write_month_files(desk)
    finally:
        pipeline.close()
        sandbox.close()
        if bar:
            bar.close()
    report.halted, report.pending = pipeline.halted, sorted(pipeline.pending.items())
    report.held = sorted(pipeline.held.items())
    return report


def _load_walk(desk: Desk, workers: bool) -> None:
    """While the sandbox reads the first file taken, load the walk's stages (walk/flow.py and what it uses:
    the kinds, the checks, the commit) and, when this process writes the outputs itself, their writers."""
    from ..walk import flow  # noqa: F401 — loaded now, used by the pipeline
    from ..walk.render import load_writers

    if not workers:
        try:
            load_writers(desk.layout.root)
        except Exception:  # noqa: BLE001 — only a head start: the page's own render meets it and says so
            log.debug("输出模板未能预先载入", exc_info=True)


class Progress:
    """A progress bar on the terminal (stderr) over the files waiting."""

    def __init__(self, total: int):
        self.total, self.done = total, 0

    def step(self, name: str) -> None:
        self.done += 1
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        shown = "".join(ch if ch.isprintable() else "?" for ch in name[:40])
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {shown:<40}")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def write_month_files(desk: Desk) -> None:
    """The month-end files an agency's folder refused, written now where it takes them, as serve does at each
    tick: after a `process` that wrote a 对账确认's statements there, status still said they were missing."""
    ledger = desk.ledger
    if not any(run.finished_at is not None and run.summary.get("unwritten") for run in ledger.runs()):
        return
    from .month_end import LOCK, write_unwritten

    if not ledger.try_lock(LOCK):
        return  # a month-end running on another worker writes them itself
    try:
        write_unwritten(ledger, desk.layout, desk.settings, desk.now())
    except Exception as exc:  # (a folder that still takes nothing is kept in the run's summary)
        if classify(exc) is None and not isinstance(exc, OSError):
            raise
        log.warning("月结文件暂时无法补写：%s", describe(exc))
    finally:
        ledger.unlock(LOCK)
