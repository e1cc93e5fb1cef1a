"""Endorsements (保全) that issue a new policy: 批改, 加人, 减人, 换人, 信息变更.

All are accepted only strictly before the policy's effective time, on this agency's 有效 policies
in no statement. A new or reissued policy is priced as a new sale with the plan version in force
when the request is processed. 批改, 减人, 换人 and 信息变更 cancel the old policy and issue a new one
that records the number it replaces and why; 加人 issues a new policy for the added people only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ..domain.dates import age_on, cover_end, show_end, show_hour, show_second
from ..domain.money import yuan_display
from ..domain.plans import Plan
from ..domain.policy import Agency, Insured, Policy
from ..domain.problems import problem
from ..domain.rating import person_premium
from ..io.book import Book
from ..io.sheet_table import SheetTable
from ..settings import Settings
from .base import CancelPolicy, Checked, Decision, IssuePolicy, Request
from .cancel import check_changeable
from .common import ApplySheet
from .roster import cell_of, check_roster, parse_roster, roster_keys


@dataclass
class State:
    policy: Policy | None
    plan: Plan | None  # the plan version in force now, for the policy's plan code
    agency: Agency | None
    overlaps: list


def _at(request: Request, label: str) -> dict:
    rows = request.extra["apply_rows"]
    return {"sheet": "申请", "row": rows.get(label), "column": label, "col_index": 1 if label in rows else None}


class _Endorsement:
    admin = False
    reissue = True  # cancel the old policy and issue a new one (all but 加人)

    def __init__(self, settings: Settings, action: str):
        self.settings = settings
        self.action = action

    def parse(self, book: Book, who: str) -> Request:
        request = Request(self.action, who)
        sheet = ApplySheet(book, request.problems)
        request.fields["policy_no"] = sheet.policy_no()
        request = self.parse_more(book, sheet, request)
        request.extra["apply_rows"] = {label: f.row for label, f in sheet.fields.items()}
        return request

    def parse_more(self, book: Book, sheet: ApplySheet, request: Request) -> Request:
        return parse_roster(book, request, self.settings.max_roster_rows)

    def load(self, ledger, request: Request, who: str) -> State:
        number = request.fields["policy_no"]
        # Only this agency's policies are ever looked at: another agency's number reads as unknown.
        policy = ledger.policy(number, agency=who) if number else None
        plan = ledger.plan(policy.plan_code) if policy else None
        overlaps = []
        if policy is not None and request.extra.get("rows"):
            overlaps = [
                o
                for o in ledger.live_overlaps(who, roster_keys(request), policy.start, policy.end)
                if o.policy_no != policy.policy_no
            ]
        return State(policy, plan, ledger.agency(who), overlaps)

    def validate(self, request: Request, state: State, now: datetime) -> Checked:
        problems = list(request.problems)
        checked = Checked(request, problems, {"state": state})
        blocked = []
        if request.fields["policy_no"]:
            blocked = check_changeable(
                state.policy, request.fields["policy_no"], self.action, now, self.settings.zone, _at(request, "保单号")
            )
        if (
            request.fields["policy_no"]
            and not blocked
            and (state.plan is None or state.agency is None or state.plan.code not in state.agency.plans)
        ):
            blocked = [
                problem(
                    "field.plan_not_agreed",
                    **_at(request, "保单号"),
                    value=state.policy.plan_code if state.policy else "",
                    allowed="、".join(state.agency.plans) if state.agency else "无",
                )
            ]
        problems += blocked
        if blocked or not request.fields["policy_no"]:
            # Without a policy that can change, what can still be known is the roster's own errors.
            self.validate_alone(request, now, checked)
            return checked
        self.validate_more(request, state, now, checked)
        return checked

    def validate_alone(self, request: Request, now: datetime, checked: Checked) -> None:
        """The people checked on their own (IDs, names, duplicates, gender and birth date)."""
        check_roster(
            request,
            plan=None,
            start=None,
            days=None,
            today=now.astimezone(self.settings.zone).date(),
            zone=self.settings.zone,
            overlaps=[],
            problems=checked.problems,
        )

    def validate_more(self, request: Request, state: State, now: datetime, checked: Checked) -> None:
        old = state.policy
        assert old is not None  # reached only when the policy was found and may be changed
        roster = check_roster(
            request,
            plan=state.plan,
            start=old.start,
            days=old.days,
            today=now.astimezone(self.settings.zone).date(),
            zone=self.settings.zone,
            overlaps=state.overlaps,
            problems=checked.problems,
            tour_group=old.tour_group,
            endorsing=True,
        )
        checked.values.update(people=roster.people, premiums=roster.premiums, row_of=roster.row_of)

    # --- decide ---------------------------------------------------------------------------------

    def new_policy(
        self, old: Policy, plan: Plan, people: tuple[Insured, ...], now: datetime, reason: str, **changes
    ) -> Policy:
        return replace(
            old,
            policy_no="",
            plan_version=plan.version,
            plan_name=plan.name,
            people=people,
            premium_fen=sum(p.premium_fen for p in people),
            issued_at=now,
            status="有效",
            cancelled_at=None,
            replaces=old.policy_no,
            replace_reason=reason,
            statement_no="",
            **changes,
        )

    def decide(self, checked: Checked, now: datetime) -> Decision:
        state: State = checked.values["state"]
        old = state.policy
        assert old is not None  # decided only without problems: the policy was found
        new = self.build(checked, state, now)
        zone = self.settings.zone
        changes = self.changes(checked, state)
        return Decision(
            status="success",
            ops=[*([CancelPolicy(old.policy_no, self.action)] if self.reissue else []), IssuePolicy(new)],
            policies=[new],
            cancelled=[old.policy_no] if self.reissue else [],
            row_premiums=dict(checked.values.get("premiums", {})),
            summary={
                "原保单": f"{old.policy_no}（{'已撤单' if self.reissue else '仍有效'}）",
                "旅行团号": new.tour_group,
                "方案": f"{new.plan_code} {new.plan_name}",
                "保险期间": f"{show_hour(new.start, zone)} 至 {show_end(new.end, zone)}",
            },
            tables=[SheetTable("人员变更", ["变更", "姓名", "证件类型", "证件号码", "说明"], ["text"] * 5, changes)]
            if changes
            else [],
            premium_before=old.premium_fen if self.reissue else None,
        )

    def build(self, checked: Checked, state: State, now: datetime) -> Policy:
        assert state.policy is not None and state.plan is not None  # found, or the request failed before
        return self.new_policy(state.policy, state.plan, tuple(checked.values["people"]), now, self.action)

    def changes(self, checked: Checked, state: State) -> list[list]:
        """Who was added, removed or changed, comparing the new roster with the old policy's."""
        old = {(p.id_type, p.id_no): p for p in (state.policy.people if state.policy else ())}
        new = {(p.id_type, p.id_no): p for p in checked.values.get("people", [])}
        rows = []
        for key, p in new.items():
            if key not in old:
                rows.append(["新增", p.name, p.id_type, p.id_no, f"保费 {yuan_display(p.premium_fen)}"])
            else:
                was = old[key]
                diffs = [
                    f"{label}：{a or '（空）'} → {b or '（空）'}"
                    for label, a, b in (
                        ("姓名", was.name, p.name),
                        ("性别", was.gender, p.gender),
                        ("出生日期", was.birth.isoformat(), p.birth.isoformat()),
                        ("联系电话", was.phone, p.phone),
                        ("备注", was.note, p.note),
                    )
                    if a != b
                ]
                if diffs:
                    rows.append(["变更", p.name, p.id_type, p.id_no, "；".join(diffs)])
        for key, p in old.items():
            if key not in new:
                rows.append(["减少", p.name, p.id_type, p.id_no, f"原保费 {yuan_display(p.premium_fen)}"])
        return rows


