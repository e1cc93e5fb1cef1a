"""The money after month-end as an accountant types it: a payment or invoice dated before the month it
bills is a typo (业绩 would land in another month) and is refused; an invoice dated before its payment is
allowed with a warning; a formula cell gets one message, not two; an admin request sent as CSV is read."""

from __future__ import annotations

import json

import openpyxl
from helpers import admin, agency_workbook, fake, issue, ledger_rows, month_end, result, run_watcher, statements

PAY = ["序号", "对账单号", "金额", "缴费凭证号", "到账日期"]
NOW = "2026-12-02T10:00:00+08:00"
INVOICE = ["序号", "对账单号", "发票号", "开票日期"]


def _confirmed(root) -> tuple[str, float]:
    issue(root, "团A", "2026-11-20 08:00", n=3)
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    number, total = statements(root)[0][0], statements(root)[0][4]
    data, _ = admin(
        root,
        "确认",
        "对账确认",
        ["序号", "对账单号", "业务渠道", "确认人"],
        [[1, number, "团险直销", "张运营"]],
        action="对账确认",
        now="2026-12-02T10:00:00+08:00",
    )
    assert data["status"] == "success", data["errors"]
    return number, total / 100


def test_a_payment_dated_before_the_billed_month_is_refused(root):
    number, amount = _confirmed(root)
    before = ledger_rows(root)
    data, _ = admin(
        root,
        "收费",
        "收费",
        PAY,
        [[1, number, amount, "PZ1", "2020-01-01"]],
        action="收费登记",
        now="2026-12-03T10:00:00+08:00",
    )
    assert data["status"] == "failed"
    assert [(e["code"], e["column"], e["row"]) for e in data["errors"]] == [
        ("statement.dated_before_month", "到账日期", 2)
    ]
    assert "2026-11" in data["errors"][0]["message"]
    assert ledger_rows(root) == before


def test_an_invoice_dated_before_the_billed_month_is_refused_and_one_before_its_payment_is_warned(root):
    number, amount = _confirmed(root)
    data, _ = admin(
        root,
        "收费",
        "收费",
        PAY,
        [[1, number, amount, "PZ1", "2026-12-03"]],
        action="收费登记",
        now="2026-12-03T10:00:00+08:00",
    )
    assert data["status"] == "success", data["errors"]
    before = ledger_rows(root)
    data, _ = admin(
        root,
        "发票",
        "发票",
        INVOICE,
        [[1, number, "4401", "2019-01-01"]],
        action="发票登记",
        now="2026-12-04T10:00:00+08:00",
    )
    assert data["status"] == "failed" and data["errors"][0]["code"] == "statement.dated_before_month"
    assert data["warnings"] == [], "no 业绩 month promised for a row refused"
    assert ledger_rows(root) == before
    data, _ = admin(
        root,
        "发票2",
        "发票",
        INVOICE,
        [[1, number, "4401", "2026-11-30"]],
        action="发票登记",
        now="2026-12-04T10:00:00+08:00",
    )
    assert data["status"] == "success", data["errors"]
    assert [w["code"] for w in data["warnings"]] == ["statement.invoiced_before_paid"]
    assert "2026-11" in data["warnings"][0]["message"] and data["warnings"][0]["column"] == "开票日期"
    assert statements(root)[0][6] == "已开票"


def test_a_formula_amount_is_told_once(root):
    number, _amount = _confirmed(root)
    row = [1, number, "=10+39", "PZ1", "2026-12-03"]  # a formula saved without a cached value
    data, _ = admin(root, "公式", "收费", PAY, [row], action="收费登记", now="2026-12-03T10:00:00+08:00")
    assert data["status"] == "failed"
    assert [e["column"] for e in data["errors"]] == ["金额"], data["errors"]
    assert "没有填写" not in data["errors"][0]["message"]


def test_an_admin_request_as_csv_is_read_like_its_workbook(root):
    number, amount = _confirmed(root)
    text = f"操作类型,收费登记\n\n{','.join(PAY)}\n1,{number},{amount:.2f},PZ1,2026-12-03\n"
    (root / "workbooks" / "_admin" / "收费.csv").write_bytes(text.encode("gbk"))
    run_watcher(root, "process", env=fake("2026-12-03T10:00:00+08:00"))
    data, _ = result(root, "_admin", "收费_结果")
    assert data["status"] == "success", data["errors"]
    assert statements(root)[0][6] == "已缴费"


