"""Every file settlement writes, in one place, for 结账 (through the walk's renderers) and month-end
alike: a statement's three files, an agency's monthly detail sheet, the core system's exchange file and
staff's month-end summary. Each is written whole (a temporary name, then a rename)."""

from __future__ import annotations

import os
from datetime import datetime, tzinfo
from pathlib import Path

from ..domain.policy import Policy
from ..domain.settlement import Statement
from .atomic import replacing, write_bytes
from .core_exchange import core_exchange
from .month_summary import CONFIRM_SHEET, MonthSummary, write_summary
from .pages import environment
from .result_book import write_tables
from .sheet_table import SheetTable
from .statement_book import write_statement


def write_statement_files(
    root: Path,
    out: Path,
    statement: Statement,
    members: list[Policy],
    agency_name: str,
    insurer: str,
    zone: tzinfo,
    at: datetime,
) -> list[Path]:
    """对账单_<no>.xlsx, .html and .json (the JSON twin last) in the agency's outbox `out`."""
    out.mkdir(parents=True, exist_ok=True)
    return write_statement(out, statement, members, agency_name, insurer, zone, at, environment(root))


def write_detail_file(path: Path, table: SheetTable) -> Path:
    """业务明细_<YYYY-MM>.xlsx: one agency's month, a row a policy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        write_tables(tmp, [table])
    return path


def write_exchange_file(
    path: Path, statement: Statement, members: list[Policy], agency_name: str, zone: tzinfo
) -> Path:
    """A confirmed statement's exchange file for the core system (outbox/_core/)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, core_exchange(statement, members, agency_name, zone))
    return path


def write_summary_file(path: Path, summary: MonthSummary, channels: tuple[str, ...], zone: tzinfo) -> Path:
    """月结汇总_<YYYY-MM>.xlsx for staff (outbox/_admin/)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        write_summary(tmp, summary, channels, zone)
    return path


FILLED_COLUMNS = ("业务渠道", "确认人")  # what staff fill in the summary's 对账确认 sheet


def keep_filled_summary(path: Path, zone: tzinfo) -> str:
    """Before month-end writes `path` (月结汇总_<YYYY-MM>.xlsx) again (the daily retry, a re-run): an earlier
    summary staff have filled in where it lies (业务渠道 or 确认人 in 对账确认) is renamed aside, never
    overwritten, and its new name returned ("" when there was nothing to keep). One that cannot be read is
    kept aside too: what it holds cannot be told."""
    if not path.exists():
        return ""
    if not _filled(path):
        return ""
    stamp = datetime.fromtimestamp(path.stat().st_mtime, zone)
    n = 1
    while (aside := path.with_name(f"{path.stem}_已填写_{stamp:%Y%m%d-%H%M%S}{_nth(n)}{path.suffix}")).exists():
        n += 1
    os.rename(path, aside)
    return aside.name


def _nth(n: int) -> str:
    return "" if n == 1 else f"_{n}"


def _filled(path: Path) -> bool:
    """Whether the 对账确认 sheet has anything in 业务渠道 or 确认人. Only that sheet is read (our own file,
    in staff's folder): the 业绩 sheet of a desk some years old is longer than a request may be."""
    import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        if CONFIRM_SHEET not in book.sheet_names:
            return False
        rows = book.get_sheet_by_name(CONFIRM_SHEET).to_python(skip_empty_area=False)
    except Exception:  # noqa: BLE001 — damaged, or not a workbook any more: keep it, it may hold work
        return True
    if not rows:
        return False
    headers = [str(h or "").strip() for h in rows[0]]
    columns = [headers.index(h) for h in FILLED_COLUMNS if h in headers]
    return any(c < len(row) and str(row[c] or "").strip() for row in rows[1:] for c in columns)
