"""Admin JSON twins carry what their workbooks carry (plans, agencies, statements made and waiting,
confirmations, payments, invoices, deposits, 业绩), money as strings with two decimals; a 试算 twin
never says 有效 nor carries an issue time."""

from __future__ import annotations

from helpers import (
    admin,
    agency_workbook,
    issue,
    issue_fields,
    people,
    plan_workbook,
    result,
    run_watcher,
    statements,
    write_request,
)


def test_each_admin_twin_carries_its_content(root):
    plan_workbook(root / "workbooks" / "_admin" / "方案.xlsx", code="GN-C", bands=((1, 3, 6.5), (4, 30, 9)))
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "方案_结果")
    [plan] = data["plans"]
    assert plan["code"] == "GN-C" and plan["max_days"] == 30 and isinstance(plan["version"], int)
    assert plan["rates"][0] == {"days_from": 1, "days_to": 3, "premium": "6.50"}
    assert plan["age_factors"] == [{"age_from": 66, "age_to": 80, "factor": "1.5"}]
    assert plan["coverages"] == [{"item": "意外身故、残疾", "sum_insured": "300000.00"}]

    agency_workbook(
        root / "workbooks" / "_admin" / "机构.xlsx",
        [[1, "SZ002", "深圳测试旅行社", "9144", "XY-2", "GN-A、GN-C", "合作中"]],
    )
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "机构_结果")
    assert data["agencies"] == [
        {
            "code": "SZ002",
            "name": "深圳测试旅行社",
            "license_no": "9144",
            "agreement_no": "XY-2",
            "plans": ["GN-A", "GN-C"],
            "status": "合作中",
        }
    ]

    settled = issue(root, "团A", "2026-11-20 08:00", n=3)
    waiting = issue(root, "团B", "2026-12-20 08:00", plan="GW-B", n=1)
    data, _ = admin(
        root,
        "结账",
        None,
        None,
        [],
        fields={"结账月份": "2026-11", "机构代码": "全部", "方案代码": "全部"},
        now="2026-12-01T10:00:00+08:00",
    )
    [made] = data["statements"]
    number = made["statement_no"]
    assert made["agency"] == "GZ001" and made["plan"] == "GN-A" and made["month"] == "2026-11"
    assert made["total"] == settled["premium"] and made["policy_count"] == 1 and made["status"] == "待确认"
    assert data["waiting"][0]["plan"] == "GW-B" and data["waiting"][0]["policies"] == [waiting["policy_no"]]

    data, _ = admin(
        root,
        "确认",
        "对账确认",
        ["序号", "对账单号", "业务渠道", "确认人"],
        [[1, number, "团险直销", "张运营"]],
        action="对账确认",
        now="2026-12-02T10:00:00+08:00",
    )
    [confirmed] = data["confirmed"]
    assert (
        confirmed["statement_no"] == number and confirmed["channel"] == "团险直销" and confirmed["status"] == "已确认"
    )

    total = statements(root)[0][4] / 100
    data, _ = admin(
        root,
        "收费",
        "收费",
        ["序号", "对账单号", "金额", "缴费凭证号", "到账日期"],
        [[1, number, total, "PZ1", "2026-12-03"]],
        action="收费登记",
        now="2026-12-04T10:00:00+08:00",
    )
    assert data["payments"] == [
        {"statement_no": number, "amount": settled["premium"], "ref": "PZ1", "paid_on": "2026-12-03"}
    ]
    data, _ = admin(
        root,
        "发票",
        "发票",
        ["序号", "对账单号", "发票号", "开票日期"],
        [[1, number, "F001", "2026-12-05"]],
        action="发票登记",
        now="2026-12-06T10:00:00+08:00",
    )
    assert data["invoices"] == [{"statement_no": number, "invoice_no": "F001", "invoiced_on": "2026-12-05"}]
    data, _ = admin(root, "业绩", None, None, [], fields={"业绩月份": "2026-12"}, now="2026-12-06T11:00:00+08:00")
    assert data["performance_month"] == "2026-12"
    assert [(p["sales_id"], p["policies"], p["premium"]) for p in data["performance"]] == [
        ("S001", 1, settled["premium"])
    ]

    data, _ = admin(
        root,
        "押金",
        "预交保费",
        ["序号", "机构代码", "类型", "金额", "收据号", "日期"],
        [[1, "SZ002", "收取", 5000, "SJ001", "2026-12-01"]],
        action="预交保费",
        now="2026-12-06T12:00:00+08:00",
    )
    assert data["deposits"] == [
        {
            "type": "收取",
            "receipt_no": "SJ001",
            "agency": "SZ002",
            "amount": "5000.00",
            "date": "2026-12-01",
            "valid_until": "2029-11-30",
        }
    ]

    write_request(root / "workbooks" / "GZ001" / "对账单.xlsx", {"操作类型": "对账单查询"})
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "对账单_结果")
    assert [(s["statement_no"], s["status"], s["invoice_no"]) for s in data["statements"]] == [
        (number, "已开票", "F001")
    ]


def test_a_quote_twin_does_not_say_in_force(root):
    write_request(root / "workbooks" / "GZ001" / "试算.xlsx", issue_fields(操作类型="试算"), people(2))
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "试算_结果")
    assert data["status"] == "quote" and data["policies"] == []
    [quoted] = data["quote"]
    assert quoted["status"] == "试算" and quoted["issued_at"] is None and quoted["policy_no"] is None
    assert quoted["settlement"] is None and quoted["statement_no"] is None  # nothing issued: nothing to settle
    assert quoted["premium"] == data["premium_total"] == "10.00"
