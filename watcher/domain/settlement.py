"""Month-end rules (pure): months, which plans can be settled, statement numbers and states, the
schedule, deposit receipts, and amounts in Chinese capitals. Everything takes `now`; nothing reads a clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from .policy import ACTIVE, Policy
from .text import fold

PENDING = "待确认"
CONFIRMED = "已确认"
PAID = "已缴费"
INVOICED = "已开票"
STATEMENT_STATES = (PENDING, CONFIRMED, PAID, INVOICED)
UNPAID_STATES = (PENDING, CONFIRMED)

DEPOSIT_IN = "收取"
DEPOSIT_OUT = "退还"
DEPOSIT_YEARS = 3
DEPOSIT_WARN_DAYS = 30


class MonthError(ValueError):
    pass


# --- months ---------------------------------------------------------------------------------


def parse_month(value: object) -> date:
    """'2026-11', '2026/11', '2026年11月', a date or date-time → the first day of that month."""
    if isinstance(value, datetime):
        return date(value.year, value.month, 1)
    if isinstance(value, date):
        return date(value.year, value.month, 1)
    text = fold(str(value or "")).strip()  # ２０２６－１１ typed with a Chinese input method
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?(?:\s*[-/.]\s*\d{1,2}\s*日?)?", text)
    if not m:
        raise MonthError(text)
    year, month = int(m.group(1)), int(m.group(2))
    if not (1 <= month <= 12 and 2000 <= year <= 2999):
        raise MonthError(text)
    return date(year, month, 1)


def month_text(month: date) -> str:
    return f"{month:%Y-%m}"


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_of(moment: datetime, zone: tzinfo) -> date:
    local = moment.astimezone(zone)
    return date(local.year, local.month, 1)


def month_bounds(month: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) in desk time."""
    return datetime.combine(month, time(), zone), datetime.combine(next_month(month), time(), zone)


def month_ended(month: date, now: datetime, zone: tzinfo) -> bool:
    return now >= month_bounds(month, zone)[1]


# --- which (agency, plan) of a month can be settled -----------------------------------------


@dataclass
class Group:
    """The policies one agency applied for under one plan in one month."""

    agency: str
    plan_code: str
    plan_name: str
    ready: list[Policy] = field(default_factory=list)  # live, not yet in a statement, already in effect
    waiting: list[Policy] = field(default_factory=list)  # live, not yet in a statement, not yet in effect
    stated: list[Policy] = field(default_factory=list)  # already in a statement
    cancelled: int = 0

    def billed_name(self) -> str:
        """The plan's name on a statement of the ready policies: their newest plan version's (a policy
        cancelled this month, listed first, may carry an older version's name that none of them has)."""
        return max(self.ready, key=lambda p: p.plan_version).plan_name if self.ready else self.plan_name

    @property
    def state(self) -> str:
        if self.waiting:
            return "waiting"
        if self.ready:
            return "ready"
        return "done" if self.stated else "empty"

    @property
    def ready_fen(self) -> int:
        return sum(p.premium_fen for p in self.ready)

    def waits_for(self, zone: tzinfo) -> str:
        """What a waiting plan waits for, in words for the summary."""
        last = max(p.start for p in self.waiting).astimezone(zone)
        numbers = "、".join(p.policy_no for p in self.waiting[:5]) + ("…" if len(self.waiting) > 5 else "")
        return (
            f"{len(self.waiting)} 张保单尚未生效（{numbers}），最晚于 {last:%Y-%m-%d %H}:00 生效；"
            f"全部生效后的每日重试中自动结账"
        )


def group_month(policies: list[Policy]) -> list[Group]:
    """Split one month's policies by (agency, plan); never mix plans. Sorted by agency, plan."""
    groups: dict[tuple[str, str], Group] = {}
    return _fill(groups, policies)


def _fill(groups: dict[tuple[str, str], Group], policies: list[Policy]) -> list[Group]:
    newest: dict[tuple[str, str], int] = {}  # the plan version each group's name is from (-1: a cancelled one)
    for p in policies:
        g = groups.get((p.agency, p.plan_code))
        if g is None:
            g = groups[(p.agency, p.plan_code)] = Group(p.agency, p.plan_code, p.plan_name)
            version = -1 if p.status != ACTIVE else p.plan_version
            newest[(p.agency, p.plan_code)] = version
        elif p.status == ACTIVE and p.plan_version > newest.get((p.agency, p.plan_code), -1):
            # Named as its live policies' newest version names the plan, not as a cancelled one did.
            g.plan_name, newest[(p.agency, p.plan_code)] = p.plan_name, p.plan_version
        if p.status != ACTIVE:
            g.cancelled += 1
        elif p.statement_no:
            g.stated.append(p)
        else:
            g.ready.append(p)  # sorted into waiting by `settle_state`
    return [groups[k] for k in sorted(groups)]


def settle_state(groups: list[Group], now: datetime) -> list[Group]:
    """Each group's live unstated policies split into in effect (ready) and not yet (waiting)."""
    for g in groups:
        pool = g.ready + g.waiting
        g.ready = [p for p in pool if p.start <= now]
        g.waiting = [p for p in pool if p.start > now]
    return groups


def statement_number(month: date, sequence: int) -> str:
    """DZ + the settled month (YYYYMM) + a 6-digit ledger-wide sequence that is never reused: DZ202611000042."""
    return f"DZ{month:%Y%m}{sequence:06d}"


STATEMENT_NO_PATTERN = r"^DZ\d{6}\d{6,}$"


