"""The small interface every request kind (投保, 撤单, 方案 …) implements, and what flows between stages.

parse(book, who)               -> request (typed) with its problems
load(ledger, request, who)     -> state: the facts of the ledger the kind needs (read only)
validate(request, state, now)  -> Checked: every problem, and the checked values (pure)
decide(checked, now)           -> Decision: what changes (pure)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, Protocol, TypeVar

from ..domain.person import PersonCells
from ..domain.plans import Plan
from ..domain.policy import Agency, Policy
from ..domain.problems import Problem
from ..domain.settlement import Receipt
from ..io.book import Book
from ..io.sheet_table import SheetTable
from ..io.tables import Table

# --- what a decision asks the ledger to do (the commit stage carries these out) ----------


@dataclass(frozen=True)
class IssuePolicy:
    policy: Policy


@dataclass(frozen=True)
class CancelPolicy:
    policy_no: str
    reason: str


@dataclass(frozen=True)
class SaveAgency:
    agency: Agency


@dataclass(frozen=True)
class AddPlanVersion:
    plan: Plan


@dataclass(frozen=True)
class Settle:
    """结账: statements for every (agency, plan) of the month whose policies have all taken effect."""

    month: date
    agency: str | None
    plan: str | None


@dataclass(frozen=True)
class ConfirmStatement:
    statement_no: str
    channel: str
    by: str


@dataclass(frozen=True)
class RecordPayment:
    statement_no: str
    amount_fen: int
    ref: str
    paid_on: date


@dataclass(frozen=True)
class RecordInvoice:
    statement_no: str
    invoice_no: str
    invoiced_on: date


@dataclass(frozen=True)
class ReceiveDeposit:
    receipt: Receipt


@dataclass(frozen=True)
class RefundDeposit:
    receipt_no: str
    refunded_on: date
    ref: str


Op = (
    IssuePolicy
    | CancelPolicy
    | SaveAgency
    | AddPlanVersion
    | Settle
    | ConfirmStatement
    | RecordPayment
    | RecordInvoice
    | ReceiveDeposit
    | RefundDeposit
)


F = TypeVar("F")  # a kind's parsed fields: a frozen dataclass of its own (IssueFields, OnePolicy …)
V = TypeVar("V")  # a kind's checked values: a frozen dataclass of its own (IssueValues …), or None


@dataclass(frozen=True)
class Request(Generic[F]):
    """A parsed request: its kind's typed fields and the problems found while parsing."""

    action: str
    who: str  # the agency code of the folder it came from, or _admin
    fields: F
    problems: list[Problem] = field(default_factory=list)
    roster: Table | None = None  # the roster table found, echoed back in the result
    roster_rows: tuple[tuple[int, PersonCells], ...] = ()  # its rows read, each with its row index

    @property
    def ok(self) -> bool:
        """No error so far (warnings aside), as Checked.ok says it after the checks."""
        return not any(not p.warning for p in self.problems)


@dataclass(frozen=True)
class Checked(Generic[F, V]):
    request: Request[F]
    problems: list[Problem]
    values: V = None  # type: ignore[assignment]  # None for a kind that checks without computing anything

    @property
    def ok(self) -> bool:
        return not any(not p.warning for p in self.problems)


@dataclass(frozen=True)
class Decision:
    status: str  # "success", "quote" or "failed"
    ops: list[Op] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)  # issued (numbered at commit) or quoted or found
    cancelled: list[str] = field(default_factory=list)
    row_premiums: dict[int, int] = field(default_factory=dict)  # roster row index → fen
    notes: list[str] = field(default_factory=list)  # lines for the summary sheet
    # label → value for the summary sheet: text, a count (int) or money (domain.money.Amount)
    summary: dict[str, object] = field(default_factory=dict)
    tables: list[SheetTable] = field(default_factory=list)  # extra sheets of the result
    reprint: list[Policy] = field(default_factory=list)  # policies whose page is written again
    premium_before: int | None = None
    statements: list[str] = field(default_factory=list)  # statements whose files are written (again)
    # What the JSON twin carries besides the envelope, JSON-ready (keys documented in the README):
    # plans, agencies, statements, waiting, confirmed, payments, invoices, deposits, performance.
    content: dict[str, object] = field(default_factory=dict)


class Kind(Protocol):
    action: str
    admin: bool

    def parse(self, book: Book, who: str) -> Request[Any]: ...

    def load(self, ledger: Any, request: Request[Any], who: str) -> Any: ...

    def validate(self, request: Request[Any], state: Any, now: datetime) -> Checked[Any, Any]: ...

    def decide(self, checked: Checked[Any, Any], now: datetime) -> Decision: ...