def test_a_voucher_or_invoice_number_another_statement_has_is_warned(root):
    issue(root, "团A", "2026-11-20 08:00", n=3)
    issue(root, "团B", "2026-11-20 08:00", n=2, plan="GW-B")
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    (a, *_rest_a), (b, *_rest_b) = statements(root)
    totals = {s[0]: s[4] / 100 for s in statements(root)}
    data, _ = admin(
        root,
        "确认",
        "对账确认",
        ["序号", "对账单号", "业务渠道", "确认人"],
        [[1, a, "团险直销", "张运营"], [2, b, "团险直销", "张运营"]],
        action="对账确认",
        now="2026-12-02T10:00:00+08:00",
    )
    assert data["status"] == "success", data["errors"]
    data, _ = admin(
        root,
        "收费",
        "收费",
        PAY,
        [[1, a, totals[a], "PZ1", "2026-12-03"], [2, b, totals[b], "PZ1", "2026-12-03"]],
        action="收费登记",
        now="2026-12-03T10:00:00+08:00",
    )
    assert data["status"] == "success", data["errors"]  # one transfer may pay both: said, not refused
    # Named as the row above, not as a statement it "has been used for": nothing of a file is recorded
    # while any row has an error.
    assert [(w["code"], w["row"]) for w in data["warnings"]] == [("statement.ref_reused_here", 3)]
    assert a in data["warnings"][0]["message"] and "本表第 2 行" in data["warnings"][0]["message"]
    data, _ = admin(
        root,
        "发票",
        "发票",
        INVOICE,
        [[1, a, "4401", "2026-12-04"]],
        action="发票登记",
        now="2026-12-04T10:00:00+08:00",
    )
    assert data["status"] == "success" and data["warnings"] == []
    data, _ = admin(
        root,
        "发票2",
        "发票",
        INVOICE,
        [[1, b, "4401", "2026-12-04"]],
        action="发票登记",
        now="2026-12-04T11:00:00+08:00",
    )
    assert data["status"] == "success" and [w["code"] for w in data["warnings"]] == ["statement.invoice_reused"]
    assert [s[6] for s in statements(root)] == ["已开票", "已开票"]


def test_one_invoice_number_for_statements_of_two_agencies_is_refused(root):
    """An invoice (发票) has one buyer: its number on another agency's statement is a typo, refused, where
    on another statement of the same agency it is only warned (one invoice may cover several)."""
    agency_workbook(
        root / "workbooks/_admin/机构.xlsx", [[1, "SZ002", "深圳测试旅行社", "9144", "XY-2", "GN-A，GW-B", "合作中"]]
    )
    run_watcher(root, "process", env=fake("2026-11-01T09:00:00+08:00"))
    issue(root, "团A", "2026-11-20 08:00", n=3)
    issue(root, "团C", "2026-11-21 08:00", n=2, agency="SZ002")
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    rows = statements(root)
    gz = next(s[0] for s in rows if s[1] == "GZ001")
    sz = next(s[0] for s in rows if s[1] == "SZ002")
    totals = {s[0]: s[4] / 100 for s in rows}
    confirm = [[1, gz, "团险直销", "张运营"], [2, sz, "团险直销", "张运营"]]
    admin(
        root,
        "确认",
        "对账确认",
        ["序号", "对账单号", "业务渠道", "确认人"],
        confirm,
        action="对账确认",
        now="2026-12-02T10:00:00+08:00",
    )
    paid = [[1, gz, totals[gz], "PZ1", "2026-12-03"], [2, sz, totals[sz], "PZ2", "2026-12-03"]]
    data, _ = admin(root, "收费", "收费", PAY, paid, action="收费登记", now="2026-12-03T10:00:00+08:00")
    assert data["status"] == "success", data["errors"]
    # In one file, and against the ledger.
    before = ledger_rows(root)
    both = [[1, gz, "FP9", "2026-12-04"], [2, sz, "FP9", "2026-12-04"]]
    data, _ = admin(root, "发票", "发票", INVOICE, both, action="发票登记", now="2026-12-04T10:00:00+08:00")
    assert data["status"] == "failed" and [(e["code"], e["row"]) for e in data["errors"]] == [
        ("statement.invoice_other_agency", 3)
    ]
    assert "GZ001" in data["errors"][0]["message"] and gz in data["errors"][0]["message"]
    assert ledger_rows(root) == before
    data, _ = admin(root, "发票1", "发票", INVOICE, both[:1], action="发票登记", now="2026-12-04T11:00:00+08:00")
    assert data["status"] == "success", data["errors"]
    data, _ = admin(
        root,
        "发票2",
        "发票",
        INVOICE,
        [[1, sz, "FP9", "2026-12-04"]],
        action="发票登记",
        now="2026-12-04T12:00:00+08:00",
    )
    assert data["status"] == "failed" and [e["code"] for e in data["errors"]] == ["statement.invoice_other_agency"]
    data, _ = admin(
        root,
        "发票3",
        "发票",
        INVOICE,
        [[1, sz, "FP10", "2026-12-04"]],
        action="发票登记",
        now="2026-12-04T13:00:00+08:00",
    )
    assert data["status"] == "success" and data["warnings"] == []


