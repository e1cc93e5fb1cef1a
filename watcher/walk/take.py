"""Taking a dropped file: claimed, copied into the archive, and sent to the parse sandbox ahead of its walk
(walk/flow.py). Loaded before the rest of the walk: `process` claims its first file and sets the sandbox
reading it while it loads the walk's stages and writers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..faults import classify
from . import claim as claiming
from .archive import snapshot
from .claim import Claim
from .desk import Desk
from .preflight import preflight


class FileChanged(Exception):
    """The claimed file changed while it was walked (a writer still at it): nothing was committed, and it
    goes back to be taken once it holds still."""


def claim_file(desk: Desk, path: Path, who: str) -> Claim:
    """Take a dropped file: claim it and make its archived copy (the bytes the walk reads and the archive
    keeps), recorded together. A copy the file's own bytes refuse is tried again by the walk, which fails
    the file with a result; a fault of the desk (the archive's disk full) puts the file back."""
    at = desk.now()

    def copy(record: Claim) -> Claim:
        def announce(target: Path, sha: str) -> None:  # the record names the copy before it is written
            claiming.save_record(replace(record, archived=str(target), sha256=sha))

        try:
            snap = snapshot(record.path, desk.layout.archived(who), record.original, at, desk.zone, announce=announce)
        except Exception as exc:
            if classify(exc) is not None:
                raise
            return record  # the walk makes it (a file still being written goes back from there)
        return replace(record, archived=str(snap.path), sha256=snap.sha256, snap=snap, at=at)

    return claiming.claim_file(desk, path, who, copy)


def ahead(desk: Desk, record: Claim) -> Claim:
    """Send a file just claimed to the parser ahead of its walk (the parser reads it while the file before
    it is checked and committed): its preflight is made now, on the copy made at the claim. Anything that
    goes wrong here is left to the walk, which does it again inside its trap."""
    if desk.parser is None or record.snap is None:
        return record
    snap = record.snap
    try:
        checked = preflight(snap.path, record.original, desk.settings, (snap.sha256, snap.size))
        if checked.problem is None and checked.format is not None:
            desk.parser.submit(snap.path, checked.format)
    except Exception:  # noqa: BLE001 — the walk meets it again and sorts it
        return record
    return replace(record, checked=checked)
