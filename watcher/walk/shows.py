"""What the outputs show besides the outcome itself, read from the ledger once the request is committed:
each policy page's plan version, agency and replacing policy, the statements written again with their
policies, the detail sheets with their month's policies. Rendering then takes the outcome and writes
files, reading nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import tzinfo

from ..domain.money import Amount
from ..domain.plans import Plan
from ..domain.policy import ACTIVE, Agency, Policy, Replacement
from ..domain.settlement import Group, Statement, month_bounds, month_text, parse_month
from ..io.result_json import plan_json, statement_json
from ..io.sheet_table import SheetTable
from ..kinds.base import AddPlanVersion, Decision, Settle
from ..kinds.queries import month_detail_table
from ..kinds.settlement import statement_table
from ..ledger.policies import Ledger
from .outcome import Outcome


@dataclass(frozen=True)
class PageShown:
    """A policy's electronic page: `issued` for one this request issued (a file already there is set
    aside, never written over); otherwise its state now (void, replaced, reprinted)."""

    policy: Policy
    plan: Plan
    agency: Agency | None
    replacement: Replacement | None
    issued: bool = False
    # A void policy's people who are on no policy of its replacement: the page that says 请以新保单为准
    # must not send a traveller removed by 减人 or 换人 to a policy that does not cover them.
    not_on_replacement: tuple[str, ...] = ()
    # Those of them a 加人 put back on another policy: (name, that policy's number).
    moved: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class StatementShown:
    statement: Statement
    members: list[Policy]
    agency_name: str
    core: bool  # its exchange file for the core system too


@dataclass(frozen=True)
class DetailShown:
    agency: str
    month_label: str
    table: SheetTable


@dataclass(frozen=True)
class Shows:
    pages: list[PageShown] = field(default_factory=list)
    statements: list[StatementShown] = field(default_factory=list)
    details: list[DetailShown] = field(default_factory=list)


def page_shown(ledger: Ledger, policy: Policy, issued: bool = False) -> PageShown:
    replacement = ledger.replacement(policy.policy_no) if policy.status != ACTIVE else None
    missing: tuple[str, ...] = ()
    moved: tuple[tuple[str, str], ...] = ()
    if replacement is not None and policy.people:
        missing, moved = ledger.placed(policy)
    return PageShown(
        policy,
        ledger.plan_version(policy.plan_version),
        ledger.agency(policy.agency),
        replacement,
        issued,
        missing,
        moved,
    )


def gather(outcome: Outcome, ledger: Ledger, zone: tzinfo) -> Outcome:
    """The outcome with what it shows besides itself read in (and what the earlier request it repairs
    shows): a new outcome."""
    repair = gather(outcome.repair, ledger, zone) if outcome.repair is not None else None
    issued = [p for p in outcome.policies if p.policy_no] if outcome.outputs else []
    if outcome.recovered:  # its result shows them as issued; their pages say what they are now
        issued = [ledger.policy(p.policy_no) or p for p in issued]
    pages = [page_shown(ledger, p, issued=True) for p in issued]
    pages += [page_shown(ledger, p) for p in outcome.reprint if p.policy_no]
    pages += _void_pages(outcome, ledger)
    statements, details = _settlement(outcome, ledger, zone)
    return replace(outcome, repair=repair, shows=Shows(pages, statements, details))


CHANGES_PEOPLE = ("加人", "减人", "换人", "信息变更", "批改")  # the endorsements that issue a policy


def _void_pages(outcome: Outcome, ledger: Ledger) -> list[PageShown]:
    """A void policy never looks valid: the pages of the policies this request cancelled, and of those
    they had replaced (their chain now ends elsewhere), say 已撤单 and which policy replaces them. A 加人
    that puts back someone a 减人 or 换人 had left out covers them again: the void pages that said they were
    no longer covered say so no more (as the lookup page does at once)."""
    if outcome.status != "success":
        return []
    numbers = dict.fromkeys(n for c in outcome.cancelled for n in (c, *ledger.replaced(c)))
    # Beyond the chain a cancellation ends: any void policy this request's policies were issued from (through
    # a 加人 too) that lists one of the people it put on or took off.
    touched = [p for n in outcome.cancelled if (p := ledger.policy(n))]
    if outcome.action in CHANGES_PEOPLE:  # (a query's policies are only found, never issued)
        touched += [p for p in outcome.policies if p.policy_no]
    # (by ID, or by name: a 信息变更 on the way may have corrected the ID the void policy has)
    ids = {(person.id_type, person.id_no) for p in touched for person in p.people}
    names = {person.name for p in touched for person in p.people}
    for n in dict.fromkeys(a for p in touched for a in ledger.ancestors(p.policy_no)):
        if n in numbers:
            continue
        void = ledger.policy(n)
        if void is not None and void.status != ACTIVE:
            if any((p.id_type, p.id_no) in ids or p.name in names for p in void.people):
                numbers[n] = None
    policies = [ledger.policy(n) for n in numbers]
    return [page_shown(ledger, p) for p in policies if p is not None]


def _settlement(outcome: Outcome, ledger: Ledger, zone: tzinfo) -> tuple[list[StatementShown], list[DetailShown]]:
    """Statements written again (their state changed, or an agency asked), with exchange files for the
    core system, and detail sheets whose 结算状态 or 对账单号 changed."""
    if outcome.status != "success":
        return [], []
    names = {a.code: a.name for a in ledger.agencies()} if outcome.statements or outcome.core else {}
    statements = []
    for number in dict.fromkeys(outcome.statements + outcome.core):
        s = ledger.statement(number)
        if s is not None:
            statements.append(
                StatementShown(s, ledger.statement_policies(number), names.get(s.agency, ""), number in outcome.core)
            )
    details = []
    for agency, month_label in dict.fromkeys(outcome.details):
        month = parse_month(month_label)
        start, end = month_bounds(month, zone)
        table = month_detail_table(agency, month, ledger.month_policies(start, end, agency=agency), zone)
        details.append(DetailShown(agency, month_label, table))
    return statements, details


# --- what only the commit could tell, shown in the result -------------------------------------------


@dataclass
class Committed:
    """What the commit did that the decision could not know: the numbers issued, the plan versions added,
    the statements a 结账 made and the groups that wait, the statements confirmed."""

    issued: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)  # plan code → the version added
    settled: list[tuple[Settle, list[Statement], list[Group]]] = field(default_factory=list)
    confirmed: list[Statement] = field(default_factory=list)


@dataclass(frozen=True)
class Shown:
    """What a result shows besides its policies: what the request decided, and for a committed one what
    only its commit could tell (each plan's new version, a 结账's statements and what waits, the
    statements confirmed with their exchange files and the detail sheets whose 结算状态 changed)."""

    summary: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    tables: list[SheetTable] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    core: list[str] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)
    content: dict[str, object] = field(default_factory=dict)


def shown_decided(decision: Decision) -> Shown:
    """What a request that changed nothing shows: what it decided."""
    return Shown(
        dict(decision.summary),
        list(decision.notes),
        list(decision.tables),
        list(decision.statements),
        content=dict(decision.content),
    )


def show_committed(decision: Decision, done: Committed, ledger: Ledger) -> Shown:
    """What a committed request shows, inside the commit's transaction (it is recorded with the request)."""
    zone = ledger.zone
    content = dict(decision.content)
    added = [op.plan for op in decision.ops if isinstance(op, AddPlanVersion)]
    if added:  # each plan as the commit numbered its version
        content["plans"] = [
            plan_json(
                replace(plan, version=done.versions[plan.code]),
                ledger.plan_version_number(plan.code, done.versions[plan.code]),
            )
            for plan in added
        ]
    core, details = [], []
    if done.confirmed:
        content["confirmed"] = [statement_json(s, zone) for s in done.confirmed]
        core = [s.statement_no for s in done.confirmed]
        details = [(s.agency, month_text(s.month)) for s in done.confirmed]
    shown = Shown(
        dict(decision.summary), list(decision.notes), list(decision.tables), list(decision.statements), core, details
    )
    names = {a.code: a.name for a in ledger.agencies()} if done.settled else {}
    for op, created, groups in done.settled:
        shown = _show_settled(shown, content, op, created, groups, names, zone)
    return replace(shown, content=content)


