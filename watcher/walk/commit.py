"""Commit: the decision's changes, the request record (agency + SHA-256) and the output names, in one
transaction; nothing else (no files, no tables: what only the commit can tell is shown by walk/shows.py
inside the same transaction, so the request's record holds it). What the renderers then show is read back
from what was committed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .. import crash
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
from .names import policy_page_name
from .outcome import Outcome
from .shows import Committed, Shown, show_committed, shown_decided


def commit(ledger, frame: Outcome, decision: Decision) -> Outcome:
    """The outcome of the walk, built here in one go from the frame (the file as read, its problems) and
    the decision, with what the commit made of it."""
    if decision.status != "success" or not decision.ops:
        # A quote shows what it would issue, a query what it found, a failure nothing: no ledger change.
        crash.point("after_commit")
        return built(frame, decision, shown_decided(decision), policies=decision.policies)
    at = frame.processed_at
    base_outputs = [frame.result_stem + ".xlsx", frame.result_stem + ".json"]
    done = Committed()
    people: dict[str, tuple] = {}  # policy number → the people just stored with it
    # Irreversible: from here the request has changed the ledger, exactly once (unique agency + SHA-256).
    with ledger.atomic():
        request_id = ledger.record_request(
            agency=frame.who,
            sha256=frame.sha256,
            file_name=frame.file_name,
            action=frame.action,
            at=at,
            outputs=base_outputs,
        )
        for op in decision.ops:
            if isinstance(op, IssuePolicy):
                number = ledger.issue_policy(op.policy, request_id=request_id)
                done.issued.append(number)
                people[number] = tuple(op.policy.people)
            elif isinstance(op, CancelPolicy):
                ledger.cancel_policy(op.policy_no, request_id=request_id, at=at, reason=op.reason)
            elif isinstance(op, SaveAgency):
                ledger.save_agency(op.agency, request_id=request_id, at=at)
            elif isinstance(op, AddPlanVersion):
                done.versions[op.plan.code] = ledger.add_plan_version(op.plan, request_id=request_id, at=at)
            elif isinstance(op, Settle):
                created, groups = ledger.settle_month(
                    op.month, at, agency=op.agency, plan=op.plan, request_id=request_id
                )
                done.settled.append((op, created, groups))
            elif isinstance(op, ConfirmStatement):
                ledger.confirm_statement(op.statement_no, channel=op.channel, by=op.by, at=at, request_id=request_id)
                done.confirmed.append(ledger.statement(op.statement_no))
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
        # What only the commit could tell (plan versions, statements made, what waits) becomes part of what the
        # result shows, and is recorded with the request for showing it again after a crash.
        outputs = base_outputs + [policy_page_name(n) for n in done.issued]
        outcome = built(
            frame,
            decision,
            show_committed(decision, done, ledger),
            # Each as stored; its people are those just stored with it (not read back: 10,000 rows).
            policies=[replace(ledger.policy(n, people=False), people=people[n]) for n in done.issued],
            outputs=outputs,
            committed=True,  # once the transaction ends the request is a success; its outputs may only be pending
        )
        ledger.finish_request(
            request_id, policies=done.issued, cancelled=decision.cancelled, outputs=outputs, result=outcome.to_json()
        )
    crash.point("after_commit")
    return replace(outcome, numbers={name: list(drawn) for name, drawn in ledger.drawn.items()})


def built(frame: Outcome, decision: Decision, shown: Shown, **changes: Any) -> Outcome:
    """The outcome: the frame with what was decided and what the result shows."""
    return replace(
        frame,
        status=decision.status,
        cancelled=decision.cancelled,
        row_premiums=decision.row_premiums,
        reprint=decision.reprint,
        premium_before=decision.premium_before,
        summary=shown.summary,
        notes=shown.notes,
        tables=shown.tables,
        statements=shown.statements,
        core=shown.core,
        details=shown.details,
        content=shown.content,
        **changes,
    )
