"""watcher's own writer for result workbooks and detail tables (io/xlsx_lean): what it writes is what
Excel-reading tools see, cell by cell and setting by setting, and a clerk's text is never taken for markup."""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from xml.etree import ElementTree

import openpyxl
import python_calamine
from helpers import issue_fields, people, result, run_watcher, write_request

from watcher.io.xlsx import MONEY, new_workbook, print_setup, write_value

ODD_TEXTS = [
    "<r>abc</r>",  # xlsxwriter writes a string shaped like this into the file as its own rich-text markup
    "<r><t>A</t></r>",
    "a & b <c> \"d\" 'e'",
    "_x0041_ stays as typed",
    "  leading and trailing  ",
    "line one\nline two",
    "中文 ①㈠ 𠀀",
]


def _lean_book(path):
    wb = new_workbook(path, "result", lean=True, sha256="ab" * 32, file="团 A.xlsx")
    bold = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    money = wb.add_format({"num_format": MONEY})
    red = wb.add_format({"bg_color": "#FF9999", "font_color": "#9C0006", "italic": True, "font_size": 8})
    wrap = wb.add_format({"text_wrap": True, "valign": "top", "align": "left", "top": 1})
    text = wb.add_format({"num_format": "@"})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    time_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    ws = wb.add_worksheet("结果汇总")
    ws.write_string(0, 0, "表头", bold)
    ws.write_number(1, 0, Decimal("1234.50"), money)
    ws.write_number(2, 0, 7)
    ws.write_number(3, 0, 0.1)
    ws.write_boolean(4, 0, True)
    ws.write_string(5, 0, "红", red)
    ws.write_string(6, 0, "折行", wrap)
    ws.write_blank(7, 0, None, red)
    ws.write_blank(8, 0, None)  # no format: no cell
    ws.set_row(6, 45)
    ws.set_column(0, 0, 20)
    ws.set_column(1, 2, 12)
    for r, value in enumerate(ODD_TEXTS):
        ws.write_string(r, 3, value)
    print_setup(ws, landscape=True)
    echo = wb.add_worksheet("名单")
    for c, head in enumerate(["序号", "证件号码", "出生日期", "到达"]):
        echo.write_string(0, c, head)
    write_value(echo, 1, 0, 1)
    write_value(echo, 1, 1, "11010519491231002X")  # no format of its own: takes the column's text format
    write_value(echo, 1, 2, date(1949, 12, 31), None, date_fmt, time_fmt)
    write_value(echo, 1, 3, datetime(2026, 12, 21, 8, 30), None, date_fmt, time_fmt)
    echo.set_column(1, 1, 22, text)
    echo.set_column(1, 1, 24, text)  # set again: the last call wins, as in xlsxwriter
    echo.write_comment(1, 1, "身份证号码应为 18 位\n请改正", {"x_scale": 2.5, "y_scale": 2})
    echo.write_comment(0, 0, "第一行的批注")
    echo.data_validation(1, 2, 200, 2, {"validate": "list", "source": ["男", "女"], "error_type": "warning"})
    echo.data_validation(1, 0, 1, 0, {"validate": "list", "source": "='选项'!$A$2:$A$8", "error_type": "warning"})
    echo.freeze_panes(1, 0)
    echo.autofilter(0, 0, 1, 3)
    print_setup(echo, header_row=0)
    hidden = wb.add_worksheet("选项")
    hidden.write_string(0, 0, "证件类型")
    hidden.hide()
    wb.close()


