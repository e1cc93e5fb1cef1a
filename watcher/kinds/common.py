"""Parsing shared by the kinds: the 申请 sheet's fields, the roster table, untrustworthy cells."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo

from ..domain.dates import DateError, names_an_hour, parse_int, parse_local_datetime, says_24
from ..domain.problems import Problem, problem
from ..domain.text import clean, digits_lost, excel_shown, fold, fold_id, label_key, strip_control
from ..io.book import Book, Sheet, column_letter
from ..io.tables import Field, Table, find_header, label_fields, read_table, synonyms_index
from . import forms
from .forms import SAMPLE_ID, samples

APPLY = "申请"
TOUR_GROUP = re.compile(
    r"[A-Za-z0-9\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff_/.][A-Za-z0-9\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff_/.\-]*"
)
BAD = object()  # a cell whose value cannot be used: a formula without a cached value, an error cell
ROSTER = "被保险人名单"

APPLY_FIELDS = synonyms_index(forms.apply_labels())  # declared with the forms (kinds/forms.py)
# What the templates write beside the fields (column C): never taken for a value typed in the wrong column.
_NOTES = {strip_control(clean(f.note)) for form in forms.FORMS for f in form.fields if f.note}

ROSTER_COLUMNS = synonyms_index(forms.columns(ROSTER))


def gather_csv_apply(book: Book) -> None:
    """A CSV is one table: the 申请 rows, a blank line, the roster. A blank line the clerk left among the
    申请 rows split them early, and the rows after it (经办人, 营销员 …) went to the roster's side, above its
    header, where nothing reads them: the policy was issued without them and the result said 成功. Rows
    above the roster's header that hold a label and a value, or a label a form knows, are 申请 rows, on
    their own line numbers; a title row (one cell that is no label) stays where it is. A CSV with no roster
    (a query: 保单状态 after the blank line answered another question) gives back the rows of labels a form
    knows, and nothing else (a roster without its header stays a roster, and is said to be one)."""
    apply, roster = book.sheet(APPLY), book.sheet(ROSTER)
    if book.format != "csv" or apply is None or roster is None:
        return
    header = find_header(roster, ROSTER_COLUMNS, "姓名")
    for r, row in enumerate(roster.rows if header is None else roster.rows[:header]):
        label = clean(row[0]) if row else ""
        pair = header is not None and len(row) > 1 and bool(clean(row[1]))
        if not label or not (APPLY_FIELDS.get(label_key(label)) or pair):
            continue
        apply.rows.extend([] for _ in range(r + 1 - len(apply.rows)))
        apply.rows[r], roster.rows[r] = row, []


def special_problem(sheet: Sheet, r: int, c: int, column: str) -> Problem | None:
    """A formula without a cached value or an error cell, where a value is needed."""
    mark = sheet.special.get((r, c))
    if mark is None:
        return None
    if mark == "formula":
        return problem("cell.formula_no_value", sheet=sheet.name, row=r + 1, column=column, col_index=c)
    return problem("cell.error_value", sheet=sheet.name, row=r + 1, column=column, col_index=c, value=mark)


class ApplySheet:
    """The 申请 sheet's fields, with a problem list that records each missing or bad one."""

    def __init__(self, book: Book, problems: list[Problem]):
        self.problems = problems
        self.sheet = book.sheet(APPLY)
        self.fields: dict[str, Field] = {}
        self.lost: set[str] = set()  # fields told their digits were lost (told once)
        if self.sheet is not None:
            self.fields, repeated = label_fields(self.sheet, APPLY_FIELDS)
            for label, rows in repeated.items():
                problems.append(
                    problem(
                        "field.duplicate_label",
                        sheet=APPLY,
                        row=rows[1],
                        column=label,
                        col_index=0,
                        label=label,
                        rows="、".join(map(str, rows)),
                    )
                )

    def at(self, label: str) -> dict:
        """Where the value of `label` is (sheet, Excel row, column), for problems found later."""
        f = self.fields.get(label)
        if f is None:
            return {"sheet": APPLY, "row": None, "column": label}
        return {"sheet": APPLY, "row": f.row, "column": label, "col_index": f.col}

    def fail(self, code: str, at_label: str, **values) -> None:
        self.problems.append(problem(code, **self.at(at_label), **values))

    def raw(self, label: str) -> object:
        """The value beside `label`; BAD when the cell holds no trustworthy value (already reported)."""
        f = self.fields.get(label)
        if f is None:
            return None
        if self.sheet is not None:
            bad = special_problem(self.sheet, f.row - 1, f.col, label)
            if bad:
                self.problems.append(bad)
                return BAD
        return f.value

    def present(self, label: str) -> object:
        """The value of a required field, or None once it is reported missing, empty or unusable."""
        raw = self.raw(label)
        if raw is BAD:
            return None
        if not clean(raw):
            aside = self._aside(label)
            if aside is not None:
                where, value = aside
                self.fail("field.value_aside", label, label=label, where=where, value=value)
            else:
                self.fail("field.empty" if label in self.fields else "field.required", label, label=label)
            return None
        return raw

    def _aside(self, label: str) -> tuple[str, str] | None:
        """(column, value) of what a clerk typed further along the row of an empty field (over the template's
        note in column C, or beyond it): 「没有填写」 alone left them looking at the value they had typed."""
        f = self.fields.get(label)
        if f is None or self.sheet is None:
            return None
        row = self.sheet.rows[f.row - 1] if f.row - 1 < len(self.sheet.rows) else []
        for c in range(f.col + 1, len(row)):
            value = strip_control(clean(row[c]))
            if value and value not in _NOTES:
                return column_letter(c), value[:40]
        return None

    def text(self, label: str, *, required: bool, limit: int = 100) -> str:
        raw = self.present(label) if required else self.raw(label)
        value = "" if raw is BAD else strip_control(clean(raw))
        if not value:
            return ""
        if digits_lost(raw) and label not in self.lost:
            self.lost.add(label)
            shown = excel_shown(raw)  # type: ignore[arg-type]  # (digits_lost: a number)
            self.fail("field.digits_lost", label, label=label, value=shown, digits=len(shown.lstrip("-")))
        if len(value) > limit:
            self.fail("field.text_too_long", label, label=label, length=len(value), limit=limit)
        return value

    def days(self, label: str = "天数") -> int | None:
        raw = self.present(label)
        if raw is None:
            return None
        try:
            days = parse_int(raw)
        except ValueError:
            days = 0
        if days < 1:
            self.fail("field.days", label, value=clean(raw))
            return None
        return days

    def moment(self, label: str, zone: tzinfo) -> datetime | None:
        """A local date and whole hour, as an aware datetime in the desk's zone. One that is not a whole
        hour is reported and still returned as written: the checks that depend on it (ages, a start in
        the past) run against it, so one round trip shows the clerk every error."""
        raw = self.present(label)
        if raw is None:
            return None
        try:
            local = parse_local_datetime(raw)
        except (DateError, ValueError, OverflowError):
            self.fail("field.effective_format", label, value=clean(raw))
            return None
        if local.minute or local.second:
            self.fail("field.effective_hour", label)
        elif not names_an_hour(raw):  # cover from 0 时: more than a forgotten 8 时 would give, but said
            self.problems.append(
                problem("field.effective_date_only", **self.at(label), warning=True, day=f"{local:%Y-%m-%d}")
            )
        elif says_24(raw):  # the next day's 00:00: the day the clerk typed may be the one meant
            self.problems.append(
                problem(
                    "field.effective_24",
                    **self.at(label),
                    warning=True,
                    typed=clean(raw),
                    day=f"{local:%Y-%m-%d}",
                    before=f"{local - timedelta(days=1):%Y-%m-%d}",
                )
            )
        return local.replace(tzinfo=zone)

    def tour_group(self) -> str:
        """旅行团号: letters, digits, Chinese characters and - _ / . only, never starting with = + - @ (it
        reaches staff's workbooks and the core system's CSV, where such a start is a formula)."""
        value = fold(self.text("旅行团号", required=True, limit=50))
        if value and not TOUR_GROUP.fullmatch(value):
            self.fail("field.tour_group", "旅行团号", value=value)
        return value

    def policy_no(self) -> str:
        """As typed or copied: spaces and dashes removed (LY2026-1102-… as some print it; no policy number holds
        one, and the lookup page takes it so too), letters upper-case."""
        typed = self.text("保单号", required=True, limit=40)
        value = re.sub(r"[\-‐‑–—－]+", "", fold_id(typed))  # (a zero-width space pasted from a chat too)
        if typed and not re.fullmatch(r"[A-Z0-9]{4,40}", value):  # (a cell of dashes alone: said, never "")
            value = value or typed
            self.fail("field.policy_no", "保单号", value=value)
        return value


