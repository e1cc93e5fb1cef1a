"""投保 and 试算 end to end: a workbook dropped into the agency folder, `watcher process` as a subprocess,
results read back cell by cell, and the ledger unchanged after every refusal."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
from helpers import (
    ID_F_1949,
    ID_F_2000,
    ID_M_1980,
    ID_M_1990,
    SAMPLE_ID,
    future,
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


def drop(root: Path, name: str, fields: dict, roster=None, agency: str = "GZ001", **kw) -> Path:
    return write_request(root / "workbooks" / agency / name, fields, roster, **kw)


def test_a_valid_roster_is_issued_with_result_workbook_json_and_policy_page(root):
    start = future(days=12, hour=8)
    drop(
        root,
        "团A.xlsx",
        issue_fields(生效时间=start.strftime("%Y/%m/%d %H时"), 天数=3),
        [
            [1, "张三", "身份证", ID_M_1980, None, None, "+8613800138000", '=HYPERLINK("http://x")'],
            [2, "Anna·Müller", "护照", "X12345678", "女", "1990-05-01", None, None],
            [3, "王芳", "身份证", ID_F_1949, "女", "1949-12-31", None, None],
        ],
    )
    run_watcher(root, "process")

    data, wb = result(root, "GZ001", "团A_结果")
    assert data["status"] == "success" and data["errors"] == [] and data["action"] == "投保"
    assert data["agency"] == "GZ001" and data["file"] == "团A.xlsx" and len(data["sha256"]) == 64
    [policy] = data["policies"]
    assert policy["insured_count"] == 3 and policy["status"] == "有效" and policy["plan"] == "GN-A"
    # GN-A 1–3 days 5.00; 王芳 is 76 at the start: factor 1.5 → 7.50
    assert policy["premium"] == "17.50" and data["premium_total"] == "17.50"
    assert policy["start"] == start.strftime("%Y-%m-%dT%H:00:00+08:00")
    assert policy["end"].endswith("T00:00:00+08:00")
    assert data["cancelled"] == []

    summary = summary_values(wb)
    assert summary["状态"] == "成功" and summary["保单号"] == policy["policy_no"]
    assert summary["人数"] == 3 and Decimal(str(summary["保费合计"])) == Decimal("17.50")
    assert summary["原文件名"] == "团A.xlsx" and summary["SHA-256"] == data["sha256"]
    assert summary["保险期间"].endswith("24:00")

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
        "保费",
        "错误说明",
    ]
    assert [roster.cell(r, 9).value for r in (2, 3, 4)] == [5, 5, 7.5]
    assert roster.cell(2, 9).number_format == "#,##0.00"
    assert roster["D2"].value == ID_M_1980 and roster["D2"].data_type == "s"
    # Text from input that looks like a formula comes back as text, never a live formula.
    assert roster["H2"].data_type == "s" and roster["H2"].value.startswith("=HYPERLINK")
    assert roster["G2"].value == "+8613800138000"

    page = (root / "outbox" / "GZ001" / f"电子保单_{policy['policy_no']}.html").read_text(encoding="utf-8")
    assert policy["policy_no"] in page and "Anna·Müller" in page and "意外身故、残疾" in page
    assert "300,000.00" in page and "广州示例国际旅行社有限公司" in page and "24:00" in page
    # The original left the drop folder for the archive.
    assert not (root / "workbooks" / "GZ001" / "团A.xlsx").exists()
    assert [p.name.endswith("_团A.xlsx") for p in (root / "archive" / "GZ001").rglob("*.xlsx")] == [True]


def test_every_error_is_listed_with_sheet_row_column_and_nothing_is_issued(root):
    before = ledger_rows(root)
    drop(
        root,
        "错单.xlsx",
        issue_fields(天数=3),
        [
            [1, "张三", "身份证", "110105194912310021", None, None, None, None],  # check digit
            [2, "李四", "护照", "E12345678", None, None, None, None],  # passport needs gender and birth
            [3, "王五", "身份证", "4.40106E+17", None, None, None, None],  # Excel float
            [4, "赵六", "身份证", ID_M_1990, "女", None, None, None],  # gender disagrees with the ID
            [5, "钱七", "身份证", "110105491231002", None, None, None, None],  # retired 15-digit
            [6, "孙八", "其他", "AB-1234", None, None, None, None],  # 其他 needs 性别 and 出生日期
            [7, "", "身份证", ID_F_2000, None, None, None, None],  # no name
        ],
        head=None,
    )
    run_watcher(root, "process")
    data, wb = result(root, "GZ001", "错单_结果")
    assert data["status"] == "failed" and data["policies"] == [] and data["premium_total"] == "0.00"
    found = sorted((e["row"], e["column"]) for e in data["errors"])
    assert found == sorted(
        [
            (2, "证件号码"),
            (3, "性别"),
            (3, "出生日期"),
            (4, "证件号码"),
            (5, "性别"),
            (6, "证件号码"),
            (7, "性别"),
            (7, "出生日期"),
            (8, "姓名"),
        ]
    )
    assert all(e["sheet"] == "被保险人名单" and e["message"] for e in data["errors"])
    float_error = next(e for e in data["errors"] if e["row"] == 4)
    assert float_error["code"] == "id.excel_float"
    assert next(e for e in data["errors"] if e["row"] == 6)["code"] == "id.old15"
    assert ledger_rows(root) == before

    roster = wb["被保险人名单"]
    assert roster["D2"].fill.fgColor.rgb.endswith("FF9999")
    assert roster["D2"].comment is not None and "校验不通过" in roster["D2"].comment.text
    assert "证件号码" in roster["J2"].value
    assert roster["A2"].fill.fgColor.rgb in (None, "00000000")
    assert summary_values(wb)["状态"] == "失败" and summary_values(wb)["错误数"] == 9


def test_apply_sheet_errors_name_their_label_row(root):
    before = ledger_rows(root)
    past = future(days=-1).strftime("%Y-%m-%d %H:00")
    drop(root, "申请错.xlsx", issue_fields(生效时间=past, 天数=45, 区域="境外"), people(2))
    drop(root, "非整点.xlsx", issue_fields(生效时间=future().strftime("%Y-%m-%d 08:30")), people(1))
    drop(root, "无方案.xlsx", issue_fields(方案代码="NOPE", 旅行团号=None), people(1))
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "申请错_结果")
    by_column = {e["column"]: e for e in data["errors"]}
    assert set(by_column) == {"生效时间", "天数", "区域"}
    assert by_column["生效时间"]["row"] == 5 and by_column["生效时间"]["sheet"] == "申请"
    assert by_column["生效时间"]["code"] == "field.effective_past"
    assert by_column["天数"]["code"] == "field.days_over" and "30" in by_column["天数"]["message"]  # the plan's most
    data, _ = result(root, "GZ001", "非整点_结果")
    assert [(e["column"], e["code"]) for e in data["errors"]] == [("生效时间", "field.effective_hour")]
    data, _ = result(root, "GZ001", "无方案_结果")
    assert {e["column"] for e in data["errors"]} == {"旅行团号", "方案代码"}
    assert ledger_rows(root) == before


def test_age_range_plan_agreement_and_duplicates(root):
    # A plan outside the agency's agreement: register one more plan, not agreed with GZ001.
    plan_workbook(root / "workbooks" / "_admin" / "方案.xlsx", code="GN-C", max_age=60)
    run_watcher(root, "process")
    before = ledger_rows(root)
    drop(root, "未约定.xlsx", issue_fields(方案代码="GN-C"), people(1))
    young = people(3)
    young[1][3] = ID_F_1949  # 76 at the start; GN-A allows 0–80: fine
    young[2][3] = young[0][3]  # the same person twice
    drop(root, "重复.xlsx", issue_fields(), young)
    from watcher.domain.idcard import mod11_2_check

    old = [[1, "老人", "护照", "G1234567", "男", "1940-01-01", None, None]]  # 86 > 80
    # 86 too, the birth date only in the ID number: the error is marked there, not on the empty 出生日期.
    old.append([2, "老二", "身份证", "11010519400101002" + mod11_2_check("11010519400101002"), None, None, None, None])
    drop(root, "超龄.xlsx", issue_fields(), old)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "未约定_结果")
    assert [(e["column"], e["code"]) for e in data["errors"]] == [("方案代码", "field.plan_not_agreed")]
    data, wb = result(root, "GZ001", "重复_结果")
    assert sorted((e["row"], e["column"]) for e in data["errors"]) == [(2, "证件号码"), (4, "证件号码")]
    assert {e["code"] for e in data["errors"]} == {"roster.duplicate_person"}
    assert "4" in data["errors"][0]["message"] or "2" in data["errors"][0]["message"]  # the other row named
    data, _ = result(root, "GZ001", "超龄_结果")
    assert [(e["row"], e["column"]) for e in data["errors"]] == [(2, "出生日期"), (3, "证件号码")]
    assert data["errors"][0]["code"] == "age.range" and "86" in data["errors"][0]["message"]  # the age found
    assert ledger_rows(root) == before


def test_a_passport_or_permit_typed_once_as_其他_is_the_same_traveller(root):
    """证件类型 其他 with a passport's number: a second 投保 of the same group with the same people was issued
    again (the agency paid twice, nobody warned), and one roster could hold a person under 护照 and again
    under 其他, or a 加人 put them on again. The same number under 其他 and any type is the same traveller."""
    first = [
        [1, "John Smith", "护照", "GB1234567", "男", "1980-01-01", None, None],
        [2, "李娜", "港澳居民来往内地通行证", "H12345678", "女", "1981-01-01", None, None],
    ]
    drop(root, "第一次.xlsx", issue_fields(旅行团号="PT"), first)
    run_watcher(root, "process")
    assert result(root, "GZ001", "第一次_结果")[0]["status"] == "success"
    before = ledger_rows(root)
    again = [[*row[:2], "其他", *row[3:]] for row in first]
    drop(root, "第二次.xlsx", issue_fields(旅行团号="PT"), again)
    both = [first[0], [2, *again[0][1:]], [3, "王五", "其他", "E33456789", "男", "1982-01-01", None, None]]
    both.append([4, "王五", "护照", "E33456789", "男", "1982-01-01", None, None])
    drop(root, "同一名单.xlsx", issue_fields(旅行团号="PT2"), both)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "第二次_结果")
    assert data["status"] == "failed", data
    assert sorted((e["row"], e["code"]) for e in data["errors"]) == [(2, "roster.same_group"), (3, "roster.same_group")]
    data, _ = result(root, "GZ001", "同一名单_结果")
    dup = sorted(e["row"] for e in data["errors"] if e["code"] == "roster.duplicate_person")
    assert dup == [2, 3, 4, 5], data["errors"]
    # 加人 of the passport holder typed as 其他 onto the policy that has them under 护照.
    number = result(root, "GZ001", "第一次_结果")[0]["policies"][0]["policy_no"]
    drop(root, "加人.xlsx", {"操作类型": "加人", "保单号": number}, [[1, *again[0][1:]]])
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "加人_结果")
    assert [e["code"] for e in data["errors"]] == ["endorse.already_covered"], data["errors"]
    assert ledger_rows(root) == before


def test_quote_prices_and_issues_nothing(root):
    before = ledger_rows(root)
    drop(root, "试算.xlsx", issue_fields(操作类型="试算", 天数=5), people(4))
    run_watcher(root, "process")
    data, wb = result(root, "GZ001", "试算_结果")
    assert data["status"] == "quote" and data["policies"] == [] and data["premium_total"] == "32.00"
    assert data["quote"][0]["premium"] == "32.00" and data["quote"][0]["policy_no"] is None
    assert summary_values(wb)["状态"] == "试算"
    # Issued by changing 操作类型 to 投保 in the result and dropping it back: the template's dropdown is there.
    apply = wb["申请"]
    at = next(r for r in range(1, apply.max_row + 1) if apply.cell(r, 1).value == "操作类型")
    lists = {str(dv.sqref): dv.formula1 for dv in apply.data_validations.dataValidation}
    assert lists.get(f"B{at}") == '"投保,试算"', lists
    assert ledger_rows(root) == before
    assert not list((root / "outbox" / "GZ001").glob("电子保单_*"))


def test_same_bytes_again_are_a_duplicate_with_the_first_policies_and_a_new_result_name(root):
    path = drop(root, "团B.xlsx", issue_fields(), people(2))
    content = path.read_bytes()
    run_watcher(root, "process")
    first, _ = result(root, "GZ001", "团B_结果")
    after_first = ledger_rows(root)
    path.write_bytes(content)
    run_watcher(root, "process")
    again, wb = result(root, "GZ001", "团B_结果_2")
    assert again["status"] == "duplicate"
    assert again["policies"] == first["policies"] and again["sha256"] == first["sha256"]
    assert summary_values(wb)["状态"] == "重复提交"
    assert ledger_rows(root) == after_first
    # The first result given again, the roster echoed row for row with each person's premium as it was.
    _, first_wb = result(root, "GZ001", "团B_结果")
    assert wb.sheetnames == first_wb.sheetnames
    echoed = [[c.value for c in row] for row in wb["被保险人名单"].iter_rows()]
    assert echoed == [[c.value for c in row] for row in first_wb["被保险人名单"].iter_rows()]
    # Other bytes under the same name are a new request with a new result name; nothing is overwritten.
    overlapping = drop(root, "团B.xlsx", issue_fields(旅行团号="GZ-T002"), people(2)).read_bytes()
    run_watcher(root, "process")
    third, _ = result(root, "GZ001", "团B_结果_3")
    assert third["status"] == "success" and third["policies"][0]["policy_no"] != first["policies"][0]["policy_no"]
    assert third["warnings"] and all(w["column"] == "证件号码" for w in third["warnings"])  # same people, overlapping
    # Those bytes again: the first result again, its warnings with it.
    path.write_bytes(overlapping)
    run_watcher(root, "process")
    fourth, wb = result(root, "GZ001", "团B_结果_4")
    assert fourth["status"] == "duplicate" and fourth["warnings"] == third["warnings"]
    assert summary_values(wb)["提示数"] == len(third["warnings"])


def test_a_failed_request_is_simply_processed_again(root):
    path = drop(root, "再来.xlsx", issue_fields(方案代码="NOPE"), people(1))
    content = path.read_bytes()
    run_watcher(root, "process")
    path.write_bytes(content)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "再来_结果_2")
    assert data["status"] == "failed"


def test_roster_with_synonym_headers_title_rows_and_examples(root):
    head = ["序号", "被保险人姓名", "证件类型", "身份证号码", "性别", "出生年月", "手机", "团员备注"]
    roster = [
        ["示例", "王芳", "身份证", SAMPLE_ID, "女", "1949-12-31", None, None],
        [1, " 阿  布 ", "身份证", ID_M_1980.lower(), None, None, 13800138000, "素食"],
        [None, None, None, None, None, None, None, None],
        [2, "ＡＢＣ", "护照", "e12345678", "M", "1985/6/1", None, None],
    ]
    path = drop(root, "同义.xlsx", issue_fields(), roster, head=head, header_row=3)
    wb = openpyxl.load_workbook(path)
    wb["被保险人名单"]["A1"] = "广州示例国际旅行社 团队名单"
    wb.save(path)
    run_watcher(root, "process")
    data, out = result(root, "GZ001", "同义_结果")
    assert data["status"] == "success", data["errors"]
    assert data["policies"][0]["insured_count"] == 2
    roster_out = out["被保险人名单"]
    assert roster_out["A1"].value == "广州示例国际旅行社 团队名单"  # rows keep their places
    assert roster_out["B5"].value == " 阿  布 " and roster_out["I5"].value == 5
    assert roster_out["I7"].value == 5 and roster_out["I4"].value is None  # the example row is not priced
    assert roster_out["H3"].value == "团员备注"  # extra columns echoed


def test_a_birth_month_typed_into_excel_under_出生年月_is_a_year_and_month_not_the_1st(root):
    """Excel turns 1990-03 typed under 出生年月 into the date 1990-03-01 (shown 1990年3月): the clerk was told
    the 1st of March does not match the ID of someone born on the 7th. It is a year and month where the
    number gives the day; a real mismatch says the year and month as shown, and a passport's 1st stands."""
    head = ["序号", "姓名", "证件类型", "证件号码", "性别", "出生年月"]
    month = 'yyyy"年"m"月"'
    ok = [
        [1, "张三", "身份证", ID_M_1990, None, datetime(1990, 3, 1)],
        [2, "李四", "护照", "E12345678", "男", datetime(1985, 6, 1)],
    ]
    bad = [[1, "张三", "身份证", ID_M_1990, None, datetime(1990, 4, 1)]]
    for name, roster in (("月份.xlsx", ok), ("月份错.xlsx", bad)):
        path = drop(root, name, issue_fields(旅行团号=name), roster, head=head)
        wb = openpyxl.load_workbook(path)
        for row in wb["被保险人名单"].iter_rows(min_row=2, min_col=6, max_col=6):
            row[0].number_format = month
        wb.save(path)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "月份_结果")
    assert data["status"] == "success", data["errors"]
    assert data["policies"][0]["insured_count"] == 2
    data, _ = result(root, "GZ001", "月份错_结果")
    assert [(e["code"], e["row"], e["column"]) for e in data["errors"]] == [("birth.mismatch", 2, "出生日期")]
    assert "1990-04" in data["errors"][0]["message"] and "1990-04-01" not in data["errors"][0]["message"]


