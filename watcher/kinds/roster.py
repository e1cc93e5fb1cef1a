"""The roster of insured people, shared by 投保 and the endorsements that bring a roster:
reading its rows, checking every person, pricing each one, and the roster-wide rules."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo

from ..domain import idcard
from ..domain.dates import age_on, show_end, show_hour
from ..domain.person import CELL_COLUMNS, PersonCells, check_person
from ..domain.plans import Plan
from ..domain.policy import Insured, Policy
from ..domain.problems import Problem, problem
from ..domain.rating import person_premium
from ..domain.text import clean, group_key, label_key
from ..io.book import Book
from ..io.tables import Table
from .base import F, Request
from .common import roster_table, special_problem
from .forms import SAMPLE_ID

ID_AT = CELL_COLUMNS.index("证件号码")


def parse_roster(book: Book, request: Request[F], limit: int) -> Request[F]:
    """The request with its roster: the table found (echoed back in the result), its rows read
    (roster_rows), and their problems in its problems."""
    table = roster_table(book, request.problems)
    rows: list[tuple[int, PersonCells]] = []
    if table is not None:
        if len(table.rows) > limit:
            request.problems.append(
                problem("file.too_many_rows", sheet=table.sheet.name, count=len(table.rows), limit=limit)
            )
        elif not table.rows and not table.marked:  # a marked row that holds someone is already an error
            # 减人 lists who stays on the policy: nobody left is a 撤单, and the message says so.
            code = "roster.empty_remove" if request.action == "减人" else "roster.empty"
            request.problems.append(problem(code, sheet=table.sheet.name, row=table.header_row + 1))
        else:
            rows = _rows(table, request.problems)
    return replace(request, roster=table, roster_rows=tuple(rows))


def _rows(table: Table, problems: list[Problem]) -> list[tuple[int, PersonCells]]:
    present = [(name, table.columns[name]) for name in CELL_COLUMNS if name in table.columns]
    special = table.sheet.special
    rows = []
    id_col = table.columns.get("证件号码")
    at = [table.columns.get(name) for name in CELL_COLUMNS]  # in the order of PersonCells' fields
    birth_col = table.columns.get("出生日期")
    header = table.sheet.rows[table.header_row]
    birth_month = birth_col is not None and birth_col < len(header) and label_key(header[birth_col]) == "出生年月"
    for r in table.rows:
        row = table.sheet.rows[r]
        n = len(row)
        typed = [row[c] if c is not None and c < n else None for c in at]
        read = idcard.id_text(typed[ID_AT])  # the number folded once here, for the checks and look-ups too
        name, id_type, id_no, gender, birth, phone, note = typed
        cells = PersonCells(name, id_type, id_no, gender, birth, phone, note, read, birth_month)
        if read[0] == SAMPLE_ID:
            # The template's sample person, whatever its 序号 says: never insured.
            problems.append(
                problem(
                    "roster.sample_person",
                    sheet=table.sheet.name,
                    row=r + 1,
                    column="证件号码",
                    col_index=id_col,
                    value=SAMPLE_ID,
                )
            )
            continue
        if special:
            for name, c in present:
                bad = special_problem(table.sheet, r, c, name)
                if bad:
                    problems.append(bad)
        rows.append((r, cells))
    return rows


def roster_keys(request: Request) -> list[tuple[str, str]]:
    """(证件类型, 证件号码) of the rows, folded the way the checks fold them; for ledger look-ups."""
    keys = []
    for _, cells in request.roster_rows:
        id_type = idcard.normalise_id_type(cells.id_type)
        number, _ = cells.id_read or idcard.id_text(cells.id_no)
        if id_type and number:
            keys.append((id_type, number))
    return keys


@dataclass
class RosterCheck:
    people: list[Insured] = field(default_factory=list)
    premiums: dict[int, int] = field(default_factory=dict)  # row index → fen
    row_of: dict[tuple[str, str], int] = field(default_factory=dict)  # person key → row index


def check_roster(
    request: Request,
    *,
    plan: Plan | None,
    start: datetime | None,
    days: int | None,
    today: date,
    zone: tzinfo,
    overlaps: list,
    problems: list[Problem],
    tour_group: str = "",
    endorsing: bool = False,
) -> RosterCheck:
    """Every person checked and priced; the same person twice refused. A person already on a live policy
    of this agency whose cover overlaps: refused when it is the same tour group (insured twice; the
    message names the policy and the action to use), warned when it is another group."""
    table = request.roster
    result = RosterCheck()
    if table is None:
        return result
    sheet = table.sheet.name
    seen: dict[tuple[str, str], list[int]] = {}
    prices: dict[int, int] = {}  # age → fen
    # Ages on the effective date as the desk reads it: a start kept from the ledger is UTC, and 00:00–07:00 in
    # Shanghai is the day before there (an endorsement priced a 66-year-old at 65, and let an 81-year-old in).
    start_day = start.astimezone(zone).date() if start else None

    def where(r, column):
        return {"sheet": sheet, "row": r + 1, "column": column, "col_index": table.columns.get(column)}

    # A column the header lacks is said once (roster.missing_column), not as a blank cell on every row.
    absent = {name for name in ("证件类型", "证件号码") if name not in table.columns}
    # A formula with no saved value (or an error cell) was said already: not also "没有填写".
    named = {c: name for name, c in table.columns.items()}
    special = {(r, named.get(c)) for r, c in table.sheet.special} if table.sheet.special else set()
    for r, cells in request.roster_rows:
        facts, errors = check_person(cells, today)
        for err in errors:
            if err.code.endswith(".required") and (err.column in absent or (r, err.column) in special):
                continue
            problems.append(problem(err.code, **where(r, err.column), **err.values))
        if facts is None:
            continue
        key = (facts.id_type, facts.id_no)
        seen.setdefault(key, []).append(r)
        if facts.id_type in idcard.CHECKED and facts.id_no.endswith("000") and len(facts.id_no) == 18:
            # It passes its check about once in eleven after Excel zeroed its last three digits.
            problems.append(problem("id.trailing_zeros", **where(r, "证件号码"), warning=True, value=facts.id_no))
        age = age_on(facts.birth, start_day) if start_day else 0
        premium = 0
        if plan is not None and not start and age_on(facts.birth, today) > plan.max_age:
            # No start could be read (its own error says why), but past the plan's oldest age today is past
            # it at any start: said now, not on the clerk's next try (a start error hides no roster error).
            problems.append(
                problem(
                    "age.over_at_any_start",
                    **where(r, "出生日期" if "出生日期" in table.columns and clean(cells.birth) else "证件号码"),
                    age=age_on(facts.birth, today),
                    plan=plan.name,
                    max_age=plan.max_age,
                )
            )
        if plan is not None and start:  # the price of an age is worked out once (person_premium is pure)
            if not plan.min_age <= age <= plan.max_age:
                problems.append(
                    problem(
                        "age.range",
                        # The cell the age came from: 出生日期 where the clerk filled it, else the ID number
                        # (a red empty cell told the clerk nothing).
                        **where(r, "出生日期" if "出生日期" in table.columns and clean(cells.birth) else "证件号码"),
                        age=age,
                        plan=plan.name,
                        min_age=plan.min_age,
                        max_age=plan.max_age,
                    )
                )
            elif days and days <= plan.max_days:
                if age not in prices:
                    prices[age] = person_premium(plan, days, age)
                premium = prices[age]
                result.premiums[r] = premium
        result.people.append(
            Insured(
                facts.name,
                facts.id_type,
                facts.id_no,
                facts.gender,
                facts.birth,
                age,
                premium,
                facts.phone,
                facts.note,
                r + 1,
            )
        )
        result.row_of[key] = r

    by_number: dict[str, list[tuple[str, int]]] = {}
    for (id_type, number), rows in seen.items():
        by_number.setdefault(number, []).extend((id_type, r) for r in rows)
    for number, typed in by_number.items():
        # The same number twice under one type, or under 其他 and any type (a passport typed once as 其他).
        for id_type, r in typed:
            twins = [o for t, o in typed if o != r and idcard.same_document(t, number, id_type, number)]
            if twins:
                others = "、".join(str(o + 1) for o in sorted(twins))
                problems.append(problem("roster.duplicate_person", **where(r, "证件号码"), rows=others))

    # One problem a person and kind: a traveller on many overlapping policies is one line, with the count.
    said: dict[tuple, list] = {}
    for overlap in sorted(overlaps, key=lambda o: (o.start, o.policy_no)):
        at = result.row_of.get((overlap.id_type, overlap.id_no))
        if at is None:
            continue
        r = at
        same = bool(tour_group) and same_group(overlap.tour_group, tour_group)
        code = ("roster.in_group_policy" if endorsing else "roster.same_group") if same else "roster.overlap"
        said.setdefault((r, code), []).append(overlap)
    for (r, code), found in said.items():
        first = found[0]
        more = f"；另有 {len(found) - 1} 张重叠的有效保单" if len(found) > 1 else ""
        problems.append(
            problem(
                code,
                **where(r, "证件号码"),
                warning=code == "roster.overlap",
                policy_no=first.policy_no,
                more=more,
                tour_group=first.tour_group,
                start=show_hour(first.start, zone),
                end=show_end(first.end, zone),
            )
        )
    return result


def cell_of(request: Request, r: int, column: str) -> dict:
    table = request.roster
    assert table is not None  # a row of the roster was read
    return {"sheet": table.sheet.name, "row": r + 1, "column": column, "col_index": table.columns.get(column)}


def brought_roster(book: Book, action: str, who: str, limit: int) -> Request | None:
    """The roster a 批改 or 撤单 was brought with (they take none), read apart from the request: its own
    errors are not the request's. None when there is none, or it lists nobody."""
    brought = parse_roster(book, Request(action, who, None, []), limit)
    return brought if brought.roster is not None and brought.roster_rows else None


