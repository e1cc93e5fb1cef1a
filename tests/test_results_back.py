"""Results dropped back into a drop folder, and one tour group insured twice.

A result of a request that changed the ledger changes nothing again and says what it is; a failed
result (or a quote) fixed in place in Excel and dropped back is processed as the corrected request.
The result workbooks are opened and saved again with openpyxl, as a clerk's Excel would."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
from helpers import (
    ID_M_1980,
    ID_M_1990,
    future,
    issue_fields,
    ledger_rows,
    people,
    plan_workbook,
    result,
    run_watcher,
    summary_values,
    write_request,
)

OUT = ("outbox", "GZ001")


def _drop(root: Path, name: str, fields: dict, roster=None, head=None) -> Path:
    return write_request(root / "workbooks" / "GZ001" / name, fields, roster, head)


def _resave(source: Path, target: Path) -> Path:
    """Open the workbook and save it again, as a clerk does in Excel."""
    wb = openpyxl.load_workbook(source)
    wb.save(target)
    return target


def _codes(items: list[dict]) -> list[tuple]:
    return sorted((e["code"], e["sheet"], e["row"], e["column"]) for e in items)


def test_a_result_of_an_issued_group_dropped_back_changes_nothing_and_says_what_it_is(root):
    _drop(root, "团A.xlsx", issue_fields(), people(3))
    run_watcher(root, "process")
    first, _ = result(root, "GZ001", "团A_结果")
    before = ledger_rows(root)
    # Dragged from the outbox as it is, and once more after opening and saving it in "Excel".
    shutil.copy(root.joinpath(*OUT, "团A_结果.xlsx"), root / "workbooks" / "GZ001" / "团A_结果.xlsx")
    _resave(root.joinpath(*OUT, "团A_结果.xlsx"), root / "workbooks" / "GZ001" / "同事又放了一次.xlsx")
    run_watcher(root, "process")
    for stem in ("团A_结果_结果", "同事又放了一次_结果"):
        data, wb = result(root, "GZ001", stem)
        assert data["status"] == "failed" and data["policies"] == [] and data["action"] == "投保"
        assert _codes(data["errors"]) == [("result.dropped_back", None, None, None)]
        assert first["policies"][0]["policy_no"] in data["errors"][0]["message"]
        assert summary_values(wb)["状态"] == "失败"
    assert ledger_rows(root) == before
    assert len(list(root.joinpath(*OUT).glob("电子保单_*.html"))) == 1
    # A 批改's result says which policy it issued and which it cancelled, never both as issued.
    old = first["policies"][0]["policy_no"]
    _drop(root, "批改.xlsx", {"操作类型": "批改", "保单号": old, "天数": 4}, None)
    run_watcher(root, "process")
    amended, _ = result(root, "GZ001", "批改_结果")
    new = amended["policies"][0]["policy_no"]
    shutil.copy(root.joinpath(*OUT, "批改_结果.xlsx"), root / "workbooks" / "GZ001" / "批改_结果.xlsx")
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "批改_结果_结果")
    assert f"（出单 {new}；撤销保单 {old}）" in data["errors"][0]["message"], data["errors"][0]["message"]


def test_the_same_tour_group_with_the_same_people_is_an_error_another_group_a_warning(root):
    _drop(root, "第一次.xlsx", issue_fields(旅行团号="GZ-T9"), people(2))
    run_watcher(root, "process")
    first, _ = result(root, "GZ001", "第一次_结果")
    number = first["policies"][0]["policy_no"]
    before = ledger_rows(root)
    _drop(root, "同团再投.xlsx", issue_fields(旅行团号="GZ-T9"), people(3))
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "同团再投_结果")
    assert data["status"] == "failed"
    assert _codes(data["errors"]) == [
        ("roster.same_group", "被保险人名单", 2, "证件号码"),
        ("roster.same_group", "被保险人名单", 3, "证件号码"),
    ]
    message = data["errors"][0]["message"]
    assert number in message and "加人" in message and "批改" in message and "换人" in message
    assert ledger_rows(root) == before
    _drop(root, "别的团.xlsx", issue_fields(旅行团号="GZ-T10"), people(2))
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "别的团_结果")
    assert data["status"] == "success"
    assert _codes(data["warnings"]) == [
        ("roster.overlap", "被保险人名单", 2, "证件号码"),
        ("roster.overlap", "被保险人名单", 3, "证件号码"),
    ]


def test_a_failed_result_fixed_in_place_and_dropped_back_is_the_corrected_request(root):
    start = future(days=8)
    bad_id = ID_M_1980[:-1] + ("1" if ID_M_1980[-1] != "1" else "2")
    _drop(
        root,
        "错团.xlsx",
        issue_fields(生效时间=start.replace(minute=30)),
        [[1, "张三", "身份证", bad_id], [2, "李四", "身份证", ID_M_1990]],
    )
    run_watcher(root, "process")
    failed, wb = result(root, "GZ001", "错团_结果")
    assert failed["status"] == "failed"
    assert _codes(failed["errors"]) == [
        ("field.effective_hour", "申请", 5, "生效时间"),
        ("id.checksum", "被保险人名单", 2, "证件号码"),
    ]
    assert "放回" in summary_values(wb)["改正方法"] and "添加的保费、错误说明列" in summary_values(wb)["改正方法"]
    # The echoed roster keeps the template's text ID column and its dropdowns.
    roster = wb["被保险人名单"]
    assert roster.column_dimensions["D"].number_format == "@"
    ranges = {str(dv.sqref).split(":")[0]: dv for dv in roster.data_validations.dataValidation}
    assert ranges["C2"].type == "list" and ranges["E2"].formula1 == '"男,女"'
    # Nobody was insured, the row without an error neither: said in its 保费 cell, not left empty as if issued.
    assert [roster.cell(1, 9).value, roster["I2"].value, roster["I3"].value] == ["保费", "未投保", "未投保"]
    # The clerk fixes the red cells in the result itself and drops it back.
    wb["申请"]["B5"] = start
    roster["D2"] = ID_M_1980
    wb.save(root / "workbooks" / "GZ001" / "错团_结果.xlsx")
    run_watcher(root, "process")
    fixed, again = result(root, "GZ001", "错团_结果_结果")
    assert fixed["status"] == "success", fixed["errors"]
    assert fixed["policies"][0]["insured_count"] == 2 and fixed["premium_total"] == "10.00"
    echoed = again["被保险人名单"]
    assert [echoed.cell(1, c).value for c in (9, 10)] == ["保费", "错误说明"]  # the same columns, reused
    assert echoed["J2"].value is None and echoed["I2"].value == 5  # the old error text is gone
    assert "结果汇总" in again.sheetnames and "原结果汇总" not in again.sheetnames


def test_a_quote_result_becomes_an_issue_when_its_action_is_changed(root):
    _drop(root, "报价.xlsx", issue_fields(操作类型="试算"), people(2))
    run_watcher(root, "process")
    quote, wb = result(root, "GZ001", "报价_结果")
    assert quote["status"] == "quote" and "投保" in summary_values(wb)["如需出单"]
    wb["申请"]["B1"] = "投保"
    wb.save(root / "workbooks" / "GZ001" / "报价_结果.xlsx")
    run_watcher(root, "process")
    issued, _ = result(root, "GZ001", "报价_结果_结果")
    assert issued["status"] == "success" and issued["policies"][0]["policy_no"].startswith("LY")
    assert issued["premium_total"] == quote["premium_total"] and not issued["warnings"], issued["warnings"]


def test_a_quote_issued_after_the_rates_changed_says_both_premiums(root):
    """A 试算 turned into 投保 after staff raised the plan's rates: issued at today's rates with 成功 and no
    word, while the workbook the clerk turned still showed the quote they gave the customer (attack W)."""
    _drop(root, "报价.xlsx", issue_fields(操作类型="试算"), people(2))
    run_watcher(root, "process")
    quote, wb = result(root, "GZ001", "报价_结果")
    assert quote["status"] == "quote" and quote["premium_total"] == "10.00"
    plan_workbook(root / "workbooks" / "_admin" / "方案.xlsx", bands=((1, 3, 6), (4, 30, 10)))
    run_watcher(root, "process")
    wb["申请"]["B1"] = "投保"
    wb.save(root / "workbooks" / "GZ001" / "报价_结果.xlsx")
    run_watcher(root, "process")
    issued, book = result(root, "GZ001", "报价_结果_结果")
    assert issued["status"] == "success" and issued["premium_total"] == "12.00", issued
    [said] = [w for w in issued["warnings"] if w["code"] == "result.quote_repriced"]
    assert "10.00" in said["message"] and "12.00" in said["message"], said
    cells = [str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row if c]
    assert any("试算时保费合计 10.00 元" in c for c in cells), cells[:40]


def test_a_repriced_quote_still_open_in_excel_says_both_after_a_crash_before_its_outputs(root):
    """Both warnings were added after the commit, and the result the commit records had neither: after a
    crash between the commit and the outputs, the result rebuilt from it said 成功 at the new premium with
    no word of the quote (review Z)."""
    _drop(root, "报价.xlsx", issue_fields(操作类型="试算"), people(2))
    run_watcher(root, "process")
    _, wb = result(root, "GZ001", "报价_结果")
    plan_workbook(root / "workbooks" / "_admin" / "方案.xlsx", bands=((1, 3, 6), (4, 30, 10)))
    run_watcher(root, "process")
    wb["申请"]["B1"] = "投保"
    folder = root / "workbooks" / "GZ001"
    wb.save(folder / "报价_结果.xlsx")
    (folder / "~$报价_结果.xlsx").write_bytes(b"\x06clerk")
    killed = run_watcher(root, "process", env={"WATCHER_CRASH_AT": "after_commit"}, check=False)
    assert killed.returncode != 0 and not (root / "outbox" / "GZ001" / "报价_结果_结果.json").exists()
    run_watcher(root, "process")
    issued, _ = result(root, "GZ001", "报价_结果_结果")
    assert issued["status"] == "success" and issued["premium_total"] == "12.00", issued
    codes = sorted(w["code"] for w in issued["warnings"])
    assert codes == ["file.open_in_editor", "result.quote_repriced"], issued["warnings"]


def test_outputs_that_are_no_requests_are_refused_for_what_they_are(root):
    _drop(root, "团Q.xlsx", issue_fields(), people(1))
    run_watcher(root, "process")
    _drop(root, "查询.xlsx", {"操作类型": "保单查询"})
    run_watcher(root, "process")
    before = ledger_rows(root)
    _resave(root.joinpath(*OUT, "查询_结果.xlsx"), root / "workbooks" / "GZ001" / "查询结果放回.xlsx")
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "查询结果放回_结果")
    assert _codes(data["errors"]) == [("result.not_resubmittable", None, None, None)]
    assert ledger_rows(root) == before


def test_the_apply_sheet_echo_shows_the_time_as_written_to_the_minute_with_the_error_beside_it(root):
    start = future(days=5).replace(minute=30)
    _drop(root, "半点.xlsx", issue_fields(生效时间=start), people(1))
    run_watcher(root, "process")
    _, wb = result(root, "GZ001", "半点_结果")
    apply = wb["申请"]
    cell = apply["B5"]
    assert cell.value == start and cell.number_format == "yyyy-mm-dd hh:mm"
    assert cell.fill.fgColor.rgb.endswith("FF9999")
    assert apply.column_dimensions["B"].width >= 16  # no ### in Excel
    assert apply["C1"].value == "错误说明" and "整点" in apply["C5"].value


def test_the_red_id_cell_to_retype_is_text(root):
    bad_id = ID_M_1980[:-1] + ("1" if ID_M_1980[-1] != "1" else "2")
    _drop(root, "错号.xlsx", issue_fields(), [[1, "张三", "身份证", bad_id]])
    run_watcher(root, "process")
    _, wb = result(root, "GZ001", "错号_结果")
    cell = wb["被保险人名单"]["D2"]
    assert cell.fill.fgColor.rgb.endswith("FF9999") and cell.number_format == "@"


def test_the_clerks_own_premium_column_is_kept_and_ours_added_beside(root):
    head = ["序号", "姓名", "证件类型", "证件号码", "保费"]
    _drop(
        root,
        "自带保费.xlsx",
        issue_fields(),
        [[1, "张三", "身份证", ID_M_1980, 199], [2, "李四", "身份证", ID_M_1990[:-1] + "9", 299]],
        head=head,
    )
    run_watcher(root, "process")
    failed, wb = result(root, "GZ001", "自带保费_结果")
    roster = wb["被保险人名单"]
    assert [roster.cell(1, c).value for c in (5, 6, 7)] == ["保费", "核定保费", "错误说明"]
    assert roster["E2"].value == 199 and roster["E3"].value == 299  # theirs, untouched
    roster["D3"] = ID_M_1990  # fixed in place, dropped back
    wb.save(root / "workbooks" / "GZ001" / "自带保费_结果.xlsx")
    run_watcher(root, "process")
    fixed, again = result(root, "GZ001", "自带保费_结果_结果")
    assert fixed["status"] == "success", fixed["errors"]
    roster = again["被保险人名单"]
    assert [roster.cell(1, c).value for c in (5, 6, 7)] == ["保费", "核定保费", "错误说明"]
    assert (roster["E2"].value, roster["F2"].value, roster["G3"].value) == (199, 5, None)


def test_a_result_that_holds_nothing_to_fix_says_so(root):
    _drop(root, "团.xlsx", issue_fields(), people(1))
    run_watcher(root, "process")
    shutil.copy(root.joinpath(*OUT, "团_结果.xlsx"), root / "workbooks" / "GZ001" / "再放.xlsx")
    run_watcher(root, "process")
    shutil.copy(root.joinpath(*OUT, "再放_结果.xlsx"), root / "workbooks" / "GZ001" / "又放.xlsx")
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "又放_结果")
    assert _codes(data["errors"]) == [("result.nothing_to_fix", None, None, None)]


def test_a_failed_result_keeps_the_template_s_text_columns_and_dropdowns_for_the_fix(root):
    """Fixed in place in Excel: 联系电话 lost its text format (a landline's leading 0 went), and the
    证件类型 dropdown stopped 200 rows below the roster where the template's reaches row 2001."""
    roster = people(2)
    roster[1][3] = "123"  # a wrong ID: the result fails
    _drop(root, "改正.xlsx", issue_fields(), roster)
    run_watcher(root, "process")
    data, wb = result(root, "GZ001", "改正_结果")
    assert data["status"] == "failed"
    sheet = wb["被保险人名单"]
    head = [c.value for c in sheet[1]]
    phone = openpyxl.utils.get_column_letter(head.index("联系电话") + 1)
    assert sheet.column_dimensions[phone].number_format == "@"
    kind = openpyxl.utils.get_column_letter(head.index("证件类型") + 1)
    [rule] = [v for v in sheet.data_validations.dataValidation if str(v.sqref).startswith(kind)]
    assert int(str(rule.sqref).split(":")[1][len(kind) :]) >= 2001, rule.sqref
    # The 方案代码 the clerk may have to change keeps a dropdown of the agency's plans, as the template's.
    apply = wb["申请"]
    [row] = [r for r in range(1, apply.max_row + 1) if apply.cell(r, 1).value == "方案代码"]
    lists = {str(v.sqref): v.formula1 for v in apply.data_validations.dataValidation}
    assert lists.get(f"B{row}") == '"GN-A,GW-B"', lists


def test_a_notice_of_a_file_never_taken_dropped_back_is_not_called_altered(root):
    """Staff drop a 未受理 notice into _admin: it said the summary's SHA-256 had been changed (the notice
    never had one: the file was never taken)."""
    write_request(root / "workbooks" / "XX999" / "错放.xlsx", issue_fields(), people(1))
    run_watcher(root, "process")
    [notice] = list((root / "outbox" / "_admin").glob("未受理_*.xlsx"))
    shutil.copy(notice, root / "workbooks" / "_admin" / "通知.xlsx")
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "通知_结果")
    assert _codes(data["errors"]) == [("result.nothing_to_fix", None, None, None)]
    assert "改动" not in data["errors"][0]["message"]


