"""The ledger's month-end part: statements and their life, deposit receipts, month-end runs.

Mixed into `Ledger`; the same rules as the rest of the ledger: writes inside `atomic()`, each one
journalled, every state change guarded by a WHERE on the state it leaves (a second confirmation
changes no row and raises).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from ..domain.policy import ACTIVE, Policy
from ..domain.settlement import (
    CONFIRMED,
    INVOICED,
    PAID,
    PENDING,
    UNPAID_STATES,
    Group,
    Receipt,
    Statement,
    group_month,
    month_bounds,
    month_of,
    month_text,
    settle_state,
    statement_number,
)
from .common import POLICY_SELECT, LedgerError, from_text, to_text
from .db import Database


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    month: date
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    created: int
    waiting: int
    summary: dict


@dataclass(frozen=True, slots=True)
class Performance:
    month: str  # of the invoice date
    sales_id: str
    sales_name: str
    agency: str
    plan_code: str
    policies: int
    insured: int
    premium_fen: int
    statements: int


_STATEMENT_COLS = (
    "statement_no, agency, plan_code, plan_name, month, created_at, total_fen, policy_count,"
    " insured_count, status, channel, confirmed_by, confirmed_at, paid_fen, payment_ref, paid_on,"
    " invoice_no, invoiced_on, supplements, agency_name"
)


def _d(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


class SettlementLedger:
    """Methods `Ledger` gains for month-end (uses its conn, to_text, from_text, _journal, _next, _need_tx)."""

    # What `Ledger` provides, declared for the type checker only (defined there).
    conn: Database
    zone: tzinfo
    printed: Any
    given: dict[str, list[int]] | None
    if TYPE_CHECKING:

        def _unprinted(self, sequence: str, number: str, agency: str, looked: Any, again: Any) -> str: ...

        def _need_tx(self) -> None: ...

        def _journal(
            self, at: datetime, request_id: int | None, agency: str, event: str, ref: str, detail: dict[str, Any]
        ) -> None: ...

        def _next(self, name: str) -> int: ...

        def _policy(self, row: tuple[Any, ...], with_people: bool) -> Policy: ...

    # --- policies by month ----------------------------------------------------------------

    def month_policies(
        self, start: datetime, end: datetime, *, agency: str | None = None, plan: str | None = None
    ) -> list[Policy]:
        """Policies applied for (投保时间) in [start, end), without their people, oldest first."""
        sql = POLICY_SELECT + " WHERE p.issued_at >= ? AND p.issued_at < ?"
        args: list = [to_text(start), to_text(end)]
        if agency:
            sql += " AND p.agency = ?"
            args.append(agency)
        if plan:
            sql += " AND p.plan_code = ?"
            args.append(plan)
        rows = self.conn.execute(sql + " ORDER BY p.agency, p.issued_at, p.policy_no", args).fetchall()
        return [self._policy(r, False) for r in rows]

    def month_agencies(self, start: datetime, end: datetime) -> dict[str, int]:
        """Agency code → how many policies it applied for (投保时间) in [start, end)."""
        rows = self.conn.execute(
            "SELECT agency, COUNT(*) FROM policies WHERE issued_at >= ? AND issued_at < ? GROUP BY agency",
            (to_text(start), to_text(end)),
        )
        return {agency: count for agency, count in rows.fetchall()}

    def unsettled_months(self, now: datetime) -> set[date]:
        """Ended months (by 投保时间, desk time) that hold live policies in effect and in no statement."""
        start_of_this_month = month_bounds(month_of(now, self.zone), self.zone)[0]
        rows = self.conn.execute(
            "SELECT DISTINCT substr(issued_at, 1, 13) FROM policies WHERE status = ?"
            " AND statement_no = '' AND start_at <= ? AND issued_at < ?",
            (ACTIVE, to_text(now), to_text(start_of_this_month)),
        )
        # UTC text to the hour: enough to place each in its month in the desk's zone.
        return {month_of(datetime.fromisoformat(hour + ":00:00+00:00"), self.zone) for (hour,) in rows}

    def first_issued_at(self) -> datetime | None:
        row = self.conn.execute("SELECT MIN(issued_at) FROM policies").fetchone()
        return from_text(row[0]) if row and row[0] else None

    def statement_policies(self, statement_no: str) -> list[Policy]:
        rows = self.conn.execute(
            POLICY_SELECT + " WHERE p.statement_no = ? ORDER BY p.issued_at, p.policy_no", (statement_no,)
        ).fetchall()
        return [self._policy(r, False) for r in rows]

    # --- statements -----------------------------------------------------------------------

    def create_statement(
        self,
        agency: str,
        plan_code: str,
        plan_name: str,
        month: date,
        policies: list[Policy],
        *,
        at: datetime,
        request_id: int | None = None,
        run_id: int | None = None,
    ) -> Statement:
        """A new statement with a number never used before; each policy joins it only if it is still
        live and in no statement (checked by the UPDATE itself, inside the transaction)."""
        self._need_tx()
        number = statement_number(month, self._next("statement"))
        if self.printed is not None and self.given is None:
            number = self._unprinted(
                "statement", number, agency, self.printed.statement, lambda n: statement_number(month, n)
            )
        total = sum(p.premium_fen for p in policies)
        insured = sum(p.insured_count for p in policies)
        # Business recorded later for a month already settled (a correction, a clock moved back) gets a
        # statement of its own that names the first: a statement is never reopened.
        first = (
            self.conn.execute(
                "SELECT MIN(statement_no) FROM statements WHERE agency = ? AND plan_code = ? AND month = ?",
                (agency, plan_code, month_text(month)),
            ).fetchone()[0]
            or ""
        )
        named = self.conn.execute("SELECT name FROM agencies WHERE code = ?", (agency,)).fetchone()
        self.conn.execute(
            f"INSERT INTO statements ({_STATEMENT_COLS}, request_id, run_id) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', NULL, NULL, '', NULL, '', NULL, ?, ?, ?, ?)",
            (
                number,
                agency,
                plan_code,
                plan_name,
                month_text(month),
                to_text(at),
                total,
                len(policies),
                insured,
                PENDING,
                first,
                named[0] if named else "",
                request_id,
                run_id,
            ),
        )
        numbers = [p.policy_no for p in policies]
        for i in range(0, len(numbers), 500):
            chunk = numbers[i : i + 500]
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(
                f"UPDATE policies SET statement_no = ? WHERE policy_no IN ({marks}) AND agency = ? AND plan_code = ?"
                " AND status = ? AND statement_no = ''",
                (number, *chunk, agency, plan_code, ACTIVE),
            )
            if cur.rowcount != len(chunk):
                raise LedgerError(f"statement {number}: a policy changed or is already in a statement")
        self._journal(
            at,
            request_id,
            agency,
            "statement.created",
            number,
            {
                "plan": plan_code,
                "month": month_text(month),
                "total_fen": total,
                "run_id": run_id,
                "supplements": first,
                "policies": [[p.policy_no, p.premium_fen] for p in policies],
            },
        )
        made = self.statement(number)
        assert made is not None  # inserted above, in this transaction
        return made

    def settle_month(
        self,
        month: date,
        now: datetime,
        *,
        agency: str | None = None,
        plan: str | None = None,
        request_id: int | None = None,
        run_id: int | None = None,
    ) -> tuple[list[Statement], list[Group]]:
        """Inside the caller's transaction: a statement for every (agency, plan) of the month whose live
        policies have all taken effect; the groups as found (waiting ones say what they wait for)."""
        self._need_tx()
        start, end = month_bounds(month, self.zone)
        groups = settle_state(group_month(self.month_policies(start, end, agency=agency, plan=plan)), now)
        created = [
            self.create_statement(
                g.agency, g.plan_code, g.billed_name(), month, g.ready, at=now, request_id=request_id, run_id=run_id
            )
            for g in groups
            if g.state == "ready"
        ]
        return created, groups

    def statement(self, statement_no: str, *, agency: str | None = None) -> Statement | None:
        sql = f"SELECT {_STATEMENT_COLS} FROM statements WHERE statement_no = ?"
        args: tuple = (statement_no,)
        if agency is not None:
            sql += " AND agency = ?"
            args += (agency,)
        row = self.conn.execute(sql, args).fetchone()
        return self._statement(row) if row else None

    def statements(
        self,
        *,
        agency: str | None = None,
        month: date | None = None,
        status: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> list[Statement]:
        sql = f"SELECT {_STATEMENT_COLS} FROM statements WHERE 1 = 1"
        args: list = []
        for column, value in (("agency", agency), ("month", month_text(month) if month else None), ("status", status)):
            if value:
                sql += f" AND {column} = ?"
                args.append(value)
        if created_from:
            sql += " AND created_at >= ?"
            args.append(to_text(created_from))
        if created_to:
            sql += " AND created_at < ?"
            args.append(to_text(created_to))
        return [self._statement(r) for r in self.conn.execute(sql + " ORDER BY statement_no", args)]

    def _statement(self, r: tuple) -> Statement:
        return Statement(
            r[0],
            r[1],
            r[2],
            r[3],
            date.fromisoformat(r[4] + "-01"),
            from_text(r[5]),
            r[6],
            r[7],
            r[8],
            r[9],
            r[10],
            r[11],
            from_text(r[12]),
            r[13],
            r[14],
            _d(r[15]),
            r[16],
            _d(r[17]),
            r[18],
            r[19],
        )

    def _advance(self, statement_no: str, sql: str, args: tuple, was: str) -> str:
        cur = self.conn.execute(
            f"UPDATE statements SET {sql} WHERE statement_no = ? AND status = ?", (*args, statement_no, was)
        )
        if cur.rowcount != 1:
            raise LedgerError(f"statement {statement_no} is not {was}")
        return self.conn.execute("SELECT agency FROM statements WHERE statement_no = ?", (statement_no,)).fetchone()[0]

    def confirm_statement(self, statement_no: str, *, channel: str, by: str, at: datetime, request_id: int) -> None:
        """待确认 → 已确认 (irreversible); its policies become 已结."""
        self._need_tx()
        agency = self._advance(
            statement_no,
            "status = ?, channel = ?, confirmed_by = ?, confirmed_at = ?",
            (CONFIRMED, channel, by, to_text(at)),
            PENDING,
        )
        self.conn.execute("UPDATE policies SET settled_at = ? WHERE statement_no = ?", (to_text(at), statement_no))
        self._journal(at, request_id, agency, "statement.confirmed", statement_no, {"channel": channel, "by": by})

    def record_payment(
        self, statement_no: str, *, amount_fen: int, ref: str, paid_on: date, at: datetime, request_id: int
    ) -> None:
        self._need_tx()
        total = self.conn.execute("SELECT total_fen FROM statements WHERE statement_no = ?", (statement_no,)).fetchone()
        if total is None or total[0] != amount_fen:
            raise LedgerError(f"payment for {statement_no} does not equal its total")
        agency = self._advance(
            statement_no,
            "status = ?, paid_fen = ?, payment_ref = ?, paid_on = ?",
            (PAID, amount_fen, ref, paid_on.isoformat()),
            CONFIRMED,
        )
        self._journal(
            at,
            request_id,
            agency,
            "statement.paid",
            statement_no,
            {"amount_fen": amount_fen, "ref": ref, "paid_on": paid_on.isoformat()},
        )

    def record_invoice(
        self, statement_no: str, *, invoice_no: str, invoiced_on: date, at: datetime, request_id: int
    ) -> None:
        self._need_tx()
        agency = self._advance(
            statement_no,
            "status = ?, invoice_no = ?, invoiced_on = ?",
            (INVOICED, invoice_no, invoiced_on.isoformat()),
            PAID,
        )
        self._journal(
            at,
            request_id,
            agency,
            "statement.invoiced",
            statement_no,
            {"invoice_no": invoice_no, "invoiced_on": invoiced_on.isoformat()},
        )

    def unpaid(self, agency: str) -> tuple[list[Statement], int, int]:
        """What an agency still owes: statements not yet paid, and live policies in no statement (count, fen)."""
        statements = [s for s in self.statements(agency=agency) if s.status in UNPAID_STATES]
        count, fen = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(premium_fen), 0) FROM policies WHERE agency = ? AND status = ?"
            " AND statement_no = ''",
            (agency, ACTIVE),
        ).fetchone()
        return statements, count, fen

    def performance(self) -> list[Performance]:
        """业绩: premium of invoiced statements by invoice month, salesperson, agency and plan."""
        rows = self.conn.execute(
            "SELECT substr(s.invoiced_on, 1, 7), p.sales_id, p.sales_name, p.agency, p.plan_code, COUNT(*),"
            " SUM(p.insured_count), SUM(p.premium_fen), COUNT(DISTINCT s.statement_no)"
            " FROM statements s JOIN policies p ON p.statement_no = s.statement_no WHERE s.status = ?"
            " GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
            (INVOICED,),
        )
        return [Performance(*r) for r in rows]

    # --- deposits (预交保费) ----------------------------------------------------------------

    def receipt(self, receipt_no: str) -> Receipt | None:
        row = self.conn.execute(
            "SELECT receipt_no, agency, amount_fen, received_on, valid_until, refunded_on, refund_ref"
            " FROM deposits WHERE receipt_no = ?",
            (receipt_no,),
        ).fetchone()
        return self._receipt(row) if row else None

    def receipts(self, agency: str | None = None) -> list[Receipt]:
        sql = "SELECT receipt_no, agency, amount_fen, received_on, valid_until, refunded_on, refund_ref FROM deposits"
        args: tuple = ()
        if agency:
            sql += " WHERE agency = ?"
            args = (agency,)
        return [self._receipt(r) for r in self.conn.execute(sql + " ORDER BY agency, received_on, receipt_no", args)]

    @staticmethod
    def _receipt(r: tuple) -> Receipt:
        return Receipt(r[0], r[1], r[2], date.fromisoformat(r[3]), date.fromisoformat(r[4]), _d(r[5]), r[6])

    def add_receipt(self, receipt: Receipt, *, at: datetime, request_id: int) -> None:
        self._need_tx()
        self.conn.execute(
            "INSERT INTO deposits (receipt_no, agency, amount_fen, received_on, valid_until, request_id)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                receipt.receipt_no,
                receipt.agency,
                receipt.amount_fen,
                receipt.received_on.isoformat(),
                receipt.valid_until.isoformat(),
                request_id,
            ),
        )
        self._journal(
            at,
            request_id,
            receipt.agency,
            "deposit.received",
            receipt.receipt_no,
            {
                "amount_fen": receipt.amount_fen,
                "received_on": receipt.received_on.isoformat(),
                "valid_until": receipt.valid_until.isoformat(),
            },
        )

    def refund_receipt(self, receipt_no: str, *, refunded_on: date, ref: str, at: datetime, request_id: int) -> None:
        self._need_tx()
        cur = self.conn.execute(
            "UPDATE deposits SET refunded_on = ?, refund_ref = ?, refund_request_id = ? WHERE receipt_no = ?"
            " AND refunded_on IS NULL",
            (refunded_on.isoformat(), ref, request_id, receipt_no),
        )
        if cur.rowcount != 1:
            raise LedgerError(f"receipt {receipt_no} cannot be refunded")
        row = self.conn.execute(
            "SELECT agency, amount_fen FROM deposits WHERE receipt_no = ?", (receipt_no,)
        ).fetchone()
        self._journal(
            at,
            request_id,
            row[0],
            "deposit.refunded",
            receipt_no,
            {"amount_fen": row[1], "refunded_on": refunded_on.isoformat(), "ref": ref},
        )

    # --- month-end runs -------------------------------------------------------------------

    def run_statements(self, run_id: int) -> list[Statement]:
        """The statements a month-end run created."""
        numbers = [
            n
            for (n,) in self.conn.execute(
                "SELECT statement_no FROM statements WHERE run_id = ? ORDER BY statement_no", (run_id,)
            )
        ]
        return [s for n in numbers if (s := self.statement(n)) is not None]

    def start_run(self, month: date, trigger: str, at: datetime) -> int:
        self._need_tx()
        run_id = self.conn.execute(
            "INSERT INTO month_end_runs (month, trigger, started_at) VALUES (?, ?, ?) RETURNING id",
            (month_text(month), trigger, to_text(at)),
        ).fetchone()[0]
        self._journal(
            at, None, "_admin", "month_end.started", month_text(month), {"run_id": run_id, "trigger": trigger}
        )
        return run_id

    def finish_run(self, run_id: int, *, created: int, waiting: int, summary: dict, at: datetime) -> None:
        self._need_tx()
        self.conn.execute(
            "UPDATE month_end_runs SET finished_at = ?, created = ?, waiting = ?, summary = ? WHERE id = ?",
            (to_text(at), created, waiting, json.dumps(summary, ensure_ascii=False), run_id),
        )
        month = self.conn.execute("SELECT month FROM month_end_runs WHERE id = ?", (run_id,)).fetchone()[0]
        self._journal(
            at, None, "_admin", "month_end.finished", month, {"run_id": run_id, "created": created, "waiting": waiting}
        )

    def set_run_summary(self, run_id: int, summary: dict) -> None:
        """What a finished run says of itself, brought up to date (its files written later: month_end.py)."""
        self._need_tx()
        self.conn.execute(
            "UPDATE month_end_runs SET summary = ? WHERE id = ?", (json.dumps(summary, ensure_ascii=False), run_id)
        )

    def runs(self) -> list[Run]:
        return [
            Run(i, date.fromisoformat(m + "-01"), t, from_text(s), from_text(f), c, w, json.loads(j))
            for i, m, t, s, f, c, w, j in self.conn.execute(
                "SELECT id, month, trigger, started_at, finished_at, created, waiting, summary"
                " FROM month_end_runs ORDER BY id"
            )
        ]
