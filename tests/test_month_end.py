"""Month-end through the real thing: policies issued under an injected clock, `watcher month-end` and
`watcher serve` run across month boundaries, workbooks read back with openpyxl, the ledger compared
row by row around every refusal."""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from helpers import (
    DETAIL_COLUMNS,
    admin,
    agency_workbook,
    fake,
    issue,
    ledger_query,
    ledger_rows,
    month_end,
    result,
    run_watcher,
    serving,
    statements,
    summary_values,
    wait_for,
    write_request,
)


def sql(root: Path, query: str, args: tuple = ()) -> list[tuple]:
    return ledger_query(root, query, args)


def outbox_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root / "outbox")) for p in (root / "outbox").rglob("*") if p.is_file())


def test_a_plan_with_a_policy_not_yet_in_effect_waits_then_settles_and_reruns_change_nothing(root):
    a = issue(root, "团A", "2026-11-20 08:00", n=3)
    b = issue(root, "团B", "2026-12-05 08:00", n=2)  # applied in November, in effect only in December
    c = issue(root, "团C", "2026-11-22 08:00", plan="GW-B", n=1)

    early = month_end(root, "2026-11", "2026-11-28T09:00:00+08:00", check=False)
    assert early.returncode == 1 and "尚未结束" in early.stderr
    assert statements(root) == []

    first = month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    made = statements(root)
    assert [(s[2], s[4], s[5], s[6]) for s in made] == [("GW-B", 4000, 1, "待确认")]
    assert made[0][0].startswith("DZ202611") and "等待" in first.stdout and b["policy_no"] in first.stdout

    files = outbox_files(root)
    again = month_end(root, "2026-11", "2026-12-01T03:00:00+08:00")
    assert statements(root) == made, "a re-run never makes a second statement"
    assert outbox_files(root) == files, "nor a second file"
    assert "新生成对账单 0 张" in again.stdout

    month_end(root, "2026-11", "2026-12-05T09:00:00+08:00")
    made = statements(root)
    assert len(made) == 2 and made[1][2] == "GN-A" and made[1][5] == 2
    assert made[1][4] == sum(int(x["premium"].replace(".", "")) for x in (a, b))
    members = sql(root, "SELECT policy_no FROM policies WHERE statement_no = ? ORDER BY policy_no", (made[1][0],))
    assert [m[0] for m in members] == sorted([a["policy_no"], b["policy_no"]])
    assert sql(root, "SELECT statement_no FROM policies WHERE policy_no = ?", (c["policy_no"],)) == [(made[0][0],)]
    runs = sql(root, "SELECT month, trigger, finished_at IS NOT NULL, created, waiting FROM month_end_runs ORDER BY id")
    assert runs == [("2026-11", "命令", 1, 1, 1), ("2026-11", "命令", 1, 0, 1), ("2026-11", "命令", 1, 1, 0)]
    assert run_watcher(root, "check").returncode == 0


