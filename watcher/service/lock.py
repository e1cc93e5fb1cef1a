"""One service per root: an exclusive lock that dies with its process (flock), never a stale pid file."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class RootBusy(Exception):
    pass


class RootLock:
    def __init__(self, root: Path):
        self.path = root / ".watcher.lock"
        self.handle = None

    def __enter__(self) -> RootLock:
        self.handle = open(self.path, "a+b", buffering=0)  # unbuffered: nothing left to flush on a full disk
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().decode("utf-8", "replace").strip() or "另一个进程"
            self.handle.close()
            raise RootBusy(holder) from None
        try:  # who holds it, for the message a second one gets: a full disk must not stop the start
            self.handle.seek(0)
            self.handle.truncate()
            self.handle.write(f"pid {os.getpid()}\n".encode())
        except OSError:
            pass
        return self

    def __exit__(self, *exc) -> None:
        if self.handle:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
