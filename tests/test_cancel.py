"""撤单 end to end: before the effective time only, this agency's policies only, never twice."""

from __future__ import annotations

from datetime import timedelta

from helpers import agency_workbook, future, issue_fields, ledger_rows, people, result, run_watcher, write_request


def issue(root, name="团.xlsx", agency="GZ001", **fields):
    write_request(root / "workbooks" / agency / name, issue_fields(**fields), people(2))
    run_watcher(root, "process")
    data, _ = result(root, agency, name.removesuffix(".xlsx") + "_结果")
    assert data["status"] == "success", data["errors"]
    return data["policies"][0]


def cancel(root, name, policy_no, agency="GZ001", env=None):
    write_request(root / "workbooks" / agency / name, {"操作类型": "撤单", "保单号": policy_no})
    run_watcher(root, "process", env=env)
    return result(root, agency, name.removesuffix(".xlsx") + "_结果")


def test_cancel_before_the_effective_time(root):
    policy = issue(root)
    data, wb = cancel(root, "撤.xlsx", policy["policy_no"].lower())
    assert data["status"] == "success" and data["action"] == "撤单"
    assert data["cancelled"] == [policy["policy_no"]] and data["policies"] == [] and data["premium_total"] == "0.00"
    # What was cancelled, as the workbook's 撤销人数 and 撤销保费 say it (the twin said only 0.00).
    assert (data["cancelled_insured"], data["cancelled_premium"]) == (policy["insured_count"], policy["premium"])
    rows = ledger_rows(root)
    assert [r[16] for r in rows["policies"]] == ["已撤单"]
    assert rows["journal"][-1][4] == "policy.cancelled"
    # Twice: refused, nothing changes.
    before = ledger_rows(root)
    data, _ = cancel(root, "再撤.xlsx", policy["policy_no"])
    assert data["status"] == "failed" and "已撤单" in data["errors"][0]["message"]
    assert data["errors"][0]["row"] == 2 and data["errors"][0]["column"] == "保单号"
    assert ledger_rows(root) == before


def test_a_policy_number_typed_with_dashes_is_the_same_number(root):
    """LY2026-1102-0000002 as a clerk copies it from a printed page or types it in groups: not 未找到."""
    policy = issue(root)
    number = policy["policy_no"]
    typed = f"{number[:6]}-{number[6:10]}－{number[10:12]}\u200b{number[12:]}"  # (full-width, a zero-width space)
    data, _ = cancel(root, "撤.xlsx", typed)
    assert data["status"] == "success" and data["cancelled"] == [number], data["errors"]
    # A cell of dashes alone (a clerk's "none") is a number in the wrong form, not an internal error.
    for n, dashes in enumerate(("—", "- -")):
        data, _ = cancel(root, f"横线{n}.xlsx", dashes)
        assert data["status"] == "failed" and data["errors"][0]["code"] == "field.policy_no", data["errors"]


def test_cancel_after_the_effective_time_is_refused_with_the_reason(root):
    start = future(days=3, hour=9)
    policy = issue(root, 生效时间=start.strftime("%Y-%m-%d %H:%M"))
    before = ledger_rows(root)
    after_start = (start + timedelta(hours=1)).isoformat() + "+08:00"
    data, _ = cancel(root, "晚了.xlsx", policy["policy_no"], env={"WATCHER_FAKE_NOW": after_start})
    assert data["status"] == "failed"
    assert data["errors"][0]["code"] == "policy.in_force"
    assert start.strftime("%Y-%m-%d %H:00") in data["errors"][0]["message"]  # the moment it took effect
    assert ledger_rows(root) == before
    # An hour before the effective time it is still accepted.
    just_before = (start - timedelta(hours=1)).isoformat() + "+08:00"
    data, _ = cancel(root, "还来得及.xlsx", policy["policy_no"], env={"WATCHER_FAKE_NOW": just_before})
    assert data["status"] == "success"


def test_an_agency_can_never_touch_another_agencys_policy(root):
    agency_workbook(
        root / "workbooks" / "_admin" / "机构.xlsx", [[1, "SZ002", "深圳测试旅行社", "", "", "GN-A", "合作中"]]
    )
    run_watcher(root, "process")
    theirs = issue(root, name="深圳团.xlsx", agency="SZ002")
    before = ledger_rows(root)
    data, _ = cancel(root, "偷撤.xlsx", theirs["policy_no"], agency="GZ001")
    unknown, _ = cancel(root, "乱撤.xlsx", "LY209901010009999", agency="GZ001")
    assert data["status"] == unknown["status"] == "failed"
    # The answer is the same as for a number that does not exist: nothing about the other agency leaks.
    assert data["errors"][0]["message"].replace(theirs["policy_no"], "N") == unknown["errors"][0]["message"].replace(
        "LY209901010009999", "N"
    )
    assert ledger_rows(root) == before


def test_cancel_without_a_policy_number_says_what_is_missing(root):
    before = ledger_rows(root)
    write_request(root / "workbooks" / "GZ001" / "空撤.xlsx", {"操作类型": "撤单"})
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "空撤_结果")
    assert [e["column"] for e in data["errors"]] == ["保单号"] and "保单号" in data["errors"][0]["message"]
    assert ledger_rows(root) == before
