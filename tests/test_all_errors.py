"""Every error at once: a wrong 生效时间, 天数 or 方案代码 never hides the roster's own errors (IDs, names,
duplicates, ages), so the clerk needs one round trip, not two."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from helpers import ID_M_1980, ID_M_1990, future, issue_fields, ledger_rows, people, result, run_watcher, write_request

OLD = [1, "老人", "护照", "G1234567", "男", "1940-01-01", None, None]  # 86 at any start: over GN-A's 80
BAD_ID = [2, "错号", "身份证", ID_M_1980[:-1] + ("1" if ID_M_1980[-1] != "1" else "2"), None, None, None, None]


def _errors(root: Path, name: str, fields: dict, roster: list) -> list[tuple]:
    write_request(root / "workbooks" / "GZ001" / name, fields, roster)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", name.removesuffix(".xlsx") + "_结果")
    assert data["status"] == "failed"
    return sorted((e["code"], e["sheet"], e["row"], e["column"]) for e in data["errors"])


ROSTER_ERRORS = [("age.range", "被保险人名单", 2, "出生日期"), ("id.checksum", "被保险人名单", 3, "证件号码")]


def test_a_start_that_is_not_a_whole_hour_hides_no_age_error(root):
    before = ledger_rows(root)
    start = future(days=6).replace(minute=30).strftime("%Y-%m-%d %H:%M")
    found = _errors(root, "半点.xlsx", issue_fields(生效时间=start), [OLD, BAD_ID])
    assert found == sorted([("field.effective_hour", "申请", 5, "生效时间"), *ROSTER_ERRORS])
    assert ledger_rows(root) == before


def test_a_start_in_the_past_hides_no_age_error(root):
    past = future(days=-2).strftime("%Y-%m-%d %H:%M")
    found = _errors(root, "倒签.xlsx", issue_fields(生效时间=past), [OLD, BAD_ID])
    assert found == sorted([("field.effective_past", "申请", 5, "生效时间"), *ROSTER_ERRORS])


def test_an_unreadable_start_still_checks_every_person(root):
    found = _errors(root, "乱写.xlsx", issue_fields(生效时间="下周一早上"), [OLD, BAD_ID])
    # Without a start no age on it can be known, but one past the plan's oldest age today is past it at any
    # start: said now (it was left for the clerk's next try); the ID is checked all the same.
    assert found == [
        ("age.over_at_any_start", "被保险人名单", 2, "出生日期"),
        ("field.effective_format", "申请", 5, "生效时间"),
        ("id.checksum", "被保险人名单", 3, "证件号码"),
    ]


def test_days_and_plan_errors_hide_nothing_either(root):
    found = _errors(root, "天数.xlsx", issue_fields(天数=45), [OLD, BAD_ID])
    assert found == sorted([("field.days_over", "申请", 6, "天数"), *ROSTER_ERRORS])
    found = _errors(root, "方案.xlsx", issue_fields(方案代码="NOPE"), [OLD, BAD_ID])
    assert found == [("field.plan_unknown", "申请", 4, "方案代码"), ("id.checksum", "被保险人名单", 3, "证件号码")]


def test_an_endorsement_on_a_policy_that_cannot_change_still_reports_its_roster(root):
    write_request(root / "workbooks" / "GZ001" / "团.xlsx", issue_fields(), people(2))
    run_watcher(root, "process")
    number = result(root, "GZ001", "团_结果")[0]["policies"][0]["policy_no"]
    write_request(root / "workbooks" / "GZ001" / "撤.xlsx", {"操作类型": "撤单", "保单号": number})
    run_watcher(root, "process")
    found = _errors(
        root,
        "换人.xlsx",
        {"操作类型": "换人", "保单号": number},
        [[1, "新人", "身份证", ID_M_1990, None, None, None, None], BAD_ID],
    )
    assert found == [("id.checksum", "被保险人名单", 3, "证件号码"), ("policy.already_cancelled", "申请", 2, "保单号")]


def test_an_amendment_with_a_half_hour_start_still_checks_ages_and_days(root):
    write_request(
        root / "workbooks" / "GZ001" / "团.xlsx",
        issue_fields(),
        [
            [
                1,
                "老人",
                "护照",
                "G7654321",
                "男",
                future(days=10).replace(year=future().year - 79).strftime("%Y-%m-%d"),
                None,
                None,
            ]
        ],
    )
    run_watcher(root, "process")
    number = result(root, "GZ001", "团_结果")[0]["policies"][0]["policy_no"]
    later = future(days=800).replace(minute=30).strftime("%Y-%m-%d %H:%M")  # the traveller is 81 then: too old
    found = _errors(root, "批改.xlsx", {"操作类型": "批改", "保单号": number, "生效时间": later, "天数": 45}, None)
    assert found == [
        ("endorse.age_at_new_start", "申请", 3, "生效时间"),
        ("field.days_over", "申请", 4, "天数"),
        ("field.effective_hour", "申请", 3, "生效时间"),
    ]


def test_a_column_the_header_lacks_is_said_once_not_as_a_blank_cell_on_every_row(root):
    """`证件` is a 证件类型 header clerks write; an unknown one (`证件种别`) is one missing column, not, besides
    it, '证件类型没有填写' on every row whose type the clerk did fill."""
    head = ["序号", "姓名", "证件", "证件号码", "性别", "出生日期", "联系电话", "备注"]
    write_request(root / "workbooks/GZ001/证件.xlsx", issue_fields(), people(3), head=head)
    odd = ["序号", "姓名", "证件种别", "证件号码", "性别", "出生日期", "联系电话", "备注"]
    write_request(root / "workbooks/GZ001/证件种别.xlsx", issue_fields(旅行团号="GZ-T002"), people(3), head=odd)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "证件_结果")
    assert data["status"] == "success" and data["policies"][0]["insured_count"] == 3
    data, _ = result(root, "GZ001", "证件种别_结果")
    found = [(e["code"], e["row"], e["column"]) for e in data["errors"]]
    assert found == [("roster.missing_column", 1, "证件类型")], found


def test_two_different_actions_in_one_request_are_one_error_not_the_first_ones_missing_fields(root):
    """操作类型 投保 and, two rows down, 撤单: read as a 投保, the result listed five missing 投保 fields and
    invited the clerk to fill them into what was meant as a 撤单."""
    fields = {"操作类型": "投保", "保单号": "LY202611200000001"}
    path = write_request(root / "workbooks" / "GZ001" / "两种.xlsx", fields)
    wb = openpyxl.load_workbook(path)
    wb["申请"].append(["操作类型", "撤单"])
    wb.save(path)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "两种_结果")
    assert data["status"] == "failed" and [(e["code"], e["row"]) for e in data["errors"]] == [
        ("file.action_repeated", 3)
    ]
    assert "“投保”" in data["errors"][0]["message"] and "“撤单”" in data["errors"][0]["message"]


def test_a_hidden_roster_sheet_is_never_read(root):
    """The roster typed on a copy of the sheet, the template's own 被保险人名单 hidden: the hidden one was read
    ("名单中没有被保险人"), pointing at a sheet the clerk cannot see. Nor are people on a hidden sheet ever
    insured: it is said, with the sheet the clerk did fill."""
    path = write_request(root / "workbooks" / "GZ001" / "隐藏.xlsx", issue_fields(), people(2))
    wb = openpyxl.load_workbook(path)
    copy = wb.copy_worksheet(wb["被保险人名单"])
    copy.title = "名单12月"
    wb["被保险人名单"].sheet_state = "hidden"
    wb.save(path)
    before = ledger_rows(root)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "隐藏_结果")
    assert data["status"] == "failed" and [e["code"] for e in data["errors"]] == ["roster.hidden_sheet"]
    assert "名单12月" in data["errors"][0]["message"] and ledger_rows(root) == before


def test_a_roster_row_of_formulas_without_saved_values_is_never_dropped_as_blank(root):
    """A traveller's row typed as formulas, saved by a program that does not calculate: calamine reads each
    cell as empty, so the row was skipped as blank and the group issued without that person (also a last
    such row, trimmed as empty, and one with only its 序号 beside the formulas). Each is named cell by cell."""
    import openpyxl
    from helpers import ID_M_1990, issue_fields, result, run_watcher, write_request

    path = root / "workbooks" / "GZ001" / "公式行.xlsx"
    write_request(path, issue_fields(), [[1, "张三", "身份证", ID_M_1990]])
    wb = openpyxl.load_workbook(path)
    ws = wb["被保险人名单"]
    ws["B3"], ws["C3"], ws["D3"] = "=Sheet9!B2", '="身份证"', "=Sheet9!D2"
    ws["A4"], ws["B4"], ws["C4"], ws["D4"] = 3, "=X1", "=X2", "=X3"
    ws["B6"] = "=X9"  # the last row, nothing else after it
    wb.save(path)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "公式行_结果")
    assert data["status"] == "failed" and data["policies"] == []
    formulas = {(e["row"], e["column"]) for e in data["errors"] if e["code"] == "cell.formula_no_value"}
    assert formulas == {
        (3, "姓名"),
        (3, "证件类型"),
        (3, "证件号码"),
        (4, "姓名"),
        (4, "证件类型"),
        (4, "证件号码"),
        (6, "姓名"),
    }
