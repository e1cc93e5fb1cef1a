"""Endorsements (保全) that issue a new policy: 批改, 加人, 减人, 换人, 信息变更.

All are accepted only strictly before the policy's effective time, on this agency's 有效 policies
in no statement. A new or reissued policy is priced as a new sale with the plan version in force
when the request is processed. 批改, 减人, 换人 and 信息变更 cancel the old policy and issue a new one
that records the number it replaces and why; 加人 issues a new policy for the added people only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from ..domain.dates import age_on, cover_end, show_end, show_hour, show_second
from ..domain.idcard import same_document
from ..domain.money import yuan_display
from ..domain.plans import Plan
from ..domain.policy import ACTIVE, Agency, Insured, Policy, Replacement
from ..domain.problems import Problem, problem
from ..domain.rating import person_premium
from ..domain.text import clean, fold, group_key
from ..io.book import Book
from ..io.sheet_table import AMENDED, CHANGES, SheetTable
from ..settings import Settings
from .base import CancelPolicy, Checked, Decision, IssuePolicy, Request
from .cancel import check_changeable, group_apart
from .common import ApplySheet
from .roster import brought_roster, cell_of, check_roster, parse_roster, roster_apart, roster_keys, same_group


@dataclass(frozen=True)
class Amendment:
    """What a 批改 changes (None: not given, or given but unreadable and already a problem)."""

    start: datetime | None
    days: int | None
    route: str | None
    handler: str | None
    given: tuple[str, ...]  # the labels filled in


@dataclass(frozen=True)
class EndorseFields:
    policy_no: str
    apply_rows: dict[str, int]  # label → its row on the 申请 sheet (where a problem about it points)
    amend: Amendment | None = None  # 批改 only
    # 旅行团号 / 区域 / 方案代码 / 营销员 as filled in: an endorsement keeps them
    kept: tuple[tuple[str, str], ...] = ()
    # 生效时间 / 天数 / 行程路线 / 经办人 as filled in on an endorsement other than 批改 (label, value read,
    # as shown): it keeps them too
    period: tuple[tuple[str, object, str], ...] = ()
    brought: Request | None = None  # 批改: a roster it was brought with (roster.brought_roster)


@dataclass
class State:
    policy: Policy | None
    plan: Plan | None  # the plan version in force now, for the policy's plan code
    agency: Agency | None
    overlaps: list
    others: tuple[tuple[str, datetime], ...] = ()  # the group's other live policies (number, start) this change leaves
    replacement: Replacement | None = None  # where a void policy's chain of replacements ends
    was: Plan | None = None  # 加人: the plan version the policy was priced under, where another is in force


@dataclass(frozen=True)
class Amended:
    """A 批改's policy values: what it gave, the rest kept from the old policy."""

    start: datetime
    days: int
    route: str
    handler: str


@dataclass(frozen=True)
class Endorsed:
    """What the checks of an endorsement computed: the new roster as insured and priced (the old people
    priced again for a 批改), the row of each person, and a 批改's new values."""

    state: State
    people: list[Insured] = field(default_factory=list)
    premiums: dict[int, int] = field(default_factory=dict)  # roster row index → fen
    row_of: dict[tuple[str, str], int] = field(default_factory=dict)  # person key → roster row index
    amended: Amended | None = None


KEPT = ("旅行团号", "区域", "方案代码", "营销员工号", "营销员姓名")  # what no endorsement changes (a new 投保 does)
PERIOD = ("生效时间", "天数", "行程路线", "经办人")  # what only a 批改 changes


def _at(request: Request[EndorseFields], label: str) -> dict:
    rows = request.fields.apply_rows
    return {"sheet": "申请", "row": rows.get(label), "column": label, "col_index": 1 if label in rows else None}