def _people_elsewhere(book: Book, named, *, hidden: bool = False) -> list[tuple[str, int]]:
    """Sheets besides 被保险人名单 (and 申请) that hold a roster of their own: a header with 姓名 and 证件号码,
    and rows of people under it; the visible ones, or with `hidden` the hidden ones."""
    found = []
    for sheet in book.sheets.values():
        if sheet is named or sheet.name == APPLY or sheet.hidden != hidden:
            continue
        header = find_header(sheet, ROSTER_COLUMNS, "姓名")
        if header is None:
            continue
        table = read_table(sheet, header, ROSTER_COLUMNS, samples=samples(ROSTER))
        if "证件号码" in table.columns and table.rows:
            found.append((sheet.name, len(table.rows)))
    return found


def roster_table(book: Book, problems: list[Problem]) -> Table | None:
    """The roster: sheet 被保险人名单, else the one visible sheet whose header holds 姓名."""
    named = book.sheet(ROSTER)
    if named is not None and named.hidden:
        # People on a sheet the clerk cannot see are never insured (nor a roster typed on a copy of it
        # beside, with this one hidden, silently passed over).
        others = [
            s.name
            for s in book.sheets.values()
            if s is not named
            and s.name != APPLY
            and not s.hidden
            and find_header(s, ROSTER_COLUMNS, "姓名") is not None
        ]
        problems.append(
            problem(
                "roster.hidden_sheet",
                sheet=named.name,
                elsewhere=f"（名单像是填在“{others[0]}”中）" if others else "",
            )
        )
        return None
    if named is not None:
        found = [(named, find_header(named, ROSTER_COLUMNS, "姓名"))]
        elsewhere = _people_elsewhere(book, named)
        if elsewhere:
            # Two buses on two sheets: only 被保险人名单 was insured, the other echoed back unmarked, so
            # the clerk saw every traveller in the result and half of them had no cover.
            problems.append(
                problem(
                    "roster.other_sheet",
                    sheet=elsewhere[0][0],
                    sheets="、".join(f"“{name}”（{n} 行）" for name, n in elsewhere),
                )
            )
            return None
        for name, n in _people_elsewhere(book, named, hidden=True):
            # Hidden, so never insured (nobody sees it in Excel), but never passed over in silence either.
            problems.append(problem("roster.hidden_people", sheet=name, warning=True, name=name, rows=n))
    else:
        found = [
            (sheet, find_header(sheet, ROSTER_COLUMNS, "姓名"))
            for sheet in book.sheets.values()
            if sheet.name != APPLY and not sheet.hidden
        ]
        found = [(sheet, header) for sheet, header in found if header is not None]
        if len(found) > 1:
            problems.append(problem("roster.ambiguous", sheets="、".join(f"“{s.name}”" for s, _ in found)))
            return None
    if not found or found[0][1] is None:
        if book.format == "csv":  # one table: the roster starts after a blank line, or it is not seen
            apply = book.sheet(APPLY)
            if book.sheet(ROSTER) is None and (apply is None or find_header(apply, ROSTER_COLUMNS, "姓名") is None):
                # No roster anywhere in it: a template's 申请 sheet saved alone (a CSV holds one sheet).
                problems.append(problem("roster.csv_missing"))
            else:
                problems.append(problem("roster.csv_blank_line"))
        elif named is not None:  # the sheet is there: what it lacks is a header row with 姓名
            problems.append(problem("roster.no_header", sheet=named.name, name=named.name))
        else:
            problems.append(problem("roster.missing", sheet=ROSTER))
        return None
    sheet, header = found[0]
    assert header is not None  # checked above
    table = read_table(sheet, header, ROSTER_COLUMNS, samples=samples(ROSTER))
    marked_problems(table, problems)
    for name, cols in table.repeated.items():
        problems.append(
            problem(
                "roster.duplicate_column",
                sheet=sheet.name,
                row=header + 1,
                column=name,
                col_index=cols[1],
                label=name,
                typed="、".join(f"“{table.headers[c]}”（{column_letter(c)} 列）" for c in cols),
                hint="（每人填其证件类型对应的号码）" if name == "证件号码" else "",
            )
        )
    for name in ("证件类型", "证件号码"):
        if name not in table.columns:
            problems.append(
                problem(
                    "roster.missing_column",
                    sheet=sheet.name,
                    row=header + 1,
                    column=name,
                    label=name,
                    header_row=header + 1,
                )
            )
    for (r1, c1), (r2, c2) in sheet.merged:
        if r2 > header:  # a merge among the people: every row must carry its own values
            ref = f"{column_letter(c1)}{r1 + 1}:{column_letter(c2)}{r2 + 1}"
            problems.append(
                problem(
                    "roster.merged", sheet=sheet.name, row=r1 + 1, column=table.headers.get(c1), col_index=c1, ref=ref
                )
            )
    hidden = sorted(r for r in sheet.hidden_rows if r in set(table.rows))
    if hidden:
        problems.append(
            problem(
                "roster.hidden_rows",
                sheet=sheet.name,
                row=hidden[0] + 1,
                warning=True,
                rows="、".join(str(r + 1) for r in hidden[:20]) + ("…" if len(hidden) > 20 else ""),
            )
        )
    if table.repeated:
        # Which of the two columns a person's cell is read from is a guess: checking the first told a clerk
        # whose passport numbers stood in the second that they were wrong. Fixed first, then checked.
        return None
    return table