def test_a_bilingual_roster_header_is_read_by_its_chinese_name(root):
    """An outbound group's roster headed 姓名 Name, 证件类型 ID Type, 证件号码\nID No.: refused as having no
    roster sheet at all, while the sheet was there under its own name."""
    head = ["序号 No.", "姓名 Name", "证件类型 ID Type", "证件号码\nID No.", "性别/Sex", "出生日期 Date of Birth"]
    roster = [[1, "张三", "身份证", ID_M_1990, None, None], [2, "LEE ANNA", "护照", "E12345678", "女", "1985-06-01"]]
    drop(root, "双语.xlsx", issue_fields(旅行团号="BI-1"), roster, head=head)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "双语_结果")
    assert data["status"] == "success", data["errors"]
    assert data["policies"][0]["insured_count"] == 2
    # A header the desk cannot read says the sheet lacks a header row, not that the sheet is missing.
    drop(root, "无表头.xlsx", issue_fields(旅行团号="BI-2"), roster, head=["序号", "客人", *head[2:]])
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "无表头_结果")
    assert [e["code"] for e in data["errors"]] == ["roster.no_header"]
    assert "“被保险人名单”表中找不到表头行" in data["errors"][0]["message"]
    # 客人姓名 (as agencies head it) is read as 姓名: it was refused as a sheet without a header row.
    drop(root, "客人姓名.xlsx", issue_fields(旅行团号="BI-3"), roster, head=["序号", "客人姓名", *head[2:]])
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "客人姓名_结果")
    assert data["status"] == "success", data["errors"]