class _Endorsement:
    admin = False
    reissue = True  # cancel the old policy and issue a new one (all but 加人)
    amends = False  # changes the PERIOD fields (批改)

    def __init__(self, settings: Settings, action: str):
        self.settings = settings
        self.action = action

    def parse(self, book: Book, who: str) -> Request[EndorseFields]:
        problems: list[Problem] = []
        sheet = ApplySheet(book, problems)
        rows = {label: f.row for label, f in sheet.fields.items()}
        kept = tuple(
            (label, clean(sheet.fields[label].value))
            for label in KEPT
            if label in sheet.fields and clean(sheet.fields[label].value)
        )
        period: list[tuple[str, object, str]] = []
        for label in () if self.amends else PERIOD:  # a 投保 file reused for 减人 holds the policy's own values
            if label in sheet.fields and clean(sheet.fields[label].value):
                value: object
                if label == "生效时间":
                    value = sheet.moment(label, self.settings.zone)
                elif label == "天数":
                    value = sheet.days(label)
                else:
                    value = sheet.text(label, required=False, limit=200)
                if value is not None:
                    period.append((label, value, clean(sheet.fields[label].value)))
        fields = EndorseFields(sheet.policy_no(), rows, kept=kept, period=tuple(period))
        return self.parse_more(book, sheet, Request(self.action, who, fields, problems))

    def parse_more(self, book: Book, sheet: ApplySheet, request: Request[EndorseFields]) -> Request[EndorseFields]:
        return parse_roster(book, request, self.settings.max_roster_rows)

    def load(self, ledger, request: Request[EndorseFields], who: str) -> State:
        number = request.fields.policy_no
        # Only this agency's policies are ever looked at: another agency's number reads as unknown.
        policy = ledger.policy(number, agency=who) if number else None
        plan = ledger.plan(policy.plan_code) if policy else None
        overlaps = []
        if policy is not None and request.roster_rows:
            overlaps = [
                o
                for o in ledger.live_overlaps(who, roster_keys(request), policy.start, policy.end)
                if o.policy_no != policy.policy_no
            ]
        others = tuple(ledger.others_in_group(policy)) if policy is not None and self.action != "加人" else ()
        void = policy is not None and policy.status != ACTIVE
        replacement = ledger.replacement(policy.policy_no) if policy is not None and void else None
        was = None
        if self.action == "加人" and policy is not None and plan is not None and policy.plan_version != plan.version:
            was = ledger.plan_version(policy.plan_version)
        return State(policy, plan, ledger.agency(who), overlaps, others, replacement, was)

    def validate(
        self, request: Request[EndorseFields], state: State, now: datetime
    ) -> Checked[EndorseFields, Endorsed]:
        problems = list(request.problems)
        number = request.fields.policy_no
        blocked = []
        if number:
            blocked = check_changeable(
                state.policy, number, self.action, now, self.settings.zone, _at(request, "保单号"), state.replacement
            )
        if (
            number
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
        if number and not blocked and state.policy is not None:
            problems += self._kept(request, state.policy)
            problems += group_apart(state.policy, state.others, self.action, _at(request, "保单号"), now)
        if blocked or not number:
            # Without a policy that can change, what can still be known is the roster's own errors.
            self.validate_alone(request, now, problems)
            return Checked(request, problems, Endorsed(state))
        return Checked(request, problems, self.validate_more(request, state, now, problems))

    def _kept(self, request: Request[EndorseFields], old: Policy) -> list[Problem]:
        """An endorsement never changes the group, the region or the plan: a 申请 sheet (one copied from a
        投保, say) that asks for another is refused, never silently issued with the old one."""
        found = []
        for label, value in request.fields.kept:
            before = {
                "旅行团号": old.tour_group,
                "区域": old.region,
                "方案代码": old.plan_code,
                "营销员工号": old.sales_id,
                "营销员姓名": old.sales_name,
            }[label]
            if fold(value).upper() != fold(before).upper():
                found.append(
                    problem(
                        "endorse.kept_field",
                        **_at(request, label),
                        label=label,
                        value=value,
                        old=before or "（空）",
                        action=self.action,
                    )
                )
        zone = self.settings.zone
        for label, read, shown in request.fields.period:
            was: object = {"生效时间": old.start, "天数": old.days, "行程路线": old.route, "经办人": old.handler}[label]
            same = fold(str(read)) == fold(str(was)) if isinstance(read, str) else read == was
            if not same:
                found.append(
                    problem(
                        "endorse.period_field",
                        **_at(request, label),
                        label=label,
                        value=shown,
                        old=show_hour(old.start, zone) if label == "生效时间" else str(was) or "（空）",
                        action=self.action,
                    )
                )
        return found

    def validate_alone(self, request: Request[EndorseFields], now: datetime, problems: list[Problem]) -> None:
        """The people checked on their own (IDs, names, duplicates, gender and birth date)."""
        check_roster(
            request,
            plan=None,
            start=None,
            days=None,
            today=now.astimezone(self.settings.zone).date(),
            zone=self.settings.zone,
            overlaps=[],
            problems=problems,
        )

    def validate_more(
        self, request: Request[EndorseFields], state: State, now: datetime, problems: list[Problem]
    ) -> Endorsed:
        old = state.policy
        assert old is not None  # reached only when the policy was found and may be changed
        if state.plan is not None and old.days > state.plan.max_days:
            # Priced with the version in force, whose bands stop short of the policy's days: every person
            # would be issued at 0.00 (the roster check prices only within the plan's days).
            problems.append(self._days_over_plan(request, old, state.plan))
        roster = check_roster(
            request,
            plan=state.plan,
            start=old.start,
            days=old.days,
            today=now.astimezone(self.settings.zone).date(),
            zone=self.settings.zone,
            overlaps=state.overlaps,
            problems=problems,
            tour_group=old.tour_group,
            endorsing=True,
        )
        return Endorsed(state, roster.people, roster.premiums, roster.row_of)

    def _days_over_plan(self, request: Request[EndorseFields], old: Policy, plan: Plan) -> Problem:
        return problem(
            "endorse.days_over_plan",
            **_at(request, "保单号"),
            policy_no=old.policy_no,
            days=old.days,
            plan=plan.name,
            max_days=plan.max_days,
            action=self.action,
        )

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

    def decide(self, checked: Checked[EndorseFields, Endorsed], now: datetime) -> Decision:
        values = checked.values
        state = values.state
        old = state.policy
        assert old is not None  # decided only without problems: the policy was found
        new = self.build(values, now)
        zone = self.settings.zone
        changes = self.changes(values)
        return Decision(
            status="success",
            ops=[*([CancelPolicy(old.policy_no, self.action)] if self.reissue else []), IssuePolicy(new)],
            policies=[new],
            cancelled=[old.policy_no] if self.reissue else [],
            row_premiums=dict(values.premiums),
            summary={
                "原保单": f"{old.policy_no}（{'已撤单' if self.reissue else '仍有效'}）",
                "旅行团号": new.tour_group,
                "方案": f"{new.plan_code} {new.plan_name}",
                "保险期间": f"{show_hour(new.start, zone)} 至 {show_end(new.end, zone)}",
            },
            tables=self.tables(old, new, changes),
            premium_before=old.premium_fen if self.reissue else None,
            notes=self.repriced(old, new, values.state.was, values.state.plan),
        )

    def tables(self, old: Policy, new: Policy, changes: list[list]) -> list[SheetTable]:
        """The result's sheets besides its summary: who was added, removed or changed (人员变更)."""
        if not changes:
            return []
        return [SheetTable(CHANGES, ["变更", "姓名", "证件类型", "证件号码", "说明"], ["text"] * 5, changes)]

    def repriced(self, old: Policy, new: Policy, was: Plan | None = None, now: Plan | None = None) -> list[str]:
        """A line for the summary where the plan's rates changed since the old policy was priced: a new policy
        is priced as a new sale, so removing a traveller may cost more (a clerk would take it for an error).
        Only where a traveller on both is priced otherwise now (a new version of its coverages alone is not)."""
        if old.plan_version == new.plan_version:
            return []
        if not self.reissue:  # 加人: the same group's people priced two ways, with no word of why
            if was is None or now is None or (was.rates, was.factors) == (now.rates, now.factors):
                return []  # (a version with new coverages, or another plan's upload, prices them as before)
            return [
                f"方案 {new.plan_code} 的费率在原保单出单后已更新：新增人员按现行费率计费，每人保费可能与原保单不同"
                f"（原保单 {old.policy_no} 不变）"
            ]
        before = {(p.id_type, p.id_no): p.premium_fen for p in old.people}
        if all(before.get((p.id_type, p.id_no), p.premium_fen) == p.premium_fen for p in new.people):
            return []
        return [
            f"方案 {new.plan_code} 的费率在原保单出单后已更新：新保单按现行版本重新计费（每人保费可能与原保单不同），"
            f"原保单保费 {yuan_display(old.premium_fen)}，新保单保费 {yuan_display(new.premium_fen)}"
        ]

    def build(self, values: Endorsed, now: datetime) -> Policy:
        state = values.state
        assert state.policy is not None and state.plan is not None  # found, or the request failed before
        return self.new_policy(state.policy, state.plan, tuple(values.people), now, self.action)

    def changes(self, values: Endorsed, *, repriced: bool = True) -> list[list]:
        """Who was added, removed or changed, comparing the new roster with the old policy's; with `repriced`,
        also who is only priced otherwise now (the plan's rates changed since: a 减人 listed only whoever left,
        and the rest's new premiums went unsaid but in the summary's total)."""
        policy = values.state.policy
        old = {(p.id_type, p.id_no): p for p in (policy.people if policy else ())}
        new = {(p.id_type, p.id_no): p for p in values.people}
        corrected = renumbered(old.values(), values.people) if self.action == "信息变更" else {}
        rows = []
        for key, p in new.items():
            was = old.get(key) or corrected.get(key)
            if was is None:
                rows.append(["新增", p.name, p.id_type, p.id_no, f"保费 {yuan_display(p.premium_fen)}"])
            elif (
                diffs := [
                    *(
                        (label, a, b)
                        for label, a, b in (("证件类型", was.id_type, p.id_type), ("证件号码", was.id_no, p.id_no))
                        if a != b
                    ),
                    *person_diffs(was, p),
                ]
            ) or (repriced and was.premium_fen != p.premium_fen):
                if was.premium_fen != p.premium_fen:  # (a birth date moving an age band, new rates)
                    diffs.append(("保费", yuan_display(was.premium_fen), yuan_display(p.premium_fen)))
                said = "；".join(f"{label}：{a or '（空）'} → {b or '（空）'}" for label, a, b in diffs)
                rows.append(["变更", p.name, p.id_type, p.id_no, said])
        gone = {(o.id_type, o.id_no) for o in corrected.values()}
        for key, p in old.items():
            if key not in new and key not in gone:
                rows.append(["减少", p.name, p.id_type, p.id_no, f"原保费 {yuan_display(p.premium_fen)}"])
        return rows


class AddPeopleKind(_Endorsement):
    """加人: a new policy for the added people, same tour group and period; the old one stays 有效."""

    reissue = False

    def __init__(self, settings: Settings):
        super().__init__(settings, "加人")

    def validate_more(self, request, state, now, problems) -> Endorsed:
        values = super().validate_more(request, state, now, problems)
        covered = [(p.id_type, p.id_no) for p in state.policy.people]
        for key, r in values.row_of.items():
            if any(same_document(*key, *c) for c in covered):
                problems.append(
                    problem(
                        "endorse.already_covered", **cell_of(request, r, "证件号码"), policy_no=state.policy.policy_no
                    )
                )
        return values

    def changes(self, values: Endorsed, *, repriced: bool = True) -> list[list]:
        return [["新增", p.name, p.id_type, p.id_no, f"保费 {yuan_display(p.premium_fen)}"] for p in values.people]


def renumbered(was: Iterable[Insured], now: Iterable[Insured]) -> dict[tuple[str, str], Insured]:
    """A 信息变更 that corrects a traveller's 证件号码: the new roster's key → the person as on the policy, where
    exactly one person of a name left the roster and exactly one of that name came, their numbers a typing
    error apart (at most three characters differ). Matched by key alone, the correction read as one
    traveller removed and another added, and their phone was lost although the guide says a blank one is
    kept (attack W); a different traveller of the same name is not paired (their phone would be copied)."""

    def key(p: Insured) -> tuple[str, str]:
        return (p.id_type, p.id_no)

    def name(p: Insured) -> str:
        return fold(p.name).casefold().strip()

    def typo_apart(a: str, b: str) -> bool:
        return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) <= 3

    was, now = list(was), list(now)
    gone = [p for p in was if key(p) not in {key(n) for n in now}]
    came = [p for p in now if key(p) not in {key(w) for w in was}]
    left, arrived = Counter(name(p) for p in gone), Counter(name(p) for p in came)
    by_name = {name(p): p for p in gone if left[name(p)] == 1}
    return {
        key(p): o
        for p in came
        if arrived[name(p)] == 1
        and (o := by_name.get(name(p))) is not None
        and o.id_type == p.id_type
        and typo_apart(o.id_no, p.id_no)
    }


