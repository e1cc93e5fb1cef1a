"""The template's 示例 row: skipped only while it holds nothing but the sample; a traveller typed over it
is never dropped in silence, and the sample person is never insured whatever its 序号 says. The same
rule holds in every table watcher reads (roster, admin tables, CSV)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from helpers import (
    ID_M_1980,
    ID_M_1990,
    SAMPLE_ID,
    future,
    issue,
    ledger_rows,
    month_end,
    result,
    run_watcher,
    statements,
)


def _template(root: Path, tmp_path: Path, kind: str) -> openpyxl.Workbook:
    path = tmp_path / f"{kind}模板.xlsx"
    run_watcher(root, "template", kind, "-o", str(path))
    return openpyxl.load_workbook(path)


def _issue_template(root: Path, tmp_path: Path) -> openpyxl.Workbook:
    wb = _template(root, tmp_path, "投保")
    apply = wb["申请"]
    apply["B3"], apply["B4"], apply["B5"] = "T-SAMPLE", "境内", "GN-A"
    apply["B6"], apply["B7"] = future(), 2
    return wb


def _codes(data: dict) -> list[tuple]:
    return sorted((e["code"], e["sheet"], e["row"], e["column"]) for e in data["errors"])


def test_a_traveller_typed_over_the_sample_row_is_an_error_not_dropped(root, tmp_path):
    before = ledger_rows(root)
    wb = _issue_template(root, tmp_path)
    roster = wb["被保险人名单"]
    # The clerk types the first traveller over the sample row and leaves 序号 as it was.
    roster["B2"], roster["D2"], roster["G2"] = "张三", ID_M_1980, "13900001111"
    roster.append([2, "李四", "身份证", ID_M_1990])
    wb.save(root / "workbooks" / "GZ001" / "覆盖示例.xlsx")
    run_watcher(root, "process")
    data, out = result(root, "GZ001", "覆盖示例_结果")
    assert data["status"] == "failed" and data["policies"] == []
    assert _codes(data) == [("row.sample_filled", "被保险人名单", 2, "序号")]
    assert "姓名" in data["errors"][0]["message"] and "证件号码" in data["errors"][0]["message"]
    assert out["被保险人名单"]["A2"].fill.fgColor.rgb.endswith("FF9999")
    assert ledger_rows(root) == before


def test_the_sample_person_is_never_insured_whatever_its_serial(root, tmp_path):
    before = ledger_rows(root)
    wb = _issue_template(root, tmp_path)
    roster = wb["被保险人名单"]
    roster["A2"] = 1  # 序号 changed, the sample 王芳 left in place
    roster.append([2, "李四", "身份证", ID_M_1990])
    wb.save(root / "workbooks" / "GZ001" / "示例改号.xlsx")
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "示例改号_结果")
    assert data["status"] == "failed"
    assert _codes(data) == [("roster.sample_person", "被保险人名单", 2, "证件号码")]
    assert ledger_rows(root) == before


def test_the_sample_person_with_only_a_phone_changed_is_told_at_once_the_sample_cannot_be_insured(root, tmp_path):
    """Before, 'change 序号 to a number if this is to be processed', and doing so brought 'the sample person
    cannot be insured': two round trips for one row."""
    wb = _issue_template(root, tmp_path)
    roster = wb["被保险人名单"]
    roster["G2"] = "13900002222"  # the clerk's own phone over the sample's; the sample person left
    roster.append([1, "李四", "身份证", ID_M_1990])
    wb.save(root / "workbooks" / "GZ001" / "示例改电话.xlsx")
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "示例改电话_结果")
    assert _codes(data) == [("row.sample_person_filled", "被保险人名单", 2, "序号")]
    assert "示例人员不能投保" in data["errors"][0]["message"] and "真实的证件号码" in data["errors"][0]["message"]


def test_an_untouched_or_partly_cleared_sample_row_is_skipped(root, tmp_path):
    wb = _issue_template(root, tmp_path)
    roster = wb["被保险人名单"]
    roster["G2"] = None  # clearing a sample cell is fine: only other content is not
    roster.append([1, "张三", "身份证", ID_M_1980])
    wb.save(root / "workbooks" / "GZ001" / "保留示例.xlsx")
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "保留示例_结果")
    assert data["status"] == "success", data["errors"]
    assert data["policies"][0]["insured_count"] == 1


def test_admin_tables_follow_the_same_rule(root, tmp_path):
    before = ledger_rows(root)
    wb = _template(root, tmp_path, "机构")
    ws = wb["机构"]
    ws["B2"], ws["C2"] = "FS009", "佛山新旅行社"  # typed over the sample, 序号 still 示例
    wb.save(root / "workbooks" / "_admin" / "机构覆盖.xlsx")
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "机构覆盖_结果")
    assert data["status"] == "failed"
    assert _codes(data) == [("row.sample_filled", "机构", 2, "序号")]
    assert not (root / "workbooks" / "FS009").exists()
    assert ledger_rows(root) == before


