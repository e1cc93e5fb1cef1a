"""Admin actions from workbooks/_admin: 方案 (new plan versions) and 机构 (agencies and their folders)."""

from __future__ import annotations

import json
import shutil

import openpyxl
from helpers import (
    agency_workbook,
    issue_fields,
    ledger_query,
    ledger_rows,
    people,
    plan_workbook,
    result,
    run_watcher,
    summary_values,
    write_request,
)


def test_a_plan_upload_is_a_new_version_and_issued_policies_keep_theirs(root):
    write_request(root / "workbooks" / "GZ001" / "旧价.xlsx", issue_fields(), people(2))
    run_watcher(root, "process")
    old, _ = result(root, "GZ001", "旧价_结果")
    assert old["policies"][0]["premium"] == "10.00"

    plan_workbook(root / "workbooks" / "_admin" / "新费率.xlsx", bands=((1, 3, 6.5), (4, 30, 9)))
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "新费率_结果")
    assert data["status"] == "success" and data["agency"] == "_admin" and data["action"] == "方案"

    write_request(root / "workbooks" / "GZ001" / "新价.xlsx", issue_fields(旅行团号="T-NEW"), people(2))
    run_watcher(root, "process")
    new, _ = result(root, "GZ001", "新价_结果")
    assert new["policies"][0]["premium"] == "13.00"
    rows = ledger_rows(root)
    versions = {r[0]: r[6] for r in rows["policies"]}  # policy_no → plan_version
    assert versions[old["policies"][0]["policy_no"]] != versions[new["policies"][0]["policy_no"]]
    # 加人 onto the old policy: priced at today's rates, and the result says why the group has two prices.
    number = old["policies"][0]["policy_no"]
    write_request(root / "workbooks" / "GZ001" / "加人.xlsx", {"操作类型": "加人", "保单号": number}, people(3)[2:])
    run_watcher(root, "process")
    added, _ = result(root, "GZ001", "加人_结果")
    assert added["status"] == "success" and added["policies"][0]["premium"] == "6.50", added
    assert any("费率在原保单出单后已更新" in n and number in n for n in added["notes"]), added["notes"]
    # The same rates uploaded again (a new version, nothing repriced): a 加人 onto the policy priced under the
    # version before says nothing of rates.
    new_no = new["policies"][0]["policy_no"]
    plan_workbook(root / "workbooks" / "_admin" / "同价.xlsx", bands=((1, 3, 6.5), (4, 30, 9)), name="境内A款（重传）")
    run_watcher(root, "process")
    assert result(root, "_admin", "同价_结果")[0]["status"] == "success"
    write_request(root / "workbooks" / "GZ001" / "再加.xlsx", {"操作类型": "加人", "保单号": new_no}, people(4)[3:])
    run_watcher(root, "process")
    again, _ = result(root, "GZ001", "再加_结果")
    assert again["status"] == "success" and not any("费率" in n for n in again["notes"]), again["notes"]


def test_bad_plan_uploads_are_refused_with_every_problem_and_change_nothing(root):
    before = ledger_rows(root)
    plan_workbook(
        root / "workbooks" / "_admin" / "缺口.xlsx",
        code="GN-X",
        bands=((1, 3, 5), (5, 20, 9)),  # 4 missing in the middle; 21–30 missing at the end
        region="国外",
        covers=(),
    )
    plan_workbook(
        root / "workbooks" / "_admin" / "重叠.xlsx",
        code="GN-Y",
        bands=((1, 5, 5), (4, 30, 9), (31, 40, 1)),
        factors=((60, 70, 1.2), (65, 80, 0)),
    )
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "缺口_结果")
    codes = {(e["sheet"], e["column"]) for e in data["errors"]}
    assert ("方案", "区域") in codes and ("方案", "方案代码") in codes
    gaps = {(e["sheet"], e["row"], e["column"]): e["message"] for e in data["errors"] if e["code"] == "plan.band_gap"}
    # A gap in the middle is marked on the 费率 row after it (where a row is missing), one at the end beside
    # 最长天数 (add bands or shorten it).
    assert "4–4" in gaps[("费率", 3, "天数下限")] and "21–30" in gaps[("方案", 3, "最长天数")], gaps
    data, _ = result(root, "_admin", "重叠_结果")
    codes = {e["code"] for e in data["errors"]}
    assert codes == {"plan.band_overlap", "plan.band_beyond", "plan.factor"}, codes
    assert ledger_rows(root) == before


