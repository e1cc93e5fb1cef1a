"""Claim: move the dropped file into the folder's claim area with one rename on the same filesystem,
then record beside it the name its result will have.

After the rename no other scan can take the file. The claim record fixes the result's name at the
start, so a run that is killed and restarted writes its one result under that same name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..io.atomic import write_bytes
from .names import cut, display_name, safe_name


@dataclass(frozen=True)
class Claim:
    path: Path  # the file in the claim area
    who: str
    original: str  # the name as dropped
    stem: str  # outputs are <stem>.xlsx and <stem>.json


def claim(path: Path, claimed_dir: Path) -> Path:
    """Returns the claimed path. In the claim area a file's name is always valid UTF-8 and safe: one from
    a share in another encoding, with control or bidirectional characters, or too long, is renamed
    here (its name as dropped is kept in the claim record)."""
    claimed_dir.mkdir(parents=True, exist_ok=True)
    shown = display_name(path.name)
    name = path.name if shown == path.name == safe_name(shown) and len(shown.encode("utf-8")) <= 240 \
        else safe_name(shown)
    target = claimed_dir / name
    n = 1
    while target.exists():  # a file of the same name is still in hand: keep both
        n += 1
        target = claimed_dir / f"{n}~{name}"
    os.rename(path, target)  # the file leaves the drop folder here; from now on it is ours to finish
    return target


def original_name(claimed: Path) -> str:
    name = claimed.name
    head, sep, rest = name.partition("~")
    return rest if sep and head.isdigit() else name


def record_path(claimed: Path) -> Path:
    return claimed.with_name(f".{cut(claimed.name, 200)}.claim.json")


def write_record(claimed: Path, who: str, stem: str, original: str | None = None) -> Claim:
    record = Claim(claimed, who, original or original_name(claimed), stem)
    # Not synced: it guards against the process being killed, which leaves the page cache intact;
    # after a power cut the worst case is a result under a fresh name, never a second ledger effect.
    write_bytes(record_path(claimed), json.dumps({"original": record.original, "stem": stem},
                                                 ensure_ascii=False).encode("utf-8"), durable=False)
    return record


def read_record(claimed: Path, who: str) -> Claim | None:
    try:
        data = json.loads(record_path(claimed).read_text(encoding="utf-8"))
        return Claim(claimed, who, data["original"], data["stem"])
    except (FileNotFoundError, ValueError, KeyError):
        return None


def drop_record(claimed: Path) -> None:
    record_path(claimed).unlink(missing_ok=True)