def marked_problems(table: Table, problems: list[Problem]) -> None:
    """A row marked 示例 that holds more than the template's sample: a traveller typed over the sample
    row is never dropped in silence (nor a sample row changed into a request)."""
    for r, mark, columns in table.marked:
        # The sample person kept (its ID number), something else changed: renumbering the row, as the plain
        # message says, would only bring 'the sample person cannot be insured'. Said at once.
        typed = table.get(r, "证件号码") if "证件号码" in table.columns else None
        kept_sample = typed is not None and fold_id(clean(typed)) == SAMPLE_ID
        problems.append(
            problem(
                "row.sample_person_filled" if kept_sample else "row.sample_filled",
                sheet=table.sheet.name,
                row=r + 1,
                column=table.headers.get(table.columns.get("序号", 0)),
                col_index=table.columns.get("序号"),
                mark=mark,
                columns="、".join(columns[:6]),
            )
        )


class RequestKind:
    """What most kinds share: their settings, and a request started from the 申请 sheet."""

    action = ""
    admin = False

    def __init__(self, settings):
        self.settings = settings

    def begin(self, book: Book) -> tuple[list[Problem], ApplySheet]:
        """The problems of a new request of this kind, and its 申请 sheet read (its problems go there)."""
        problems: list[Problem] = []
        return problems, ApplySheet(book, problems)


def some_numbers(numbers: Iterable[str], shown: int = 5) -> str:
    """Up to `shown` policy numbers for a message, and how many there are when there are more."""
    every = list(numbers)
    return "、".join(every[:shown]) + (f" 等 {len(every)} 张" if len(every) > shown else "")