def test_check_names_waiting_business_only_once_the_daily_retry_should_have_billed_it(root):
    """A plan waited at month-end for a policy not yet in effect; once it is, the daily retry (at the
    month-end time) bills it. Until that slot has passed (and a grace for the run itself) `check` finds
    nothing wrong: an accountant told '不一致，请立即处理' in this normal wait would escalate nothing. After
    it, unbilled money is a discrepancy, and the line says which retry should have billed it and what to run."""
    a = issue(root, "团A", "2026-11-10 08:00", n=1, at="2026-11-05T10:00:00+08:00")
    b = issue(root, "团B", "2026-12-03 08:00", n=1, at="2026-11-05T10:00:00+08:00", group="GZ-T002")
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    assert statements(root) == []  # GN-A waits for 团B
    for moment in ("2026-12-03T10:00:00+08:00", "2026-12-04T02:30:00+08:00"):  # before the slot, in its grace
        proc = run_watcher(root, "check", env=fake(moment), check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # status names that retry beside next month's run, not only the run of 2027-01-01.
    status = run_watcher(root, "status", env=fake("2026-12-01T03:00:00+08:00")).stdout
    assert "每日重试 2026" in status and "2026-12-02 02:00" in status, status
    late = run_watcher(root, "check", env=fake("2026-12-04T03:30:00+08:00"), check=False)
    assert late.returncode == 1 and a["policy_no"] in late.stderr and b["policy_no"] in late.stderr
    line = next(x for x in late.stderr.splitlines() if b["policy_no"] in x)
    assert "2026-12-04 02:00:00 的每日重试本应为它出对账单" in line and "补充" not in line
    assert "watcher month-end --month 2026-11" in line
    month_end(root, "2026-11", "2026-12-04T04:00:00+08:00")
    assert len(statements(root)) == 1
    assert run_watcher(root, "check", env=fake("2026-12-04T04:10:00+08:00")).returncode == 0


def test_after_a_downtime_an_earlier_months_retry_runs_before_the_later_months_run(root, ledger_backend):
    """A service down from the day after November's month-end to January: on its return December's run went
    first, its check met November's business the missed retry should have billed, and December's summary
    said 发现 4 处不一致 and lacked the statement made a second later (attack Q). Month order now."""
    from watcher import clock
    from watcher.layout import Layout
    from watcher.ledger import Ledger
    from watcher.service.schedule import CAUGHT_UP, RETRY, due, run_due
    from watcher.settings import load_settings

    issue(root, "团A", "2026-11-10 08:00", n=1, at="2026-11-05T10:00:00+08:00")
    issue(root, "团B", "2026-12-03 08:00", n=1, at="2026-11-05T10:00:00+08:00", group="GZ-T002")
    issue(root, "团C", "2026-12-10 08:00", n=1, at="2026-12-02T10:00:00+08:00", group="GZ-T003")
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    assert statements(root) == []  # GN-A waits for 团B
    settings = load_settings(root)
    target = os.environ.get("WATCHER_LEDGER_URL") or root / "ledger.sqlite3"
    back = datetime.fromisoformat("2027-01-05T10:00:00+08:00")
    ledger = Ledger(target, settings.zone, now=clock.now())
    try:
        assert due(ledger, settings, back) == [(date(2026, 11, 1), RETRY), (date(2026, 12, 1), CAUGHT_UP)]
        reports = run_due(ledger, Layout(root), settings, back)
    finally:
        ledger.close()
    assert [(r.month, r.problems) for r in reports] == [(date(2026, 11, 1), []), (date(2026, 12, 1), [])]
    assert [s[3] for s in statements(root)] == ["2026-11", "2026-12"]


def test_detail_sheet_statement_workbook_print_setup_and_twins(root):
    a = issue(root, "团A", "2026-11-20 08:00", n=3)
    cancelled = issue(root, "团X", "2026-11-26 08:00", n=1)
    write_request(root / "workbooks/GZ001/撤.xlsx", {"操作类型": "撤单", "保单号": cancelled["policy_no"]})
    run_watcher(root, "process", env=fake("2026-11-12T10:00:00+08:00"))
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    out = root / "outbox" / "GZ001"

    ws = openpyxl.load_workbook(out / "业务明细_2026-11.xlsx").active
    rows = list(ws.iter_rows(values_only=True))
    header_at = next(i for i, r in enumerate(rows) if r and r[0] == "保单号")
    assert list(rows[header_at]) == DETAIL_COLUMNS
    assert ws.freeze_panes == f"A{header_at + 2}" and ws.auto_filter.ref
    body = {r[0]: r for r in rows[header_at + 1 :] if r[0] and r[0].startswith("LY")}
    assert body[a["policy_no"]][11] == "未结" and body[a["policy_no"]][14].startswith("DZ")
    assert body[cancelled["policy_no"]][10] == "已撤单" and not body[cancelled["policy_no"]][14]
    total = next(r for r in rows if str(r[0]).startswith("合计"))
    assert total[9] == float(a["premium"]) and total[7] == 3  # cancelled not counted
    assert ws.cell(header_at + 2, 10).number_format == "#,##0.00"

    number = statements(root)[0][0]
    book = openpyxl.load_workbook(out / f"对账单_{number}.xlsx")
    ws = book["对账单"]
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "portrait"
    # Fit to one page wide (1 is the default, which xlsxwriter leaves implicit), any number of pages tall.
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1)
    assert ws.page_setup.fitToHeight == 0
    assert ws.print_title_rows and ws.print_area
    text = [str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    assert a["policy_no"] in text and cancelled["policy_no"] not in text
    assert any(t == f"合计金额（大写）：人民币{'壹拾伍元整'}" for t in text), text
    for copy in ("旅行社留存", "财务留存", "团险留存"):
        assert copy in text
    assert sum(1 for t in text if t.startswith("旅行社经办人（签字）")) == 3

    twin = json.loads((out / f"对账单_{number}.json").read_text(encoding="utf-8"))
    assert twin["total"] == "15.00" and twin["status"] == "待确认" and twin["total_in_words"] == "人民币壹拾伍元整"
    assert [p["policy_no"] for p in twin["policies"]] == [a["policy_no"]]
    page = (out / f"对账单_{number}.html").read_text(encoding="utf-8")
    assert "size: A4" in page and "人民币壹拾伍元整" in page and page.count("经办人（签字）") == 6


def fill_confirm(path: Path, target: Path, rows: dict[str, tuple[str, str]]) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb["对账确认"]
    head = [c.value for c in ws[1]]
    for r in range(2, ws.max_row + 1):
        number = ws.cell(r, head.index("对账单号") + 1).value
        if number in rows:
            ws.cell(r, head.index("业务渠道") + 1, rows[number][0])
            ws.cell(r, head.index("确认人") + 1, rows[number][1])
    wb.save(target)


def test_the_statement_life_from_pending_to_performance(root):
    a = issue(root, "团A", "2026-11-20 08:00", n=3)
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    number, total = statements(root)[0][0], statements(root)[0][4]
    summary = root / "outbox/_admin/月结汇总_2026-11.xlsx"

    wb = openpyxl.load_workbook(summary)
    assert {"汇总", "对账确认", "按机构", "按方案", "申请"} <= set(wb.sheetnames)
    assert wb["申请"]["A1"].value == "操作类型" and wb["申请"]["B1"].value == "对账确认"
    confirm = wb["对账确认"]
    assert [c.value for c in confirm[1]][1] == "对账单号" and confirm["B2"].value == number
    assert confirm["I2"].value is None and confirm["J2"].value is None
    lists = [dv for dv in confirm.data_validations.dataValidation if dv.type == "list"]
    assert lists and "团险直销" in lists[0].formula1 and "I2" in str(lists[0].sqref)
    assert any(n.startswith("xl/charts/chart") for n in zipfile.ZipFile(summary).namelist()), "a native chart"
    by_agency = [r for r in wb["按机构"].iter_rows(values_only=True)]
    assert by_agency[1][:5] == ("GZ001", "广州示例国际旅行社有限公司", 1, 3, total / 100)

    # Staff fill 业务渠道 and 确认人 in the summary itself and drop it back.
    fill_confirm(summary, root / "workbooks/_admin/确认.xlsx", {number: ("团险直销", "张运营")})
    run_watcher(root, "process", env=fake("2026-12-02T10:00:00+08:00"))
    data, echoed = result(root, "_admin", "确认_结果")
    assert data["status"] == "success" and data["agency"] == "_admin" and data["action"] == "对账确认"
    assert statements(root)[0][6] == "已确认"
    # The result echoes what the request read, not the run's snapshot that still said 待确认 beside it.
    assert not {"汇总", "按机构", "按方案", "对账单"} & set(echoed.sheetnames) and "对账确认" in echoed.sheetnames
    assert sql(root, "SELECT COUNT(*) FROM policies WHERE settled_at IS NOT NULL") == [(1,)]
    detail = openpyxl.load_workbook(root / "outbox/GZ001/业务明细_2026-11.xlsx").active
    assert any(r[0] == a["policy_no"] and r[11] == "已结" for r in detail.iter_rows(values_only=True))
    core = (root / "outbox/_core" / f"SETTLE_{number}.csv").read_bytes()
    lines = list(csv.reader(io.StringIO(core.decode("utf-8"))))
    assert core.count(b"\r\n") == len(lines) and [line[0] for line in lines] == ["记录类型", "H", "D", "T"]
    assert lines[1][6:8] == ["团险直销", "张运营"] and lines[2][10] == a["policy_no"] and lines[3][-1] == a["premium"]
    assert json.loads((root / f"outbox/GZ001/对账单_{number}.json").read_text("utf-8"))["channel"] == "团险直销"

    # A second confirmation of the same statement is refused: the channel is irreversible.
    before = ledger_rows(root)
    fill_confirm(summary, root / "workbooks/_admin/再确认.xlsx", {number: ("银保渠道", "李运营")})
    run_watcher(root, "process", env=fake("2026-12-02T11:00:00+08:00"))
    data, again = result(root, "_admin", "再确认_结果")
    assert data["status"] == "failed" and "不能更改" in data["errors"][0]["message"]
    how = summary_values(again)["改正方法"]  # an admin table gets no premium column to be told of
    assert "添加的错误说明列" in how and "保费" not in how, how
    assert data["errors"][0]["sheet"] == "对账确认" and data["errors"][0]["row"] == 2
    assert ledger_rows(root) == before

    # Nothing filled at all: said on the 业务渠道 heading (red, with the why), and the result's 错误说明
    # column keeps its heading (the message took its place, and the clerk fixing it in place lost it).
    fill_confirm(summary, root / "workbooks/_admin/空确认.xlsx", {})
    run_watcher(root, "process", env=fake("2026-12-02T11:00:00+08:00"))
    data, echoed = result(root, "_admin", "空确认_结果")
    assert [(e["code"], e["sheet"], e["row"], e["column"]) for e in data["errors"]] == [
        ("statement.nothing", "对账确认", 1, "业务渠道")
    ]
    sheet = echoed["对账确认"]
    head = [c.value for c in sheet[1]]
    assert head[-1] == "错误说明" and sheet.cell(1, head.index("错误说明") + 1).comment is not None
    assert sheet.cell(1, head.index("业务渠道") + 1).comment is not None
    assert ledger_rows(root) == before

    pay_head = ["序号", "对账单号", "金额", "缴费凭证号", "到账日期"]
    for name, amount, word in (("少缴", total / 100 - 1, "少 1.00 元"), ("多缴", total / 100 + 0.5, "多 0.50 元")):
        data, wb = admin(
            root,
            name,
            "收费",
            pay_head,
            [[1, number, amount, "PZ1", "2026-12-03"]],
            action="收费登记",
            now="2026-12-04T10:00:00+08:00",
        )
        assert data["status"] == "failed" and word in data["errors"][0]["message"], data["errors"]
        assert data["errors"][0]["column"] == "金额"
        assert ledger_rows(root) == before
    data, _ = admin(
        root,
        "收费",
        "收费",
        pay_head,
        [[1, number, total / 100, "PZ1", "2026-12-03"]],
        action="收费登记",
        now="2026-12-04T10:00:00+08:00",
    )
    assert data["status"] == "success", data["errors"]
    assert statements(root)[0][6] == "已缴费"
    before = ledger_rows(root)
    data, _ = admin(
        root,
        "再收费",
        "收费",
        pay_head,
        [[1, number, total / 100, "PZ2", "2026-12-03"]],
        action="收费登记",
        now="2026-12-04T10:00:00+08:00",
    )
    assert data["status"] == "failed" and "不能重复登记" in data["errors"][0]["message"]
    assert ledger_rows(root) == before

    # No performance before the invoice; then the salesperson's premium by the invoice's month.
    data, wb = admin(
        root, "业绩前", None, None, [], fields={"业绩月份": "全部"}, action="业绩", now="2026-12-05T10:00:00+08:00"
    )
    assert data["status"] == "success" and wb["业绩"].max_row <= 3
    data, _ = admin(
        root,
        "发票",
        "发票",
        ["序号", "对账单号", "发票号", "开票日期"],
        [[1, number, "44001234", "2027-01-06"]],
        action="发票登记",
        now="2027-01-06T10:00:00+08:00",
    )
    assert data["status"] == "success", data["errors"]
    assert statements(root)[0][6] == "已开票"
    data, wb = admin(root, "业绩", None, None, [], fields={"业绩月份": "2027-01"}, now="2027-01-07T10:00:00+08:00")
    rows = [r for r in wb["业绩"].iter_rows(values_only=True)]
    line = next(r for r in rows if r and r[1] == "S001")
    assert line[0] == "2027-01" and line[2] == "赵营销" and line[8] == total / 100
    # 对账单数 is not summed: a statement with two salespeople's policies is in both rows (counted twice).
    totals = next(r for r in rows if r and r[0] == "合计")
    assert totals[5] is None and totals[6] == sum(r[6] for r in rows if r and str(r[0]).startswith("2027"))

    # The agency lists its statements and gets each written again with its current status.
    (root / f"outbox/GZ001/对账单_{number}.json").unlink()
    write_request(root / "workbooks/GZ001/对账单.xlsx", {"操作类型": "对账单查询", "对账状态": "全部"})
    run_watcher(root, "process", env=fake("2027-01-08T10:00:00+08:00"))
    data, wb = result(root, "GZ001", "对账单_结果")
    assert data["status"] == "success"
    listed = [r for r in wb["对账单"].iter_rows(values_only=True) if r and str(r[0]).startswith("DZ")]
    assert [(r[0], r[1], r[10]) for r in listed] == [(number, "对账单", "已开票")]
    shown = summary_values(wb)  # what has come in and what is still owed, beside the total
    assert shown["金额合计"] == shown["已收合计"] == total / 100 and shown["未收合计"] == 0
    again = json.loads((root / f"outbox/GZ001/对账单_{number}.json").read_text("utf-8"))
    assert again["status"] == "已开票" and again["invoice_no"] == "44001234" and again["paid"] == f"{total / 100:.2f}"
    assert run_watcher(root, "check").returncode == 0


def test_check_reports_tampered_money_loudly(root):
    issue(root, "团A", "2026-11-20 08:00", n=2)
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    assert run_watcher(root, "check").returncode == 0
    number = statements(root)[0][0]
    sql(root, "UPDATE statements SET total_fen = total_fen + 1 WHERE statement_no = ?", (number,))
    proc = run_watcher(root, "check", check=False)
    assert proc.returncode == 1 and number in proc.stderr and "不一致" in proc.stderr
    sql(root, "UPDATE statements SET total_fen = total_fen - 1 WHERE statement_no = ?", (number,))
    assert run_watcher(root, "check", check=False).returncode == 0
    sql(root, "UPDATE policies SET statement_no = '' WHERE statement_no = ?", (number,))  # journal disagrees now
    proc = run_watcher(root, "check", check=False)
    assert proc.returncode == 1 and "流水重放" in proc.stderr
    # month-end runs check too, says so on its own output, and puts the finding in the summary.
    proc = month_end(root, "2026-11", "2026-12-02T02:00:00+08:00", check=False)
    assert proc.returncode == 1 and "不一致" in proc.stderr
    overview = openpyxl.load_workbook(root / "outbox/_admin/月结汇总_2026-11.xlsx")["汇总"]
    assert any("不一致" in str(r[1]) for r in overview.iter_rows(values_only=True) if r[1])


def test_settle_request_from_admin(root):
    issue(root, "团A", "2026-11-20 08:00")
    issue(root, "团B", "2026-11-21 08:00", plan="GW-B")
    before = ledger_rows(root)
    data, _ = admin(
        root, "早结", None, None, [], fields={"结账月份": "2026-11"}, action="结账", now="2026-11-30T10:00:00+08:00"
    )
    assert data["status"] == "failed" and "尚未结束" in data["errors"][0]["message"]
    data, _ = admin(
        root,
        "错机构",
        None,
        None,
        [],
        fields={"结账月份": "2026-11", "机构代码": "NOPE"},
        action="结账",
        now="2026-12-01T10:00:00+08:00",
    )
    assert data["status"] == "failed" and data["errors"][0]["column"] == "机构代码"
    assert ledger_rows(root) == before
    data, wb = admin(
        root,
        "结账",
        None,
        None,
        [],
        fields={"结账月份": "2026-11", "机构代码": "GZ001", "方案代码": "GN-A"},
        now="2026-12-01T10:00:00+08:00",
    )
    assert data["status"] == "success", data["errors"]
    assert [s[2] for s in statements(root)] == ["GN-A"], "only the plan asked for"
    table = [r for r in wb["新生成对账单"].iter_rows(values_only=True) if r and str(r[0]).startswith("DZ")]
    assert len(table) == 1 and summary_values(wb)["新生成对账单"] == 1
    # The month's summary, written by its run, lists neither: staff are told how to confirm them.
    assert any("月结汇总_2026-11.xlsx" in n and "对账确认" in n for n in data["notes"]), data["notes"]
    number = table[0][0]
    assert (root / f"outbox/GZ001/对账单_{number}.xlsx").exists()
    data, wb = admin(
        root,
        "结账全部",
        None,
        None,
        [],
        fields={"结账月份": "2026-11", "机构代码": "全部"},
        action="结账",
        now="2026-12-01T11:00:00+08:00",
    )
    assert [s[2] for s in statements(root)] == ["GN-A", "GW-B"]
    data, wb = admin(
        root,
        "结账再来",
        None,
        None,
        [],
        fields={"结账月份": "2026年11月"},
        action="结账",
        now="2026-12-01T12:00:00+08:00",
    )
    assert data["status"] == "success" and len(statements(root)) == 2
    # Nothing made this time: no note of a summary or of statements to confirm (attack N, then attack Q: the
    # note said so of every 结账, even one that made nothing, and of a month with no summary written yet).
    assert not [n for n in data["notes"] if "月结汇总" in n or "对账确认" in n], data["notes"]
    assert summary_values(wb)["新生成对账单"] == 0


def test_deposits_receipts_refunds_and_expiry_warning(root):
    issue(root, "团A", "2026-11-20 08:00")
    head = ["序号", "机构代码", "类型", "金额", "收据号", "日期"]
    data, _ = admin(
        root,
        "收押金",
        "预交保费",
        head,
        [[1, "GZ001", "收取", 5000, "SJ001", "2023-12-10"]],
        action="预交保费",
        now="2026-11-11T10:00:00+08:00",
    )
    assert data["status"] == "success" and data["warnings"] == [], data["errors"]
    assert sql(root, "SELECT valid_until FROM deposits") == [("2026-12-09",)]
    before = ledger_rows(root)
    data, _ = admin(
        root,
        "重复收据",
        "预交保费",
        head,
        [[1, "GZ001", "收取", 100, "SJ001", "2026-11-11"]],
        action="预交保费",
        now="2026-11-11T10:00:00+08:00",
    )
    assert data["status"] == "failed" and "不能重复使用" in data["errors"][0]["message"]
    data, _ = admin(
        root,
        "退押金",
        "预交保费",
        head,
        [[1, "GZ001", "退还", 5000, "SJ001", "2026-11-12"]],
        action="预交保费",
        now="2026-11-12T10:00:00+08:00",
    )
    assert data["status"] == "failed" and any("已终止" in e["message"] for e in data["errors"])
    assert any("未结清" in e["message"] for e in data["errors"]), "the live policy is still owed"
    assert ledger_rows(root) == before

    # The month-end summary warns of the receipt that expires within 30 days.
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    wb = openpyxl.load_workbook(root / "outbox/_admin/月结汇总_2026-11.xlsx")
    warned = [r for r in wb["预交保费"].iter_rows(values_only=True) if r and r[0] == "SJ001"]
    assert warned and warned[0][6] == "8 天后到期"

    # An agency that stopped, owing nothing, gets its deposit back in full, once.
    agency_head = ["序号", "机构代码", "机构名称", "营业执照号", "协议编号", "可用方案", "状态"]
    admin(
        root,
        "新机构",
        "机构",
        agency_head,
        [[1, "SZ002", "深圳示例旅行社", "X", "Y", "GN-A", "已终止"]],
        action="机构",
        now="2026-12-02T10:00:00+08:00",
    )
    data, _ = admin(
        root,
        "收SZ",
        "预交保费",
        head,
        [[1, "SZ002", "收取", 3000, "SJ002", "2026-01-05"]],
        action="预交保费",
        now="2026-12-02T10:00:00+08:00",
    )
    # Recorded (a deposit received before the parting, entered late), but not without a word.
    assert data["status"] == "success" and [w["code"] for w in data["warnings"]] == ["deposit.received_ended"]
    data, _ = admin(
        root,
        "退少了",
        "预交保费",
        head,
        [[1, "SZ002", "退还", 2000, "SJ002", "2026-12-02"]],
        action="预交保费",
        now="2026-12-02T10:00:00+08:00",
    )
    assert data["status"] == "failed" and "全额退还" in data["errors"][0]["message"]
    data, _ = admin(
        root,
        "退早了",
        "预交保费",
        head,
        [[1, "SZ002", "退还", 3000, "SJ002", "2026-01-01"]],
        action="预交保费",
        now="2026-12-02T10:00:00+08:00",
    )
    [early] = data["errors"]
    assert early["code"] == "deposit.refund_before" and "请核对日期" in early["message"], early
    data, _ = admin(
        root,
        "退SZ",
        "预交保费",
        head,
        [[1, "SZ002", "退还", 3000, "SJ002", "2026-12-02"]],
        action="预交保费",
        now="2026-12-02T10:00:00+08:00",
    )
    assert data["status"] == "success", data["errors"]
    assert sql(root, "SELECT refunded_on FROM deposits WHERE receipt_no = 'SJ002'") == [("2026-12-02",)]
    # What was refunded, to whom, how much: the accountant reads it off the result as for a receipt.
    assert data["notes"] == ["退还 SZ002 预交保费 3,000.00 元，收据 SJ002，退还日期 2026-12-02"], data["notes"]
    data, _ = admin(
        root,
        "再退SZ",
        "预交保费",
        head,
        [[1, "SZ002", "退还", 3000, "SJ002", "2026-12-03"]],
        action="预交保费",
        now="2026-12-03T10:00:00+08:00",
    )
    assert data["status"] == "failed" and "不能重复退还" in data["errors"][0]["message"]
    # A receipt past its three years, recorded late, and then refunded: each recorded, each with a warning
    # (the accountant checks the original), never a silent 成功.
    data, _ = admin(
        root,
        "收旧收据",
        "预交保费",
        head,
        [[1, "SZ002", "收取", 1000, "SJOLD", "2022-01-05"]],
        action="预交保费",
        now="2026-12-03T10:00:00+08:00",
    )
    codes = [w["code"] for w in data["warnings"]]
    assert data["status"] == "success" and codes == ["deposit.received_ended", "deposit.received_expired"]
    assert "2025-01-04 过期" in data["warnings"][1]["message"] and data["warnings"][1]["column"] == "日期"
    data, _ = admin(
        root,
        "退旧收据",
        "预交保费",
        head,
        [[1, "SZ002", "退还", 1000, "SJOLD", "2026-12-03"]],
        action="预交保费",
        now="2026-12-03T10:00:00+08:00",
    )
    assert data["status"] == "success" and [w["code"] for w in data["warnings"]] == ["deposit.refund_expired"]
    assert data["warnings"][0]["row"] == 2 and data["warnings"][0]["column"] == "收据号"
    assert run_watcher(root, "check").returncode == 0
    # GZ001 terminated with a statement unpaid and its deposit held: said on the result, not found out later
    # when the refund is refused.
    [unpaid] = [s for s in statements(root) if s[1] == "GZ001"]
    data, _ = admin(
        root,
        "终止GZ001",
        "机构",
        agency_head,
        [[1, "GZ001", "广州示例国际旅行社有限公司", "", "", "GN-A", "已终止"]],
        action="机构",
        now="2026-12-03T11:00:00+08:00",
    )
    assert data["status"] == "success", data["errors"]
    [owed] = [w for w in data["warnings"] if w["code"] == "agency.ended_money"]
    assert unpaid[0] in owed["message"] and "SJ001" in owed["message"] and "5,000.00" in owed["message"], owed


def test_templates_for_the_settlement_kinds(root, tmp_path):
    for kind, sheet in (
        ("结账", "申请"),
        ("对账确认", "对账确认"),
        ("收费登记", "收费"),
        ("发票登记", "发票"),
        ("预交保费", "预交保费"),
        ("业绩", "申请"),
        ("对账单查询", "申请"),
    ):
        path = tmp_path / f"{kind}.xlsx"
        run_watcher(root, "template", kind, "-o", str(path))
        wb = openpyxl.load_workbook(path)
        assert sheet in wb.sheetnames and "填写说明" in wb.sheetnames
        assert wb["申请"]["B2"].value == kind
    # A blank template dropped as it is changes nothing and says why.
    path = tmp_path / "收费登记.xlsx"
    (root / "workbooks/_admin/空收费.xlsx").write_bytes(path.read_bytes())
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "空收费_结果")
    assert data["status"] == "failed" and data["errors"]


