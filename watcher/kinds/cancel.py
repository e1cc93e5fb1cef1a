"""撤单: cancel a policy of this agency before its effective time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ..domain.dates import show_end, show_hour
from ..domain.money import Amount, yuan_text
from ..domain.policy import ACTIVE, Policy, Replacement
from ..domain.problems import problem
from ..io.book import Book
from .base import CancelPolicy, Checked, Decision, Request
from .common import RequestKind
from .roster import brought_roster, roster_apart


def group_apart(policy: Policy | None, found, action: str, at: dict, now: datetime) -> list:
    """A warning where the tour group has other live policies over the same period (a 加人 policy beside this
    one, or one issued apart) that could still be changed: a 撤单 or 批改 of this one leaves them as they are
    (their travellers still covered, still billed). One in force or on a statement (the same action could
    only be refused) or for another trip of the group is not named. `found`: (number, start) each."""
    others = [number for number, start in found if now < start]
    if not others or policy is None:
        return []
    return [
        problem(
            "endorse.group_apart",
            **at,
            warning=True,
            group=policy.tour_group,
            policies="、".join(others),
            action=action,
        )
    ]


def check_changeable(
    policy: Policy | None,
    number: str,
    action: str,
    now: datetime,
    zone,
    at: dict,
    replacement: Replacement | None = None,
) -> list:
    """The rules every endorsement shares: this agency's, still 有效, in no statement, not yet in force.
    A void policy that another, still 有效, replaces (`replacement`, where its chain ends) names that one:
    the clerk who handed in two 批改 of one policy at once is told which number to use for the second."""
    if policy is None:
        return [problem("policy.not_found", **at, value=number)]
    if policy.status != ACTIVE and replacement is not None:
        shown = replacement.shown_status(now)
        if replacement.changeable(now):
            return [problem("policy.replaced", **at, value=number, replacement=replacement.policy_no, action=action)]
        # The number in force cannot change either (in force, settled, or void itself): never sent there.
        if shown == ACTIVE and replacement.statement_no:
            why = f"已列入对账单 {replacement.statement_no}"
        elif shown == ACTIVE and replacement.start is not None:
            why = f"已于 {show_hour(replacement.start, zone)} 生效"
        else:
            why = f"现也{shown}"
        return [
            problem(
                "policy.replaced_fixed", **at, value=number, replacement=replacement.policy_no, why=why, action=action
            )
        ]
    if policy.status != ACTIVE:
        return [problem("policy.already_cancelled", **at, value=number)]
    if policy.statement_no:
        return [problem("policy.settled", **at, value=number, statement=policy.statement_no)]
    if now >= policy.start:
        return [problem("policy.in_force", **at, value=number, start=show_hour(policy.start, zone), action=action)]
    return []


@dataclass(frozen=True)
class OnePolicy:
    """The fields of a request about one policy: its number, and where the 申请 sheet holds it."""

    policy_no: str
    at: dict  # where 保单号 is: sheet, row, column (for a problem about it)
    brought: Request | None = None  # 撤单: a roster it was brought with (roster.brought_roster)


@dataclass(frozen=True)
class Found:
    """The policy found (None: not this agency's, or no such number)."""

    policy: Policy | None


class OnePolicyKind(RequestKind):
    """A request about one policy of this agency, named by its 保单号 (撤单, 补打保单)."""

    def parse(self, book: Book, who: str) -> Request[OnePolicy]:
        problems, sheet = self.begin(book)
        return Request(self.action, who, OnePolicy(sheet.policy_no(), sheet.at("保单号")), problems)

    def load(self, ledger, request: Request[OnePolicy], who: str) -> Policy | None:
        number = request.fields.policy_no
        # Only this agency's policies are ever looked at: another agency's number reads as unknown.
        return ledger.policy(number, agency=who) if number else None


class CancelKind(OnePolicyKind):
    action = "撤单"

    def parse(self, book: Book, who: str) -> Request[OnePolicy]:
        request = super().parse(book, who)
        brought = brought_roster(book, self.action, who, self.settings.max_roster_rows)
        return replace(request, fields=replace(request.fields, brought=brought))

    def load(self, ledger, request: Request[OnePolicy], who: str):
        """The policy, its group's other live ones, and the policy that replaces it if it is void."""
        policy = super().load(ledger, request, who)
        if policy is None:
            return None, [], None
        void = policy.status != ACTIVE
        return policy, ledger.others_in_group(policy), ledger.replacement(policy.policy_no) if void else None

    def validate(
        self,
        request: Request[OnePolicy],
        state: tuple[Policy | None, list[tuple[str, datetime]], Replacement | None],
        now: datetime,
    ) -> Checked[OnePolicy, Found]:
        policy, others, replacement = state
        problems = list(request.problems)
        f = request.fields
        if f.policy_no and not problems:
            zone = self.settings.zone
            blocked = check_changeable(policy, f.policy_no, self.action, now, zone, f.at, replacement)
            if not blocked and f.brought is not None and policy is not None:
                blocked = roster_apart(f.brought, policy, now.astimezone(zone).date(), zone)
            problems += blocked or group_apart(policy, others, self.action, f.at, now)
        return Checked(request, problems, Found(policy))

    def decide(self, checked: Checked[OnePolicy, Found], now: datetime) -> Decision:
        policy = checked.values.policy
        assert policy is not None  # decided only without problems: it was found
        zone = self.settings.zone
        return Decision(
            status="success",
            ops=[CancelPolicy(policy.policy_no, "撤单")],
            cancelled=[policy.policy_no],
            summary={
                "已撤单保单": policy.policy_no,
                "旅行团号": policy.tour_group,
                "方案": f"{policy.plan_code} {policy.plan_name}",
                "保险期间": f"{show_hour(policy.start, zone)} 至 {show_end(policy.end, zone)}",
                "撤销人数": policy.insured_count,
                "撤销保费": Amount(policy.premium_fen),
            },
            # The same two figures for the JSON twin (its premium_total is 0.00: nothing is in force).
            content={"cancelled_insured": policy.insured_count, "cancelled_premium": yuan_text(policy.premium_fen)},
        )
