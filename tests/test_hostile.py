"""Broken and hostile files: each gets a 失败 result that says what is wrong, nothing in the ledger
changes, nothing of the machine leaks into any output, and the good file beside them goes through."""

from __future__ import annotations

import io
import json
import os
import random
import re
import struct
import time
import zipfile
from pathlib import Path

import msoffcrypto
import openpyxl
import pytest
from helpers import issue_fields, ledger_rows, people, run_watcher, write_request

pytestmark = pytest.mark.slow

LEAKS = ("root:x:0:0", "/etc/passwd", "/tmp/pytest", "Traceback", "/work/", "/root/")


def valid_bytes(n: int = 2, **fields) -> bytes:
    path = Path(f"/tmp/hostile-{os.getpid()}-{random.random()}.xlsx")
    write_request(path, issue_fields(**fields), people(n))
    data = path.read_bytes()
    path.unlink()
    return data


def rezip(data: bytes, replace: dict[str, bytes], compresslevel: int = 6) -> bytes:
    """The same workbook with some parts replaced."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info)))
        for name, part in replace.items():
            if name not in src.namelist():
                dst.writestr(name, part)
    return out.getvalue()


SHEET = "xl/worksheets/sheet2.xml"  # the roster sheet of write_request's workbooks
HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'
NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def xxe() -> bytes:
    sheet = (
        HEAD
        + b'<!DOCTYPE w [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<worksheet '
        + NS
        + b'><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&e;</t></is></c></row></sheetData></worksheet>'
    )
    return rezip(valid_bytes(), {SHEET: sheet})


def billion_laughs() -> bytes:
    entities = b'<!ENTITY a0 "ha">' + b"".join(
        b'<!ENTITY a%d "%s">' % (i, b"".join(b"&a%d;" % (i - 1) for _ in range(10))) for i in range(1, 10)
    )
    sheet = (
        HEAD
        + b"<!DOCTYPE w ["
        + entities
        + b"]>\n<worksheet "
        + NS
        + b'><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&a9;</t></is></c></row></sheetData></worksheet>'
    )
    return rezip(valid_bytes(), {SHEET: sheet})


LAUGHS = b'<!ENTITY a0 "ha">' + b"".join(
    b'<!ENTITY a%d "%s">' % (i, b"".join(b"&a%d;" % (i - 1) for _ in range(10))) for i in range(1, 10)
)


def declared_in(part: str, use: bytes | None = None):
    """A DTD with the billion laughs and an external entity in a part other than a sheet ([Content_Types],
    workbook, styles, document properties): the same trick as in a sheet. `use`: a text of that part that
    the entity replaces (the entity is used, not only declared)."""

    def make() -> bytes:
        with zipfile.ZipFile(io.BytesIO(valid_bytes())) as z:
            data = z.read(part)
        body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
        root = body.lstrip()[1:].split(None, 1)[0].rstrip(b">")
        dtd = b"<!DOCTYPE " + root + b" [" + LAUGHS + b'<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        body = dtd + body
        if use is not None:
            assert use in body, part
            body = body.replace(use, b"&a9;&x;", 1)
        return rezip(valid_bytes(), {part: HEAD + body})

    return make


def gib_bomb() -> bytes:
    """An otherwise valid workbook with a 1 GiB part of zeros (about 1 MB compressed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(valid_bytes())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        with dst.open("xl/media/bomb.bin", "w", force_zip64=True) as part:
            chunk = bytes(1 << 20)
            for _ in range(1024):
                part.write(chunk)
    return out.getvalue()


def lying_directory() -> bytes:
    """A 64 MB part of zeros whose local header and central directory both claim 1,000 bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(valid_bytes())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info) if info.filename != SHEET else b"")
        dst.writestr("xl/worksheets/sheet2.xml.pad", b"")
    data = bytearray(out.getvalue())
    # Replace the roster part's bytes: deflate 64 MB of XML-ish zeros, then patch both headers' sizes.
    import zlib

    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = body.compress(b"<" + bytes(64 << 20)) + body.flush()
    name = SHEET.encode()
    local = data.find(b"PK\x03\x04" + data[data.find(name) - 26 : data.find(name) - 26 + 0])  # first match below
    local = data.rfind(b"PK\x03\x04", 0, data.find(name))
    nlen, xlen = struct.unpack("<HH", data[local + 26 : local + 30])
    start = local + 30 + nlen + xlen
    old_csize = struct.unpack("<I", data[local + 18 : local + 22])[0]
    data[start : start + old_csize] = payload
    struct.pack_into("<III", data, local + 14, zlib.crc32(b"x"), len(payload), 1000)
    central = data.rfind(b"PK\x01\x02" + bytes(0), 0)
    # Rebuild offsets simply by re-reading with zipfile is not possible: patch the central entry for the name.
    central = data.find(b"PK\x01\x02" + data[local + 4 : local + 6])
    while central != -1 and data[central + 46 : central + 46 + len(name)] != name:
        central = data.find(b"PK\x01\x02", central + 4)
    struct.pack_into("<III", data, central + 16, zlib.crc32(b"x"), len(payload), 1000)
    # Shift the offsets of the entries after the roster part by the change in size.
    delta = len(payload) - old_csize
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        offset = struct.unpack("<I", data[pos + 42 : pos + 46])[0]
        if offset > local:
            struct.pack_into("<I", data, pos + 42, offset + delta)
        pos = data.find(b"PK\x01\x02", pos + 4)
    end = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack("<I", data[end + 16 : end + 20])[0]
    struct.pack_into("<I", data, end + 16, cd_offset + delta)
    return bytes(data)


def huge_dimension() -> bytes:
    sheet = (
        HEAD + b"<worksheet " + NS + b'><dimension ref="A1:XFD1048576"/><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>\xe5\xa7\x93\xe5\x90\x8d</t></is></c></row>'
        b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>'
    )
    return rezip(valid_bytes(), {SHEET: sheet})


def far_row_cell_unplaced() -> bytes:
    """A far row holding a cell that gives no reference of its own: readers place it in that row, and the
    grid spans a million rows all the same."""
    sheet = (
        HEAD + b"<worksheet " + NS + b"><sheetData>"
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>\xe5\xa7\x93\xe5\x90\x8d</t></is></c>'
        b'<c r="H1" t="inlineStr"><is><t>x</t></is></c></row>'
        b'<row r="1000000"><c t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>'
    )
    return rezip(valid_bytes(), {SHEET: sheet})


def far_empty_row_then_unplaced() -> bytes:
    """An empty far row, then a row without a number: readers place it after the empty one (Calc's empty last
    row is left out of the sheet's size only where nothing follows it)."""
    sheet = (
        HEAD + b"<worksheet " + NS + b"><sheetData>"
        b'<row r="1"><c r="H1" t="inlineStr"><is><t>x</t></is></c></row>'
        b'<row r="1000000"></row><row><c t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>'
    )
    return rezip(valid_bytes(), {SHEET: sheet})


def ole_garbage() -> bytes:
    return bytes.fromhex("D0CF11E0A1B11AE1") + random.Random(1).randbytes(8192)


def encrypted() -> bytes:
    plain = io.BytesIO(valid_bytes())
    out = io.BytesIO()
    msoffcrypto.OfficeFile(plain).encrypt("secret", out)
    return out.getvalue()


CORPUS = {
    "不是压缩包.xlsx": (lambda: b"this is not a workbook at all", "无法打开"),
    "截断.xlsx": (lambda: valid_bytes()[:3000], "无法打开"),
    "空文件.xlsx": (lambda: b"", "空的"),
    "外部实体.xlsx": (xxe, ""),
    "十亿笑声.xlsx": (billion_laughs, ""),
    "解压炸弹.xlsx": (gib_bomb, "解压后"),
    "目录说谎.xlsx": (lying_directory, "无法打开"),
    "巨大范围.xlsx": (huge_dimension, "范围过大"),
    "巨大范围_无坐标.xlsx": (far_row_cell_unplaced, "范围过大"),
    "巨大范围_空行之后.xlsx": (far_empty_row_then_unplaced, "范围过大"),
    "OLE垃圾.xls": (ole_garbage, "无法打开"),
    "加密.xlsx": (encrypted, "文件已加密，请取消密码后重新提交"),
    "随机字节.csv": (lambda: random.Random(7).randbytes(4096), ""),
    "表格.xlsb": (lambda: b"PK\x03\x04whatever", "可以提交的文件"),
    "实体_类型表.xlsx": (declared_in("[Content_Types].xml"), "含有实体定义"),
    "实体_工作簿.xlsx": (declared_in("xl/workbook.xml", use="申请".encode()), "含有实体定义"),
    "实体_样式.xlsx": (declared_in("xl/styles.xml"), "含有实体定义"),
    "实体_属性.xlsx": (declared_in("docProps/core.xml"), "含有实体定义"),
}


def test_every_hostile_file_fails_with_a_message_and_the_good_file_beside_them_goes_through(root):
    (root / "watcher.toml").write_text(
        "settle_seconds = 0\nstall_seconds = 0\ntext_settle_seconds = 0\n", encoding="utf-8"
    )
    folder = root / "workbooks" / "GZ001"
    for name, (make, _) in CORPUS.items():
        (folder / name).write_bytes(make())
    (folder / "系统文件.xlsx").symlink_to("/etc/passwd")
    (folder / "正常.xlsx").write_bytes(valid_bytes(旅行团号="GOOD"))
    old = time.time() - 60
    for path in folder.iterdir():
        if not path.is_symlink():
            os.utime(path, (old, old))
    before = ledger_rows(root)
    proc = run_watcher(root, "process")
    assert "Traceback" not in proc.stdout + proc.stderr

    out = root / "outbox" / "GZ001"
    results = {
        json.loads(p.read_text(encoding="utf-8"))["file"]: json.loads(p.read_text(encoding="utf-8"))
        for p in out.glob("*_结果*.json")
    }
    assert set(results) == set(CORPUS) | {"正常.xlsx"}
    assert results["正常.xlsx"]["status"] == "success"
    for name, (_, expected) in CORPUS.items():
        data = results[name]
        assert data["status"] == "failed" and data["errors"], name
        message = " ".join(e["message"] for e in data["errors"])
        assert expected in message, (name, message)
        assert "Error" not in message, (name, message)  # a library's class name (CalamineError) is no reason
    # Nothing of the machine in any output: results, workbooks, notices.
    for path in list(out.iterdir()) + list((root / "outbox" / "_admin").iterdir()):
        blob = path.read_bytes()
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                blob = b"".join(z.read(n) for n in z.namelist())
        text = blob.decode("utf-8", "replace")
        assert not any(leak in text for leak in LEAKS), (path.name, [leak for leak in LEAKS if leak in text])
    rows = ledger_rows(root)
    assert len(rows["policies"]) == len(before["policies"]) + 1  # only the good file issued
    assert (folder / "系统文件.xlsx").is_symlink()


def test_the_parser_cannot_exceed_its_memory_or_time_and_the_desk_goes_on(root):
    # A workbook that passes every check before parsing but needs far more memory than allowed.
    big = b"<sst " + NS + b"><si><t>" + b"x" * (120 << 20) + b"</t></si></sst>"
    heavy = rezip(valid_bytes(), {"xl/sharedStrings.xml": big}, compresslevel=1)
    folder = root / "workbooks" / "GZ001"
    (root / "watcher.toml").write_text(
        "settle_seconds = 0\nmax_zip_ratio = 100000\nparse_memory_mb = 96\n", encoding="utf-8"
    )
    (folder / "吃内存.xlsx").write_bytes(heavy)
    (folder / "正常一.xlsx").write_bytes(valid_bytes(旅行团号="OK1"))
    run_watcher(root, "process")
    out = root / "outbox" / "GZ001"
    data = json.loads((out / "吃内存_结果.json").read_text(encoding="utf-8"))
    assert data["status"] == "failed" and "内存" in data["errors"][0]["message"]
    assert json.loads((out / "正常一_结果.json").read_text(encoding="utf-8"))["status"] == "success"

    # Slow but lean: two million one-cell rows take seconds to scan and parse, and little memory per cell,
    # so only the time limit stops it (one huge string raced the memory limit, or beat 0.3 s).
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(1, 2_000_001))
    slow = rezip(
        valid_bytes(),
        {"xl/worksheets/sheet1.xml": b"<worksheet " + NS + b"><sheetData>" + rows + b"</sheetData></worksheet>"},
        compresslevel=1,
    )
    (root / "watcher.toml").write_text(
        "settle_seconds = 0\nmax_zip_ratio = 100000\nparse_seconds = 0.3\n", encoding="utf-8"
    )
    (folder / "太慢.xlsx").write_bytes(slow)
    (folder / "正常二.xlsx").write_bytes(valid_bytes(旅行团号="OK2", 营销员工号="S2"))
    started = time.monotonic()
    run_watcher(root, "process")
    assert time.monotonic() - started < 30
    data = json.loads((out / "太慢_结果.json").read_text(encoding="utf-8"))
    assert data["status"] == "failed" and "时间" in data["errors"][0]["message"]
    assert json.loads((out / "正常二_结果.json").read_text(encoding="utf-8"))["status"] == "success"


def _book(build) -> bytes:
    wb = openpyxl.Workbook()
    apply = wb.active
    apply.title = "申请"
    # A tour group of its own: the same people on two policies of one group is an error of its own.
    for label, value in issue_fields(旅行团号=f"T-{build.__name__}").items():
        apply.append([label, value])
    build(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _roster(ws, rows):
    ws.append(["序号", "姓名", "证件类型", "证件号码", "性别", "出生日期"])
    for row in rows:
        ws.append(row[:6])
    for r in range(2, ws.max_row + 1):
        ws.cell(r, 4).number_format = "@"


def test_workbook_oddities_get_clear_messages(root):
    folder = root / "workbooks" / "GZ001"

    def merged(wb):
        ws = wb.create_sheet("被保险人名单")
        _roster(ws, people(3))
        ws["C3"] = None
        ws.merge_cells("C2:C3")

    def two_rosters(wb):
        _roster(wb.create_sheet("一团"), people(1))
        _roster(wb.create_sheet("二团"), people(2)[1:])

    def second_bus(wb):  # 被保险人名单 and a second sheet of people beside it: the second was dropped in silence
        _roster(wb.create_sheet("被保险人名单"), people(2))
        _roster(wb.create_sheet("二车"), people(4)[2:])
        notes = wb.create_sheet("联系人")  # a sheet with 姓名 but no people's IDs is no roster
        notes.append(["姓名", "电话"])
        notes.append(["李导游", "13800000000"])

    def hidden_bus(wb):  # the second bus on a hidden sheet: not insured, and said so
        _roster(wb.create_sheet("被保险人名单"), people(2))
        other = wb.create_sheet("三车")
        _roster(other, people(5)[2:])
        other.sheet_state = "hidden"

    def two_id_columns(wb):  # outbound tours: a column for ID cards, another for passports
        ws = wb.create_sheet("被保险人名单")
        ws.append(["序号", "姓名", "证件类型", "身份证号码", "护照号码", "性别", "出生日期"])
        ws.append([1, "张三", "身份证", people(1)[0][3], None, None, None])
        ws.append([2, "Anna", "护照", None, "E12345678", "女", "1990-05-01"])

    def hidden(wb):
        ws = wb.create_sheet("被保险人名单")
        _roster(ws, people(3))
        ws.row_dimensions[3].hidden = True

    def errors(wb):
        ws = wb.create_sheet("被保险人名单")
        _roster(ws, people(2))
        ws["B3"] = "#N/A"
        ws["B3"].data_type = "e"

    def no_id_column(wb):
        ws = wb.create_sheet("被保险人名单")
        ws.append(["序号", "姓名", "证件类型"])
        ws.append([1, "张三", "身份证"])

    def trailing_rows(wb):
        ws = wb.create_sheet("被保险人名单")
        _roster(ws, people(2))
        for r in range(4, 30004):  # thousands of formatted, empty rows below the people
            ws.cell(r, 1).number_format = "@"
            ws.cell(r, 4).number_format = "@"

    def too_many(wb):
        _roster(wb.create_sheet("被保险人名单"), people(30))

    for name, build in {
        "合并.xlsx": merged,
        "两份名单.xlsx": two_rosters,
        "二车.xlsx": second_bus,
        "三车.xlsx": hidden_bus,
        "两列证件.xlsx": two_id_columns,
        "隐藏行.xlsx": hidden,
        "错误值.xlsx": errors,
        "缺列.xlsx": no_id_column,
        "尾部空行.xlsx": trailing_rows,
        "太多人.xlsx": too_many,
    }.items():
        (folder / name).write_bytes(_book(build))
    (root / "watcher.toml").write_text("settle_seconds = 0\nmax_roster_rows = 20\n", encoding="utf-8")
    started = time.monotonic()
    run_watcher(root, "process")
    elapsed = time.monotonic() - started

    def result(stem):
        return json.loads((root / "outbox" / "GZ001" / f"{stem}_结果.json").read_text(encoding="utf-8"))

    assert result("合并")["errors"][0]["code"] == "roster.merged" and "C2:C3" in result("合并")["errors"][0]["message"]
    assert (
        result("两份名单")["errors"][0]["code"] == "roster.ambiguous"
        and "一团" in result("两份名单")["errors"][0]["message"]
    )
    [other] = result("二车")["errors"]
    assert result("二车")["status"] == "failed" and other["code"] == "roster.other_sheet", other
    assert "“二车”（2 行）" in other["message"] and "联系人" not in other["message"]
    hidden_bus_result = result("三车")
    assert hidden_bus_result["status"] == "success" and hidden_bus_result["policies"][0]["insured_count"] == 2
    assert [w["code"] for w in hidden_bus_result["warnings"]] == ["roster.hidden_people"]
    assert "“三车”中有 3 行人员" in hidden_bus_result["warnings"][0]["message"]
    # Said as the clerk typed the headers; no row told its passport number is wrong (column D was read).
    [twice] = result("两列证件")["errors"]
    assert twice["code"] == "roster.duplicate_column" and "“身份证号码”（D 列）、“护照号码”（E 列）" in twice["message"]
    hidden_result = result("隐藏行")
    assert hidden_result["status"] == "success" and "第 3 行是隐藏行" in hidden_result["warnings"][0]["message"]
    assert (result("错误值")["errors"][0]["row"], result("错误值")["errors"][0]["column"]) == (3, "姓名")
    assert "#N/A" in result("错误值")["errors"][0]["message"]
    assert (result("缺列")["errors"][0]["code"], result("缺列")["errors"][0]["column"]) == (
        "roster.missing_column",
        "证件号码",
    )
    assert result("尾部空行")["status"] == "success" and result("尾部空行")["policies"][0]["insured_count"] == 2
    assert result("太多人")["errors"][0]["code"] == "file.too_many_rows"
    assert elapsed < 60


@pytest.mark.parametrize(
    "name",
    [
        "长" * 80 + ".xlsx",
        "团\x01队\x7f.xlsx",
        "CON.xlsx",
        "nul.xlsx",
        "团..A..xlsx",
        '团 A：北京\\上海|<?>*".xlsx',
        "Ça_ва_团🙂.xlsx",
    ],
)
def test_any_file_name_gets_a_safe_recognisable_result_name(root, name):
    folder = root / "workbooks" / "GZ001"
    (folder / name).write_bytes(valid_bytes())
    run_watcher(root, "process")
    results = list((root / "outbox" / "GZ001").glob("*.json"))
    assert len(results) == 1
    out = results[0].name
    assert len(out.encode()) <= 255 and not out.startswith(".") and not any(ch in out for ch in '\x01\x7f<>:"|?*')
    assert out.upper() not in ("CON_结果.JSON",) and not out.upper().startswith(("CON.", "NUL."))
    data = json.loads(results[0].read_text(encoding="utf-8"))
    assert data["file"] == name and data["status"] == "success"
    archived = [p for p in (root / "archive" / "GZ001").rglob("*") if p.is_file()]
    assert len(archived) == 1 and len(archived[0].name.encode()) <= 255


def _heavy() -> bytes:
    return rezip(
        valid_bytes(),
        {"xl/sharedStrings.xml": b"<sst " + NS + b"><si><t>" + b"x" * (120 << 20) + b"</t></si></sst>"},
        compresslevel=1,
    )


def _slow() -> bytes:
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(1, 2_000_001))
    sheet = b"<worksheet " + NS + b"><sheetData>" + rows + b"</sheetData></worksheet>"
    return rezip(valid_bytes(), {"xl/worksheets/sheet1.xml": sheet}, compresslevel=1)


@pytest.mark.parametrize(
    "bad, memory_mb, seconds, what", [(_heavy, 96, 30.0, "内存"), (_slow, 2048, 0.3, "时间")], ids=["memory", "time"]
)
def test_files_sent_ahead_to_the_parser_survive_one_that_kills_it_or_overruns(tmp_path, bad, memory_mb, seconds, what):
    """The parser works ahead on the files behind the one being checked: one that kills it (memory) or
    overruns its time fails alone; the files queued behind it are parsed by the new worker, in order or
    asked for out of order, and a file taken back leaves nothing behind."""
    from watcher.io.reader import Limits, ReadError
    from watcher.io.sandbox import Sandbox

    files = {"good1": valid_bytes(3), "bad": bad(), "good2": valid_bytes(4), "dropped": valid_bytes(5)}
    files["good3"] = valid_bytes(6)
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / f"{name}.xlsx"
        paths[name].write_bytes(data)
    sandbox = Sandbox(memory_mb, seconds, Limits(max_unzipped=1 << 40, max_cells=10**8))
    try:
        sandbox.warm()
        time.sleep(1)  # started: the time limit is the file's own
        for name in files:
            sandbox.submit(paths[name], "xlsx")
        assert len(sandbox.queue) == len(files)  # all sent before any is asked for
        sandbox.cancel(paths["dropped"])
        assert len(sandbox.read(paths["good2"], "xlsx").sheets["被保险人名单"].rows) == 5  # out of order
        with pytest.raises(ReadError) as failed:
            sandbox.read(paths["bad"], "xlsx")
        assert failed.value.code == "file.parse_limit" and what in failed.value.values["what"]
        assert len(sandbox.read(paths["good1"], "xlsx").sheets["被保险人名单"].rows) == 4
        assert len(sandbox.read(paths["good3"], "xlsx").sheets["被保险人名单"].rows) == 7
        assert sandbox.replaced == 1
        assert not sandbox.queue and not sandbox.answers  # the answer to the file taken back was dropped
    finally:
        sandbox.close()


def test_the_xml_protections_are_checked_at_start_without_loading_openpyxl(root):
    """openpyxl is not used by the service: whether it would parse XML safely is read from its source,
    not imported (0.15 s at every start); switching its protection off still stops the desk at start."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom watcher.security import assert_safe_xml\nassert_safe_xml()\n"
        "print('openpyxl' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENPYXL_DEFUSEDXML"}
    checked = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert checked.stdout.strip() == "False"
    from watcher.security import _openpyxl_defused

    assert _openpyxl_defused(None) is openpyxl.DEFUSEDXML is True  # the same answer openpyxl gives itself
    assert _openpyxl_defused("False") is False
    refused = run_watcher(root, "process", env={"OPENPYXL_DEFUSEDXML": "False"}, check=False)
    assert refused.returncode != 0 and "OPENPYXL_DEFUSEDXML" in refused.stdout + refused.stderr


def test_a_parser_that_died_before_the_next_file_was_sent_never_shifts_the_answers(tmp_path):
    """The worker dies on a file sent ahead while the service still checks the one before; the next file
    is sent after that: the dead worker's file fails, and the next gets its own answer, not its
    neighbour's (a request must never be issued from another file's cells)."""
    from watcher.io.reader import Limits, ReadError
    from watcher.io.sandbox import Sandbox

    bad, good = tmp_path / "bad.xlsx", tmp_path / "good.xlsx"
    bad.write_bytes(_heavy())
    good.write_bytes(valid_bytes(4))
    sandbox = Sandbox(96, 30.0, Limits(max_unzipped=1 << 40, max_cells=10**8))
    try:
        sandbox.submit(bad, "xlsx")
        process = sandbox.process
        assert process is not None
        process.join(60)
        assert not process.is_alive()  # died on the file sent ahead, nobody waiting for it yet
        sandbox.submit(good, "xlsx")
        with pytest.raises(ReadError) as failed:
            sandbox.read(bad, "xlsx")
        assert "内存" in failed.value.values["what"]
        assert len(sandbox.read(good, "xlsx").sheets["被保险人名单"].rows) == 5
        assert sandbox.replaced == 1 and not sandbox.queue and not sandbox.answers
    finally:
        sandbox.close()


def test_a_parser_killed_from_outside_costs_no_innocent_file_its_request(root):
    """The kernel's OOM killer (or an operator) kills the parse sandbox while it reads a good file: a new
    sandbox reads that file once more. Before, the file got a 失败 result blaming its size ('超出了内存限制')."""
    folder = root / "workbooks" / "GZ001"
    for i in range(3):
        write_request(folder / f"团{i}.xlsx", issue_fields(旅行团号=f"T{i}"), people(2))
    proc = run_watcher(root, "process", env={"WATCHER_CRASH_AT": "parsing:2"})
    statuses = {
        p.name: json.loads(p.read_text("utf-8"))["status"] for p in (root / "outbox" / "GZ001").glob("*_结果.json")
    }
    assert statuses == {f"团{i}_结果.json": "success" for i in range(3)}, statuses
    assert "再读一次" in proc.stdout + proc.stderr


def test_a_file_the_parser_dies_on_twice_fails_and_the_run_goes_on(root):
    """Read once more, not forever: a file on which every new sandbox dies gets its 失败 result."""
    write_request(root / "workbooks" / "GZ001" / "毒.xlsx", issue_fields(), people(2))
    proc = run_watcher(root, "process", env={"WATCHER_CRASH_AT": "parsing:1"})
    data = json.loads((root / "outbox" / "GZ001" / "毒_结果.json").read_text("utf-8"))
    assert proc.returncode == 0 and data["status"] == "failed"
    assert [e["code"] for e in data["errors"]] == ["file.parse_killed"]  # not blamed on the file's size


def _result(root, stem: str) -> dict:
    return json.loads((root / "outbox" / "GZ001" / f"{stem}.json").read_text(encoding="utf-8"))


def _ole_sector_chain_looped(data: bytes, stream: str) -> bytes:
    """An OLE file whose `stream`'s last sector points back to its first (a FAT cycle)."""
    d = bytearray(data)
    nfat, dir0 = struct.unpack_from("<I", d, 0x2C)[0], struct.unpack_from("<I", d, 0x30)[0]
    fat_sectors = struct.unpack_from("<109I", d, 0x4C)[:nfat]

    def at(sector: int) -> int:
        return 512 * (sector + 1)

    def fat(i: int) -> int:
        return at(fat_sectors[i // 128]) + 4 * (i % 128)

    def chain(s: int) -> list[int]:
        out = []
        while s < 0xFFFFFFFA and len(out) < 10000:
            out.append(s)
            s = struct.unpack_from("<I", d, fat(s))[0]
        return out

    for s in chain(dir0):
        for k in range(4):
            o = at(s) + 128 * k
            size = struct.unpack_from("<H", d, o + 64)[0]
            if d[o : o + max(size - 2, 0)].decode("utf-16-le") == stream:
                sectors = chain(struct.unpack_from("<I", d, o + 0x74)[0])
                struct.pack_into("<I", d, fat(sectors[-1]), sectors[0])
                return bytes(d)
    raise AssertionError(f"no {stream} stream")


def test_damaged_xls_files_fail_cleanly_and_say_nothing_on_the_service_output(root):
    """Found by the hostile-file attack on the .xls reading: a BOUNDSHEET record of length 0 made calamine
    panic (pyo3's PanicException, a BaseException): the parser died with a Python traceback in the service's
    output and the 5 KB file was told it ran out of memory. A FAT cycle calamine survives made xlrd write its
    debugging to the service's stdout. Both now fail or pass quietly, with the truth in the result."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("申请")
    ws.write(0, 0, "操作类型")
    ws.write(0, 1, "保单查询")
    buffer = io.BytesIO()
    wb.save(buffer)
    good = buffer.getvalue()
    panics = bytearray(good)
    at = panics.find(b"\x85\x00\x0c\x00")  # the first BOUNDSHEET record: its length 12 made 0
    panics[at + 2] = 0
    drop = root / "workbooks" / "GZ001"
    (drop / "坏表.xls").write_bytes(bytes(panics))
    (drop / "环.xls").write_bytes(_ole_sector_chain_looped(good, "Workbook"))
    done = run_watcher(root, "process")
    data = _result(root, "坏表_结果")
    assert data["status"] == "failed" and [e["code"] for e in data["errors"]] == ["file.unreadable"], data["errors"]
    assert "内存" not in data["errors"][0]["message"]
    assert "Traceback" not in done.stdout + done.stderr
    assert "_locate_stream" not in done.stdout + done.stderr, "nothing of xlrd's on the service's output"
    assert _result(root, "环_结果")["status"] == "success"


def test_a_sheet_far_longer_than_a_request_may_be_is_refused_in_the_parser(root):
    """A 5 MB CSV of a million rows took the service itself to 1.2 GB (the parser's memory limit protects
    only the parser) to write a result echoing every row and saying it was too long. A sheet longer than
    max_roster_rows by far is refused in the parser, with a file-level message."""
    (root / "watcher.toml").write_text("settle_seconds = 0\ntext_settle_seconds = 0\nmax_roster_rows = 20\n")
    text = "操作类型,投保\n旅行团号,T1\n\n序号,姓名,证件类型,证件号码\n" + "1,a,身份证,1\n" * 1100
    (root / "workbooks" / "GZ001" / "长表.csv").write_text(text, encoding="utf-8")
    run_watcher(root, "process")
    data = _result(root, "长表_结果")
    assert [(e["code"], e["row"]) for e in data["errors"]] == [("file.sheet_rows", None)], data["errors"][:3]
    assert "被保险人名单" in data["errors"][0]["message"] and "20 人" in data["errors"][0]["message"]


def test_a_roster_saved_by_calc_after_a_row_was_deleted_is_read_not_refused_as_a_huge_sheet(root):
    """LibreOffice Calc, after a row is deleted where the columns have a style (the templates' text columns),
    writes an empty last row <row r="1048576"></row> and a dimension down to it. The whole request was
    refused as a sheet of 8 million cells, the corrected result too, and no fix the message gave helped."""
    data = valid_bytes(3)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read(SHEET)
    last = (
        b'<row r="1048576" customFormat="false" ht="12.8" hidden="false" customHeight="false" '
        b'outlineLevel="0" collapsed="false"></row>'
    )
    assert b"</sheetData>" in sheet
    sheet = sheet.replace(b"</sheetData>", last + b"</sheetData>")
    sheet = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:H1048576"/>', sheet)
    (root / "workbooks" / "GZ001" / "删行.xlsx").write_bytes(rezip(data, {SHEET: sheet}))
    run_watcher(root, "process")
    done = _result(root, "删行_结果")
    assert done["status"] == "success", done["errors"][:3]
    assert [p["insured_count"] for p in done["policies"]] == [3], done["policies"]
