"""Commit: the decision's changes, the request record (agency + SHA-256) and the output names, in one
transaction. What the renderers then show is read back from what was committed."""

from __future__ import annotations

from .. import crash
from ..kinds.base import AddPlanVersion, CancelPolicy, Decision, IssuePolicy, SaveAgency
from ..layout import Layout
from .outcome import Outcome


def commit(ledger, layout: Layout, outcome: Outcome, decision: Decision) -> Outcome:
    if decision.status != "success" or not decision.ops:
        # A quote shows what it would issue, a query what it found, a failure nothing: no ledger change.
        outcome.policies = decision.policies
        crash.point("after_commit")
        return outcome
    at = outcome.processed_at
    base_outputs = [outcome.result_stem + ".xlsx", outcome.result_stem + ".json"]
    issued: list[str] = []
    registered: list[str] = []
    # Irreversible: from here the request has changed the ledger, exactly once (unique agency + SHA-256).
    with ledger.atomic():
        request_id = ledger.record_request(agency=outcome.who, sha256=outcome.sha256, file_name=outcome.file_name,
                                           action=outcome.action, at=at, outputs=base_outputs)
        for op in decision.ops:
            if isinstance(op, IssuePolicy):
                issued.append(ledger.issue_policy(op.policy, request_id=request_id))
            elif isinstance(op, CancelPolicy):
                ledger.cancel_policy(op.policy_no, request_id=request_id, at=at, reason=op.reason)
            elif isinstance(op, SaveAgency):
                ledger.save_agency(op.agency, request_id=request_id, at=at)
                registered.append(op.agency.code)
            elif isinstance(op, AddPlanVersion):
                ledger.add_plan_version(op.plan, request_id=request_id, at=at)
            else:
                raise TypeError(op)
        outputs = base_outputs + [policy_page_name(n) for n in issued]
        ledger.finish_request(request_id, policies=issued, cancelled=decision.cancelled, outputs=outputs,
                              result=shown(outcome))
    crash.point("after_commit")
    for code in registered:
        layout.create_agency(code)
    outcome.policies = [ledger.policy(n) for n in issued]
    outcome.outputs = outputs
    return outcome


def shown(outcome: Outcome) -> dict:
    """What the result shows besides the policies, kept so it can be rendered again after a crash."""
    return {
        "warnings": [[p.code, p.message, p.sheet, p.row, p.column, p.col_index] for p in outcome.warnings],
        "summary": outcome.summary,
        "notes": outcome.notes,
        "row_premiums": {str(r): fen for r, fen in outcome.row_premiums.items()},
        "roster_sheet": outcome.roster_sheet,
        "roster_header": outcome.roster_header,
        "tables": [[t.name, t.headers, t.kinds, t.rows, {str(k): v for k, v in t.totals.items()}, t.note]
                   for t in outcome.tables],
        "premium_before": outcome.premium_before,
    }


def policy_page_name(policy_no: str) -> str:
    return f"电子保单_{policy_no}.html"
