"""The JSON twin of a result (docs/results.md), for agencies' own systems."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo

from ..domain.money import yuan_text
from ..domain.policy import Policy
from .result_book import premium_total
from .sheet_table import AMENDED, CHANGES


def policy_json(policy: Policy, zone: tzinfo, now: datetime | None = None) -> dict:
    """`now`: the status as the result's sheets show it then (有效 whose cover has ended: 已到期)."""
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
        "status": policy.shown_status(now) if now is not None else policy.status,
        "replaces": policy.replaces or None,
        "replace_reason": policy.replace_reason or None,
        "issued_at": policy.issued_at.astimezone(zone).isoformat(timespec="seconds"),
        # As the workbook's 结算状态 and 对账单号 columns say them (保单查询, 业务明细, 补打保单).
        "settlement": "已结" if policy.settled else "未结",
        "statement_no": policy.statement_no or None,
    }


def plan_json(plan, number: int | None = None) -> dict:
    """`number`: which upload of this plan code the version is (1 the first): the 版本号 staff read; the
    ledger's own id of it, shared by all plans, is `version_id`."""
    return {
        "code": plan.code,
        "name": plan.name,
        "region": plan.region,
        "min_age": plan.min_age,
        "max_age": plan.max_age,
        "max_days": plan.max_days,
        "version": number,
        "version_id": plan.version or None,
        "rates": [{"days_from": b.low, "days_to": b.high, "premium": yuan_text(b.price_fen)} for b in plan.rates],
        "age_factors": [{"age_from": f.low, "age_to": f.high, "factor": str(f.factor)} for f in plan.factors],
        "coverages": [{"item": c.item, "sum_insured": yuan_text(c.sum_fen)} for c in plan.coverages],
    }


def agency_json(agency) -> dict:
    return {
        "code": agency.code,
        "name": agency.name,
        "license_no": agency.license_no,
        "agreement_no": agency.agreement_no,
        "plans": list(agency.plans),
        "status": agency.status,
    }


def statement_json(s, zone: tzinfo) -> dict:
    """A statement as the admin results and 对账单查询 list it (its own file, 对账单_<no>.json, has its policies)."""
    return {
        "statement_no": s.statement_no,
        "supplements": s.supplements or None,
        "agency": s.agency,
        "plan": s.plan_code,
        "plan_name": s.plan_name,
        "month": f"{s.month:%Y-%m}",
        "created_at": s.created_at.astimezone(zone).isoformat(timespec="seconds"),
        "status": s.status,
        "total": yuan_text(s.total_fen),
        "policy_count": s.policy_count,
        "insured_count": s.insured_count,
        "channel": s.channel or None,
        "confirmed_by": s.confirmed_by or None,
        "paid": yuan_text(s.paid_fen) if s.paid_fen is not None else None,
        "payment_ref": s.payment_ref or None,
        "paid_on": s.paid_on.isoformat() if s.paid_on else None,
        "invoice_no": s.invoice_no or None,
        "invoiced_on": s.invoiced_on.isoformat() if s.invoiced_on else None,
    }


def envelope(outcome, zone: tzinfo) -> dict:
    issued = [p for p in outcome.policies if p.policy_no]
    data = {
        "file": outcome.file_name,
        "sha256": outcome.sha256,
        "agency": outcome.who,
        "action": outcome.action or None,
        "status": outcome.status,
        # 业务明细 says 有效 or 已撤单, as its sheet and filter do; elsewhere an ended 有效 is 已到期.
        "policies": [
            policy_json(p, zone, None if outcome.action == "业务明细" else outcome.processed_at) for p in issued
        ],
        "cancelled": list(outcome.cancelled),
        "premium_total": yuan_text(premium_total(outcome)),
        "errors": [p.as_json() for p in outcome.errors],
        "warnings": [p.as_json() for p in outcome.warnings],
        # The summary's notes (a 批改 repriced with new rates, a 重复提交's policies since replaced …): the
        # workbook's words, for agencies' systems too.
        "notes": list(outcome.notes),
        "processed_at": outcome.processed_at.astimezone(zone).isoformat(timespec="seconds"),
        "result_file": outcome.result_stem + ".xlsx",
    }
    if outcome.status == "quote":
        # What would be issued: no number, no status and no issue time, for nothing was issued.
        data["quote"] = [
            {**policy_json(p, zone), "status": "试算", "issued_at": None, "settlement": None} for p in outcome.policies
        ]
    if outcome.premium_before is not None:
        data["premium_before"] = yuan_text(outcome.premium_before)
    for table in outcome.tables:
        if table.name == CHANGES:
            data["changes"] = [dict(zip(table.headers, row, strict=False)) for row in table.rows]
        elif table.name == AMENDED:
            data["amended"] = [dict(zip(table.headers, row, strict=False)) for row in table.rows]
    if outcome.first_processed_at is not None:
        data["first_processed_at"] = outcome.first_processed_at.astimezone(zone).isoformat(timespec="seconds")
    if outcome.status in ("success", "duplicate"):
        content = dict(outcome.content)  # what an admin result (or 对账单查询) carries: plans, statements …
        successors = content.pop("successors", None)  # 保单查询: the policies issued from each found one
        if successors is not None:
            for policy in data["policies"]:
                policy["successors"] = successors.get(policy["policy_no"], [])
        insured = content.pop("insured", None)  # 保单查询: each policy's people, as its 被保险人 sheet lists them
        if insured is not None:
            for policy in data["policies"]:
                policy["insured"] = insured.get(policy["policy_no"], [])
        heads = content.pop("heads", None)  # a duplicate: what replaces each policy now, as its notes say
        if heads is not None:
            for policy in data["policies"]:
                if policy["policy_no"] in heads:  # a void one: its number in force, or null (cancelled outright)
                    policy["replaced_by"] = heads[policy["policy_no"]]
        data.update(content)
    return data


def dumps(outcome, zone: tzinfo) -> bytes:
    return json.dumps(envelope(outcome, zone), ensure_ascii=False, indent=2).encode("utf-8")
