"""Agency queries that change nothing: 保单查询 (export), 业务明细 (detail sheet), 补打保单 (reprint)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from ..domain.dates import DateError, parse_date, parse_local_datetime, says_24, show_end, show_hour, show_second
from ..domain.money import yuan_text
from ..domain.policy import ACTIVE, ADD_PEOPLE, CANCELLED, REPLACEMENT_NOW, Policy
from ..domain.problems import problem
from ..domain.settlement import next_month
from ..domain.text import clean
from ..io.book import Book
from ..io.sheet_table import SheetTable
from .base import Checked, Decision, Request
from .cancel import OnePolicy, OnePolicyKind
from .common import BAD, ApplySheet, RequestKind

STATUSES = ("全部", "有效", "已撤单", "已到期")
SETTLED = ("全部", "未结", "已结")


@dataclass(frozen=True)
class Filter:
    agency: str
    policy_no: str = ""
    tour_group: str = ""
    issued_from: datetime | None = None  # aware, inclusive
    issued_to: datetime | None = None  # aware, exclusive
    status: str = "全部"
    plan_code: str = ""
    settled: str = "全部"
    plan_at: dict = field(default_factory=dict)  # where 方案代码 was typed (业务明细 checks it exists)


@dataclass(frozen=True)
class Policies:
    """What a query found (already filtered by what the ledger could not filter), and the policies that
    replaced each (保单查询 shows them)."""

    found: list[Policy]
    successors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # number → [(number, why)]


@dataclass(frozen=True)
class Reprint:
    policy: Policy | None
    replacement: Policy | None  # the policy that replaced a void one


def date_range(
    sheet: ApplySheet, zone, required: bool, labels: tuple[str, str] = ("投保起期", "投保止期")
) -> tuple[datetime | None, datetime | None]:
    """Two dates (both inclusive) as an aware range in desk time: [first 00:00, the day after last 00:00)."""
    days: dict[str, date | None] = {}
    for label in labels:
        raw = sheet.present(label) if required else sheet.raw(label)
        days[label] = None
        if raw is not BAD and clean(raw):
            try:
                days[label] = parse_date(raw)
            except (DateError, ValueError):
                sheet.fail("query.date", label, label=label, value=str(raw))
                continue
            try:
                moment = parse_local_datetime(raw)
            except (DateError, ValueError):
                continue
            if label == labels[1] and says_24(raw):
                # A 止期 of 2026-11-05 24:00 is the end of the 5th (read as the 6th 00:00, it took in the 6th).
                days[label] = moment.date() - timedelta(days=1)
                continue
            if moment.time() != time():  # 2026-11-05 23:00: the day counts whole, said so
                sheet.fail(
                    "query.date_time",
                    label,
                    warning=True,
                    label=label,
                    time=moment.strftime("%H:%M"),
                    day=moment.date().isoformat(),
                )
    first, last = labels
    start, end = days[first], days[last]
    if start and end and start > end:
        sheet.fail("query.date_order", last, first=first, last=last, start=start.isoformat(), end=end.isoformat())
    return (
        datetime.combine(start, time(), zone) if start else None,
        datetime.combine(end + timedelta(days=1), time(), zone) if end else None,
    )


def _choice(sheet: ApplySheet, label: str, allowed: tuple[str, ...], code: str) -> str:
    value = sheet.text(label, required=False, limit=10) or "全部"
    if value not in allowed:
        sheet.fail(code, label, value=value, allowed="、".join(allowed))
        return "全部"
    return value


def matches(policy: Policy, flt: Filter, now: datetime) -> bool:
    """有效 is every sale not cancelled (the status the ledger and 业务明细 know), those whose cover has ended
    too: 保单查询 shows them as 已到期 and offers 已到期 as a choice of its own to list only those. The same
    policy is never in one query's 有效 and out of another's."""
    status = policy.shown_status(now)
    if flt.status == "有效" and policy.status != ACTIVE:
        return False
    if flt.status == "已撤单" and policy.status != CANCELLED:
        return False
    if flt.status == "已到期" and status != "已到期":
        return False
    settled = "已结" if policy.settled else "未结"
    return flt.settled == "全部" or flt.settled == settled


POLICY_HEADERS = [
    "保单号",
    "旅行团号",
    "方案代码",
    "方案名称",
    "区域",
    "投保时间",
    "生效时间",
    "终止时间",
    "天数",
    "人数",
    "保费",
    "保单状态",
    "结算状态",
    "经办人",
    "营销员工号",
    "营销员姓名",
    "行程路线",
    "原保单号",
    "变更原因",
    "后续保单号",
    "对账单号",
]
POLICY_KINDS = ["text"] * 8 + ["int", "int", "money"] + ["text"] * 10
PEOPLE_HEADERS = [
    "保单号",
    "序号",
    "姓名",
    "证件类型",
    "证件号码",
    "性别",
    "出生日期",
    "年龄",
    "保费",
    "联系电话",
    "备注",
]
PEOPLE_KINDS = ["text", "int", "text", "text", "text", "text", "text", "int", "money", "text", "text"]


def policy_row(p: Policy, successors: dict[str, list[tuple[str, str]]], now: datetime, zone) -> list:
    return [
        p.policy_no,
        p.tour_group,
        p.plan_code,
        p.plan_name,
        p.region,
        show_second(p.issued_at, zone),
        show_hour(p.start, zone),
        show_end(p.end, zone),
        p.days,
        p.insured_count,
        p.premium_fen,
        p.shown_status(now),
        "已结" if p.settled else "未结",
        p.handler,
        p.sales_id,
        p.sales_name,
        p.route,
        p.replaces,
        p.replace_reason,
        # A 加人 policy replaced nothing (it was issued beside this one for the people added): marked so.
        "、".join(f"{n}（{ADD_PEOPLE}）" if why == ADD_PEOPLE else n for n, why in successors.get(p.policy_no, [])),
        p.statement_no,
    ]


class PolicyQueryKind(RequestKind):
    """保单查询: this agency's policies by 保单号, 旅行团号, 投保起期/止期, 保单状态, with their people."""

    action = "保单查询"

    def parse(self, book: Book, who: str) -> Request[Filter]:
        problems, sheet = self.begin(book)
        issued_from, issued_to = date_range(sheet, self.settings.zone, required=False)
        number = sheet.text("保单号", required=False, limit=40)
        flt = Filter(
            who,
            policy_no=sheet.policy_no() if number else "",
            tour_group=sheet.text("旅行团号", required=False),
            issued_from=issued_from,
            issued_to=issued_to,
            status=_choice(sheet, "保单状态", STATUSES, "query.status"),
        )
        return Request(self.action, who, flt, problems)

    def load(self, ledger, request: Request[Filter], who: str):
        if not request.ok:  # an error: nothing to look for (a warning still looks)
            return [], {}
        found = ledger.find_policies(request.fields, people=True)
        return found, ledger.successors([p.policy_no for p in found])

    def validate(self, request: Request[Filter], state, now: datetime) -> Checked[Filter, Policies]:
        found, successors = state
        return Checked(
            request,
            list(request.problems),
            Policies([p for p in found if matches(p, request.fields, now)], successors),
        )

    def decide(self, checked: Checked[Filter, Policies], now: datetime) -> Decision:
        zone = self.settings.zone
        found, successors = checked.values.found, checked.values.successors
        flt = checked.request.fields
        note = "查询条件：" + "，".join(
            filter(
                None,
                [
                    f"保单号 {flt.policy_no}" if flt.policy_no else "",
                    f"旅行团号 {flt.tour_group}" if flt.tour_group else "",
                    f"投保时间自 {flt.issued_from.date()}" if flt.issued_from else "",
                    f"至 {(flt.issued_to - timedelta(days=1)).date()}" if flt.issued_to else "",
                    f"保单状态 {flt.status}",
                ],
            )
        )
        policies = SheetTable(
            "保单", POLICY_HEADERS, POLICY_KINDS, [policy_row(p, successors, now, zone) for p in found], note=note
        )
        people = SheetTable(
            "被保险人",
            PEOPLE_HEADERS,
            PEOPLE_KINDS,
            [
                [
                    p.policy_no,
                    i,
                    x.name,
                    x.id_type,
                    x.id_no,
                    x.gender,
                    x.birth.isoformat(),
                    x.age,
                    x.premium_fen,
                    x.phone,
                    x.note,
                ]
                for p in found
                for i, x in enumerate(p.people, 1)
            ],
        )
        return Decision(
            status="success",
            policies=found,
            tables=[policies, people],
            summary={"查到保单": len(found)},
            # The 后续保单号 column, for the JSON twin's policies (envelope puts each list on its policy).
            content={
                "successors": {
                    p.policy_no: [{"policy_no": n, "reason": why} for n, why in successors.get(p.policy_no, [])]
                    for p in found
                },
                # The 被保险人 sheet, for the JSON twin's policies: each person with their own premium.
                "insured": {
                    p.policy_no: [
                        {
                            "name": x.name,
                            "id_type": x.id_type,
                            "id_no": x.id_no,
                            "gender": x.gender or None,
                            "birth": x.birth.isoformat(),
                            "age": x.age,
                            "premium": yuan_text(x.premium_fen),
                            "phone": x.phone or None,
                            "note": x.note or None,
                        }
                        for x in p.people
                    ]
                    for p in found
                },
            },
        )