def test_csv_requests_in_utf8_bom_and_gb18030(root):
    start = future().strftime("%Y-%m-%d %H:%M")
    text = (
        f"操作类型,投保\n旅行团号,CSV-1\n区域,境内\n方案代码,GN-A\n生效时间,{start}\n天数,2\n\n"
        f"序号,姓名,证件类型,证件号码,性别,出生日期\n1,张三,身份证,{ID_M_1980},,\n2,李四,身份证,{ID_F_2000},女,\n"
    )
    (root / "workbooks" / "GZ001" / "utf8.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (root / "workbooks" / "GZ001" / "gbk.csv").write_bytes(text.replace("CSV-1", "CSV-2").encode("gb18030"))
    bad = text.replace(ID_F_2000, "310101200001010027")
    (root / "workbooks" / "GZ001" / "bad.csv").write_bytes(bad.replace("CSV-1", "CSV-3").encode("utf-8"))
    joined = text.replace("天数,2\n\n", "天数,2\n").replace("CSV-1", "CSV-4")  # no blank line before the roster
    (root / "workbooks" / "GZ001" / "joined.csv").write_bytes(joined.encode("utf-8"))
    # The template's 申请 sheet saved alone (Excel, WPS and Calc save one sheet to CSV): no roster anywhere in
    # it, told so, not asked for a blank line before a roster the file does not hold.
    alone = text.split("\n\n")[0].replace("CSV-1", "CSV-5") + "\n"
    (root / "workbooks" / "GZ001" / "alone.csv").write_bytes(alone.encode("utf-8"))
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "joined_结果")
    assert [e["code"] for e in data["errors"]] == ["roster.csv_blank_line"] and "空一行" in data["errors"][0]["message"]
    assert not [w for w in data["warnings"] if w["code"] == "field.unread_label"], "its people are no labels"
    data, _ = result(root, "GZ001", "alone_结果")
    assert [e["code"] for e in data["errors"]] == ["roster.csv_missing"]
    assert "一张工作表" in data["errors"][0]["message"] and ".xlsx" in data["errors"][0]["message"]
    for stem in ("utf8_结果", "gbk_结果"):
        data, _ = result(root, "GZ001", stem)
        assert data["status"] == "success" and data["policies"][0]["premium"] == "10.00", data["errors"]
    data, _ = result(root, "GZ001", "bad_结果")
    assert [(e["sheet"], e["row"], e["column"]) for e in data["errors"]] == [("被保险人名单", 10, "证件号码")]


