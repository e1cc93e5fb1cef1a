"""Settlement requests: 结账, 对账确认, 收费登记, 发票登记, 预交保费, 业绩 (admin) and 对账单查询 (agency).

Each follows the statement's life 待确认 → 已确认 → 已缴费 → 已开票; a request that would skip a step,
repeat one or pay a different amount is refused as a whole and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from ..domain.dates import DateError, parse_date, show_second
from ..domain.money import Amount, MoneyError, parse_fen, yuan_display, yuan_text
from ..domain.policy import AGENCY_ENDED
from ..domain.problems import Problem, problem
from ..domain.settlement import (
    CONFIRMED,
    DEPOSIT_IN,
    DEPOSIT_OUT,
    PAID,
    PENDING,
    STATEMENT_STATES,
    MonthError,
    Receipt,
    Statement,
    month_ended,
    month_text,
    next_month,
    parse_month,
    receipt_valid_until,
)
from ..domain.text import clean, code_text
from ..io.book import Book
from ..io.month_summary import CONFIRM_HEADERS
from ..io.result_json import statement_json
from ..io.sheet_table import SheetTable
from .admin_tables import AdminTable, Rows
from .base import (
    Checked,
    ConfirmStatement,
    Decision,
    ReceiveDeposit,
    RecordInvoice,
    RecordPayment,
    RefundDeposit,
    Request,
    Settle,
)
from .common import BAD, RequestKind
from .forms import columns, samples
from .queries import date_range

ALL = "全部"


@dataclass(frozen=True)
class SettleFields:
    """结账: the month, and one agency or plan (None: 全部)."""

    month: date | None
    agency: str | None
    plan: str | None
    at: dict[str, dict]  # label → where it is on the 申请 sheet


@dataclass(frozen=True)
class Deposits:
    """预交保费 checked: what to record, and the receipts refunded (by number)."""

    ops: list
    refunds: dict[str, Receipt]


@dataclass(frozen=True)
class StatementFilter:
    """对账单查询: statements created in [created_from, created_to) in one status (None: any)."""

    created_from: datetime | None
    created_to: datetime | None
    status: str | None
    label: str  # the status as asked for (全部 included), for the note


@dataclass(frozen=True)
class Statements:
    found: list
    agency_name: str


_code = code_text


def _repeats(table: AdminTable, column: str, keys: list[tuple[int, str]], code: str) -> None:
    seen: dict[str, list[int]] = {}
    for r, key in keys:
        if key:
            seen.setdefault(key, []).append(r)
    for key, rows in seen.items():
        for r in rows if len(rows) > 1 else ():
            table.fail(r, column, code, value=key, rows="、".join(str(o + 1) for o in rows if o != r))


def _required(table: AdminTable, r: int, column: str, *, code: bool = False) -> str:
    value = _code(table.text(r, column)) if code else table.text(r, column)
    if not value:
        table.fail(r, column, "field.empty", label=column)
    return value


class StatementRowsKind(RequestKind):
    """An admin table of rows keyed by 对账单号 (收费登记, 发票登记): each statement once, read from the ledger."""

    admin = True

    def _rows(self, who: str, problems: list[Problem], table: AdminTable, rows: list[tuple]) -> Request[Rows[tuple]]:
        _repeats(table, "对账单号", [(row[0], row[1]) for row in rows], "statement.repeated")
        return Request(self.action, who, Rows(rows, table), problems)

    def load(self, ledger, request: Request[Rows[tuple]], who: str):
        return {row[1]: ledger.statement(row[1]) for row in request.fields.rows if row[1]}

    @staticmethod
    def _known(table: AdminTable, r: int, number: str, s) -> bool:
        """Whether the row names a statement that exists (an unknown one is reported)."""
        if number and s is None:
            table.fail(r, "对账单号", "statement.unknown", value=number)
        return s is not None


def _month(sheet, label: str, code: str, *, required: bool) -> date | None:
    """A YYYY-MM field of the 申请 sheet; an optional one may be blank or 全部 (None: every month)."""
    raw = sheet.present(label) if required else sheet.raw(label)
    if raw is None or raw is BAD or not clean(raw) or (not required and clean(raw) == ALL):
        return None
    try:
        return parse_month(raw)
    except MonthError:
        sheet.fail(code, label, value=clean(raw))
        return None


def _filled(table: AdminTable, r: int, column: str) -> object | None:
    """The cell's value, or None (and the problem recorded) when it is empty."""
    raw = table.raw(r, column)
    if raw is None and table.special(r, column):
        return None  # a formula or an error in the cell: said once, by raw()
    if raw is None or not clean(raw):
        table.fail(r, column, "field.empty", label=column)
        return None
    return raw