DETAIL_HEADERS = [
    "保单号",
    "旅行团号",
    "产品",
    "区域",
    "投保时间",
    "生效时间",
    "终止时间",
    "人数",
    "天数",
    "保费",
    "保单状态",
    "结算状态",
    "经办人",
    "营销员",
    "对账单号",
]
DETAIL_KINDS = ["text"] * 7 + ["int", "int", "money"] + ["text"] * 5


def detail_table(found: list[Policy], zone, note: str = "") -> SheetTable:
    """业务明细表 (docs/settlement.md): one row a policy; totals count only policies not cancelled. 保单状态 is
    the manual's, 有效 or 已撤单, as its filter offers them: a sale whose cover has ended is still 有效 here
    (保单查询, which offers 已到期 apart, and the lookup page show it as 已到期)."""
    rows = [
        [
            p.policy_no,
            p.tour_group,
            p.plan_name,
            p.region,
            show_second(p.issued_at, zone),
            show_hour(p.start, zone),
            show_end(p.end, zone),
            p.insured_count,
            p.days,
            p.premium_fen,
            p.status,
            "已结" if p.settled else "未结",
            p.handler,
            " ".join(filter(None, [p.sales_name, p.sales_id])),
            p.statement_no,
        ]
        for p in found
    ]
    live = [p for p in found if p.status != CANCELLED]
    totals = {
        # Every sale not cancelled, those whose cover has ended (已到期) too: not "有效", which rows show apart.
        0: f"合计（{len(live)} 张保单，已撤单不计）",
        7: sum(p.insured_count for p in live),
        9: sum(p.premium_fen for p in live),
    }
    return SheetTable("业务明细", DETAIL_HEADERS, DETAIL_KINDS, rows, totals, note)