def test_a_blank_line_among_the_csv_apply_rows_loses_none_of_them(root):
    """A clerk left a blank line inside the 申请 rows of a CSV: the rows after it (行程路线, 经办人, 营销员)
    are still read on their own line numbers, and a title row above the roster's header is no field. Before,
    they fell to the roster's side unread: the policy was issued without 经办人 and 营销员, said 成功."""
    start = future().strftime("%Y-%m-%d %H:%M")
    text = (
        f"操作类型,投保\n旅行团号,CSV-B1\n区域,境内\n方案代码,GN-A\n生效时间,{start}\n天数,2\n\n"
        "行程路线,广州-桂林\n经办人,小陈\n营销员工号,S01\n营销员姓名,老王\n\n被保险人名单\n"
        f"序号,姓名,证件类型,证件号码,性别,出生日期\n1,张三,身份证,{ID_M_1980},,\n2,李四,身份证,{ID_F_2000},女,\n"
    )
    (root / "workbooks" / "GZ001" / "空行.csv").write_bytes(text.encode("utf-8"))
    early = text.replace("CSV-B1", "CSV-B2").replace("区域,境内\n", "\n区域,境内\n").replace("天数,2", "天数,x")
    (root / "workbooks" / "GZ001" / "早空行.csv").write_bytes(early.encode("utf-8"))
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "空行_结果")
    assert data["status"] == "success" and not data["warnings"], (data["errors"], data["warnings"])
    [row] = ledger_query(root, "SELECT route, handler, sales_id, sales_name FROM policies")
    assert tuple(row) == ("广州-桂林", "小陈", "S01", "老王")
    data, _ = result(root, "GZ001", "早空行_结果")
    assert [(e["sheet"], e["row"], e["column"]) for e in data["errors"]] == [("申请", 7, "天数")], data["errors"]
    # A query has no roster: its filter after a blank line was dropped, and it answered another question.
    query = "操作类型,保单查询\n旅行团号,CSV-B1\n\n保单状态,已撤单\n"
    (root / "workbooks" / "GZ001" / "查询.csv").write_bytes(query.encode("utf-8"))
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "查询_结果")
    assert data["status"] == "success" and data["policies"] == [], data["policies"]  # CSV-B1's is 有效