def test_a_plan_upload_as_csv_is_told_it_needs_the_workbook(root):
    """方案 is several tables (方案, 费率, 保障): a CSV carries one, so it is told once to use the template,
    not given a column error for each table."""
    text = "操作类型,方案\n\n方案代码,方案名称,区域\nGN-Z,测试方案,境内\n"
    (root / "workbooks" / "_admin" / "方案.csv").write_bytes(text.encode("gbk"))
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "方案_结果")
    assert data["status"] == "failed"
    assert [e["code"] for e in data["errors"]] == ["table.csv_many"], data["errors"]


def test_a_summary_filled_again_skips_the_statements_confirmed_before_with_the_same_channel(root):
    """The month-end summary still lists what was confirmed from it before: staff fill the next row of the
    same workbook and drop it again. Before, the whole file was refused for the rows sent the first time
    and the new statement stayed unconfirmed; a row naming another 业务渠道 is still refused."""
    issue(root, "团A", "2026-11-20 08:00", n=3)
    issue(root, "团B", "2026-11-20 08:00", n=2, plan="GW-B")
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    first, second = (row[0] for row in statements(root))
    head = ["序号", "对账单号", "业务渠道", "确认人"]
    now = "2026-12-02T10:00:00+08:00"
    data, _ = admin(root, "确认1", "对账确认", head, [[1, first, "团险直销", "张运营"]], action="对账确认", now=now)
    assert data["status"] == "success", data["errors"]

    rows = [[1, first, "个险渠道", "张运营"], [2, second, "团险直销", "张运营"]]
    before = ledger_rows(root)
    data, _ = admin(root, "改渠道", "对账确认", head, rows, action="对账确认", now=now)
    assert data["status"] == "failed" and [e["code"] for e in data["errors"]] == ["statement.confirmed_already"]
    assert ledger_rows(root) == before, "nothing confirmed: 业务渠道 is irreversible"

    rows = [[1, first, "团险直销", "张运营"], [2, second, "团险直销", "李运营"]]
    data, book = admin(root, "确认2", "对账确认", head, rows, action="对账确认", now=now)
    assert data["status"] == "success", data["errors"]
    assert [(w["code"], w["row"]) for w in data["warnings"]] == [("statement.confirmed_same", 2)]
    assert "本行跳过" in data["warnings"][0]["message"]
    assert [row[6] for row in statements(root)] == ["已确认", "已确认"]

    rows = [[1, first, "团险直销", "王运营"], [2, second, "团险直销", "王运营"]]  # nothing left to confirm
    data, _ = admin(root, "确认3", "对账确认", head, rows, action="对账确认", now=now)
    assert data["status"] == "failed" and [e["code"] for e in data["errors"]] == ["statement.nothing_new"]