def _day(table: AdminTable, r: int, column: str) -> date | None:
    raw = _filled(table, r, column)
    if raw is None:
        return None
    try:
        return parse_date(raw)
    except (DateError, ValueError):
        table.fail(r, column, "date.bad", label=column, value=clean(raw))
        return None


def _money(table: AdminTable, r: int, column: str) -> int | None:
    raw = _filled(table, r, column)
    if raw is None:
        return None
    try:
        fen = parse_fen(raw)
    except MoneyError:
        fen = 0
    if fen <= 0:
        table.fail(r, column, "money.bad", value=clean(raw))
        return None
    return fen


def _reused(
    table: AdminTable, r: int, column: str, value: str | None, number: str, used: dict, here: dict, code: str
) -> None:
    """A voucher or invoice number another statement has (in the ledger, or a row above): a warning, since
    one transfer may pay several statements; `used` learns this row's, `here` the row it was learned from
    (a row above is named as such: nothing of this file is recorded while it has an error)."""
    other = used.get(value) if value else None
    if other is not None and other != number:
        if value in here:
            table.fail(r, column, code + "_here", warning=True, value=value, other=other, above=here[value] + 1)
        else:
            table.fail(r, column, code, warning=True, value=value, other=other)
    elif value and number and value not in used:
        used[value] = number
        here[value] = r


def _not_before_month(table: AdminTable, r: int, column: str, day: date | None, s: Statement) -> None:
    """A payment or invoice dated before the month the statement bills is a typo (业绩 would land in the
    wrong month)."""
    if day is not None and day < s.month:
        table.fail(
            r, column, "statement.dated_before_month", label=column, value=day.isoformat(), month=month_text(s.month)
        )


def _not_future(table: AdminTable, r: int, column: str, day: date | None, now: datetime, zone) -> None:
    today = now.astimezone(zone).date()
    if day is not None and day > today:
        table.fail(r, column, "date.future", label=column, value=day.isoformat(), today=today.isoformat())


def statement_table(statements: list, names: dict[str, str], zone, name: str = "对账单") -> SheetTable:
    rows = [
        [
            s.statement_no,
            s.title + (f"（补 {s.supplements}）" if s.supplements else ""),  # as the month-end summary says it
            s.agency,
            s.agency_name or names.get(s.agency, ""),
            f"{s.plan_code} {s.plan_name}",
            month_text(s.month),
            show_second(s.created_at, zone),
            s.policy_count,
            s.insured_count,
            s.total_fen,
            s.status,
            s.channel,
            s.confirmed_by,
            s.payment_ref,
            s.invoice_no,
        ]
        for s in statements
    ]
    return SheetTable(
        name,
        [
            "对账单号",
            "类型",
            "机构代码",
            "机构名称",
            "方案",
            "结账月份",
            "生成时间",
            "保单数",
            "人数",
            "金额",
            "对账状态",
            "业务渠道",
            "确认人",
            "缴费凭证号",
            "发票号",
        ],
        ["text"] * 7 + ["int", "int", "money"] + ["text"] * 5,
        rows,
        {0: f"合计（{len(statements)} 张）", 9: sum(s.total_fen for s in statements)},
    )


# --- 结账 ----------------------------------------------------------------------------------------