def test_the_same_group_in_an_endorsement_and_whatever_the_case_of_the_group(root):
    _drop(root, "团.xlsx", issue_fields(旅行团号="GZ-T9"), people(2))
    run_watcher(root, "process")
    number = result(root, "GZ001", "团_结果")[0]["policies"][0]["policy_no"]
    _drop(root, "小写.xlsx", issue_fields(旅行团号="gz-t9"), people(2))
    _drop(root, "加人.xlsx", {"操作类型": "加人", "保单号": number}, people(3)[2:])
    run_watcher(root, "process")
    assert _codes(result(root, "GZ001", "小写_结果")[0]["errors"])[0][0] == "roster.same_group"
    assert result(root, "GZ001", "加人_结果")[0]["status"] == "success"
    again = [row[:6] + ["13900000000", "再加一次"] for row in people(3)[2:]]  # other bytes, the same person
    _drop(root, "再加.xlsx", {"操作类型": "加人", "保单号": number}, again)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "再加_结果")
    assert _codes(data["errors"]) == [("roster.in_group_policy", "被保险人名单", 2, "证件号码")]


def test_a_failed_result_fixed_after_a_column_was_inserted_keeps_the_clerks_columns(root):
    """A clerk opened the failed result, inserted a column (房号) before the roster and fixed the wrong cell.
    The result's 保费 and 错误说明 columns were emptied by the positions the result recorded, now the
    clerk's 备注 and the column after it: every 备注 was lost, the premiums written into 备注, and the old
    error left in a 成功 result. They are found by their headers once the positions no longer hold them."""
    bad_id = ID_M_1980[:-1] + ("1" if ID_M_1980[-1] != "1" else "2")
    head = ["序号", "姓名", "证件类型", "证件号码", "性别", "出生日期", "联系电话", "备注"]
    rows = [
        [1, "张三", "身份证", bad_id, None, None, None, "素食"],
        [2, "李四", "身份证", ID_M_1990, None, None, None, "靠窗"],
    ]
    _drop(root, "插列.xlsx", issue_fields(), rows, head)
    run_watcher(root, "process")
    failed, wb = result(root, "GZ001", "插列_结果")
    assert failed["status"] == "failed" and [e["code"] for e in failed["errors"]] == ["id.checksum"]
    roster = wb["被保险人名单"]
    assert [roster.cell(1, c).value for c in (9, 10)] == ["保费", "错误说明"]
    roster.insert_cols(1)  # a 房号 column before everything; the recorded positions are now 备注's and 保费's
    roster["A1"], roster["A2"], roster["A3"] = "房号", 301, 302
    roster["E2"] = ID_M_1980
    assert roster["I2"].value == "素食" and roster["K2"].value  # 备注 moved to I, the old error to K
    wb.save(root / "workbooks" / "GZ001" / "插列_结果.xlsx")
    run_watcher(root, "process")
    fixed, again = result(root, "GZ001", "插列_结果_结果")
    assert fixed["status"] == "success", fixed["errors"]
    notes = ledger_rows(root)
    assert "素食" in str(notes) and "靠窗" in str(notes), "the clerk's 备注 reached the ledger"
    echoed = again["被保险人名单"]
    heads = [echoed.cell(1, c).value for c in range(1, 12)]
    assert heads == ["房号", *head, "保费", "错误说明"]
    assert [echoed.cell(r, 9).value for r in (2, 3)] == ["素食", "靠窗"]  # 备注 kept, not premiums
    assert [echoed.cell(r, 10).value for r in (2, 3)] == [5, 5]
    assert [echoed.cell(r, 11).value for r in (2, 3)] == [None, None], "no stale error in a 成功 result"


