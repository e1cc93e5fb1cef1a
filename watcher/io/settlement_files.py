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
    for n in range(1, 1000):
        extra = "" if n == 1 else f"_{n}"
        aside = path.with_name(f"{path.stem}_已填写_{stamp:%Y%m%d-%H%M%S}{extra}{path.suffix}")
        if not aside.exists():
            break
    os.rename(path, aside)
    return aside.name


def _filled(path: Path) -> bool:
    from .reader import ReadError, read_book

    try:
        sheet = read_book(path, "xlsx").sheet(CONFIRM_SHEET)
    except (ReadError, OSError, ValueError):  # damaged, or not a workbook any more: keep it, it may hold work
        return True
    if sheet is None or not sheet.rows:
        return False
    headers = [str(h or "").strip() for h in sheet.rows[0]]
    columns = [headers.index(h) for h in FILLED_COLUMNS if h in headers]
    return any(str(sheet.value(r, c) or "").strip() for r in range(1, len(sheet.rows)) for c in columns)