class SettleKind(RequestKind):
    """结账: run settlement now for a month, an agency (or 全部) and a plan (or 全部)."""

    action = "结账"
    admin = True

    def parse(self, book: Book, who: str) -> Request[SettleFields]:
        problems, sheet = self.begin(book)
        month = _month(sheet, "结账月份", "settle.month", required=True)
        agency = _code(sheet.text("机构代码", required=False, limit=40) or ALL)
        plan = _code(sheet.text("方案代码", required=False, limit=40) or ALL)
        fields = SettleFields(
            month,
            None if agency == ALL else agency,
            None if plan == ALL else plan,
            {label: sheet.at(label) for label in ("结账月份", "机构代码", "方案代码")},
        )
        return Request(self.action, who, fields, problems)

    def load(self, ledger, request: Request[SettleFields], who: str):
        return {a.code for a in ledger.agencies()}, {p.code for p in ledger.plans()}

    def validate(self, request: Request[SettleFields], state, now: datetime) -> Checked[SettleFields, None]:
        agencies, plans = state
        problems = list(request.problems)
        f = request.fields
        at = f.at
        if f.month and not month_ended(f.month, now, self.settings.zone):
            problems.append(
                problem(
                    "settle.month_open",
                    **at["结账月份"],
                    month=month_text(f.month),
                    end=f"{next_month(f.month):%Y-%m-%d} 00:00",
                )
            )
        if f.agency and f.agency not in agencies:
            problems.append(problem("settle.agency_unknown", **at["机构代码"], value=f.agency))
        if f.plan and f.plan not in plans:
            problems.append(problem("settle.plan_unknown", **at["方案代码"], value=f.plan))
        return Checked(request, problems)

    def decide(self, checked: Checked[SettleFields, None], now: datetime) -> Decision:
        f = checked.request.fields
        assert f.month is not None  # decided only without problems: the month was read
        return Decision(
            status="success",
            ops=[Settle(f.month, f.agency, f.plan)],
            summary={"结账月份": month_text(f.month), "结账机构": f.agency or ALL, "结账方案": f.plan or ALL},
        )


# --- 对账确认 ----------------------------------------------------------------------------------

CONFIRM_COLUMNS = columns("对账确认")
# Shown beside the cells to fill in the month summary's 对账确认 sheet (io.month_summary.CONFIRM_HEADERS):
# read to check that the row still says what the statement says, never to change it.
SHOWN_COLUMNS: dict[str, tuple[str, ...]] = {"机构代码": (), "金额": ("合计金额",), "保单数": ()}


