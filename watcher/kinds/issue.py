"""投保 (issue one policy for one tour group) and 试算 (the same checks and price, nothing issued)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain import idcard
from ..domain.dates import age_on, cover_end, show_end, show_hour, show_second
from ..domain.money import yuan_display
from ..domain.person import check_person
from ..domain.plans import REGIONS, Plan
from ..domain.policy import Agency, Insured, Policy
from ..domain.problems import problem
from ..domain.rating import person_premium
from ..io.book import Book
from ..settings import Settings
from .base import Checked, Decision, IssuePolicy, Request
from .common import ROSTER, ApplySheet, roster_table, special_problem

PERSON_COLUMNS = ("姓名", "证件类型", "证件号码", "性别", "出生日期", "联系电话", "备注")


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

    def parse(self, book: Book, who: str) -> Request:
        request = Request(self.action, who)
        sheet = ApplySheet(book, request.problems)
        zone = self.settings.zone
        f = request.fields
        f["tour_group"] = sheet.text("旅行团号", required=True, limit=50)
        region = sheet.text("区域", required=False, limit=10)
        if region and region not in REGIONS:
            sheet.fail("field.region", "区域", value=region)
        f["region"] = region
        f["plan_code"] = sheet.text("方案代码", required=True, limit=20).upper()
        f["start"] = sheet.moment("生效时间", zone)
        f["days"] = sheet.days()
        f["route"] = sheet.text("行程路线", required=False, limit=200)
        f["handler"] = sheet.text("经办人", required=False, limit=30)
        f["sales_id"] = sheet.text("营销员工号", required=False, limit=30)
        f["sales_name"] = sheet.text("营销员姓名", required=False, limit=30)
        request.extra["apply_rows"] = {label: fld.row for label, fld in sheet.fields.items()}

        table = roster_table(book, request.problems)
        request.roster = table
        rows: list[tuple[int, dict]] = []
        if table is not None:
            if len(table.rows) > self.settings.max_roster_rows:
                request.problems.append(problem("file.too_many_rows", sheet=table.sheet.name, count=len(table.rows),
                                                limit=self.settings.max_roster_rows))
            elif not table.rows:
                request.problems.append(problem("roster.empty", sheet=table.sheet.name, row=table.header_row + 1))
            else:
                rows = self._rows(table, request)
        request.extra["rows"] = rows
        return request

    def _rows(self, table, request: Request) -> list[tuple[int, dict]]:
        present = [(name, table.columns[name]) for name in PERSON_COLUMNS if name in table.columns]
        special = table.sheet.special
        rows = []
        for r in table.rows:
            row = table.sheet.rows[r]
            values = {name: (row[c] if c < len(row) else None) for name, c in present}
            if special:
                for name, c in present:
                    bad = special_problem(table.sheet, r, c, name)
                    if bad:
                        request.problems.append(bad)
            rows.append((r, values))
        return rows

    # --- load: the ledger facts this request needs -------------------------------------

    def load(self, ledger, request: Request, who: str) -> IssueState:
        f = request.fields
        plan = ledger.plan(f["plan_code"]) if f["plan_code"] else None
        overlaps = []
        if f["start"] and f["days"] and request.extra["rows"]:
            keys = []
            for _, values in request.extra["rows"]:
                id_type = idcard.normalise_id_type(values.get("证件类型"))
                number, _ = idcard.id_text(values.get("证件号码"))
                if id_type and number:
                    keys.append((id_type, number))
            overlaps = ledger.live_overlaps(who, keys, f["start"], cover_end(f["start"], f["days"]))
        return IssueState(ledger.agency(who), plan, overlaps)

    # --- validate (pure) -----------------------------------------------------------------

    def validate(self, request: Request, state: IssueState, now: datetime) -> Checked:
        problems = list(request.problems)
        f = request.fields
        zone = self.settings.zone
        apply_rows = request.extra["apply_rows"]

        def at(label):
            return {"sheet": "申请", "row": apply_rows.get(label), "column": label,
                    "col_index": 1 if label in apply_rows else None}

        plan = state.plan
        if f["plan_code"] and plan is None:
            problems.append(problem("field.plan_unknown", **at("方案代码"), value=f["plan_code"]))
        elif plan is not None:
            allowed = state.agency.plans if state.agency else ()
            if plan.code not in allowed:
                problems.append(problem("field.plan_not_agreed", **at("方案代码"), value=plan.code,
                                        allowed="、".join(allowed) or "无"))
            if f["region"] and f["region"] != plan.region:
                problems.append(problem("field.plan_region", **at("区域"), plan=f"{plan.code} {plan.name}",
                                        plan_region=plan.region, region=f["region"]))
            if f["days"] and f["days"] > plan.max_days:
                problems.append(problem("field.days_over", **at("天数"), days=f["days"], plan=plan.name,
                                        max_days=plan.max_days))
        start = f["start"]
        if start is not None and start <= now:
            problems.append(problem("field.effective_past", **at("生效时间"), value=show_hour(start, zone),
                                    now=show_second(now, zone)))

        people, premiums = self._people(request, state, now, problems)
        checked = Checked(request, problems, {"people": people, "premiums": premiums, "plan": plan})
        return checked

    def _people(self, request: Request, state: IssueState, now: datetime, problems: list) -> tuple[list, dict]:
        table = request.roster
        if table is None:
            return [], {}
        f = request.fields
        plan = state.plan
        today = now.astimezone(self.settings.zone).date()
        sheet = table.sheet.name
        people: list[Insured] = []
        premiums: dict[int, int] = {}
        seen: dict[tuple[str, str], list[int]] = {}
        rows_of_person: list[tuple[int, Insured]] = []

        def where(r, column):
            return {"sheet": sheet, "row": r + 1, "column": column, "col_index": table.columns.get(column)}

        for r, values in request.extra["rows"]:
            facts, errors = check_person(values, today)
            for err in errors:
                problems.append(problem(err.code, **where(r, err.column), **err.values))
            if facts is None:
                continue
            seen.setdefault((facts.id_type, facts.id_no), []).append(r)
            age = age_on(facts.birth, f["start"].date()) if f["start"] else 0
            premium = 0
            if plan is not None and f["start"]:
                if not plan.min_age <= age <= plan.max_age:
                    problems.append(problem("age.range", **where(r, "出生日期" if "出生日期" in table.columns else "证件号码"),
                                            age=age, plan=plan.name, min_age=plan.min_age, max_age=plan.max_age))
                elif f["days"] and f["days"] <= plan.max_days:
                    premium = person_premium(plan, f["days"], age)
                    premiums[r] = premium
            person = Insured(facts.name, facts.id_type, facts.id_no, facts.gender, facts.birth, age, premium,
                             facts.phone, facts.note, r + 1)
            rows_of_person.append((r, person))
            people.append(person)

        for rows in seen.values():
            if len(rows) > 1:
                for r in rows:
                    others = "、".join(str(o + 1) for o in rows if o != r)
                    problems.append(problem("roster.duplicate_person", **where(r, "证件号码"), rows=others))

        by_key = {(p.id_type, p.id_no): r for r, p in rows_of_person}
        zone = self.settings.zone
        for overlap in state.overlaps:
            r = by_key.get((overlap.id_type, overlap.id_no))
            if r is not None:
                problems.append(problem("roster.overlap", **where(r, "证件号码"), warning=True,
                                        policy_no=overlap.policy_no, start=show_hour(overlap.start, zone),
                                        end=show_end(overlap.end, zone)))
        return people, premiums

    # --- decide (pure) -------------------------------------------------------------------

    def decide(self, checked: Checked, now: datetime) -> Decision:
        f = checked.request.fields
        plan: Plan = checked.values["plan"]
        people = tuple(checked.values["people"])
        start = f["start"]
        policy = Policy(
            policy_no="", agency=checked.request.who, tour_group=f["tour_group"], region=plan.region, plan_code=plan.code,
            plan_name=plan.name, plan_version=plan.version, start=start, days=f["days"],
            end=cover_end(start, f["days"]), route=f["route"], handler=f["handler"], sales_id=f["sales_id"],
            sales_name=f["sales_name"], premium_fen=sum(p.premium_fen for p in people), people=people,
            issued_at=now,
        )
        zone = self.settings.zone
        decision = Decision(
            status="quote" if self.quote else "success",
            policies=[policy],
            row_premiums=dict(checked.values["premiums"]),
            summary={"旅行团号": policy.tour_group, "方案": f"{plan.code} {plan.name}",
                     "保险期间": f"{show_hour(policy.start, zone)} 至 {show_end(policy.end, zone)}",
                     "人数": str(len(people)), "保费合计": yuan_display(policy.premium_fen)},
        )
        if not self.quote:
            decision.ops.append(IssuePolicy(policy))
        return decision