@pytest.mark.slow
def test_serve_runs_month_end_on_schedule_and_catches_up_a_missed_one(root):
    issue(root, "团A", "2026-11-20 08:00")
    (root / "watcher.toml").write_text(
        "settle_seconds = 0.5\nrescan_seconds = 1\nschedule_check_seconds = 0.5\n", encoding="utf-8"
    )
    summary = root / "outbox/_admin/月结汇总_2026-11.xlsx"
    # A clock that runs: serve starts three seconds before the scheduled 02:00 of 1 December.
    with serving(root, {"WATCHER_FAKE_NOW": "2026-12-01T01:59:57+08:00", "WATCHER_FAKE_TICKING": "1"}):
        wait_for(lambda: summary.exists(), 30, "the scheduled month-end")
    runs = sql(root, "SELECT month, trigger, started_at, finished_at IS NOT NULL FROM month_end_runs")
    assert [(r[0], r[1], r[3]) for r in runs] == [("2026-11", "定时", 1)]
    assert runs[0][2] >= "2026-11-30T18:00:00+00:00", "not before 02:00 desk time"
    assert len(statements(root)) == 1

    # Down over the next month-end: the first start afterwards catches it up, once.
    issue(root, "团B", "2026-12-20 08:00", at="2026-12-10T10:00:00+08:00")
    with serving(root, fake("2027-01-04T09:00:00+08:00")):
        wait_for(lambda: (root / "outbox/_admin/月结汇总_2026-12.xlsx").exists(), 30, "the missed month-end")
    with serving(root, fake("2027-01-04T09:30:00+08:00")):
        wait_for(lambda: (root / "logs" / "watcher.log").exists(), 10, "the log")
        import time

        time.sleep(2)
    runs = sql(root, "SELECT month, trigger FROM month_end_runs ORDER BY id")
    assert runs == [("2026-11", "定时"), ("2026-12", "补跑")]
    assert [s[3] for s in statements(root)] == ["2026-11", "2026-12"]
    status = run_watcher(root, "status", env=fake("2027-01-04T09:30:00+08:00")).stdout
    assert "月结 2027-01：2027-02-01 02:00" in status


