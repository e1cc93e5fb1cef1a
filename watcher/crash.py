"""Crash points that tests can arm, as SQLite's own crash tests do.

WATCHER_CRASH_AT=after_commit kills the process with SIGKILL the first time the walk reaches that
point; `after_commit:3` the third time. Unset (always, outside tests), a point costs one lookup.
"""

from __future__ import annotations

import os
import signal

POINTS = ("after_claim", "after_commit", "mid_outputs", "after_outputs", "before_archive")
_armed = os.environ.get("WATCHER_CRASH_AT", "")
_name, _, _count = _armed.partition(":")
_remaining = int(_count or 1)


def point(name: str) -> None:
    global _remaining
    if name != _name:
        return
    _remaining -= 1
    if _remaining <= 0:
        os.kill(os.getpid(), signal.SIGKILL)