def test_csv_rosters_follow_the_same_rule(root):
    start = future().strftime("%Y-%m-%d %H:%M")
    text = (
        f"操作类型,投保\n旅行团号,CSV-1\n区域,境内\n方案代码,GN-A\n生效时间,{start}\n天数,2\n\n"
        "序号,姓名,证件类型,证件号码\n"
        f"示例,王芳,身份证,{SAMPLE_ID}\n"
        f"范例,张三,身份证,{ID_M_1980}\n"
        f"1,李四,身份证,{ID_M_1990}\n"
    )
    (root / "workbooks" / "GZ001" / "名单.csv").write_text(text, encoding="utf-8")
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "名单_结果")
    assert data["status"] == "failed"
    assert _codes(data) == [("row.sample_filled", "被保险人名单", 10, "序号")]


def test_a_sample_row_left_as_it_was_in_another_form_is_still_the_sample(root, tmp_path):
    wb = _issue_template(root, tmp_path)
    roster = wb["被保险人名单"]
    roster["F2"] = "1949/12/31"  # the sample date retyped as text in another form
    roster["G2"] = 13800138000  # the sample phone as a number
    roster.append([1, "张三", "身份证", ID_M_1980])
    wb.save(root / "workbooks" / "GZ001" / "示例另一种写法.xlsx")
    wb = _template(root, tmp_path, "收费登记")
    wb["收费"]["C2"] = "1234.50"  # the sample amount as text
    wb["收费"]["E2"] = "2026/12/5"
    wb.save(root / "workbooks" / "_admin" / "收费示例.xlsx")
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "示例另一种写法_结果")
    assert data["status"] == "success", data["errors"]
    data, _ = result(root, "_admin", "收费示例_结果")
    assert [e["code"] for e in data["errors"]] == ["table.empty"]  # only the sample row: nothing to register


def test_a_blank_kept_from_before_the_channels_setting_changed_keeps_its_example_row_skipped(root, tmp_path):
    """The 对账确认 blank's example row holds the first 业务渠道 of the day it was made: after `channels`
    changed, the untouched row was 'filled with something other than the sample', and the advice (renumber
    it) would have confirmed the sample statement."""
    wb = _template(root, tmp_path, "对账确认")  # made with the default channels
    issue(root, "团A", "2026-11-20 08:00", n=2)
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    (root / "watcher.toml").write_text(
        'settle_seconds = 0\ntext_settle_seconds = 0\nchannels = ["直销渠道", "代理渠道"]\n', encoding="utf-8"
    )
    [number] = [row[0] for row in statements(root)]
    wb["对账确认"].append([1, number, "代理渠道", "张运营"])
    wb.save(root / "workbooks" / "_admin" / "确认.xlsx")
    run_watcher(root, "process", env={"WATCHER_FAKE_NOW": "2026-12-02T10:00:00+08:00"})
    data, _ = result(root, "_admin", "确认_结果")
    assert data["status"] == "success", data["errors"]
    assert [row[6] for row in statements(root)] == ["已确认"]


def test_a_sample_date_written_with_its_midnight_is_still_the_sample(root):
    """pandas, and LibreOffice for a date-time cell, write the sample's 出生日期 as 1949-12-31 00:00:00: the
    untouched sample row was refused as filled in, and the whole request with it."""
    from watcher.io.tables import sample_key

    assert {sample_key(v) for v in ("1949-12-31 00:00:00", "1949/12/31 0:00", "1949-12-31T00:00:00")} == {"1949-12-31"}
    assert sample_key("1949-12-31 08:00") != "1949-12-31"
    start = future().strftime("%Y-%m-%d %H:%M")
    text = (
        f"操作类型,投保\n旅行团号,CSV-1\n区域,境内\n方案代码,GN-A\n生效时间,{start}\n天数,2\n\n"
        "序号,姓名,证件类型,证件号码,性别,出生日期,联系电话,备注\n"
        f"示例,王芳,身份证,{SAMPLE_ID},女,1949-12-31 00:00:00,13800138000,\n"
        f"1,李四,身份证,{ID_M_1990},,,,\n"
    )
    (root / "workbooks" / "GZ001" / "导出.csv").write_text(text, encoding="utf-8")
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "导出_结果")
    assert data["status"] == "success", data["errors"]
    assert data["policies"][0]["insured_count"] == 1


def test_rows_numbered_ahead_and_left_empty_are_blank_rows(root, tmp_path):
    """Clerks fill 序号 1–20 down the template first and then type the people: the rows left with only their
    number were each refused as 姓名没有填写, and the whole request with them."""
    wb = _issue_template(root, tmp_path)
    roster = wb["被保险人名单"]
    roster.append([1, "张三", "身份证", ID_M_1980])
    for n in range(2, 21):
        roster.append([n] if n % 2 else [str(n)])
    wb.save(root / "workbooks" / "GZ001" / "先编号.xlsx")
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "先编号_结果")
    assert data["status"] == "success", data["errors"]
    assert data["policies"][0]["insured_count"] == 1