class ConfirmKind(StatementRowsKind):
    """对账确认: choose each statement's 业务渠道 (irreversible); its policies become 已结."""

    action = "对账确认"

    def parse(self, book: Book, who: str) -> Request[Rows[tuple]]:
        problems: list[Problem] = []
        table = AdminTable(
            book,
            "对账确认",
            {**CONFIRM_COLUMNS, **SHOWN_COLUMNS},
            ("对账单号", "业务渠道", "确认人"),
            problems,
            "对账确认",
            sample=samples("对账确认", self.settings.channels),
            shown=tuple(CONFIRM_HEADERS),
        )
        rows = []
        for r in table.rows:
            number, channel, by = (_code(table.text(r, "对账单号")), table.text(r, "业务渠道"), table.text(r, "确认人"))
            if not channel and not by:
                continue  # a statement staff are not confirming now
            if not number:
                table.fail(r, "对账单号", "field.empty", label="对账单号")
            if not channel or not by:
                table.fail(
                    r,
                    "业务渠道" if not channel else "确认人",
                    "statement.half_filled",
                    filled="确认人" if by else "业务渠道",
                    missing="业务渠道" if not channel else "确认人",
                )
            elif channel not in self.settings.channels:
                table.fail(r, "业务渠道", "statement.channel", value=channel, allowed="、".join(self.settings.channels))
            rows.append((r, number, channel, by, {name: table.raw(r, name) for name in SHOWN_COLUMNS}))
        if table.table is not None and not rows and not problems:
            table.fail(table.table.header_row, "业务渠道", "statement.nothing")  # its header: red, with the why
        return self._rows(who, problems, table, rows)

    def validate(self, request: Request[Rows[tuple]], state, now: datetime) -> Checked[Rows[tuple], dict]:
        """A statement confirmed already: with the same 业务渠道, the row is skipped with a warning (the month's
        summary, filled again for the rest, still holds the rows sent before); with another, refused."""
        table = request.fields.table
        kept = []
        for row in request.fields.rows:
            r, number, channel, _, shown = row
            s = state.get(number)
            if s is not None:
                self._as_shown(table, r, s, shown)
            if self._known(table, r, number, s) and s.status != PENDING:
                table.fail(
                    r,
                    "对账单号",
                    "statement.confirmed_same" if s.channel == channel else "statement.confirmed_already",
                    warning=s.channel == channel,
                    value=number,
                    channel=s.channel,
                    by=s.confirmed_by,
                    at=show_second(s.confirmed_at, self.settings.zone),
                )
                if s.channel == channel:
                    continue
            kept.append(row)
        if request.fields.rows and not kept:
            first = request.fields.rows[0][0]
            table.fail(first, "对账单号", "statement.nothing_new")
        request = replace(request, fields=Rows(kept, table))
        return Checked(request, list(request.problems), state)  # statement number → the statement

    @staticmethod
    def _as_shown(table: AdminTable, r: int, s, shown: dict) -> None:
        """The row's 机构代码, 金额 and 保单数 (the month summary shows them beside the cells to fill) as the
        statement has them. One changed (a disputed amount typed in) was confirmed at the statement's own
        figures, irreversibly, with no word: a confirmation of what the accountant did not agree to."""
        typed = {name: clean(shown.get(name)) for name in SHOWN_COLUMNS}
        differs = []
        if typed["机构代码"] and typed["机构代码"].upper() != s.agency:
            differs.append(("机构代码", typed["机构代码"], s.agency))
        if typed["金额"]:
            try:
                fen = parse_fen(shown.get("金额"))
            except MoneyError:
                fen = None
            if fen != s.total_fen:
                differs.append(("金额", typed["金额"], f"{yuan_display(s.total_fen)} 元"))
        if typed["保单数"] and typed["保单数"].removesuffix(".0") != str(s.policy_count):
            differs.append(("保单数", typed["保单数"], str(s.policy_count)))
        for column, was, is_ in differs:
            table.fail(
                r, column, "statement.confirm_differs", value=s.statement_no, label=column, typed=was, actual=is_
            )

    def decide(self, checked: Checked[Rows[tuple], dict], now: datetime) -> Decision:
        rows = checked.request.fields.rows
        statements = checked.values
        return Decision(
            status="success",
            ops=[ConfirmStatement(n, c, b) for _, n, c, b, _ in rows],
            statements=[n for _, n, _, _, _ in rows],
            notes=[
                f"{n}（{statements[n].agency} {statements[n].plan_code}，{yuan_display(statements[n].total_fen)} 元）："
                f"业务渠道 {c}，确认人 {b}"
                for _, n, c, b, _ in rows
            ],
            summary={
                "确认对账单": len(rows),
                "金额合计": Amount(sum(statements[n].total_fen for _, n, _, _, _ in rows)),
            },
        )


# --- 收费登记 / 发票登记 --------------------------------------------------------------------------

PAYMENT_COLUMNS = columns("收费")
INVOICE_COLUMNS = columns("发票")


