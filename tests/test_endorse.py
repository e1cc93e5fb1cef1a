"""Every agency action end to end: 批改, 加人, 减人, 换人, 信息变更, 保单查询, 业务明细, 补打保单,
each all or nothing, each refused after the effective time with nothing changed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest
from helpers import (
    DETAIL_COLUMNS,
    ID_F_1949,
    ID_F_2000,
    ID_M_1980,
    ID_M_1990,
    agency_workbook,
    future,
    issue_fields,
    ledger_query,
    ledger_rows,
    people,
    plan_workbook,
    result,
    run_watcher,
    write_request,
)

ROSTER = [
    [1, "张三", "身份证", ID_M_1980, None, None, "13800000001", None],
    [2, "李四", "身份证", ID_M_1990, None, None, None, None],
    [3, "王芳", "身份证", ID_F_2000, None, None, None, None],
]


def issue(root, name="团.xlsx", roster=None, **fields):
    write_request(root / "workbooks" / "GZ001" / name, issue_fields(**fields), roster or ROSTER)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", name.removesuffix(".xlsx") + "_结果")
    assert data["status"] == "success", data["errors"]
    return data["policies"][0]


def request(root, name, fields, roster=None, env=None, agency="GZ001"):
    write_request(root / "workbooks" / agency / name, fields, roster)
    run_watcher(root, "process", env=env)
    return result(root, agency, name.removesuffix(".xlsx") + "_结果")


def policies(root):
    rows = ledger_rows(root)["policies"]
    return {
        r[0]: {
            "status": r[16],
            "replaces": r[20],
            "reason": r[21],
            "premium": r[14],
            "count": r[15],
            "start": r[7],
            "days": r[8],
            "route": r[10],
            "handler": r[11],
        }
        for r in rows
    }


def test_amend_issues_a_new_number_and_the_old_becomes_cancelled(root):
    old = issue(root, 天数=3)
    new_start = future(days=15, hour=9)
    data, wb = request(
        root,
        "批改.xlsx",
        {
            "操作类型": "批改",
            "保单号": old["policy_no"],
            "生效时间": new_start.strftime("%Y-%m-%d %H:%M"),
            "天数": 5,
            "经办人": "新经办",
        },
    )
    assert data["status"] == "success", data["errors"]
    [new] = data["policies"]
    assert new["policy_no"] != old["policy_no"] and data["cancelled"] == [old["policy_no"]]
    assert new["replaces"] == old["policy_no"] and "批改" in new["replace_reason"]
    assert new["start"] == new_start.strftime("%Y-%m-%dT%H:00:00+08:00") and new["days"] == 5
    assert new["premium"] == "24.00" and data["premium_before"] == "15.00"  # 4–7 days: 8.00 each
    # What changed, each old value beside the new (the summary shows only the new period), and whose premium.
    amended = {a["项目"]: (a["原内容"], a["新内容"]) for a in data["amended"]}
    assert set(amended) == {"生效时间", "天数", "终止时间", "经办人", "保费"}, amended
    assert amended["天数"] == ("3", "5") and amended["保费"] == ("15.00", "24.00")
    assert amended["生效时间"][1] == new_start.strftime("%Y-%m-%d %H:00") and amended["经办人"][1] == "新经办"
    shown = [r for r in wb["批改内容"].iter_rows(values_only=True) if any(r)]
    assert shown[0] == ("项目", "原内容", "新内容") and ("天数", "3", "5") in shown and len(shown) == 6, shown
    repriced = {c["姓名"]: c["说明"] for c in data["changes"]}
    assert len(repriced) == 3 and all(" → 8.00" in said for said in repriced.values()), repriced
    ledger = policies(root)
    assert ledger[old["policy_no"]]["status"] == "已撤单" and ledger[new["policy_no"]]["status"] == "有效"
    assert ledger[new["policy_no"]]["handler"] == "新经办" and ledger[new["policy_no"]]["route"] == "广州—桂林—阳朔"
    assert (root / "outbox" / "GZ001" / f"电子保单_{new['policy_no']}.html").exists()
    # The journal shows the endorsement with its request.
    journal = ledger_rows(root)["journal"]
    last_request = max(r[2] for r in journal if r[2] is not None)
    events = [r[4] for r in journal if r[2] == last_request]
    assert events == ["request", "policy.cancelled", "policy.issued"]


def test_an_amendment_that_keeps_the_start_keeps_its_end_at_midnight_desk_time(root):
    """The start comes back from the ledger in UTC: 02:00 desk time is the day before in UTC. The new end
    is still 24:00 of the last day in desk time (it was 08:00 the next day: 16 hours uncovered)."""
    start = future(days=10, hour=2)
    old = issue(root, 生效时间=start.strftime("%Y-%m-%d %H:%M"), 天数=3)
    assert old["end"] == (start.date() + timedelta(days=3)).strftime("%Y-%m-%dT00:00:00+08:00")
    data, _ = request(root, "只改天数.xlsx", {"操作类型": "批改", "保单号": old["policy_no"], "天数": 4})
    [new] = data["policies"]
    assert new["end"] == (start.date() + timedelta(days=4)).strftime("%Y-%m-%dT00:00:00+08:00")
    data, _ = request(root, "只改经办人.xlsx", {"操作类型": "批改", "保单号": new["policy_no"], "经办人": "另一人"})
    assert data["policies"][0]["end"] == new["end"]
    assert "0 处" not in run_watcher(root, "check").stdout


def test_check_names_a_policy_whose_end_of_cover_is_wrong(root):
    old = issue(root, 天数=3)
    ledger_query(root, "UPDATE policies SET end_at = ?", ("2030-01-01T00:00:00+00:00",))
    proc = run_watcher(root, "check", check=False)
    assert proc.returncode == 1 and old["policy_no"] in proc.stderr and "保险止期" in proc.stderr


def test_amend_needs_a_change_and_refuses_a_past_hour(root):
    old = issue(root)
    before = ledger_rows(root)
    nothing, _ = request(root, "空批改.xlsx", {"操作类型": "批改", "保单号": old["policy_no"]})
    same, _ = request(root, "同批改.xlsx", {"操作类型": "批改", "保单号": old["policy_no"], "天数": 3})
    past, _ = request(
        root,
        "倒签.xlsx",
        {"操作类型": "批改", "保单号": old["policy_no"], "生效时间": future(days=-2).strftime("%Y-%m-%d %H:00")},
    )
    assert nothing["errors"][0]["code"] == "endorse.amend_nothing"
    assert (nothing["errors"][0]["row"], nothing["errors"][0]["column"]) == (2, "保单号"), "the cell named, its row too"
    assert same["errors"][0]["code"] == "endorse.no_change"
    assert (past["errors"][0]["column"], past["errors"][0]["code"]) == ("生效时间", "field.effective_past")
    assert ledger_rows(root) == before


def test_an_endorsement_that_asks_for_another_group_region_or_plan_is_refused_not_silently_ignored(root):
    """A 申请 sheet copied from a 投保 and turned into a 批改: what an endorsement cannot change is said,
    the row named, and nothing issued; the same values as the policy's are fine."""
    old = issue(root, 天数=3)
    before = ledger_rows(root)
    fields = {"操作类型": "批改", "保单号": old["policy_no"], "天数": 5}
    asked, _ = request(root, "换方案.xlsx", {**fields, "方案代码": "GW-B", "区域": "境外", "旅行团号": "新团"})
    assert asked["status"] == "failed" and ledger_rows(root) == before
    found = {e["column"]: e for e in asked["errors"]}
    assert set(found) == {"方案代码", "区域", "旅行团号"} and all(
        e["code"] == "endorse.kept_field" for e in found.values()
    )
    assert "GN-A" in found["方案代码"]["message"] and "GW-B" in found["方案代码"]["message"]
    assert "撤单后重新投保" in found["方案代码"]["message"] and found["方案代码"]["row"] is not None
    added, _ = request(
        root,
        "加人换团.xlsx",
        {"操作类型": "加人", "保单号": old["policy_no"], "旅行团号": "别的团"},
        [[1, "赵六", "护照", "E98765432", "男", "1985-06-01", None, None]],
    )
    assert [e["code"] for e in added["errors"]] == ["endorse.kept_field"] and ledger_rows(root) == before
    same, _ = request(root, "原值.xlsx", {**fields, "方案代码": "gn-a", "区域": "境内", "旅行团号": old["tour_group"]})
    assert same["status"] == "success", same["errors"]