def test_a_plan_with_absurd_amounts_or_factors_is_refused_cell_by_cell(root):
    """An amount of 10^17 yuan stopped the file with 内部错误（OverflowError）; a factor of 0.0001 priced an
    infant at 0.00; a 年龄系数 row read 最低年龄/最高年龄; rows there but each wrong also said "no rates"."""
    before = ledger_rows(root)
    plan_workbook(
        root / "workbooks" / "_admin" / "离谱.xlsx",
        code="BIG1",
        bands=((1, 30, "100000000000000000"),),
        factors=((0, 2, 0.0001), (10, 5, 1.2)),
        covers=(("意外身故", 10**17),),
    )
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "离谱_结果")
    assert data["status"] == "failed"
    found = {(e["code"], e["sheet"], e["row"], e["column"]) for e in data["errors"]}
    assert found == {
        ("plan.money", "费率", 2, "每人保费"),
        ("plan.money", "保障", 2, "保额"),
        ("plan.factor", "年龄系数", 2, "系数"),
        ("plan.factor_age_order", "年龄系数", 3, "年龄上限"),
    }, found
    messages = {e["code"]: e["message"] for e in data["errors"]}
    assert "100 亿" in messages["plan.money"] and "年龄下限 10 大于年龄上限 5" == messages["plan.factor_age_order"]
    # A price of a fraction of a fen: said on its cell, and only there (the plan was also told its rates
    # skipped days 1–3, on the next band's row).
    plan_workbook(root / "workbooks" / "_admin" / "半分.xlsx", code="HALF1", bands=((1, 3, "10.005"), (4, 30, 9)))
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "半分_结果")
    assert [(e["code"], e["row"], e["column"]) for e in data["errors"]] == [("plan.money", 2, "每人保费")], data
    assert ledger_rows(root) == before


def test_a_plan_result_numbers_each_plans_own_versions(root):
    """The JSON's version was the ledger's id shared by all plans: GN-A's third upload read 版本 6."""
    versions = []
    for name, code in (("一", "GN-A"), ("二", "X1"), ("三", "GN-A"), ("四", "X1")):
        plan_workbook(root / "workbooks" / "_admin" / f"{name}.xlsx", code=code, name=f"{code} 方案{name}")
        run_watcher(root, "process")
        data, _ = result(root, "_admin", f"{name}_结果")
        assert data["status"] == "success", data["errors"]
        [plan] = data["plans"]
        versions.append((plan["code"], plan["version"]))
        assert plan["version_id"] > 0
    assert versions == [("GN-A", 2), ("X1", 1), ("GN-A", 3), ("X1", 2)]  # the demo desk's GN-A is its first


def test_an_admin_file_dropped_again_gives_its_first_result_again_not_a_policy_note(root):
    """The same 机构 bytes again: 重复提交, with what the first result carried (its agencies) and a note that
    promised policies there were none of."""
    path = agency_workbook(
        root / "workbooks" / "_admin" / "登记.xlsx", [[1, "SZ002", "深圳测试旅行社", "9144", "XY-2", "GN-A", "合作中"]]
    )
    data = path.read_bytes()
    run_watcher(root, "process")
    first, _ = result(root, "_admin", "登记_结果")
    (root / "workbooks" / "_admin" / "登记.xlsx").write_bytes(data)
    run_watcher(root, "process")
    again, wb = result(root, "_admin", "登记_结果_2")
    assert again["status"] == "duplicate" and again["agencies"] == first["agencies"]
    note = summary_values(wb)["说明"]
    assert "保单" not in note and "未做任何变更" in note


def test_registering_an_agency_creates_its_folders_and_it_can_then_issue(root):
    agency_workbook(
        root / "workbooks" / "_admin" / "机构.xlsx",
        [
            [
                "示例",
                "GZ001",
                "广州示例国际旅行社有限公司",
                "91440101MA5XXXXXXX",
                "LY-2026-001",
                "GN-A、GW-B",
                "合作中",
            ],
            [1, "SZ002", "深圳测试旅行社", "9144", "XY-2", "GN-A，GW-B", "合作中"],
        ],
    )
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "机构_结果")
    assert data["status"] == "success", data["errors"]
    assert (root / "workbooks" / "SZ002").is_dir() and (root / "outbox" / "SZ002").is_dir()
    assert [a["code"] for a in data["agencies"]] == ["SZ002"]  # the sample row was skipped
    write_request(root / "workbooks" / "SZ002" / "深圳团.xlsx", issue_fields(方案代码="GW-B", 区域="境外"), people(1))
    run_watcher(root, "process")
    data, _ = result(root, "SZ002", "深圳团_结果")
    assert data["status"] == "success" and data["policies"][0]["premium"] == "40.00"


def test_codes_typed_full_width_are_the_codes_in_agencies_and_requests(root):
    """ＧＮ－Ａ (a Chinese input method's full width) was 「不存在」 in 可用方案 and in a 投保's 方案代码, looking
    the same on screen as the GN-A listed beside it; the 方案 upload already took it as GN-A."""
    agency_workbook(
        root / "workbooks" / "_admin" / "机构.xlsx",
        [[1, "ＨＺ００８", "杭州八", "9144", "XY-8", "ＧＮ－Ａ、ｇｗ－ｂ", "合作中"]],
    )
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "机构_结果")
    assert data["status"] == "success", data["errors"]
    assert [(a["code"], a["plans"]) for a in data["agencies"]] == [("HZ008", ["GN-A", "GW-B"])], data["agencies"]
    write_request(root / "workbooks" / "HZ008" / "团.xlsx", issue_fields(方案代码="ＧＮ－Ａ "), people(1))
    run_watcher(root, "process")
    data, _ = result(root, "HZ008", "团_结果")
    assert data["status"] == "success" and data["policies"][0]["plan"] == "GN-A", data["errors"]