class PaymentKind(StatementRowsKind):
    """收费登记: the agency paid a confirmed statement; the amount must equal its total."""

    action = "收费登记"

    def parse(self, book: Book, who: str) -> Request[Rows[tuple]]:
        problems: list[Problem] = []
        table = AdminTable(
            book, "收费", PAYMENT_COLUMNS, ("对账单号", "金额", "缴费凭证号", "到账日期"), problems, "收费登记"
        )
        return self._rows(
            who,
            problems,
            table,
            [
                (
                    r,
                    _required(table, r, "对账单号", code=True),
                    _money(table, r, "金额"),
                    _required(table, r, "缴费凭证号"),
                    _day(table, r, "到账日期"),
                )
                for r in table.rows
            ],
        )

    def load(self, ledger, request: Request[Rows[tuple]], who: str):
        used = {s.payment_ref: s.statement_no for s in ledger.statements() if s.payment_ref}
        return super().load(ledger, request, who), used

    def validate(self, request: Request[Rows[tuple]], state, now: datetime) -> Checked[Rows[tuple], None]:
        table = request.fields.table
        state, used = state
        here: dict[str, int] = {}  # voucher number → the row above that has it
        for r, number, fen, ref, on in request.fields.rows:
            _not_future(table, r, "到账日期", on, now, self.settings.zone)
            _reused(table, r, "缴费凭证号", ref, number, used, here, "statement.ref_reused")
            s = state.get(number)
            if not self._known(table, r, number, s):
                continue
            _not_before_month(table, r, "到账日期", on, s)
            if s.status == PENDING:
                table.fail(r, "对账单号", "statement.not_confirmed", value=number)
            elif s.status != CONFIRMED:
                table.fail(
                    r,
                    "对账单号",
                    "statement.paid_already",
                    value=number,
                    amount=yuan_display(s.paid_fen or 0),
                    ref=s.payment_ref,
                )
            elif fen is not None and fen != s.total_fen:
                diff = fen - s.total_fen
                table.fail(
                    r,
                    "金额",
                    "statement.amount",
                    value=number,
                    amount=yuan_display(fen),
                    total=yuan_display(s.total_fen),
                    diff=f"多 {yuan_display(diff)} 元" if diff > 0 else f"少 {yuan_display(-diff)} 元",
                )
        return Checked(request, list(request.problems))

    def decide(self, checked: Checked[Rows[tuple], None], now: datetime) -> Decision:
        rows = checked.request.fields.rows
        return Decision(
            status="success",
            ops=[RecordPayment(n, fen, ref, on) for _, n, fen, ref, on in rows],
            content={
                "payments": [
                    {"statement_no": n, "amount": yuan_text(fen), "ref": ref, "paid_on": on.isoformat()}
                    for _, n, fen, ref, on in rows
                ]
            },
            statements=[n for _, n, *_ in rows],
            notes=[f"{n}：缴费 {yuan_display(fen)} 元，凭证 {ref}，到账 {on}" for _, n, fen, ref, on in rows],
            summary={"登记缴费": len(rows), "缴费合计": Amount(sum(r[2] for r in rows))},
        )


class InvoiceKind(StatementRowsKind):
    """发票登记: the invoice for a paid statement; from then on its business counts in 业绩."""

    action = "发票登记"

    def parse(self, book: Book, who: str) -> Request[Rows[tuple]]:
        problems: list[Problem] = []
        table = AdminTable(book, "发票", INVOICE_COLUMNS, ("对账单号", "发票号", "开票日期"), problems, "发票登记")
        return self._rows(
            who,
            problems,
            table,
            [
                (
                    r,
                    _required(table, r, "对账单号", code=True),
                    _required(table, r, "发票号", code=True),
                    _day(table, r, "开票日期"),
                )
                for r in table.rows
            ],
        )

    def load(self, ledger, request: Request[Rows[tuple]], who: str):
        invoiced = [s for s in ledger.statements() if s.invoice_no]
        used = {s.invoice_no: s.statement_no for s in invoiced}
        owners = {s.invoice_no: s.agency for s in invoiced}  # an invoice has one buyer: one agency
        return super().load(ledger, request, who), used, owners

    def validate(self, request: Request[Rows[tuple]], state, now: datetime) -> Checked[Rows[tuple], None]:
        table = request.fields.table
        state, used, owners = state
        here: dict[str, int] = {}  # invoice number → the row above that has it
        for r, number, invoice, on in request.fields.rows:
            _not_future(table, r, "开票日期", on, now, self.settings.zone)
            s = state.get(number)
            owner = owners.get(invoice) if invoice else None
            if s is not None and owner is not None and owner != s.agency:
                table.fail(
                    r, "发票号", "statement.invoice_other_agency", value=invoice, other=used[invoice], agency=owner
                )
            else:
                _reused(table, r, "发票号", invoice, number, used, here, "statement.invoice_reused")
            if s is not None and invoice:
                owners.setdefault(invoice, s.agency)
            if not self._known(table, r, number, s):
                continue
            _not_before_month(table, r, "开票日期", on, s)
            if s.status in (PENDING, CONFIRMED):
                table.fail(r, "对账单号", "statement.not_paid", value=number, status=s.status)
            elif s.status != PAID:
                table.fail(r, "对账单号", "statement.invoiced_already", value=number, invoice=s.invoice_no)
            elif on is not None and s.paid_on is not None and s.month <= on < s.paid_on:  # else refused above
                # Allowed (an invoice may come first), but 业绩 counts by this date: worth a second look.
                table.fail(
                    r,
                    "开票日期",
                    "statement.invoiced_before_paid",
                    warning=True,
                    value=on.isoformat(),
                    paid=s.paid_on.isoformat(),
                    month=f"{on:%Y-%m}",
                )
        return Checked(request, list(request.problems))

    def decide(self, checked: Checked[Rows[tuple], None], now: datetime) -> Decision:
        rows = checked.request.fields.rows
        return Decision(
            status="success",
            ops=[RecordInvoice(n, i, on) for _, n, i, on in rows],
            content={
                "invoices": [
                    {"statement_no": n, "invoice_no": i, "invoiced_on": on.isoformat()} for _, n, i, on in rows
                ]
            },
            statements=[n for _, n, *_ in rows],
            notes=[f"{n}：发票 {i}，开票日期 {on}" for _, n, i, on in rows],
            summary={"登记发票": len(rows)},
        )


