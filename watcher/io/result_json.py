"""The JSON twin of a result (SPEC §4), for agencies' own systems."""

from __future__ import annotations

import json
from datetime import tzinfo

from ..domain.money import yuan_text
from ..domain.policy import Policy
from .result_book import premium_total


def policy_json(policy: Policy, zone: tzinfo) -> dict:
    return {
        "policy_no": policy.policy_no or None,
        "tour_group": policy.tour_group,
        "plan": policy.plan_code,
        "plan_name": policy.plan_name,
        "region": policy.region,
        "insured_count": policy.insured_count,
        "premium": yuan_text(policy.premium_fen),
        "start": policy.start.astimezone(zone).isoformat(),
        "end": policy.end.astimezone(zone).isoformat(),
        "days": policy.days,
        "status": policy.status,
        "replaces": policy.replaces or None,
        "replace_reason": policy.replace_reason or None,
        "issued_at": policy.issued_at.astimezone(zone).isoformat(timespec="seconds"),
    }


def envelope(outcome, zone: tzinfo) -> dict:
    issued = [p for p in outcome.policies if p.policy_no]
    data = {
        "file": outcome.file_name,
        "sha256": outcome.sha256,
        "agency": outcome.who,
        "action": outcome.action or None,
        "status": outcome.status,
        "policies": [policy_json(p, zone) for p in issued],
        "cancelled": list(outcome.cancelled),
        "premium_total": yuan_text(premium_total(outcome)),
        "errors": [p.as_json() for p in outcome.errors],
        "warnings": [p.as_json() for p in outcome.warnings],
        "processed_at": outcome.processed_at.astimezone(zone).isoformat(timespec="seconds"),
        "result_file": outcome.result_stem + ".xlsx",
    }
    if outcome.status == "quote":
        data["quote"] = [policy_json(p, zone) for p in outcome.policies]
    if outcome.premium_before is not None:
        data["premium_before"] = yuan_text(outcome.premium_before)
    for table in outcome.tables:
        if table.name == "人员变更":
            data["changes"] = [dict(zip(table.headers, row)) for row in table.rows]
    if outcome.first_processed_at is not None:
        data["first_processed_at"] = outcome.first_processed_at.astimezone(zone).isoformat(timespec="seconds")
    return data


def dumps(outcome, zone: tzinfo) -> bytes:
    return json.dumps(envelope(outcome, zone), ensure_ascii=False, indent=2).encode("utf-8")