def person_diffs(
    was: Insured, now: Insured, same: Callable[[str, str, str], bool] | None = None
) -> list[tuple[str, str, str]]:
    """What differs between a person as on the policy and as in a new roster: (column, was, now); `same`
    (column, was, now) says when two values mean the same (default: equal)."""
    return [
        (label, a, b)
        for label, a, b in (
            ("姓名", was.name, now.name),
            ("性别", was.gender, now.gender),
            ("出生日期", was.birth.isoformat(), now.birth.isoformat()),
            ("联系电话", was.phone, now.phone),
            ("备注", was.note, now.note),
        )
        if not (same(label, a, b) if same is not None else a == b)
    ]


def same_in_substance(label: str, was: str, now: str) -> bool:
    """For a person a 减人 keeps: a name's case, a phone's spaces and dashes, full-width letters, an optional
    cell left blank are no change."""
    if label == "姓名":
        return fold(was).casefold() == fold(now).casefold()
    if label == "联系电话":
        return not now or re.sub(r"[\s\-()（）]", "", fold(was)) == re.sub(r"[\s\-()（）]", "", fold(now))
    if label == "备注":
        return not now or fold(was).strip() == fold(now).strip()
    return was == now


class NewRosterKind(_Endorsement):
    """减人, 换人, 信息变更: cancel the policy and reissue it with the complete new roster."""

    def validate_more(self, request, state, now, problems) -> Endorsed:
        values = super().validate_more(request, state, now, problems)
        # Whether anyone was removed or anything changed can only be told from a roster without errors.
        whole = not any(not p.warning for p in problems)
        old_keys = {(p.id_type, p.id_no) for p in state.policy.people}
        new_keys = set(values.row_of)
        if self.action == "减人":
            was = {(p.id_type, p.id_no): p for p in state.policy.people}
            now_people = {(p.id_type, p.id_no): p for p in values.people}
            # The people kept are the policy's own, as it has them (priced again): a roster typed otherwise
            # only in form (spaces in a phone, a Latin name in capitals, optional cells left blank) is fine.
            values = replace(
                values,
                people=[
                    replace(p, name=o.name, gender=o.gender, birth=o.birth, phone=o.phone, note=o.note)
                    if (o := was.get((p.id_type, p.id_no))) is not None
                    else p
                    for p in values.people
                ],
            )
            for key, r in values.row_of.items():
                group = state.policy.tour_group
                elsewhere = [
                    o
                    for o in (state.overlaps if key not in old_keys else ())
                    if (o.id_type, o.id_no) == key and same_group(o.tour_group, group)
                ]
                if elsewhere:
                    # On another policy of the group (a 加人 issued beside this one): two messages told the clerk
                    # to 换人 or 减人 on that one and that a 减人 cannot add; the row is simply not this policy's.
                    at = cell_of(request, r, "证件号码")
                    problems[:] = [
                        p
                        for p in problems
                        if not (p.code == "roster.in_group_policy" and (p.sheet, p.row) == (at["sheet"], at["row"]))
                    ]
                    problems.append(
                        problem(
                            "endorse.reduce_elsewhere",
                            **at,
                            policy_no=state.policy.policy_no,
                            other=elsewhere[0].policy_no,
                        )
                    )
                elif key not in old_keys:
                    problems.append(
                        problem(
                            "endorse.not_on_policy", **cell_of(request, r, "证件号码"), policy_no=state.policy.policy_no
                        )
                    )
                elif key in now_people and (diffs := person_diffs(was[key], now_people[key], same_in_substance)):
                    # Kept, but typed otherwise: the new policy would carry it silently (信息变更 changes people).
                    column = diffs[0][0]
                    problems.append(
                        problem(
                            "endorse.reduce_changed",
                            **cell_of(request, r, column),
                            policy_no=state.policy.policy_no,
                            # Which fields, not what the policy holds: a message never says what would pass.
                            diffs="、".join(label for label, _, _ in diffs),
                        )
                    )
            if whole and new_keys == old_keys:
                problems.append(problem("endorse.nobody_removed", **_at(request, "保单号")))
        else:
            # A 联系电话 left blank for someone already on the policy keeps theirs: a clerk who retypes a roster
            # leaves the optional cells out, and the travellers' phones went with no word but a 人员变更 line.
            # So does one whose 证件号码 a 信息变更 corrects (the same traveller, see renumbered).
            had = {(p.id_type, p.id_no): p.phone for p in state.policy.people}
            if self.action == "信息变更":
                had |= {key: was.phone for key, was in renumbered(state.policy.people, values.people).items()}
            values = replace(
                values,
                people=[
                    replace(p, phone=had[(p.id_type, p.id_no)]) if not p.phone and had.get((p.id_type, p.id_no)) else p
                    for p in values.people
                ],
            )
            if whole and not self.changes(values, repriced=False):
                problems.append(problem("endorse.no_change", **_at(request, "保单号"), action=self.action))
        kept, removed = len(old_keys & new_keys), len(old_keys - new_keys)
        # (A 换人 that swaps most of a group for as many others is routine; one that leaves fewer is not.)
        if (
            whole
            and removed > kept
            and (self.action == "减人" or (self.action == "换人" and len(new_keys) < len(old_keys)))
        ):
            # A clerk who listed only those leaving (or only the newcomer) took most of the group off cover,
            # and read 成功 with no 提示 at all.
            problems.append(
                problem(
                    "endorse.most_removed",
                    **_at(request, "保单号"),
                    warning=True,
                    action=self.action,
                    before=len(old_keys),
                    kept=kept,
                    removed=removed,
                )
            )
        return values


