"""Errors and warnings as data: a stable code, where it is (sheet, Excel row, column header), and the Chinese message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..messages import say


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str
    sheet: str | None = None
    row: int | None = None  # the row number the user sees in Excel (1-based)
    column: str | None = None  # the header (or 申请 label) of the cell, as the user wrote it
    col_index: int | None = None  # 0-based column in the sheet, for marking the cell red
    warning: bool = False

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "sheet": self.sheet, "row": self.row, "column": self.column, "message": self.message}


def problem(
    code: str,
    *,
    sheet: str | None = None,
    row: int | None = None,
    column: str | None = None,
    col_index: int | None = None,
    warning: bool = False,
    **values: Any,
) -> Problem:
    return Problem(code, say(code, **values), sheet, row, column, col_index, warning)


def file_problem(code: str, *, warning: bool = False, **values: Any) -> Problem:
    """A problem with the file as a whole: no sheet, row or column."""
    return Problem(code, say(code, **values), None, None, None, None, warning)