def test_the_clerks_own_premium_and_error_columns_survive_when_ours_were_deleted(root):
    """The clerk's roster has its own 保费 and 错误说明; the result added 核定保费 and 错误说明（本次）. The clerk
    deleted those two, fixed the ID and dropped it back: the clerk's own columns were taken for ours,
    emptied, and our premium written into the clerk's 保费."""
    bad_id = ID_M_1980[:-1] + ("1" if ID_M_1980[-1] != "1" else "2")
    head = ["序号", "姓名", "证件类型", "证件号码", "保费", "错误说明"]
    rows = [[1, "张三", "身份证", bad_id, 99, "上次OK"], [2, "李四", "身份证", ID_M_1990, 88, "上次错了"]]
    _drop(root, "自有列.xlsx", issue_fields(), rows, head)
    run_watcher(root, "process")
    failed, wb = result(root, "GZ001", "自有列_结果")
    assert failed["status"] == "failed"
    roster = wb["被保险人名单"]
    assert [roster.cell(1, c).value for c in (7, 8)] == ["核定保费", "错误说明（本次）"]
    roster.delete_cols(7, 2)
    roster["D2"] = ID_M_1980
    wb.save(root / "workbooks" / "GZ001" / "自有列_结果.xlsx")
    run_watcher(root, "process")
    fixed, again = result(root, "GZ001", "自有列_结果_结果")
    assert fixed["status"] == "success", fixed["errors"]
    echoed = again["被保险人名单"]
    assert [echoed.cell(r, 5).value for r in (2, 3)] == [99, 88], "the clerk's 保费 kept"
    assert [echoed.cell(r, 6).value for r in (2, 3)] == ["上次OK", "上次错了"], "the clerk's 错误说明 kept"
    assert [echoed.cell(1, c).value for c in (7, 8)] == ["核定保费", "错误说明（本次）"]
    assert [echoed.cell(r, 7).value for r in (2, 3)] == [5, 5]


