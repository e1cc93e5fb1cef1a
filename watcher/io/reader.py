"""One reader for .xlsx, .xlsm, .xls and .csv: cell values with the Excel row and column the user sees.

python-calamine reads the values (fast, values only). Before it sees a zip workbook, every part is
inflated once through zipfile, which stops at the size the directory declares and checks the CRC
(a directory that lies fails here, not inside calamine), and each sheet's XML is looked at for what
calamine cannot say or cannot survive: formulas without a cached value and error cells (both read
as empty), hidden rows, and a cell so far out that calamine would allocate the whole grid. An .xls
(BIFF) has its error cells and hidden rows read by xlrd.
Run it through io.sandbox, which bounds its memory and time.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import xml.parsers.expat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import python_calamine
from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from .book import Book, Sheet, column_letter


class ReadError(Exception):
    """The file cannot be read as a workbook; `code` is a message code, `values` fill its message."""

    def __init__(self, code: str, **values):
        super().__init__(code, values)
        self.code = code
        self.values = values


@dataclass(frozen=True)
class Limits:
    max_unzipped: int = 200 * 1024 * 1024
    max_cells: int = 5_000_000
    max_people: int = 20_000  # max_roster_rows: a sheet far longer than that is refused before it leaves the parser

    @property
    def max_rows(self) -> int:
        return self.max_people + ROW_MARGIN


# Rows a sheet may hold beyond the most people a request may have (titles, notes, blank rows): past that it
# is refused in the parser, never handed to the service to be checked and echoed (a 5 MB CSV of a million
# rows took the service to 1.2 GB for a result saying it was too long).
ROW_MARGIN = 1000


def limits_of(settings) -> Limits:
    """The limits the settings ask for (max_unzipped_mb, max_cells, max_roster_rows)."""
    return Limits(
        max_unzipped=settings.max_unzipped_mb * 2**20, max_cells=settings.max_cells, max_people=settings.max_roster_rows
    )


def read_book(path: Path, fmt: str, limits: Limits = Limits()) -> Book:
    """Read `path`, whose content is in the format `fmt` ("xlsx", "xls" or "csv")."""
    book = read_csv(path.read_bytes()) if fmt == "csv" else _read_book(path, fmt, limits)
    for sheet in book.sheets.values():
        if len(sheet.rows) > limits.max_rows:
            raise ReadError("file.sheet_rows", table=sheet.name, count=len(sheet.rows), limit=limits.max_people)
    return book


def _read_book(path: Path, fmt: str, limits: Limits) -> Book:
    parts, facts, properties = _scan_zip(path, limits) if fmt == "xlsx" else ({}, {}, {})
    with _named_for(path, fmt) as source:
        book = _read_workbook(source, fmt)
    book.properties = properties
    if fmt == "xls":  # the same facts, from the BIFF records
        facts, parts = _xls_facts(path), {name: name for name in book.sheets}
    for name, part in parts.items():
        if name in book.sheets and part in facts:
            sheet = book.sheets[name]
            sheet.special = facts[part].special
            sheet.hidden_rows = facts[part].hidden_rows
            last = max((r for r, _ in sheet.special), default=-1)
            if last >= len(sheet.rows):  # rows of nothing but formulas without a value were trimmed as empty
                empty: list[object] = []  # one shared row, never written to: a hostile sheet costs no memory
                sheet.rows.extend([empty] * (last + 1 - len(sheet.rows)))
    return book


def _xls_facts(path: Path) -> dict[str, PartFacts]:
    """Error cells (#N/A, #VALUE!, which calamine reads as empty) and hidden rows of an Excel 97-2003
    workbook, by sheet name: xlrd reads the cells' types and the rows' flags that calamine does not give.
    A file xlrd cannot read (calamine could) keeps what calamine read."""
    import xlrd

    facts: dict[str, PartFacts] = {}
    try:
        with open(os.devnull, "w") as quiet:  # xlrd reports damage on its log file, stdout by default
            book = xlrd.open_workbook(
                str(path), formatting_info=True, on_demand=True, ragged_rows=True, logfile=quiet, verbosity=0
            )
    except Exception:  # noqa: BLE001 — xlrd's errors have no common base; calamine read the file
        return facts
    try:
        for index in range(book.nsheets):
            try:
                sheet = book.sheet_by_index(index)
            except Exception:  # noqa: BLE001 — as above, for one sheet
                continue
            found = facts[sheet.name] = PartFacts()
            for r in range(sheet.nrows):
                types = sheet.row_types(r)
                if xlrd.XL_CELL_ERROR in types:
                    for c, kind in enumerate(types):
                        if kind == xlrd.XL_CELL_ERROR:
                            code = sheet.cell_value(r, c)
                            found.special[(r, c)] = xlrd.error_text_from_code.get(code, "#ERROR")
            found.hidden_rows = {r for r, info in sheet.rowinfo_map.items() if info.hidden}
            book.unload_sheet(index)
    finally:
        book.release_resources()
    return facts


@contextmanager
def _named_for(path: Path, fmt: str) -> Iterator[Path]:
    """calamine picks its parser by extension: give a mislabelled file (an .xlsx saved as .xls) the right one."""
    suffix = ".xls" if fmt == "xls" else ".xlsx"
    if path.suffix.lower() == suffix or (fmt == "xlsx" and path.suffix.lower() == ".xlsm"):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="watcher-") as folder:
        link = Path(folder) / f"book{suffix}"
        os.symlink(path.resolve(), link)
        yield link


def _read_workbook(path: Path, fmt: str) -> Book:
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        sheets: dict[str, Sheet] = {}
        for meta in workbook.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue  # chart sheets and macro sheets hold no table
            sheet = workbook.get_sheet_by_name(meta.name)
            data = _trim(sheet.to_python(skip_empty_area=False))
            try:
                merged = list(sheet.merged_cell_ranges or [])
            except Exception:  # not every format reports merges
                merged = []
            hidden = meta.visible != python_calamine.SheetVisibleEnum.Visible
            sheets[meta.name] = Sheet(meta.name, data, hidden, merged=merged)
        workbook.close()
    except python_calamine.PasswordError as exc:
        raise ReadError("file.encrypted") from exc
    except BaseException as exc:
        # calamine's Rust code panicking on a damaged file raises pyo3's PanicException, a BaseException.
        if type(exc).__name__ == "PanicException":
            raise ReadError("file.unreadable", detail="内容损坏") from None
        raise
    except (
        python_calamine.CalamineError,
        python_calamine.ZipError,
        python_calamine.XmlError,
        ValueError,
        OSError,
        UnicodeError,
        OverflowError,
    ) as exc:
        raise ReadError("file.unreadable", detail=_UNREADABLE.get(type(exc).__name__, "内容损坏")) from exc
    return Book(sheets, fmt)


# What the reader's complaint means, in the clerk's words (never a library's class name).
_UNREADABLE = {
    "ZipError": "压缩内容损坏",
    "XmlError": "工作表内容损坏",
    "CalamineError": "不是可识别的 Excel 文件，或内容损坏",
    "UnicodeDecodeError": "文字编码无法识别",
    "OverflowError": "数值超出范围",
}


def _trim(rows: list[list]) -> list[list]:
    """Trailing rows with nothing in them (formatted but empty rows by the thousand) are dropped."""
    end = len(rows)
    while end and not any(v not in ("", None) for v in rows[end - 1]):
        end -= 1
    return rows[:end] if end < len(rows) else rows


# --- the zip and its sheets' XML ------------------------------------------------------------

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_CELL_REF = re.compile(r"^([A-Z]+)(\d+)$")
_ROW_REF = re.compile(rb'<row\b[^>]*?\br="(\d+)"')
_CELL_ROW = re.compile(rb'<c\b[^>]*?\br="[A-Z]{1,3}(\d+)"')
_ROW_TAG = re.compile(rb"<row\b([^>]*)>")
_NUMBERED = re.compile(rb'\br="\d+"')
_COL_REF = re.compile(rb'<c\b[^>]*?\br="([A-Z]{1,3})\d+"')
_HIDDEN_ROW = re.compile(rb"<row\b([^>]*?)>")
# What makes a sheet worth parsing for formulas and error cells: a cell's formula (<f>, <f t="shared" …>,
# <f/>, <x:f> with a prefix), not <formula1> of a dropdown, which every template has; an error cell's type
# however it is quoted or spaced. Each may match more than it must: the parse then finds nothing.
_FORMULA = re.compile(rb"[<:]f[\s>/]")
_ERROR_TYPE = re.compile(rb"""t\s*=\s*["']e["']""")


@dataclass
class PartFacts:
    special: dict[tuple[int, int], str] = field(default_factory=dict)
    hidden_rows: set[int] = field(default_factory=set)  # 0-based


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _scan_zip(path: Path, limits: Limits) -> tuple[dict[str, str], dict[str, PartFacts], dict[str, str]]:
    """One pass over the zip: sheet name → part, what each sheet's XML says, the custom properties."""
    facts: dict[str, PartFacts] = {}
    properties: dict[str, str] = {}
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            parts = _sheet_parts(archive)
            names = {part: name for name, part in parts.items()}
            for info in archive.infolist():
                total += info.file_size
                if total > limits.max_unzipped:
                    raise ReadError("file.zip_bomb", detail=f"解压后超过 {limits.max_unzipped // 2**20} MB")
                # zipfile yields at most the declared size and checks the CRC: a lying directory fails here.
                name = info.filename
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    facts[name] = _sheet_facts(names.get(name, PurePosixPath(name).stem), archive.read(info), limits)
                elif name == "docProps/custom.xml" and info.file_size <= 1 << 16:
                    data = archive.read(info)
                    Prolog().feed(data)
                    properties = _custom_properties(data)
                else:
                    # The XML parts (a macro's binary, an image may hold any bytes: not looked into)
                    prolog = Prolog() if name.lower().endswith(XML_PARTS) else None
                    with archive.open(info) as part:
                        while chunk := part.read(1 << 20):
                            if prolog is not None:
                                prolog.feed(chunk)
    except ReadError:
        raise
    except MemoryError as exc:
        raise ReadError("file.parse_limit", what="内存") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError, ValueError) as exc:
        # RuntimeError: a part that is itself encrypted; zlib errors arrive as BadZipFile or zlib.error
        raise ReadError("file.unreadable", detail="压缩内容损坏") from exc
    except Exception as exc:  # zlib.error and friends
        raise ReadError("file.unreadable", detail="压缩内容损坏") from exc
    return parts, facts, properties


_CUSTOM_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"


def _custom_properties(data: bytes) -> dict[str, str]:
    """name → text of each custom document property (what watcher marks its own workbooks with)."""
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException):
        return {}
    found = {}
    for prop in root.iter(f"{_CUSTOM_NS}property"):
        name = prop.get("name")
        value = next(iter(prop), None)
        if name and value is not None:
            found[name[:64]] = (value.text or "")[:256]
    return found


