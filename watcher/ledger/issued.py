"""The desk's own evidence of the numbers it has handed out: a high-water mark beside the ledger.

A policy number is printed on an electronic policy the moment it is issued. A ledger restored from a
backup (or made anew after losing one) would hand those numbers out again, to another group. So every
transaction that draws a number raises this mark on local disk (synced) before any output carrying the
number is written, and a ledger found behind it is refused at start. It lives on the insurer's side
only, never in the outbox (which agencies can write: a forged page must not stop the desk).
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from .db import is_url

FILE_SUFFIX = ".numbers.json"


def issued_path(root: Path, target) -> Path:
    """Beside a SQLite ledger; in the root for a PostgreSQL one (each host's workers share the root)."""
    if is_url(target):
        return Path(root) / f"ledger{FILE_SUFFIX}"
    target = Path(target)
    return target.with_name(target.name + FILE_SUFFIX)


class Issued:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.known: dict[str, int] = {}  # what this process last wrote or read: no write when nothing rose

    def read(self) -> tuple[dict[str, int], str]:
        """The highest numbers handed out (name → number) and when the mark was last raised."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}, ""
        except (ValueError, UnicodeDecodeError):
            return {}, ""  # a mark cut short by a crash mid-write cannot happen (it is replaced whole)
        return {k: int(v) for k, v in data.get("numbers", {}).items()}, str(data.get("at", ""))

    def raise_to(self, used: dict[str, int]) -> None:
        """Raise the mark to `used` where that is higher; written whole and synced, under a file lock
        (several workers of one root share it)."""
        if all(used.get(k, 0) <= self.known.get(k, 0) for k in used):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current, _ = self.read()
            merged = {k: max(current.get(k, 0), used.get(k, 0)) for k in {*current, *used}}
            if merged != current:
                tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
                data = {"numbers": merged, "at": datetime.now(UTC).isoformat(timespec="seconds")}
                with open(tmp, "w", encoding="utf-8") as handle:
                    json.dump(data, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
                directory = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
            self.known = merged


def behind(used: dict[str, int], issued: dict[str, int]) -> list[tuple[str, int, int]]:
    """(name, the ledger's highest number, the highest handed out) wherever the ledger is behind."""
    return [(name, used.get(name, 0), top) for name, top in sorted(issued.items()) if used.get(name, 0) < top]