def test_csv_saved_with_semicolons_or_tabs_is_read_by_its_own_separator(root):
    """Some Excel locales save CSV with ; and "Unicode text" with tabs: the sniffer cannot decide on two
    columns of 申请 above a wider roster, and read with commas each line was one cell ("no 操作类型")."""
    start = future().strftime("%Y-%m-%d %H:%M")
    lines = [
        ["操作类型", "投保"],
        ["旅行团号", "SEP-1"],
        ["区域", "境内"],
        ["方案代码", "GN-A"],
        ["生效时间", start],
        ["天数", "2"],
        [],
        ["序号", "姓名", "证件类型", "证件号码", "性别", "出生日期"],
        ["1", "张三", "身份证", ID_M_1980, "", ""],
        ["2", "李四", "身份证", ID_F_2000, "女", ""],
    ]
    for name, sep in (("分号", ";"), ("制表符", "\t")):
        text = "".join(sep.join(line) + "\r\n" for line in lines).replace("SEP-1", f"SEP-{name}")
        (root / "workbooks" / "GZ001" / f"{name}.csv").write_bytes(text.encode("utf-8"))
    run_watcher(root, "process")
    for name in ("分号", "制表符"):
        data, _ = result(root, "GZ001", f"{name}_结果")
        assert data["status"] == "success" and data["policies"][0]["insured_count"] == 2, (name, data["errors"])