def roster_apart(brought: Request, policy: Policy, today: date, zone: tzinfo) -> list[Problem]:
    """A 批改 or 撤单 takes no roster, yet a clerk may bring one (a 投保 file reused, people crossed out to
    撤 them): when it lists other people than the policy's, the request is refused with what differs and
    the action to use, never done in silence as if the roster had been read. The policy's own people
    listed again: nothing to say."""
    table = brought.roster
    assert table is not None  # brought_roster returns a roster with rows
    listed = check_roster(brought, plan=None, start=None, days=None, today=today, zone=zone, overlaps=[], problems=[])
    keys = {}
    for _, cells in brought.roster_rows:  # every row whose number can be read, checked or not
        number, _ = cells.id_read or idcard.id_text(cells.id_no)
        keys[(idcard.normalise_id_type(cells.id_type) or clean(cells.id_type), number)] = clean(cells.name)
    names = {(p.id_type, p.id_no): p.name for p in listed.people}
    old = {(p.id_type, p.id_no): p.name for p in policy.people}
    more = [names.get(k) or v or k[1] for k, v in keys.items() if k not in old]
    fewer = [n for k, n in old.items() if k not in keys]
    renamed = [f"{old[k]} → {n}" for k, n in names.items() if k in old and n != old[k]]
    if not (more or fewer or renamed):
        return []
    what = "；".join(
        f"{label} {len(found)} 人：{'、'.join(found[:3])}{' 等' if len(found) > 3 else ''}"
        for label, found in (("多了", more), ("少了", fewer), ("姓名不同", renamed))
        if found
    )
    return [
        problem(
            "cancel.roster_differs" if brought.action == "撤单" else "endorse.roster_differs",
            sheet=table.sheet.name,
            row=table.header_row + 1,
            action=brought.action,
            policy_no=policy.policy_no,
            count=policy.insured_count,
            what=what,
        )
    ]


def same_group(a: str, b: str) -> bool:
    """Two 旅行团号 of one group: as compared everywhere (case, width, spaces aside), and a code of digits
    also with its leading zeros aside. 0012 typed in a General cell arrives as 12: the same people again
    under '0012' typed as text were taken for another group, and a second policy for them was issued with
    nothing but an overlap warning."""
    a, b = group_key(a), group_key(b)
    return a == b or (a.isdigit() and b.isdigit() and a.lstrip("0") == b.lstrip("0"))