def month_detail_table(agency: str, month: date, found: list[Policy], zone) -> SheetTable:
    """An agency's 业务明细_<YYYY-MM>.xlsx: the month's policies by 投保时间 (month-end, and again when a
    confirmation makes them 已结)."""
    last = next_month(month) - timedelta(days=1)
    return detail_table(
        found, zone, f"{agency} 业务明细表：投保时间 {month:%Y-%m-%d} 至 {last:%Y-%m-%d}（{month:%Y-%m}）"
    )


class DetailKind(RequestKind):
    """业务明细: the business detail sheet for any range of 投保时间."""

    action = "业务明细"

    def parse(self, book: Book, who: str) -> Request[Filter]:
        problems, sheet = self.begin(book)
        issued_from, issued_to = date_range(sheet, self.settings.zone, required=True)
        plan = (sheet.text("方案代码", required=False, limit=20) or "全部").upper()
        flt = Filter(
            who,
            issued_from=issued_from,
            issued_to=issued_to,
            plan_code="" if plan == "全部" else plan,
            status=_choice(sheet, "保单状态", STATUSES[:3], "query.status"),
            settled=_choice(sheet, "结算状态", SETTLED, "query.settle"),
            plan_at=sheet.at("方案代码"),
        )
        return Request(self.action, who, flt, problems)

    def load(self, ledger, request: Request[Filter], who: str):
        plans = {p.code for p in ledger.plans()}  # known whatever else is wrong: every error is listed
        if not request.ok:  # an error: nothing to look for (a warning still looks)
            return [], plans
        return ledger.find_policies(request.fields, people=False), plans

    def validate(self, request: Request[Filter], state, now: datetime) -> Checked[Filter, Policies]:
        found, plans = state
        problems, flt = list(request.problems), request.fields
        if flt.plan_code and flt.plan_code not in plans:  # a typo is no empty month
            problems.append(problem("query.plan_unknown", **flt.plan_at, value=flt.plan_code))
        return Checked(request, problems, Policies([p for p in found if matches(p, flt, now)]))

    def decide(self, checked: Checked[Filter, Policies], now: datetime) -> Decision:
        flt = checked.request.fields
        found = checked.values.found
        assert flt.issued_from is not None and flt.issued_to is not None  # 业务明细 requires its range
        note = (
            f"投保时间 {flt.issued_from.date()} 至 {(flt.issued_to - timedelta(days=1)).date()}，"
            f"方案 {flt.plan_code or '全部'}，保单状态 {flt.status}，结算状态 {flt.settled}"
        )
        table = detail_table(found, self.settings.zone, note)
        return Decision(status="success", policies=found, tables=[table], summary={"保单数": len(found)})


