"""One reader for .xlsx, .xlsm, .xls and .csv: cell values with the Excel row and column the user sees.

python-calamine reads the values (fast, values only). It cannot tell a formula without a cached
value or an error cell from an empty one, so for zip workbooks the sheet XML is scanned for those,
only when it contains a formula or an error at all.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Iterator

import python_calamine
from defusedxml import ElementTree as SafeET

from .book import Book, Sheet


class ReadError(Exception):
    """The file cannot be read as a workbook; `code` is a message code, `detail` a short reason."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


def read_book(path: Path, kind: str) -> Book:
    """Read `path`, whose content is of `kind` ("xlsx", "xls" or "csv")."""
    if kind == "csv":
        return read_csv(path.read_bytes())
    with _named_for(path, kind) as source:
        return _read_workbook(source, kind)


@contextmanager
def _named_for(path: Path, kind: str) -> Iterator[Path]:
    """calamine picks its parser by extension: give a mislabelled file (an .xlsx saved as .xls) the right one."""
    suffix = ".xls" if kind == "xls" else ".xlsx"
    if path.suffix.lower() == suffix or (kind == "xlsx" and path.suffix.lower() == ".xlsm"):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="watcher-") as folder:
        link = Path(folder) / f"book{suffix}"
        os.symlink(path.resolve(), link)
        yield link


def _read_workbook(path: Path, kind: str) -> Book:
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        sheets: dict[str, Sheet] = {}
        for meta in workbook.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue  # chart sheets and macro sheets hold no table
            data = workbook.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
            hidden = meta.visible != python_calamine.SheetVisibleEnum.Visible
            sheets[meta.name] = Sheet(meta.name, data, hidden)
        workbook.close()
    except python_calamine.PasswordError as exc:
        raise ReadError("file.encrypted", "") from exc
    except (python_calamine.CalamineError, python_calamine.ZipError, python_calamine.XmlError, ValueError, OSError) as exc:
        raise ReadError("file.unreadable", type(exc).__name__) from exc
    if kind == "xlsx":
        for name, special in _special_cells(path).items():
            if name in sheets:
                sheets[name].special = special
    return Book(sheets, kind)


# --- formulas without values and error cells, from the sheet XML ---------------------------

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_CELL_REF = re.compile(r"^([A-Z]+)(\d+)$")


def _ref_index(ref: str) -> tuple[int, int] | None:
    m = _CELL_REF.match(ref or "")
    if not m:
        return None
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → its XML part inside the zip."""
    rels = SafeET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {}
    for rel in rels:
        target = rel.get("Target", "")
        part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        targets[rel.get("Id")] = part
    workbook = SafeET.fromstring(archive.read("xl/workbook.xml"))
    parts = {}
    for sheet in workbook.iter(f"{_NS}sheet"):
        part = targets.get(sheet.get(f"{_REL_NS}id"))
        if part:
            parts[sheet.get("name")] = part
    return parts


def _special_cells(path: Path) -> dict[str, dict[tuple[int, int], str]]:
    found: dict[str, dict[tuple[int, int], str]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            marked = {}
            for info in archive.infolist():
                if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                    data = archive.read(info)
                    if b"<f" in data or b't="e"' in data:
                        marked[info.filename] = data
            if not marked:
                return found  # the common case: plain values only, no need to map sheet names
            for name, part in _sheet_parts(archive).items():
                data = marked.get(part)
                if data is None:
                    continue
                cells: dict[tuple[int, int], str] = {}
                for _, element in SafeET.iterparse(io.BytesIO(data)):
                    if element.tag != f"{_NS}c":
                        continue
                    where = _ref_index(element.get("r", ""))
                    value = element.find(f"{_NS}v")
                    if where is None:
                        pass
                    elif element.get("t") == "e":
                        cells[where] = value.text if value is not None and value.text else "#ERROR"
                    elif element.find(f"{_NS}f") is not None and (value is None or not value.text):
                        cells[where] = "formula"
                    element.clear()
                if cells:
                    found[name] = cells
    except (KeyError, zipfile.BadZipFile, SafeET.ParseError, OSError):
        return found  # calamine already read the values; this scan only adds warnings
    return found


# --- CSV -------------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """UTF-8 with or without BOM, else GB18030 (a superset of GBK)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise ReadError("file.encoding") from exc


def read_csv(data: bytes) -> Book:
    """The 申请 label,value rows, a blank line, then the roster table; rows keep their line numbers."""
    text = decode_text(data)
    if "\x00" in text:
        raise ReadError("file.encoding")
    dialect = csv.excel
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        pass
    records = list(csv.reader(io.StringIO(text), dialect))
    blank = next((i for i, rec in enumerate(records) if not any(cell.strip() for cell in rec)), None)
    head = records if blank is None else records[:blank]
    apply_rows: list[list[object]] = [list(rec) for rec in head]
    roster_rows: list[list[object]] = [[] for _ in head]
    if blank is not None:
        roster_rows = [[] for _ in records[: blank + 1]] + [list(rec) for rec in records[blank + 1 :]]
    sheets = {"申请": Sheet("申请", apply_rows)}
    if any(roster_rows):
        sheets["被保险人名单"] = Sheet("被保险人名单", roster_rows)
    return Book(sheets, "csv")