def test_a_new_agency_under_a_licence_another_agency_holds_is_warned_of(root):
    """A new code with GZ001's 营业执照号 (a terminated agency back under a new code), and two new codes with
    one licence in one file: each 成功 with no word."""
    licence = ledger_query(root, "SELECT license_no FROM agencies WHERE code = 'GZ001'")[0][0]
    assert licence
    agency_workbook(
        root / "workbooks" / "_admin" / "机构.xlsx",
        [
            [1, "HZ011", "杭州十一", licence, "XY-11", "GN-A", "合作中"],
            [2, "SZ002", "深圳二", "91440300MA5ABCDE12", "XY-2", "GN-A", "合作中"],
            [3, "SZ003", "深圳三", "91440300MA5ABCDE12", "XY-3", "GN-A", "合作中"],
        ],
    )
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "机构_结果")
    assert data["status"] == "success", data["errors"]
    said = sorted((w["row"], w["code"]) for w in data["warnings"])
    assert said == [(2, "agency.license_taken"), (4, "agency.license_taken")], data["warnings"]
    assert "GZ001" in data["warnings"][0]["message"] or "GZ001" in data["warnings"][1]["message"]


def test_a_table_of_another_action_in_an_admin_file_is_said_to_be_left_alone(root):
    """A 方案 sheet added to a 机构 file (申请 says 机构): the agencies were saved and the plan sheet passed over
    in silence; staff took the plan for updated."""
    path = agency_workbook(
        root / "workbooks" / "_admin" / "机构加方案.xlsx", [[1, "SZ002", "深圳二", "9144", "XY-2", "GN-A", "合作中"]]
    )
    wb = openpyxl.load_workbook(path)
    plans = wb.create_sheet("方案")
    plans.append(["序号", "方案代码", "方案名称", "区域", "最低年龄", "最高年龄", "最长天数"])
    plans.append([1, "GN-A", "改名", "境内", 0, 80, 30])
    wb.save(path)
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "机构加方案_结果")
    assert data["status"] == "success", data["errors"]
    [said] = [w for w in data["warnings"] if w["code"] == "file.other_tables"]
    assert "“方案”" in said["message"] and "没有处理" in said["message"]


def test_a_column_an_admin_table_does_not_have_is_said_and_a_date_for_later_is_refused(root):
    """A 生效日期 column added to a 方案 upload (staff meaning the new rates for January): passed over in
    silence, the rates doubled for every policy from that moment, the result said 成功. A column no table has
    (联系人 typed beside the agencies) was passed over too: said as not read; a 备注 column is staff's own."""
    path = plan_workbook(root / "workbooks" / "_admin" / "一月新价.xlsx", bands=((1, 3, 10), (4, 30, 18)))
    wb = openpyxl.load_workbook(path)
    for name in ("方案", "费率"):
        sheet = wb[name]
        sheet.cell(1, sheet.max_column + 1, "生效日期")
        for r in range(2, sheet.max_row + 1):
            sheet.cell(r, sheet.max_column, "2027-01-01")
    wb.save(path)
    before = ledger_rows(root)
    agencies = agency_workbook(
        root / "workbooks" / "_admin" / "机构联系人.xlsx", [[1, "SZ002", "深圳二", "9144", "XY-2", "GN-A", "合作中"]]
    )
    wb = openpyxl.load_workbook(agencies)
    sheet = wb["机构"]
    width = sheet.max_column
    sheet.cell(1, width + 1, "联系人")
    sheet.cell(2, width + 1, "王经理")
    sheet.cell(1, width + 2, "备注")
    sheet.cell(2, width + 2, "新签")
    sheet.cell(1, width + 3, "协议生效日期")  # an agency register's own record: said unread, never refused
    sheet.cell(2, width + 3, "2026-01-01")
    wb.save(agencies)
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "一月新价_结果")
    assert data["status"] == "failed", data
    dated = [e for e in data["errors"] if e["code"] == "table.dated_column"]
    assert {e["sheet"] for e in dated} >= {"方案"} and "立即生效" in dated[0]["message"], data["errors"]
    after = ledger_rows(root)
    assert after["plan_versions"] == before["plan_versions"], "no new rates"
    data, _ = result(root, "_admin", "机构联系人_结果")
    assert data["status"] == "success", data["errors"]
    said = [w for w in data["warnings"] if w["code"] == "table.unread_column"]
    assert [w["column"] for w in said] == ["联系人", "协议生效日期"] and "没有读取" in said[0]["message"], said
    assert not [w for w in data["warnings"] if w.get("column") == "备注"]
    # A termination dated for next month: the agency was cut off at once, said as a column not read.
    later = agency_workbook(
        root / "workbooks" / "_admin" / "下月终止.xlsx",
        [[1, "GZ001", "广州示例国际旅行社有限公司", "", "", "GN-A", "已终止"]],
    )
    wb = openpyxl.load_workbook(later)
    sheet = wb["机构"]
    sheet.cell(1, sheet.max_column + 1, "终止生效日期")
    sheet.cell(2, sheet.max_column, "2027-01-01")
    wb.save(later)
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "下月终止_结果")
    assert data["status"] == "failed" and [e["code"] for e in data["errors"]] == ["table.dated_column"], data
    assert ledger_query(root, "SELECT status FROM agencies WHERE code = 'GZ001'") == [("合作中",)]