def test_business_recorded_late_for_a_settled_month_is_billed_in_a_supplementary_statement(root):
    from watcher import clock
    from watcher.ledger import Ledger
    from watcher.service.schedule import RETRY, due
    from watcher.settings import load_settings

    a = issue(root, "团A", "2026-11-20 08:00", n=2)
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    [(first, *_)] = statements(root)
    # The clock moved back: a policy is recorded for November after November was settled.
    late = issue(root, "补录", "2026-11-30 23:00", n=3, at="2026-11-30T21:00:00+08:00", group="补录团")
    # Recorded after the 02:00 run, though dated before it: tomorrow's 02:00 retry bills it, not a discrepancy yet.
    assert run_watcher(root, "check", env=fake("2026-12-01T10:00:00+08:00"), check=False).returncode == 0
    check = run_watcher(root, "check", env=fake("2026-12-02T10:00:00+08:00"), check=False)
    assert check.returncode == 1 and late["policy_no"] in check.stderr and a["policy_no"] not in check.stderr
    settings = load_settings(root)
    ledger = Ledger(
        root / "ledger.sqlite3" if not os.environ.get("WATCHER_LEDGER_URL") else os.environ["WATCHER_LEDGER_URL"],
        settings.zone,
        now=clock.now(),
    )
    try:  # the daily retry after month-end settles it, not only months never run
        assert (date(2026, 11, 1), RETRY) in due(ledger, settings, datetime.fromisoformat("2026-12-02T02:05:00+08:00"))
    finally:
        ledger.close()
    month_end(root, "2026-11", "2026-12-02T02:05:00+08:00")
    rows = statements(root)
    assert [r[0] for r in rows][0] == first and len(rows) == 2
    second = rows[1][0]
    assert sql(root, "SELECT statement_no FROM policies WHERE policy_no = ?", (a["policy_no"],)) == [(first,)]
    assert sql(root, "SELECT statement_no FROM policies WHERE policy_no = ?", (late["policy_no"],)) == [(second,)]
    twin = json.loads((root / f"outbox/GZ001/对账单_{second}.json").read_text("utf-8"))
    assert twin["title"] == "补充对账单" and twin["supplements"] == first and twin["policy_count"] == 1
    book = openpyxl.load_workbook(root / f"outbox/GZ001/对账单_{second}.xlsx")
    assert book["对账单"]["A1"].value.endswith("补充对账单")
    summary = openpyxl.load_workbook(root / "outbox/_admin/月结汇总_2026-11.xlsx")
    kinds = [r[1] for r in summary["对账单"].iter_rows(min_row=2, values_only=True) if r and r[0]]
    assert kinds == ["对账单", f"补充对账单（补 {first}）"]
    # The agency's 对账单查询 says the same: a second statement for one plan and month is no double billing.
    write_request(root / "workbooks/GZ001/对账单.xlsx", {"操作类型": "对账单查询"})
    run_watcher(root, "process", env=fake("2026-12-02T10:00:00+08:00"))
    _, wb = result(root, "GZ001", "对账单_结果")
    rows = list(wb["对账单"].iter_rows(values_only=True))
    head = next(r for r in rows if "对账单号" in r)
    listed = {r[0]: r[head.index("类型")] for r in rows if str(r[0]).startswith("DZ")}
    assert listed == {first: "对账单", second: f"补充对账单（补 {first}）"}
    assert run_watcher(root, "check", env=fake("2026-12-02T10:00:00+08:00")).returncode == 0


