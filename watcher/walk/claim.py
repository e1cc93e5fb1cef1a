"""Claim: move the dropped file into the folder's claim area with one rename on the same filesystem,
then record on it the name its result will have.

After the rename no other scan can take the file. The claim record fixes the result's name at the
start, so a run that is killed and restarted writes its one result under that same name; it also
names the file's archived copy, and says when its outputs are waiting for a disk that could not take
them. It is kept in an extended attribute of the claimed file (`user.watcher.claim`), which goes
wherever the file goes (a worker adopting a dead one's files) and costs no file of its own; where the
filesystem has no extended attributes (some shares), in a file beside it (`.<name>.claim.json`). A
record lost to a power cut loses nothing: the request is found again in the ledger by its bytes
(walk.reclaim). A record is believed only for what it may say: a plain result name, and an archived
copy in this agency's archive.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import crash
from ..io.atomic import write_bytes
from .names import cut, display_name, result_stem, safe_name

if TYPE_CHECKING:
    from .archive import Snapshot
    from .desk import Desk
    from .preflight import Preflight

log = logging.getLogger("watcher")


@dataclass(frozen=True)
class Claim:
    path: Path  # the file in the claim area
    who: str
    original: str  # the name as dropped
    stem: str  # outputs are <stem>.xlsx and <stem>.json
    archived: str = ""  # the archived copy the walk reads (made before anything is committed)
    sha256: str = ""  # of that copy
    pending: str = ""  # why its outputs could not be written yet ('' when they could)
    # In hand only, never recorded: the archived copy just made at the claim, and when (the walk reads
    # it without hashing it again, and is processed at that moment); its preflight, when the file was
    # sent to the parser ahead of its walk.
    snap: Snapshot | None = field(default=None, compare=False, repr=False)
    at: datetime | None = field(default=None, compare=False)
    checked: Preflight | None = field(default=None, compare=False, repr=False)


def claim(path: Path, claimed_dir: Path) -> Path:
    """Returns the claimed path. In the claim area a file's name is always valid UTF-8 and safe: one from
    a share in another encoding, with control or bidirectional characters, or too long, is renamed
    here (its name as dropped is kept in the claim record)."""
    claimed_dir.mkdir(parents=True, exist_ok=True)
    shown = display_name(path.name)
    name = (
        path.name if shown == path.name == safe_name(shown) and len(shown.encode("utf-8")) <= 240 else safe_name(shown)
    )
    target = claimed_dir / name
    n = 1
    while target.exists():  # a file of the same name is still in hand: keep both
        n += 1
        target = claimed_dir / f"{n}~{name}"
    os.rename(path, target)  # the file leaves the drop folder here; from now on it is ours to finish
    return target


def unclaim(record: Claim, drop_dir: Path) -> Path:
    """Put a claimed file back where it was dropped (nothing of it was committed), to be taken again."""
    target = drop_dir / record.original
    stem, dot, ext = record.original.rpartition(".")
    n = 1
    while target.exists():
        n += 1
        target = drop_dir / (f"{stem} ({n}).{ext}" if dot else f"{record.original} ({n})")
    drop_record(record.path)  # before it leaves: its record must not go back with it
    os.rename(record.path, target)
    return target


def original_name(claimed: Path) -> str:
    name = claimed.name
    head, sep, rest = name.partition("~")
    return rest if sep and head.isdigit() else name


def record_path(claimed: Path) -> Path:
    return claimed.with_name(f".{cut(claimed.name, 200)}.claim.json")


def write_record(claimed: Path, who: str, stem: str, original: str | None = None) -> Claim:
    return save_record(Claim(claimed, who, original or original_name(claimed), stem))


XATTR = "user.watcher.claim"
_NO_XATTR = {errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EACCES, errno.E2BIG, errno.ERANGE, errno.ENOSPC}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def save_record(record: Claim) -> Claim:
    # Not synced: it guards against the process being killed, which leaves it intact; after a power cut
    # that takes it, the request is found again in the ledger by its bytes (walk.reclaim).
    data = {"original": record.original, "stem": record.stem}
    for key in ("archived", "sha256", "pending"):
        if getattr(record, key):
            data[key] = getattr(record, key)
    raw = json.dumps(data, ensure_ascii=False).encode("utf-8")
    try:
        os.setxattr(record.path, XATTR, raw)
        return record
    except OSError as exc:
        if exc.errno not in _NO_XATTR:
            raise
    _remove_xattr(record.path)  # an older record must not outlive this one
    write_bytes(record_path(record.path), raw, durable=False)
    return record


def update_record(record: Claim, **changes: Any) -> Claim:
    return save_record(replace(record, **changes))


def read_record(claimed: Path, who: str) -> Claim | None:
    raw: bytes | None = None
    try:
        raw = os.getxattr(claimed, XATTR)
    except OSError:
        pass
    try:
        data = json.loads(raw if raw is not None else record_path(claimed).read_bytes())
        record = Claim(
            claimed,
            who,
            str(data["original"]),
            str(data["stem"]),
            str(data.get("archived", "")),
            str(data.get("sha256", "")),
            str(data.get("pending", "")),
        )
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    return record if _believable(record) else None


def _believable(record: Claim) -> bool:
    """A record says a plain result name and, if any, a copy in this agency's archive (archive/<AGENCY>/
    <date>/): anything else (a record an agency planted on its file, say) is not believed."""
    stem = record.stem
    if not stem or stem.startswith(".") or any(c in stem for c in "/\\\0") or len(stem.encode("utf-8")) > 240:
        return False
    if record.archived:
        copy = Path(record.archived)
        day, agency, archive = copy.parent, copy.parent.parent, copy.parent.parent.parent
        if (
            not copy.is_absolute()
            or ".." in copy.parts
            or not _DAY.fullmatch(day.name)
            or agency.name != record.who
            or archive.name != "archive"
        ):
            return False
    return True


def drop_record(claimed: Path) -> None:
    _remove_xattr(claimed)
    record_path(claimed).unlink(missing_ok=True)


def _remove_xattr(claimed: Path) -> None:
    try:
        os.removexattr(claimed, XATTR)
    except OSError:
        pass  # none there, no such file, or no extended attributes here


def claim_dir(desk: Desk, who: str) -> Path:
    """Where this worker keeps the files it has claimed: the claim area, or its own folder in it."""
    base = desk.layout.claimed(who)
    return base / desk.worker if desk.worker else base


def claim_file(desk: Desk, path: Path, who: str, copy: Callable[[Claim], Claim] | None = None) -> Claim:
    """Claim a dropped file, make what `copy` makes of it at once (its archived copy) and write its record:
    one record, written once. If this fails halfway (a disk full after the rename) the file goes back, to
    be taken again, and nothing of it is left behind."""
    claimed = claim(path, claim_dir(desk, who))
    crash.point("after_claim")
    record = None
    try:
        original = display_name(path.name)
        record = Claim(claimed, who, original, result_stem(desk, who, original))
        desk.reserved.add((who, record.stem))
        if copy is not None:
            record = copy(record)
        # A copy made was named in the record before it was written; without one, the record is written now.
        return record if record.archived else save_record(record)
    except Exception:
        try:
            if record is not None:
                desk.reserved.discard((who, record.stem))
                if record.archived:
                    from .archive import forget

                    forget(Path(record.archived))
                    Path(record.archived).unlink(missing_ok=True)  # never committed: no original yet
            drop_record(claimed)  # a record written already (naming its copy) does not go back with it
            os.rename(claimed, path)
        except OSError:
            log.exception("%s/%s：未能放回原处，下次启动时继续处理", who, path.name)
        raise


def record_claim(desk: Desk, claimed: Path, who: str, original: str | None = None) -> Claim:
    original = original or original_name(claimed)
    stem = result_stem(desk, who, original)
    desk.reserved.add((who, stem))
    return write_record(claimed, who, stem, original)