def test_a_roster_formula_without_its_value_is_said_once_not_also_as_blank(root):
    """姓名 and 证件号码 typed as formulas a program saved without values: the clerk filled them, so only the
    formula is said (they also got 姓名没有填写 and 证件号码没有填写)."""
    path = drop(root, "名单公式.xlsx", issue_fields(), people(2))
    wb = openpyxl.load_workbook(path)
    sheet = wb["被保险人名单"]
    head = [c.value for c in sheet[1]]
    sheet.cell(2, head.index("姓名") + 1).value = '="冯"&"三"'
    sheet.cell(3, head.index("证件号码") + 1).value = '="44010619800202"&"0309"'
    wb.save(path)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "名单公式_结果")
    assert sorted((e["code"], e["row"], e["column"]) for e in data["errors"]) == [
        ("cell.formula_no_value", 2, "姓名"),
        ("cell.formula_no_value", 3, "证件号码"),
    ], data["errors"]


def _append_rows(path: Path, rows_xml: str) -> None:
    """Rows written into the roster sheet's XML as another program saves them (below those there)."""
    import zipfile

    with zipfile.ZipFile(path) as src:
        parts = {info.filename: src.read(info) for info in src.infolist()}
    sheet = "xl/worksheets/sheet2.xml"
    assert b"</sheetData>" in parts[sheet] and b'<row r="4"' not in parts[sheet]
    parts[sheet] = parts[sheet].replace(b"</sheetData>", rows_xml.encode() + b"</sheetData>", 1)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)


