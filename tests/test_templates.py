"""`watcher template KIND`: what a clerk receives, and that a filled template goes through."""

from __future__ import annotations

import openpyxl
import pytest
from helpers import ID_M_1980, future, result, run_watcher


def _validations(ws) -> dict[str, str]:
    """First cell of each data validation's range → its list source."""
    found = {}
    for dv in ws.data_validations.dataValidation:
        first = str(dv.sqref).split()[0].split(":")[0]
        found[first] = dv.formula1
    return found


def test_issue_template_has_everything_a_clerk_needs(root, tmp_path):
    out = tmp_path / "投保模板.xlsx"
    proc = run_watcher(root, "template", "投保", "-o", str(out))
    assert "投保" in proc.stdout
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[:3] == ["申请", "被保险人名单", "填写说明"]
    apply = wb["申请"]
    labels = [apply.cell(r, 1).value for r in range(2, 12)]
    assert labels == [
        "操作类型",
        "旅行团号",
        "区域",
        "方案代码",
        "生效时间",
        "天数",
        "行程路线",
        "经办人",
        "营销员工号",
        "营销员姓名",
    ]
    assert apply["B2"].value == "投保"
    dv = _validations(apply)
    assert dv["B4"] == '"境内,境外"' and "选项" in dv["B5"]
    options = wb["选项"]
    assert wb["选项"].sheet_state == "hidden"
    assert [options.cell(r, 4).value for r in (2, 3)] == ["GN-A", "GW-B"]  # 方案代码 from the ledger

    roster = wb["被保险人名单"]
    assert [c.value for c in roster[1]] == [
        "序号",
        "姓名",
        "证件类型",
        "证件号码",
        "性别",
        "出生日期",
        "联系电话",
        "备注",
    ]
    assert roster["A2"].value == "示例"
    assert roster.freeze_panes == "A2"
    assert roster.column_dimensions["D"].number_format == "@"  # IDs stay text in Excel
    assert roster.column_dimensions["D"].width >= 20
    dv = _validations(roster)
    assert "选项" in dv["C2"] and dv["E2"] == '"男,女"'
    assert [options.cell(r, 1).value for r in range(2, 9)] == [
        "身份证",
        "护照",
        "港澳居民来往内地通行证",
        "台湾居民来往大陆通行证",
        "外国人永久居留身份证",
        "港澳台居民居住证",
        "其他",
    ]
    assert any("4.40106E+17" in (c.value or "") for c in wb["填写说明"]["A"])


@pytest.mark.parametrize(
    "kind, sheets",
    [
        ("试算", ["申请", "被保险人名单", "填写说明"]),
        ("撤单", ["申请", "填写说明"]),
        ("方案", ["申请", "方案", "费率", "年龄系数", "保障", "填写说明"]),
        ("机构", ["申请", "机构", "填写说明"]),
    ],
)
def test_templates_of_every_kind(root, tmp_path, kind, sheets):
    out = tmp_path / f"{kind}.xlsx"
    run_watcher(root, "template", kind, "-o", str(out))
    wb = openpyxl.load_workbook(out)
    assert [s for s in wb.sheetnames if s != "选项"] == sheets
    assert wb["申请"]["B2"].value == kind


def test_unknown_template_kind_is_bad_usage(root, tmp_path):
    proc = run_watcher(root, "template", "保单", "-o", str(tmp_path / "x.xlsx"), check=False)
    assert proc.returncode == 2 and "投保" in proc.stderr


def test_a_template_asked_by_another_name_or_as_xls_says_what_it_wrote(root, tmp_path):
    """`template 出单` (投保's other name, as 操作类型 accepts it) was refused; `-o 团.xls` wrote 团.xls.xlsx
    without a word."""
    proc = run_watcher(root, "template", "出单", "-o", str(tmp_path / "团.xls"))
    out = tmp_path / "团.xls.xlsx"
    assert out.exists() and not (tmp_path / "团.xls").exists()
    assert "投保" in proc.stdout and "只生成 .xlsx" in proc.stdout and "团.xls.xlsx" in proc.stdout