def _sheet_facts(sheet: str, data: bytes, limits: Limits) -> PartFacts:
    facts = PartFacts()
    rows = _ROW_REF.findall(data)
    del rows[len(rows) - _empty_at_end(data) :]
    max_row = max((int(r) for r in (*rows, *_CELL_ROW.findall(data))), default=0)
    max_col = max((_col_number(c) for c in set(_COL_REF.findall(data))), default=0)
    if max_row * max_col > limits.max_cells:
        ref = f"{column_letter(max_col - 1)}{max_row}"
        raise ReadError("file.grid_too_large", table=sheet, ref=ref, cells=f"{max_row * max_col:,}")
    if b'hidden="1"' in data or b'hidden="true"' in data:
        for attrs in _HIDDEN_ROW.findall(data):
            if b'hidden="1"' in attrs or b'hidden="true"' in attrs:
                m = re.search(rb'\br="(\d+)"', attrs)
                if m:
                    facts.hidden_rows.add(int(m.group(1)) - 1)
    _well_formed(data)
    if _ERROR_TYPE.search(data) or _FORMULA.search(data):
        facts.special = _special_cells(data)
    return facts


def _empty_at_end(data: bytes) -> int:
    """How many numbered row elements close the sheet's data holding nothing. LibreOffice Calc writes
    <row r="1048576" …></row> last after a row is deleted where the columns have a style (every watcher
    template's have): no reader makes a cell of it, and the request was refused as 8 million cells. Only at
    the end: a row without a number after an empty one is placed after it, far down."""
    end = data.rfind(b"</sheetData>")
    if end < 0:
        return 0
    count = 0
    while True:
        start = data.rfind(b"<row", 0, end)
        tag = _ROW_TAG.match(data, start, end) if start >= 0 else None
        if tag is None or not _NUMBERED.search(tag.group(1)):
            return count
        inside = data[tag.end() : end].strip()
        if not ((tag.group(1).endswith(b"/") and not inside) or inside == b"</row>"):
            return count
        count, end = count + 1, start


