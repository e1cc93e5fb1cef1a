"""One service per root: an exclusive lock that dies with its process (flock), never a stale pid file."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import BinaryIO


class RootBusy(Exception):
    pass


class RootLock:
    def __init__(self, root: Path):
        self.path = root / ".watcher.lock"
        self.handle: BinaryIO | None = None

    def __enter__(self) -> RootLock:
        self.handle = handle = open(self.path, "a+b", buffering=0)  # unbuffered: nothing left to flush on a full disk
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().decode("utf-8", "replace").strip() or "另一个进程"
            handle.close()
            raise RootBusy(holder) from None
        try:  # who holds it, for the message a second one gets: a full disk must not stop the start
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}\n".encode())
        except OSError:
            pass
        return self

    def __exit__(self, *exc) -> None:
        if self.handle:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