def test_agency_rows_with_unknown_plans_or_bad_codes_are_refused(root):
    before = ledger_rows(root)
    agency_workbook(
        root / "workbooks" / "_admin" / "坏机构.xlsx",
        [
            [1, "../X", "坏", "", "", "GN-A", "合作中"],
            [2, "OK1", "好", "", "", "NOPE", "暂停"],
            [3, "OK2", "", "", "", "", "合作中"],
            [4, "con", "保留名", "", "", "GN-A", "合作中"],  # a folder Windows cannot open over the share
        ],
    )
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "坏机构_结果")
    assert sorted((e["row"], e["column"]) for e in data["errors"]) == [
        (2, "机构代码"),
        (3, "可用方案"),
        (3, "状态"),
        (4, "可用方案"),
        (4, "机构名称"),
        (5, "机构代码"),
    ]
    assert [e["code"] for e in data["errors"] if e["row"] == 5] == ["agency.code_reserved"]
    assert ledger_rows(root) == before
    assert not (root / "workbooks" / "OK1").exists() and not (root / "workbooks" / "CON").exists()
    # One an earlier release registered may still be changed and terminated.
    ledger_query(
        root,
        "INSERT INTO agencies (code, name, status, created_at, updated_at)"
        " VALUES ('AUX', '旧登记', '合作中', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
    )
    agency_workbook(root / "workbooks" / "_admin" / "停AUX.xlsx", [[1, "AUX", "旧登记", "", "", "GN-A", "已终止"]])
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "停AUX_结果")
    assert data["status"] == "success", data["errors"]


def test_admin_actions_only_from_admin_and_agency_actions_only_from_agencies(root):
    before = ledger_rows(root)
    plan_workbook(root / "workbooks" / "GZ001" / "越权方案.xlsx", code="GN-Z")
    write_request(root / "workbooks" / "_admin" / "管理员投保.xlsx", issue_fields(), people(1))
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "越权方案_结果")
    assert data["status"] == "failed" and "保险公司" in data["errors"][0]["message"]
    assert data["action"] == "方案"  # what it asked for, though it may not be done here
    data, _ = result(root, "_admin", "管理员投保_结果")
    assert data["status"] == "failed" and "旅行社" in data["errors"][0]["message"]
    assert data["action"] == "投保"
    assert ledger_rows(root) == before


def test_a_folder_of_no_agency_and_a_loose_file_are_left_and_staff_told(root):
    stray = write_request(root / "workbooks" / "XX999" / "团.xlsx", issue_fields(), people(1))
    loose = write_request(root / "workbooks" / "放错了.xlsx", issue_fields(), people(1))
    before = ledger_rows(root)
    proc = run_watcher(root, "process")
    assert stray.exists() and loose.exists()
    notices = sorted(p.name for p in (root / "outbox" / "_admin").glob("未受理_*.json"))
    assert len(notices) == 2 and any("XX999" in n for n in notices) and any("放错了" in n for n in notices)
    codes = sorted(
        json.loads((root / "outbox" / "_admin" / n).read_text("utf-8"))["errors"][0]["code"] for n in notices
    )
    assert codes == ["folder.loose_file", "folder.unknown"]
    said = next(
        json.loads((root / "outbox" / "_admin" / n).read_text("utf-8"))["errors"][0]["message"]
        for n in notices
        if "放错了" in n
    )
    assert "workbooks/_admin/" in said, said  # staff read it: their own files (a summary dropped loose) go there
    assert "未处理" in proc.stdout
    run_watcher(root, "process")  # told once, not again at every run
    assert len(list((root / "outbox" / "_admin").glob("未受理_*.json"))) == 2
    assert ledger_rows(root) == before


def test_a_terminated_agency_gets_a_result_for_what_it_may_no_longer_do_and_may_still_query(root):
    write_request(root / "workbooks" / "GZ001" / "早先.xlsx", issue_fields(), people(1))
    run_watcher(root, "process")
    agency_workbook(
        root / "workbooks" / "_admin" / "停.xlsx",
        [[1, "GZ001", "广州示例国际旅行社有限公司", "", "", "GN-A", "已终止"]],
    )
    run_watcher(root, "process")
    before = ledger_rows(root)
    stopped = write_request(root / "workbooks" / "GZ001" / "停后.xlsx", issue_fields(旅行团号="T-后"), people(2)[1:])
    write_request(root / "workbooks" / "GZ001" / "查.xlsx", {"操作类型": "保单查询"})
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "停后_结果")
    assert data["status"] == "failed" and data["action"] == "投保"
    assert [(e["code"], e["sheet"], e["row"], e["column"]) for e in data["errors"]] == [
        ("agency.ended", "申请", 1, "操作类型")
    ], "the cell named, its row too"
    assert not stopped.exists() and list((root / "archive" / "GZ001").rglob("*_停后.xlsx")), "archived like any other"
    data, _ = result(root, "GZ001", "查_结果")
    assert data["status"] == "success" and len(data["policies"]) == 1
    assert ledger_rows(root) == before
    assert not list((root / "outbox" / "_admin").glob("未受理_*"))


