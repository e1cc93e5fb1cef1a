"""The archived copy every request is committed from reaches the disk on a thread of its own; `durable`
waits for it, says when the disk refused it, and syncs anew when asked again."""

from __future__ import annotations

import errno
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
