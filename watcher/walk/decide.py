"""Decide: given the checked request and now, what changes (pure). Any error means nothing changes."""

from __future__ import annotations

from datetime import datetime

from ..kinds.base import Checked, Decision


def decide(kind, checked: Checked, now: datetime) -> Decision:
    if not checked.ok:
        return Decision(status="failed")
    return kind.decide(checked, now)