def _refuse_declarations(*_: object) -> int:
    raise ReadError("file.xml", detail="含有实体定义")


class _RootReached(Exception):
    pass


def _root_reached(*_: object) -> None:
    raise _RootReached


class Prolog:
    """A part other than a sheet has no document type or entity declaration either (a DTD in
    [Content_Types].xml, workbook.xml, styles.xml or the document properties is the same entity trick as
    one in a sheet): its prolog is read, fed chunk by chunk, up to its first element, and no further. A
    part that is not XML at all (an image) or whose XML is broken is not this check's business."""

    def __init__(self) -> None:
        self.parser: xml.parsers.expat.XMLParserType | None = xml.parsers.expat.ParserCreate()
        self.parser.StartDoctypeDeclHandler = _refuse_declarations
        self.parser.EntityDeclHandler = _refuse_declarations
        self.parser.UnparsedEntityDeclHandler = _refuse_declarations
        self.parser.ExternalEntityRefHandler = _refuse_declarations
        self.parser.StartElementHandler = _root_reached
        self.head = b""  # what was fed before the root, up to PROLOG_BYTES

    def feed(self, chunk: bytes) -> None:
        if self.parser is None:
            return
        if len(self.head) < PROLOG_BYTES:
            self.head += chunk[: PROLOG_BYTES - len(self.head)]
        try:
            self.parser.Parse(chunk, False)
        except _RootReached:
            self.parser = None  # past the prolog: nothing more to look at
        except (xml.parsers.expat.ExpatError, ValueError, LookupError):
            # Not XML to expat (an image; a prolog expat refuses but a lenient reader takes, such as a space
            # before <?xml; an encoding expat has no codec for): the bytes themselves say whether a
            # declaration is there, in any of the encodings a part may have.
            self.parser = None
            if _DECLARED.search(self.head.replace(b"\0", b"")):
                raise ReadError("file.xml", detail="含有实体定义") from None


