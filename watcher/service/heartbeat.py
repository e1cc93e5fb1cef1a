"""A worker on a shared (PostgreSQL) ledger says on the shared root that it lives, every few seconds,
whatever its connection to the database does.

The database sees a live worker by its session (its lock, its `application_name`). A worker cut off from
the database (a network that dropped, a server restarting) has no session, yet it lives: it retries, and
once back it takes files again. `watcher recover` must not replay beside it, so it also looks here: a beat
file that still changes is a worker that lives, wherever it runs. A worker that stops cleanly removes its
file; one killed with kill -9 leaves it, and the file stops changing (on this host its process id is seen
to be gone at once).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..io.atomic import write_bytes

PREFIX = ".watcher-alive-"
BEAT_SECONDS = 5.0
# A beat file untouched for this long (by this host's clock) is an old one: its worker is not waited for.
STALE_SECONDS = 600.0


def beat_path(root: Path, worker: str) -> Path:
    return Path(root) / f"{PREFIX}{worker}.json"


class Heartbeat:
    """A thread rewriting this worker's beat file every `every` seconds until closed (then it is removed)."""

    def __init__(self, root: Path, worker: str, command: str, every: float = BEAT_SECONDS):
        self.path = beat_path(root, worker)
        self.worker, self.command, self.every = worker, command, every
        self.count = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="watcher-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._beat()
        self.thread.start()
        return self

    def _beat(self) -> None:
        self.count += 1
        data = {
            "worker": self.worker,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "command": self.command,
            "every": self.every,
            "beat": self.count,
        }
        try:  # a full disk or a share away for a moment: the next beat tries again
            write_bytes(self.path, json.dumps(data, ensure_ascii=False).encode("utf-8"), durable=False)
        except OSError:
            pass

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            self._beat()

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass


@dataclass(frozen=True)
class Beating:
    worker: str
    host: str
    command: str


def _read(path: Path) -> tuple[dict, tuple] | None:
    """(what the file says, what changes with each beat), or None where it is gone or unreadable."""
    try:
        st = path.stat()
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return data, (st.st_ino, st.st_mtime_ns, data.get("beat"))


def _every(data: dict) -> float:
    """The beat interval a file says, within (0, BEAT_SECONDS]: a file says what it likes."""
    every = data.get("every")
    if isinstance(every, bool) or not isinstance(every, (int, float)) or not 0 < every <= BEAT_SECONDS:
        return BEAT_SECONDS
    return every


def _gone_here(data: dict) -> bool:
    """A beat file of this host whose process is gone: certainly no worker (its file is removed)."""
    pid = data.get("pid")
    if data.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def beating(root: Path, *, watch: bool = True) -> list[Beating]:
    """The workers whose beat file still changes. A file of this host whose process is gone is removed; one
    untouched for STALE_SECONDS is passed over; any other is watched for two of its beats (`watch`): a file
    that changes meanwhile is a live worker, one that does not was left by a worker killed on another host.
    Without `watch` (status: no waiting), a file at most three beats old counts."""
    found: dict[Path, tuple[dict, tuple]] = {}
    try:
        paths = sorted(Path(root).glob(f"{PREFIX}*.json"))
    except OSError:
        return []
    for path in paths:
        read = _read(path)
        if read is None:
            continue
        data, _ = read
        if _gone_here(data):
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
            continue
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:
            continue
        if age > STALE_SECONDS:
            continue
        found[path] = read
    live: dict[Path, dict] = {}
    if not watch:  # a live worker's file is at most one beat old (give or take the hosts' clocks)
        for path, (data, _) in found.items():
            try:
                age = time.time() - path.stat().st_mtime
            except OSError:
                continue
            if age <= 3 * _every(data) + 1:
                live[path] = data
    elif found:
        until = time.monotonic() + 2 * max(_every(d) for d, _ in found.values()) + 1
        while found and time.monotonic() < until:
            time.sleep(0.2)
            for path in list(found):
                read = _read(path)
                if read is None:  # removed: that worker stopped
                    del found[path]
                elif read[1] != found[path][1]:
                    live[path] = read[0]
                    del found[path]
    return [
        Beating(str(d.get("worker") or p.name[len(PREFIX) : -5]), str(d.get("host", "")), str(d.get("command", "")))
        for p, d in sorted(live.items())
    ]