class ReprintKind(OnePolicyKind):
    """补打保单: write the electronic policy of this agency's policy again, whatever its status; a void
    one says which policy replaces it now."""

    action = "补打保单"

    def load(self, ledger, request: Request, who: str):
        policy = super().load(ledger, request, who)
        return policy, ledger.replacement(policy.policy_no) if policy is not None and policy.status != ACTIVE else None

    def validate(self, request: Request[OnePolicy], state, now: datetime) -> Checked[OnePolicy, Reprint]:
        policy, replacement = state
        problems = list(request.problems)
        f = request.fields
        if f.policy_no and policy is None:
            problems.append(problem("policy.not_found_reprint", **f.at, value=f.policy_no))
        return Checked(request, problems, Reprint(policy, replacement))

    def decide(self, checked: Checked[OnePolicy, Reprint], now: datetime) -> Decision:
        policy, replacement = checked.values.policy, checked.values.replacement
        assert policy is not None  # decided only without problems: it was found
        status = policy.shown_status(now)
        replaced_by_status = replacement.shown_status(now) if replacement else None
        if replacement is not None:
            now_words = REPLACEMENT_NOW.get(replaced_by_status or "")
            status += f"（已被 {replacement.policy_no} 替代" + (f"，{now_words}）" if now_words else "）")
        return Decision(
            status="success",
            policies=[policy],
            reprint=[policy],
            summary={"补打保单": policy.policy_no, "保单状态": status},
            content={
                "replaced_by": replacement.policy_no if replacement else None,
                "replaced_by_status": replaced_by_status,
            },
        )
