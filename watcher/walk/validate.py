"""Validate: read the ledger facts the request needs (the edge), then check everything (pure)."""

from __future__ import annotations

from datetime import datetime

from ..kinds.base import Checked, Request


def validate(kind, request: Request, ledger, now: datetime) -> Checked:
    state = kind.load(ledger, request, request.who)
    return kind.validate(request, state, now)