def test_an_agency_row_with_blank_details_keeps_them_and_never_brings_a_terminated_agency_back(root):
    """Staff update a terminated agency's plans with only the columns that change: its 状态, 营业执照号 and
    协议编号 stay as they are (a blank brought it back to 合作中 and erased them, result saying nothing)."""
    demo = ledger_query(root, "SELECT license_no, agreement_no FROM agencies WHERE code = 'GZ001'")[0]
    assert all(demo)
    agency_workbook(
        root / "workbooks" / "_admin" / "停.xlsx",
        [[1, "GZ001", "广州示例国际旅行社有限公司", "", "", "GN-A", "已终止"]],
    )
    run_watcher(root, "process")
    data, wb = result(root, "_admin", "停_结果")
    assert data["status"] == "success" and data["agencies"][0]["status"] == "已终止"
    assert data["agencies"][0]["license_no"] == demo[0]  # blank: kept, not erased
    agency_workbook(
        root / "workbooks" / "_admin" / "改方案.xlsx",
        [[1, "GZ001", "广州示例国际旅行社有限公司", None, None, "GN-A、GW-B", None]],
    )
    run_watcher(root, "process")
    data, wb = result(root, "_admin", "改方案_结果")
    assert data["status"] == "success" and data["warnings"] == []
    assert data["agencies"][0]["status"] == "已终止" and data["agencies"][0]["plans"] == ["GN-A", "GW-B"]
    assert ledger_query(root, "SELECT license_no, agreement_no, status FROM agencies WHERE code = 'GZ001'") == [
        (*demo, "已终止")
    ]
    text = "\n".join(str(c.value) for row in wb["结果汇总"].iter_rows() for c in row if c.value)
    assert "可用方案 GN-A → GN-A、GW-B" in text and "状态" not in text.split("可用方案 GN-A")[1].split("\n")[0]
    # Made 合作中 on purpose: done, and the result says the agency may issue again.
    agency_workbook(
        root / "workbooks" / "_admin" / "恢复.xlsx",
        [[1, "GZ001", "广州示例国际旅行社有限公司", None, None, "GN-A", "合作中"]],
    )
    run_watcher(root, "process")
    data, wb = result(root, "_admin", "恢复_结果")
    assert data["status"] == "success" and data["agencies"][0]["status"] == "合作中"
    assert [(w["code"], w["row"], w["column"]) for w in data["warnings"]] == [("agency.reactivated", 2, "状态")]
    text = "\n".join(str(c.value) for row in wb["结果汇总"].iter_rows() for c in row if c.value)
    assert "状态 已终止 → 合作中" in text


def test_the_template_sample_agency_renumbered_or_unnumbered_is_never_saved(root):
    """The 机构 template's sample row with its 序号 changed to 1 (or cleared): it wrote the placeholder licence
    and plan GW-B onto the real GZ001. Refused, the row named; nothing saved."""
    before = ledger_rows(root)
    sample = ["GZ001", "广州示例国际旅行社有限公司", "91440101MA5XXXXXXX", "LY-2026-001", "GN-A、GW-B", "合作中"]
    real = [2, "SZ001", "深圳新旅行社", "91440300MA5REAL001", "XY-1", "GN-A", "合作中"]
    for name, serial in (("改序号", 1), ("清序号", None)):
        agency_workbook(root / "workbooks" / "_admin" / f"{name}.xlsx", [[serial, *sample], real])
        run_watcher(root, "process")
        data, _ = result(root, "_admin", f"{name}_结果")
        assert data["status"] == "failed"
        assert [(e["code"], e["row"], e["column"]) for e in data["errors"]] == [("agency.sample_row", 2, "营业执照号")]
        assert "示例" in data["errors"][0]["message"]
    assert ledger_rows(root) == before and not (root / "workbooks" / "SZ001").exists()


def test_an_agency_row_without_its_code_says_the_code_is_missing(root):
    agency_workbook(root / "workbooks" / "_admin" / "无代码.xlsx", [[1, None, "某旅行社", "", "", "GN-A", "合作中"]])
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "无代码_结果")
    assert [(e["code"], e["row"], e["column"]) for e in data["errors"]] == [("field.empty", 2, "机构代码")]
    assert "没有填写" in data["errors"][0]["message"]


def test_an_agency_folder_moved_elsewhere_and_linked_is_followed_and_a_link_back_inside_is_not(root, tmp_path):
    """An operator moved GZ001's drop folder to another disk and left a link: its files are processed (they
    waited for ever, and staff were told a *file* named GZ001 lay in workbooks/). A link that leads to
    another agency's folder is not followed (its files would be taken as either agency's): staff are told
    what it is."""
    folder = root / "workbooks" / "GZ001"
    elsewhere = tmp_path / "other-disk" / "GZ001"
    elsewhere.parent.mkdir()
    shutil.move(folder, elsewhere)
    folder.symlink_to(elsewhere, target_is_directory=True)
    write_request(folder / "团.xlsx", issue_fields(), people(2))
    (root / "workbooks" / "GZ009").symlink_to(folder, target_is_directory=True)
    (root / "workbooks" / "GZ004").symlink_to(tmp_path / "not-mounted", target_is_directory=True)
    proc = run_watcher(root, "process")
    data, _ = result(root, "GZ001", "团_结果")
    assert data["status"] == "success" and "成功 1" in proc.stdout
    assert not (elsewhere / "团.xlsx").exists() and folder.is_symlink()
    notices = {
        n["errors"][0]["code"]: n["errors"][0]["message"]
        for n in (json.loads(p.read_text("utf-8")) for p in (root / "outbox" / "_admin").glob("未受理_*.json"))
    }
    assert set(notices) == {"folder.linked_inside", "folder.link_broken"}
    assert "GZ009" in notices["folder.linked_inside"] and "GZ004" in notices["folder.link_broken"]
    status = run_watcher(root, "status").stdout
    [refused] = [line for line in status.splitlines() if line.startswith("不予处理")]
    assert "workbooks/ 2" in refused and "GZ001" not in refused