PROLOG_BYTES = 1 << 20
XML_PARTS = (".xml", ".rels", ".vml")
_DECLARED = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def _well_formed(data: bytes) -> None:
    """The sheet's XML is well formed, checked at C speed (no elements are built): a broken one is refused
    with the same message wherever it breaks. A document type or entity declaration is refused before
    anything is expanded (as defusedxml does: a sheet never needs one)."""
    parser = xml.parsers.expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_declarations
    parser.EntityDeclHandler = _refuse_declarations
    parser.UnparsedEntityDeclHandler = _refuse_declarations
    parser.ExternalEntityRefHandler = _refuse_declarations
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise ReadError("file.xml", detail="格式错误") from exc


def _ref_index(ref: str) -> tuple[int, int] | None:
    m = _CELL_REF.match(ref or "")
    if not m:
        return None
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


def _special_cells(data: bytes) -> dict[tuple[int, int], str]:
    """Formulas without a cached value and error cells: calamine reads both as empty. A formula whose cached
    result is empty text (=IF(A5="","",A5) dragged down past the last traveller: Excel saves <v></v>
    with t="str") has its value, blank, and is not one of them."""
    cells: dict[tuple[int, int], str] = {}
    try:
        for _, element in SafeET.iterparse(io.BytesIO(data)):
            if element.tag != f"{_NS}c":
                continue
            where = _ref_index(element.get("r", ""))
            value = element.find(f"{_NS}v")
            if where is None:
                pass
            elif element.get("t") == "e":
                cells[where] = value.text if value is not None and value.text else "#ERROR"
            elif element.find(f"{_NS}f") is not None and value is None:
                cells[where] = "formula"
            elif element.find(f"{_NS}f") is not None and not value.text and element.get("t") != "str":
                cells[where] = "formula"  # an empty cached number is no value; an empty cached text is ""
            element.clear()
    except DefusedXmlException as exc:
        raise ReadError("file.xml", detail="含有实体定义") from exc
    except SafeET.ParseError as exc:
        raise ReadError("file.xml", detail="格式错误") from exc
    return cells


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → its XML part inside the zip."""
    try:
        raw = [archive.read("xl/_rels/workbook.xml.rels"), archive.read("xl/workbook.xml")]
    except (KeyError, zipfile.BadZipFile, OSError):
        return {}  # no such part: calamine finds no sheets either, and says so
    try:
        rels, workbook = (SafeET.fromstring(data) for data in raw)
    except DefusedXmlException as exc:
        raise ReadError("file.xml", detail="含有实体定义") from exc
    except (SafeET.ParseError, ValueError, LookupError) as exc:
        # Which part is which sheet unread: the hidden rows and the formulas without a value would go
        # unseen while a lenient reader still reads the sheets. Refused as a sheet's broken XML is.
        declared = any(_DECLARED.search(data[:PROLOG_BYTES].replace(b"\0", b"")) for data in raw)
        raise ReadError("file.xml", detail="含有实体定义" if declared else "格式错误") from exc
    targets = {}
    for rel in rels:
        target = rel.get("Target", "")
        part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        targets[rel.get("Id")] = part
    parts = {}
    for sheet in workbook.iter(f"{_NS}sheet"):
        part = targets.get(sheet.get(f"{_REL_NS}id"))
        if part:
            parts[sheet.get("name")] = part
    return parts


# --- CSV -------------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """UTF-8 with or without BOM, else GB18030 (a superset of GBK)."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReadError("file.encoding") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _cut_inside_a_character(data, exc, "utf-8")
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as gb:
            _cut_inside_a_character(data, gb, "gb18030")
            raise ReadError("file.encoding") from gb


