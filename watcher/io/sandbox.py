"""Parsing under limits it cannot exceed: a worker process with an address-space limit (RLIMIT_AS)
and a time limit per file.

calamine has no limit on decompressed size and aborts the whole process (no exception to catch)
when a sheet makes it allocate a huge grid; only a separate process with a memory limit contains
that. The worker is started once and reused; when it dies or overruns, it is replaced and the file
gets a 失败 result.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from .book import Book
from .reader import Limits, ReadError, limits_of, read_book

log = logging.getLogger("watcher")


def _worker(conn, memory_bytes: int, limits: Limits, parent: int) -> None:
    from .. import crash
    from ..service.lifeline import die_with_parent, ignore_stop_signals

    die_with_parent(parent)  # never outlive the service, even one killed with kill -9
    ignore_stop_signals()  # Ctrl-C or systemd's stop reach the whole group: the service finishes, then stops us
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort leaves no core dump behind
    conn.send(("ready",))  # a file's time limit starts now, not while the worker starts
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        path, fmt = job
        crash.point("parsing")
        try:
            conn.send(("ok", read_book(Path(path), fmt, limits)))
        except ReadError as exc:
            conn.send(("error", exc.code, exc.values))
        except MemoryError:
            conn.send(("error", "file.parse_limit", {"what": "内存"}))
        except RecursionError:
            conn.send(("error", "file.unreadable", {"detail": "结构嵌套过深"}))
        except Exception:  # noqa: BLE001 — a reader's own failure on a damaged file is no memory limit
            conn.send(("error", "file.unreadable", {"detail": "内容损坏"}))


START_SECONDS = 60  # a worker that has not started by then is stopped, as one that overran


@dataclass
class _Job:
    path: str
    fmt: str
    sent: float  # when it was sent (monotonic)
    wanted: bool = True  # False: taken back (the file went back); its answer is read and dropped
    retried: bool = False  # sent again after the worker died on it (killed from outside: read once more)


class Sandbox:
    """The parser worker. `submit` sends a file ahead (the worker parses it while the service checks and
    commits the one before); `read` returns its answer. The worker takes its jobs in order: a job's time
    limit runs from when the worker could start it (the answer before it received, or the job sent)."""

    def __init__(self, memory_mb: int, seconds: float, limits: Limits):
        self.memory = memory_mb * 1024 * 1024
        self.seconds = seconds
        self.limits = limits
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None
        self.replaced = 0
        self.queue: deque[_Job] = deque()  # sent, not yet answered, in the worker's order
        self.answers: dict[str, tuple] = {}  # answered, not yet asked for
        self.free_since = 0.0  # when the worker last answered (it starts the next job then)
        self.ready = False  # the worker has started and said so

    @classmethod
    def for_settings(cls, settings) -> Sandbox:
        """The sandbox the settings ask for (parse_memory_mb, parse_seconds, max_unzipped_mb, max_cells)."""
        return cls(settings.parse_memory_mb, settings.parse_seconds, limits_of(settings))

    def warm(self, *, fork: bool = False) -> None:
        """Start the worker now, so its start-up overlaps whatever the caller does before the first file.
        `fork`: a copy of this process, ready at once, for a caller that holds nothing yet (no lock, no
        ledger, no thread); a worker started later (a replacement) is always a new interpreter."""
        if self.process is None or not self.process.is_alive():
            self._start(fork=fork and threading.active_count() == 1)

    def _start(self, fork: bool = False) -> None:
        # spawn, a new interpreter: nothing of the service (its lock, its ledger, its threads) is inherited
        context = multiprocessing.get_context("fork") if fork else multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self.process = process = context.Process(
            target=_worker, args=(theirs, self.memory, self.limits, os.getpid()), daemon=True, name="watcher-parser"
        )
        process.start()
        theirs.close()
        self.conn = ours
        self.free_since, self.ready = time.monotonic(), False

    def _replace(self, again: _Job | None = None) -> None:
        """The worker is stopped (it died or overran on the job at the head of the queue): a new one takes
        the jobs queued behind that one, after `again` (the job it died on, read once more)."""
        self.replaced += 1
        if self.process is not None and self.process.is_alive():
            self.process.kill()
        if self.process is not None:
            self.process.join(5)
        self.process = self.conn = None
        behind = ([again] if again is not None else []) + list(self.queue)
        self.queue.clear()
        for job in behind:
            if job.wanted:
                self._send(job.path, job.fmt, retried=job.retried or job is again)

    def _alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def _send(self, path: str, fmt: str, retried: bool = False) -> None:
        # A worker that died since its last answer: its answers still in the pipe go to their jobs, the job
        # it died on fails, and the jobs behind that one go to its replacement (never a shifted answer).
        while self.queue and not self._alive():
            self._answer_one()
        if not self._alive():
            self._start()
        conn = self.conn
        assert conn is not None  # started above
        if not self.queue:
            self.free_since = time.monotonic()
        self.queue.append(_Job(path, fmt, time.monotonic(), retried=retried))
        try:
            conn.send((path, fmt))
        except OSError:  # the worker is gone: found when its answer is awaited
            pass

    def submit(self, path: Path, fmt: str) -> None:
        """Send a file to be parsed ahead; `read` of the same path takes its answer."""
        key = str(path)
        if key not in self.answers and not any(job.path == key and job.wanted for job in self.queue):
            self._send(key, fmt)

    def cancel(self, path: Path) -> None:
        """A file sent ahead and then not read (it went back, or was a duplicate): its answer is dropped."""
        key = str(path)
        self.answers.pop(key, None)
        for job in self.queue:
            if job.path == key:
                job.wanted = False

    def read(self, path: Path, fmt: str) -> Book:
        """Read in the worker; raise ReadError for every way it can fail, the limits included."""
        key = str(path)
        if key not in self.answers:
            self.submit(path, fmt)
        while key not in self.answers:
            self._answer_one()
        answer = self.answers.pop(key)
        if answer[0] == "ok":
            return answer[1]
        raise ReadError(answer[1], **answer[2])

    def _answer_one(self) -> None:
        """Wait for the answer to the job at the head of the queue (the worker's current one)."""
        job = self.queue[0]
        conn = self.conn
        name = Path(job.path).name
        try:
            if conn is None:
                raise EOFError
            while True:
                if self.ready:
                    deadline = max(job.sent, self.free_since) + self.seconds
                else:  # a worker starting: its start-up is not the file's time
                    deadline = self.free_since + max(self.seconds, START_SECONDS)
                if not conn.poll(max(0.0, deadline - time.monotonic())):
                    log.warning("解析 %s 超过 %g 秒，已停止解析", name, self.seconds)
                    self.queue.popleft()
                    self._replace()
                    self._answered(job, ("error", "file.parse_limit", {"what": f"时间（{self.seconds:g} 秒）"}))
                    return
                answer = conn.recv()
                if answer[0] != "ready":
                    break
                self.ready, self.free_since = True, time.monotonic()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            if self.process is not None:
                self.process.join(2)  # its pipe closed: it is gone, its exit status a moment away
            code = self.process.exitcode if self.process else None
            self.queue.popleft()
            if job.wanted and not job.retried and code == -signal.SIGKILL:
                # Killed from outside (the kernel's OOM killer, an operator), not by the file (past its memory
                # limit the worker aborts): a new worker reads it once more, so an innocent file is not
                # failed for another's fault.
                log.warning("解析 %s 时解析进程退出（退出码 %s），已换新的解析进程再读一次", name, code)
                self._replace(again=job)
                return
            log.warning("解析 %s 时解析进程退出（退出码 %s），已换新的解析进程", name, code)
            self._replace()
            if code == -signal.SIGKILL:  # killed from outside twice: the machine, not the file
                self._answered(job, ("error", "file.parse_killed", {}))
            else:
                self._answered(job, ("error", "file.parse_limit", {"what": f"内存（{self.memory // 2**20} MB）"}))
            return
        self.queue.popleft()
        self.free_since = time.monotonic()
        self._answered(job, answer)

    def _answered(self, job: _Job, answer: tuple) -> None:
        if job.wanted:
            self.answers[job.path] = answer

    def close(self) -> None:
        if self.process is not None and self.process.is_alive():
            # The parser holds nothing worth a goodbye (no file, no ledger): stopped at once, not waited
            # for to finish starting up or shutting its interpreter down (0.1 s off every `process` run).
            self.process.kill()
            self.process.join(2)
        self.process = self.conn = None
        self.queue.clear()
        self.answers.clear()