@dataclass(frozen=True, slots=True)
class Statement:
    statement_no: str
    agency: str
    plan_code: str
    plan_name: str
    month: date
    created_at: datetime
    total_fen: int
    policy_count: int
    insured_count: int
    status: str = PENDING
    channel: str = ""
    confirmed_by: str = ""
    confirmed_at: datetime | None = None
    paid_fen: int | None = None
    payment_ref: str = ""
    paid_on: date | None = None
    invoice_no: str = ""
    invoiced_on: date | None = None
    supplements: str = ""  # a 补充对账单: the number of the first statement of its agency, plan and month
    agency_name: str = ""  # as it was when the statement was made: a renamed agency's statements keep theirs

    @property
    def title(self) -> str:
        return "补充对账单" if self.supplements else "对账单"


@dataclass(frozen=True, slots=True)
class Receipt:
    """A deposit (预交保费) receipt."""

    receipt_no: str
    agency: str
    amount_fen: int
    received_on: date
    valid_until: date
    refunded_on: date | None = None
    refund_ref: str = ""

    @property
    def refunded(self) -> bool:
        return self.refunded_on is not None


def receipt_valid_until(received_on: date) -> date:
    """Valid three years: through the day before the same date three years on."""
    year = received_on.year + DEPOSIT_YEARS
    try:
        same = received_on.replace(year=year)
    except ValueError:  # 29 February
        same = date(year, 3, 1)
    return same - timedelta(days=1)


def receipt_warning(receipt: Receipt, today: date) -> str:
    """'' or why staff should look at a deposit receipt: it expires within 30 days, or has expired."""
    if receipt.refunded:
        return ""
    if receipt.valid_until < today:
        return "已过期"
    if (receipt.valid_until - today).days <= DEPOSIT_WARN_DAYS:
        return f"{(receipt.valid_until - today).days} 天后到期"
    return ""


# --- the schedule ---------------------------------------------------------------------------


def parse_run_time(text: str) -> time:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(text)
    return time(int(m.group(1)), int(m.group(2)))


def scheduled_at(month: date, day: int, at: time, zone: tzinfo) -> datetime:
    """When month-end for `month` is due: day `day` of the following month at `at`, desk time."""
    return datetime.combine(next_month(month).replace(day=day), at, zone)


def due_months(
    now: datetime, zone: tzinfo, day: int, at: time, finished: set[date], first: date | None, limit: int = 24
) -> list[date]:
    """Months whose scheduled run has passed and that have no finished run: the latest one, and any
    earlier ones missed while the service was down (back to the first month with business)."""
    latest = previous_month(month_of(now, zone))
    if now < scheduled_at(latest, day, at, zone):
        latest = previous_month(latest)
    months: list[date] = []
    month = latest
    while len(months) < limit:
        if month not in finished:
            months.append(month)
        if first is None or month <= first:
            break
        month = previous_month(month)
    return sorted(months)


def retry_due(now: datetime, zone: tzinfo, at: time, last_attempt: datetime) -> bool:
    """A month with waiting plans is retried once a day at the run time: has a daily slot passed since?"""
    local = now.astimezone(zone)
    slot = datetime.combine(local.date(), at, zone)
    if slot > now:
        slot -= timedelta(days=1)
    return last_attempt < slot


def retry_slot_after(moment: datetime, zone: tzinfo, at: time) -> datetime:
    """The first daily retry slot (the run time, desk time) after `moment`."""
    local = moment.astimezone(zone)
    slot = datetime.combine(local.date(), at, zone)
    return slot if slot > moment else datetime.combine(local.date() + timedelta(days=1), at, zone)


def billable_since(month: date, zone: tzinfo, policies: list[Policy]) -> datetime:
    """When one group's unbilled business (its live policies in no statement, all in effect) could first be
    billed: once the month was over, each of them recorded and in effect, and any of the group's unbilled
    policies that was cancelled, cancelled (a policy that made the plan wait until it was cancelled)."""
    since = month_bounds(month, zone)[1]
    for p in policies:
        if p.statement_no:
            continue
        if p.status == ACTIVE:
            since = max(since, p.issued_at, p.start)
        elif p.cancelled_at is not None:
            since = max(since, p.cancelled_at)
    return since


# --- amounts in Chinese capitals (大写金额) ------------------------------------------------

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def capitals(fen: int) -> str:
    """人民币 amount as written on a statement: 1234.50 → 壹仟贰佰叁拾肆元伍角整; 1005.07 → 壹仟零伍元零柒分."""
    if fen < 0:
        return "负" + capitals(-fen)
    yuan, rest = divmod(fen, 100)
    jiao, fen_ = divmod(rest, 10)
    integer = _integer(yuan)
    if not rest:
        return (integer or "零") + "元整"
    out = integer + "元" if integer else ""
    if jiao:
        out += _DIGITS[jiao] + "角"
    elif integer:
        out += "零"
    if fen_:
        out += _DIGITS[fen_] + "分"
    else:
        out += "整"
    return out


def _integer(n: int) -> str:
    if n == 0:
        return ""
    groups = []
    while n:
        n, g = divmod(n, 10000)
        groups.append(g)
    out = ""
    zero = False  # a zero digit since the last one written (one 零 for any run of zeros between digits)
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            zero = bool(out)
            continue
        if out and (zero or g < 1000):
            out += "零"
        out += _four(g) + _GROUPS[i]
        zero = g % 10 == 0  # 20|1000: 贰拾万零壹仟, the zeros of 贰拾 before 壹仟 are read
    return out


def _four(g: int) -> str:
    digits = [g // 1000, g // 100 % 10, g // 10 % 10, g % 10]
    out, zero = "", False
    started = False
    for pos, d in enumerate(digits):
        unit = _UNITS[3 - pos]
        if d == 0:
            zero = started
            continue
        if zero:
            out += "零"
        out += _DIGITS[d] + unit
        zero, started = False, True
    return out
