"""Writing workbooks safely with xlsxwriter: input text never becomes a formula, link or number."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..domain.text import strip_control
from . import xlsx_lean

MONEY = "#,##0.00"
OPTIONS = {
    "in_memory": True,  # far faster for many small workbooks than xlsxwriter's temporary files
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "default_date_format": "yyyy-mm-dd",
}


# Every workbook watcher writes names what it is in a custom document property (Excel and WPS keep it
# when the file is saved again), so one dropped back into a drop folder is recognised: "result",
# "detail", "statement", "summary" (the month-end summary, itself a 对账确认 request) or "template".
MARK = "watcher"


def new_workbook(path: Path, mark: str, *, lean: bool = False, **properties: str) -> Any:
    """A workbook that carries its mark (and `properties`, e.g. the original's SHA-256 for a result).
    `lean`: watcher's own writer (io/xlsx_lean), for results and detail tables, instead of xlsxwriter."""
    if lean:
        wb = xlsx_lean.Workbook(path)
    else:
        import xlsxwriter  # only for the workbooks results are not (statements, summaries, templates): 40 ms

        wb = xlsxwriter.Workbook(str(path), OPTIONS)
    wb.set_custom_property(MARK, mark)
    for name, value in properties.items():
        wb.set_custom_property(f"{MARK}_{name}", value)
    return wb


def write_value(ws, r: int, c: int, value: object, fmt=None, date_fmt=None, datetime_fmt=None) -> None:
    """Write an echoed input value as what it is: text stays text (also '=…', '+86…'), numbers stay numbers."""
    if value is None or value == "":
        if fmt is not None:
            ws.write_blank(r, c, None, fmt)
        return
    if isinstance(value, str):
        ws.write_string(r, c, strip_control(value), fmt)
    elif isinstance(value, bool):
        ws.write_boolean(r, c, value, fmt)
    elif isinstance(value, (int, float, Decimal)):
        if not math.isfinite(value):  # NaN and infinities are no Excel number
            ws.write_string(r, c, str(value), fmt)
        else:
            ws.write_number(r, c, value, fmt)
    elif isinstance(value, datetime):
        ws.write_datetime(r, c, value, fmt or datetime_fmt)
    elif isinstance(value, date):
        ws.write_datetime(r, c, datetime.combine(value, time()), fmt or date_fmt)
    else:
        ws.write_string(r, c, strip_control(str(value)), fmt)


_WIDE = re.compile("[^\x00-\u2e80]")  # above U+2E80 (a negated class: 1 ms to compile, not 7)


def text_width(text: str) -> float:
    """Column width for Excel: CJK characters are about two units wide."""
    wide = 0 if text.isascii() else len(_WIDE.findall(text))
    return round(1.1 * len(text) + wide + 2, 6)


def fit_row(ws, r: int, texts: list[tuple[str, float]], line_height: float = 15.0) -> None:
    """Row `r` tall enough for its wrapped texts, each (text, its column's width): not every program
    (LibreOffice, printing) grows a row for wrapped text by itself."""
    lines = max((math.ceil(text_width(t) / max(w - 1, 1)) for t, w in texts), default=1)
    if lines > 1:
        ws.set_row(r, min(line_height * lines, 409))  # Excel's tallest row: 409 points


TEMPLATE_ROWS = 2000  # rows a blank template prepares with formats and dropdowns (a result keeps as many)
PORTRAIT_WIDTH = 100  # about what fits across A4 portrait at full size, in Excel's column units


def print_setup(ws, *, landscape: bool = False, header_row: int | None = None) -> None:
    """A4, one page wide (as many pages down as needed), the header row repeated on every page, page
    numbers in the footer: what every sheet watcher writes looks like on paper."""
    ws.set_paper(9)
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.fit_to_pages(1, 0)
    if header_row is not None:
        ws.repeat_rows(header_row)
    ws.set_footer("&C第 &P 页，共 &N 页")