# --- 预交保费 ------------------------------------------------------------------------------------

DEPOSIT_COLUMNS = columns("预交保费")


class DepositKind(RequestKind):
    """预交保费: a deposit received (receipt valid three years) or refunded (only to an agency that has
    stopped, with nothing unpaid, against its receipt, in full)."""

    action = "预交保费"
    admin = True

    def parse(self, book: Book, who: str) -> Request[Rows[tuple]]:
        problems: list[Problem] = []
        table = AdminTable(
            book,
            "预交保费",
            DEPOSIT_COLUMNS,
            ("机构代码", "类型", "金额", "收据号", "日期"),
            problems,
            "预交保费",
            also=("押金",),
        )
        rows = []
        for r in table.rows:
            agency = _required(table, r, "机构代码", code=True)
            kind = table.text(r, "类型")
            if kind not in (DEPOSIT_IN, DEPOSIT_OUT):
                table.fail(r, "类型", "deposit.type", value=kind)
            receipt = _required(table, r, "收据号", code=True)
            rows.append((r, agency, kind, _money(table, r, "金额"), receipt, _day(table, r, "日期")))
        _repeats(table, "收据号", [(r, n) for r, _, _, _, n, _ in rows], "deposit.repeated")
        return Request(self.action, who, Rows(rows, table), problems)

    def load(self, ledger, request: Request[Rows[tuple]], who: str):
        rows = request.fields.rows
        agencies = {a: ledger.agency(a) for _, a, *_ in rows if a}
        receipts = {n: ledger.receipt(n) for *_, n, _ in rows if n}
        unpaid = {a: ledger.unpaid(a) for _, a, kind, *_ in rows if a and kind == DEPOSIT_OUT}
        return agencies, receipts, unpaid

    def validate(self, request: Request[Rows[tuple]], state, now: datetime) -> Checked[Rows[tuple], Deposits]:
        agencies, receipts, unpaid = state
        table = request.fields.table
        ops: list[ReceiveDeposit | RefundDeposit] = []
        refunds: dict[str, Receipt] = {}  # receipt number → the receipt refunded
        for r, code, kind, fen, number, on in request.fields.rows:
            _not_future(table, r, "日期", on, now, self.settings.zone)
            agency = agencies.get(code)
            if code and agency is None:
                table.fail(r, "机构代码", "deposit.agency_unknown", value=code)
                continue
            old = receipts.get(number)
            if kind == DEPOSIT_IN and number:
                if old is not None:
                    table.fail(
                        r,
                        "收据号",
                        "deposit.receipt_used",
                        value=number,
                        agency=old.agency,
                        on=old.received_on.isoformat(),
                    )
                elif fen and on:
                    if agency is not None and agency.status == AGENCY_ENDED:  # money taken after the parting?
                        table.fail(
                            r, "机构代码", "deposit.received_ended", warning=True, agency=code, amount=yuan_display(fen)
                        )
                    until = receipt_valid_until(on)
                    if until < now.astimezone(self.settings.zone).date():
                        table.fail(r, "日期", "deposit.received_expired", warning=True, on=on, until=until)
                    ops.append(ReceiveDeposit(Receipt(number, code, fen, on, until)))
            elif kind == DEPOSIT_OUT and number and agency is not None:
                if old is None or old.agency != code:
                    table.fail(r, "收据号", "deposit.receipt_unknown", value=number, agency=code)
                    continue
                if old.refunded:
                    table.fail(r, "收据号", "deposit.refunded_already", value=number, on=old.refunded_on.isoformat())
                    continue
                if fen is not None and fen != old.amount_fen:
                    table.fail(
                        r,
                        "金额",
                        "deposit.refund_amount",
                        value=number,
                        amount=yuan_display(fen),
                        receipt=yuan_display(old.amount_fen),
                    )
                if on is not None and on < old.received_on:
                    table.fail(
                        r, "日期", "deposit.refund_before", on=on.isoformat(), received=old.received_on.isoformat()
                    )
                if agency.status != AGENCY_ENDED:
                    table.fail(r, "类型", "deposit.refund_active", agency=code, status=agency.status)
                statements, count, owed = unpaid.get(code, ([], 0, 0))
                if statements or count:
                    what = "，".join(
                        filter(
                            None,
                            [
                                f"{len(statements)} 张对账单未缴费（{'、'.join(s.statement_no for s in statements[:5])}，"
                                f"共 {yuan_display(sum(s.total_fen for s in statements))} 元）"
                                if statements
                                else "",
                                f"{count} 张有效保单尚未结账（共 {yuan_display(owed)} 元）" if count else "",
                            ],
                        )
                    )
                    table.fail(r, "机构代码", "deposit.refund_unpaid", agency=code, what=what)
                if on is not None and on > old.valid_until:
                    table.fail(
                        r, "收据号", "deposit.refund_expired", warning=True, value=number, until=old.valid_until, on=on
                    )
                if on is not None:
                    ops.append(RefundDeposit(number, on, ""))
                    refunds[number] = old
        return Checked(request, list(request.problems), Deposits(ops, refunds))

    def decide(self, checked: Checked[Rows[tuple], Deposits], now: datetime) -> Decision:
        ops = checked.values.ops
        notes = []
        for op in ops:
            if isinstance(op, ReceiveDeposit):
                x = op.receipt
                notes.append(
                    f"收取 {x.agency} 预交保费 {yuan_display(x.amount_fen)} 元，收据 {x.receipt_no}，"
                    f"有效期至 {x.valid_until}"
                )
            else:
                x = checked.values.refunds[op.receipt_no]
                notes.append(
                    f"退还 {x.agency} 预交保费 {yuan_display(x.amount_fen)} 元，收据 {op.receipt_no}，退还日期 {op.refunded_on}"
                )
        refunds = checked.values.refunds
        received = sum(op.receipt.amount_fen for op in ops if isinstance(op, ReceiveDeposit))
        refunded = sum(r.amount_fen for r in refunds.values())
        deposits = []
        for op in ops:
            if isinstance(op, ReceiveDeposit):
                x = op.receipt
                deposits.append(
                    {
                        "type": DEPOSIT_IN,
                        "receipt_no": x.receipt_no,
                        "agency": x.agency,
                        "amount": yuan_text(x.amount_fen),
                        "date": x.received_on.isoformat(),
                        "valid_until": x.valid_until.isoformat(),
                    }
                )
            else:
                x = refunds[op.receipt_no]
                deposits.append(
                    {
                        "type": DEPOSIT_OUT,
                        "receipt_no": x.receipt_no,
                        "agency": x.agency,
                        "amount": yuan_text(x.amount_fen),
                        "date": op.refunded_on.isoformat(),
                        "valid_until": x.valid_until.isoformat(),
                    }
                )
        return Decision(
            status="success",
            ops=ops,
            notes=notes,
            content={"deposits": deposits},
            summary={"登记笔数": len(ops), "收取金额": Amount(received), "退还金额": Amount(refunded)},
        )


