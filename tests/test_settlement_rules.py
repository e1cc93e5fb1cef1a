"""Month-end rules, pure: months, the schedule, waiting plans, statement numbers, deposits, 大写金额."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from watcher.domain.policy import CANCELLED, Policy
from watcher.domain.settlement import (
    MonthError,
    Receipt,
    capitals,
    due_months,
    group_month,
    month_bounds,
    parse_month,
    previous_month,
    receipt_valid_until,
    receipt_warning,
    retry_due,
    settle_state,
    statement_number,
)

Z = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=Z)


@pytest.mark.parametrize(
    "fen, words",
    [
        (123450, "壹仟贰佰叁拾肆元伍角整"),
        (100507, "壹仟零伍元零柒分"),
        (100500, "壹仟零伍元整"),
        (50, "伍角整"),
        (7, "柒分"),
        (0, "零元整"),
        (10000000, "壹拾万元整"),
        (10010000, "壹拾万零壹佰元整"),
        (100001, "壹仟元零壹分"),
        (10000000500, "壹亿零伍元整"),
        (123456789012, "壹拾贰亿叁仟肆佰伍拾陆万柒仟捌佰玖拾元壹角贰分"),
        (3050000, "叁万零伍佰元整"),
        # A zero at the end of the 万 group before a whole 仟 is read too (支付结算 rules: a zero between
        # digits is written 零).
        (20100000, "贰拾万零壹仟元整"),
        (100100000, "壹佰万零壹仟元整"),
        (1000100000, "壹仟万零壹仟元整"),
        (12100000, "壹拾贰万壹仟元整"),
        (101000000, "壹佰零壹万元整"),
        (120000100000, "壹拾贰亿零壹仟元整"),
    ],
)
def test_capitals(fen, words):
    assert capitals(fen) == words


@pytest.mark.parametrize(
    "text", ["2026-11", "2026/11", "2026年11月", "2026-11-01", " 2026.11 ", "２０２６－１１", "２０２６年１１月"]
)
def test_parse_month(text):
    assert parse_month(text) == date(2026, 11, 1)


@pytest.mark.parametrize("text", ["2026-13", "11/2026", "", "下个月", "1999-01"])
def test_parse_month_refuses(text):
    with pytest.raises(MonthError):
        parse_month(text)


def test_month_bounds_are_desk_time():
    start, end = month_bounds(date(2026, 12, 1), Z)
    assert start == at("2026-12-01 00:00") and end == at("2027-01-01 00:00")
    assert previous_month(date(2027, 1, 1)) == date(2026, 12, 1)


def test_schedule_runs_the_previous_month_after_its_time_and_catches_up_missed_months():
    two = time(2, 0)
    # Before 02:00 on the 1st, November is not due yet; October is, if it never ran.
    assert due_months(at("2026-12-01 01:59"), Z, 1, two, set(), date(2026, 10, 1)) == [date(2026, 10, 1)]
    assert due_months(at("2026-12-01 01:59"), Z, 1, two, {date(2026, 10, 1)}, date(2026, 10, 1)) == []
    assert due_months(at("2026-12-01 02:00"), Z, 1, two, {date(2026, 10, 1)}, date(2026, 10, 1)) == [date(2026, 11, 1)]
    # Down for three months: every missed month since the first business, oldest first.
    assert due_months(at("2027-02-10 09:00"), Z, 1, two, {date(2026, 10, 1)}, date(2026, 10, 1)) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]
    # A UTC server clock at 18:30 on 30 November is 02:30 on 1 December in Shanghai.
    utc = datetime(2026, 11, 30, 18, 30, tzinfo=ZoneInfo("UTC"))
    assert due_months(utc, Z, 1, two, set(), date(2026, 11, 1)) == [date(2026, 11, 1)]


def test_waiting_months_are_retried_once_a_day():
    two = time(2, 0)
    last = at("2026-12-01 02:00")
    assert not retry_due(at("2026-12-01 20:00"), Z, two, last)
    assert not retry_due(at("2026-12-02 01:59"), Z, two, last)
    assert retry_due(at("2026-12-02 02:00"), Z, two, last)
    assert retry_due(at("2026-12-09 13:00"), Z, two, last)


def policy(no: str, agency: str, plan: str, start: str, fen: int, **kw) -> Policy:
    s = at(start)
    return Policy(
        no,
        agency,
        "T",
        "境内",
        plan,
        plan + "名",
        1,
        s,
        3,
        s + timedelta(days=3),
        "",
        "",
        "",
        "",
        fen,
        (),
        at("2026-11-10 09:00"),
        headcount=2,
        **kw,
    )


def test_a_plan_waits_until_every_live_policy_took_effect_and_plans_never_mix():
    policies = [
        policy("P1", "GZ001", "GN-A", "2026-11-20 08:00", 1000),
        policy("P2", "GZ001", "GN-A", "2026-12-05 08:00", 2000),
        policy("P3", "GZ001", "GW-B", "2026-11-21 08:00", 3000),
        policy("P4", "GZ001", "GW-B", "2026-12-20 08:00", 4000, status=CANCELLED),
        policy("P5", "SZ002", "GN-A", "2026-11-25 08:00", 5000, statement_no="DZ202611000001"),
    ]
    groups = {(g.agency, g.plan_code): g for g in settle_state(group_month(policies), at("2026-12-01 02:00"))}
    assert groups["GZ001", "GN-A"].state == "waiting"
    assert [p.policy_no for p in groups["GZ001", "GN-A"].waiting] == ["P2"]
    assert "2026-12-05 08:00" in groups["GZ001", "GN-A"].waits_for(Z)
    assert groups["GZ001", "GW-B"].state == "ready"  # the cancelled one does not hold it back
    assert [p.policy_no for p in groups["GZ001", "GW-B"].ready] == ["P3"]
    assert groups["GZ001", "GW-B"].cancelled == 1
    assert groups["SZ002", "GN-A"].state == "done"  # already in a statement: nothing to settle again
    later = {(g.agency, g.plan_code): g for g in settle_state(group_month(policies), at("2026-12-05 08:00"))}
    assert later["GZ001", "GN-A"].state == "ready" and later["GZ001", "GN-A"].ready_fen == 3000


def test_a_statement_is_named_by_the_plan_version_of_the_policies_it_bills():
    """A policy of the plan's first version, cancelled by a 减人 and reissued under the second (renamed
    「…2027版」), came first in the month: the statement of second-version policies named the first."""
    from dataclasses import replace

    old = policy("P1", "GZ001", "GN-A", "2026-11-20 08:00", 1000, status=CANCELLED)
    new = [
        replace(policy(n, "GZ001", "GN-A", "2026-11-21 08:00", 600), plan_name="A款2027版", plan_version=2)
        for n in ("P2", "P3")
    ]
    (group,) = settle_state(group_month([old, *new]), at("2026-12-01 02:00"))
    assert group.state == "ready" and group.plan_name == "A款2027版" and group.billed_name() == "A款2027版"
    # Billed before under the first version, the rest under the second: a supplement names the second.
    stated = policy("P0", "GZ001", "GN-A", "2026-11-19 08:00", 500, statement_no="DZ202611000001")
    (group,) = settle_state(group_month([stated, *new]), at("2026-12-01 02:00"))
    assert group.billed_name() == "A款2027版"
    (group,) = settle_state(group_month([new[0], stated]), at("2026-12-01 02:00"))
    assert group.plan_name == "A款2027版", "the summary names the newest version the month's live policies have"


def test_statement_numbers_and_deposit_receipts():
    assert statement_number(date(2026, 11, 1), 42) == "DZ202611000042"
    assert receipt_valid_until(date(2026, 11, 25)) == date(2029, 11, 24)
    assert receipt_valid_until(date(2028, 2, 29)) == date(2031, 2, 28)
    r = Receipt("SJ1", "GZ001", 500000, date(2023, 12, 1), date(2026, 11, 30))
    assert receipt_warning(r, date(2026, 10, 30)) == ""
    assert receipt_warning(r, date(2026, 10, 31)) == "30 天后到期"
    assert receipt_warning(r, date(2026, 12, 1)) == "已过期"
    assert (
        receipt_warning(
            Receipt("SJ2", "GZ001", 1, date(2023, 12, 1), date(2026, 11, 30), date(2026, 1, 1)), date(2026, 12, 1)
        )
        == ""
    )