def test_a_投保_file_reused_for_an_endorsement_is_done_when_it_asks_for_nothing_more(root):
    """The clerk's way: the 投保 file itself, 操作类型 changed to 减人 and a person deleted. Every field it
    still holds is the policy's own: the 减人 is done, nothing refused."""
    fields = issue_fields()
    old = issue(root)
    data, _ = request(root, "原文件减人.xlsx", {**fields, "操作类型": "减人", "保单号": old["policy_no"]}, ROSTER[:2])
    assert data["status"] == "success", data["errors"]
    assert data["policies"][0]["insured_count"] == 2


@pytest.mark.parametrize("action", ["减人", "加人", "换人"])
def test_an_endorsement_that_fills_in_what_only_a_批改_changes_is_refused_not_silently_ignored(root, action):
    """A 减人 with a new 天数, a 加人 with another 生效时间: done as if they were blank, the clerk would take
    the new period for granted. Refused, each row named, nothing issued; a 批改 afterwards does it."""
    old = issue(root, 天数=3)
    before = ledger_rows(root)
    roster = {"减人": ROSTER[:2], "加人": [[1, "赵六", "护照", "E98765432", "男", "1985-06-01", None, None]]}.get(
        action, [*ROSTER[:2], [3, "赵六", "护照", "E98765432", "男", "1985-06-01", None, None]]
    )
    later = (future() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    asked = {"天数": 7, "生效时间": later, "行程路线": "广州—北京", "经办人": "新经办"}
    data, _ = request(root, f"{action}改期.xlsx", {"操作类型": action, "保单号": old["policy_no"], **asked}, roster)
    assert data["status"] == "failed" and ledger_rows(root) == before
    found = {e["column"]: e for e in data["errors"]}
    assert set(found) == set(asked) and all(e["code"] == "endorse.period_field" for e in found.values())
    assert "“3”" in found["天数"]["message"] and "“7”" in found["天数"]["message"]
    assert "批改" in found["天数"]["message"] and found["天数"]["row"] is not None


def test_an_endorsement_cannot_change_the_salesperson(root):
    old = issue(root, 天数=3)
    before = ledger_rows(root)
    data, _ = request(
        root, "改营销员.xlsx", {"操作类型": "批改", "保单号": old["policy_no"], "天数": 5, "营销员姓名": "钱营销"}
    )
    assert data["status"] == "failed" and ledger_rows(root) == before
    assert [(e["code"], e["column"]) for e in data["errors"]] == [("endorse.kept_field", "营销员姓名")]
    assert "赵营销" in data["errors"][0]["message"] and "钱营销" in data["errors"][0]["message"]


def test_a_批改_with_nothing_to_change_says_so_once(root):
    """Only fields a 批改 does not change (营销员 as before, 终止时间): one message, saying what it can change
    and how the end of cover moves, not a second one claiming the request equals the policy."""
    old = issue(root)
    data, _ = request(root, "只填终止.xlsx", {"操作类型": "批改", "保单号": old["policy_no"], "终止时间": "2027-01-01"})
    assert [e["code"] for e in data["errors"]] == ["endorse.amend_nothing"]
    assert "天数" in data["errors"][0]["message"] and "终止时间" in data["errors"][0]["message"]


def test_a_批改_or_撤单_brought_with_other_people_is_refused_with_who_differs(root):
    """批改 and 撤单 take no roster. One brought along that renames, adds or leaves out people (to 撤 only
    some of them) was echoed back as if read, and the whole policy changed: now refused, saying who
    differs and which action to use. The policy's own roster brought along is fine."""
    old = issue(root, 天数=3)
    before = ledger_rows(root)
    renamed = [[1, "张三丰", *ROSTER[0][2:]], *ROSTER[1:], [4, "赵六", "护照", "E98765432", "男", "1985-06-01"]]
    amend = {"操作类型": "批改", "保单号": old["policy_no"], "天数": 4}
    data, _ = request(root, "批改带名单.xlsx", amend, renamed)
    assert data["status"] == "failed" and ledger_rows(root) == before
    (error,) = data["errors"]
    assert error["code"] == "endorse.roster_differs" and error["sheet"] == "被保险人名单"
    assert "多了 1 人：赵六" in error["message"] and "张三 → 张三丰" in error["message"]
    assert "加人、减人或换人" in error["message"]
    cancel, _ = request(root, "撤部分人.xlsx", {"操作类型": "撤单", "保单号": old["policy_no"]}, ROSTER[:1])
    assert cancel["status"] == "failed" and ledger_rows(root) == before
    (error,) = cancel["errors"]
    assert error["code"] == "cancel.roster_differs" and "少了 2 人：李四、王芳" in error["message"]
    assert "减人" in error["message"]
    same, _ = request(root, "批改原名单.xlsx", amend, ROSTER)
    assert same["status"] == "success", same["errors"]
    whole, _ = request(root, "撤整单.xlsx", {"操作类型": "撤单", "保单号": same["policies"][0]["policy_no"]}, ROSTER)
    assert whole["status"] == "success", whole["errors"]


def test_a_second_endorsement_of_a_replaced_policy_names_the_policy_in_force(root):
    """Two 批改 of one policy handed in together: the second finds it 已撤单 and says which number now
    covers the group, to hand it in again against that one; a chain that ends cancelled names nothing."""
    old = issue(root, 天数=3)
    data, _ = request(root, "批改一.xlsx", {"操作类型": "批改", "保单号": old["policy_no"], "天数": 4})
    new = data["policies"][0]["policy_no"]
    second, _ = request(root, "批改二.xlsx", {"操作类型": "批改", "保单号": old["policy_no"], "经办人": "王经办"})
    (error,) = second["errors"]
    assert error["code"] == "policy.replaced" and new in error["message"] and "有效" in error["message"]
    again, _ = request(root, "撤旧.xlsx", {"操作类型": "撤单", "保单号": old["policy_no"]})
    assert again["errors"][0]["code"] == "policy.replaced" and new in again["errors"][0]["message"]
    request(root, "撤新.xlsx", {"操作类型": "撤单", "保单号": new})
    gone, _ = request(root, "再批改.xlsx", {"操作类型": "批改", "保单号": old["policy_no"], "天数": 5})
    # Said as it is: replaced, and the replacement cancelled since (not "已经是已撤单，不能再次办理").
    assert [e["code"] for e in gone["errors"]] == ["policy.replaced_fixed"]
    assert new in gone["errors"][0]["message"] and "现也已撤单" in gone["errors"][0]["message"]
    assert "再次" not in gone["errors"][0]["message"]


def test_a_replaced_policy_whose_replacement_is_in_force_sends_nobody_to_a_second_refusal(root):
    """The replacement took effect: the refusal said 'hand it in against LY…' and that one was refused
    next as in force. It says the replacement cannot change either, and why."""
    old = issue(root, 天数=3)
    amended, _ = request(
        root,
        "改早.xlsx",
        {"操作类型": "批改", "保单号": old["policy_no"], "生效时间": future(2).strftime("%Y-%m-%d %H:00")},
    )
    new = amended["policies"][0]["policy_no"]
    later = {"WATCHER_FAKE_NOW": future(3).isoformat() + "+08:00"}
    late, _ = request(root, "撤旧.xlsx", {"操作类型": "撤单", "保单号": old["policy_no"]}, env=later)
    [error] = late["errors"]
    assert error["code"] == "policy.replaced_fixed" and new in error["message"] and "生效" in error["message"]
    assert "请把保单号改为" not in error["message"]


def test_the_group_apart_warning_names_only_policies_of_this_trip_that_could_still_change(root):
    """A group code reused for another trip, and a policy of the group already in force: neither is named
    ('另行提交撤单' for them could only be refused, or would cancel another trip)."""
    trip = issue(root, 天数=3)
    beside, _ = request(
        root,
        "加人.xlsx",
        {"操作类型": "加人", "保单号": trip["policy_no"]},
        [[1, "赵六", "护照", "E98765432", "男", "1985-06-01", None, None]],
    )
    beside_no = beside["policies"][0]["policy_no"]
    other_trip, _ = request(
        root,
        "下一趟.xlsx",
        {**issue_fields(生效时间=future(40).strftime("%Y-%m-%d %H:00"))},
        people(4)[3:],
    )
    assert other_trip["status"] == "success", other_trip["errors"]
    sooner, _ = request(root, "早一天.xlsx", issue_fields(生效时间=future(9).strftime("%Y-%m-%d %H:00")), people(6)[5:])
    assert sooner["status"] == "success", sooner["errors"]
    in_force = {"WATCHER_FAKE_NOW": (future(9) + timedelta(hours=1)).isoformat() + "+08:00"}  # sooner's cover has begun
    cancelled, _ = request(root, "撤单.xlsx", {"操作类型": "撤单", "保单号": trip["policy_no"]}, env=in_force)
    assert cancelled["status"] == "success", cancelled["errors"]
    [warning] = [w for w in cancelled["warnings"] if w["code"] == "endorse.group_apart"]
    assert beside_no in warning["message"]
    assert other_trip["policies"][0]["policy_no"] not in warning["message"]
    assert sooner["policies"][0]["policy_no"] not in warning["message"]


def test_the_group_apart_warning_finds_the_group_however_its_code_was_typed(root):
    """投保 takes gz-t001 and ＧＺ－Ｔ００１ as the group GZ-T001: a policy issued apart for it under another
    spelling still stays when the group's own is cancelled, and the warning names it."""
    trip = issue(root)
    apart, _ = request(root, "另起.xlsx", issue_fields(旅行团号="gz-t００1"), people(6)[5:])
    assert apart["status"] == "success", apart["errors"]
    cancelled, _ = request(root, "撤单.xlsx", {"操作类型": "撤单", "保单号": trip["policy_no"]})
    assert cancelled["status"] == "success", cancelled["errors"]
    [warning] = [w for w in cancelled["warnings"] if w["code"] == "endorse.group_apart"]
    assert apart["policies"][0]["policy_no"] in warning["message"]


def test_add_people_issues_a_policy_for_the_added_people_in_the_same_group(root):
    old = issue(root)
    added = [[1, "赵六", "护照", "E98765432", "男", "1985-06-01", None, None]]
    data, wb = request(root, "加人.xlsx", {"操作类型": "加人", "保单号": old["policy_no"]}, added)
    assert data["status"] == "success", data["errors"]
    [new] = data["policies"]
    assert data["cancelled"] == [] and new["insured_count"] == 1 and new["premium"] == "5.00"
    assert new["tour_group"] == old["tour_group"] and new["start"] == old["start"] and new["end"] == old["end"]
    assert new["replaces"] == old["policy_no"] and new["replace_reason"] == "加人"
    assert policies(root)[old["policy_no"]]["status"] == "有效"
    assert data["changes"] == [
        {"变更": "新增", "姓名": "赵六", "证件类型": "护照", "证件号码": "E98765432", "说明": "保费 5.00"}
    ]
    # Someone already covered by the group's policy cannot be added again.
    before = ledger_rows(root)
    twice, _ = request(
        root,
        "重复加人.xlsx",
        {"操作类型": "加人", "保单号": old["policy_no"]},
        [[1, "张三", "身份证", ID_M_1980, None, None, None, None]],
    )
    assert twice["status"] == "failed" and (twice["errors"][0]["row"], twice["errors"][0]["column"]) == (2, "证件号码")
    assert old["policy_no"] in twice["errors"][0]["message"]
    assert ledger_rows(root) == before


def test_a_reduce_listing_someone_of_the_policy_added_beside_says_to_delete_the_row(root):
    """A 减人 listing the whole group, someone of the 加人 policy beside it included, got two messages on one
    cell: 请对保单 … 办理换人或减人 and 减人只能减少人员，不能增加. The row is simply not that policy's."""
    old = issue(root)
    added = [[1, "赵六", "护照", "E98765432", "男", "1985-06-01", None, None]]
    beside = request(root, "加人.xlsx", {"操作类型": "加人", "保单号": old["policy_no"]}, added)[0]
    beside_no = beside["policies"][0]["policy_no"]
    before = ledger_rows(root)
    data, wb = request(
        root, "减人.xlsx", {"操作类型": "减人", "保单号": old["policy_no"]}, [*ROSTER[:2], [3, *added[0][1:]]]
    )
    assert data["status"] == "failed"
    # The policy stays as it was, its people covered: never 未投保 beside them (that is a failed 投保's).
    assert "未投保" not in [c.value for row in wb["被保险人名单"].iter_rows() for c in row]
    at_row = [e for e in data["errors"] if e["row"] == 4]
    assert [e["code"] for e in at_row] == ["endorse.reduce_elsewhere"], data["errors"]
    assert beside_no in at_row[0]["message"] and "请删除这一行" in at_row[0]["message"]
    assert ledger_rows(root) == before


def test_remove_people_reissues_with_the_complete_new_roster_and_shows_who_left(root):
    old = issue(root)
    data, wb = request(root, "减人.xlsx", {"操作类型": "减人", "保单号": old["policy_no"]}, ROSTER[:2])
    assert data["status"] == "success", data["errors"]
    [new] = data["policies"]
    assert new["insured_count"] == 2 and new["premium"] == "10.00" and data["premium_before"] == "15.00"
    assert data["cancelled"] == [old["policy_no"]] and new["replace_reason"] == "减人"
    assert [c["变更"] + c["姓名"] for c in data["changes"]] == ["减少王芳"]
    assert [c.value for c in wb["人员变更"][1]] == ["变更", "姓名", "证件类型", "证件号码", "说明"]
    # The summary lists the new policy as every other issuing result does (it lacked its table here).
    summary = [[c.value for c in row] for row in wb["结果汇总"].iter_rows()]
    [head] = [row for row in summary if row[:2] == ["保单号", "旅行团号"]]
    assert head[7] == "状态" and [new["policy_no"], "有效"] in [[row[0], row[7]] for row in summary]
    # 减人 may only remove people.
    before = ledger_rows(root)
    more, _ = request(
        root,
        "减人加人.xlsx",
        {"操作类型": "减人", "保单号": new["policy_no"]},
        ROSTER[:1] + [[2, "新人", "身份证", ID_F_1949, None, None, None, None]],
    )
    same, _ = request(root, "减零人.xlsx", {"操作类型": "减人", "保单号": new["policy_no"]}, ROSTER[:2])
    nobody, _ = request(root, "减全部.xlsx", {"操作类型": "减人", "保单号": new["policy_no"]}, [])
    assert more["status"] == "failed" and more["errors"][0]["row"] == 3 and "换人" in more["errors"][0]["message"]
    assert same["status"] == "failed" and "没有减少" in same["errors"][0]["message"]
    # Everybody removed: the message points to 撤单, the request that ends a whole policy.
    assert nobody["status"] == "failed" and "撤单" in nobody["errors"][0]["message"], nobody["errors"]
    assert ledger_rows(root) == before


def test_a_减人_or_换人_that_takes_most_of_the_group_off_cover_says_so(root):
    """A clerk who listed only the one leaving (减人) or only the newcomer (换人) took everyone else off
    cover and read 成功 with no 提示; a 减人 of one in three is routine and says nothing more."""
    old = issue(root)
    routine, _ = request(root, "减一.xlsx", {"操作类型": "减人", "保单号": old["policy_no"]}, ROSTER[:2])
    assert routine["status"] == "success" and routine["warnings"] == [], routine["warnings"]
    other = issue(root, "团B.xlsx", 旅行团号="T-B")
    leaving, _ = request(root, "减王芳.xlsx", {"操作类型": "减人", "保单号": other["policy_no"]}, ROSTER[2:])
    newcomer = [[1, "新人", "身份证", ID_F_1949, None, None, None, None]]
    swapped, _ = request(
        root, "换新人.xlsx", {"操作类型": "换人", "保单号": routine["policies"][0]["policy_no"]}, newcomer
    )
    # Two of three swapped for two others: a routine 换人, no word.
    third = issue(root, "团C.xlsx", 旅行团号="T-C")
    others = [
        [1, "新甲", "身份证", ID_F_1949, None, None, None, None],
        *ROSTER[2:],
        [3, "新乙", "护照", "E76543210", "男", "1980-02-02", None, None],
    ]
    routine_swap, _ = request(root, "换二.xlsx", {"操作类型": "换人", "保单号": third["policy_no"]}, others)
    assert routine_swap["status"] == "success", routine_swap["errors"]
    assert "endorse.most_removed" not in {w["code"] for w in routine_swap["warnings"]}
    for data, action, kept, removed in ((leaving, "减人", 1, 2), (swapped, "换人", 0, 2)):
        assert data["status"] == "success", data["errors"]
        [warning] = data["warnings"]
        assert warning["code"] == "endorse.most_removed", warning
        assert f"{action}后，原保单 {kept + removed} 人中只保留了 {kept} 人，减少了 {removed} 人" in warning["message"]


def test_replace_and_change_information_take_any_complete_roster(root):
    old = issue(root)
    swapped = ROSTER[:2] + [[3, "新人", "身份证", ID_F_1949, None, None, None, None]]
    data, _ = request(root, "换人.xlsx", {"操作类型": "换人", "保单号": old["policy_no"]}, swapped)
    assert data["status"] == "success", data["errors"]
    assert sorted(c["变更"] + c["姓名"] for c in data["changes"]) == ["减少王芳", "新增新人"]
    assert data["policies"][0]["premium"] == "17.50"  # 新人 is 76: factor 1.5
    renamed = [list(r) for r in swapped]
    renamed[0][1], renamed[0][6] = "张叁", "13900000009"
    info, _ = request(
        root, "信息变更.xlsx", {"操作类型": "信息变更", "保单号": data["policies"][0]["policy_no"]}, renamed
    )
    assert info["status"] == "success", info["errors"]
    [change] = info["changes"]
    assert change["变更"] == "变更" and "姓名：张三 → 张叁" in change["说明"] and "联系电话" in change["说明"]
    chain = policies(root)
    assert [v["status"] for v in chain.values()] == ["已撤单", "已撤单", "有效"]


@pytest.mark.parametrize(
    "action, extra", [("撤单", {}), ("批改", {"天数": 5}), ("加人", {}), ("减人", {}), ("换人", {}), ("信息变更", {})]
)
def test_every_endorsement_is_refused_once_the_policy_is_in_force(root, action, extra):
    start = future(days=2, hour=10)
    old = issue(root, 生效时间=start.strftime("%Y-%m-%d %H:%M"))
    roster = {
        "加人": [[1, "赵六", "护照", "E98765432", "男", "1985-06-01", None, None]],
        "减人": ROSTER[:2],
        "换人": ROSTER[:2],
        "信息变更": ROSTER[:2],
    }.get(action)
    before = ledger_rows(root)
    at_start = start.isoformat() + "+08:00"  # strictly before is required: the effective hour itself is too late
    data, _ = request(
        root,
        f"{action}.xlsx",
        {"操作类型": action, "保单号": old["policy_no"], **extra},
        roster,
        env={"WATCHER_FAKE_NOW": at_start},
    )
    assert data["status"] == "failed"
    assert data["errors"][0]["code"] == "policy.in_force"
    assert action in data["errors"][0]["message"]  # it names what could not be done
    assert ledger_rows(root) == before


def test_a_cancelled_or_replaced_policy_cannot_change(root):
    old = issue(root)
    request(root, "先减人.xlsx", {"操作类型": "减人", "保单号": old["policy_no"]}, ROSTER[:2])
    before = ledger_rows(root)
    data, _ = request(root, "再批改.xlsx", {"操作类型": "批改", "保单号": old["policy_no"], "天数": 5})
    assert data["status"] == "failed" and "已撤单" in data["errors"][0]["message"]
    assert ledger_rows(root) == before


def test_another_agency_s_policy_is_unknown_to_every_action(root):
    agency_workbook(
        root / "workbooks" / "_admin" / "机构.xlsx", [[1, "SZ002", "深圳测试旅行社", "", "", "GN-A", "合作中"]]
    )
    run_watcher(root, "process")
    write_request(root / "workbooks" / "SZ002" / "深圳.xlsx", issue_fields(), ROSTER)
    run_watcher(root, "process")
    theirs, _ = result(root, "SZ002", "深圳_结果")
    number = theirs["policies"][0]["policy_no"]
    before = ledger_rows(root)
    for action in ("批改", "加人", "减人", "补打保单"):
        data, _ = request(root, f"越权{action}.xlsx", {"操作类型": action, "保单号": number, "天数": 5}, ROSTER[:1])
        assert data["status"] == "failed" and "未找到本机构的保单" in data["errors"][0]["message"], action
    found, _ = request(root, "越权查询.xlsx", {"操作类型": "保单查询", "保单号": number})
    assert found["status"] == "success" and found["policies"] == []
    assert ledger_rows(root) == before


def test_a_reissue_is_priced_with_the_plan_version_in_force_now(root):
    old = issue(root)
    plan_workbook(root / "workbooks" / "_admin" / "涨价.xlsx", bands=((1, 3, 6), (4, 30, 9)), factors=())
    run_watcher(root, "process")
    data, wb = request(root, "新价减人.xlsx", {"操作类型": "减人", "保单号": old["policy_no"]}, ROSTER[:2])
    assert data["policies"][0]["premium"] == "12.00" and data["premium_before"] == "15.00"
    # Said on the result: the rates changed since, so each person's premium is not the old policy's.
    text = "\n".join(str(c.value) for row in wb["结果汇总"].iter_rows() for c in row if c.value)
    assert "费率在原保单出单后已更新" in text and "重新计费" in text
    assert any("费率在原保单出单后已更新" in note for note in data["notes"]), "the JSON twin says it too"
    same, wb = request(
        root, "原价减人.xlsx", {"操作类型": "减人", "保单号": data["policies"][0]["policy_no"]}, ROSTER[:1]
    )
    assert same["status"] == "success", same["errors"]
    text = "\n".join(str(c.value) for row in wb["结果汇总"].iter_rows() for c in row if c.value)
    assert "费率在原保单出单后已更新" not in text  # priced with the same version: nothing to explain
    # A new version of its coverages alone, the same prices: nothing to explain either.
    plan_workbook(
        root / "workbooks" / "_admin" / "改保障.xlsx",
        bands=((1, 3, 6), (4, 30, 9)),
        factors=(),
        covers=(("意外", 1000),),
    )
    run_watcher(root, "process")
    kept, wb = request(
        root, "同价批改.xlsx", {"操作类型": "批改", "保单号": same["policies"][0]["policy_no"], "经办人": "王经办"}
    )
    assert kept["status"] == "success", kept["errors"]
    text = "\n".join(str(c.value) for row in wb["结果汇总"].iter_rows() for c in row if c.value)
    assert "费率在原保单出单后已更新" not in text


def test_policy_query_exports_this_agency_s_policies_with_people_and_the_chain(root):
    first = issue(root, name="甲.xlsx", 旅行团号="Q-1")
    issue(
        root, name="乙.xlsx", 旅行团号="Q-2", roster=[[1, "赵六", "护照", "E98765432", "男", "1985-06-01", None, None]]
    )
    reissued, _ = request(root, "减.xlsx", {"操作类型": "减人", "保单号": first["policy_no"]}, ROSTER[:2])
    new_no = reissued["policies"][0]["policy_no"]
    today = future(days=0).strftime("%Y-%m-%d")
    before = ledger_rows(root)
    data, wb = request(
        root, "查询.xlsx", {"操作类型": "保单查询", "旅行团号": "Q-1", "投保起期": today, "投保止期": today}
    )
    assert data["status"] == "success" and data["action"] == "保单查询"
    assert [p["policy_no"] for p in data["policies"]] == [first["policy_no"], new_no]
    assert data["premium_total"] == "10.00"  # the cancelled one is not counted
    sheet = wb["保单"]
    head = [c.value for c in sheet[2]]
    rows = {r[0]: dict(zip(head, r, strict=False)) for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert rows[first["policy_no"]]["保单状态"] == "已撤单" and rows[first["policy_no"]]["后续保单号"] == new_no
    assert rows[new_no]["原保单号"] == first["policy_no"] and rows[new_no]["变更原因"] == "减人"
    assert rows[new_no]["保费"] == 10 and sheet.freeze_panes == "A3"
    people_rows = list(wb["被保险人"].iter_rows(min_row=2, values_only=True))
    assert len(people_rows) == 5 and people_rows[0][4] == ID_M_1980
    cancelled, _ = request(root, "查撤单.xlsx", {"操作类型": "保单查询", "保单状态": "已撤单"})
    assert [p["policy_no"] for p in cancelled["policies"]] == [first["policy_no"]]
    by_number, _ = request(root, "查号.xlsx", {"操作类型": "保单查询", "保单号": new_no})
    assert [p["policy_no"] for p in by_number["policies"]] == [new_no]
    assert ledger_rows(root) == before  # queries change nothing and are not recorded


def test_a_policy_whose_cover_ended_is_已到期_in_the_query_its_json_and_its_filter(root):
    start = future(days=10, hour=8)
    done = issue(root, name="旧.xlsx", 旅行团号="X-1", 生效时间=start.strftime("%Y-%m-%d %H:%M"), 天数=3)
    live = issue(root, name="新.xlsx", 旅行团号="X-2", 生效时间=(start + timedelta(days=30)).strftime("%Y-%m-%d %H:%M"))
    later = {
        "WATCHER_FAKE_NOW": (start + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    }  # 旧's cover has ended, 新's not begun
    found = {}
    for status in ("全部", "有效", "已到期"):
        data, wb = request(root, f"查{status}.xlsx", {"操作类型": "保单查询", "保单状态": status}, env=later)
        sheet = wb["保单"]
        head = [c.value for c in sheet[2]]
        shown = {
            r[0]: dict(zip(head, r, strict=False))["保单状态"] for r in sheet.iter_rows(min_row=3, values_only=True)
        }
        assert {p["policy_no"]: p["status"] for p in data["policies"]} == shown, (
            "the JSON twin says what the sheet says"
        )
        found[status] = shown
    assert found["全部"] == {done["policy_no"]: "已到期", live["policy_no"]: "有效"}
    # 有效 is every policy not cancelled, as 业务明细's filter and the ledger have it (the ended one shown 已到期):
    # it was left out here while 业务明细's 有效 listed it.
    assert found["有效"] == found["全部"] and found["已到期"] == {done["policy_no"]: "已到期"}


def test_detail_sheet_has_the_spec_columns_filters_and_totals(root):
    issue(root, name="一.xlsx", 旅行团号="D-1")
    second = issue(root, name="二.xlsx", 旅行团号="D-2", roster=ROSTER[:1], 方案代码="GW-B", 区域="境外")
    request(root, "撤.xlsx", {"操作类型": "撤单", "保单号": second["policy_no"]})
    today = future(days=0).strftime("%Y-%m-%d")
    data, wb = request(
        root,
        "明细.xlsx",
        {
            "操作类型": "业务明细",
            "投保起期": today,
            "投保止期": today,
            "方案代码": "全部",
            "保单状态": "全部",
            "结算状态": "全部",
        },
    )
    assert data["status"] == "success", data["errors"]
    sheet = wb["业务明细"]
    assert [c.value for c in sheet[2]] == DETAIL_COLUMNS
    assert sheet.freeze_panes == "A3" and sheet.auto_filter.ref.startswith("A2:O")
    body = list(sheet.iter_rows(min_row=3, values_only=True))
    assert [r[10] for r in body[:2]] == ["有效", "已撤单"] and body[0][2] == "境内旅游意外险A款"
    assert body[0][11] == "未结" and len(body[0][4]) == 19 and body[0][5].endswith(":00")
    totals = body[2]
    assert totals[0].startswith("合计") and totals[7] == 3 and totals[9] == 15
    assert sheet.cell(3, 10).number_format == "#,##0.00"
    only_gw, _ = request(
        root,
        "明细GW.xlsx",
        {"操作类型": "业务明细", "投保起期": today, "投保止期": today, "方案代码": "GW-B", "保单状态": "有效"},
    )
    assert only_gw["policies"] == []
    # A plan code no plan has is a typo, not a month without business: refused, the cell named.
    typo, _ = request(
        root,
        "明细笔误.xlsx",
        {"操作类型": "业务明细", "投保起期": today, "投保止期": today, "方案代码": "GW-X"},
    )
    assert typo["status"] == "failed" and [(e["code"], e["column"]) for e in typo["errors"]] == [
        ("query.plan_unknown", "方案代码")
    ]
    assert typo["errors"][0]["row"] is not None and "GW-X" in typo["errors"][0]["message"]
    # Beside another wrong field it is still said: every error at once, never the next one after a fix.
    both, _ = request(
        root,
        "明细两处错.xlsx",
        {"操作类型": "业务明细", "投保起期": today, "投保止期": today, "方案代码": "GW-X", "保单状态": "已到期"},
    )
    assert sorted(e["code"] for e in both["errors"]) == ["query.plan_unknown", "query.status"]
    missing, _ = request(root, "明细缺日期.xlsx", {"操作类型": "业务明细"})
    assert {e["column"] for e in missing["errors"]} == {"投保起期", "投保止期"}


def test_reprint_writes_the_policy_page_again_with_its_current_status(root):
    old = issue(root)
    page = root / "outbox" / "GZ001" / f"电子保单_{old['policy_no']}.html"
    page.unlink()
    request(root, "撤单.xlsx", {"操作类型": "撤单", "保单号": old["policy_no"]})
    data, _ = request(root, "补打.xlsx", {"操作类型": "补打保单", "保单号": old["policy_no"]})
    assert data["status"] == "success" and data["policies"][0]["status"] == "已撤单"
    text = page.read_text(encoding="utf-8")
    assert old["policy_no"] in text and "已撤单" in text


@pytest.mark.parametrize("kind", ["批改", "加人", "减人", "换人", "信息变更", "保单查询", "业务明细", "补打保单"])
def test_every_agency_kind_has_a_template(root, tmp_path, kind):
    import openpyxl

    out = tmp_path / f"{kind}.xlsx"
    run_watcher(root, "template", kind, "-o", str(out))
    wb = openpyxl.load_workbook(out)
    assert wb["申请"]["B2"].value == kind and "填写说明" in wb.sheetnames
    labels = [wb["申请"].cell(r, 1).value for r in range(2, 12)]
    assert "保单号" in labels or kind == "业务明细" or kind == "保单查询"
    if kind in ("加人", "减人", "换人", "信息变更"):
        assert wb["被保险人名单"]["A2"].value == "示例"
        assert wb["被保险人名单"].column_dimensions["D"].number_format == "@"


def test_a_policy_in_a_statement_cannot_change():
    from dataclasses import replace
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from watcher.domain.policy import Policy
    from watcher.kinds.cancel import check_changeable

    zone = ZoneInfo("Asia/Shanghai")
    start = datetime(2026, 12, 20, 8, tzinfo=zone)
    policy = Policy(
        "LY202612010000001",
        "GZ001",
        "T",
        "境内",
        "GN-A",
        "A",
        1,
        start,
        3,
        start + timedelta(days=3),
        "",
        "",
        "",
        "",
        500,
        (),
        datetime(2026, 12, 1, tzinfo=zone),
    )
    now = datetime(2026, 12, 2, tzinfo=zone)
    assert check_changeable(policy, policy.policy_no, "批改", now, zone, {}) == []
    [refused] = check_changeable(replace(policy, statement_no="DZ2026120001"), policy.policy_no, "批改", now, zone, {})
    assert refused.code == "policy.settled" and "DZ2026120001" in refused.message
    assert "请联系保险公司团险运营人员" in refused.message, "a refusal says what to do next"
    [late] = check_changeable(policy, policy.policy_no, "批改", start, zone, {})
    assert late.code == "policy.in_force"


def test_changing_or_cancelling_a_group_with_a_policy_added_beside_it_warns_that_that_one_stays(root):
    """加人 issues a policy beside the group's own: a 批改 or 撤单 of the group's policy (or of the one that
    replaced it) leaves it as it is, and the result says so instead of a silent 成功 — also once that
    policy was itself changed since (its successor is what stays); 保单查询 marks it as issued beside the
    old one, not as replacing it."""
    first = issue(root)
    added = [[1, "赵六", "护照", "E98765432", "男", "1985-06-01", None, None]]
    data, _ = request(root, "加人.xlsx", {"操作类型": "加人", "保单号": first["policy_no"]}, added)
    beside = data["policies"][0]["policy_no"]
    amended, _ = request(root, "批改.xlsx", {"操作类型": "批改", "保单号": first["policy_no"], "天数": 6})
    assert amended["status"] == "success"
    [warning] = [w for w in amended["warnings"] if w["code"] == "endorse.group_apart"]
    assert beside in warning["message"] and "批改" in warning["message"] and warning["column"] == "保单号"
    second = amended["policies"][0]["policy_no"]
    # The clerk follows the advice: the 加人 policy gets its own 批改; the group's policy is cancelled after.
    moved, _ = request(root, "批改加人.xlsx", {"操作类型": "批改", "保单号": beside, "天数": 6})
    assert [w["code"] for w in moved["warnings"]] == ["endorse.group_apart"]  # the group's own policy stays
    beside_now = moved["policies"][0]["policy_no"]
    data, wb = request(root, "查询.xlsx", {"操作类型": "保单查询", "旅行团号": "GZ-T001"})
    sheet = wb["保单"]
    head = [c.value for c in sheet[2]]
    rows = {r[0]: dict(zip(head, r, strict=False)) for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert rows[first["policy_no"]]["后续保单号"] == f"{beside}（加人）、{second}"
    found = {p["policy_no"]: p for p in data["policies"]}  # the JSON twin says the same, for agencies' systems
    assert found[first["policy_no"]]["successors"] == [
        {"policy_no": beside, "reason": "加人"},
        {"policy_no": second, "reason": "批改：天数"},
    ]
    assert found[second]["successors"] == [] and found[second]["replaces"] == first["policy_no"]
    # Its people too, as the 被保险人 sheet lists them, each with their own premium (the twin had none).
    people_sheet = wb["被保险人"]
    head = [c.value for c in people_sheet[1]]
    listed = [dict(zip(head, r, strict=False)) for r in people_sheet.iter_rows(min_row=2, values_only=True) if r[0]]
    for number, policy in found.items():
        mine = [x for x in listed if x["保单号"] == number]
        assert [(x["name"], x["id_no"]) for x in policy["insured"]] == [(x["姓名"], x["证件号码"]) for x in mine]
        assert sum(Decimal(x["premium"]) for x in policy["insured"]) == Decimal(policy["premium"])
    cancelled, _ = request(root, "撤单.xlsx", {"操作类型": "撤单", "保单号": second})
    assert cancelled["status"] == "success" and cancelled["cancelled"] == [second]
    assert [w["code"] for w in cancelled["warnings"]] == ["endorse.group_apart"]
    assert beside_now in cancelled["warnings"][0]["message"] and "撤单" in cancelled["warnings"][0]["message"]
    # The last of the group: nothing else stays, nothing to warn of.
    last, _ = request(root, "撤单加人.xlsx", {"操作类型": "撤单", "保单号": beside_now})
    assert last["status"] == "success" and last["warnings"] == []


def test_detail_totals_do_not_call_policies_whose_cover_ended_valid(root):
    """业务明细's 有效 is every sale not cancelled (SPEC: 全部/有效/已撤单), and its rows and JSON say so: a
    policy whose cover has ended is 有效 there, as the filter that found it (before, a clerk who filtered 有效
    got rows and JSON all saying 已到期, a value 业务明细 refuses as a filter). Its totals row does not call
    them 有效保单 either."""
    write_request(
        root / "workbooks" / "GZ001" / "团.xlsx", issue_fields(生效时间="2026-11-12 08:00", 天数=2), ROSTER[:2]
    )
    run_watcher(root, "process", env={"WATCHER_FAKE_NOW": "2026-11-10T10:00:00+08:00"})
    data, wb = request(
        root,
        "明细.xlsx",
        {"操作类型": "业务明细", "投保起期": "2026-11-01", "投保止期": "2026-11-30", "保单状态": "有效"},
        env={"WATCHER_FAKE_NOW": "2026-11-30T10:00:00+08:00"},
    )
    assert data["status"] == "success", data["errors"]
    body = list(wb["业务明细"].iter_rows(min_row=3, values_only=True))
    assert body[0][10] == "有效" and [p["status"] for p in data["policies"]] == ["有效"]
    assert body[1][0] == "合计（1 张保单，已撤单不计）" and "有效" not in body[1][0]


def test_an_amend_onto_a_period_another_policy_of_the_group_covers_is_refused(root):
    """A 批改 that moves a group's dates onto a trip another live policy of the same group already covers for
    the same people would insure them twice and charge twice: refused as a 投保 would be, pointing at the
    field that moved; onto another group's policy, warned (as a 投保 is). A 投保 refused over two such
    policies names one number to act on, the count apart from it."""
    fmt = "%Y-%m-%d %H:%M"
    first = issue(root, name="甲.xlsx", 生效时间=future(days=10).strftime(fmt), 天数=3)
    second = issue(root, name="乙.xlsx", 生效时间=future(days=20).strftime(fmt), 天数=3)
    other = issue(root, name="丙.xlsx", roster=ROSTER[:1], 旅行团号="GZ-T002", 生效时间=future(days=30).strftime(fmt))
    before = ledger_rows(root)
    data, _ = request(root, "再投保.xlsx", issue_fields(生效时间=future(days=10).strftime(fmt), 天数=15), ROSTER)
    assert data["status"] == "failed"
    said = [e["message"] for e in data["errors"] if e["code"] == "roster.same_group"]
    assert len(said) == 3 and all(m.endswith(f"并填写保单号 {first['policy_no']}") for m in said), said
    assert all("；另有 1 张重叠的有效保单）" in m for m in said)
    data, _ = request(
        root, "批改.xlsx", {"操作类型": "批改", "保单号": first["policy_no"], "生效时间": future(days=20).strftime(fmt)}
    )
    assert data["status"] == "failed" and [e["code"] for e in data["errors"]] == ["endorse.amend_overlap"]
    error = data["errors"][0]
    assert error["column"] == "生效时间" and error["sheet"] == "申请"
    assert second["policy_no"] in error["message"] and "张三、李四、王芳" in error["message"]
    assert ledger_rows(root) == before
    data, _ = request(root, "批改天数.xlsx", {"操作类型": "批改", "保单号": first["policy_no"], "天数": 12})
    assert data["status"] == "failed" and [(e["code"], e["column"]) for e in data["errors"]] == [
        ("endorse.amend_overlap", "天数")
    ]
    data, _ = request(
        root,
        "批改2.xlsx",
        {"操作类型": "批改", "保单号": second["policy_no"], "生效时间": future(days=30).strftime(fmt)},
    )
    assert data["status"] == "success", data["errors"]
    [warning] = [w for w in data["warnings"] if w["code"] == "endorse.amend_overlap_other"]
    assert (
        other["policy_no"] in warning["message"] and "张三" in warning["message"] and "李四" not in warning["message"]
    )
    # A period that cannot be one is said on its own cell, never an internal error of the overlap check.
    for name, fields, code in (
        ("批改大天数.xlsx", {"天数": 3000000}, "field.days_over"),
        ("批改远年.xlsx", {"生效时间": "9999-12-31 08:00"}, None),
    ):
        data, _ = request(root, name, {"操作类型": "批改", "保单号": other["policy_no"], **fields})
        codes = [e["code"] for e in data["errors"]]
        assert data["status"] == "failed" and "file.internal" not in codes, codes
        assert code is None or code in codes, codes
    # Retyping the policy's own 天数 beside a change of 经办人 moves nothing: no overlap said again.
    data, _ = request(
        root, "批改经办人.xlsx", {"操作类型": "批改", "保单号": first["policy_no"], "天数": 3, "经办人": "新"}
    )
    assert data["status"] == "success" and not [w for w in data["warnings"] if w["code"].startswith("endorse.amend")]


def test_a_reduce_that_also_retypes_a_kept_person_is_refused(root):
    """减人 only removes people: a kept person typed otherwise (a renamed 张三, a phone left out) was written
    onto the new policy with a 成功 and one line on a secondary sheet. Now refused on that cell, saying which
    field differs from the policy (not what the policy holds: a message never says what would pass), and
    which action changes people."""
    first = issue(root)
    before = ledger_rows(root)
    renamed = [[1, "张叁", "身份证", ID_M_1980, None, None, "13800000001", None], ROSTER[1]]
    data, _ = request(root, "减人.xlsx", {"操作类型": "减人", "保单号": first["policy_no"]}, renamed)
    assert data["status"] == "failed" and [e["code"] for e in data["errors"]] == ["endorse.reduce_changed"]
    error = data["errors"][0]
    assert error["column"] == "姓名" and error["row"] is not None and "姓名与原保单" in error["message"]
    assert "信息变更" in error["message"] and "张三" not in error["message"]
    other_phone = [[1, "张三", "身份证", ID_M_1980, None, None, "13900000009", None], ROSTER[1]]
    data, _ = request(root, "减人2.xlsx", {"操作类型": "减人", "保单号": first["policy_no"]}, other_phone)
    assert [(e["code"], e["column"]) for e in data["errors"]] == [("endorse.reduce_changed", "联系电话")]
    # Sent where the phone is to be found: the policy page has none, a 保单查询 export does.
    assert "保单查询" in data["errors"][0]["message"] and "补打保单" not in data["errors"][0]["message"]
    assert ledger_rows(root) == before
    # Typed otherwise only in form, or with the optional cells left blank: the policy's own data is kept.
    same = [[1, "张三", "身份证", ID_M_1980.lower(), None, None, "138-0000 0001", None], ROSTER[1]]
    data, _ = request(root, "减人3.xlsx", {"操作类型": "减人", "保单号": first["policy_no"]}, same)
    assert data["status"] == "success", data["errors"]
    new_no = data["policies"][0]["policy_no"]
    rows = ledger_query(root, "SELECT name, phone FROM insured WHERE policy_no = ? ORDER BY seq", (new_no,))
    assert rows == [("张三", "13800000001"), ("李四", "")]
    blank = [[1, "张三", "身份证", ID_M_1980, None, None, None, None]]
    data, _ = request(root, "减人4.xlsx", {"操作类型": "减人", "保单号": new_no}, blank)
    assert data["status"] == "success", data["errors"]
    last = data["policies"][0]["policy_no"]
    assert ledger_query(root, "SELECT phone FROM insured WHERE policy_no = ?", (last,)) == [("13800000001",)]


def _resident(born) -> str:
    from watcher.domain.idcard import mod11_2_check

    body = f"110105{born:%Y%m%d}001"
    return body + mod11_2_check(body)


def test_an_endorsement_keeping_an_early_morning_start_ages_people_on_the_desks_date(root):
    """A start kept from the ledger is UTC: 06:00 in Shanghai is the day before there, so an endorsement aged
    everyone a day early. A 批改 of only 经办人 repriced a traveller turning 66 that day from 7.50 to 5.00,
    and a 加人 let in a traveller turning 81 that day, whom 投保 refuses."""
    start = future(days=10, hour=6)
    day = start.date()
    turns_66, turns_81 = day.replace(year=day.year - 66), day.replace(year=day.year - 81)
    roster = [[1, "张三", "身份证", ID_M_1980, None, None, None, None], [2, "马六", "身份证", _resident(turns_66)]]
    first = issue(root, "早.xlsx", roster, 生效时间=start.strftime("%Y-%m-%d %H:%M"), 天数=3)
    assert first["premium"] == "12.50"  # 5.00 + 5.00 × 1.5 (66 on the day)
    data, _ = request(root, "改经办.xlsx", {"操作类型": "批改", "保单号": first["policy_no"], "经办人": "小王"})
    assert data["status"] == "success", data["errors"]
    again = data["policies"][0]
    assert again["premium"] == "12.50", "the same people on the same day: the same premium"
    too_old = [[1, "老九", "身份证", _resident(turns_81)]]
    data, _ = request(root, "加老人.xlsx", {"操作类型": "加人", "保单号": again["policy_no"]}, too_old)
    assert data["status"] == "failed" and [e["code"] for e in data["errors"]] == ["age.range"], data["errors"]
    assert "81" in data["errors"][0]["message"]


def test_a_reissue_dropped_again_gives_its_premium_before_again(root):
    """The same 批改 bytes dropped again: its 重复提交 result lost the `premium_before` the first result had
    (an agency system comparing the two saw a key disappear)."""
    first = issue(root, "原.xlsx")
    fields = {"操作类型": "批改", "保单号": first["policy_no"], "天数": 5}
    staged = root.parent / "批改.xlsx"
    write_request(staged, fields)  # the very same bytes twice (a workbook written again carries a new time)
    (root / "workbooks" / "GZ001" / "批改.xlsx").write_bytes(staged.read_bytes())
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "批改_结果")
    assert data["status"] == "success" and data["premium_before"] == first["premium"]
    (root / "workbooks" / "GZ001" / "批改again.xlsx").write_bytes(staged.read_bytes())
    run_watcher(root, "process")
    again, _ = result(root, "GZ001", "批改again_结果")
    assert again["status"] == "duplicate" and again["premium_before"] == first["premium"], again.keys()
    assert again["policies"] == data["policies"]


def test_a_query_filter_it_does_not_read_is_refused_and_a_tour_group_is_found_however_typed(root):
    """业务明细 with 结算状况 (for 结算状态) or 旅行团号, 保单查询 with 方案代码, 对账单查询 with 对账单号: each
    answered 成功 with everything, the filter passed over in silence. 保单查询 of gz-q-1 found nothing where
    投保 had taken gz-q-1 for the group GZ-Q-1. A label no form knows on a 投保 is warned about."""
    first = issue(root, name="甲.xlsx", 旅行团号="GZ-Q-1")
    today = future(days=0).strftime("%Y-%m-%d")
    for name, fields, label in (
        ("明细.xlsx", {"操作类型": "业务明细", "投保起期": today, "投保止期": today, "结算状况": "已结"}, "结算状况"),
        (
            "明细团.xlsx",
            {"操作类型": "业务明细", "投保起期": today, "投保止期": today, "旅行团号": "GZ-Q-2"},
            "旅行团号",
        ),
        ("查方案.xlsx", {"操作类型": "保单查询", "方案代码": "GW-B"}, "方案代码"),
        ("查单号.xlsx", {"操作类型": "对账单查询", "对账单号": "DZ209912000009"}, "对账单号"),
    ):
        data, _ = request(root, name, fields)
        assert data["status"] == "failed" and data["policies"] == [], (name, data["policies"])
        [error] = data["errors"]
        assert (error["code"], error["column"]) == ("field.unread_label", label), error
        assert f"“{label}”" in error["message"] and "可填写" in error["message"]
    for typed in ("gz-q-1", "ＧＺ－Ｑ－１", " Gz-Q-1 "):
        data, _ = request(root, f"查团{typed.strip()}.xlsx", {"操作类型": "保单查询", "旅行团号": typed})
        assert [p["policy_no"] for p in data["policies"]] == [first["policy_no"]], typed
    # A traveller looked up by name and ID, or a 序号 row above the filter: labels no query reads. Taken for a
    # roster's header, they turned the check off and the clerk got the whole book as 成功.
    for name, fields, labels in (
        ("查人.xlsx", {"操作类型": "保单查询", "姓名": "陈一", "证件号码": "440106195605010235"}, {"姓名", "证件号码"}),
        ("查人名.xlsx", {"操作类型": "保单查询", "被保险人姓名": "陈一"}, {"被保险人姓名"}),
        ("序号单号.xlsx", {"操作类型": "对账单查询", "序号": 1, "对账单号": "DZ209912000009"}, {"序号", "对账单号"}),
    ):
        data, _ = request(root, name, fields)
        assert data["status"] == "failed" and data["policies"] == [], (name, data["policies"])
        assert {e["column"] for e in data["errors"] if e["code"] == "field.unread_label"} == labels, data["errors"]
    # A time typed in a date filter: the whole day is searched, and the result says so (it was dropped in
    # silence, and 23:00 … 08:00 of one day read as an empty range to the clerk who typed it).
    data, _ = request(
        root, "带时间.xlsx", {"操作类型": "保单查询", "投保起期": f"{today} 23:00", "投保止期": f"{today} 08:00"}
    )
    assert data["status"] == "success" and [p["policy_no"] for p in data["policies"]] == [first["policy_no"]]
    said = [(w["code"], w["column"]) for w in data["warnings"]]
    assert said == [("query.date_time", "投保起期"), ("query.date_time", "投保止期")], data["warnings"]
    assert "23:00 不起作用" in data["warnings"][0]["message"]
    # 24:00 of a day as the 止期 is that day's end, not the next day's start (it took in the next day).
    yesterday = future(days=-1).strftime("%Y-%m-%d")
    data, _ = request(
        root, "到24点.xlsx", {"操作类型": "保单查询", "投保起期": yesterday, "投保止期": f"{yesterday} 24:00"}
    )
    assert data["status"] == "success" and data["warnings"] == [] and data["policies"] == []
    data, _ = request(
        root, "到今天24点.xlsx", {"操作类型": "保单查询", "投保起期": today, "投保止期": f"{today} 24:00"}
    )
    assert [p["policy_no"] for p in data["policies"]] == [first["policy_no"]]
    issued = issue(root, name="乙.xlsx", 旅行团号="GZ-Q-3", 经办人员="李四")
    data, _ = result(root, "GZ001", "乙_结果")
    assert data["status"] == "success" and issued["policy_no"]
    told = [(w["code"], w["column"]) for w in data["warnings"] if w["code"] == "field.unread_label"]
    assert told == [("field.unread_label", "经办人员")], data["warnings"]


def test_a_narrower_age_range_names_the_policies_it_leaves_people_out_of(root):
    """GN-A's 最高年龄 lowered below a traveller's age on a policy in force: 成功 with no word, then the
    agency's 批改 was refused for that traveller. Said, as a shorter 最长天数 is."""
    old = issue(root)  # 张三, born 1980, is over 40 at the start
    plan_workbook(root / "workbooks" / "_admin" / "收窄.xlsx", max_age=40, factors=())
    run_watcher(root, "process")
    narrowed = result(root, "_admin", "收窄_结果")[0]
    assert narrowed["status"] == "success"
    [said] = [w for w in narrowed["warnings"] if w["code"] == "plan.live_outside_ages"]
    assert old["policy_no"] in said["message"] and said["column"] == "最高年龄" and "–40 岁" in said["message"]
    # A range upside down is its error alone, not also "新版本的投保年龄为 80–10 岁 … 不在此范围内" (attack Y).
    path = plan_workbook(root / "workbooks" / "_admin" / "倒置.xlsx", max_age=10, factors=())
    wb = openpyxl.load_workbook(path)
    wb["方案"]["E3"] = 80
    wb.save(path)
    run_watcher(root, "process")
    upside = result(root, "_admin", "倒置_结果")[0]
    assert upside["status"] == "failed" and [e["code"] for e in upside["errors"]] == ["plan.age_order"], upside
    assert not upside["warnings"], upside["warnings"]


def test_a_policy_longer_than_its_plan_now_allows_is_never_reissued_at_nothing(root):
    """GW-B lowered to 7 days after an 8-day policy was issued: 减人, 加人 and 换人 price with the version in
    force, which has no band for 8 days, and issued policies at 0.00 (billed so at month-end, `check` calling
    the ledger consistent). Each is refused, saying the plan changed; a 批改 of 经办人 alone is told the same,
    not "天数 8 超过…" on the blank 天数 row."""
    old = issue(root, name="长.xlsx", 方案代码="GW-B", 区域="境外", 天数=8)
    plan_workbook(
        root / "workbooks" / "_admin" / "缩短.xlsx",
        code="GW-B",
        name="境外旅游意外险B款",
        region="境外",
        max_days=7,
        bands=((1, 7, 45),),
        factors=(),
    )
    run_watcher(root, "process")
    shortened = result(root, "_admin", "缩短_结果")[0]
    assert shortened["status"] == "success"
    [said] = [w for w in shortened["warnings"] if w["code"] == "plan.live_beyond"]
    assert old["policy_no"] in said["message"] and said["column"] == "最长天数"
    before = ledger_rows(root)["policies"]
    for name, fields, roster in (
        ("减.xlsx", {"操作类型": "减人", "保单号": old["policy_no"]}, ROSTER[:2]),
        (
            "加.xlsx",
            {"操作类型": "加人", "保单号": old["policy_no"]},
            [[1, "赵六", "身份证", ID_F_1949, None, None, None, None]],
        ),
        ("换.xlsx", {"操作类型": "换人", "保单号": old["policy_no"]}, ROSTER[:2] + [[3, "赵六", "身份证", ID_F_1949]]),
        ("经办.xlsx", {"操作类型": "批改", "保单号": old["policy_no"], "经办人": "小赵"}, None),
    ):
        data, _ = request(root, name, fields, roster)
        assert data["status"] == "failed" and data["policies"] == [], (name, data["policies"])
        codes = [(e["code"], e["column"]) for e in data["errors"]]
        assert ("endorse.days_over_plan", "保单号") in codes, (name, data["errors"])
        assert not [c for c in codes if c[0] == "field.days_over"], (name, codes)
    assert ledger_rows(root)["policies"] == before, "nothing issued, nothing cancelled"


def test_info_change_keeps_a_phone_left_blank_and_says_a_premium_a_birth_date_moved(root):
    """A 信息变更 retyped without the optional 联系电话 keeps the travellers' phones (they were erased, said only
    as 联系电话：… → （空）); a birth date that moves someone into an age band says the premium change too."""
    roster = [
        [1, "陈一", "港澳通行证", "H12345678", "女", "1992-02-03", "13800000001", None],
        [2, "陈二", "港澳通行证", "H22345678", "男", "1990-05-06", "13800000002", None],
    ]
    policy = issue(root, roster=roster, 方案代码="GW-B", 区域="境外")
    changed = [
        [1, "陈一", "港澳通行证", "H12345678", "女", "1952-02-03", None, None],  # (66–75: factor 2)
        [2, "陈二", "港澳通行证", "H22345678", "男", "1990-05-06", None, None],
    ]
    write_request(root / "workbooks/GZ001/改.xlsx", {"操作类型": "信息变更", "保单号": policy["policy_no"]}, changed)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "改_结果")
    assert data["status"] == "success", data["errors"]
    [change] = data["changes"]
    old, new = (Decimal(p) for p in (policy["premium"], data["policies"][0]["premium"]))
    assert new > old and "联系电话" not in change["说明"], change
    said, premium = change["说明"].split("；")
    assert said == "出生日期：1992-02-03 → 1952-02-03" and premium.startswith("保费："), change
    was, now = (Decimal(v) for v in premium.removeprefix("保费：").split(" → "))
    assert now - was == new - old and now == 2 * was  # (only 陈一's premium moved, doubled)
    new_no = data["policies"][0]["policy_no"]
    phones = ledger_query(root, "SELECT phone FROM insured WHERE policy_no = ? ORDER BY seq", (new_no,))
    assert phones == [("13800000001",), ("13800000002",)]
    # Nothing else changed: still 没有变化, not an endorsement that only re-prices.
    write_request(root / "workbooks/GZ001/再改.xlsx", {"操作类型": "信息变更", "保单号": new_no}, changed)
    run_watcher(root, "process")
    again, _ = result(root, "GZ001", "再改_结果")
    assert again["status"] == "failed" and again["errors"][0]["code"] == "endorse.no_change", again["errors"]


def test_info_change_correcting_an_id_number_is_one_change_and_keeps_the_phone(root):
    """The commonest 信息变更, a 证件号码 typed wrong corrected: matched by number alone it read as one traveller
    removed and another added (人员变更 新增 and 减少), and the phone left blank was lost although the guide
    says it is kept (attack W). One person of that name leaving and one coming is the same traveller."""
    roster = [
        [1, "陈一", "港澳通行证", "H12345678", "女", "1992-02-03", "13800000001", None],
        [2, "陈二", "港澳通行证", "H22345678", "男", "1990-05-06", "13800000002", None],
    ]
    policy = issue(root, roster=roster, 方案代码="GW-B", 区域="境外")
    changed = [
        [1, "陈一", "港澳通行证", "H12345679", "女", "1992-02-03", None, None],
        [2, "陈二", "港澳通行证", "H22345678", "男", "1990-05-06", None, None],
    ]
    write_request(root / "workbooks/GZ001/改号.xlsx", {"操作类型": "信息变更", "保单号": policy["policy_no"]}, changed)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "改号_结果")
    assert data["status"] == "success", data["errors"]
    [change] = data["changes"]
    assert change["变更"] == "变更" and change["证件号码"] == "H12345679", change
    assert change["说明"] == "证件号码：H12345678 → H12345679", change
    phones = ledger_query(
        root, "SELECT id_no, phone FROM insured WHERE policy_no = ? ORDER BY seq", (data["policies"][0]["policy_no"],)
    )
    assert phones == [("H12345679", "13800000001"), ("H22345678", "13800000002")]
    # Another traveller of the same name, a number nothing like the first's, is not the same person: not
    # paired, and not given the phone (review Z).
    other = [[1, "陈一", "港澳通行证", "M98765432", "女", "1992-02-03", None, None], changed[1]]
    new_no = data["policies"][0]["policy_no"]
    write_request(root / "workbooks/GZ001/换名.xlsx", {"操作类型": "信息变更", "保单号": new_no}, other)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "换名_结果")
    assert data["status"] == "success", data["errors"]
    assert sorted(c["变更"] for c in data["changes"]) == ["减少", "新增"], data["changes"]
    phones = ledger_query(
        root, "SELECT id_no, phone FROM insured WHERE policy_no = ? ORDER BY seq", (data["policies"][0]["policy_no"],)
    )
    assert phones[0][0] == "M98765432" and not phones[0][1], phones
    # Two of one name both renumbered cannot be told apart: each is a new traveller and a removed one.
    twins = [
        [1, "陈一", "港澳通行证", "H32345678", "女", "1992-02-03", None, None],
        [2, "陈一", "港澳通行证", "H42345678", "女", "1993-02-03", None, None],
    ]
    twin_policy = issue(
        root,
        name="双.xlsx",
        roster=[[1, *twins[0][1:6], "139", None], [2, *twins[1][1:6], "138", None]],
        旅行团号="TW2",
        方案代码="GW-B",
        区域="境外",
    )["policy_no"]
    moved = [[1, *twins[0][1:3], "H52345678", *twins[0][4:]], [2, *twins[1][1:3], "H62345678", *twins[1][4:]]]
    write_request(root / "workbooks/GZ001/双改.xlsx", {"操作类型": "信息变更", "保单号": twin_policy}, moved)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "双改_结果")
    assert data["status"] == "success", data["errors"]
    assert sorted(c["变更"] for c in data["changes"]) == ["减少", "减少", "新增", "新增"], data["changes"]


