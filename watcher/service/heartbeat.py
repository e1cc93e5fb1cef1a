"""A worker on a shared (PostgreSQL) ledger says on the shared root that it lives, every few seconds,
whatever its connection to the database does.

The database sees a live worker by its session (its lock, its `application_name`). A worker cut off from
the database (a server restarting, its network to the database down) has no session, yet it lives: it
retries, and once back it takes files again. `watcher recover` must not replay beside it, so it also looks
here: a beat file that still changes is a worker that lives, wherever it runs. A worker that stops cleanly
removes its file; one killed with kill -9 leaves it, and the file stops changing (on this host, in this
machine's boot and process namespace, its process is seen to be gone at once).

What this cannot see: a worker whose host lost the shared root as well (it cannot beat). That one halts
before its next file all the same (service/recovering.under_way, asked before each walk).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..io.atomic import write_bytes

PREFIX = ".watcher-alive-"
BEAT_SECONDS = 5.0
WATCHED_BEATS = 3  # recover watches a file this many beats (and a second) before it takes it for left over
MOST_BYTES = 4096  # a beat file is a line of JSON: nothing larger is read


def beat_path(root: Path, worker: str) -> Path:
    return Path(root) / f"{PREFIX}{worker}.json"


def _machine() -> str:
    """This machine's boot and process namespace: two containers, or a host rebooted, with one host name
    and one process id are not one process."""
    parts = []
    for path in ("/proc/sys/kernel/random/boot_id",):
        try:
            parts.append(Path(path).read_text("ascii").strip())
        except OSError:
            parts.append("")
    try:
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    except OSError:
        parts.append("")
    return "/".join(parts)


class Heartbeat:
    """A thread rewriting this worker's beat file every `every` seconds until closed (then it is removed)."""

    def __init__(self, root: Path, worker: str, command: str, every: float = BEAT_SECONDS):
        self.path = beat_path(root, worker)
        self.worker, self.command, self.every = worker, command, every
        self.count = 0
        self.machine = _machine()
        self.stop = threading.Event()
        self.lock = threading.Lock()  # a beat and the removal never cross: a stopped worker's file stays gone
        self.thread = threading.Thread(target=self._run, name="watcher-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._beat()
        self.thread.start()
        return self

    def _beat(self) -> None:
        with self.lock:
            if self.stop.is_set():
                return
            self.count += 1
            data = {
                "worker": self.worker,
                "host": socket.gethostname(),
                "machine": self.machine,
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
        with self.lock:
            self.stop.set()
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass


@dataclass(frozen=True)
class Beating:
    worker: str
    host: str
    command: str
    file: str = ""  # the beat file's name, where it could not be read (its worker is not known)

    def said(self) -> str:
        if self.file:
            return f"{self.file}（心跳文件无法读取；确认没有工作进程在运行后可删除它）"
        return f"{self.worker}（主机 {self.host}，{self.command}）"


GONE = None  # the file is not there (removed: its worker stopped)


class Unreadable:
    """A file there that cannot be read now (a share's error, permissions): its worker may live."""


def _read(path: Path) -> tuple[dict, tuple] | Unreadable | None:
    """(what the file says, what changes with each beat); GONE where it is not there; Unreadable where it is
    there but cannot be read, or is no beat file (a pipe, a link, something large or not JSON)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except FileNotFoundError:
        return GONE
    except OSError:
        return Unreadable()
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MOST_BYTES:
            return Unreadable()
        data = json.loads(os.read(fd, MOST_BYTES))
    except (OSError, ValueError):
        return Unreadable()
    finally:
        os.close(fd)
    if not isinstance(data, dict):
        return Unreadable()
    return data, (st.st_ino, st.st_mtime_ns, st.st_size, data.get("beat"))


def _every(data: dict) -> float:
    """The beat interval a file says, within (0, BEAT_SECONDS]: a file says what it likes."""
    every = data.get("every")
    if isinstance(every, bool) or not isinstance(every, (int, float)) or not 0 < every <= BEAT_SECONDS:
        return BEAT_SECONDS
    return float(every)


def _pid_here(data: dict) -> int | None:
    """The process id a beat file names, where the file is this machine's (host name, boot and process
    namespace) and the id is one a process may have; else None."""
    pid = data.get("pid")
    if data.get("host") != socket.gethostname() or data.get("machine") != _machine():
        return None
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 2**31:
        return None
    return pid


def _gone_here(data: dict) -> bool:
    """A beat file of this machine whose process is gone: certainly no worker (its file is removed)."""
    pid = _pid_here(data)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError, ValueError):  # alive, another user's
        return False
    return False


def _alive_here(data: dict) -> bool:
    """A beat file of this machine whose process lives and is a watcher: a worker frozen (SIGSTOP, a debugger)
    beats no more, yet it holds what it holds and goes on when let go."""
    pid = _pid_here(data)
    if pid is None:
        return False
    try:
        return b"watcher" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def beat_age(root: Path, worker: str) -> float | None:
    """Seconds since a worker's beat file last changed, by this host's clock (None: no such file)."""
    try:
        return time.time() - beat_path(root, worker).stat().st_mtime
    except OSError:
        return None


def _shown(value: object) -> str:
    """A name from a file, fit to print: no control characters, not too long."""
    return "".join(ch for ch in str(value) if ch.isprintable())[:80]


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def beating(root: Path, *, watch: bool = True) -> list[Beating]:
    """The workers whose beat file still changes. A file of this machine whose process is gone is removed.
    With `watch` (recover), each other file is watched for WATCHED_BEATS of its beats: one that changes
    meanwhile is a live worker, one that cannot be read counts as one (it is not known to be stopped), one
    that does not change was left by a worker killed elsewhere and is removed. Without `watch` (status: no
    waiting), a file at most three beats old by this host's clock counts."""
    found: dict[Path, tuple[dict, tuple]] = {}
    live: dict[Path, dict] = {}
    try:
        paths = sorted(Path(root).glob(f"{PREFIX}*.json"))
    except OSError:
        return []
    for path in paths:
        read = _read(path)
        if read is GONE:
            continue
        if isinstance(read, Unreadable):
            if watch:
                live[path] = {}
            continue
        data, _ = read
        if _gone_here(data):
            _unlink(path)
            continue
        found[path] = read
    if not watch:  # a live worker's file is at most one beat old (give or take the hosts' clocks)
        for path, (data, _) in found.items():
            try:
                age = time.time() - path.stat().st_mtime
            except OSError:
                continue
            if abs(age) <= 3 * _every(data) + 1:  # (a time far ahead is no beat either)
                live[path] = data
    elif found:
        until = time.monotonic() + WATCHED_BEATS * max(_every(d) for d, _ in found.values()) + 1
        while found and time.monotonic() < until:
            time.sleep(0.2)
            for path in list(found):
                read = _read(path)
                if read is GONE:  # removed: that worker stopped
                    del found[path]
                elif isinstance(read, Unreadable) or read[1] != found[path][1]:
                    live[path] = found.pop(path)[0]
        for path, (data, _) in found.items():  # unchanged over its beats
            if _alive_here(data):  # frozen here, not gone
                live[path] = data
            else:  # left by a worker killed elsewhere
                _unlink(path)
    return [
        Beating(
            _shown(d.get("worker") or p.name[len(PREFIX) : -5]),
            _shown(d.get("host", "")),
            _shown(d.get("command", "")),
            "" if d else _shown(p.name),
        )
        for p, d in sorted(live.items())
    ]
