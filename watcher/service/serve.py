"""`watcher serve`: watch the drop folders until stopped.

Change notification (watchdog) says where to look; a rescan on a timer finds what notification
missed (network shares see no inotify events; a polling observer can die after a share outage).
Files are taken once stable, walked one at a time, and finished in order. SIGTERM or SIGINT: the
file in hand is finished, then the service exits 0.
"""

from __future__ import annotations

import logging
import os
import queue
import stat
import threading
import time
from pathlib import Path
from typing import Any

import schedule
from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileMovedEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from ..domain.problems import problem
from ..faults import CLEARED, DeskFault, classify, describe
from ..layout import ADMIN, CLAIMED
from ..walk.desk import Desk
from ..walk.names import display_name
from . import scan
from .health import folders_gone, health, say_going_on
from .intake import ADOPT_GRACE_RESCANS, adopt, ensure_folders, gather, registered, sandboxed, start, tell_admin
from .pipeline import Pipeline, RunReport
from .schedule import run_due

log = logging.getLogger("watcher")

TICK = 0.1  # seconds between looks at the files being tracked

# What can mean a file arrived or finished arriving. Opens and reads (every worker's own checks and
# parses) and each written chunk are left out of the inotify mask: the tracker stats what it tracks
# every tick anyway, and with several workers each of them would otherwise hear every other one's reads.
# One recursive watch (one emitter thread), not one per drop folder: a desk may have thousands.
ARRIVALS = [FileCreatedEvent, FileMovedEvent, FileClosedEvent, DirCreatedEvent, DirMovedEvent]


class _Events(FileSystemEventHandler):
    """Hands every path an event names to the service loop; the loop decides what it means."""

    def __init__(self, paths: queue.Queue[tuple[str, bool]]):
        self.paths = paths

    def on_any_event(self, event) -> None:
        # (path, whole): a file closed after writing, or renamed in, is whole as far as its writer knows.
        self.paths.put((event.src_path, isinstance(event, FileClosedEvent)))
        if getattr(event, "dest_path", None):
            self.paths.put((event.dest_path, True))


# Put by a render that ends, so the loop finishes its file at once; names no path under the drop folders.
WAKE = ("", False)
CATCH_UP_SECONDS = 1.0  # after observers are restarted: their watches are set by then


