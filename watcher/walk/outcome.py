"""What the stages hand to the renderers: everything a result shows, and nothing to read again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..domain.policy import Policy
from ..domain.problems import Problem
from ..io.book import Book
from ..io.sheet_table import SheetTable


@dataclass
class Outcome:
    who: str  # agency code or _admin
    file_name: str  # the original name as dropped
    sha256: str
    processed_at: datetime
    action: str = ""  # 操作类型, '' when the file could not be read that far
    status: str = "failed"  # success, failed, quote, duplicate
    policies: list[Policy] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)  # label → text, count (int) or Amount
    notes: list[str] = field(default_factory=list)
    book: Book | None = None  # echoed back, cell for cell
    roster_sheet: str | None = None
    roster_header: int | None = None  # 0-based
    roster_columns: dict[str, int] = field(default_factory=dict)  # canonical column → 0-based column
    row_premiums: dict[int, int] = field(default_factory=dict)
    result_stem: str = ""  # outputs are <stem>.xlsx and <stem>.json
    outputs: list[str] = field(default_factory=list)
    first_processed_at: datetime | None = None  # for duplicates: when the first submission was processed
    recovered: bool = False  # rebuilt from the ledger after a stop: write only the outputs that are missing
    tables: list[SheetTable] = field(default_factory=list)
    reprint: list = field(default_factory=list)  # policies whose page is written again (补打保单)
    premium_before: int | None = None  # an endorsement that reissues: the old policy's premium
    statements: list[str] = field(default_factory=list)  # statements whose files are written (again)
    core: list[str] = field(default_factory=list)  # confirmed statements: exchange files for the core system
    details: list[tuple[str, str]] = field(default_factory=list)  # (agency, YYYY-MM): 业务明细 written again
    content: dict[str, object] = field(default_factory=dict)  # the JSON twin's own keys (admin results …)
    committed: bool = False  # its ledger change is committed: from here nothing may turn it into a failure
    archived: str = ""  # the archived copy of the original it was read from
    repair: Outcome | None = None  # an earlier request of the same bytes whose recorded outputs are missing

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.warning]