def test_a_workbook_still_open_in_excel_is_issued_and_its_result_says_so(root):
    """A clerk filling the roster in the drop folder itself, saving as they go: the first save was issued
    for the travellers typed so far, and nothing said the workbook was still open (attack W). Excel's lock
    file beside it (`~$团Y.xlsx`, LibreOffice's `.~lock.团Y.xlsx#`) is said in the result; the lock file
    itself is ignored, as SPEC says."""
    folder = root / "workbooks" / "GZ001"
    (folder / "~$团Y.xlsx").write_bytes(b"\x06clerk" + b" " * 48)
    _drop(root, "团Y.xlsx", issue_fields(旅行团号="TY"), people(2))
    (folder / ".~lock.团Z.xlsx#").write_text(",clerk,PC,03.12.2026 10:00,file:///C:/clerk;", encoding="utf-8")
    _drop(root, "团Z.xlsx", issue_fields(旅行团号="TZ"), people(4)[2:])
    _drop(root, "团W.xlsx", issue_fields(旅行团号="TW"), people(6)[4:])
    run_watcher(root, "process")
    for name, lock in (("团Y", "~$团Y.xlsx"), ("团Z", ".~lock.团Z.xlsx#")):
        data, path = result(root, "GZ001", f"{name}_结果")
        assert data["status"] == "success", data["errors"]
        said = [w for w in data["warnings"] if w["code"] == "file.open_in_editor"]
        assert said and lock in said[0]["message"] and "加人" in said[0]["message"], data["warnings"]
        cells = [str(c) for ws in path.worksheets for row in ws.iter_rows(values_only=True) for c in row if c]
        assert any(lock in c and "Excel 或 WPS 中打开" in c for c in cells), cells[:40]
        assert (folder / lock).exists()
    data, _ = result(root, "GZ001", "团W_结果")
    assert data["status"] == "success" and not data["warnings"], data["warnings"]
    assert not list(root.glob("outbox/GZ001/*lock*")) and not list(root.glob("outbox/GZ001/~$*"))
    # Said only where who is covered follows the roster as read: a refused 投保 issued nothing, and a 撤单
    # has no roster (both were told to 加人 "whoever was not handled": review Z).
    (folder / "~$团V.xlsx").write_bytes(b"\x06clerk")
    _drop(root, "团V.xlsx", issue_fields(旅行团号="TV", 方案代码="NO-SUCH"), people(8)[6:])
    (folder / "~$撤.xlsx").write_bytes(b"\x06clerk")
    policy_no = result(root, "GZ001", "团W_结果")[0]["policies"][0]["policy_no"]
    _drop(root, "撤.xlsx", {"操作类型": "撤单", "保单号": policy_no})
    run_watcher(root, "process")
    refused, _ = result(root, "GZ001", "团V_结果")
    cancelled, _ = result(root, "GZ001", "撤_结果")
    assert refused["status"] == "failed" and cancelled["status"] == "success", (refused, cancelled)
    for data in (refused, cancelled):
        assert not [w for w in data["warnings"] if w["code"] == "file.open_in_editor"], data["warnings"]