def test_a_filled_template_goes_through(root, tmp_path):
    out = root / "workbooks" / "GZ001" / "填好的.xlsx"
    run_watcher(root, "template", "投保", "-o", str(tmp_path / "模板.xlsx"))
    wb = openpyxl.load_workbook(tmp_path / "模板.xlsx")
    apply = wb["申请"]
    apply["B3"], apply["B4"], apply["B5"] = "T-TPL", "境内", "GN-A"
    apply["B6"], apply["B7"] = future(), 2
    roster = wb["被保险人名单"]
    roster.append([1, "张三", "身份证", ID_M_1980, None, None, None, None])
    wb.save(out)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "填好的_结果")
    assert data["status"] == "success", data["errors"]
    assert data["policies"][0]["insured_count"] == 1  # the example row is not insured


def test_a_value_typed_over_the_note_in_column_c_is_pointed_at_not_only_called_missing(root, tmp_path):
    """A clerk who typed the 旅行团号 and 生效时间 in column C (over the template's note) was told only that
    they were 没有填写, looking at the values they had typed. The template's own notes are no such value."""
    out = root / "workbooks" / "GZ001" / "填错列.xlsx"
    run_watcher(root, "template", "投保", "-o", str(tmp_path / "模板.xlsx"))
    wb = openpyxl.load_workbook(tmp_path / "模板.xlsx")
    apply = wb["申请"]
    assert apply["A3"].value == "旅行团号" and apply["A6"].value == "生效时间" and apply["C4"].value
    apply["C3"], apply["B4"], apply["B5"] = "T-COLC", "境内", "GN-A"
    apply["C6"], apply["B7"] = "2026-12-20 08:00", 2
    wb["被保险人名单"].append([1, "张三", "身份证", ID_M_1980, None, None, None, None])
    wb.save(out)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "填错列_结果")
    assert data["status"] == "failed"
    found = {e["column"]: e for e in data["errors"]}
    assert found["旅行团号"]["code"] == "field.value_aside", data["errors"]
    assert "C 列填了“T-COLC”" in found["旅行团号"]["message"] and "B 列" in found["旅行团号"]["message"]
    assert found["生效时间"]["code"] == "field.value_aside" and "2026-12-20 08:00" in found["生效时间"]["message"]
    assert "区域" not in found and "方案代码" not in found, "the notes left in column C are no values"


def test_admin_templates_filled_go_through(root, tmp_path):
    out = root / "workbooks" / "_admin" / "机构.xlsx"
    run_watcher(root, "template", "机构", "-o", str(tmp_path / "机构.xlsx"))
    wb = openpyxl.load_workbook(tmp_path / "机构.xlsx")
    wb["机构"].append([1, "FS003", "佛山测试旅行社", "", "", "GN-A", "合作中"])
    wb.save(out)
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "机构_结果")
    assert data["status"] == "success", data["errors"]
    assert (root / "workbooks" / "FS003").is_dir()


def test_every_template_is_its_kinds_declaration(tmp_path):
    """The blank workbook of each of the 20 kinds is what its KindSpec's form declares, in order: the 申请
    labels, the tables with their columns, the 填写说明 lines (io/templates.py has no per-kind code)."""
    from watcher.io.templates import write_template
    from watcher.kinds import KINDS
    from watcher.kinds.forms import TABLES

    assert len(KINDS) == 20
    for spec in KINDS:
        path = tmp_path / f"{spec.action}.xlsx"
        write_template(spec.action, path, [("GN-A", "境内A", "境内")])
        wb = openpyxl.load_workbook(path)
        assert wb.sheetnames == ["申请", *spec.form.tables, "填写说明", "选项"], spec.action
        apply = wb["申请"]
        labels = [apply.cell(r, 1).value for r in range(2, apply.max_row + 1)]
        assert labels == ["操作类型", *(f.label for f in spec.form.fields)], spec.action
        assert [apply.cell(r, 3).value or "" for r in range(3, apply.max_row + 1)] == [f.note for f in spec.form.fields]
        for name in spec.form.tables:
            assert [c.value for c in wb[name][1]] == [col.name for col in TABLES[name]], (spec.action, name)
        guide = wb["填写说明"]
        assert [guide.cell(r, 1).value for r in range(3, guide.max_row + 1)] == list(spec.form.help), spec.action