def test_formulas_dragged_past_the_last_traveller_whose_saved_result_is_empty_are_blank_rows(root):
    """=IF($Z5="","",$Z5) filled down below the roster: Excel saves each result, empty text, as <v></v> with
    t="str". Those rows look blank to the clerk and are blank: skipped, not 'a formula without its value'.
    A formula Excel saved as an empty number (no value at all) is still refused."""
    path = drop(root, "下拉公式.xlsx", issue_fields(), people(2))
    cells = "".join(
        f'<row r="{r}">'
        + "".join(f'<c r="{col}{r}" t="str"><f>IF($Z${r}="","",$Z${r})</f><v></v></c>' for col in "ABCD")
        + "</row>"
        for r in range(4, 9)
    )
    _append_rows(path, cells)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "下拉公式_结果")
    assert data["status"] == "success" and data["policies"][0]["insured_count"] == 2, data["errors"]

    numeric = '<row r="4"><c r="B4"><f>IF($Z$4="","",1)</f><v></v></c></row>'
    _append_rows(drop(root, "空数公式.xlsx", issue_fields(旅行团号="GZ-T002"), people(4)[2:]), numeric)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "空数公式_结果")
    assert ("cell.formula_no_value", 4, "姓名") in [(e["code"], e["row"], e["column"]) for e in data["errors"]]


def test_formula_without_cached_value_is_refused_and_markup_never_reaches_the_page(root):
    roster = people(2)
    roster[0][1] = "<script>alert(1)</script>"
    path = drop(root, "公式.xlsx", issue_fields(), roster)
    wb = openpyxl.load_workbook(path)
    wb["申请"]["B6"] = "=1+2"  # 天数 as a formula openpyxl saves without a value
    wb.save(path)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "公式_结果")
    assert [(e["sheet"], e["row"], e["column"]) for e in data["errors"]][:1] == [("申请", 6, "天数")]
    assert data["errors"][0]["code"] == "cell.formula_no_value"
    # The same name with markup, but valid otherwise: the page escapes it.
    roster[0][1] = "Anne<b>Lee"
    drop(root, "标记.xlsx", issue_fields(), roster)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "标记_结果")
    assert data["status"] == "failed"  # "<" is no character of a name
    assert "姓名" in [e["column"] for e in data["errors"]]


def test_the_ledger_records_requests_policies_people_and_journal(root):
    drop(root, "账.xlsx", issue_fields(), people(3))
    run_watcher(root, "process")
    rows = ledger_rows(root)
    assert len(rows["policies"]) == 1 and len(rows["insured"]) == 3 and len(rows["requests"]) == 1
    events = [r[4] for r in rows["journal"]]
    assert events[-2:] == ["request", "policy.issued"]
    detail = json.loads(rows["journal"][-1][6])
    assert len(detail["people"]) == 3 and detail["premium_fen"] == 1500
    outputs = {r[1] for r in rows["outputs"]}
    assert outputs == {"账_结果.xlsx", "账_结果.json", f"电子保单_{rows['policies'][0][0]}.html"}


def test_a_duplicate_of_a_request_whose_policy_was_replaced_since_names_the_policy_in_force(root):
    """The first result again, its policy void since (批改, then 撤单 of the one after): 人数 0 must not read
    as a group never insured; each void policy names the one that covers the group now."""
    path = drop(root, "团R.xlsx", issue_fields(), people(3))
    content = path.read_bytes()
    run_watcher(root, "process")
    a = result(root, "GZ001", "团R_结果")[0]["policies"][0]["policy_no"]
    drop(root, "批改.xlsx", {"操作类型": "批改", "保单号": a, "天数": 6})
    run_watcher(root, "process")
    b = result(root, "GZ001", "批改_结果")[0]["policies"][0]["policy_no"]
    path.write_bytes(content)
    run_watcher(root, "process")
    again, wb = result(root, "GZ001", "团R_结果_2")
    assert again["status"] == "duplicate" and again["policies"][0]["status"] == "已撤单"
    assert again["policies"][0]["replaced_by"] == b  # the JSON twin says it too, for agencies' systems
    values = summary_values(wb)
    assert "当前状态" in values["说明"]
    texts = [c.value for row in wb["结果汇总"].iter_rows() for c in row if isinstance(c.value, str)]
    assert f"保单 {a} 已被 {b} 替代，请以该保单为准" in texts
    # And once that one is cancelled too, the same bytes say so.
    drop(root, "撤单.xlsx", {"操作类型": "撤单", "保单号": b})
    run_watcher(root, "process")
    path.write_bytes(content)
    run_watcher(root, "process")
    _, wb = result(root, "GZ001", "团R_结果_3")
    texts = [c.value for row in wb["结果汇总"].iter_rows() for c in row if isinstance(c.value, str)]
    assert f"保单 {a} 已被 {b} 替代，该保单现也已撤单" in texts


