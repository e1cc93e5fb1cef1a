"""Finding things in sheets by name: 申请 labels in column A, table columns by header with synonyms."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from ..domain.dates import DateError, parse_date
from ..domain.text import clean, fold, header_key, label_key
from .book import Sheet, column_letter

EXAMPLE_MARKS = frozenset({"示例", "范例", "样例", "例"})


@dataclass(frozen=True, slots=True)
class Field:
    label: str  # the label as written
    value: object
    row: int  # Excel row
    col: int  # 0-based column of the value


def synonyms_index(synonyms: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """{canonical: (other names…)} → {key of any name: canonical}."""
    index = {}
    for canonical, others in synonyms.items():
        for name in (canonical, *others):
            index[label_key(name)] = canonical
    return index


def label_fields(sheet: Sheet, index: dict[str, str]) -> tuple[dict[str, Field], dict[str, list[int]]]:
    """Labels in column A, values in column B, any order. Returns the fields and labels seen twice."""
    fields: dict[str, Field] = {}
    repeated: dict[str, list[int]] = {}
    for r, row in enumerate(sheet.rows):
        if not row:
            continue
        canonical = index.get(label_key(row[0]))
        if canonical is None:
            continue
        value = row[1] if len(row) > 1 else None
        if canonical in fields:
            repeated.setdefault(canonical, [fields[canonical].row]).append(r + 1)
            continue
        fields[canonical] = Field(clean(row[0]).rstrip(":："), value, r + 1, 1)
    return fields, repeated


@dataclass
class Table:
    sheet: Sheet
    header_row: int  # 0-based index of the header row
    columns: dict[str, int]  # canonical name → 0-based column
    headers: dict[int, str]  # 0-based column → header as written
    rows: list[int]  # 0-based indexes of data rows (examples and blank rows skipped)
    repeated: dict[str, list[int]]  # canonical name → columns where it appears more than once
    # Rows marked 示例/范例 that hold something other than the template's sample: (row, mark, headers
    # of the cells that differ). Never skipped in silence: each is an error for the clerk to resolve.
    marked: list[tuple[int, str, list[str]]] = field(default_factory=list)

    def get(self, r: int, name: str) -> object:
        c = self.columns.get(name)
        return None if c is None else self.sheet.value(r, c)


def _blank(row: list[object]) -> bool:
    for v in row:  # a loop, not all(): most rows end at their first cell
        if v is not None and (not isinstance(v, str) or v.strip()):
            return False
    return True


def _numbered_only(row: list[object], serial_col: int | None, mark: object) -> bool:
    """A row holding nothing but its 序号 (1, 2, 3 … filled down the template ahead of the people)."""
    if serial_col is None or not (type(mark) in (int, float) or (isinstance(mark, str) and mark.strip().isdigit())):
        return False
    return _blank(row[serial_col + 1 :]) and _blank(row[:serial_col])


def find_header(sheet: Sheet, index: dict[str, str], must: str, limit: int = 50) -> int | None:
    """The first row (within `limit`) holding the header named `must`."""
    for r, row in enumerate(sheet.rows[:limit]):
        for value in row:
            if isinstance(value, str) and (index.get(label_key(value)) or index.get(header_key(value))) == must:
                return r
    return None


def sample_keys(sample: object) -> set[str]:
    """What a sample cell may hold and still be the sample: blank, or the sample (one of several, for a
    column whose example follows a setting)."""
    values = sample if isinstance(sample, tuple) else (sample,)
    return {"", *(sample_key(v) for v in values)}


def sample_key(value: object) -> str:
    """A cell value as compared with the template's sample, whatever form it takes: dates as dates
    (1949/12/31 is 1949-12-31), numbers as numbers ('1234.50' is 1234.5), text folded (full width,
    spaces, case), blank as ''."""
    if isinstance(value, datetime):
        value = value.date() if (value.hour, value.minute, value.second) == (0, 0, 0) else value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number_key(repr(value))
    text = fold(clean(value)).replace(" ", "").upper()
    if _NUMBER.fullmatch(text):
        return _number_key(text)
    dated = _DATE.fullmatch(text)
    if dated:  # a date as text, also with the midnight a program writes after it (1949-12-31 00:00:00)
        try:
            return parse_date(dated.group(1)).isoformat()
        except (DateError, ValueError):
            return text
    return text


_NUMBER = re.compile(r"-?\d[\d,]*(\.\d+)?")
_DATE = re.compile(r"(\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?)(?:T?0{1,2}:00(?::00)?)?")


def _number_key(text: str) -> str:
    try:
        return format(Decimal(text.replace(",", "")).normalize(), "f")
    except InvalidOperation:
        return text


def read_table(
    sheet: Sheet, header_row: int, index: dict[str, str], serial: str = "序号", samples: dict[str, object] | None = None
) -> Table:
    """The table under `header_row`. A row whose `serial` cell is an example mark (示例, 范例 …) is
    skipped only when every other cell is blank or holds the template's sample for its column
    (`samples`: canonical column → sample value); otherwise it is listed in `Table.marked`."""
    header = sheet.rows[header_row]
    columns: dict[str, int] = {}
    headers: dict[int, str] = {}
    repeated: dict[str, list[int]] = {}
    for c, value in enumerate(header):
        text = clean(value)
        if not text:
            continue
        headers[c] = text
        canonical = index.get(label_key(text)) or index.get(header_key(text))
        if canonical is None:
            continue
        if canonical in columns:
            repeated.setdefault(canonical, [columns[canonical]]).append(c)
        else:
            columns[canonical] = c
    serial_col = columns.get(serial)
    canonical_of = {c: name for name, c in columns.items()}
    expected = {c: sample_keys((samples or {}).get(canonical_of.get(c, ""))) for c in range(len(header))}
    rows, marked = [], []
    # A formula without a saved value, or an error cell, reads as empty: its row is no blank row (it was
    # dropped in silence, a traveller typed as formulas with it).
    unread = {r for r, _ in sheet.special} if sheet.special else set()
    for r in range(header_row + 1, len(sheet.rows)):
        row = sheet.rows[r]
        mark = row[serial_col] if serial_col is not None and serial_col < len(row) else None
        if r not in unread and (_blank(row) or _numbered_only(row, serial_col, mark)):
            continue  # blank, or numbered ahead by the clerk with nothing else in it
        if isinstance(mark, str) and label_key(mark) in EXAMPLE_MARKS:  # a mark is text (序号 1 is no mark)
            differ = [
                headers.get(c) or column_letter(c)
                for c, value in enumerate(row)
                if c != serial_col and sample_key(value) not in expected.get(c, ("",))
            ]
            if differ:
                marked.append((r, clean(mark), differ))
            continue
        rows.append(r)
    return Table(sheet, header_row, columns, headers, rows, repeated, marked)


def columns_text(cols: list[int]) -> str:
    return "、".join(column_letter(c) for c in cols)
