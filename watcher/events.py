"""The desk's event log: what changed the ledger, in the order it happened, beside the archive.

The archive keeps every processed original, named by the second it was processed; it cannot say which of
two files taken in the same second came first, what result name each got, or that a month-end ran (a
month-end is no dropped file). This log says it, one JSON line an event, so `watcher recover` can replay a
lost day in its original order:

- `file`: a file walked (whatever came of it): when (the injected moment, to the microsecond), the
  agency, its archived copy, its hash, its result name, whether it changed the ledger, and the policy and
  statement serials it drew (`numbers`, where it drew any: a replay hands out the same). Written in the
  service's own process right after the walk, in walk order; not synced one by one (the archived copy
  itself is): a power cut may lose the last few lines, whose originals `recover` then orders by their
  archive names.
- `month-end`: a month-end run (any trigger), its month and moment, the statement serials it drew:
  synced before its files are written.
- `init`, `migrate`: the commands that change a ledger without a dropped file: synced.

It lives in `archive/_events/events.jsonl`, on the insurer's side (never the agency-writable outbox), and
is backed up with the archive. A line cut short by a power cut is skipped when read.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .io.atomic import fsync_path

FOLDER = "_events"  # not an agency code (those start with a letter or digit)
NAME = "events.jsonl"

_locks: dict[str, threading.Lock] = {}


def log_path(archive: Path) -> Path:
    return Path(archive) / FOLDER / NAME


@dataclass(frozen=True)
class Event:
    kind: str  # file, month-end, init, migrate
    at: datetime
    data: dict[str, Any]
    line: int  # its place in the log (0-based)


def append(archive: Path, kind: str, at: datetime, sync: bool = False, **data: Any) -> None:
    """One line, written with one `write` on a file opened for appending (whole lines, also between
    several workers of one root on a local disk)."""
    path = log_path(archive)
    lock = _locks.setdefault(str(path), threading.Lock())
    line = json.dumps({"kind": kind, "at": at.isoformat(), **data}, ensure_ascii=False, sort_keys=True) + "\n"
    with lock:
        created = not path.exists()
        if created:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"  # a line cut short by a power cut ends here
            os.write(fd, (b"\n" if torn else b"") + line.encode("utf-8"))
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if created and sync:
            fsync_path(path.parent)


def read(archive: Path, damaged: list[int] | None = None) -> list[Event]:
    """Every whole line, in the order written; a line cut short or not ours is skipped (its number, from
    1, added to `damaged`)."""
    try:
        raw = log_path(archive).read_bytes()
    except FileNotFoundError:
        return []
    return _parse(raw, damaged)


def tail(archive: Path, size: int = 256 << 10) -> list[Event]:
    """The last whole lines of the log (those within its last `size` bytes), in the order written: what a
    start reads to see that the ledger holds the latest business (line numbers count from the window)."""
    try:
        with open(log_path(archive), "rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, end - size))
            raw = handle.read()
    except FileNotFoundError:
        return []
    if end > size:
        raw = raw[raw.find(b"\n") + 1 :]  # the window's first line is cut by it
    return _parse(raw, None)


def _parse(raw: bytes, damaged: list[int] | None) -> list[Event]:
    events = []
    for n, text in enumerate(raw.split(b"\n")):
        if not text.strip():
            continue
        try:
            data = json.loads(text.decode("utf-8"))
            kind, at = str(data.pop("kind")), datetime.fromisoformat(str(data.pop("at")))
            if at.tzinfo is None:
                raise ValueError("no offset")
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            if damaged is not None:
                damaged.append(n + 1)
            continue
        events.append(Event(kind, at, data, n))
    return events