def test_what_the_lean_writer_writes_is_what_openpyxl_and_calamine_read(tmp_path):
    path = tmp_path / "lean.xlsx"
    _lean_book(path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["结果汇总", "名单", "选项"]
    ws = wb["结果汇总"]
    assert [ws.cell(r, 1).value for r in range(1, 9)] == ["表头", 1234.5, 7, 0.1, True, "红", "折行", None]
    assert ws["A1"].font.b and ws["A1"].fill.fgColor.rgb == "FFDDEBF7" and ws["A1"].border.left.style == "thin"
    assert ws["A2"].number_format == MONEY
    assert ws["A6"].fill.fgColor.rgb == "FFFF9999" and ws["A6"].font.color.rgb == "FF9C0006"
    assert ws["A6"].font.i and ws["A6"].font.sz == 8
    assert ws["A7"].alignment.wrap_text and ws["A7"].alignment.vertical == "top"
    assert ws["A7"].alignment.horizontal == "left" and ws["A7"].border.top.style == "thin"
    assert ws["A7"].border.left.style is None
    assert ws["A8"].fill.fgColor.rgb == "FFFF9999"  # a formatted blank is a cell
    assert ws.row_dimensions[7].height == 45
    assert round(ws.column_dimensions["A"].width, 2) == 20.71
    assert [ws.cell(r, 4).value for r in range(1, len(ODD_TEXTS) + 1)] == ODD_TEXTS
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0
    assert ws.oddFooter.center.text == "第 &P 页，共 &N 页"
    assert wb.active.title == "结果汇总"

    echo = wb["名单"]
    assert [c.value for c in echo[2]] == [
        1,
        "11010519491231002X",
        datetime(1949, 12, 31),
        datetime(2026, 12, 21, 8, 30),
    ]
    assert echo["B2"].number_format == "@" and echo["B1"].number_format == "@"
    assert round(echo.column_dimensions["B"].width, 2) == 24.71
    assert echo["C2"].number_format == "yyyy-mm-dd" and echo["D2"].number_format == "yyyy-mm-dd hh:mm"
    assert echo["B2"].comment.text == "身份证号码应为 18 位\n请改正"
    assert echo["A1"].comment.text == "第一行的批注"
    rules = {str(v.sqref): (v.type, v.formula1, v.errorStyle) for v in echo.data_validations.dataValidation}
    assert rules == {"C2:C201": ("list", '"男,女"', "warning"), "A2": ("list", "'选项'!$A$2:$A$8", "warning")}
    assert echo.freeze_panes == "A2"
    assert echo.auto_filter.ref == "A1:D2"
    assert echo.print_title_rows == "$1:$1"
    assert echo.page_setup.orientation == "portrait"
    assert wb["选项"].sheet_state == "hidden"
    props = {p.name: p.value for p in wb.custom_doc_props.props}
    assert props == {"watcher": "result", "watcher_sha256": "ab" * 32, "watcher_file": "团 A.xlsx"}

    # calamine (watcher's own reader) sees the same values
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    rows = book.get_sheet_by_name("结果汇总").to_python()
    assert [row[3] for row in rows[: len(ODD_TEXTS)]] == ODD_TEXTS
    assert rows[1][0] == 1234.5


def test_every_part_is_well_formed_xml_and_named_in_the_content_types(tmp_path):
    path = tmp_path / "lean.xlsx"
    _lean_book(path)
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        for name in names:
            ElementTree.fromstring(z.read(name))  # raises on anything not well formed
        types = z.read("[Content_Types].xml").decode()
        for name in names:
            if name.endswith(".xml") and not name.startswith("[") and "_rels" not in name:
                assert f'PartName="/{name}"' in types, name
        assert "xl/comments1.xml" in names and "xl/drawings/vmlDrawing1.vml" in names
        sheet = z.read("xl/worksheets/sheet2.xml").decode()
    # Excel's order of a worksheet's parts (it refuses a file where they are out of order)
    order = [
        "<sheetPr",
        "<dimension",
        "<sheetViews",
        "<sheetFormatPr",
        "<cols",
        "<sheetData",
        "<autoFilter",
        "<dataValidations",
        "<pageMargins",
        "<pageSetup",
        "<headerFooter",
        "<legacyDrawing",
    ]
    assert [sheet.index(tag) for tag in order] == sorted(sheet.index(tag) for tag in order)


def test_a_roster_cell_shaped_like_markup_comes_back_in_the_result_as_typed(root):
    """xlsxwriter took a cell reading <r>…</r> for its own rich text: the echo showed "" or "A" instead."""
    roster = people(2)
    roster[0][7] = "<r>abc</r>"
    roster[1][7] = "<r><t>A</t></r>"
    write_request(root / "workbooks" / "GZ001" / "团.xlsx", issue_fields(), roster)
    run_watcher(root, "process")
    data, wb = result(root, "GZ001", "团_结果")
    assert data["status"] == "success"
    echo = wb["被保险人名单"]
    notes = [row[7] for row in echo.iter_rows(min_row=2, values_only=True)]
    assert notes == ["<r>abc</r>", "<r><t>A</t></r>"]


def test_dates_and_the_longest_texts_are_what_excel_keeps(tmp_path):
    """Excel's 1900 leap-year day, and its 32,767-character limit counted in UTF-16 units (an emoji is two)."""
    path = tmp_path / "edges.xlsx"
    wb = new_workbook(path, "result", lean=True)
    ws = wb.add_worksheet("表")
    days = [date(1900, 1, 1), date(1900, 2, 28), date(1900, 3, 1), date(1949, 12, 31), datetime(2026, 12, 21, 8, 30)]
    for r, day in enumerate(days):
        ws.write_datetime(r, 0, day)
    ws.write_string(0, 1, "a" * 40_000)
    ws.write_string(1, 1, "😀" * 20_000)
    ws.write_comment(0, 1, "长" * 40_000)
    wb.close()
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    serials = re.findall(r'<c r="A\d+"[^>]*><v>([^<]*)</v>', sheet)
    assert serials[:4] == ["1", "59", "61", "18263"]  # 1900-03-01 is 61: Excel counts 1900-02-29
    read = openpyxl.load_workbook(path)["表"]
    assert [read.cell(r, 1).value for r in range(1, 5)] == [datetime(d.year, d.month, d.day) for d in days[:4]]
    assert read["B1"].value == "a" * 32_767
    assert read["B2"].value == "😀" * 16_383  # 32,766 units: a pair is never split
    assert len(read["B1"].comment.text) == 32_767


def test_nothing_is_written_beyond_excels_grid_and_names_are_not_escaped_twice(tmp_path):
    """A roster with a stray cell in column XFD puts the result's added columns past the edge: those are
    dropped (as xlsxwriter drops them), never written where Excel has to repair the file. A sheet name
    reading _x0041_ is written as it is (names take no _xHHHH_ escapes: a dropped-back result's name grew)."""
    path = tmp_path / "edge.xlsx"
    wb = new_workbook(path, "result", lean=True)
    ws = wb.add_worksheet("附表 _x0041_")
    ws.write_string(0, 16_383, "XFD")
    ws.write_string(0, 16_384, "beyond")
    ws.write_number(1_048_576, 0, 1)
    ws.write_comment(0, 16_384, "beyond")
    ws.set_column(16_383, 16_385, 12)
    ws.data_validation(1, 2, 1_048_776, 2, {"validate": "list", "source": ["男", "女"]})
    ws.data_validation(1, 16_384, 5, 16_384, {"validate": "list", "source": ["男", "女"]})
    ws.set_row(2, 600)
    for r in range(3):
        ws.write_comment(1_000_000 + r, 0, "far down")
        ws.set_row(1_000_000 + r, 60)
    wb.close()
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        book = z.read("xl/workbook.xml").decode()
        vml = z.read("xl/drawings/vmlDrawing1.vml").decode()
    assert "XFE" not in sheet and 'min="16385"' not in sheet and 'r="1048577"' not in sheet
    assert 'sqref="C2:C1048576"' in sheet and sheet.count("<dataValidation ") == 1
    assert 'ht="408.75"' in sheet  # Excel's tallest row
    assert 'name="附表 _x0041_"' in book
    assert "e+" not in vml.lower()  # positions far down the sheet are plain CSS lengths
    read = openpyxl.load_workbook(path)
    assert read.sheetnames == ["附表 _x0041_"] and read.active["XFD1"].value == "XFD"