# --- 业绩 ----------------------------------------------------------------------------------------


class PerformanceKind(RequestKind):
    """业绩: premium by salesperson and month, from invoiced statements only (month of the invoice)."""

    action = "业绩"
    admin = True

    def parse(self, book: Book, who: str) -> Request[date | None]:
        problems, sheet = self.begin(book)
        month = _month(sheet, "业绩月份", "performance.month", required=False)  # None: every month
        return Request(self.action, who, month, problems)

    def load(self, ledger, request: Request[date | None], who: str):
        return ledger.performance()

    def validate(self, request: Request[date | None], state, now: datetime) -> Checked[date | None, list]:
        month = request.fields
        rows = [p for p in state if month is None or p.month == month_text(month)]
        return Checked(request, list(request.problems), rows)

    def decide(self, checked: Checked[date | None, list], now: datetime) -> Decision:
        rows = checked.values  # the salespeople's rows of that month
        month = checked.request.fields
        table = SheetTable(
            "业绩",
            ["业绩月份", "营销员工号", "营销员姓名", "机构代码", "方案代码", "对账单数", "保单数", "人数", "保费"],
            ["text"] * 5 + ["int"] * 3 + ["money"],
            [
                [
                    p.month,
                    p.sales_id,
                    p.sales_name,
                    p.agency,
                    p.plan_code,
                    p.statements,
                    p.policies,
                    p.insured,
                    p.premium_fen,
                ]
                for p in rows
            ],
            {
                0: "合计",
                # 对账单数 is not summed: one statement with two salespeople's policies is in both their rows.
                6: sum(p.policies for p in rows),
                7: sum(p.insured for p in rows),
                8: sum(p.premium_fen for p in rows),
            },
            note=f"业绩月份 {month_text(month) if month else ALL}：按开票日期所在月份，只计已开票的对账单",
        )
        return Decision(
            status="success",
            tables=[table],
            content={
                "performance_month": month_text(month) if month else ALL,
                "performance": [
                    {
                        "month": p.month,
                        "sales_id": p.sales_id,
                        "sales_name": p.sales_name,
                        "agency": p.agency,
                        "plan": p.plan_code,
                        "statements": p.statements,
                        "policies": p.policies,
                        "insured": p.insured,
                        "premium": yuan_text(p.premium_fen),
                    }
                    for p in rows
                ],
            },
            summary={
                "业绩月份": month_text(month) if month else ALL,
                "业绩保费合计": Amount(sum(p.premium_fen for p in rows)),
            },
        )