def test_two_agency_folders_linked_to_the_same_folder_are_neither_followed(root, tmp_path):
    """Two links to one folder (a slip while moving agencies to another disk): its files would be taken
    as either agency's. Neither is followed; staff are told."""
    shared = tmp_path / "other-disk" / "GZ001"
    shared.parent.mkdir()
    shutil.move(root / "workbooks" / "GZ001", shared)
    (root / "workbooks" / "GZ001").symlink_to(shared, target_is_directory=True)
    (root / "workbooks" / "GZ002").symlink_to(shared, target_is_directory=True)
    path = write_request(shared / "团.xlsx", issue_fields(), people(2))
    before = ledger_rows(root)
    run_watcher(root, "process")
    assert path.exists() and ledger_rows(root) == before
    notices = [json.loads(p.read_text("utf-8")) for p in (root / "outbox" / "_admin").glob("未受理_*.json")]
    assert sorted(n["errors"][0]["code"] for n in notices) == ["folder.linked_twice"] * 2


def test_a_long_number_where_an_identifier_belongs_is_refused_not_stored_with_its_digits_lost(root):
    """A 旅行团号, 营销员工号 or 营业执照号 typed into a General cell: Excel (and Calc) keep 15 significant digits,
    so 20261205000012345 is stored as 20261205000012300. The policy was filed under a tour group nobody typed
    (a 保单查询 by the real one found nothing) and a licence number was made up. Refused, saying why; 15
    digits are still exact and taken."""
    from helpers import ID_M_1990, admin

    fields = issue_fields(旅行团号=20261205000012345, 营销员工号=440106198001011230)
    write_request(root / "workbooks" / "GZ001" / "长号.xlsx", fields, [[1, "张三", "身份证", ID_M_1990]])
    fields = issue_fields(旅行团号=202612050000123)
    write_request(root / "workbooks" / "GZ001" / "十五位.xlsx", fields, [[1, "张三", "身份证", ID_M_1990]])
    before = ledger_rows(root)["policies"]
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "长号_结果")
    assert data["status"] == "failed" and data["policies"] == []
    found = sorted((e["code"], e["column"]) for e in data["errors"])
    assert found == [("field.digits_lost", "旅行团号"), ("field.digits_lost", "营销员工号")], data["errors"]
    assert "15 位" in data["errors"][0]["message"] and "文本" in data["errors"][0]["message"]
    said = {e["column"]: e["message"] for e in data["errors"]}  # the number as Excel shows it in the cell
    assert "读到 20261205000012300）" in said["旅行团号"] and "读到 440106198001011000）" in said["营销员工号"], said
    data, _ = result(root, "GZ001", "十五位_结果")
    assert data["status"] == "success" and data["policies"][0]["tour_group"] == "202612050000123"
    assert len(ledger_rows(root)["policies"]) == len(before) + 1

    head = ["序号", "机构代码", "机构名称", "营业执照号", "协议编号", "可用方案", "状态"]
    rows = [[1, "SZ009", "深圳测试旅行社", 914403001234567891, "XY-9", "GN-A", "合作中"]]
    data, _ = admin(root, "机构", "机构", head, rows, now="2026-12-02T10:00:00+08:00")
    assert data["status"] == "failed"
    assert [(e["code"], e["row"], e["column"]) for e in data["errors"]] == [("field.digits_lost", 2, "营业执照号")]
    assert "SZ009" not in str(ledger_rows(root)["agencies"])


def test_a_plan_upload_may_not_move_a_plan_to_the_other_region(root):
    """GN-A uploaded again as 境外: taken as a new version, and a later 批改 of a 境内 policy was reissued
    under it (a 境内 policy with the 境外 version's name and price), a pairing 投保 refuses."""
    before = ledger_rows(root)
    plan_workbook(root / "workbooks" / "_admin" / "改区域.xlsx", region="境外", bands=((1, 30, 50),))
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "改区域_结果")
    assert data["status"] == "failed"
    [error] = data["errors"]
    assert (error["code"], error["sheet"], error["row"], error["column"]) == ("plan.region_changed", "方案", 3, "区域")
    assert "境内" in error["message"] and "新的方案代码" in error["message"]
    assert ledger_rows(root) == before