def _cut_inside_a_character(data: bytes, exc: UnicodeDecodeError, encoding: str) -> None:
    """A file whose every character reads but the last, begun and never ended: a copy cut off there (one
    that died mid-row), not a file in an unknown encoding."""
    if exc.end == len(data) and len(data) - exc.start < 4:
        try:
            data[: exc.start].decode(encoding)
        except UnicodeDecodeError:
            return
        raise ReadError("file.csv_cut", row=data.count(b"\n") + 1) from exc


def _dialect(delimiter: str) -> type[csv.Dialect]:
    class Found(csv.excel):
        pass

    Found.delimiter = delimiter
    return Found


_GUARDED = re.compile(r'="((?:[^"]|"")*)"')


def _unguard(cell: str) -> str:
    m = _GUARDED.fullmatch(cell)
    return m.group(1).replace('""', '"') if m else cell


_END = "\x01watcher-end-of-file\x01"  # a line no CSV holds (control characters)


def _cut_short(records: list[list[str]]) -> bool:
    """Whether the last record (its line unended) was cut off: fewer cells than every row of people above it
    (the heading, where it is the only one) or, in 申请, a label without its value. A writer that leaves
    trailing empty cells out leaves them out of other rows too; a cut inside the last cell of a whole row
    cannot be told."""
    if not any(cell.strip() for cell in records[-1]):
        return False
    blank = next((i for i, rec in enumerate(records) if not any(cell.strip() for cell in rec)), None)
    if blank is None or blank > len(records) - 2:
        return len(records[-1]) < 2
    above = [len(rec) for rec in records[blank + 1 : -1] if any(cell.strip() for cell in rec)]
    if not above:  # the last line is the heading itself
        return False
    # The rows of people above it (else the heading): a whole row has at least as many cells as the shortest.
    return len(records[-1]) < (min(above[1:]) if len(above) > 1 else above[0])


