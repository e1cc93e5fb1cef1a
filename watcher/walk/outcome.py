"""What the stages hand to the renderers: everything a result shows, and nothing to read again."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..domain.money import Amount
from ..domain.policy import Policy
from ..domain.problems import Problem
from ..io.book import Book
from ..io.sheet_table import SheetTable


class OutputsPending(Exception):
    """The request is committed but what it shows could not be finished (the ledger or disk failed after
    the commit): a success whose outputs are written as soon as they can be, never a failure."""


@dataclass(frozen=True)
class Outcome:
    """Built once, frozen: each stage that has something to add returns a new outcome (the walk's frame,
    the file as taken, becomes the outcome at the stage that ends the walk: a refusal, the commit, a
    rebuild or a duplicate); what follows reads it."""

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
    reprint: list[Policy] = field(default_factory=list)  # policies whose page is written again (补打保单)
    premium_before: int | None = None  # an endorsement that reissues: the old policy's premium
    statements: list[str] = field(default_factory=list)  # statements whose files are written (again)
    core: list[str] = field(default_factory=list)  # confirmed statements: exchange files for the core system
    details: list[tuple[str, str]] = field(default_factory=list)  # (agency, YYYY-MM): 业务明细 written again
    content: dict[str, object] = field(default_factory=dict)  # the JSON twin's own keys (admin results …)
    committed: bool = False  # its ledger change is committed: from here nothing may turn it into a failure
    numbers: dict[str, list[int]] = field(default_factory=dict)  # the policy and statement serials it drew
    archived: str = ""  # the archived copy of the original it was read from
    repair: Outcome | None = None  # an earlier request of the same bytes whose recorded outputs are missing
    shows: Any = None  # walk.shows.Shows: what the outputs show from the ledger, gathered after the commit
    # A failed or quoted 投保/试算: the agency's plans, for the 方案代码 dropdown of the result fixed in place.
    plan_choices: tuple[str, ...] = ()

    def refused(self, *problems: Problem) -> Outcome:
        """The walk ends here: the file fails with these problems (nothing is committed)."""
        return replace(self, status="failed", problems=list(problems), policies=[], cancelled=[])

    # --- the record kept with the request, for showing the result again after a crash --------------

    def to_json(self) -> dict[str, Any]:
        """What the result shows besides the policies (which the ledger holds), as JSON values: recorded
        with the request in the commit's transaction, read back by `from_json` when a run stopped after
        its commit is finished. Not the JSON twin agencies read (io/result_json.py), which is a
        projection of the outcome with its own `version`."""
        return {
            "warnings": [[p.code, p.message, p.sheet, p.row, p.column, p.col_index] for p in self.warnings],
            "summary": [
                [label, "money", v.fen] if isinstance(v, Amount) else [label, "value", v]
                for label, v in self.summary.items()
            ],
            "notes": self.notes,
            "row_premiums": {str(r): fen for r, fen in self.row_premiums.items()},
            "roster_sheet": self.roster_sheet,
            "roster_header": self.roster_header,
            "roster_columns": self.roster_columns,
            "tables": [
                [t.name, t.headers, t.types, t.rows, {str(k): v for k, v in t.totals.items()}, t.note]
                for t in self.tables
            ],
            "premium_before": self.premium_before,
            "statements": self.statements,
            "core": self.core,
            "details": self.details,
            "content": self.content,
        }

    def from_json(self, record: dict[str, Any], **changes: Any) -> Outcome:
        """This outcome (the file, its request) with what the result shows read back from a record
        `to_json` made, or the release before it made (its summary was a dict of text, and keys it did
        not have are simply absent), and `changes`: a new outcome, built in one go."""
        summary = record.get("summary", {})
        return replace(
            self,
            problems=[
                Problem(code, message, sheet, row, column, col, True)
                for code, message, sheet, row, column, col in record.get("warnings", [])
            ],
            summary=(
                dict(summary)
                if isinstance(summary, dict)
                else {label: Amount(v) if form == "money" else v for label, form, v in summary}
            ),
            notes=list(record.get("notes", [])),
            row_premiums={int(r): fen for r, fen in record.get("row_premiums", {}).items()},
            roster_sheet=record.get("roster_sheet"),
            roster_header=record.get("roster_header"),
            roster_columns=dict(record.get("roster_columns", {})),
            tables=[
                SheetTable(name, headers, types, rows, {int(k): v for k, v in totals.items()}, note)
                for name, headers, types, rows, totals, note in record.get("tables", [])
            ],
            premium_before=record.get("premium_before"),
            statements=list(record.get("statements", [])),
            core=list(record.get("core", [])),
            details=[(str(a), str(m)) for a, m in record.get("details", [])],
            content=dict(record.get("content", {})),
            **changes,
        )

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.warning]