class AmendKind(_Endorsement):
    """批改: change 生效时间, 天数, 行程路线 or 经办人; the same people, priced again."""

    amends = True
    KEYS = {"生效时间": "start", "天数": "days", "行程路线": "route", "经办人": "handler"}
    LABELS = tuple(KEYS)

    def __init__(self, settings: Settings):
        super().__init__(settings, "批改")

    def parse_more(self, book: Book, sheet: ApplySheet, request: Request[EndorseFields]) -> Request[EndorseFields]:
        given = tuple(
            label for label in self.LABELS if label in sheet.fields and sheet.fields[label].value not in (None, "")
        )
        amend = Amendment(
            start=sheet.moment("生效时间", self.settings.zone) if "生效时间" in given else None,
            days=sheet.days() if "天数" in given else None,
            route=sheet.text("行程路线", required=False, limit=200) if "行程路线" in given else None,
            handler=sheet.text("经办人", required=False, limit=30) if "经办人" in given else None,
            given=given,
        )
        if not given and not request.problems:
            request.problems.append(problem("endorse.amend_nothing", **sheet.at("保单号")))
        brought = brought_roster(book, self.action, request.who, self.settings.max_roster_rows)
        return replace(request, fields=replace(request.fields, amend=amend, brought=brought))

    def load(self, ledger, request: Request[EndorseFields], who: str) -> State:
        """Besides the policy: where its people are already insured over the period the 批改 asks for (a
        new 生效时间 or 天数 may move the group onto a trip another policy covers)."""
        state = super().load(ledger, request, who)
        old, f, plan = state.policy, request.fields.amend, state.plan
        if old is None or old.status != ACTIVE or f is None or plan is None:
            return state
        start, days = f.start or old.start, f.days or old.days
        if (start, days) == (old.start, old.days) or not 0 < days <= plan.max_days:
            return state  # the period does not move (or cannot be: its own error says why)
        try:
            end = cover_end(start, days, self.settings.zone)
        except (OverflowError, ValueError):  # a year past what dates hold: 生效时间's own check says it
            return state
        keys = [(p.id_type, p.id_no) for p in old.people]
        state.overlaps = [o for o in ledger.live_overlaps(who, keys, start, end) if o.policy_no != old.policy_no]
        return state

    def validate_alone(self, request, now, problems) -> None:
        return  # 批改 brings no roster

    def validate_more(self, request, state, now, problems) -> Endorsed:
        f = request.fields.amend
        old, plan, zone = state.policy, state.plan, self.settings.zone
        # A field given but unread is already reported; what depends on it cannot be known.
        unread = {label for label, key in self.KEYS.items() if label in f.given and getattr(f, key) is None}
        start = f.start or old.start
        days = f.days or old.days
        if f.start is not None and f.start <= now:
            problems.append(
                problem(
                    "field.effective_past",
                    **_at(request, "生效时间"),
                    value=show_hour(f.start, zone),
                    now=show_second(now, zone),
                )
            )
        if days > plan.max_days:
            if f.days is None:  # 天数 not asked to change: the plan changed since the policy was issued
                problems.append(self._days_over_plan(request, old, plan))
            else:
                problems.append(
                    problem(
                        "field.days_over", **_at(request, "天数"), days=days, plan=plan.name, max_days=plan.max_days
                    )
                )
        people = []
        for p in old.people if "生效时间" not in unread else ():
            age = age_on(p.birth, start.astimezone(zone).date())  # the desk's date (a kept start is UTC)
            if not plan.min_age <= age <= plan.max_age:
                moved = f.start is not None
                problems.append(
                    problem(
                        "endorse.age_at_new_start" if moved else "endorse.age_over_plan",
                        **_at(request, "生效时间" if moved else "保单号"),
                        name=p.name,
                        age=age,
                        min_age=plan.min_age,
                        max_age=plan.max_age,
                        action=self.action,
                    )
                )
            elif days <= plan.max_days:
                people.append(replace(p, age=age, premium_fen=person_premium(plan, days, age)))
        new = Amended(
            start=start,
            days=days,
            route=old.route if f.route is None else f.route,
            handler=old.handler if f.handler is None else f.handler,
        )
        if request.fields.brought is not None:
            problems += roster_apart(request.fields.brought, old, now.astimezone(zone).date(), zone)
        problems += self._overlaps(request, state, "生效时间" if "生效时间" in f.given else "天数")
        if (
            f.given
            and not unread
            and (new.start, new.days, new.route, new.handler) == (old.start, old.days, old.route, old.handler)
        ):
            problems.append(problem("endorse.no_change", **_at(request, "保单号"), action=self.action))
        return Endorsed(state, people=people, amended=new)

    def _overlaps(self, request: Request[EndorseFields], state: State, label: str) -> list[Problem]:
        """The new period over another live policy of this agency with any of the same people: refused in the
        same tour group (they would be insured twice, as a 投保 would be refused), warned in another one."""
        old, zone = state.policy, self.settings.zone
        assert old is not None
        found: dict[str, tuple] = {}
        for o in sorted(state.overlaps, key=lambda o: (o.start, o.policy_no)):
            found.setdefault(o.policy_no, (o, set()))[1].add((o.id_type, o.id_no))
        problems = []
        for o, keys in found.values():
            who = [p.name for p in old.people if (p.id_type, p.id_no) in keys]  # as the policy lists them
            same = group_key(o.tour_group) == group_key(old.tour_group)
            shown = "、".join(who[:5]) + (f" 等 {len(who)} 人" if len(who) > 5 else "")
            problems.append(
                problem(
                    "endorse.amend_overlap" if same else "endorse.amend_overlap_other",
                    **_at(request, label),
                    warning=not same,
                    policy_no=o.policy_no,
                    tour_group=o.tour_group,
                    start=show_hour(o.start, zone),
                    end=show_end(o.end, zone),
                    names=shown,
                )
            )
        return problems

    def build(self, values: Endorsed, now: datetime) -> Policy:
        new, old, plan = values.amended, values.state.policy, values.state.plan
        assert new is not None and old is not None and plan is not None  # decided only without problems
        what = "、".join(
            label
            for label, a, b in (
                ("生效时间", old.start, new.start),
                ("天数", old.days, new.days),
                ("行程路线", old.route, new.route),
                ("经办人", old.handler, new.handler),
            )
            if a != b
        )
        return self.new_policy(
            old,
            plan,
            tuple(values.people),
            now,
            f"批改：{what}",
            start=new.start,
            days=new.days,
            end=cover_end(new.start, new.days, self.settings.zone),
            route=new.route,
            handler=new.handler,
        )

    def changes(self, values: Endorsed, *, repriced: bool = True) -> list[list]:
        """The same people, priced again for the new period: those whose premium changed, old → new."""
        policy = values.state.policy
        old = {(p.id_type, p.id_no): p for p in (policy.people if policy else ())}
        return [
            ["变更", p.name, p.id_type, p.id_no, f"保费：{yuan_display(o.premium_fen)} → {yuan_display(p.premium_fen)}"]
            for p in values.people
            if (o := old.get((p.id_type, p.id_no))) is not None and o.premium_fen != p.premium_fen
        ]

    def tables(self, old: Policy, new: Policy, changes: list[list]) -> list[SheetTable]:
        """What the 批改 changed, each old value beside the new (the summary shows only the new period), then
        the people whose premium it changed: a clerk could not tell from the result that the dates moved."""
        zone = self.settings.zone
        rows = [
            [label, a or "（空）", b or "（空）"]
            for label, a, b in (
                ("生效时间", show_hour(old.start, zone), show_hour(new.start, zone)),
                ("天数", str(old.days), str(new.days)),
                ("终止时间", show_end(old.end, zone), show_end(new.end, zone)),
                ("行程路线", old.route, new.route),
                ("经办人", old.handler, new.handler),
                ("保费", yuan_display(old.premium_fen), yuan_display(new.premium_fen)),
            )
            if a != b
        ]
        return [
            SheetTable(AMENDED, ["项目", "原内容", "新内容"], ["text"] * 3, rows),
            *super().tables(old, new, changes),
        ]
