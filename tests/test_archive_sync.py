"""The archived copy every request is committed from reaches the disk on a thread of its own; `durable`
waits for it, says when the disk refused it, and syncs anew when asked again."""

from __future__ import annotations

import errno
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from watcher.walk import archive

ZONE = timezone(timedelta(hours=8))


def test_a_refused_sync_is_said_and_tried_again(tmp_path, monkeypatch):
    calls = []

    def flaky(path):
        calls.append(path)
        if len(calls) == 1:
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(archive, "fsync_path", flaky)
    source = tmp_path / "团.csv"
    source.write_bytes(b"x" * 100)
    snap = archive.snapshot(source, tmp_path / "archive", "团.csv", datetime(2026, 11, 30, 10, tzinfo=ZONE), ZONE)
    assert snap.path.read_bytes() == b"x" * 100 and snap.size == 100
    with pytest.raises(OSError):
        archive.durable(snap.path)  # the commit waits here: nothing is committed from an unsynced copy
    archive.durable(snap.path)  # asked again (the next attempt): synced anew, not the old refusal again
    assert calls == [snap.path, snap.path]
    archive.durable(snap.path)  # once synced, no further sync
    assert len(calls) == 2
    archive.forget(snap.path)


def test_an_archived_copy_bears_the_moment_its_file_was_taken_to_the_microsecond(tmp_path):
    """Within one second of the archive's names, `watcher recover` orders originals whose log lines were lost
    by these times: the filesystem's own clock ticks too coarsely (milliseconds) to tell copies apart."""
    moments = [datetime(2026, 11, 30, 10, 0, 0, us, tzinfo=ZONE) for us in (900, 200, 100_000)]
    made = []
    for i, at in enumerate(moments):
        source = tmp_path / f"团{i}.csv"
        source.write_bytes(f"{i}".encode() * 10)
        made.append(archive.snapshot(source, tmp_path / "archive", source.name, at, ZONE).path)
    for path, at in zip(made, moments, strict=True):
        assert path.stat().st_mtime_ns == int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000
        archive.durable(path)
        archive.forget(path)


def test_a_quiet_file_with_its_claim_record_written_on_it_is_not_hashed_again(tmp_path, monkeypatch):
    """The claim record, an extended attribute written on the file as its copy is made, moves its ctime:
    the identity taken for a quiet file includes that, so the walk's checks and the archiving tell it is
    unchanged from its inode and times (they hashed it three more times before). A write after still shows."""
    import os

    from watcher.walk.claim import Claim, save_record

    claimed = tmp_path / "团.xlsx"
    claimed.write_bytes(b"x" * 1000)
    old = time.time() - 60
    os.utime(claimed, (old, old))  # quiet: not written for a minute
    record = Claim(claimed, "GZ001", "团.xlsx", "团_结果")
    try:
        os.setxattr(claimed, "user.watcher.probe", b"1")
        os.removexattr(claimed, "user.watcher.probe")
    except OSError:
        pytest.skip("no extended attributes on this filesystem: the record is a file beside it")

    def announce(target, sha):
        save_record(replace(record, archived=str(target), sha256=sha))

    at = datetime(2026, 11, 30, 10, tzinfo=ZONE)
    snap = archive.snapshot(claimed, tmp_path / "archive", "团.xlsx", at, ZONE, announce=announce)
    assert snap.seen is not None
    hashed = []
    real = archive.sha256_of
    monkeypatch.setattr(archive, "sha256_of", lambda path: hashed.append(path) or real(path))
    assert archive.unchanged(record, snap) and hashed == []
    with claimed.open("ab") as f:  # a writer after all: its modification time is now
        f.write(b"y")
    assert not archive.unchanged(record, snap)
    archive.forget(snap.path)