class Service:
    def __init__(self, desk: Desk, *, stop: threading.Event | None = None):
        self.desk = desk
        self.settings = desk.settings
        self.stop = stop or threading.Event()
        self.paths: queue.Queue[tuple[str, bool]] = queue.Queue()
        self.tracker = scan.Tracker(
            self.settings.settle_seconds,
            self.settings.stall_seconds,
            self.settings.text_settle_seconds,
            self.settings.writer_wait_seconds,
        )
        self.observers: list = []
        self.observers_retry_at = 0.0
        self.report = RunReport(keep=False)
        self.pipeline: Pipeline | None = None
        self.waking: Any = None  # the render whose end wakes the loop (a Future)
        self.restarts = 0
        # A scan soon after the observers were restarted: what arrived while no watch was set (the old one
        # dead, the new one not yet listening) is found then, not at the next rescan (rescan_seconds).
        self.catch_up_at: float | None = None
        # `schedule` gives the tick; what is due is decided from the ledger's runs and the desk clock
        # (so a run missed while the service was down is caught up, whatever the process's TZ says).
        self.scheduler = schedule.Scheduler()
        every: Any = self.scheduler.every  # it takes any number of seconds; its annotation says int
        every(self.settings.schedule_check_seconds).seconds.do(self._month_end)

    # --- observers ---------------------------------------------------------------------------

    def _new_observers(self) -> list:
        classes: dict[str, list[Any]] = {
            "events": [Observer],
            "polling": [PollingObserver],
            "both": [Observer, PollingObserver],
        }
        made = []
        for observer_class in classes[self.settings.watch]:
            observer = observer_class(timeout=1) if observer_class is PollingObserver else observer_class()
            observer.schedule(
                _Events(self.paths), str(self.desk.layout.workbooks), recursive=True, event_filter=ARRIVALS
            )
            observer.daemon = True
            observer.start()
            made.append(observer)
        return made

    def _check_observers(self) -> None:
        """An observer thread that died (a share outage can kill the polling one silently) is restarted."""
        if self.observers and all(o.is_alive() for o in self.observers):
            return
        if not self.observers and time.monotonic() < self.observers_retry_at:
            return
        self.restarts += 1
        log.warning("文件监视线程已停止，正在重启（第 %d 次）；停止期间放入的文件随后由一次扫描找到", self.restarts)
        for observer in self.observers:
            try:
                observer.stop()
            except Exception:  # a dead observer may fail to stop; it is replaced either way
                pass
        try:
            self.observers = self._new_observers()
            self.catch_up_at = time.monotonic() + CATCH_UP_SECONDS
        except OSError as exc:  # the share is still away: keep rescanning, try again next tick
            log.warning("文件监视暂时无法重启（%s），稍后重试", exc)
            self.observers = []
            self.observers_retry_at = time.monotonic() + self.settings.rescan_seconds

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> RunReport:
        pipeline = self.pipeline = Pipeline(
            self.desk, self.report, workers=(os.cpu_count() or 1) > 1, stop=self.stop, big_inline=False
        )
        sandbox = sandboxed(self.desk)
        try:
            self._start(pipeline)
            self._month_end()  # catch up on a month-end missed while the service was down
            self.observers = self._new_observers()
            gather(self.desk, self.tracker, None, backdate=True, patient=True)
            next_rescan = time.monotonic() + self.settings.rescan_seconds
            log.info(
                "watcher serve: 正在监视 %s（%s，每 %g 秒扫描一次）",
                self.desk.layout.workbooks,
                self.settings.watch,
                self.settings.rescan_seconds,
            )
            while not self.stop.is_set():
                try:
                    now = time.monotonic()
                    if now >= next_rescan or (self.catch_up_at is not None and now >= self.catch_up_at):
                        next_rescan, self.catch_up_at = now + self.settings.rescan_seconds, None
                        self._rescan(pipeline)
                    self._round(pipeline)
                    self.scheduler.run_pending()
                except Exception as exc:  # the desk goes on: a folder that vanished, a share that blinked …
                    fault = classify(exc)
                    if fault is not None:
                        pipeline.halt(DeskFault(fault, exc))
                    else:
                        log.exception("服务循环中发生意外错误，继续运行")
                    self.stop.wait(1)
        finally:
            for observer in self.observers:
                observer.stop()
            pipeline.close()
            sandbox.close()
        log.info("watcher serve: 已停止")
        return self.report

    def _start(self, pipeline: Pipeline) -> None:
        """Finish what a stop left in hand; on a full disk or a locked ledger, log and wait, never exit."""
        while not self.stop.is_set():
            try:
                start(self.desk, pipeline)
                return
            except Exception as exc:
                fault = classify(exc)
                if fault is None:
                    raise
                log.error("启动时：%s（%g 秒后重试）", DeskFault(fault, exc).line(), self.settings.rescan_seconds)
                self.stop.wait(self.settings.rescan_seconds)

    def _rescan(self, pipeline: Pipeline) -> None:
        """Every rescan: while the intake is stopped, look at the desk again (an alarm in the log each
        time); then every folder, files a dead worker left, outputs still to be written."""
        if pipeline.halted is not None:
            fault = health(self.desk, pipeline.halted)
            if fault is not None:
                changed = fault.line() != pipeline.halted.line()
                pipeline.halted = fault
                if changed:
                    pipeline.say_halted()  # status says what stops it now
                log.error("%s", fault.line())
                return
            log.warning("%s，继续受理", CLEARED[pipeline.halted.reason])
            pipeline.halted = None
            say_going_on(self.desk.layout.root, self.desk.worker)
        fault = self._ledger_went_back() or folders_gone(self.desk.layout)
        if fault is not None:
            pipeline.halt(fault)
            return
        gather(self.desk, self.tracker, None, backdate=False, patient=True)
        for who in scan.folders(self.desk.layout):  # several workers: one may have died
            for claimed in adopt(self.desk, who, grace=ADOPT_GRACE_RESCANS * self.settings.rescan_seconds):
                pipeline.resume(claimed, who)
        pipeline.retry_pending()
        ensure_folders(self.desk)

    def _ledger_went_back(self) -> DeskFault | None:
        """At each rescan: a `watcher recover` started on this root (it replays beside this worker, which
        must not take files meanwhile, nor go on after it on what it holds in memory), or a ledger that lacks
        the event log's latest business with its numbers level (a dump restored under the workers, a backup
        restored into the open file after a 撤单): either holds until the service is started again, as a
        ledger replaced under it does. Before, the worker went on, refused a 撤单 of a printed policy as
        unknown, and issued its group a second number."""
        from .recovering import UNDER_WAY, under_way, unheld

        ledger = self.desk.ledger
        try:
            if under_way(self.desk.layout.root):
                ledger._swapped(UNDER_WAY)
            missing = unheld(self.desk.layout.archive, ledger, self.desk.zone)
            if missing:
                ledger._swapped(
                    f"账本缺少事件记录中最近已办理的业务：{'、'.join(missing[:3])}{' 等' if len(missing) > 3 else ''}"
                    "（账本可能被恢复成了较早的备份）"
                )
        except DeskFault as fault:
            return fault
        except Exception as exc:  # the ledger away or locked: met, and said, by the walk of the next file
            if classify(exc) is None:
                raise
        return None

    def _month_end(self) -> None:
        """Run whatever month-end is due; a failure is logged and retried at the next tick."""
        if self.pipeline is not None and self.pipeline.halted is not None:
            return  # not while the desk is at fault
        try:
            run_due(self.desk.ledger, self.desk.layout, self.settings, self.desk.now())
        except OSError as exc:  # a folder that takes nothing (outbox/_admin): one line, not a traceback
            log.error("月结运行失败（%s），稍后重试", describe(exc))
        except Exception as exc:
            fault = classify(exc)
            if fault is None:
                log.exception("月结运行失败，稍后重试")
            else:  # a full disk met inside a writer (xlsxwriter's FileCreateError around ENOSPC), the ledger …
                log.error("月结运行失败：%s。已记入账本的对账单在重试时写出，稍后重试", DeskFault(fault, exc).short())

    def _round(self, pipeline: Pipeline) -> None:
        """One turn: what events said, what is ready, what is finished, whether the watchers live."""
        self._drain_events()
        self.tracker.refresh()
        for item in self.tracker.ready():
            if self.stop.is_set():
                break
            self.tracker.forget(item.path)
            if item.path.exists():
                pipeline.take(item.path, item.who)
        pipeline.flush()
        pipeline.drain(block=False)
        self._check_observers()
        self._wait(pipeline)

    def _wait(self, pipeline: Pipeline) -> None:
        """Sleep one tick, or less: until an event arrives or the oldest file's outputs are written. (Waiting
        on those outputs alone held a file dropped meanwhile up to a tick behind a big roster's result.)"""
        if self.tracker.ready():
            return
        oldest = pipeline.in_hand[0].future if pipeline.in_hand else None
        if oldest is not None and oldest is not self.waking:
            self.waking = oldest
            oldest.add_done_callback(lambda _done: self.paths.put(WAKE))
        try:
            self.paths.put(self.paths.get(timeout=TICK))
        except queue.Empty:
            pass

    def _drain_events(self) -> None:
        workbooks = self.desk.layout.workbooks
        rescan_folders = False
        while True:
            try:
                raw, whole = self.paths.get_nowait()
            except queue.Empty:
                break
            path = Path(raw)
            try:
                relative = path.relative_to(workbooks)
            except ValueError:
                continue
            parts = relative.parts
            if len(parts) == 1:
                rescan_folders = True  # a new (or renamed) agency folder
            elif len(parts) == 2 and parts[1] != CLAIMED and not scan.ignored(parts[1]):
                self._observe(parts[0], path, whole)
        if rescan_folders:
            gather(self.desk, self.tracker, None, backdate=False, patient=True)

    def _observe(self, who: str, path: Path, whole: bool = False) -> None:
        try:
            st = path.stat(follow_symlinks=False)
        except FileNotFoundError:
            self.tracker.forget(path)
            return
        if not stat.S_ISREG(st.st_mode):
            if not stat.S_ISDIR(st.st_mode):
                what = "符号链接" if stat.S_ISLNK(st.st_mode) else "特殊文件"
                name = display_name(path.name)
                tell_admin(self.desk, who, name, problem("folder.not_regular", file=name, what=what, folder=who))
            return
        if who != ADMIN and path not in self.tracker.seen and not registered(self.desk, who):
            return  # the rescan tells staff about it, once
        item = scan.Arrival(who, path, st.st_size, st.st_mtime, st.st_ctime)
        if whole:
            self.tracker.close_seen(item)
        else:
            self.tracker.observe(item)
