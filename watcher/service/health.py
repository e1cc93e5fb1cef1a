"""Is the desk able to work: the ledger writable (not locked by another program, not broken, its server
reachable) and the root's disk able to take a write. Asked at every rescan while the intake is stopped."""

from __future__ import annotations

import os
from pathlib import Path

from ..faults import DISK, LEDGER, DeskFault, classify

PROBE = ".watcher-probe"


def probe_disk(root: Path) -> None:
    """A small write, synced, then removed: raises what a real output would meet (ENOSPC, EIO, EROFS)."""
    path = root / PROBE
    try:
        with open(path, "wb") as handle:
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def health(desk, *, thorough: bool = False) -> DeskFault | None:
    """None when the desk can work; else the fault that stops it (`thorough`: the ledger's integrity too)."""
    try:
        desk.ledger.probe(thorough=thorough)
    except Exception as exc:
        return DeskFault(classify(exc) or LEDGER, exc)
    try:
        probe_disk(desk.layout.root)
    except OSError as exc:
        return DeskFault(classify(exc) or DISK, exc)
    return None
