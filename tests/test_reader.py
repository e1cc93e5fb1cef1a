"""One reader for every accepted file: the cells at the Excel rows and columns the user sees."""

from __future__ import annotations

from datetime import date, datetime

import openpyxl
import pytest
import xlwt

from watcher.io.reader import ReadError, read_book, read_csv
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


def _dropdown_book(path, edit) -> None:
    """A one-sheet workbook with a dropdown (as every template has), its sheet's XML then changed by
    `edit` as another program might write it."""
    import zipfile

    from openpyxl.worksheet.datavalidation import DataValidation

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名单"
    ws["A1"], ws["B1"], ws["C1"] = "姓名", "性别", "电话"
    ws["A2"], ws["C2"] = "张三", "138"
    rule = DataValidation(type="list", formula1='"男,女"')
    ws.add_data_validation(rule)
    rule.add("B2:B100")
    plain = path.with_suffix(".plain.xlsx")
    wb.save(plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            out.writestr(info, edit(data) if info.filename == "xl/worksheets/sheet1.xml" else data)


def test_error_cells_and_prefixed_formulas_are_found_however_they_are_written(tmp_path):
    """An error cell quoted or spaced another way, and a formula with a namespace prefix and no cached
    value, in a sheet that also has a dropdown: each is marked, not read as an empty cell."""

    def edit(data: bytes) -> bytes:
        return data.replace(
            b'<c r="C2"',
            b'<c r="B2" t = \'e\'><v>#N/A</v></c><c r="D2"><x:f xmlns:x="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main">A2</x:f></c><c r="C2"',
            1,
        )

    path = tmp_path / "e.xlsx"
    _dropdown_book(path, edit)
    special = read_book(path, "xlsx").sheets["名单"].special
    assert special == {(1, 1): "#N/A", (1, 3): "formula"}


def test_a_sheet_with_broken_xml_or_an_entity_declaration_is_refused_with_the_xml_message(tmp_path):
    import pytest

    from watcher.io.reader import ReadError

    cases = {
        "broken": lambda data: data.replace(b"</sheetData>", b'<row r="99"></sheetData>'),
        "tail": lambda data: data + b"<junk",
        "entity": lambda data: data.replace(b"<worksheet", b'<!DOCTYPE worksheet [<!ENTITY a "aaaa">]><worksheet', 1),
    }
    for name, edit in cases.items():
        path = tmp_path / f"{name}.xlsx"
        _dropdown_book(path, edit)
        with pytest.raises(ReadError) as caught:
            read_book(path, "xlsx")
        assert caught.value.code == "file.xml", (name, caught.value.code, caught.value.values)
        expected = "含有实体定义" if name == "entity" else "格式错误"
        assert caught.value.values["detail"] == expected, name


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


def _edited_part(path, part: str, edit) -> None:
    """A plain one-sheet workbook (a hidden row in it), one of its parts other than the sheet changed."""
    import zipfile

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名单"
    ws["A1"], ws["A2"], ws["A3"] = "姓名", "张三", "李四"
    ws.row_dimensions[3].hidden = True
    plain = path.with_suffix(".plain.xlsx")
    wb.save(plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            out.writestr(info, edit(data) if info.filename == part else data)


def test_a_declaration_in_a_prolog_only_a_lenient_reader_takes_is_refused_and_odd_encodings_are_not(tmp_path):
    """A DTD in workbook.xml behind a prolog expat refuses but calamine reads (a space before <?xml,
    standalone="maybe", a comment with --) was let through, and with it which part is which sheet went
    unread: hidden rows and formulas without a value unseen. Refused. A part in an encoding expat has no
    codec for (GBK document properties from some export tool) is no reason to refuse the file."""
    import pytest

    from watcher.io.reader import ReadError

    dtd = b'<!DOCTYPE workbook [<!ENTITY a "aaaa"><!ENTITY x SYSTEM "file:///etc/passwd">]>'
    head = b'<?xml version="1.0" encoding="UTF-8"?>'
    cases = {
        "space": lambda d: b" " + head + dtd + d,
        "standalone": lambda d: b'<?xml version="1.0" encoding="UTF-8" standalone="maybe"?>' + dtd + d,
        "comment": lambda d: head + b"<!-- a -- b -->" + dtd + d,
        "gbk": lambda d: b'<?xml version="1.0" encoding="GBK"?>' + dtd + d,
        "utf16": lambda d: (b'<?xml version="1.0" encoding="UTF-16"?>' + dtd).decode().encode("utf-16") + d,
    }
    for name, edit in cases.items():
        path = tmp_path / f"{name}.xlsx"
        _edited_part(path, "xl/workbook.xml", edit)
        with pytest.raises(ReadError) as caught:
            read_book(path, "xlsx")
        assert (caught.value.code, caught.value.values.get("detail")) == ("file.xml", "含有实体定义"), name
    path = tmp_path / "gbk_props.xlsx"
    _edited_part(path, "docProps/app.xml", lambda d: b'<?xml version="1.0" encoding="GBK"?>' + d)
    book = read_book(path, "xlsx")
    assert book.sheets["名单"].hidden_rows == {2}
    # A macro's binary that writes a web page (its text holds <!DOCTYPE html>) is no XML part: read.
    import zipfile

    with zipfile.ZipFile(path, "a") as z:
        z.writestr("xl/vbaProject.bin", b'\xd0\xcf\x11\xe0 Print "<!DOCTYPE html><html>" \x00\x01')
    assert read_book(path, "xlsx").sheets["名单"].hidden_rows == {2}
    path = tmp_path / "broken_workbook.xlsx"  # which sheet is which unreadable: not read half-checked
    _edited_part(path, "xl/workbook.xml", lambda d: b" " + head + d)
    with pytest.raises(ReadError) as caught:
        read_book(path, "xlsx")
    assert caught.value.code == "file.xml"


def test_an_xls_with_error_cells_and_hidden_rows_is_told_like_its_xlsx(root):
    """An .xls (Excel 97-2003, as LibreOffice and old agency systems save) whose cells hold #N/A: calamine
    reads them as empty, so the group was issued with the clerk's #N/A taken for blanks, and a hidden row's
    traveller was insured with no warning. Both are now read from the BIFF records, as from an .xlsx."""
    from helpers import future, people, result, run_watcher

    fields = {"操作类型": "投保", "旅行团号": "XLS-1", "区域": "境内", "方案代码": "GN-A", "天数": 3, "经办人": "王五"}
    fields["生效时间"] = future().strftime("%Y-%m-%d %H:%M")
    head = ["序号", "姓名", "证件类型", "证件号码", "性别", "出生日期", "联系电话", "备注"]

    def xls(name: str, error: bool, hidden: bool) -> None:
        wb = xlwt.Workbook(encoding="utf-8")
        ws = wb.add_sheet("申请")
        for r, (label, value) in enumerate(fields.items()):
            ws.write(r, 0, label)
            ws.write(r, 1, value)
        roster = wb.add_sheet("被保险人名单")
        for c, h in enumerate(head):
            roster.write(0, c, h)
        for r, person in enumerate(people(3), start=1):
            for c, value in enumerate(person[:4]):
                roster.write(r, c, value)
        if error:
            roster.row(2).set_cell_error(6, 0x2A)  # #N/A in 联系电话 of the second traveller, row 3 in Excel
        if hidden:
            roster.row(3).hidden = True  # the third traveller, row 4
        wb.save(str(root / "workbooks" / "GZ001" / name))

    xls("错误值.xls", error=True, hidden=False)
    xls("隐藏行.xls", error=False, hidden=True)
    book = read_book(root / "workbooks" / "GZ001" / "错误值.xls", "xls")
    assert book.sheets["被保险人名单"].special == {(2, 6): "#N/A"}
    assert read_book(root / "workbooks" / "GZ001" / "隐藏行.xls", "xls").sheets["被保险人名单"].hidden_rows == {3}
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "错误值_结果")
    assert data["status"] == "failed" and data["policies"] == []
    assert [(e["code"], e["row"], e["column"]) for e in data["errors"]] == [("cell.error_value", 3, "联系电话")]
    assert "#N/A" in data["errors"][0]["message"]
    data, _ = result(root, "GZ001", "隐藏行_结果")
    assert data["status"] == "success" and data["policies"][0]["insured_count"] == 3
    assert [(w["code"], w["row"]) for w in data["warnings"]] == [("roster.hidden_rows", 4)]


def test_a_csv_cell_in_excels_text_guard_is_read_as_the_text_excel_shows():
    """="440106…" is how agency systems export an ID so that Excel keeps its digits (Excel shows the text
    inside): it was read with its =" and ", 21 characters, and a right number was called wrong. A cell that
    merely starts with = (a formula Excel would compute, or text) stays as it is."""
    text = (
        "操作类型,投保\n\n序号,姓名,证件类型,证件号码,备注\n"
        '1,张三,身份证,="11010519491231002X",="say ""hi"""\n'
        '2,李四,身份证,=1+2,="a"&"b"\n'
    )
    roster = read_csv(text.encode("utf-8")).sheets["被保险人名单"]
    assert roster.value(3, 3) == "11010519491231002X" and roster.value(3, 4) == 'say "hi"'
    assert roster.value(4, 3) == "=1+2" and roster.value(4, 4) == '="a"&"b"'


def test_apostrophes_typed_in_a_csv_never_join_rows():
    """Two apostrophes typed in remarks (素食 with a leading ', 轮椅 with a trailing ') made the dialect sniffer
    take ' for the quote character: the rows between them became one traveller's 备注 and three travellers
    were left off a policy issued 成功. Quotes are always Excel's double quote; the delimiter is still
    found (a semicolon export is read)."""
    people = [
        f"{n},张{n},身份证,11010519491231002X,,,,{note}" for n, note in enumerate(["'素食", "", "", "轮椅'", "", ""], 1)
    ]
    text = (
        "操作类型,投保\n旅行团号,T1\n\n序号,姓名,证件类型,证件号码,性别,出生日期,联系电话,备注\n"
        + "\n".join(people)
        + "\n"
    )
    roster = read_csv(text.encode("utf-8")).sheets["被保险人名单"]
    assert [row[1] for row in roster.rows[4:]] == [f"张{n}" for n in range(1, 7)]
    assert roster.value(4, 7) == "'素食" and roster.value(7, 7) == "轮椅'"
    semicolons = read_csv(text.replace(",", ";").encode("utf-8")).sheets["被保险人名单"]
    assert semicolons.value(4, 1) == "张1" and semicolons.value(9, 1) == "张6"


def test_a_csv_with_old_mac_line_endings_is_read():
    """CR alone ends each line in a "CSV (Macintosh)" export: the whole file was one line, refused as a
    malformed CSV. Lines end at CR, LF or CRLF; a line break inside a quoted field stays in the field."""
    text = '操作类型,投保\r旅行团号,T1\r\r序号,姓名,证件类型,证件号码,备注\r1,张三,身份证,11010519491231002X,"两行\r备注"\r2,李四,身份证,1\r'
    with pytest.raises(ReadError) as cut:  # the last line without its end and short of cells: cut off
        read_csv(text.rstrip("\r").rsplit(",", 2)[0].encode("utf-8"))
    assert cut.value.code == "file.csv_cut"
    for data in (text, text.rstrip("\r") + ",", text.replace("\r", "\r\n")):  # (unended, its cells whole)
        book = read_csv(data.encode("utf-8"))
        assert book.sheets["申请"].value(1, 1) == "T1"
        roster = book.sheets["被保险人名单"]
        assert roster.value(4, 1) == "张三" and roster.value(5, 1) == "李四", data
        assert roster.value(4, 4).replace("\r\n", "\r") == "两行\r备注"
