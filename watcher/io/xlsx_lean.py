"""A lean writer for the workbooks watcher writes most: result workbooks and detail tables.

It speaks the part of xlsxwriter's API those two use (cells, formats, column widths, row heights,
comments, list dropdowns, frozen header, filter, print setup, a hidden sheet, document properties)
and writes the same parts Excel writes, as whole strings: a 30-person result costs about a fifth of
what xlsxwriter's general-purpose writer spends on it, and a 10,000-person echo a third (issue 18).
The styles are the same for every result and made once a process. Everything else (statements, the
month summary, templates) keeps xlsxwriter.

Text is always text here: a cell that reads `<r>…</r>` (which xlsxwriter takes for its own rich-text
markup and writes into the file unescaped) is written as the characters the clerk typed.
"""

from __future__ import annotations

import bisect
import math
import re
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from ..domain.text import strip_control
from .book import column_letter

STORE_BELOW = 32 * 1024  # parts smaller than this are stored, not deflated (see Workbook.close)
ROWS, COLUMNS = 1_048_576, 16_384  # Excel's grid: a write beyond it is dropped, as xlsxwriter drops it
MAX_ROW_HEIGHT = 409  # points
MAX_STRING = 32767  # Excel's limit for a cell's text, in UTF-16 units (xlsxwriter cuts there too)
_EPOCH = datetime(1899, 12, 31)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, as xlsxwriter: the same content gives the same bytes
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument"

# Excel escapes a literal "_xHHHH_" by its underscore, and writes control characters (and the two
# non-characters XML 1.0 refuses) as "_xHHHH_".
_ESCAPED = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_NEEDS_ESCAPE = re.compile("[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")


def _text(s: str) -> str:
    """Element text: XML-escaped, Excel's _xHHHH_ escapes applied."""
    if _NEEDS_ESCAPE.search(s) is None:
        return s
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _ESCAPED.sub(r"_x005F\1", s)
    return _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", s)


