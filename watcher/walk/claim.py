"""Claim: move the dropped file into the folder's claim area with one rename on the same filesystem.

After the rename no other scan can take it; the name in the claim area keeps the original name.
"""

from __future__ import annotations

import os
from pathlib import Path


def claim(path: Path, claimed_dir: Path) -> Path:
    claimed_dir.mkdir(exist_ok=True)
    target = claimed_dir / path.name
    n = 1
    while target.exists():  # a file of the same name is still in hand: keep both
        n += 1
        target = claimed_dir / f"{n}~{path.name}"
    os.rename(path, target)  # irreversible for the clerk: the file leaves the drop folder here
    return target


def original_name(claimed: Path) -> str:
    name = claimed.name
    head, sep, rest = name.partition("~")
    return rest if sep and head.isdigit() else name