class AddPeopleKind(_Endorsement):
    """加人: a new policy for the added people, same tour group and period; the old one stays 有效."""

    reissue = False

    def __init__(self, settings: Settings):
        super().__init__(settings, "加人")

    def validate_more(self, request, state, now, checked) -> None:
        super().validate_more(request, state, now, checked)
        covered = {(p.id_type, p.id_no) for p in state.policy.people}
        for key, r in checked.values["row_of"].items():
            if key in covered:
                checked.problems.append(
                    problem(
                        "endorse.already_covered", **cell_of(request, r, "证件号码"), policy_no=state.policy.policy_no
                    )
                )

    def changes(self, checked, state) -> list[list]:
        return [
            ["新增", p.name, p.id_type, p.id_no, f"保费 {yuan_display(p.premium_fen)}"]
            for p in checked.values["people"]
        ]


class NewRosterKind(_Endorsement):
    """减人, 换人, 信息变更: cancel the policy and reissue it with the complete new roster."""

    def validate_more(self, request, state, now, checked) -> None:
        super().validate_more(request, state, now, checked)
        # Whether anyone was removed or anything changed can only be told from a roster without errors.
        whole = not any(not p.warning for p in checked.problems)
        old_keys = {(p.id_type, p.id_no) for p in state.policy.people}
        new_keys = set(checked.values["row_of"])
        if self.action == "减人":
            for key, r in checked.values["row_of"].items():
                if key not in old_keys:
                    checked.problems.append(
                        problem(
                            "endorse.not_on_policy", **cell_of(request, r, "证件号码"), policy_no=state.policy.policy_no
                        )
                    )
            if whole and new_keys == old_keys:
                checked.problems.append(problem("endorse.nobody_removed", **_at(request, "保单号")))
        elif whole and not self.changes(checked, state):
            checked.problems.append(problem("endorse.no_change", **_at(request, "保单号"), action=self.action))