def test_a_plan_version_that_leaves_out_the_age_factors_or_a_coverage_says_so(root):
    """Each upload is the whole plan. The 年龄系数 sheet left at its example (which is GN-A's own ×1.5) made
    a version without it: every older traveller priced ×1 from then on, and the result said only 已启用新版本.
    Taken (a plan may drop them), with a warning naming what is gone; a version that keeps them says nothing."""
    current = ledger_query(
        root,
        "SELECT item FROM coverages JOIN plans ON plan_version = current_version WHERE code = ?",
        ("GN-A",),
    )
    plan_workbook(root / "workbooks" / "_admin" / "无系数.xlsx", factors=(), covers=(("意外身故、残疾", 300000),))
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "无系数_结果")
    assert data["status"] == "success", data["errors"]
    said = {w["code"]: w for w in data["warnings"]}
    assert set(said) == {"plan.factors_dropped", "plan.covers_dropped"}, data["warnings"]
    assert "66–80 岁 ×1.5" in said["plan.factors_dropped"]["message"]
    assert (said["plan.factors_dropped"]["sheet"], said["plan.factors_dropped"]["row"]) == ("方案", 3)
    gone = [item for (item,) in current if item != "意外身故、残疾"]
    assert gone and all(item in said["plan.covers_dropped"]["message"] for item in gone)
    # Uploaded again whole, with its factors: nothing to say.
    plan_workbook(root / "workbooks" / "_admin" / "完整.xlsx", covers=(("意外身故、残疾", 300000),))
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "完整_结果")
    assert data["status"] == "success" and data["warnings"] == [], data["warnings"]


def test_a_file_of_plan_and_agency_tables_without_its_apply_sheet_is_refused_not_half_done(root):
    """方案 and 机构 sheets in one file without 申请: the plans were loaded, the 机构 sheet was passed over
    in silence and the result said 成功 (the agency was never registered)."""
    before = ledger_rows(root)
    plans = plan_workbook(root / "workbooks" / "_admin" / "两样.xlsx", code="GN-Z")
    wb = openpyxl.load_workbook(plans)
    del wb["申请"]
    table = wb.create_sheet("机构")
    table.append(["序号", "机构代码", "机构名称", "营业执照号", "协议编号", "可用方案", "状态"])
    table.append([1, "GZ020", "二十社", "9144X", "XY-20", "GN-Z", "合作中"])
    wb.save(plans)
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "两样_结果")
    assert data["status"] == "failed" and [e["code"] for e in data["errors"]] == ["file.sheets_ambiguous"]
    assert "“方案”" in data["errors"][0]["message"] and "“机构”" in data["errors"][0]["message"]
    assert ledger_rows(root) == before and not (root / "workbooks" / "GZ020").exists()


def test_an_agency_saved_again_with_its_plans_in_another_order_is_no_change_and_days_are_named_right(root):
    """The same 可用方案 typed in another order was reported as a change (the ledger keeps them sorted); a
    费率 天数上限 of 2.5 was called 最长天数 in its message."""
    row = [1, "GZ001", "广州示例国际旅行社有限公司", "", "", "GW-B、GN-A", "合作中"]
    agency_workbook(root / "workbooks" / "_admin" / "同样.xlsx", [row])
    plan_workbook(root / "workbooks" / "_admin" / "半天.xlsx", bands=((1, 2.5, 5), (3, 30, 9)))
    run_watcher(root, "process")
    data, wb = result(root, "_admin", "同样_结果")
    assert data["status"] == "success", data["errors"]
    shown = "\n".join(str(c.value) for ws in wb for r in ws.iter_rows() for c in r if c.value)
    assert "未变更" in shown and "→" not in shown, shown
    data, _ = result(root, "_admin", "半天_结果")
    [error] = [e for e in data["errors"] if e["sheet"] == "费率" and e["row"] == 2]
    assert error["column"] == "天数上限" and error["message"].startswith("天数上限“2.5”"), error