def _show_settled(
    shown: Shown,
    content: dict[str, object],
    op: Settle,
    created: list[Statement],
    groups: list[Group],
    names: dict[str, str],
    zone: tzinfo,
) -> Shown:
    """结账 by request: what was settled and what waits becomes the result's tables (`content`, the JSON
    twin's keys being gathered, gets its statements and what waits)."""
    waiting = [g for g in groups if g.state == "waiting"]
    content["statements"] = [statement_json(s, zone) for s in created]
    content["waiting"] = [
        {
            "agency": g.agency,
            "plan": g.plan_code,
            "policies": [p.policy_no for p in g.waiting],
            "reason": g.waits_for(zone),
        }
        for g in waiting
    ]
    notes = list(shown.notes)
    done = [g for g in groups if g.state == "done"]
    if not created and not waiting:
        notes.append("没有可结账的保单：" + ("相关保单已全部在对账单中" if done else "该月没有有效保单"))
    notes += [f"等待：{g.agency} {g.plan_code}：{g.waits_for(zone)}" for g in waiting]
    if created:
        # The month's summary was written by its month-end run and is not written again here: staff took its
        # 等待结账 and 对账确认 sheets for the month as it stands, and found no row to confirm. (Said only where a
        # statement was made: a 结账 that made none, or a month whose summary is not written yet, misled.)
        notes.append(
            f"本次新生成的对账单不在月结汇总_{month_text(op.month)}.xlsx 中（月结汇总只在月结运行时写出，其“等待结账”也不会"
            "因本次结账而更新）：请用 watcher template 对账确认 生成的表，填写上面“新生成对账单”中的对账单号来确认"
        )
    return replace(
        shown,
        statements=shown.statements + [s.statement_no for s in created],
        details=shown.details + sorted({(g.agency, month_text(op.month)) for g in groups}),
        tables=[
            statement_table(created, names, zone, "新生成对账单"),
            SheetTable(
                "等待结账",
                ["机构代码", "机构名称", "方案", "未生效保单数", "原因"],
                ["text", "text", "text", "int", "text"],
                [
                    [
                        g.agency,
                        names.get(g.agency, ""),
                        f"{g.plan_code} {g.plan_name}",
                        len(g.waiting),
                        g.waits_for(zone),
                    ]
                    for g in waiting
                ],
            ),
        ],
        summary={
            **shown.summary,
            "新生成对账单": len(created),
            "新生成金额": Amount(sum(s.total_fen for s in created)),
            "等待结账": len(waiting),
        },
        notes=notes,
    )
