"""投保 (issue one policy for one tour group) and 试算 (the same checks and price, nothing issued)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain.dates import cover_end, show_end, show_hour, show_second
from ..domain.plans import REGIONS, Plan
from ..domain.policy import Agency, Insured, Policy
from ..domain.problems import Problem, problem
from ..domain.text import code_text
from ..io.book import Book
from ..settings import Settings
from .base import Checked, Decision, IssuePolicy, Request
from .common import ApplySheet
from .roster import check_roster, parse_roster, roster_keys


@dataclass(frozen=True)
class IssueFields:
    """What a 投保 or 试算 asks for, as read from its 申请 sheet (None or '': missing or unreadable, and
    already a problem)."""

    tour_group: str
    region: str
    plan_code: str
    start: datetime | None
    days: int | None
    route: str
    handler: str
    sales_id: str
    sales_name: str
    apply_rows: dict[str, int]  # label → its row on the 申请 sheet (where a problem about it points)


@dataclass(frozen=True)
class IssueValues:
    """What the checks computed: the people as insured, each row's premium, the plan version in force."""

    people: list[Insured]
    premiums: dict[int, int]  # roster row index → fen
    plan: Plan | None


@dataclass
class IssueState:
    agency: Agency | None
    plan: Plan | None
    overlaps: list  # ledger.Overlap


class IssueKind:
    admin = False

    def __init__(self, settings: Settings, *, quote: bool):
        self.settings = settings
        self.quote = quote
        self.action = "试算" if quote else "投保"

    # --- parse ------------------------------------------------------------------------

    def parse(self, book: Book, who: str) -> Request[IssueFields]:
        problems: list[Problem] = []
        sheet = ApplySheet(book, problems)
        tour_group = sheet.tour_group()
        region = sheet.text("区域", required=False, limit=10)
        if region and region not in REGIONS:
            sheet.fail("field.region", "区域", value=region)
        fields = IssueFields(
            tour_group=tour_group,
            region=region,
            plan_code=code_text(sheet.text("方案代码", required=True, limit=20)),
            start=sheet.moment("生效时间", self.settings.zone),
            days=sheet.days(),
            route=sheet.text("行程路线", required=False, limit=200),
            handler=sheet.text("经办人", required=False, limit=30),
            sales_id=sheet.text("营销员工号", required=False, limit=30),
            sales_name=sheet.text("营销员姓名", required=False, limit=30),
            apply_rows={label: fld.row for label, fld in sheet.fields.items()},
        )
        request = Request(self.action, who, fields, problems)
        return parse_roster(book, request, self.settings.max_roster_rows)

    # --- load: the ledger facts this request needs -------------------------------------

    def load(self, ledger, request: Request[IssueFields], who: str) -> IssueState:
        f = request.fields
        plan = ledger.plan(f.plan_code) if f.plan_code else None
        overlaps = []
        if f.start and f.days and request.roster_rows:
            overlaps = ledger.live_overlaps(
                who, roster_keys(request), f.start, cover_end(f.start, f.days, self.settings.zone)
            )
        return IssueState(ledger.agency(who), plan, overlaps)

    # --- validate (pure) -----------------------------------------------------------------

    def validate(
        self, request: Request[IssueFields], state: IssueState, now: datetime
    ) -> Checked[IssueFields, IssueValues]:
        problems = list(request.problems)
        f = request.fields
        zone = self.settings.zone
        apply_rows = f.apply_rows

        def at(label):
            return {
                "sheet": "申请",
                "row": apply_rows.get(label),
                "column": label,
                "col_index": 1 if label in apply_rows else None,
            }

        plan = state.plan
        if f.plan_code and plan is None:
            problems.append(
                problem(
                    "field.plan_unknown",
                    **at("方案代码"),
                    value=f.plan_code,
                    allowed="、".join(state.agency.plans) if state.agency else "无",
                )
            )
        elif plan is not None:
            allowed = state.agency.plans if state.agency else ()
            if plan.code not in allowed:
                problems.append(
                    problem(
                        "field.plan_not_agreed", **at("方案代码"), value=plan.code, allowed="、".join(allowed) or "无"
                    )
                )
            if f.region and f.region != plan.region:
                problems.append(
                    problem(
                        "field.plan_region",
                        **at("区域"),
                        plan=f"{plan.code} {plan.name}",
                        plan_region=plan.region,
                        region=f.region,
                    )
                )
            if f.days and f.days > plan.max_days:
                problems.append(
                    problem("field.days_over", **at("天数"), days=f.days, plan=plan.name, max_days=plan.max_days)
                )
        start = f.start
        if start is not None and start <= now:
            problems.append(
                problem(
                    "field.effective_past", **at("生效时间"), value=show_hour(start, zone), now=show_second(now, zone)
                )
            )

        roster = check_roster(
            request,
            plan=plan,
            start=start,
            days=f.days,
            today=now.astimezone(zone).date(),
            zone=zone,
            overlaps=state.overlaps,
            problems=problems,
            tour_group=f.tour_group,
        )
        return Checked(request, problems, IssueValues(roster.people, roster.premiums, plan))

    # --- decide (pure) -------------------------------------------------------------------

    def decide(self, checked: Checked[IssueFields, IssueValues], now: datetime) -> Decision:
        f = checked.request.fields
        plan = checked.values.plan
        people = tuple(checked.values.people)
        start, days = f.start, f.days
        assert plan is not None and start is not None and days is not None  # decided only without problems
        policy = Policy(
            policy_no="",
            agency=checked.request.who,
            tour_group=f.tour_group,
            region=plan.region,
            plan_code=plan.code,
            plan_name=plan.name,
            plan_version=plan.version,
            start=start,
            days=days,
            end=cover_end(start, days, self.settings.zone),
            route=f.route,
            handler=f.handler,
            sales_id=f.sales_id,
            sales_name=f.sales_name,
            premium_fen=sum(p.premium_fen for p in people),
            people=people,
            issued_at=now,
        )
        zone = self.settings.zone
        return Decision(
            status="quote" if self.quote else "success",
            ops=[] if self.quote else [IssuePolicy(policy)],
            policies=[policy],
            row_premiums=dict(checked.values.premiums),
            summary={
                "旅行团号": policy.tour_group,
                "方案": f"{plan.code} {plan.name}",
                "保险期间": f"{show_hour(policy.start, zone)} 至 {show_end(policy.end, zone)}",
            },
        )
