"""The one place that reads the wall clock. Domain code never does: it is handed `now`.

WATCHER_FAKE_NOW (an ISO date-time with offset) pins the clock, so tests can process a request
after its effective hour without changing the machine's time. With WATCHER_FAKE_TICKING=1 the clock
starts at that moment and runs on with real time: a test can start `serve` a few seconds before a
scheduled run and watch it happen.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

_STARTED = time.monotonic()


def now() -> datetime:
    fake = os.environ.get("WATCHER_FAKE_NOW")
    if fake:
        moment = datetime.fromisoformat(fake)
        if moment.tzinfo is None:
            raise ValueError("WATCHER_FAKE_NOW needs an offset, e.g. 2026-12-01T09:00:00+08:00")
        if os.environ.get("WATCHER_FAKE_TICKING") == "1":
            moment += timedelta(seconds=time.monotonic() - _STARTED)
        return moment
    return datetime.now(UTC)
