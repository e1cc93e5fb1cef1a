"""One reader for every accepted file: the cells at the Excel rows and columns the user sees."""

from __future__ import annotations

from datetime import date, datetime

import openpyxl
import xlwt

from watcher.io.reader import read_book, read_csv
from watcher.kinds.common import roster_table
from watcher.settings import Settings
from watcher.walk.preflight import preflight


def test_leading_empty_rows_and_columns_keep_their_excel_positions(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "申请"
    ws["C4"] = "操作类型"
    ws["D4"] = "投保"
    ws["B7"] = datetime(2026, 12, 1, 8, 0)
    ws["C7"] = datetime(2026, 12, 1, 0, 0)
    ws["E7"] = 5
    path = tmp_path / "a.xlsx"
    wb.save(path)
    sheet = read_book(path, "xlsx").sheets["申请"]
    assert sheet.value(3, 2) == "操作类型" and sheet.value(3, 3) == "投保"  # C4, D4
    assert sheet.value(6, 1) == datetime(2026, 12, 1, 8, 0)
    assert sheet.value(6, 2) in (date(2026, 12, 1), datetime(2026, 12, 1))
    assert sheet.value(6, 4) == 5


def test_formulas_without_values_error_cells_and_hidden_sheets_are_marked(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名单"
    ws["A1"] = "姓名"
    ws["A2"] = "=B2"
    ws["B2"] = "#N/A"
    ws["B2"].data_type = "e"
    hidden = wb.create_sheet("隐藏")
    hidden.sheet_state = "hidden"
    path = tmp_path / "f.xlsx"
    wb.save(path)
    book = read_book(path, "xlsx")
    assert book.sheets["名单"].special == {(1, 0): "formula", (1, 1): "#N/A"}
    assert book.sheets["隐藏"].hidden and not book.sheets["名单"].hidden


def test_a_dropdown_is_no_formula_and_a_formula_beside_one_is_still_found(tmp_path, monkeypatch):
    """Every template has dropdowns (<formula1> in the sheet's XML): a sheet with only those is not parsed
    a second time for formula cells (a 10,000-row roster paid 0.2 s for it); one with a formula is."""
    from openpyxl.worksheet.datavalidation import DataValidation

    from watcher.io import reader

    def book(formula: bool):
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "名单"
        ws["A1"] = "证件类型"
        ws["A2"] = "身份证"
        rule = DataValidation(type="list", formula1='"身份证,护照"')
        ws.add_data_validation(rule)
        rule.add("A2:A100")
        if formula:
            ws["B2"] = "=A2"
        path = tmp_path / f"{formula}.xlsx"
        wb.save(path)
        return path

    parsed = []
    real = reader._special_cells
    monkeypatch.setattr(reader, "_special_cells", lambda data: parsed.append(1) or real(data))
    assert read_book(book(False), "xlsx").sheets["名单"].special == {} and parsed == []
    assert read_book(book(True), "xlsx").sheets["名单"].special == {(1, 1): "formula"} and parsed == [1]


def test_legacy_xls_files_are_read(tmp_path):
    wb = xlwt.Workbook()
    ws = wb.add_sheet("申请")
    ws.write(0, 0, "操作类型")
    ws.write(0, 1, "投保")
    roster = wb.add_sheet("被保险人名单")
    for c, h in enumerate(["序号", "姓名", "证件类型", "证件号码"]):
        roster.write(2, c, h)
    roster.write(3, 1, "张三")
    roster.write(3, 3, "11010519491231002X")
    roster.write(4, 0, 2)
    roster.write(4, 2, datetime(2026, 12, 1, 8, 0), xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm"))
    path = tmp_path / "old.xls"
    wb.save(str(path))
    assert preflight(path, "old.xls", Settings()).format == "xls"
    book = read_book(path, "xls")
    assert book.sheets["申请"].value(0, 1) == "投保"
    sheet = book.sheets["被保险人名单"]
    assert sheet.value(3, 3) == "11010519491231002X" and sheet.value(4, 2) == datetime(2026, 12, 1, 8, 0)
    table = roster_table(book, [])
    assert table.header_row == 2 and table.rows == [3, 4]


def test_csv_keeps_line_numbers_for_both_parts():
    text = "操作类型,投保\n旅行团号,T1\n\n序号,姓名,证件类型,证件号码\n1,张三,身份证,11010519491231002X\n"
    for data in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("gb18030")):
        book = read_csv(data)
        assert book.sheets["申请"].value(1, 1) == "T1"
        roster = book.sheets["被保险人名单"]
        assert roster.value(3, 1) == "姓名" and roster.value(4, 3) == "11010519491231002X"


def test_content_decides_the_type_not_the_extension(tmp_path):
    wb = openpyxl.Workbook()
    xlsx_named_xls = tmp_path / "named.xls"
    wb.save(xlsx_named_xls)
    assert preflight(xlsx_named_xls, "named.xls", Settings()).format == "xlsx"
    assert list(read_book(xlsx_named_xls, "xlsx").sheets) == ["Sheet"]
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"hello, not a workbook")
    assert preflight(junk, "junk.xlsx", Settings()).problem.code == "file.unreadable"
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    assert preflight(empty, "empty.xlsx", Settings()).problem.code == "file.empty"
    assert preflight(junk, "junk.pdf", Settings()).problem.code == "file.unsupported"
