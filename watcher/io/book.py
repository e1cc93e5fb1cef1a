"""What a reader returns: sheets of cell values at the Excel rows and columns the user sees."""

from __future__ import annotations

from dataclasses import dataclass, field


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass
class Sheet:
    name: str
    rows: list[list[object]]  # rows[0] is Excel row 1, rows[r][0] is column A
    hidden: bool = False
    # Cells whose value cannot be trusted: (row index, col index) → "formula" or the error text ("#N/A").
    special: dict[tuple[int, int], str] = field(default_factory=dict)
    hidden_rows: set[int] = field(default_factory=set)  # 0-based rows hidden in Excel
    merged: list = field(default_factory=list)  # ((first row, first col), (last row, last col)), 0-based

    def value(self, r: int, c: int) -> object:
        if r < len(self.rows) and c < len(self.rows[r]):
            return self.rows[r][c]
        return None

    @property
    def width(self) -> int:
        return max((len(row) for row in self.rows), default=0)


@dataclass
class Book:
    sheets: dict[str, Sheet]  # in workbook order
    format: str  # "xlsx", "xls" or "csv"
    properties: dict[str, str] = field(default_factory=dict)  # custom document properties (xlsx)

    def sheet(self, name: str) -> Sheet | None:
        if name in self.sheets:
            return self.sheets[name]
        from ..domain.text import label_key

        wanted = label_key(name)
        for sheet_name, sheet in self.sheets.items():
            if label_key(sheet_name) == wanted:
                return sheet
        return None
