"""机构 (admin): register or update agencies; registering creates the agency's folders."""

from __future__ import annotations

import re
from datetime import datetime

from ..domain.policy import AGENCY_ACTIVE, AGENCY_STATUSES, Agency
from ..domain.problems import Problem
from ..io.book import Book
from ..io.result_json import agency_json
from ..layout import AGENCY_CODE
from .admin_tables import AdminTable, Rows
from .base import Checked, Decision, Request, SaveAgency
from .common import RequestKind
from .forms import columns

COLUMNS = columns("机构")


class AgencyKind(RequestKind):
    action = "机构"
    admin = True

    def parse(self, book: Book, who: str) -> Request[Rows[tuple[int, Agency]]]:
        problems: list[Problem] = []
        table = AdminTable(book, "机构", COLUMNS, ("机构代码", "机构名称", "可用方案"), problems, "机构")
        agencies: list[tuple[int, Agency]] = []
        seen: dict[str, list[int]] = {}
        for r in table.rows:
            code = table.text(r, "机构代码").upper()
            if not AGENCY_CODE.match(code):
                table.fail(r, "机构代码", "agency.code", value=code)
            seen.setdefault(code, []).append(r)
            name = table.text(r, "机构名称")
            if not name:
                table.fail(r, "机构名称", "field.empty", label="机构名称")
            plans = tuple(
                dict.fromkeys(
                    p.strip().upper() for p in re.split(r"[,，、;；\s]+", table.text(r, "可用方案")) if p.strip()
                )
            )
            if not plans:
                table.fail(r, "可用方案", "agency.plans_empty")
            status = table.text(r, "状态") or AGENCY_ACTIVE
            if status not in AGENCY_STATUSES:
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

    def load(self, ledger, request: Request[Rows[tuple[int, Agency]]], who: str) -> set[str]:
        return {plan.code for plan in ledger.plans()}

    def validate(self, request: Request[Rows[tuple[int, Agency]]], state: set[str], now: datetime) -> Checked:
        table = request.fields.table
        for r, agency in request.fields.rows:
            for code in agency.plans:
                if code not in state:
                    table.fail(r, "可用方案", "agency.plan_unknown", value=code)
        return Checked(request, list(request.problems))

    def decide(self, checked: Checked[Rows[tuple[int, Agency]], None], now: datetime) -> Decision:
        agencies = [a for _, a in checked.request.fields.rows]
        return Decision(
            status="success",
            ops=[SaveAgency(a) for a in agencies],
            notes=[f"{a.code} {a.name}：{a.status}，可用方案 {'、'.join(a.plans)}" for a in agencies],
            summary={"机构数": len(agencies)},
            content={"agencies": [agency_json(a) for a in agencies]},
        )