def read_csv(data: bytes) -> Book:
    """The 申请 label,value rows, a blank line, then the roster table; rows keep their line numbers."""
    text = decode_text(data)
    if "\x00" in text:
        raise ReadError("file.encoding")
    # The delimiter as the file has it (a comma, or ; and tab from some Excel locales); quotes always the
    # double quote Excel writes: the sniffer took two apostrophes typed in 备注 for quotes, and three
    # travellers between them became one traveller's remark.
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        # The sniffer cannot decide on two columns of 申请 above a wider roster: the first line says
        # (操作类型;投保), else a comma. Read with commas, a ;-file was one cell a line: "no 操作类型".
        first = next((line for line in text[:4096].splitlines() if line.strip()), "")
        delimiter = next((d for d in ",;\t" if d in first), ",")
    dialect = _dialect(delimiter)
    csv.field_size_limit(max(len(text) + 1, 1 << 17))  # a long field is the file's own (the parser's limits bound it)
    # A file that ends inside a quoted field was cut off while written (or has a quote never closed): the
    # reader would take what is there as whole. A line after the end tells: it is a record of its own only
    # when every quote before it was closed.
    ending = "" if text.endswith(("\n", "\r")) or not text else "\r\n"
    try:
        records = list(csv.reader(io.StringIO(text + ending + _END, newline=""), dialect))
    except csv.Error as exc:
        raise ReadError("file.unreadable", detail="CSV 格式错误") from exc
    if not records or records[-1] != [_END]:
        raise ReadError("file.csv_unclosed", row=max(len(records), 1))
    records.pop()
    if ending and _cut_short(records):
        # A copy that died mid-row (a share that dropped, an export that died) leaves a stable file: read, it
        # insured its last traveller under a name or birth date cut short and left out whoever came after,
        # with 成功. A last line without its end is no proof (RFC 4180 allows it; Google Sheets and SheetJS
        # write it so), but one with fewer cells than the rows above it is.
        raise ReadError("file.csv_cut", row=len(records))
    # ="440106…": the text guard agency systems export so that Excel keeps an ID's digits; Excel shows the
    # text inside, and so is it read (a cell that merely starts with = stays text as it is).
    records = [[_unguard(cell) if cell.startswith('="') else cell for cell in rec] for rec in records]
    blank = next((i for i, rec in enumerate(records) if not any(cell.strip() for cell in rec)), None)
    head = records if blank is None else records[:blank]
    apply_rows: list[list[object]] = [list(rec) for rec in head]
    roster_rows: list[list[object]] = [[] for _ in head]
    if blank is not None:
        roster_rows = [[] for _ in records[: blank + 1]] + [list(rec) for rec in records[blank + 1 :]]
    sheets = {"申请": Sheet("申请", apply_rows)}
    if any(roster_rows):
        sheets["被保险人名单"] = Sheet("被保险人名单", _trim(roster_rows))
    return Book(sheets, "csv")
