"""机构 (admin): register or update agencies; registering creates the agency's folders.

Updating an agency: 营业执照号, 协议编号 and 状态 left blank keep what the ledger holds (a row written with
only the columns that change never erases the rest, nor brings a terminated agency back); what changed is
listed on the result, and a terminated agency made 合作中 again is warned."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from ..domain.money import yuan_display
from ..domain.policy import AGENCY_ACTIVE, AGENCY_ENDED, AGENCY_STATUSES, Agency
from ..domain.problems import Problem
from ..domain.text import code_text, fold, group_key
from ..io.book import Book
from ..io.result_json import agency_json
from ..layout import AGENCY_CODE
from ..walk.names import RESERVED_NAME
from .admin_tables import AdminTable, Rows
from .base import Checked, Decision, Request, SaveAgency
from .common import RequestKind, some_numbers
from .forms import columns, samples

COLUMNS = columns("机构")
SAMPLE_LICENSE = str(samples("机构")["营业执照号"])  # a placeholder no agency holds (…MA5XXXXXXX)


class AgencyKind(RequestKind):
    action = "机构"
    admin = True

    def parse(self, book: Book, who: str) -> Request[Rows[tuple[int, Agency]]]:
        problems: list[Problem] = []
        table = AdminTable(book, "机构", COLUMNS, ("机构代码", "机构名称", "可用方案"), problems, "机构")
        agencies: list[tuple[int, Agency]] = []
        seen: dict[str, list[int]] = {}
        for r in table.rows:
            code = code_text(table.text(r, "机构代码"))
            if not code:
                table.fail(r, "机构代码", "field.empty", label="机构代码")
            elif not AGENCY_CODE.match(code):
                table.fail(r, "机构代码", "agency.code", value=code)
            if code:
                seen.setdefault(code, []).append(r)
            name = table.text(r, "机构名称")
            if not name:
                table.fail(r, "机构名称", "field.empty", label="机构名称")
            if table.text(r, "营业执照号").upper() == SAMPLE_LICENSE:
                # The template's sample agency, whatever its 序号 says (renumbered, cleared): never saved.
                table.fail(r, "营业执照号", "agency.sample_row", value=SAMPLE_LICENSE)
            plans = tuple(
                dict.fromkeys(
                    code_text(p) for p in re.split(r"[,，、;；\s]+", fold(table.text(r, "可用方案"))) if p.strip()
                )
            )
            if not plans:
                table.fail(r, "可用方案", "agency.plans_empty")
            status = table.text(r, "状态")  # blank: the agency's status as it is (合作中 for a new one)
            if status and status not in AGENCY_STATUSES:
                table.fail(r, "状态", "agency.status", value=status)
            agencies.append(
                (r, Agency(code, name, table.text(r, "营业执照号"), table.text(r, "协议编号"), plans, status))
            )
        for code, rows in seen.items():
            if len(rows) > 1:
                for r in rows:
                    table.fail(
                        r,
                        "机构代码",
                        "agency.duplicate",
                        value=code,
                        rows="、".join(str(o + 1) for o in rows if o != r),
                    )
        return Request(self.action, who, Rows(agencies, table), problems)

    def load(self, ledger, request: Request[Rows[tuple[int, Agency]]], who: str) -> State:
        found = (ledger.agency(a.code) for _, a in request.fields.rows)
        before = {old.code: old for old in found if old is not None}
        # The policies in force of an agency this request terminates or takes a plan from: said on the result.
        touched = {
            a.code
            for _, a in request.fields.rows
            if a.code in before and (a.status not in ("", AGENCY_ACTIVE) or set(before[a.code].plans) - set(a.plans))
        }
        live = {code: ledger.policies_in_force(agency=code) for code in sorted(touched)}
        holders = {group_key(a.license_no): a for a in ledger.agencies() if a.license_no}
        # What a terminated agency still owes, and the deposits it may be refunded once it has paid.
        ending = sorted(a.code for _, a in request.fields.rows if a.code in before and a.status == AGENCY_ENDED)
        money = {code: (ledger.unpaid(code), [r for r in ledger.receipts(code) if not r.refunded]) for code in ending}
        return {plan.code for plan in ledger.plans()}, before, live, holders, money

    def validate(
        self, request: Request[Rows[tuple[int, Agency]]], state: State, now: datetime
    ) -> Checked[Rows[tuple[int, Agency]], list[tuple[Agency, Agency | None]]]:
        plans, before, live, holders, money = state
        table = request.fields.table
        saved: list[tuple[Agency, Agency | None]] = []
        licensed: dict[str, Agency] = {}  # this file's rows by licence, as they come
        for r, agency in request.fields.rows:
            licence = group_key(agency.license_no)
            other = holders.get(licence) or licensed.get(licence)
            if licence and other is not None and other.code != agency.code:
                # One travel agency under two codes: a terminated one back under a new code, unnoticed.
                table.fail(
                    r,
                    "营业执照号",
                    "agency.license_taken",
                    warning=True,
                    value=agency.license_no,
                    agency=other.code,
                    name=other.name,
                )
            if licence:
                licensed.setdefault(licence, agency)
            for code in agency.plans:
                if code not in plans:
                    table.fail(r, "可用方案", "agency.plan_unknown", value=code)
            old = before.get(agency.code)
            new = kept(agency, old)
            if old is None and RESERVED_NAME.match(agency.code):
                # Its folder is made, and a clerk's Windows cannot open workbooks\CON over the share. (One
                # registered before may still be changed and terminated.)
                table.fail(r, "机构代码", "agency.code_reserved", value=agency.code)
            if old is not None and not old.active and new.active:
                table.fail(r, "状态", "agency.reactivated", warning=True, agency=agency.code)
            if old is not None and old.license_no and group_key(new.license_no) != group_key(old.license_no):
                table.fail(
                    r,
                    "营业执照号",
                    "agency.license_changed",
                    warning=True,
                    agency=agency.code,
                    old=old.license_no,
                    new=new.license_no,
                )
            if old is not None:
                in_force = [(no, plan) for no, plan, end in live.get(agency.code, []) if end > now]
                if old.active and not new.active and in_force:
                    table.fail(
                        r,
                        "状态",
                        "agency.ended_live",
                        warning=True,
                        agency=agency.code,
                        count=len(in_force),
                        numbers=some_numbers(no for no, _ in in_force),
                    )
                (statements, count, owed), deposits = money.get(agency.code, (([], 0, 0), []))
                if old.active and not new.active and (statements or count or deposits):
                    said = [
                        f"{len(statements)} 张对账单未缴费（{some_numbers(s.statement_no for s in statements)}，"
                        f"共 {yuan_display(sum(s.total_fen for s in statements))} 元）"
                        if statements
                        else "",
                        f"{count} 张保单尚未结账（共 {yuan_display(owed)} 元，月结时照常出对账单）" if count else "",
                        f"预交保费 {yuan_display(sum(d.amount_fen for d in deposits))} 元未退还"
                        f"（收据 {'、'.join(d.receipt_no for d in deposits[:5])}）"
                        if deposits
                        else "",
                    ]
                    table.fail(
                        r,
                        "状态",
                        "agency.ended_money",
                        warning=True,
                        agency=agency.code,
                        what="，".join(filter(None, said)),
                    )
                for plan in sorted(set(old.plans) - set(new.plans)):
                    of_plan = [no for no, code in in_force if code == plan]
                    if of_plan and new.active:
                        table.fail(
                            r,
                            "可用方案",
                            "agency.plan_removed_live",
                            warning=True,
                            agency=agency.code,
                            plan=plan,
                            count=len(of_plan),
                            numbers=some_numbers(of_plan),
                        )
            saved.append((new, old))
        return Checked(request, list(request.problems), saved)

    def decide(
        self, checked: Checked[Rows[tuple[int, Agency]], list[tuple[Agency, Agency | None]]], now: datetime
    ) -> Decision:
        agencies = [new for new, _ in checked.values]
        return Decision(
            status="success",
            ops=[SaveAgency(a) for a in agencies],
            notes=[change_note(new, old) for new, old in checked.values],
            summary={"机构数": len(agencies)},
            content={"agencies": [agency_json(a) for a in agencies]},
        )


State = tuple[
    set[str],
    dict[str, Agency],
    dict[str, list[tuple[str, str, datetime]]],
    dict[str, Agency],
    dict[str, tuple[tuple[list, int, int], list]],  # agency ending → (unpaid statements, count, owed), deposits
]


def kept(agency: Agency, old: Agency | None) -> Agency:
    """The agency as it is saved: a blank 营业执照号, 协议编号 or 状态 keeps the ledger's (合作中 when new)."""
    if old is None:
        return replace(agency, status=agency.status or AGENCY_ACTIVE)
    return replace(
        agency,
        license_no=agency.license_no or old.license_no,
        agreement_no=agency.agreement_no or old.agreement_no,
        status=agency.status or old.status,
    )


def change_note(new: Agency, old: Agency | None) -> str:
    """The result's line for one agency: registered with what, or what changed (and what stayed)."""
    head = f"{new.code} {new.name}："
    if old is None:
        return head + f"新登记，{new.status}，可用方案 {'、'.join(new.plans)}"
    changes = [
        f"{label} {before or '（空）'} → {after}"
        for label, before, after, same in (
            ("机构名称", old.name, new.name, old.name == new.name),
            ("营业执照号", old.license_no, new.license_no, old.license_no == new.license_no),
            ("协议编号", old.agreement_no, new.agreement_no, old.agreement_no == new.agreement_no),
            # The same plans typed in another order are no change (the ledger keeps them sorted).
            ("可用方案", "、".join(old.plans), "、".join(new.plans), sorted(old.plans) == sorted(new.plans)),
            ("状态", old.status, new.status, old.status == new.status),
        )
        if not same
    ]
    if not changes:
        return head + f"与原登记相同，未变更（{new.status}，可用方案 {'、'.join(new.plans)}）"
    return head + "；".join(changes)