class AmendKind(_Endorsement):
    """批改: change 生效时间, 天数, 行程路线 or 经办人; the same people, priced again."""

    KEYS = {"生效时间": "start", "天数": "days", "行程路线": "route", "经办人": "handler"}
    LABELS = tuple(KEYS)

    def __init__(self, settings: Settings):
        super().__init__(settings, "批改")

    def parse_more(self, book: Book, sheet: ApplySheet, request: Request) -> Request:
        f = request.fields
        given = [
            label for label in self.LABELS if label in sheet.fields and sheet.fields[label].value not in (None, "")
        ]
        f["start"] = sheet.moment("生效时间", self.settings.zone) if "生效时间" in given else None
        f["days"] = sheet.days() if "天数" in given else None
        f["route"] = sheet.text("行程路线", required=False, limit=200) if "行程路线" in given else None
        f["handler"] = sheet.text("经办人", required=False, limit=30) if "经办人" in given else None
        f["given"] = given
        if not given and not request.problems:
            request.problems.append(problem("endorse.amend_nothing", sheet="申请", column="保单号"))
        return request

    def validate_alone(self, request, now, checked) -> None:
        return  # 批改 brings no roster

    def validate_more(self, request, state, now, checked) -> None:
        f = request.fields
        old, plan, zone = state.policy, state.plan, self.settings.zone
        # A field given but unreadable is already reported; what depends on it cannot be known.
        unread = {label for label, key in self.KEYS.items() if label in f["given"] and f[key] is None}
        start = f["start"] or old.start
        days = f["days"] or old.days
        if f["start"] is not None and f["start"] <= now:
            checked.problems.append(
                problem(
                    "field.effective_past",
                    **_at(request, "生效时间"),
                    value=show_hour(f["start"], zone),
                    now=show_second(now, zone),
                )
            )
        if days > plan.max_days:
            checked.problems.append(
                problem("field.days_over", **_at(request, "天数"), days=days, plan=plan.name, max_days=plan.max_days)
            )
        people = []
        for p in old.people if "生效时间" not in unread else ():
            age = age_on(p.birth, start.date())
            if not plan.min_age <= age <= plan.max_age:
                checked.problems.append(
                    problem(
                        "endorse.age_at_new_start",
                        **_at(request, "生效时间"),
                        name=p.name,
                        age=age,
                        min_age=plan.min_age,
                        max_age=plan.max_age,
                    )
                )
            elif days <= plan.max_days:
                people.append(replace(p, age=age, premium_fen=person_premium(plan, days, age)))
        new = {
            "start": start,
            "days": days,
            "route": old.route if f["route"] is None else f["route"],
            "handler": old.handler if f["handler"] is None else f["handler"],
        }
        if not unread and (new["start"], new["days"], new["route"], new["handler"]) == (
            old.start,
            old.days,
            old.route,
            old.handler,
        ):
            checked.problems.append(problem("endorse.no_change", **_at(request, "保单号"), action=self.action))
        checked.values.update(people=people, amended=new)

    def build(self, checked, state, now) -> Policy:
        new = checked.values["amended"]
        old = state.policy
        what = "、".join(
            label
            for label, a, b in (
                ("生效时间", old.start, new["start"]),
                ("天数", old.days, new["days"]),
                ("行程路线", old.route, new["route"]),
                ("经办人", old.handler, new["handler"]),
            )
            if a != b
        )
        return self.new_policy(
            old,
            state.plan,
            tuple(checked.values["people"]),
            now,
            f"批改：{what}",
            start=new["start"],
            days=new["days"],
            end=cover_end(new["start"], new["days"], self.settings.zone),
            route=new["route"],
            handler=new["handler"],
        )

    def changes(self, checked, state) -> list[list]:
        return []
