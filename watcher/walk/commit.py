"""Commit: the decision's changes, the request record (agency + SHA-256) and the output names, in one
transaction. What the renderers then show is read back from what was committed."""

from __future__ import annotations

import logging
from typing import Any, cast

from .. import crash
from ..domain.money import Amount
from ..domain.settlement import month_text
from ..io.result_json import statement_json
from ..io.sheet_table import SheetTable
from ..kinds.base import (
    AddPlanVersion,
    CancelPolicy,
    ConfirmStatement,
    Decision,
    IssuePolicy,
    ReceiveDeposit,
    RecordInvoice,
    RecordPayment,
    RefundDeposit,
    SaveAgency,
    Settle,
)
from ..kinds.settlement import statement_table
from .outcome import Outcome

log = logging.getLogger("watcher")


def commit(ledger, outcome: Outcome, decision: Decision) -> Outcome:
    if decision.status != "success" or not decision.ops:
        # A quote shows what it would issue, a query what it found, a failure nothing: no ledger change.
        outcome.policies = decision.policies
        crash.point("after_commit")
        return outcome
    at = outcome.processed_at
    base_outputs = [outcome.result_stem + ".xlsx", outcome.result_stem + ".json"]
    issued: list[str] = []
    # Irreversible: from here the request has changed the ledger, exactly once (unique agency + SHA-256).
    with ledger.atomic():
        request_id = ledger.record_request(
            agency=outcome.who,
            sha256=outcome.sha256,
            file_name=outcome.file_name,
            action=outcome.action,
            at=at,
            outputs=base_outputs,
        )
        for op in decision.ops:
            if isinstance(op, IssuePolicy):
                issued.append(ledger.issue_policy(op.policy, request_id=request_id))
            elif isinstance(op, CancelPolicy):
                ledger.cancel_policy(op.policy_no, request_id=request_id, at=at, reason=op.reason)
            elif isinstance(op, SaveAgency):
                ledger.save_agency(op.agency, request_id=request_id, at=at)
            elif isinstance(op, AddPlanVersion):
                version = ledger.add_plan_version(op.plan, request_id=request_id, at=at)
                for plan in cast(list[dict[str, Any]], outcome.content.get("plans", [])):
                    if plan["code"] == op.plan.code:
                        plan["version"] = version
            elif isinstance(op, Settle):
                _settle(ledger, outcome, op, request_id)
            elif isinstance(op, ConfirmStatement):
                ledger.confirm_statement(op.statement_no, channel=op.channel, by=op.by, at=at, request_id=request_id)
                s = ledger.statement(op.statement_no)
                cast(list[object], outcome.content.setdefault("confirmed", [])).append(statement_json(s, ledger.zone))
                outcome.core.append(s.statement_no)
                outcome.details.append((s.agency, month_text(s.month)))
            elif isinstance(op, RecordPayment):
                ledger.record_payment(
                    op.statement_no,
                    amount_fen=op.amount_fen,
                    ref=op.ref,
                    paid_on=op.paid_on,
                    at=at,
                    request_id=request_id,
                )
            elif isinstance(op, RecordInvoice):
                ledger.record_invoice(
                    op.statement_no, invoice_no=op.invoice_no, invoiced_on=op.invoiced_on, at=at, request_id=request_id
                )
            elif isinstance(op, ReceiveDeposit):
                ledger.add_receipt(op.receipt, at=at, request_id=request_id)
            elif isinstance(op, RefundDeposit):
                ledger.refund_receipt(
                    op.receipt_no, refunded_on=op.refunded_on, ref=op.ref, at=at, request_id=request_id
                )
            else:
                raise TypeError(op)
        outputs = base_outputs + [policy_page_name(n) for n in issued]
        ledger.finish_request(
            request_id, policies=issued, cancelled=decision.cancelled, outputs=outputs, result=outcome.to_json()
        )
    outcome.committed = True  # from here the request is a success; what it shows may only be pending
    crash.point("after_commit")
    outcome.outputs = outputs
    outcome.policies = [ledger.policy(n) for n in issued]
    return outcome


def _settle(ledger, outcome: Outcome, op: Settle, request_id: int) -> None:
    """结账 by request: what was settled and what waits becomes the result's tables."""
    zone = ledger.zone
    created, groups = ledger.settle_month(
        op.month, outcome.processed_at, agency=op.agency, plan=op.plan, request_id=request_id
    )
    names = {a.code: a.name for a in ledger.agencies()}
    outcome.statements += [s.statement_no for s in created]
    outcome.details += sorted({(g.agency, month_text(op.month)) for g in groups})
    table = statement_table(created, names, zone, "新生成对账单")
    waiting = [g for g in groups if g.state == "waiting"]
    outcome.tables = [
        table,
        SheetTable(
            "等待结账",
            ["机构代码", "机构名称", "方案", "未生效保单数", "原因"],
            ["text", "text", "text", "int", "text"],
            [
                [g.agency, names.get(g.agency, ""), f"{g.plan_code} {g.plan_name}", len(g.waiting), g.waits_for(zone)]
                for g in waiting
            ],
        ),
    ]
    outcome.content["statements"] = [statement_json(s, zone) for s in created]
    outcome.content["waiting"] = [
        {
            "agency": g.agency,
            "plan": g.plan_code,
            "policies": [p.policy_no for p in g.waiting],
            "reason": g.waits_for(zone),
        }
        for g in waiting
    ]
    outcome.summary = {
        **outcome.summary,
        "新生成对账单": len(created),
        "新生成金额": Amount(sum(s.total_fen for s in created)),
        "等待结账": len(waiting),
    }
    done = [g for g in groups if g.state == "done"]
    if not created and not waiting:
        outcome.notes.append("没有可结账的保单：" + ("相关保单已全部在对账单中" if done else "该月没有有效保单"))
    for g in waiting:
        outcome.notes.append(f"等待：{g.agency} {g.plan_code}：{g.waits_for(zone)}")


def policy_page_name(policy_no: str) -> str:
    return f"电子保单_{policy_no}.html"
