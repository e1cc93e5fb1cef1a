"""A table that a result workbook shows on a sheet of its own."""

from __future__ import annotations

from dataclasses import dataclass, field

# The sheet of an endorsement's people changes: beside it, the result still lists the policies in its summary
# (a query's tables are its policies; an endorsement's are not).
CHANGES = "人员变更"
AMENDED = "批改内容"  # a 批改's policy values, each old and new (its people's premiums are in 人员变更)
ENDORSED = (CHANGES, AMENDED)  # the tables of an endorsement: the summary lists its policies beside them


@dataclass
class SheetTable:
    """A table the result workbook shows on a sheet of its own: a query's export, a detail sheet."""

    name: str
    headers: list[str]
    types: list[str]  # per column: text, int, money (fen), datetime (text already formatted)
    rows: list[list]
    totals: dict[int, object] = field(default_factory=dict)  # column → value of a totals row
    note: str = ""  # a line above the table: the filter that made it
