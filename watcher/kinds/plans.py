"""方案 (admin): upload plans; each upload is a new version of every plan it names."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..domain.dates import parse_int
from ..domain.money import MoneyError, parse_fen
from ..domain.plans import REGIONS, AgeFactor, Coverage, Plan, RateBand, band_gaps, factor_overlaps
from ..domain.problems import Problem
from ..domain.text import fold
from ..io.book import Book
from ..io.result_json import plan_json
from .admin_tables import AdminTable, Rows
from .base import AddPlanVersion, Checked, Decision, Request
from .common import RequestKind, some_numbers
from .forms import columns

PLAN_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,19}$")

PLAN_COLUMNS = columns("方案")
RATE_COLUMNS = columns("费率")
FACTOR_COLUMNS = columns("年龄系数")
COVER_COLUMNS = columns("保障")


# An age factor far outside these makes no sense on a travel plan (0.0001 priced an infant at 0.00).
FACTOR_LOW, FACTOR_HIGH = Decimal("0.1"), Decimal("10")


PlanState = tuple[
    dict[str, Plan], dict[str, list[tuple[str, str, datetime]]], dict[str, list[tuple[str, str, datetime]]]
]


class PlanKind(RequestKind):
    action = "方案"
    admin = True

    def parse(self, book: Book, who: str) -> Request[Rows[tuple[int, Plan]]]:
        p: list[Problem] = []
        plans = AdminTable(
            book, "方案", PLAN_COLUMNS, tuple(c for c in PLAN_COLUMNS if c != "序号"), p, "方案", csv_table=False
        )
        rates = AdminTable(
            book, "费率", RATE_COLUMNS, ("方案代码", "天数下限", "天数上限", "每人保费"), p, "方案", csv_table=False
        )
        factors = AdminTable(
            book,
            "年龄系数",
            FACTOR_COLUMNS,
            ("方案代码", "年龄下限", "年龄上限", "系数"),
            p,
            "方案",
            optional=True,
            csv_table=False,
        )
        covers = AdminTable(book, "保障", COVER_COLUMNS, ("方案代码", "保障项目", "保额"), p, "方案", csv_table=False)

        heads: dict[str, tuple[int, dict[str, Any]]] = {}
        for r in plans.rows:
            code = self._code(plans, r)
            head: dict[str, Any] = {
                "name": plans.text(r, "方案名称"),
                "region": plans.text(r, "区域"),
                "min_age": self._int(plans, r, "最低年龄", 0, 120, "plan.age"),
                "max_age": self._int(plans, r, "最高年龄", 0, 120, "plan.age"),
                "max_days": self._int(plans, r, "最长天数", 1, 366, "plan.max_days"),
            }
            if not head["name"]:
                plans.fail(r, "方案名称", "plan.name")
            if head["region"] not in REGIONS:
                plans.fail(r, "区域", "plan.region", value=head["region"])
            if None not in (head["min_age"], head["max_age"]) and head["min_age"] > head["max_age"]:
                plans.fail(r, "最高年龄", "plan.age_order", min_age=head["min_age"], max_age=head["max_age"])
            if code in heads:
                plans.fail(r, "方案代码", "plan.duplicate", value=code, rows=heads[code][0] + 1)
            elif code:
                heads[code] = (r, head)

        bands: dict[str, list[tuple[int, RateBand]]] = {}
        named: set[tuple[str, str]] = set()  # (table, plan) with a row, valid or not: "no rates" only when none
        for r in rates.rows:
            code = self._owner(rates, r, heads)
            named.add(("费率", code or ""))
            low = self._int(rates, r, "天数下限", 1, 366, "plan.days")
            high = self._int(rates, r, "天数上限", 1, 366, "plan.days")
            price = self._money(rates, r, "每人保费")
            if code is None or low is None or high is None:
                continue
            if low > high:
                rates.fail(r, "天数上限", "plan.band_order", low=low, high=high)
                continue
            # A band whose price is wrong still covers its days (its cell says what is wrong): left out, the
            # plan was also told its rates skipped those days, on the next band's row.
            bands.setdefault(code, []).append((r, RateBand(low, high, price if price is not None else 0)))

        ages: dict[str, list[tuple[int, AgeFactor]]] = {}
        for r in factors.rows:
            code = self._owner(factors, r, heads)
            low = self._int(factors, r, "年龄下限", 0, 120, "plan.age")
            high = self._int(factors, r, "年龄上限", 0, 120, "plan.age")
            factor = self._factor(factors, r)
            if code is None or low is None or high is None or factor is None:
                continue
            if low > high:
                factors.fail(r, "年龄上限", "plan.factor_age_order", low=low, high=high)
                continue
            ages.setdefault(code, []).append((r, AgeFactor(low, high, factor)))

        items: dict[str, list[Coverage]] = {}
        first_row: dict[tuple[str, str], int] = {}  # (plan, item as typed apart from spaces and width) → row
        for r in covers.rows:
            code = self._owner(covers, r, heads)
            named.add(("保障", code or ""))
            item = covers.text(r, "保障项目")
            amount = self._money(covers, r, "保额")
            if not item:
                covers.fail(r, "保障项目", "plan.cover_item")
            elif code:
                # The same item twice with two sums: the electronic policy and the lookup page showed both.
                seen = first_row.setdefault((code, re.sub(r"\s+", "", fold(item))), r)
                if seen != r:
                    covers.fail(r, "保障项目", "plan.cover_duplicate", plan=code, item=item, rows=seen + 1)
            if code and item and amount is not None:
                items.setdefault(code, []).append(Coverage(item, amount))

        built: list[tuple[int, Plan]] = []
        for code, (r, head) in heads.items():
            self._check_bands(code, head, bands.get(code, []), rates, plans, r, ("费率", code) in named)
            overlaps = factor_overlaps([(f.low, f.high) for _, f in ages.get(code, [])])
            for a, b in overlaps:
                row = next(rr for rr, f in ages[code] if (f.low, f.high) == b)
                factors.fail(row, "年龄下限", "plan.factor_overlap", plan=code, a=f"{a[0]}–{a[1]}", b=f"{b[0]}–{b[1]}")
            if ("保障", code) not in named:  # rows there but each wrong: their own cells say why
                plans.fail(r, "方案代码", "plan.no_cover", plan=code)
            if None in head.values():
                continue
            built.append(
                (
                    r,
                    Plan(
                        code,
                        head["name"],
                        head["region"],
                        head["min_age"],
                        head["max_age"],
                        head["max_days"],
                        tuple(sorted((b for _, b in bands.get(code, [])), key=lambda b: b.low)),
                        tuple(sorted((f for _, f in ages.get(code, [])), key=lambda f: f.low)),
                        tuple(items.get(code, [])),
                    ),
                )
            )
        return Request(self.action, who, Rows(built, plans), p)

    # --- cell helpers -----------------------------------------------------------------------

    def _code(self, table: AdminTable, r: int) -> str | None:
        code = fold(table.text(r, "方案代码")).upper()
        if not PLAN_CODE.match(code):
            table.fail(r, "方案代码", "plan.code", value=code)
            return None
        return code

    def _owner(self, table: AdminTable, r: int, heads: dict) -> str | None:
        code = self._code(table, r)
        if code is not None and code not in heads:
            table.fail(r, "方案代码", "plan.not_in_plans", value=code)
            return None
        return code

    def _int(self, table: AdminTable, r: int, column: str, low: int, high: int, code: str) -> int | None:
        raw = table.raw(r, column)
        try:
            value = parse_int(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            table.fail(r, column, code, value=table.shown(r, column), label=column)
            return None
        return value

    def _money(self, table: AdminTable, r: int, column: str) -> int | None:
        try:
            fen = parse_fen(table.raw(r, column))
        except MoneyError:
            fen = 0
        if fen <= 0:
            table.fail(r, column, "plan.money", value=table.shown(r, column))
            return None
        return fen

    def _factor(self, table: AdminTable, r: int) -> Decimal | None:
        raw = table.raw(r, "系数")
        try:
            factor = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(fold(table.shown(r, "系数")))
        except InvalidOperation:
            factor = None
        if (
            factor is None
            or not factor.is_finite()
            or not FACTOR_LOW <= factor <= FACTOR_HIGH
            or factor != factor.quantize(Decimal("0.0001"))
        ):
            table.fail(r, "系数", "plan.factor", value=table.shown(r, "系数"))
            return None
        return factor.normalize()

    def _check_bands(self, code, head, rows, rates: AdminTable, plans: AdminTable, plan_row: int, named: bool) -> None:
        if not rows:
            if not named:  # rows there but each wrong: their own cells say why
                plans.fail(plan_row, "方案代码", "plan.no_rates", plan=code)
            return
        if head["max_days"] is None:
            return
        overlaps, gaps, beyond = band_gaps([(b.low, b.high) for _, b in rows], head["max_days"])
        row_of = {(b.low, b.high): r for r, b in rows}
        for a, b in overlaps:
            rates.fail(row_of[b], "天数下限", "plan.band_overlap", plan=code, a=f"{a[0]}–{a[1]}", b=f"{b[0]}–{b[1]}")
        after = {b.low: r for r, b in rows}  # a gap in the middle: the 费率 row that starts after it
        for low, high in gaps:
            values = {"plan": code, "low": low, "high": high, "max_days": head["max_days"]}
            if high + 1 in after:
                rates.fail(after[high + 1], "天数下限", "plan.band_gap", **values)
            else:  # the bands stop short of 最长天数 (or start after day 1): marked beside it
                plans.fail(plan_row, "最长天数", "plan.band_gap", **values)
        for band in beyond:
            rates.fail(
                row_of[band],
                "天数上限",
                "plan.band_beyond",
                plan=code,
                a=f"{band[0]}–{band[1]}",
                max_days=head["max_days"],
            )

    # --- the rest of the walk -----------------------------------------------------------------

    def load(self, ledger, request: Request[Rows[tuple[int, Plan]]], who: str) -> PlanState:
        current = {plan.code: plan for plan in ledger.plans()}
        # The policies in force a shorter 最长天数 leaves beyond it (said on the result; kept as issued).
        longer = {
            plan.code: ledger.policies_in_force(plan_code=plan.code, longer_than=plan.max_days)
            for _, plan in request.fields.rows
            if plan.code in current and plan.max_days < current[plan.code].max_days
        }
        # Likewise the policies with someone a narrower age range leaves out.
        aged = {
            plan.code: ledger.policies_aged_outside(plan.code, plan.min_age, plan.max_age)
            for _, plan in request.fields.rows
            if plan.code in current
            and (plan.min_age > current[plan.code].min_age or plan.max_age < current[plan.code].max_age)
        }
        return current, longer, aged

    def validate(
        self, request: Request[Rows[tuple[int, Plan]]], state: PlanState, now: datetime
    ) -> Checked[Rows[tuple[int, Plan]], None]:
        table = request.fields.table
        current, longer, aged = state
        for r, plan in request.fields.rows:
            old = current.get(plan.code)
            if old is None:
                continue
            outside = sorted(no for no, _, end in aged.get(plan.code, []) if end > now)
            if outside and plan.min_age <= plan.max_age:  # (a range upside down is an error of its own)
                table.fail(
                    r,
                    "最高年龄" if plan.max_age < old.max_age else "最低年龄",
                    "plan.live_outside_ages",
                    warning=True,
                    plan=plan.code,
                    ages=f"{plan.min_age}–{plan.max_age}",
                    count=len(outside),
                    numbers=some_numbers(outside),
                )
            beyond = sorted(no for no, _, end in longer.get(plan.code, []) if end > now)
            if beyond:
                table.fail(
                    r,
                    "最长天数",
                    "plan.live_beyond",
                    warning=True,
                    plan=plan.code,
                    max_days=plan.max_days,
                    count=len(beyond),
                    numbers=some_numbers(beyond),
                )
            if old.region != plan.region:
                # A plan's region is what its policies were issued for: a 批改 of a 境内 policy would be
                # reissued under a 境外 version (its name and price, a 境内 policy), which 投保 refuses.
                table.fail(r, "区域", "plan.region_changed", plan=plan.code, old=old.region, new=plan.region)
            # Each upload is the whole plan: what the version in force had and this one leaves out is gone
            # from every sale after it. Said, not silent (the 年龄系数 sheet left at its example lost a
            # plan's ×1.5 for the over-65s, and the premium of every older traveller with it).
            if old.factors and not plan.factors:
                shown = "、".join(f"{f.low}–{f.high} 岁 ×{f.factor.normalize():f}" for f in old.factors)
                table.fail(r, "方案代码", "plan.factors_dropped", warning=True, plan=plan.code, old=shown)
            kept = {c.item for c in plan.coverages}
            gone = [c.item for c in old.coverages if c.item not in kept]
            if gone:
                table.fail(r, "方案代码", "plan.covers_dropped", warning=True, plan=plan.code, items="、".join(gone))
        return Checked(request, list(request.problems))

    def decide(self, checked: Checked[Rows[tuple[int, Plan]], None], now: datetime) -> Decision:
        plans = [plan for _, plan in checked.request.fields.rows]
        return Decision(
            status="success",
            ops=[AddPlanVersion(p) for p in plans],
            notes=[
                f"{p.code} {p.name}（{p.region}，{p.min_age}–{p.max_age} 岁，最长 {p.max_days} 天）已启用新版本"
                for p in plans
            ],
            summary={"方案数": len(plans)},
            content={"plans": [plan_json(p) for p in plans]},
        )
