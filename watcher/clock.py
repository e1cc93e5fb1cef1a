"""The one place that reads the wall clock. Domain code never does: it is handed `now`.

WATCHER_FAKE_NOW (an ISO date-time with offset) pins the clock, so tests can process a request
after its effective hour without changing the machine's time.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone


def now() -> datetime:
    fake = os.environ.get("WATCHER_FAKE_NOW")
    if fake:
        moment = datetime.fromisoformat(fake)
        if moment.tzinfo is None:
            raise ValueError("WATCHER_FAKE_NOW needs an offset, e.g. 2026-12-01T09:00:00+08:00")
        return moment
    return datetime.now(timezone.utc)
