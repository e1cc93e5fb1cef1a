"""Crash points that tests can arm, as SQLite's own crash tests do.

WATCHER_CRASH_AT=after_commit kills the process with SIGKILL the first time the walk reaches that
point; `after_commit:3` the third time. WATCHER_PAUSE_AT=before_commit:2 pauses two seconds there each
time instead (a test's writer can change a file the walk has in hand). Unset (always, outside tests),
a point costs one lookup.
"""

from __future__ import annotations

import os
import signal
import time

POINTS = (
    "after_claim",
    "after_copy",  # the archived copy just written (its record names it already)
    "parsing",  # in the parse sandbox, a file received (WATCHER_PAUSE_AT=parsing:3: a parse that takes long)
    "before_commit",
    "after_commit",
    "raising_mark",  # on the thread that syncs the mark of numbers handed out
    "mid_outputs",
    "after_outputs",
    "before_archive",
)
_armed = os.environ.get("WATCHER_CRASH_AT", "")
_name, _, _count = _armed.partition(":")
_remaining = int(_count or 1)
_pause_name, _, _pause_seconds = os.environ.get("WATCHER_PAUSE_AT", "").partition(":")


_service = 0  # in a render helper: the service it works for (a crash there is the service's crash)


def in_helper_of(service: int) -> None:
    """Called in each render helper: a point it reaches kills the service, as a crash of the service there
    would (the helper then dies with it)."""
    global _service
    _service = service


def point(name: str) -> None:
    global _remaining
    if name == _pause_name:
        time.sleep(float(_pause_seconds or 1))
    if name != _name:
        return
    _remaining -= 1
    if _remaining <= 0:
        if _service:
            os.kill(_service, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
