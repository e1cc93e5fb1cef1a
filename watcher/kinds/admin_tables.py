"""Admin tables (机构, 方案, 费率 …): named sheets, header row found by name, 序号/示例 rows skipped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from ..domain.problems import Problem, problem
from ..domain.text import clean, digits_lost, excel_shown, label_key, strip_control
from ..io.book import Book
from ..io.tables import Table, find_header, read_table, sample_key, sample_keys, synonyms_index
from .common import marked_problems, special_problem
from .forms import samples

# Headings of a staff member's own notes beside a table: read by nobody, said to nobody.
# And the 错误说明 a failed result added, corrected and dropped back.
_REMARKS = frozenset(label_key(t) for t in ("备注", "说明", "注意", "附注", "备忘", "错误说明", "错误说明（本次）"))


_DATED = ("生效", "起始", "开始", "终止", "截止")
# Tables whose example names a real-looking record (a statement number, a receipt): their example row with
# its 序号 changed would confirm, pay, invoice or take a deposit that never was. (方案, 费率 … examples are the
# demo plans' own values, which a desk may upload as they are; 机构's has a licence number no agency holds.)
SAMPLED = ("对账确认", "收费", "发票", "预交保费")


class AdminTable:
    """One admin sheet read as rows of {column: value}, recording problems with exact cells."""

    def __init__(
        self,
        book: Book,
        name: str,
        columns: dict[str, tuple[str, ...]],
        required: tuple[str, ...],
        problems: list[Problem],
        kind: str,
        optional: bool = False,
        sample: dict[str, object] | None = None,
        also: tuple[str, ...] = (),
        csv_table: bool = True,
        shown: tuple[str, ...] = (),
    ):
        """`also`: other names the sheet may have (预交保费's sheet named 押金, as clerks call it).
        `shown`: columns of the sheet watcher writes for staff to fill (the month-end summary's 对账确认),
        there to be read by people, never said unread.
        `csv_table`: the request is this one table, so a CSV (one table after its 申请 rows) may carry it;
        a request of several tables (方案) cannot come as CSV and is told so once."""
        self.name = name
        self.lost: set[tuple[int, str]] = set()  # cells told their digits were lost (told once)
        self.problems = problems
        self.table: Table | None = None
        index = synonyms_index(columns)
        sheet = next((s for s in (book.sheet(n) for n in (name, *also)) if s is not None), None)
        if sheet is None and book.format == "csv":
            if not csv_table:
                if not any(p.code == "table.csv_many" for p in problems):
                    problems.append(problem("table.csv_many", kind=kind))
                return
            # A CSV has one table after its 申请 rows (the reader names it as the roster): this request's,
            # named as its workbook names it, so messages and the result's echo say 收费 (not 被保险人名单)
            # and the result, corrected and dropped back as a workbook, is read as the same request.
            sheet = next((s for s in book.sheets.values() if s.name != "申请"), None)
            if sheet is not None and sheet.name != name:
                book.sheets = {(name if key == sheet.name else key): s for key, s in book.sheets.items()}
                sheet.name = name
        if sheet is None:
            if not optional:
                problems.append(problem("table.missing_sheet", sheet=name, table=name, kind=kind))
            return
        header = find_header(sheet, index, required[0])
        if header is None:
            problems.append(
                problem(
                    "table.missing_column",
                    sheet=sheet.name,
                    row=1,
                    column=required[0],
                    table=sheet.name,
                    label=required[0],
                )
            )
            return
        table = read_table(sheet, header, index, samples=samples(name) if sample is None else sample)
        marked_problems(table, problems)
        missing = [c for c in required if c not in table.columns]
        for column in missing:
            problems.append(
                problem(
                    "table.missing_column",
                    sheet=sheet.name,
                    row=header + 1,
                    column=column,
                    table=sheet.name,
                    label=column,
                )
            )
        if missing:
            return
        if not table.rows and not optional and not table.marked:
            problems.append(problem("table.empty", sheet=sheet.name, row=header + 1, table=sheet.name))
        self.table = table
        if name in SAMPLED:
            self._sample_renumbered(samples(name) if sample is None else sample)
        self._unread_columns(kind, columns, {label_key(t) for t in shown})

    def _sample_renumbered(self, sample: dict[str, object]) -> None:
        """A row that is the template's example with only its 序号 changed (1 for 示例): refused, never done.
        Its statement number is a real one on a desk whose first month-end was 2026-11: a blank 对账确认
        confirmed that statement for good, 收费/发票 recorded a payment or invoice never made, 预交保费 a
        deposit never received."""
        table = self.table
        assert table is not None
        given = {c: keys - {""} for c, v in sample.items() if (keys := sample_keys(v)) != {""}}  # (each filled)
        for r in list(table.rows):
            if all(sample_key(table.get(r, c)) in keys for c, keys in given.items()):
                table.rows.remove(r)
                self.fail(r, "序号", "row.sample_renumbered", table=self.name)

    def _unread_columns(self, kind: str, columns: dict[str, tuple[str, ...]], shown: set[str]) -> None:
        """A column no form of this table has, holding something: passed over in silence, staff took it for
        done (a 方案 upload's 生效日期 column: the new rates took effect at once). Said once a column; one that
        would date the change is refused, since nothing here takes effect later."""
        table = self.table
        assert table is not None
        known = set(table.columns.values())
        for c, label in sorted(table.headers.items()):
            name = label.rstrip(":：")
            if c in known or label_key(name) in _REMARKS or label_key(name) in shown:
                continue
            filled = next((r for r in table.rows if clean(table.sheet.value(r, c))), None)
            if filled is None:
                continue
            # A 方案 or 机构 upload dated for later: its rates, its termination would apply from now (staff meant
            # January, the agency was cut off at once). An agency's 协议生效日期 is a record of its agreement.
            dated = kind in ("方案", "机构") and any(w in name for w in _DATED) and "协议" not in name
            self.problems.append(
                problem(
                    "table.dated_column" if dated else "table.unread_column",
                    sheet=table.sheet.name,
                    row=table.header_row + 1,
                    column=name,
                    col_index=c,
                    warning=not dated,
                    table=table.sheet.name,
                    label=name,
                    allowed="、".join(columns),
                    kind=kind,
                )
            )

    @property
    def rows(self) -> list[int]:
        return self.table.rows if self.table else []

    def raw(self, r: int, column: str) -> object:
        table = self.table
        c = table.columns.get(column) if table else None
        if table is None or c is None:
            return None
        bad = special_problem(table.sheet, r, c, column)
        if bad:
            self.problems.append(bad)
            return None
        return table.sheet.value(r, c)

    def special(self, r: int, column: str) -> bool:
        """Whether the cell holds no value to trust (a formula, an error): `raw` reported it already."""
        table = self.table
        c = table.columns.get(column) if table else None
        return table is not None and c is not None and (r, c) in table.sheet.special

    def text(self, r: int, column: str) -> str:
        """A cell as text; a number of 16 digits or more where text belongs is told (its digits are lost)."""
        raw = self.raw(r, column)
        value = strip_control(clean(raw))
        if digits_lost(raw) and (r, column) not in self.lost:
            self.lost.add((r, column))
            shown = excel_shown(raw)  # type: ignore[arg-type]  # (digits_lost: a number)
            self.fail(r, column, "field.digits_lost", label=column, value=shown, digits=len(shown.lstrip("-")))
        return value

    def shown(self, r: int, column: str) -> str:
        """A cell as text for a message about it (no check of its own)."""
        table = self.table
        c = table.columns.get(column) if table else None
        return "" if table is None or c is None else strip_control(clean(table.sheet.value(r, c)))

    def fail(self, r: int, column: str, code: str, warning: bool = False, **values) -> None:
        table = self.table
        assert table is not None  # rows come from the table: no table, no row to fail
        c = table.columns.get(column)
        self.problems.append(
            problem(code, sheet=table.sheet.name, row=r + 1, column=column, col_index=c, warning=warning, **values)
        )


R = TypeVar("R")


@dataclass(frozen=True)
class Rows(Generic[R]):
    """The fields of an admin request: its sheet's rows read (each beginning with its row index), and the
    table, which records a problem at the exact cell."""

    rows: list[R]
    table: AdminTable