def _escape(s: str) -> str:
    """Plain XML escaping, for what Excel does not read _xHHHH_ escapes in (sheet names, references,
    formulas, document properties); a control character, which XML cannot hold, becomes a space."""
    s = _CONTROL.sub(" ", s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace('"', "&quot;")


def _t(s: str) -> str:
    """A <t> element, keeping leading and trailing spaces and line breaks."""
    if s and (s[0].isspace() or s[-1].isspace()):
        return f'<t xml:space="preserve">{_text(s)}</t>'
    return f"<t>{_text(s)}</t>"


def _cut(text: str) -> str:
    """At most Excel's 32,767 characters, counted as Excel counts them (UTF-16: an emoji is two)."""
    if len(text) <= MAX_STRING // 2:
        return text
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    while units > MAX_STRING:
        text = text[: len(text) - (units - MAX_STRING + 1) // 2]
        units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    return text


def _col_pixels(width: float) -> int:
    """Excel's column width (characters of the default font) in pixels, as xlsxwriter counts it."""
    if width < 1:
        return int(width * 12 + 0.5)
    return int(width * 7 + 0.5) + 5


def _col_width(width: float) -> float:
    """The width Excel writes in <col> for `width` characters (what it shows as the column width)."""
    return int(_col_pixels(width) / 7 * 256) / 256


class Format:
    """A cell format: its properties (xlsxwriter's names) and its index among the workbook's styles."""

    __slots__ = ("props", "index")

    def __init__(self, props: dict, index: int):
        self.props = props
        self.index = index


class Worksheet:
    def __init__(self, book: Workbook, name: str, index: int):
        self.book = book
        self.name = name
        self.index = index
        self.rows: dict[int, dict[int, tuple[int, str]]] = {}  # row → col → (style, the cell's XML after it)
        self.heights: dict[int, float] = {}
        self.columns: dict[int, tuple[float, Format | None]] = {}  # col → width, format (the last call wins)
        self.comments: dict[tuple[int, int], tuple[str, float, float]] = {}
        self.validations: list[str] = []
        self.frozen: tuple[int, int] | None = None
        self.filter: tuple[int, int, int, int] | None = None
        self.hidden = False
        self.paper = 0
        self.landscape: bool | None = None
        self.margins: tuple[float, float, float, float] | None = None
        self.fit: tuple[int, int] | None = None
        self.repeat: tuple[int, int] | None = None
        self.footer = ""
        self._offsets: tuple[list[int], list[int]] | None = None  # row heights summed, for notes (at close)

    # Cells: the XML of each is made as it is written, less its reference and style, which are put in
    # at close (a cell written without a format takes its column's, as in Excel and xlsxwriter).

    def _put(self, r: int, c: int, fmt: Format | None, xml: str) -> None:
        if not (0 <= r < ROWS and 0 <= c < COLUMNS):
            return
        row = self.rows.get(r)
        if row is None:
            row = self.rows[r] = {}
        row[c] = (0 if fmt is None else fmt.index, xml)

    def write_string(self, r: int, c: int, value: str, fmt: Format | None = None) -> None:
        if not (0 <= r < ROWS and 0 <= c < COLUMNS):
            return
        index = self.book._string(_cut(value))
        self._put(r, c, fmt, f' t="s"><v>{index}</v></c>')

    def write_plain_row(self, r: int, values: list, other: Callable[[int, int, object], None]) -> None:
        """A row of values from column 0, none with a format of its own: text as text (control characters
        shown as U+FFFD), finite numbers as numbers, blanks as nothing; `other(r, c, value)` writes the
        rest (dates, booleans, infinities). What writing each cell alone does, in a fraction of the time
        (the echo of a 10,000-person roster)."""
        if not 0 <= r < ROWS:
            return
        row = self.rows.get(r)
        made = row is None
        if row is None:
            row = self.rows[r] = {}
        book = self.book
        strings, count = book.strings, 0  # Workbook._string, inline
        for c, value in enumerate(values[:COLUMNS]):
            kind = type(value)
            if kind is str:
                if value:
                    if not value.isprintable():  # printable text holds no control character
                        value = strip_control(value)
                    if len(value) > MAX_STRING // 2:
                        value = _cut(value)
                    index = strings.get(value)
                    if index is None:
                        index = strings[value] = len(strings)
                    count += 1
                    row[c] = (0, f' t="s"><v>{index}</v></c>')
            elif kind is float or kind is int:
                if math.isfinite(value):
                    row[c] = (0, f"><v>{value:.16G}</v></c>")
                else:
                    other(r, c, value)
            elif value is not None:
                other(r, c, value)
        book.string_count += count
        if made and not row:  # nothing written (a blank row, cells beyond the grid): no row, as cell by cell
            del self.rows[r]

    def write_number(self, r: int, c: int, value: int | float | Decimal, fmt: Format | None = None) -> None:
        if not math.isfinite(float(value)):  # NaN, infinities, a Decimal beyond a double's range
            raise ValueError(f"{value} is no Excel number")
        self._put(r, c, fmt, f"><v>{value:.16G}</v></c>")

    def write_boolean(self, r: int, c: int, value: bool, fmt: Format | None = None) -> None:
        self._put(r, c, fmt, f' t="b"><v>{int(bool(value))}</v></c>')

    def write_blank(self, r: int, c: int, _value: object = None, fmt: Format | None = None) -> None:
        if fmt is not None:  # a blank without a format is no cell at all (as in xlsxwriter)
            self._put(r, c, fmt, "/>")

    def write_datetime(self, r: int, c: int, value: datetime | date, fmt: Format | None = None) -> None:
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                raise TypeError("Excel has no time zones: give a naive date-time")
            moment = value
        else:
            moment = datetime(value.year, value.month, value.day)
        delta = moment - _EPOCH
        serial = delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
        if serial > 59:  # Excel counts 1900-02-29, a day that never was (xlsxwriter's rule)
            serial += 1
        self.write_number(r, c, serial, fmt or self.book._default_date())

    def write_comment(self, r: int, c: int, text: str, options: dict | None = None) -> None:
        options = options or {}
        if not (0 <= r < ROWS and 0 <= c < COLUMNS):
            return
        self.comments[(r, c)] = (_cut(text), options.get("x_scale", 1), options.get("y_scale", 1))

    # Layout.

    def set_column(self, first: int, last: int, width: float, fmt: Format | None = None) -> None:
        for c in range(max(first, 0), min(last, COLUMNS - 1) + 1):
            self.columns[c] = (width, fmt)

    def set_row(self, r: int, height: float) -> None:
        if 0 <= r < ROWS:  # Excel's heights are whole pixels (a pixel is 0.75 pt), at most 409 pt
            self.heights[r] = int(min(height, MAX_ROW_HEIGHT) * 4 / 3) * 0.75

    def data_validation(self, r1: int, c1: int, r2: int, c2: int, options: dict) -> None:
        if options.get("validate") != "list":
            raise ValueError("only list dropdowns are written here")
        if not (0 <= r1 < ROWS and 0 <= c1 < COLUMNS) or c2 >= COLUMNS:
            return  # beyond the grid: no dropdown (xlsxwriter drops it too)
        r2 = min(r2, ROWS - 1)  # a dropdown reaching past the last row stops at it
        source = options["source"]
        if isinstance(source, str):
            formula = _escape(source[1:] if source.startswith("=") else source)
        else:
            listed = ",".join(str(v) for v in source)
            if len(listed) > 255:
                return  # Excel's limit for a typed list (it repairs the file otherwise); xlsxwriter skips it
            formula = _escape(f'"{listed}"')
        style = options.get("error_type", "stop")
        error = f' errorStyle="{style}"' if style != "stop" else ""
        self.validations.append(
            f'<dataValidation type="list"{error} allowBlank="1" showInputMessage="1" showErrorMessage="1" '
            f'sqref="{_range(r1, c1, r2, c2)}"><formula1>{formula}</formula1></dataValidation>'
        )

    def freeze_panes(self, r: int, c: int) -> None:
        self.frozen = (r, c)

    def autofilter(self, r1: int, c1: int, r2: int, c2: int) -> None:
        self.filter = (r1, c1, r2, c2)

    def hide(self) -> None:
        self.hidden = True

    # Print setup (watcher's print_setup calls these).

    def set_paper(self, paper: int) -> None:
        self.paper = paper

    def set_landscape(self) -> None:
        self.landscape = True

    def set_portrait(self) -> None:
        self.landscape = False

    def set_margins(self, left: float = 0.7, right: float = 0.7, top: float = 0.75, bottom: float = 0.75) -> None:
        self.margins = (left, right, top, bottom)

    def fit_to_pages(self, width: int, height: int) -> None:
        self.fit = (width, height)

    def repeat_rows(self, first: int, last: int | None = None) -> None:
        self.repeat = (first, first if last is None else last)

    def set_footer(self, footer: str) -> None:
        self.footer = footer

    # The sheet's XML.

    def _xml(self, selected: bool, vml_rel: str | None) -> str:
        out = [_DECL, f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">']
        if self.fit:
            out.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
        out.append(f'<dimension ref="{self._dimension()}"/>')
        out.append(self._view(selected))
        out.append('<sheetFormatPr defaultRowHeight="15"/>')
        if self.columns:
            out.append("<cols>")
            for first, last, width, fmt in self._column_runs():
                style = f' style="{fmt.index}"' if fmt is not None and fmt.index else ""
                out.append(
                    f'<col min="{first + 1}" max="{last + 1}" width="{_col_width(width)}"{style} customWidth="1"/>'
                )
            out.append("</cols>")
        out.append("<sheetData>")
        letters = [column_letter(c) for c in range(self._width())]
        column_styles = {c: fmt.index for c, (_w, fmt) in self.columns.items() if fmt is not None}
        for r in sorted(self.rows.keys() | self.heights.keys()):
            height = self.heights.get(r)
            ht = f' ht="{height:g}" customHeight="1"' if height is not None else ""
            cells = self.rows.get(r)
            if cells:
                out.append(f'<row r="{r + 1}"{ht}>')
                n = r + 1
                for c in sorted(cells):
                    xf, xml = cells[c]
                    xf = xf or column_styles.get(c, 0)
                    out.append(f'<c r="{letters[c]}{n}" s="{xf}"{xml}' if xf else f'<c r="{letters[c]}{n}"{xml}')
                out.append("</row>")
            else:
                out.append(f'<row r="{r + 1}"{ht}/>')
        out.append("</sheetData>")
        if self.filter:
            out.append(f'<autoFilter ref="{_range(*self.filter)}"/>')
        if self.validations:
            out.append(
                f'<dataValidations count="{len(self.validations)}">{"".join(self.validations)}</dataValidations>'
            )
        left, right, top, bottom = self.margins or (0.7, 0.7, 0.75, 0.75)
        out.append(
            f'<pageMargins left="{left}" right="{right}" top="{top}" bottom="{bottom}" header="0.3" footer="0.3"/>'
        )
        if self.paper or self.landscape is not None or self.fit:
            setup = f' paperSize="{self.paper}"' if self.paper else ""
            if self.fit:
                if self.fit[0] != 1:
                    setup += f' fitToWidth="{self.fit[0]}"'
                if self.fit[1] != 1:
                    setup += f' fitToHeight="{self.fit[1]}"'
            if self.landscape is not None:
                setup += f' orientation="{"landscape" if self.landscape else "portrait"}"'
            out.append(f"<pageSetup{setup}/>")
        if self.footer:
            out.append(f"<headerFooter><oddFooter>{_escape(self.footer)}</oddFooter></headerFooter>")
        if vml_rel:
            out.append(f'<legacyDrawing r:id="{vml_rel}"/>')
        out.append("</worksheet>")
        return "".join(out)

    def _column_runs(self) -> list[tuple[int, int, float, Format | None]]:
        """Neighbouring columns of the same width and format as one <col> (Excel's own way)."""
        runs: list[tuple[int, int, float, Format | None]] = []
        for c in sorted(self.columns):
            width, fmt = self.columns[c]
            if runs and runs[-1][1] == c - 1 and runs[-1][2] == width and runs[-1][3] is fmt:
                runs[-1] = (runs[-1][0], c, width, fmt)
            else:
                runs.append((c, c, width, fmt))
        return runs

    def _width(self) -> int:
        return max((max(cells) + 1 for cells in self.rows.values() if cells), default=0)

    def _dimension(self) -> str:
        if not self.rows:
            return "A1"
        rows = [r for r, cells in self.rows.items() if cells]
        cols = [c for cells in self.rows.values() for c in cells]
        first, last = _cell(min(rows), min(cols)), _cell(max(rows), max(cols))
        return first if first == last else f"{first}:{last}"

    def _view(self, selected: bool) -> str:
        tab = ' tabSelected="1"' if selected else ""
        if not self.frozen or self.frozen == (0, 0):
            return f'<sheetViews><sheetView{tab} workbookViewId="0"/></sheetViews>'
        r, c = self.frozen
        pane = "bottomRight" if r and c else "bottomLeft" if r else "topRight"
        split = (f' xSplit="{c}"' if c else "") + (f' ySplit="{r}"' if r else "")
        return (
            f'<sheetViews><sheetView{tab} workbookViewId="0"><pane{split} topLeftCell="{_cell(r, c)}" '
            f'activePane="{pane}" state="frozen"/><selection pane="{pane}"/></sheetView></sheetViews>'
        )

    # Comments: Excel's comments part and the VML drawing that places each note's box.

    def _col_px(self, c: int) -> int:
        found = self.columns.get(c)
        return 64 if found is None else _col_pixels(found[0])

    def _row_px(self, r: int) -> int:
        height = self.heights.get(r)
        return 20 if height is None else int(4 / 3 * height)

    def _comments_xml(self) -> str:
        out = [_DECL, f'<comments xmlns="{_MAIN}"><authors><author></author></authors><commentList>']
        for (r, c), (text, _x, _y) in sorted(self.comments.items()):
            out.append(
                f'<comment ref="{_cell(r, c)}" authorId="0"><text><r><rPr><sz val="8"/><color indexed="81"/>'
                f'<rFont val="Tahoma"/><family val="2"/></rPr>{_t(text)}</r></text></comment>'
            )
        out.append("</commentList></comments>")
        return "".join(out)

    def _vml_xml(self, data_id: int, shape_id: int) -> str:
        blocks = ",".join(str(data_id + i) for i in range(len(self.comments) // 1024 + 1))
        out = [
            '<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
            'xmlns:x="urn:schemas-microsoft-com:office:excel"><o:shapelayout v:ext="edit">'
            f'<o:idmap v:ext="edit" data="{blocks}"/></o:shapelayout>'
            '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
            '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
        ]
        for z, ((r, c), (_, x_scale, y_scale)) in enumerate(sorted(self.comments.items()), start=1):
            width, height = int(0.5 + 128 * x_scale), int(0.5 + 74 * y_scale)
            anchor, x_abs, y_abs = self._place(r, c, width, height)
            out.append(
                f'<v:shape id="_x0000_s{shape_id + z}" type="#_x0000_t202" style="position:absolute;'
                f"margin-left:{x_abs * 0.75:.15g}pt;margin-top:{y_abs * 0.75:.15g}pt;width:{width * 0.75:.15g}pt;"
                f'height:{height * 0.75:.15g}pt;z-index:{z};visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto">'
                '<v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/>'
                '<v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto">'
                '<div style="text-align:left"></div></v:textbox><x:ClientData ObjectType="Note"><x:MoveWithCells/>'
                f"<x:SizeWithCells/><x:Anchor>{anchor}</x:Anchor><x:AutoFill>False</x:AutoFill>"
                f"<x:Row>{r}</x:Row><x:Column>{c}</x:Column></x:ClientData></v:shape>"
            )
        out.append("</xml>")
        return "".join(out)

    def _rows_above(self, row: int) -> int:
        """Pixels above `row`: every row 20 but those given a height (few), summed once per sheet, so a
        20,000-row roster with a note on every row costs no more than one with one note."""
        if self._offsets is None:
            tall = sorted(self.heights)
            extra, total = [0], 0
            for r in tall:
                total += self._row_px(r) - 20
                extra.append(total)
            self._offsets = (tall, extra)
        tall, extra = self._offsets
        return 20 * row + extra[bisect.bisect_left(tall, row)]

    def _place(self, r: int, c: int, width: int, height: int) -> tuple[str, int, int]:
        """Where Excel draws a note's box: one column right of its cell, one row up (xlsxwriter's rule)."""
        col, x1 = c + 1, 15
        row, y1 = (0, 2) if r == 0 else (r - 1, 10)
        x_abs = sum(self._col_px(i) for i in range(col)) + x1  # columns are few
        y_abs = self._rows_above(row) + y1
        col_end, row_end = col, row
        width, height = width + x1, height + y1
        while width >= self._col_px(col_end):
            width -= self._col_px(col_end)
            col_end += 1
        while height >= self._row_px(row_end):
            height -= self._row_px(row_end)
            row_end += 1
        return f"{col}, {x1}, {row}, {y1}, {col_end}, {width}, {row_end}, {height}", x_abs, y_abs


def _cell(r: int, c: int) -> str:
    return f"{column_letter(c)}{r + 1}"


def _range(r1: int, c1: int, r2: int, c2: int) -> str:
    first, last = _cell(r1, c1), _cell(r2, c2)
    return first if first == last else f"{first}:{last}"


def _quoted(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


class Workbook:
    """xlsxwriter's Workbook, the part result workbooks use; written to `path` whole at close()."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.sheets: list[Worksheet] = []
        self.formats: list[Format] = []
        self.strings: dict[str, int] = {}
        self.string_count = 0
        self.properties: list[tuple[str, str]] = []
        self._date_format: Format | None = None

    def add_worksheet(self, name: str) -> Worksheet:
        sheet = Worksheet(self, name, len(self.sheets))
        self.sheets.append(sheet)
        return sheet

    def add_format(self, props: dict | None = None) -> Format:
        fmt = Format(dict(props or {}), len(self.formats) + 1)
        self.formats.append(fmt)
        return fmt

    def _default_date(self) -> Format:
        if self._date_format is None:
            self._date_format = self.add_format({"num_format": "yyyy-mm-dd"})
        return self._date_format

    def set_custom_property(self, name: str, value: str) -> None:
        self.properties = [(n, v) for n, v in self.properties if n != name] + [(name, str(value))]

    def _string(self, value: str) -> int:
        self.string_count += 1
        index = self.strings.get(value)
        if index is None:
            index = self.strings[value] = len(self.strings)
        return index

    def close(self) -> None:
        parts = self._parts()
        with open(self.path, "wb") as out, zipfile.ZipFile(out, "w") as z:
            for name, text in parts:
                data = text.encode("utf-8")
                # Deflate costs more to set up than it saves on a small part (most of a small result):
                # those are stored; a large one (a big roster's sheet) is deflated, quickly.
                if len(data) >= STORE_BELOW:
                    z.writestr(zipfile.ZipInfo(name, _ZIP_TIME), data, zipfile.ZIP_DEFLATED, 1)
                else:
                    z.writestr(zipfile.ZipInfo(name, _ZIP_TIME), data, zipfile.ZIP_STORED)

    def _parts(self) -> list[tuple[str, str]]:
        if not self.sheets:
            self.add_worksheet("Sheet1")
        visible = next((s for s in self.sheets if not s.hidden), self.sheets[0])
        parts: list[tuple[str, str]] = []
        overrides = [
            ("/docProps/app.xml", f"{_CT}.extended-properties+xml"),
            ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
            ("/xl/styles.xml", f"{_CT}.spreadsheetml.styles+xml"),
            ("/xl/workbook.xml", f"{_CT}.spreadsheetml.sheet.main+xml"),
        ]
        data_id, shape_id, drawing = 1, 1024, 0
        for n, sheet in enumerate(self.sheets, start=1):
            vml_rel = None
            if sheet.comments:
                drawing += 1
                vml_rel = "rId1"
                parts.append((f"xl/drawings/vmlDrawing{drawing}.vml", sheet._vml_xml(data_id, shape_id)))
                parts.append((f"xl/comments{drawing}.xml", sheet._comments_xml()))
                parts.append(
                    (
                        f"xl/worksheets/_rels/sheet{n}.xml.rels",
                        _rels(
                            [
                                (f"{_REL}/vmlDrawing", f"../drawings/vmlDrawing{drawing}.vml"),
                                (f"{_REL}/comments", f"../comments{drawing}.xml"),
                            ]
                        ),
                    )
                )
                overrides.append((f"/xl/comments{drawing}.xml", f"{_CT}.spreadsheetml.comments+xml"))
                blocks = len(sheet.comments) // 1024 + 1
                data_id, shape_id = data_id + blocks, shape_id + 1024 * blocks
            parts.append((f"xl/worksheets/sheet{n}.xml", sheet._xml(sheet is visible, vml_rel)))
            overrides.append((f"/xl/worksheets/sheet{n}.xml", f"{_CT}.spreadsheetml.worksheet+xml"))
        overrides.append(("/xl/sharedStrings.xml", f"{_CT}.spreadsheetml.sharedStrings+xml"))
        if self.properties:
            overrides.append(("/docProps/custom.xml", f"{_CT}.custom-properties+xml"))
        parts.append(("xl/sharedStrings.xml", self._sst()))
        parts.append(("xl/styles.xml", _styles(self.formats)))
        parts.append(("xl/workbook.xml", self._workbook_xml(visible)))
        sheet_rels = [(f"{_REL}/worksheet", f"worksheets/sheet{n}.xml") for n in range(1, len(self.sheets) + 1)]
        parts.append(
            (
                "xl/_rels/workbook.xml.rels",
                _rels(
                    sheet_rels
                    + [
                        (f"{_REL}/styles", "styles.xml"),
                        (f"{_REL}/sharedStrings", "sharedStrings.xml"),
                    ]
                ),
            )
        )
        root = [
            (f"{_REL}/officeDocument", "xl/workbook.xml"),
            (f"{_PKG_REL}/metadata/core-properties", "docProps/core.xml"),
            (f"{_REL}/extended-properties", "docProps/app.xml"),
        ]
        if self.properties:
            root.append((f"{_REL}/custom-properties", "docProps/custom.xml"))
            parts.append(("docProps/custom.xml", self._custom_xml()))
        parts.append(("_rels/.rels", _rels(root)))
        parts.append(("docProps/app.xml", self._app_xml()))
        parts.append(("docProps/core.xml", _core_xml()))
        defaults = (
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
        )
        if drawing:
            defaults += f'<Default Extension="vml" ContentType="{_CT}.vmlDrawing"/>'
        types = "".join(f'<Override PartName="{name}" ContentType="{kind}"/>' for name, kind in overrides)
        content_types = (
            f'{_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f"{defaults}{types}</Types>"
        )
        return [("[Content_Types].xml", content_types), *parts]

    def _names(self) -> list[tuple[str, int, str, bool]]:
        """The workbook's defined names: each sheet's print titles and filter range."""
        names = []
        for sheet in self.sheets:
            if sheet.repeat is not None:
                first, last = sheet.repeat
                names.append(
                    ("_xlnm.Print_Titles", sheet.index, f"{_quoted(sheet.name)}!${first + 1}:${last + 1}", False)
                )
            if sheet.filter is not None:
                r1, c1, r2, c2 = sheet.filter
                ref = f"${column_letter(c1)}${r1 + 1}:${column_letter(c2)}${r2 + 1}"
                names.append(("_xlnm._FilterDatabase", sheet.index, f"{_quoted(sheet.name)}!{ref}", True))
        return sorted(names, key=lambda n: (n[0].lower(), n[1]))

    def _workbook_xml(self, visible: Worksheet) -> str:
        hidden_state, hidden_name = ' state="hidden"', ' hidden="1"'
        sheets = "".join(
            f'<sheet name="{_escape(s.name)}" sheetId="{s.index + 1}"{hidden_state if s.hidden else ""} '
            f'r:id="rId{s.index + 1}"/>'
            for s in self.sheets
        )
        names = "".join(
            f'<definedName name="{name}" localSheetId="{sheet}"{hidden_name if hidden else ""}>{_escape(ref)}</definedName>'
            for name, sheet, ref, hidden in self._names()
        )
        active = f' activeTab="{visible.index}"' if visible.index else ""
        return (
            f'{_DECL}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><fileVersion appName="xl" lastEdited="4" '
            'lowestEdited="4" rupBuild="4505"/><workbookPr/><bookViews>'
            f'<workbookView xWindow="240" yWindow="15" windowWidth="16095" windowHeight="9660"{active}/></bookViews>'
            f"<sheets>{sheets}</sheets>"
            + (f"<definedNames>{names}</definedNames>" if names else "")
            + '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
        )

    def _sst(self) -> str:
        items = "".join(f"<si>{_t(s)}</si>" for s in self.strings)
        return (
            f'{_DECL}<sst xmlns="{_MAIN}" count="{self.string_count}" uniqueCount="{len(self.strings)}">{items}</sst>'
        )

    def _custom_xml(self) -> str:
        props = "".join(
            f'<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="{pid}" name="{_escape(name)}">'
            f"<vt:lpwstr>{_escape(value)}</vt:lpwstr></property>"
            for pid, (name, value) in enumerate(self.properties, start=2)
        )
        return (
            f'{_DECL}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
            f'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">{props}</Properties>'
        )

    def _app_xml(self) -> str:
        titles = [s.name for s in self.sheets] + [f"{s.name}!Print_Titles" for s in self.sheets if s.repeat is not None]
        named = len(titles) - len(self.sheets)
        pairs = f"<vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant><vt:variant><vt:i4>{len(self.sheets)}</vt:i4></vt:variant>"
        if named:
            pairs += f"<vt:variant><vt:lpstr>Named Ranges</vt:lpstr></vt:variant><vt:variant><vt:i4>{named}</vt:i4></vt:variant>"
        return (
            f'{_DECL}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
            'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
            "<Application>Microsoft Excel</Application><DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop>"
            f'<HeadingPairs><vt:vector size="{4 if named else 2}" baseType="variant">{pairs}</vt:vector></HeadingPairs>'
            f'<TitlesOfParts><vt:vector size="{len(titles)}" baseType="lpstr">'
            + "".join(f"<vt:lpstr>{_escape(t)}</vt:lpstr>" for t in titles)
            + "</vt:vector></TitlesOfParts><Company></Company><LinksUpToDate>false</LinksUpToDate>"
            "<SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged><AppVersion>12.0000</AppVersion>"
            "</Properties>"
        )


def _rels(targets: list[tuple[str, str]]) -> str:
    items = "".join(
        f'<Relationship Id="rId{i}" Type="{kind}" Target="{target}"/>'
        for i, (kind, target) in enumerate(targets, start=1)
    )
    return f'{_DECL}<Relationships xmlns="{_PKG_REL}">{items}</Relationships>'


def _core_xml() -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f'{_DECL}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<dc:creator></dc:creator><cp:lastModifiedBy></cp:lastModifiedBy>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified></cp:coreProperties>'
    )


# Styles: the same formats give the same part, so it is made once a process for each set of formats.

_STYLES: dict[tuple, str] = {}
_KNOWN = {
    "bold",
    "italic",
    "font_size",
    "font_color",
    "bg_color",
    "border",
    "top",
    "num_format",
    "text_wrap",
    "valign",
    "align",
}


def _color(value: str) -> str:
    return "FF" + value.lstrip("#").upper()


def _styles(formats: list[Format]) -> str:
    key = tuple(tuple(sorted(f.props.items())) for f in formats)
    found = _STYLES.get(key)
    if found is None:
        found = _STYLES[key] = _make_styles(formats)
    return found


def _make_styles(formats: list[Format]) -> str:
    fonts = ['<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>']
    fills = ['<fill><patternFill patternType="none"/></fill>', '<fill><patternFill patternType="gray125"/></fill>']
    borders = ["<border><left/><right/><top/><bottom/><diagonal/></border>"]
    num_formats: list[str] = []
    xfs = ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>']

    def index(items: list[str], item: str) -> int:
        if item not in items:
            items.append(item)
        return items.index(item)

    for fmt in formats:
        p = fmt.props
        unknown = set(p) - _KNOWN
        if unknown:
            raise ValueError(f"format properties not written here: {sorted(unknown)}")
        color = f'<color rgb="{_color(p["font_color"])}"/>' if p.get("font_color") else ""
        font = (
            "<font>"
            + ("<b/>" if p.get("bold") else "")
            + ("<i/>" if p.get("italic") else "")
            + f'<sz val="{p.get("font_size", 11)}"/>{color}<name val="Calibri"/><family val="2"/></font>'
        )
        font_id = index(fonts, font)
        fill_id = 0
        if p.get("bg_color"):
            fill_id = index(
                fills,
                f'<fill><patternFill patternType="solid"><fgColor rgb="{_color(p["bg_color"])}"/>'
                '<bgColor indexed="64"/></patternFill></fill>',
            )
        edge = '{0} style="thin"><color auto="1"/></{0}>'
        sides = [side for side in ("left", "right", "top", "bottom") if p.get("border") or p.get(side)]
        border_id = 0
        if sides:
            border = (
                "<border>"
                + "".join(
                    "<" + edge.format(side) if side in sides else f"<{side}/>"
                    for side in ("left", "right", "top", "bottom")
                )
                + "<diagonal/></border>"
            )
            border_id = index(borders, border)
        num_id = 0
        if p.get("num_format"):
            num_id = 164 + index(num_formats, p["num_format"])
        align = ""
        if p.get("align"):
            align += f' horizontal="{p["align"]}"'
        if p.get("valign"):
            align += f' vertical="{"center" if p["valign"] == "vcenter" else p["valign"]}"'
        if p.get("text_wrap"):
            align += ' wrapText="1"'
        applies = (
            (' applyNumberFormat="1"' if num_id else "")
            + (' applyFont="1"' if font_id else "")
            + (' applyFill="1"' if fill_id else "")
            + (' applyBorder="1"' if border_id else "")
            + (' applyAlignment="1"' if align else "")
        )
        attrs = f'numFmtId="{num_id}" fontId="{font_id}" fillId="{fill_id}" borderId="{border_id}" xfId="0"{applies}'
        xfs.append(f"<xf {attrs}><alignment{align}/></xf>" if align else f"<xf {attrs}/>")

    numfmts = "".join(
        f'<numFmt numFmtId="{164 + i}" formatCode="{_escape(code)}"/>' for i, code in enumerate(num_formats)
    )
    return (
        f'{_DECL}<styleSheet xmlns="{_MAIN}">'
        + (f'<numFmts count="{len(num_formats)}">{numfmts}</numFmts>' if num_formats else "")
        + f'<fonts count="{len(fonts)}">{"".join(fonts)}</fonts>'
        f'<fills count="{len(fills)}">{"".join(fills)}</fills>'
        f'<borders count="{len(borders)}">{"".join(borders)}</borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles><dxfs count="0"/>'
        '<tableStyles count="0" defaultTableStyle="TableStyleMedium9" defaultPivotStyle="PivotStyleLight16"/>'
        "</styleSheet>"
    )
