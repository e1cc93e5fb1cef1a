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
import zlib
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from ..io.atomic import fsync_path
from .db import is_url

FILE_SUFFIX = ".numbers.json"


def issued_path(root: Path, target) -> Path:
    """Beside a SQLite ledger; in the root for a PostgreSQL one (each host's workers share the root)."""
    if is_url(target):
        return Path(root) / f"ledger{FILE_SUFFIX}"
    target = Path(target)
    return target.with_name(target.name + FILE_SUFFIX)


SLOT = 512  # bytes per record: one sector, written in place


class Issued:
    """The mark is two records of one sector each, written in turn in place (`pwrite` + `fdatasync`: one
    sync, no rename, no directory sync). A write cut short by a power cut spoils only the record being
    written; the other still holds the mark as it was before this commit, whose numbers no output carries
    yet. Each record is a line of JSON with a sequence number and a checksum; the newest whole one counts.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.known: dict[str, int] = {}  # what this process last wrote or read: no write when nothing rose
        self._fd: int | None = None

    @staticmethod
    def _records(raw: bytes) -> list[dict[str, Any]]:
        found = []
        for start in range(0, max(len(raw), 1), SLOT):
            try:
                data = json.loads(raw[start : start + SLOT].decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            if not isinstance(data, dict):
                continue
            body = data.get("body")
            if isinstance(body, dict) and data.get("crc") == _crc(body):
                found.append(body)
            elif "numbers" in data and "crc" not in data and start == 0 and len(raw) < SLOT:
                found.append({"seq": 0, **data})  # a mark of the release before: one whole JSON file
        return found

    def read(self, zone: tzinfo | None = None) -> tuple[dict[str, int], str]:
        """The highest numbers handed out (name → number) and when the mark was last raised (in `zone`, the
        desk's time, for a person to read; else as recorded)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}, ""
        records = self._records(raw)
        if not records:
            return {}, ""
        newest = max(records, key=lambda r: int(r.get("seq", 0)))
        at = str(newest.get("at", ""))
        if zone is not None:
            try:
                moment = datetime.fromisoformat(at)
                if moment.tzinfo is not None:
                    at = f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S}"
            except ValueError:
                pass
        return {k: int(v) for k, v in newest.get("numbers", {}).items()}, at

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if created:  # the file's own name on the disk too, once
                fsync_path(self.path.parent)
        return self._fd

    def raise_to(self, used: dict[str, int]) -> None:
        """Raise the mark to `used` where that is higher, synced, under a file lock (several workers of
        one root share it)."""
        if all(used.get(k, 0) <= self.known.get(k, 0) for k in used):
            return
        fd = self._open()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            records = self._records(os.pread(fd, max(size, 2 * SLOT), 0))
            newest: dict[str, Any] = max(records, key=lambda r: int(r.get("seq", 0)), default={"seq": 0, "numbers": {}})
            current = {k: int(v) for k, v in newest.get("numbers", {}).items()}
            merged = {k: max(current.get(k, 0), used.get(k, 0)) for k in {*current, *used}}
            if merged != current or size != 2 * SLOT:
                seq = int(newest.get("seq", 0)) + 1
                body = {"seq": seq, "numbers": merged, "at": datetime.now(UTC).isoformat(timespec="seconds")}
                line = json.dumps({"body": body, "crc": _crc(body)}).encode("utf-8")
                if len(line) > SLOT - 1:
                    raise ValueError("numbers mark record too long")
                record = line + b" " * (SLOT - 1 - len(line)) + b"\n"
                if size != 2 * SLOT:  # new, or the one-file form of the release before: both records now
                    os.pwrite(fd, record + record, 0)
                    os.ftruncate(fd, 2 * SLOT)
                    os.fsync(fd)
                else:
                    os.pwrite(fd, record, (seq % 2) * SLOT)
                    os.fdatasync(fd)
            self.known = merged
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _crc(body: dict) -> int:
    return zlib.crc32(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8"))


def behind(used: dict[str, int], issued: dict[str, int]) -> list[tuple[str, int, int]]:
    """(name, the ledger's highest number, the highest handed out) wherever the ledger is behind."""
    return [(name, used.get(name, 0), top) for name, top in sorted(issued.items()) if used.get(name, 0) < top]
