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
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from .book import Book
from .reader import Limits, ReadError, read_book

log = logging.getLogger("watcher")


def _worker(conn, memory_bytes: int, limits: Limits, parent: int) -> None:
    from ..service.lifeline import die_with_parent

    die_with_parent(parent)  # never outlive the service, even one killed with kill -9
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the service stops us
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort leaves no core dump behind
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        path, fmt = job
        try:
            conn.send(("ok", read_book(Path(path), fmt, limits)))
        except ReadError as exc:
            conn.send(("error", exc.code, exc.values))
        except MemoryError:
            conn.send(("error", "file.parse_limit", {"what": "内存"}))
        except RecursionError:
            conn.send(("error", "file.unreadable", {"detail": "结构嵌套过深"}))


class Sandbox:
    def __init__(self, memory_mb: int, seconds: float, limits: Limits):
        self.memory = memory_mb * 1024 * 1024
        self.seconds = seconds
        self.limits = limits
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None
        self.replaced = 0

    def warm(self) -> None:
        """Start the worker now, so its start-up overlaps whatever the caller does before the first file."""
        if self.process is None or not self.process.is_alive():
            self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")  # nothing of the service (its lock, its ledger) inherited
        ours, theirs = context.Pipe()
        self.process = process = context.Process(
            target=_worker, args=(theirs, self.memory, self.limits, os.getpid()), daemon=True, name="watcher-parser"
        )
        process.start()
        theirs.close()
        self.conn = ours

    def _replace(self) -> None:
        self.replaced += 1
        if self.process is not None and self.process.is_alive():
            self.process.kill()
        if self.process is not None:
            self.process.join(5)
        self.process = self.conn = None

    def read(self, path: Path, fmt: str) -> Book:
        """Read in the worker; raise ReadError for every way it can fail, the limits included."""
        if self.process is None or not self.process.is_alive():
            self._start()
        conn = self.conn
        assert conn is not None  # started above
        try:
            conn.send((str(path), fmt))
            if not conn.poll(self.seconds):
                log.warning("parsing %s took longer than %g s: the parser was stopped", path.name, self.seconds)
                self._replace()
                raise ReadError("file.parse_limit", what=f"时间（{self.seconds:g} 秒）")
            answer = conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            code = self.process.exitcode if self.process else None
            log.warning("the parser died on %s (exit %s): replaced", path.name, code)
            self._replace()
            raise ReadError("file.parse_limit", what=f"内存（{self.memory // 2**20} MB）") from None
        if answer[0] == "ok":
            return answer[1]
        raise ReadError(answer[1], **answer[2])

    def close(self) -> None:
        if self.process is not None and self.process.is_alive():
            try:
                if self.conn is not None:
                    self.conn.send(None)
            except OSError:
                pass
            self.process.join(2)
            if self.process.is_alive():
                self.process.kill()
        self.process = self.conn = None