def test_the_agency_template_says_what_a_terminated_agency_may_still_do(root, tmp_path):
    """Its instructions once said a terminated agency's files are no longer processed; it may still ask
    the four queries, and anything else gets a 失败 result (SPEC §2)."""
    from watcher.walk.flow import ENDED_MAY

    out = tmp_path / "机构.xlsx"
    run_watcher(root, "template", "机构", "-o", str(out))
    text = " ".join(str(c.value) for row in openpyxl.load_workbook(out)["填写说明"].iter_rows() for c in row if c.value)
    assert "不再处理" not in text
    assert all(kind in text for kind in ENDED_MAY) and "失败" in text


def test_a_template_written_over_a_file_of_that_name_keeps_the_file(root, tmp_path):
    """`watcher template 投保 -o 团A.xlsx` over the roster a clerk had filled in 团A.xlsx replaced it without
    a word. The blank is written; the old file is kept beside it and named."""
    target = tmp_path / "团A.xlsx"
    target.write_bytes(b"the clerk's own roster")
    done = run_watcher(root, "template", "投保", "-o", str(target))
    assert "原文件改名保留为 团A_原文件_1.xlsx" in done.stdout
    assert (tmp_path / "团A_原文件_1.xlsx").read_bytes() == b"the clerk's own roster"
    assert "申请" in openpyxl.load_workbook(target).sheetnames


def test_a_template_for_one_agency_lists_only_the_plans_it_may_use(root, tmp_path):
    """The 方案代码 dropdown listed every plan in force: a clerk of an agency without GW-B picked it and got
    失败 (方案不在本机构的协议可用方案中). `--agency` lists that agency's plans; an unknown code is refused."""
    from helpers import agency_workbook

    agency_workbook(
        root / "workbooks" / "_admin" / "只境内.xlsx",
        [[1, "GZ001", "广州示例国际旅行社有限公司", None, None, "GN-A", None]],
    )
    run_watcher(root, "process")
    out = tmp_path / "GZ001投保.xlsx"
    run_watcher(root, "template", "投保", "-o", str(out), "--agency", "gz001")
    options = openpyxl.load_workbook(out)["选项"]
    assert [options.cell(r, 4).value for r in (2, 3)] == ["GN-A", None]
    every = tmp_path / "全部.xlsx"
    run_watcher(root, "template", "投保", "-o", str(every))
    assert [openpyxl.load_workbook(every)["选项"].cell(r, 4).value for r in (2, 3)] == ["GN-A", "GW-B"]
    refused = run_watcher(root, "template", "投保", "-o", str(tmp_path / "x.xlsx"), "--agency", "ZZ999", check=False)
    assert refused.returncode == 1 and "ZZ999" in refused.stderr and "GZ001" in refused.stderr
    assert not (tmp_path / "x.xlsx").exists()
    # Typed full width (a Chinese input method), as the 机构 upload takes it; a terminated agency is said.
    agency_workbook(
        root / "workbooks" / "_admin" / "终止.xlsx",
        [[1, "GZ001", "广州示例国际旅行社有限公司", None, None, "GN-A", "已终止"]],
    )
    run_watcher(root, "process")
    wide = run_watcher(root, "template", "投保", "-o", str(tmp_path / "宽.xlsx"), "--agency", "ＧＺ００１")
    assert "已终止" in wide.stderr and (tmp_path / "宽.xlsx").exists(), wide.stderr