def test_a_statement_keeps_the_agency_name_it_was_made_with(root):
    """An agency renamed after its statements were made: paying one wrote it again under the same number
    with the new name (its xlsx and JSON twin), as if the signed paper had said so, and a later month-end
    summary listed the one still waiting under the new name. A statement made after the rename carries it."""
    issue(root, "团A", "2026-11-20 08:00", n=3)
    issue(root, "团C", "2026-11-20 08:00", n=2, plan="GW-B")
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    (number, *_), (waiting, *_) = statements(root)
    total = statements(root)[0][4] / 100
    confirm = [[1, number, "团险直销", "张运营"]]
    admin(root, "确认", "对账确认", ["序号", "对账单号", "业务渠道", "确认人"], confirm, action="对账确认", now=NOW)
    old = json.loads((root / "outbox/GZ001" / f"对账单_{number}.json").read_text("utf-8"))["agency_name"]
    head = ["序号", "机构代码", "机构名称", "营业执照号", "协议编号", "可用方案", "状态"]
    renamed = [[1, "GZ001", "广州改名旅行社有限公司", "91440101X", "XY-001", "GN-A、GW-B", "合作中"]]
    data, _ = admin(root, "改名", "机构", head, renamed, action="机构", now="2026-12-02T11:00:00+08:00")
    assert data["status"] == "success", data["errors"]
    paid = [[1, number, total, "PZ9", "2026-12-03"]]
    data, _ = admin(root, "收费", "收费", PAY, paid, action="收费登记", now="2026-12-03T10:00:00+08:00")
    assert data["status"] == "success", data["errors"]
    again = json.loads((root / "outbox/GZ001" / f"对账单_{number}.json").read_text("utf-8"))
    assert again["status"] == "已缴费" and again["agency_name"] == old != "广州改名旅行社有限公司"
    book = openpyxl.load_workbook(root / "outbox/GZ001" / f"对账单_{number}.xlsx")
    cells = [c for row in book.active.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert any(old in c for c in cells) and not any("改名" in c for c in cells)
    issue(root, "团B", "2026-12-20 08:00", n=2, at="2026-12-02T12:00:00+08:00")
    month_end(root, "2026-12", "2027-01-01T02:00:00+08:00")
    newer = [s[0] for s in statements(root) if s[0] not in (number, waiting)]
    made = json.loads((root / "outbox/GZ001" / f"对账单_{newer[0]}.json").read_text("utf-8"))
    assert made["agency_name"] == "广州改名旅行社有限公司"
    summary = openpyxl.load_workbook(root / "outbox/_admin/月结汇总_2026-12.xlsx")["对账确认"]
    listed = {row[1]: row[3] for row in summary.iter_rows(min_row=2, values_only=True) if row[1]}
    assert listed[waiting] == old and listed[newer[0]] == "广州改名旅行社有限公司", listed


def test_a_failed_admin_csv_comes_back_as_a_workbook_that_can_be_corrected_and_dropped_back(root):
    """A 收费登记 sent as CSV with a wrong amount: its errors named the sheet 被保险人名单 (the roster) and its
    result echoed the table under that name, so the result, corrected in place and dropped back, failed
    again for want of a 收费 sheet: staff went round in a circle."""
    number, amount = _confirmed(root)
    text = f"操作类型,收费登记\n\n{','.join(PAY)}\n1,{number},abc,PZ1,2026-12-03\n"
    (root / "workbooks" / "_admin" / "收费.csv").write_bytes(text.encode("utf-8"))
    run_watcher(root, "process", env=fake("2026-12-03T10:00:00+08:00"))
    data, book = result(root, "_admin", "收费_结果")
    assert data["status"] == "failed" and [(e["sheet"], e["column"]) for e in data["errors"]] == [("收费", "金额")]
    assert "收费" in book.sheetnames and "被保险人名单" not in book.sheetnames
    sheet = book["收费"]
    [head] = [row for row in sheet.iter_rows(values_only=True) if "金额" in row]
    assert "错误说明" in head, "the 错误说明 heading on the table's own header row, not above it"
    [cell] = [c for row in sheet.iter_rows() for c in row if c.value == "abc"]
    cell.value = amount  # corrected in place, as the result's summary says
    book.save(root / "workbooks" / "_admin" / "收费_结果.xlsx")
    run_watcher(root, "process", env=fake("2026-12-03T11:00:00+08:00"))
    again = json.loads((root / "outbox" / "_admin" / "收费_结果_结果.json").read_text("utf-8"))
    assert again["status"] == "success", again["errors"]
    assert statements(root)[0][6] == "已缴费"


def test_a_summary_row_whose_amount_count_or_agency_was_changed_is_not_confirmed(root):
    """The 对账确认 sheet shows 机构代码, 金额 and 保单数 beside the cells to fill: an accountant who typed the
    amount the agency disputes there had the statement confirmed at its own figure, irreversibly, with no
    word. Refused, naming the cell; the row as the statement has it confirms."""
    issue(root, "团A", "2026-11-20 08:00", n=3)
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    total = statements(root)[0][4] / 100
    summary = root / "outbox/_admin/月结汇总_2026-11.xlsx"
    before = ledger_rows(root)
    for column, typed in (("金额", total - 5), ("保单数", 5), ("机构代码", "SZ002")):
        wb = openpyxl.load_workbook(summary)
        confirm = wb["对账确认"]
        head = [c.value for c in confirm[1]]
        confirm.cell(2, head.index("业务渠道") + 1, "团险直销")
        confirm.cell(2, head.index("确认人") + 1, "林会计")
        confirm.cell(2, head.index(column) + 1, typed)
        wb.save(root / f"workbooks/_admin/改{column}.xlsx")
        run_watcher(root, "process", env=fake(NOW))
        data, _ = result(root, "_admin", f"改{column}_结果")
        assert data["status"] == "failed", (column, data)
        [error] = data["errors"]
        assert (error["code"], error["row"], error["column"]) == ("statement.confirm_differs", 2, column), error
        assert ledger_rows(root) == before, "nothing confirmed"
    wb = openpyxl.load_workbook(summary)
    confirm = wb["对账确认"]
    head = [c.value for c in confirm[1]]
    confirm.cell(2, head.index("业务渠道") + 1, "团险直销")
    confirm.cell(2, head.index("确认人") + 1, "林会计")
    confirm.cell(2, head.index("机构代码") + 1, "gz001")  # as typed again, in another case
    wb.save(root / "workbooks/_admin/确认.xlsx")
    run_watcher(root, "process", env=fake(NOW))
    data, _ = result(root, "_admin", "确认_结果")
    assert data["status"] == "success" and data["warnings"] == [], data


def test_a_rows_error_is_said_before_its_warnings_in_the_echo(root):
    """A reused voucher number (a warning) and an amount short of the statement (the error that refuses
    the row): 错误说明 began 「提示：」 and the refusal read as part of the tip."""
    issue(root, "团A", "2026-11-20 08:00", n=3)
    issue(root, "团B", "2026-11-20 08:00", n=2, plan="GW-B")
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    (first, _, _, _, one, _, _), (second, _, _, _, two, _, _) = statements(root)
    head = ["序号", "对账单号", "业务渠道", "确认人"]
    rows = [[1, first, "团险直销", "张运营"], [2, second, "团险直销", "张运营"]]
    assert admin(root, "确认", "对账确认", head, rows, action="对账确认", now=NOW)[0]["status"] == "success"
    paid, _ = admin(root, "收1", "收费", PAY, [[1, first, one / 100, "PZ1", "2026-12-02"]], action="收费登记", now=NOW)
    assert paid["status"] == "success", paid["errors"]
    data, book = admin(
        root, "收2", "收费", PAY, [[1, second, two / 100 - 0.01, "PZ1", "2026-12-02"]], action="收费登记", now=NOW
    )
    assert data["status"] == "failed" and [w["code"] for w in data["warnings"]], data
    sheet = book["收费"]
    said = next(c.value for c in sheet[2] if isinstance(c.value, str) and "凭证" in c.value and "金额" in c.value)
    assert said.startswith("金额：") and "；提示：" in said, said


def test_money_echoed_in_an_admin_result_keeps_its_money_format(root):
    """The month-end summary dropped back as 对账确认, and a 收费登记: the result echoed their money
    (对账确认's 金额, 收费's 金额) as General numbers, 890.5 where the clerk had 890.50 (calamine reads
    values, not formats). Counts beside them stay plain numbers."""
    issue(root, "团A", "2026-11-20 08:00", n=3)
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    number, total = statements(root)[0][0], statements(root)[0][4] / 100
    wb = openpyxl.load_workbook(root / "outbox/_admin/月结汇总_2026-11.xlsx")
    confirm = wb["对账确认"]
    head = [c.value for c in confirm[1]]
    confirm.cell(2, head.index("业务渠道") + 1, "团险直销")
    confirm.cell(2, head.index("确认人") + 1, "张运营")
    wb.save(root / "workbooks/_admin/确认.xlsx")
    run_watcher(root, "process", env=fake(NOW))
    data, book = result(root, "_admin", "确认_结果")
    assert data["status"] == "success", data["errors"]
    assert "汇总" not in book.sheetnames  # the run's snapshot is not echoed: only what the request read
    # Saved by a program that drops the document's own properties: not known as the summary, all echoed,
    # the money beside a label in column A (汇总's 保费合计) still money.
    wb = openpyxl.load_workbook(root / "outbox/_admin/月结汇总_2026-11.xlsx")
    wb.custom_doc_props.props.clear()
    wb.save(root / "workbooks/_admin/无标记.xlsx")
    run_watcher(root, "process", env=fake(NOW))
    data, book = result(root, "_admin", "无标记_结果")
    labels = {row[0].value: row[1] for row in book["汇总"].iter_rows() if len(row) > 1}
    assert labels["保费合计"].value == total and labels["保费合计"].number_format == "#,##0.00"
    assert labels["有效保单数"].value == 1 and labels["有效保单数"].number_format == "General"
    echoed = book["对账确认"]
    assert echoed.cell(2, head.index("金额") + 1).value == total
    assert echoed.cell(2, head.index("金额") + 1).number_format == "#,##0.00"
    assert echoed.cell(2, head.index("保单数") + 1).number_format == "General"

    data, book = admin(root, "收费", "收费", PAY, [[1, number, total, "PZ1", "2026-12-02"]], action="收费登记", now=NOW)
    assert data["status"] == "success", data["errors"]
    assert book["收费"]["C2"].value == total and book["收费"]["C2"].number_format == "#,##0.00"
    assert book["收费"]["A2"].number_format == "General"


def test_a_title_ending_in_a_money_word_does_not_make_its_column_money():
    """A roster titled 某某旅行社团队保费 in A1 above its header: the 序号 column under it was echoed as money
    (1.00, 2.00). Only a header row (several names) or a label beside its value gives the format."""
    from watcher.io.book import Sheet
    from watcher.io.result_book import _money_cells

    rows = [["某某旅行社团队保费"], ["序号", "姓名", "保费"], [1, "张三", 5.0], [2, "李四", 7.5]]
    cells = _money_cells(Sheet("被保险人名单", rows))
    assert [cells(r, row) for r, row in enumerate(rows)] == [[], [], [2], [2]]
    labels = [["保费合计", 12.5], ["有效保单数", 2]]
    cells = _money_cells(Sheet("汇总", labels))
    assert [cells(r, row) for r, row in enumerate(labels)] == [[1], []]


def test_a_template_example_with_only_its_serial_changed_does_nothing(root, tmp_path):
    """SPEC: a template's sample is never acted on whatever its 序号 says, in every table. The 对账确认
    example named DZ202611000001, the first statement of a desk whose first month-end was 2026-11: a blank
    template with 序号 1 typed for 示例 confirmed it for good under 张运营; 收费/发票/预交保费 recorded money
    never received (attack N). Its examples now name a statement no desk has, and the row is refused."""
    issue(root, "团A", "2026-11-20 08:00", n=2)
    month_end(root, "2026-11", "2026-12-01T03:00:00+08:00")
    assert statements(root)[0][0] == "DZ202611000001"
    before = ledger_rows(root)
    for kind, sheet in (("对账确认", "对账确认"), ("收费登记", "收费"), ("发票登记", "发票"), ("预交保费", "预交保费")):
        path = tmp_path / f"{kind}.xlsx"
        run_watcher(root, "template", kind, "-o", str(path))
        wb = openpyxl.load_workbook(path)
        ws = wb[sheet]
        header = next(r for r in range(1, 10) if ws.cell(r, 1).value == "序号")
        assert ws.cell(header + 1, 1).value == "示例"
        ws.cell(header + 1, 1).value = 1  # nothing else typed
        wb.save(root / "workbooks" / "_admin" / f"{kind}.xlsx")
        run_watcher(root, "process", env=fake("2026-12-08T10:00:00+08:00"))
        data, _ = result(root, "_admin", f"{kind}_结果")
        assert data["status"] == "failed", (kind, data)
        assert [e["code"] for e in data["errors"]] == ["row.sample_renumbered"], (kind, data["errors"])
        assert data["errors"][0]["row"] == header + 1 and data["errors"][0]["column"] == "序号"
    assert ledger_rows(root) == before
    # A row that only looks like the example because cells are blank is said for what it lacks (review O).
    data, _ = admin(
        root,
        "确认空",
        "对账确认",
        ["序号", "对账单号", "业务渠道", "确认人"],
        [[1, None, "团险直销", "张运营"]],
        action="对账确认",
        now="2026-12-08T11:00:00+08:00",
    )
    assert data["status"] == "failed" and "row.sample_renumbered" not in [e["code"] for e in data["errors"]]
    assert data["errors"][0]["column"] == "对账单号", data["errors"]
