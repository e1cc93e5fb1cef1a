"""Archive: every processed original is kept in archive/<AGENCY>/<date>/, never deleted.

The archived copy is made first, before anything is parsed or committed: the walk reads that copy, so
the bytes a request is committed from are exactly the bytes the archive keeps. The dropped file leaves
the claim area only at the end; if a writer changed it meanwhile, its changed bytes are archived beside.

The copy reaches the disk (fsync) on a thread of its own while the file is parsed and checked, in
parallel, not in series: `durable` waits for it before anything is committed from it, and before the
claimed original is removed. A power cut before that leaves the original in the claim area and its
record naming the copy; the next walk checks the copy's hash and makes it again if it is not whole.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from .. import crash
from ..faults import DeskFault, refused
from ..io.atomic import fsync_path, temp_name
from .claim import Claim, drop_record, update_record
from .names import safe_name
from .outcome import Outcome
from .preflight import sha256_of

if TYPE_CHECKING:
    from .desk import Desk

log = logging.getLogger("watcher")


@dataclass(frozen=True)
class Snapshot:
    path: Path  # the archived copy, complete (on the disk once `durable` returns)
    sha256: str
    size: int
    # The claimed file as it stood when its copy began (inode, size, mtime, ctime), if it had not been
    # written for a while then: a write since would show in them (see `unchanged`).
    seen: tuple[int, int, int, int] | None = None


_syncing: dict[str, Future[None]] = {}  # archived copy → its fsync under way
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _sync_later(path: Path) -> None:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="watcher-archive-sync")
        _syncing[str(path)] = _pool.submit(fsync_path, path)


def durable(path: Path) -> None:
    """Wait until the archived copy at `path` is on the disk (its fsync raises here if the disk refused
    it). A copy made by an earlier process is synced now."""
    with _lock:
        pending = _syncing.get(str(path))
    if pending is not None:
        try:
            pending.result()
        except OSError:
            with _lock:  # the next call syncs anew (the disk may take it then)
                _syncing.pop(str(path), None)
            raise
        return
    fsync_path(path)
    done: Future[None] = Future()
    done.set_result(None)
    with _lock:
        _syncing[str(path)] = done


def forget(path: Path) -> None:
    """Done with a copy (its original archived, or the copy removed): its sync is no longer tracked."""
    with _lock:
        _syncing.pop(str(path), None)


def day_folder(archive_dir: Path, at: datetime, zone: tzinfo) -> Path:
    return archive_dir / at.astimezone(zone).strftime("%Y-%m-%d")


def _free_name(folder: Path, local: datetime, sha256: str, name: str, tag: str = "") -> Path:
    target = folder / f"{local:%H%M%S}_{sha256[:8]}{tag}_{name}"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{local:%H%M%S}_{sha256[:8]}{tag}_{n}_{name}"
    return target


class CopyChanged(Exception):
    """The file changed while its archived copy was made (a writer still at it): no copy was made."""


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHANGED_TAG = "_办理后修改"  # in the name of a file's bytes changed after it was processed (never processed)
WHOLE = 8 << 20  # a file up to this size is read once, hashed and written from memory


def snapshot(
    claimed: Path,
    archive_dir: Path,
    original: str,
    at: datetime,
    zone: tzinfo,
    tag: str = "",
    announce: Callable[[Path, str], object] | None = None,
) -> Snapshot:
    """Copy the claimed file into the archive, hashing what is copied; its sync goes on in parallel
    (`durable` waits for it). `announce(copy, sha256)` is called once the copy's name is known and before
    it is written, so that the claim record names the copy before it exists: a run killed at any moment
    leaves no copy that no record names (the next walk checks the named copy's hash and makes it again if
    it is not whole)."""
    folder = day_folder(archive_dir, at, zone)
    with _archive_refusal(archive_dir.parent, folder):
        folder.mkdir(parents=True, exist_ok=True)
        return _copy(claimed, folder, original, at, zone, tag, announce)


def _copy(
    claimed: Path,
    folder: Path,
    original: str,
    at: datetime,
    zone: tzinfo,
    tag: str,
    announce: Callable[[Path, str], object] | None,
) -> Snapshot:
    name = safe_name(original)
    tmp = temp_name(folder / name)
    try:
        with claimed.open("rb") as source:
            seen = _still(os.fstat(source.fileno()))
            data = source.read(WHOLE + 1)
            if len(data) <= WHOLE:  # the bytes hashed are the bytes written
                sha, size = hashlib.sha256(data).hexdigest(), len(data)
                target = _free_name(folder, at.astimezone(zone), sha, name, tag)
                if announce is not None:
                    announce(target, sha)
                with tmp.open("wb") as copy:
                    copy.write(data)
            else:  # large: hashed first, then copied and hashed again; a change in between is refused
                digest, size = hashlib.sha256(data), len(data)
                while chunk := source.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
                sha = digest.hexdigest()
                target = _free_name(folder, at.astimezone(zone), sha, name, tag)
                if announce is not None:
                    announce(target, sha)
                source.seek(0)
                again = hashlib.sha256()
                with tmp.open("wb") as copy:
                    while chunk := source.read(1 << 20):
                        again.update(chunk)
                        copy.write(chunk)
                if again.hexdigest() != sha:
                    raise CopyChanged(claimed)
            if seen is not None and announce is not None:
                # The record written on the file (an extended attribute) moved its ctime: what is seen now
                # is that, if nothing else changed (a write gives a modification time at least QUIET_NS
                # newer). Else every later look would hash the file again.
                after = os.fstat(source.fileno())
                same = (after.st_ino, after.st_size, after.st_mtime_ns) == seen[:3]
                seen = (*seen[:3], after.st_ctime_ns) if same else None
        # Its time is the moment it was taken, to the microsecond: within one second of the archive's names,
        # the order the desk took its files in (a filesystem's own clock ticks too coarsely to tell).
        stamp = (at - EPOCH) // timedelta(microseconds=1) * 1000
        os.utime(tmp, ns=(stamp, stamp))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    crash.point("after_copy")
    _sync_later(target)
    return Snapshot(target, sha, size, seen)


@contextmanager
def _archive_refusal(archive: Path, folder: Path) -> Iterator[None]:
    """The archive refusing a write (a folder made read-only, `chattr +i`): the desk's fault, not the file's.
    Failed with a result, the file was told 申请未生效, then issued once the folder took it again, its result
    overwritten with 成功; now the intake stops and the file waits where it is, as for a full disk."""
    try:
        yield
    except OSError as exc:
        reason = refused(exc)
        names = (str(exc.filename or ""), str(exc.filename2 or ""))  # a rename's target is its second name
        if reason is not None and any(name.startswith(str(archive)) for name in names):
            raise DeskFault(reason, exc, where=folder) from exc
        raise


def archive(claimed: Path, archive_dir: Path, original: str, sha256: str, at: datetime, zone: tzinfo) -> Path:
    """A claimed file that has no archived copy (it could not be read at all): moved into the archive."""
    folder = day_folder(archive_dir, at, zone)
    with _archive_refusal(archive_dir.parent, folder):
        folder.mkdir(parents=True, exist_ok=True)
    target = _free_name(folder, at.astimezone(zone), sha256 or "00000000", safe_name(original))
    # Last step of the walk: the original is kept, moved out of the drop folder's claim area.
    with _archive_refusal(archive_dir.parent, folder):
        try:
            os.replace(claimed, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # The drop folder is on a share and the archive on local disk: copy whole, then remove.
            tmp = temp_name(target)
            shutil.copy2(claimed, tmp)
            os.replace(tmp, target)
            claimed.unlink()
    return target


def archive_claim(desk: Desk, record: Claim, outcome: Outcome) -> Path:
    """The last step: the claimed file leaves the claim area. Its archived copy was made before anything
    was committed; if a writer changed the file since, the changed bytes are archived beside it."""
    crash.point("before_archive")
    if outcome.archived:
        target = Path(outcome.archived)
        if record.path.exists():
            # The walk's own check (a quiet file by its inode, size and times, else by its hash); a file whose
            # copy was made by an earlier run is hashed.
            snap = record.snap
            if snap is not None and snap.sha256 == outcome.sha256:
                changed = not unchanged(record, snap)
            else:
                changed = sha256_of(record.path)[0] != outcome.sha256
            if changed:
                kept = snapshot(
                    record.path,
                    desk.layout.archived(record.who),
                    record.original,
                    outcome.processed_at,
                    desk.zone,
                    tag=CHANGED_TAG,
                )
                durable(kept.path)
                forget(kept.path)
                log.warning(
                    "%s/%s：办理后文件又被改动，改动后的文件另存为 %s",
                    record.who,
                    record.original,
                    kept.path.name,
                )
            durable(target)  # the copy is on the disk before the original goes
            record.path.unlink()
        forget(target)
    else:  # it could not even be copied (unreadable): moved as it is, without its claim record
        drop_record(record.path)
        target = archive(
            record.path,
            desk.layout.archived(record.who),
            record.original,
            outcome.sha256,
            outcome.processed_at,
            desk.zone,
        )
    drop_record(record.path)
    desk.reserved.discard((record.who, record.stem))
    desk.ledger.release_stem(record.who, record.stem)
    return target


def archived_copy(desk: Desk, record: Claim, at: datetime) -> tuple[Claim, Snapshot]:
    """The archived copy the walk reads: the one made by an earlier attempt, or a new one."""
    if record.archived:
        earlier = Path(record.archived)
        if earlier.exists() and sha256_of(earlier)[0] == record.sha256:
            return record, Snapshot(earlier, record.sha256, earlier.stat().st_size)
        earlier.unlink(missing_ok=True)  # never committed (or it would not be walked again): a stale copy
    named = [record]

    def announce(copy: Path, sha: str) -> None:  # recorded before the copy is written
        named[0] = update_record(record, archived=str(copy), sha256=sha)

    snap = snapshot(record.path, desk.layout.archived(record.who), record.original, at, desk.zone, announce=announce)
    return named[0], snap


QUIET_NS = 2_000_000_000  # a file not written for this long before its copy began: its times tell a write


def _still(st: os.stat_result) -> tuple[int, int, int, int] | None:
    """What identifies the file's state, if its last write is older than QUIET_NS: a write after this
    moment gives it a modification time at least that much newer, however coarse the filesystem's clock
    (a file changed just now could be written again within the same tick and keep its times)."""
    if time.time_ns() - st.st_mtime_ns < QUIET_NS:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def unchanged(record: Claim, snap: Snapshot) -> bool:
    """Whether the claimed file still holds the bytes that were archived and read: the same inode, size
    and times as when a quiet file's copy began, or else the same bytes (hashed again)."""
    try:
        st = record.path.stat()
        if snap.seen is not None and (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) == snap.seen:
            return True
        return st.st_size == snap.size and sha256_of(record.path)[0] == snap.sha256
    except FileNotFoundError:
        return True  # gone (another worker took it back to finish): nothing of it is read from here