# --- 对账单查询 (agency) ---------------------------------------------------------------------------


class StatementQueryKind(RequestKind):
    """对账单查询: this agency's statements by statement date and status, each written again."""

    action = "对账单查询"

    def parse(self, book: Book, who: str) -> Request[StatementFilter]:
        problems, sheet = self.begin(book)
        created_from, created_to = date_range(sheet, self.settings.zone, False, ("生成起期", "生成止期"))
        status = sheet.text("对账状态", required=False, limit=10) or ALL
        if status not in (ALL, *STATEMENT_STATES):
            sheet.fail("query.statement_status", "对账状态", value=status, allowed="、".join((ALL, *STATEMENT_STATES)))
        fields = StatementFilter(created_from, created_to, None if status == ALL else status, status)
        return Request(self.action, who, fields, problems)

    def load(self, ledger, request: Request[StatementFilter], who: str):
        if not request.ok:  # an error: nothing to look for (a warning still looks)
            return [], ""
        f = request.fields
        agency = ledger.agency(who)
        return (
            ledger.statements(agency=who, status=f.status, created_from=f.created_from, created_to=f.created_to),
            agency.name if agency else "",
        )

    def validate(self, request: Request[StatementFilter], state, now: datetime) -> Checked[StatementFilter, Statements]:
        found, name = state
        return Checked(request, list(request.problems), Statements(found, name))

    def decide(self, checked: Checked[StatementFilter, Statements], now: datetime) -> Decision:
        f = checked.request.fields
        found = checked.values.found
        start = f.created_from.date() if f.created_from else None
        end = (f.created_to - timedelta(days=1)).date() if f.created_to else None
        table = statement_table(found, {checked.request.who: checked.values.agency_name}, self.settings.zone)
        total, paid = sum(s.total_fen for s in found), sum(s.paid_fen or 0 for s in found)
        table.note = (
            f"生成日期 {start or '不限'} 至 {end or '不限'}，对账状态 {f.label}；"
            "每张对账单已重新写出（对账单_<对账单号>.xlsx / .json / .html）"
        )
        return Decision(
            status="success",
            tables=[table],
            statements=[s.statement_no for s in found],
            content={"statements": [statement_json(s, self.settings.zone) for s in found]},
            summary={
                "查到对账单": len(found),
                "金额合计": Amount(total),
                # What an accountant chases: how much of it has come in (收费登记), how much is still owed.
                "已收合计": Amount(paid),
                "未收合计": Amount(total - paid),
            },
        )
