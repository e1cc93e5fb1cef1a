"""Is the desk able to work: the ledger writable (not locked by another program, not broken, its server
reachable) and the root's disk able to take a write. Asked at every rescan while the intake is stopped."""

from __future__ import annotations

import errno
import json
import os
from datetime import datetime
from pathlib import Path

from ..faults import DISK, GONE, LEDGER, DeskFault, classify, refused
from ..layout import ADMIN

PROBE = ".watcher-probe"
# What the probe writes: room for a request's commit (a 30-person one writes about 200 KB to the ledger's
# log) and its outputs. A disk with a few KB left passed a 4 KB probe while SQLite said "disk is full" at
# every commit: `status` said 正常 beside files that waited, and serve said 已恢复 each rescan, then
# stopped again.
PROBE_BYTES = 1 << 20
# A folder that refused an output, elsewhere than the root (an agency's outbox on a share with a quota): it
# needs room for the outputs alone, which are tried again as soon as it has some. Asking 1 MB of it held
# results that fit (80 KB) behind a folder with 290 KB free, and every agency's intake with them.
OUTPUT_PROBE_BYTES = 64 << 10


def probe_disk(root: Path, size: int = PROBE_BYTES) -> None:
    """A write of `size` bytes, synced, then removed: raises what a real output would meet (ENOSPC, EIO,
    EROFS)."""
    path = root / PROBE
    try:
        with open(path, "wb") as handle:
            handle.write(bytes(size))
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def disk_places(layout, ledger) -> list[Path]:
    """Where the desk's own writes go: the root, and a SQLite ledger's folder where it lies elsewhere (its own
    disk full, every commit failed while status said 正常 and serve logged the disk back at each rescan)."""
    places = [Path(layout.root)]
    path = getattr(ledger, "path", None)
    if path is not None and Path(path).parent.resolve() != places[0].resolve():
        places.append(Path(path).parent)
    return places


def folders_gone(layout) -> DeskFault | None:
    """The drop folders' or the outbox's root missing (a share that went away, unmounted, renamed): a fault of
    the desk, never made again empty in its place (the share put back would land inside it, and what the
    agencies drop into the real one would never be seen)."""
    for base in (layout.workbooks, layout.outbox):
        if not base.is_dir():
            return DeskFault(GONE, FileNotFoundError(errno.ENOENT, "文件夹不存在", str(base)), where=base)
        # An empty mount point (the share unmounted under it) is a folder still: `init` made _admin in both
        # roots, so one without it is not the desk's share. Before, the agencies' folders were made again
        # empty inside it, status said 正常, and the share mounted back hid them with what they took.
        if not os.path.lexists(base / ADMIN):  # (one that is not a folder is a folder's trouble, said where met)
            empty = not any(True for _ in os.scandir(base))
            why = "文件夹是空的，多半是共享盘没有挂载、只剩挂载点" if empty else "没有 _admin 文件夹"
            return DeskFault(GONE, FileNotFoundError(0, why, str(base / ADMIN)), where=base)  # (0: said as `why`)
    return None


def health(desk, last: DeskFault | None = None) -> DeskFault | None:
    """None when the desk can work; else the fault that stops it. After `last`, the place it hit is
    looked at again too (the folder a full disk refused; the ledger's integrity after an error of its own)."""
    try:
        desk.ledger.probe(thorough=last is not None and last.reason == LEDGER)
    except Exception as exc:
        return DeskFault(classify(exc) or LEDGER, exc)
    gone = folders_gone(desk.layout)
    if gone is not None:
        return gone
    own = disk_places(desk.layout, desk.ledger)
    places = list(own)
    cause = last.cause if last is not None else None
    hit = (
        last.where
        if last is not None and last.where is not None
        else (Path(cause.filename).parent if isinstance(cause, OSError) and cause.filename else None)
    )
    if hit is not None:
        folder = Path(hit)
        while not folder.is_dir() and folder != folder.parent:
            folder = folder.parent
        places.append(folder)
    for place in places:
        try:
            probe_disk(place, PROBE_BYTES if place in own else OUTPUT_PROBE_BYTES)
        except OSError as exc:
            return DeskFault(classify(exc) or refused(exc) or DISK, exc, where=place)
    return None


# What a running service says of its intake while a fault of the desk stops it (a full or read-only outbox,
# a locked ledger): `watcher status`, another process, reads it; gone once the service goes on. Several
# workers of a PostgreSQL ledger share the root: each says its own (status reads those of live workers).
HALTED = ".watcher-halted.json"


def halted_path(root: Path, worker: str | None = None) -> Path:
    return Path(root) / (f".watcher-halted-{worker}.json" if worker else HALTED)


def say_halted(root: Path, fault: DeskFault, now: datetime, worker: str | None = None) -> None:
    """Best effort: on the disk that is full this may not be written (status then finds the disk itself)."""
    from ..io.atomic import write_bytes

    data = {"line": fault.line(), "since": now.isoformat(timespec="seconds")}
    try:
        write_bytes(halted_path(root, worker), json.dumps(data, ensure_ascii=False).encode("utf-8"), durable=False)
    except OSError:
        pass


def say_going_on(root: Path, worker: str | None = None) -> None:
    try:
        halted_path(root, worker).unlink(missing_ok=True)
    except OSError:
        pass


def halted_line(root: Path, workers: list[str] | None = None) -> tuple[str, str] | None:
    """(what stops the intake, since when) as the running service (or the first of the live `workers` that
    says so) last said it, or None."""
    for worker in workers if workers is not None else [None]:
        try:
            data = json.loads(halted_path(root, worker).read_text("utf-8"))
            line = str(data["line"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        return (f"{worker}：{line}" if worker else line), str(data.get("since", ""))
    return None
