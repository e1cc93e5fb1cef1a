"""What the ledger's modules share: time as sortable UTC text, its error, the policy SELECT."""

from __future__ import annotations

from datetime import datetime, timezone


class LedgerError(Exception):
    pass


def _t(moment: datetime) -> str:
    """Aware datetime → sortable UTC text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime in the ledger")
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


_POLICY_SELECT = (
    "SELECT p.policy_no, p.agency, p.tour_group, p.region, p.plan_code, v.name, p.plan_version, p.start_at,"
    " p.days, p.end_at, p.route, p.handler, p.sales_id, p.sales_name, p.premium_fen, p.status, p.issued_at,"
    " p.cancelled_at, p.replaces, p.replace_reason, p.statement_no, p.settled_at, p.insured_count"
    " FROM policies p JOIN plan_versions v ON v.id = p.plan_version"
)