def test_terminating_an_agency_or_taking_a_plan_from_it_names_its_policies_in_force_and_a_new_licence_is_told(root):
    """Three 机构 changes that were taken with 成功 and not a word: terminating an agency with policies not yet
    over (it can no longer cancel or amend them), taking away a plan it has policies in force under (no more
    endorsements of them), and another 营业执照号 on an existing code (another company taking over the
    agency's folders, policies, statements and deposits). Each is still done, with a 提示 naming what it means."""
    from helpers import fake

    name = "广州示例国际旅行社有限公司"
    write_request(
        root / "workbooks/GZ001/境外.xlsx",
        issue_fields(方案代码="GW-B", 区域="境外", 旅行团号="W1", 生效时间="2026-12-20 08:00"),
        people(1),
    )
    write_request(
        root / "workbooks/GZ001/已完.xlsx", issue_fields(旅行团号="D1", 生效时间="2026-11-12 08:00", 天数=2), people(1)
    )
    run_watcher(root, "process", env=fake("2026-11-10T10:00:00+08:00"))
    live = result(root, "GZ001", "境外_结果")[0]["policies"][0]["policy_no"]
    over = result(root, "GZ001", "已完_结果")[0]["policies"][0]["policy_no"]
    licence = ledger_query(root, "SELECT license_no FROM agencies WHERE code = 'GZ001'")[0][0]

    agency_workbook(root / "workbooks/_admin/去方案.xlsx", [[1, "GZ001", name, None, None, "GN-A", None]])
    run_watcher(root, "process", env=fake("2026-12-01T10:00:00+08:00"))
    data, _ = result(root, "_admin", "去方案_结果")
    assert data["status"] == "success" and data["agencies"][0]["plans"] == ["GN-A"]
    [w] = data["warnings"]
    assert (w["code"], w["column"]) == ("agency.plan_removed_live", "可用方案")
    assert live in w["message"] and "GW-B" in w["message"] and over not in w["message"]

    agency_workbook(
        root / "workbooks/_admin/换照.xlsx",
        [[1, "GZ001", "深圳全新旅行社", "91440300MA5BBBBB01", None, "GN-A、GW-B", None]],
    )
    run_watcher(root, "process", env=fake("2026-12-01T10:05:00+08:00"))
    data, _ = result(root, "_admin", "换照_结果")
    assert data["status"] == "success"
    [w] = data["warnings"]
    assert w["code"] == "agency.license_changed" and licence in w["message"] and "新的机构代码" in w["message"]

    # The same number typed in lower case with spaces, as the one registered: no change, nothing said.
    typed = " ".join("91440300ma5bbbbb01"[i : i + 6] for i in range(0, 18, 6))  # as 换照 registered it
    agency_workbook(root / "workbooks/_admin/同照.xlsx", [[1, "GZ001", name, typed, None, "GN-A、GW-B", None]])
    run_watcher(root, "process", env=fake("2026-12-01T10:07:00+08:00"))
    assert result(root, "_admin", "同照_结果")[0]["warnings"] == []
    agency_workbook(root / "workbooks/_admin/停.xlsx", [[1, "GZ001", name, licence, None, "GN-A、GW-B", "已终止"]])
    run_watcher(root, "process", env=fake("2026-12-01T10:10:00+08:00"))
    data, _ = result(root, "_admin", "停_结果")
    assert data["status"] == "success" and data["agencies"][0]["status"] == "已终止"
    [w] = [w for w in data["warnings"] if w["code"] == "agency.ended_live"]
    assert live in w["message"] and over not in w["message"] and "1 张" in w["message"]

    # After the last policy's cover ended there is nothing to say about ending it again or taking plans: only
    # the premium it still owes (no month-end has billed it here).
    agency_workbook(root / "workbooks/_admin/再改.xlsx", [[1, "GZ001", name, licence, None, "GN-A", "合作中"]])
    agency_workbook(root / "workbooks/_admin/再停.xlsx", [[1, "GZ001", name, licence, None, "GN-A", "已终止"]])
    run_watcher(root, "process", env=fake("2027-02-01T10:00:00+08:00"))
    assert [w["code"] for w in result(root, "_admin", "再改_结果")[0]["warnings"]] == ["agency.reactivated"]
    [owed] = result(root, "_admin", "再停_结果")[0]["warnings"]
    assert owed["code"] == "agency.ended_money" and "尚未结账" in owed["message"], owed


def test_a_plan_naming_one_coverage_item_twice_is_refused(root):
    """身故 300,000 and ' 身故 ' 100,000 in one plan: taken, and every electronic policy and lookup showed both
    sums for the one item. Refused on the second row, naming the first."""
    plan_workbook(
        root / "workbooks/_admin/重复保障.xlsx", covers=(("身故", 300000), (" 身故 ", 100000), ("医疗", 20000))
    )
    before = ledger_rows(root)
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "重复保障_结果")
    assert data["status"] == "failed"
    [e] = data["errors"]
    assert (e["code"], e["sheet"], e["column"]) == ("plan.cover_duplicate", "保障", "保障项目") and "身故" in e[
        "message"
    ]
    assert ledger_rows(root) == before


def test_a_folder_named_like_an_agency_in_another_case_is_pointed_to_the_agency_not_to_registering(root):
    """workbooks/gz001/ beside the registered GZ001: the notice said to register the agency first, and
    registering "gz001" changes GZ001 (codes are upper-cased) while this folder still matches nothing. The
    notice names GZ001's folder and warns against registering."""
    stray = write_request(root / "workbooks" / "gz001" / "团.xlsx", issue_fields(), people(1))
    run_watcher(root, "process")
    assert stray.exists()
    [notice] = (root / "outbox" / "_admin").glob("未受理_gz001_*.json")
    [error] = json.loads(notice.read_text("utf-8"))["errors"]
    assert error["code"] == "folder.case" and "workbooks/GZ001/" in error["message"] and "不要用" in error["message"]


def test_an_old_plan_file_dropped_again_to_go_back_to_its_rates_is_told_a_newer_version_is_in_force(root):
    """Staff drop last month's 方案 file again to bring its rates back: the same bytes are a 重复提交 and change
    nothing, rightly, but the result given again said 已启用新版本 as it did then. It now says the version in
    force is a later one and how to upload the file's content again."""
    old = plan_workbook(root / "workbooks/_admin/旧费率.xlsx", bands=((1, 3, 6), (4, 30, 9)))
    data = old.read_bytes()
    run_watcher(root, "process")
    plan_workbook(root / "workbooks/_admin/新费率.xlsx", bands=((1, 3, 12), (4, 30, 15)))
    run_watcher(root, "process")
    old.write_bytes(data)
    run_watcher(root, "process")
    again, wb = result(root, "_admin", "旧费率_结果_2")
    assert again["status"] == "duplicate"
    text = "\n".join(str(c.value) for row in wb["结果汇总"].iter_rows() for c in row if c.value)
    assert "现行的已不是本文件上传的版本" in text and "另存一次" in text
    assert (
        ledger_query(
            root,
            "SELECT price_fen FROM rate_bands JOIN plans ON plan_version = current_version WHERE code = 'GN-A' ORDER BY day_low",
        )[0][0]
        == 1200
    )
