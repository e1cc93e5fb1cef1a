"""Workbooks read right in Excel and on paper: numbers are numbers (money formatted #,##0.00), summaries
never show one policy's facts for many, and every sheet prints on A4, one page wide, labels beside
their values. Printing is checked through the real thing: LibreOffice turns each workbook into a PDF
whose pages are counted."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import openpyxl
import pytest
from helpers import (
    admin,
    issue,
    issue_fields,
    need,
    people,
    result,
    run_watcher,
    soffice,
    statements,
    summary_values,
    write_request,
)

NOW = {"WATCHER_FAKE_NOW": "2026-12-01T01:00:00+08:00"}
MONTH_END = {"WATCHER_FAKE_NOW": "2027-01-01T03:00:00+08:00"}


@pytest.fixture
def office() -> str:
    """LibreOffice's command line; skipped where it is not installed (a failure under CI=true)."""
    path = soffice()
    need(path, "LibreOffice (soffice)")
    return path


def pdf_pages(office: str, workbook: Path, tmp_path: Path) -> int:
    """Pages of the workbook printed to PDF by LibreOffice (its own profile, so runs never collide)."""
    out = tmp_path / "pdf"
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [
            office,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(workbook),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    data = (out / workbook.with_suffix(".pdf").name).read_bytes()
    return len(re.findall(rb"/Type\s*/Page[^s]", data))


def _month(root: Path) -> Path:
    """December business of five groups, settled at month-end."""
    for i in range(5):
        write_request(
            root / "workbooks" / "GZ001" / f"团{i}.xlsx",
            issue_fields(旅行团号=f"T{i}", 生效时间="2026-12-02 08:00"),
            people(30),
        )
    run_watcher(root, "process", env=NOW)
    run_watcher(root, "month-end", "--month", "2026-12", env=MONTH_END)
    return root / "outbox" / "_admin" / "月结汇总_2026-12.xlsx"


def _six_errors(root: Path) -> Path:
    bad = [
        [i + 1, f"团员{'一二三四五六'[i]}", "身份证", p[3][:-1] + ("0" if p[3][-1] != "0" else "1")]
        for i, p in enumerate(people(6))
    ]
    write_request(root / "workbooks" / "GZ001" / "六错.xlsx", issue_fields(), bad)
    run_watcher(root, "process", env=NOW)
    return root / "outbox" / "GZ001" / "六错_结果.xlsx"


def _every_sheet_prints_one_page_wide(path: Path) -> None:
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if ws.sheet_state != "visible":
            continue
        setup = ws.page_setup
        assert setup.paperSize == 9, (path.name, ws.title)  # A4
        # One page wide (1 is the file format's default, left out), as many pages down as needed.
        assert ws.sheet_properties.pageSetUpPr.fitToPage and setup.fitToWidth in (None, 1) and setup.fitToHeight == 0, (
            path.name,
            ws.title,
        )


def test_the_month_end_summary_prints_a_page_a_sheet_labels_beside_their_values(office, root, tmp_path):
    summary = _month(root)
    wb = openpyxl.load_workbook(summary)
    visible = [ws for ws in wb.worksheets if ws.sheet_state == "visible"]
    # Before: 20 pages for these sheets, the 汇总 labels on one page, their values on the next, the chart apart.
    assert pdf_pages(office, summary, tmp_path) == len(visible)
    overview = wb["汇总"]
    assert (
        overview["A9"].value == "保费合计"
        and overview["B9"].value == 750
        and overview["B9"].number_format == "#,##0.00"
    )
    _every_sheet_prints_one_page_wide(summary)


def test_a_result_with_six_errors_prints_on_a_few_pages(office, root, tmp_path):
    path = _six_errors(root)
    data, _ = result(root, "GZ001", "六错_结果")
    assert len(data["errors"]) == 6
    assert pdf_pages(office, path, tmp_path) <= 3  # was 7: its summary ran across pages sideways
    _every_sheet_prints_one_page_wide(path)


def test_every_kind_of_workbook_is_set_up_for_a4(root, tmp_path):
    _month(root)
    write_request(root / "workbooks" / "GZ001" / "查询.xlsx", {"操作类型": "保单查询"})
    run_watcher(root, "process", env=MONTH_END)
    run_watcher(root, "template", "投保", "-o", str(tmp_path / "模板.xlsx"))
    out = root / "outbox" / "GZ001"
    for path in (
        out / "团0_结果.xlsx",
        out / "查询_结果.xlsx",
        out / "业务明细_2026-12.xlsx",
        next(out.glob("对账单_*.xlsx")),
        root / "outbox" / "_admin" / "月结汇总_2026-12.xlsx",
        tmp_path / "模板.xlsx",
    ):
        _every_sheet_prints_one_page_wide(path)


def test_a_query_over_several_policies_never_shows_the_first_ones_facts_for_all(root):
    write_request(root / "workbooks" / "GZ001" / "甲.xlsx", issue_fields(旅行团号="GZ-甲"), people(2))
    write_request(
        root / "workbooks" / "GZ001" / "乙.xlsx",
        issue_fields(旅行团号="GZ-乙", 方案代码="GW-B", 区域="境外"),
        people(5)[2:],
    )
    run_watcher(root, "process")
    number = result(root, "GZ001", "乙_结果")[0]["policies"][0]["policy_no"]
    write_request(root / "workbooks" / "GZ001" / "撤乙.xlsx", {"操作类型": "撤单", "保单号": number})
    write_request(root / "workbooks" / "GZ001" / "查询.xlsx", {"操作类型": "保单查询"})
    run_watcher(root, "process")
    data, wb = result(root, "GZ001", "查询_结果")
    summary = summary_values(wb)
    assert summary["查到保单"] == 2
    assert "不尽相同" in summary["旅行团号"] and "不尽相同" in summary["方案"]  # not the first policy's
    assert summary["保险期间"].endswith("24:00")  # the one thing both share
    # 人数 and 保费合计 count the same policies: the live ones (the cancelled 3-person policy is in neither).
    assert summary["人数"] == 2 and summary["保费合计"] == 10 and data["premium_total"] == "10.00"
    cancel, wb = result(root, "GZ001", "撤乙_结果")
    values = summary_values(wb)
    assert values["人数"] == 0 and values["保费合计"] == 0 and values["撤销人数"] == 3
    cells = {row[0].value: row[1] for row in wb["结果汇总"].iter_rows(min_row=1, max_row=30, max_col=2) if row[0].value}
    assert values["撤销保费"] == 120 and cells["撤销保费"].number_format == "#,##0.00"


def test_admin_results_show_their_own_figures_as_numbers(root):
    _month(root)
    [(number, total)] = [(s[0], s[4]) for s in statements(root)]
    admin(
        root,
        "对账确认",
        "对账确认",
        ["序号", "对账单号", "业务渠道", "确认人"],
        [[1, number, "团险直销", "张运营"]],
        now="2027-01-02T10:00:00+08:00",
    )
    data, wb = admin(
        root,
        "收费登记",
        "收费",
        ["序号", "对账单号", "金额", "缴费凭证号", "到账日期"],
        [[1, number, total / 100, "PZ1", "2027-01-02"]],
        now="2027-01-03T10:00:00+08:00",
    )
    assert data["status"] == "success", data["errors"]
    values = summary_values(wb)
    assert values["缴费合计"] == total / 100 and values["登记缴费"] == 1
    assert "保费合计" not in values and "保单号" not in values and "人数" not in values
    cells = {row[0].value: row[1] for row in wb["结果汇总"].iter_rows(min_row=1, max_row=30, max_col=2) if row[0].value}
    assert cells["缴费合计"].data_type == "n" and cells["缴费合计"].number_format == "#,##0.00"


def test_a_long_list_of_policy_numbers_stays_readable(root):
    for i in range(23):
        write_request(
            root / "workbooks" / "GZ001" / f"团{i:02d}.xlsx", issue_fields(旅行团号=f"T{i:02d}"), people(i + 1)[i:]
        )
    write_request(root / "workbooks" / "GZ001" / "查询.xlsx", {"操作类型": "保单查询"})
    run_watcher(root, "process")
    data, wb = result(root, "GZ001", "查询_结果")
    shown = summary_values(wb)["保单号"]
    assert len(data["policies"]) == 23 and shown.count("LY") == 20 and "等 23 张" in shown


def test_the_settle_and_performance_results_label_and_total_everything(root):
    issue(root, "团A", "2026-11-20 08:00", n=2)
    data, wb = admin(
        root,
        "结账",
        None,
        None,
        [],
        fields={"结账月份": "2026-11", "机构代码": "GZ001", "方案代码": "全部"},
        now="2026-12-01T10:00:00+08:00",
    )
    labels = [row[0] for row in wb["结果汇总"].iter_rows(min_row=1, max_row=40, max_col=1, values_only=True) if row[0]]
    assert len(labels) == len(set(labels)), labels  # no label twice (机构 was)
    assert summary_values(wb)["结账机构"] == "GZ001" and summary_values(wb)["结账方案"] == "全部"