def test_a_start_with_no_hour_is_issued_from_0时_and_says_so(root):
    """生效时间 `2026-12-05` (a day alone) was issued from 00:00 without a word: a clerk who forgot the hour
    is told, with the form that names one."""
    day = future(days=5).strftime("%Y-%m-%d")
    write_request(root / "workbooks" / "GZ001" / "无钟点.xlsx", issue_fields(生效时间=day), people(2))
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "无钟点_结果")
    assert data["status"] == "success" and data["policies"][0]["start"].startswith(f"{day}T00:00:00")
    assert [(w["code"], w["column"]) for w in data["warnings"]] == [("field.effective_date_only", "生效时间")]
    assert (
        f"{day} 08:00" in data["warnings"][0]["message"] and "如确为 0 时起保可忽略" in data["warnings"][0]["message"]
    )


def test_a_start_at_24_时_is_the_next_days_0_时_and_says_so(root):
    """`2026-12-21 24:00` was taken as 12-22 00:00 without a word, where the clerk may have meant the 21st."""
    day = future(days=5)
    typed = f"{day:%Y-%m-%d} 24:00"
    write_request(root / "workbooks" / "GZ001" / "二十四.xlsx", issue_fields(生效时间=typed), people(2))
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "二十四_结果")
    following = (day + timedelta(days=1)).strftime("%Y-%m-%d")
    assert data["status"] == "success" and data["policies"][0]["start"].startswith(f"{following}T00:00:00")
    assert [(w["code"], w["column"]) for w in data["warnings"]] == [("field.effective_24", "生效时间")]
    assert typed in data["warnings"][0]["message"] and f"{day:%Y-%m-%d} 08:00" in data["warnings"][0]["message"]


def test_a_failed_result_names_the_group_and_plan_it_was_about(root):
    """A 投保 refused (a 生效时间 not on the hour) showed 旅行团号 and 方案 as "—" in its summary: which of
    the clerk's groups had failed was to be found in the 申请 sheet."""
    start = future(days=4).replace(minute=30).strftime("%Y-%m-%d %H:%M")
    write_request(root / "workbooks" / "GZ001" / "半点.xlsx", issue_fields(旅行团号="D15", 生效时间=start), people(2))
    run_watcher(root, "process")
    data, wb = result(root, "GZ001", "半点_结果")
    assert data["status"] == "failed"
    cells = {row[0].value: row[1].value for row in wb["结果汇总"].iter_rows(max_col=2) if row[0].value}
    assert cells["旅行团号"] == "D15" and cells["方案"] == "GN-A"


def test_an_id_whose_last_three_digits_excel_zeroed_is_said_so(root):
    """A number cell keeps 15 digits; the column made text afterwards shows …000. Ten times in eleven the
    check failed and the clerk was told to look for a typo; the eleventh was issued in silence under a
    number that is nobody's."""
    drop(root, "零尾.xlsx", issue_fields(旅行团号="T-Z1"), [[1, "张三", "身份证", "440106198801027000"]], head=None)
    drop(root, "零尾过.xlsx", issue_fields(旅行团号="T-Z2"), [[1, "李四", "身份证", "440106198801026000"]], head=None)
    run_watcher(root, "process")
    refused, _ = result(root, "GZ001", "零尾_结果")
    [error] = refused["errors"]
    assert (
        refused["status"] == "failed" and error["code"] == "id.excel_zeros" and "只保留了前 15 位" in error["message"]
    )
    issued, _ = result(root, "GZ001", "零尾过_结果")
    assert issued["status"] == "success"
    [warning] = issued["warnings"]
    assert warning["code"] == "id.trailing_zeros" and (warning["row"], warning["column"]) == (2, "证件号码")


def test_a_tour_group_typed_in_a_number_cell_is_still_the_same_group(root):
    """0012 typed in a General cell arrives as 12; the same people again under '0012' typed as text were
    another group, and a second policy for them was issued with nothing but an overlap warning."""
    drop(root, "数字团号.xlsx", issue_fields(旅行团号=12), people(2))
    run_watcher(root, "process")
    first, _ = result(root, "GZ001", "数字团号_结果")
    assert first["status"] == "success" and first["warnings"] == [], first
    drop(root, "文本团号.xlsx", issue_fields(旅行团号="0012"), people(2))
    run_watcher(root, "process")
    again, _ = result(root, "GZ001", "文本团号_结果")
    assert again["status"] == "failed" and {e["code"] for e in again["errors"]} == {"roster.same_group"}, again
    assert first["policies"][0]["policy_no"] in again["errors"][0]["message"]
