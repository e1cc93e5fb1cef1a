"""Which files in the drop folders are waiting, and which are stable enough to take."""

from __future__ import annotations

import fnmatch
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from ..layout import ADMIN, CLAIMED, Layout

IGNORED = ("~$*", ".*", "*.tmp", "*.part", "*.filepart", "*.crdownload", "Thumbs.db", "desktop.ini", ".DS_Store")


@dataclass(frozen=True)
class Waiting:
    who: str  # folder name: an agency code or _admin
    path: Path
    size: int
    mtime: float


def ignored(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name.lower(), pattern.lower())
               for pattern in IGNORED)


def folders(layout: Layout) -> list[str]:
    """Drop folders, _admin first so plans and agencies land before the requests that use them."""
    if not layout.workbooks.is_dir():
        return []
    names = sorted(e.name for e in os.scandir(layout.workbooks) if e.is_dir(follow_symlinks=False)
                   and not e.name.startswith("."))
    return ([ADMIN] if ADMIN in names else []) + [n for n in names if n != ADMIN]


def waiting_in(layout: Layout, who: str) -> list[Waiting]:
    found = []
    try:
        entries = list(os.scandir(layout.drop(who)))
    except FileNotFoundError:
        return []
    for entry in entries:
        if entry.name == CLAIMED or ignored(entry.name):
            continue
        st = entry.stat(follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            continue  # folders, symlinks, FIFOs: never followed
        found.append(Waiting(who, Path(entry.path), st.st_size, st.st_mtime))
    return sorted(found, key=lambda w: (w.mtime, w.path.name))


def claimed_in(layout: Layout, who: str) -> list[Path]:
    """Files claimed by an earlier run that did not finish them."""
    folder = layout.claimed(who)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def settled(item: Waiting, settle: float, now: float | None = None) -> bool:
    """Last modified longer ago than the settle time."""
    return (now if now is not None else time.time()) - item.mtime >= settle


def wait_until_stable(item: Waiting, settle: float, stall: float) -> Waiting | None:
    """Watch a recent file until size and mtime hold still for `settle` seconds (monotonic clock)."""
    last = (item.size, item.mtime)
    still_since = time.monotonic()
    deadline = time.monotonic() + max(stall, settle) * 4
    while time.monotonic() < deadline:
        time.sleep(min(0.2, settle / 4) if settle > 0 else 0)
        try:
            st = item.path.stat()
        except FileNotFoundError:
            return None
        now_state = (st.st_size, st.st_mtime)
        if now_state != last:
            last, still_since = now_state, time.monotonic()
        elif time.monotonic() - still_since >= settle:
            return Waiting(item.who, item.path, st.st_size, st.st_mtime)
    return Waiting(item.who, item.path, last[0], last[1])