def _two_agencies_in_november(root: Path, monkeypatch, pool: type) -> None:
    """SZ002 registered beside GZ001, November business for both, and month-end's helpers forced on (a
    small month) with `pool` as their pool."""
    from watcher.service import month_files

    agency_workbook(
        root / "workbooks/_admin/机构.xlsx", [[1, "SZ002", "深圳测试旅行社", "9144", "XY-2", "GN-A，GW-B", "合作中"]]
    )
    run_watcher(root, "process", env=fake("2026-11-01T09:00:00+08:00"))
    issue(root, "团A", "2026-11-20 08:00", n=3)
    issue(root, "团B", "2026-11-22 08:00", plan="GW-B", n=2)
    issue(root, "团C", "2026-11-21 08:00", n=2, agency="SZ002")
    monkeypatch.setattr(month_files, "PARALLEL_FROM", 0)
    monkeypatch.setattr(month_files, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)


def test_a_large_month_is_written_by_helper_processes_with_the_same_files_as_one_process(root, tmp_path, monkeypatch):
    """From PARALLEL_FROM policies, helper processes write the agencies' detail sheets and statements
    (each reading its agency from the ledger itself) while month-end checks the ledger: every file is
    the one month-end writes in its own process, and the run's record lists them in the same order."""
    import shutil
    from concurrent.futures import ProcessPoolExecutor

    from watcher import clock
    from watcher.layout import Layout
    from watcher.ledger import Ledger
    from watcher.ledger.db import ledger_target
    from watcher.service import month_files
    from watcher.service.month_end import COMMAND, run_month_end
    from watcher.settings import load_settings

    used: list[int] = []

    class Counted(ProcessPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            used.append(os.getpid())
            return super().submit(fn, *args, **kwargs)

    _two_agencies_in_november(root, monkeypatch, Counted)
    settings = load_settings(root)
    now = datetime.fromisoformat("2026-12-01T02:00:00+08:00")
    ledger = Ledger(ledger_target(root, settings.ledger), settings.zone, now=clock.now())
    try:
        report = run_month_end(ledger, Layout(root), settings, date(2026, 11, 1), now, COMMAND)
        assert len(used) == 2, "one task an agency, each written by a helper"
        assert report.problems == [] and len(report.created) == 3
        # The same month written again in this process, into a copy of the desk's folders.
        alone = tmp_path / "alone"
        shutil.copytree(root, alone, ignore=shutil.ignore_patterns("outbox"))
        monkeypatch.setattr(month_files, "PARALLEL_FROM", 10**9)
        how = month_files.MonthFiles(Layout(alone), settings.zone, settings.insurer_name, date(2026, 11, 1), now)
        tasks = [
            month_files.AgencyFiles(code, "", True, tuple(s for s in report.created if s.agency == code))
            for code in ("GZ001", "SZ002")
        ]
        names = {a.code: a.name for a in ledger.agencies()}
        tasks = [month_files.AgencyFiles(t.agency, names[t.agency], True, t.statements) for t in tasks]
        again, _ = month_files.write_month(ledger, how, tasks, 0, lambda: None)
    finally:
        ledger.close()
    written = [p for p in report.files if "_admin" not in p.parts]
    assert [p.relative_to(root) for p in written] == [
        p.relative_to(alone)
        for p in [*again.details, *(p for n in sorted(again.statements) for p in again.statements[n])]
    ]
    for path in written:
        twin = alone / path.relative_to(root)
        if path.suffix == ".xlsx":
            mine, theirs = openpyxl.load_workbook(path), openpyxl.load_workbook(twin)
            assert mine.sheetnames == theirs.sheetnames
            for name in mine.sheetnames:
                assert list(mine[name].values) == list(theirs[name].values), (path.name, name)
        else:
            assert path.read_bytes() == twin.read_bytes(), path.name
    assert {p.name for p in written} >= {"业务明细_2026-11.xlsx"} and len(written) == 2 + 3 * 3


def test_month_end_writes_the_files_itself_when_its_helpers_are_gone(root, monkeypatch):
    """Helpers only make month-end faster: one that was killed, or could not open the ledger, leaves its
    agency's files to the month-end's own process, and the run ends as it would without them."""
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from watcher import clock
    from watcher.layout import Layout
    from watcher.ledger import Ledger
    from watcher.ledger.db import ledger_target
    from watcher.service import month_files
    from watcher.service.month_end import COMMAND, run_month_end
    from watcher.settings import load_settings

    failures = [BrokenProcessPool("a helper died"), month_files.HelperWithoutLedger("could not open the ledger")]

    class Gone(ProcessPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            broken: Future = Future()
            broken.set_exception(failures.pop(0))
            return broken

    _two_agencies_in_november(root, monkeypatch, Gone)
    settings = load_settings(root)
    now = datetime.fromisoformat("2026-12-01T02:00:00+08:00")
    ledger = Ledger(ledger_target(root, settings.ledger), settings.zone, now=clock.now())
    try:
        report = run_month_end(ledger, Layout(root), settings, date(2026, 11, 1), now, COMMAND)
    finally:
        ledger.close()
    assert report.problems == [] and sorted(s.agency for s in report.created) == ["GZ001", "GZ001", "SZ002"]
    for statement in report.created:
        assert (root / f"outbox/{statement.agency}/业务明细_2026-11.xlsx").is_file()
        for suffix in ("xlsx", "html", "json"):
            assert (root / f"outbox/{statement.agency}/对账单_{statement.statement_no}.{suffix}").is_file()


def test_month_end_for_a_month_without_business_writes_nothing_and_says_why(root):
    empty = month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    assert "该月没有业务" in empty.stdout and "本机还没有任何保单" in empty.stdout
    issue(root, "团A", "2026-11-20 08:00")
    before = month_end(root, "2026-01", "2026-12-01T02:00:00+08:00")
    assert "该月没有业务" in before.stdout and "2026-11" in before.stdout
    assert not (root / "outbox/_admin/月结汇总_2026-01.xlsx").exists()
    assert ledger_query(root, "SELECT COUNT(*) FROM month_end_runs") == [(0,)]
    wrong = month_end(root, "1999-01", "2026-12-01T02:00:00+08:00", check=False)
    assert wrong.returncode == 2 and "超出范围" in wrong.stderr and "请写成 YYYY-MM" not in wrong.stderr
    assert "请写成 YYYY-MM" in month_end(root, "11月", "2026-12-01T02:00:00+08:00", check=False).stderr


def test_a_summary_staff_filled_in_where_it_lies_is_kept_aside_not_overwritten_by_the_next_run(root):
    """Staff fill the summary's 对账确认 sheet in outbox/_admin and save it there, meaning to drop it later;
    the daily retry (a plan still waits) writes the month's summary again. Their 业务渠道 and 确认人 were
    overwritten with blanks; now the filled workbook is renamed aside, and the new summary says under which
    name. A summary nobody filled in is simply replaced."""
    issue(root, "团A", "2026-11-20 08:00", plan="GW-B", n=1, at="2026-11-05T10:00:00+08:00")
    issue(root, "团B", "2026-12-05 08:00", n=1, at="2026-11-05T10:00:00+08:00", group="GZ-T002")  # GN-A waits
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    admin_out = root / "outbox" / "_admin"
    path = admin_out / "月结汇总_2026-11.xlsx"
    month_end(root, "2026-11", "2026-12-02T02:00:00+08:00")  # nothing filled: replaced, nothing kept aside
    assert sorted(p.name for p in admin_out.glob("月结汇总_*")) == [path.name]

    wb = openpyxl.load_workbook(path)
    ws = wb["对账确认"]
    headers = [c.value for c in ws[1]]
    ws.cell(2, headers.index("业务渠道") + 1, "团险直销")
    ws.cell(2, headers.index("确认人") + 1, "王财务")
    wb.save(path)

    month_end(root, "2026-11", "2026-12-03T02:00:00+08:00")  # the next daily retry
    [aside] = [p for p in admin_out.glob("月结汇总_2026-11_已填写_*.xlsx")]
    kept = openpyxl.load_workbook(aside)["对账确认"]
    assert kept.cell(2, headers.index("确认人") + 1).value == "王财务", "the staff's work is still there"
    fresh = openpyxl.load_workbook(path)
    assert fresh["对账确认"].cell(2, headers.index("确认人") + 1).value is None
    told = {r[0]: r[1] for r in fresh["汇总"].iter_rows(min_col=1, max_col=2, values_only=True) if r[0]}
    assert aside.name in told["上次汇总的填写"]
    assert statements(root)[0][6] == "待确认", "nothing confirmed by keeping it"


def test_a_summary_with_a_long_performance_sheet_and_nothing_filled_is_not_kept_aside(tmp_path):
    """The 业绩 sheet lists every invoice month: on a desk some years old it is longer than a request may be,
    and reading the whole summary as a request failed, which was taken for "cannot tell: keep it". Every run
    then kept an unfilled summary aside and said it had been filled. Only 对账确认 is read."""
    from zoneinfo import ZoneInfo

    from watcher.io.settlement_files import keep_filled_summary

    path = tmp_path / "月结汇总_2026-11.xlsx"
    wb = openpyxl.Workbook(write_only=True)
    confirm = wb.create_sheet("对账确认")
    confirm.append(["序号", "对账单号", "机构代码", "业务渠道", "确认人"])
    confirm.append([1, "DZ202611000001", "GZ001", None, None])
    performance = wb.create_sheet("业绩")
    for i in range(21_500):
        performance.append(["2026-11", f"S{i:05d}", "赵营销", "GZ001", "GN-A", 1, 1, 1, 5])
    wb.save(path)
    zone = ZoneInfo("Asia/Shanghai")
    assert keep_filled_summary(path, zone) == "" and path.exists()
    wb = openpyxl.load_workbook(path)
    wb["对账确认"].cell(2, 5, "王财务")
    wb.save(path)
    kept = keep_filled_summary(path, zone)
    assert kept.startswith("月结汇总_2026-11_已填写_") and (tmp_path / kept).exists() and not path.exists()


def test_status_says_a_month_end_run_that_never_finished_as_such_not_as_a_catch_up(root, ledger_backend):
    """A month-end killed (or stopped by an error it could not name) after it began: status said 现在待运行：
    2026-11（补跑）, which an operator reads as a month that never ran, though it may have settled statements
    (attack X). Said as a run that was interrupted."""
    from helpers import fake, issue, ledger_query

    issue(root, "团1", "2026-11-20 08:00", n=1, at="2026-11-10T10:00:00+08:00")
    ledger_query(
        root,
        "INSERT INTO month_end_runs (month, trigger, started_at) VALUES ('2026-11', '定时', '2026-12-01T02:00:00+08:00')",
    )
    text = run_watcher(root, "status", env=fake("2026-12-01T03:00:00+08:00")).stdout
    assert "2026-11（上次运行中断，未完成）" in text and "2026-11（补跑）" not in text, text
    # While a process holds the root (serve, or a month-end under way), it may be running now: not said as
    # interrupted (review Z).
    import fcntl

    from helpers import ledger_db

    from watcher.ledger.policies import _lock_key
    from watcher.service.month_end import LOCK

    session = ledger_db(root)  # PostgreSQL: a worker's month-end holds its lock in its session
    with open(root / ".watcher.lock", "a+") as held:
        if ledger_backend == "sqlite":
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.write("month-end")
            held.flush()
        else:
            session.execute("SELECT pg_advisory_lock(?)", (_lock_key(LOCK),)).fetchone()
        text = run_watcher(root, "status", env=fake("2026-12-01T03:00:00+08:00")).stdout
    session.close()
    assert "2026-11（正在运行（或中断后等服务重跑））" in text and "上次运行中断" not in text, text