def test_a_reduce_after_a_rate_change_lists_the_people_priced_again(root):
    """减人 after staff raised the plan's rates: 人员变更 listed only whoever left, and the travellers kept,
    each now priced otherwise, were not listed (attack Y); a 批改 lists them. An endorsement that changes
    nothing but would re-price is still 没有变化."""
    policy = issue(root, roster=ROSTER[:2])  # GN-A, 3 days: 5.00 each
    other = issue(root, name="团2.xlsx", roster=ROSTER[2:], 旅行团号="T2")
    plan_workbook(root / "workbooks" / "_admin" / "新费率.xlsx", bands=((1, 3, 6), (4, 30, 9)))
    run_watcher(root, "process")
    data, _ = request(root, "减.xlsx", {"操作类型": "减人", "保单号": policy["policy_no"]}, ROSTER[:1])
    assert data["status"] == "success", data["errors"]
    rows = sorted((c["变更"], c["姓名"], c["说明"]) for c in data["changes"])
    assert rows == [("减少", "李四", "原保费 5.00"), ("变更", "张三", "保费：5.00 → 6.00")], rows
    data, _ = request(root, "同.xlsx", {"操作类型": "信息变更", "保单号": other["policy_no"]}, ROSTER[2:])
    assert data["status"] == "failed" and data["errors"][0]["code"] == "endorse.no_change", data["errors"]
