"""`watcher check`: the ledger's money and numbering verified against itself and against its journal.

Each finding is a Discrepancy: a code (listed in CODES), the record it is about, what was expected and
what was found, and the Chinese line that says so. An empty list means consistent.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from ..domain.dates import cover_end, show_end, show_second
from ..domain.money import yuan_display
from ..domain.policy import ACTIVE, CANCELLED, POLICY_NO_PATTERN
from ..domain.settlement import (
    CONFIRMED,
    INVOICED,
    PAID,
    PENDING,
    STATEMENT_NO_PATTERN,
    billable_since,
    group_month,
    month_bounds,
    month_text,
    retry_slot_after,
    settle_state,
)
from .schema import NUMBER_WORDS

LIMIT = 500  # findings listed; the count says if there were more

CODES = {
    "statement.total": "对账单合计与所含保单保费之和不一致",
    "statement.counts": "对账单记载的保单数或人数与实有不一致",
    "statement.cancelled_policy": "对账单含已撤单的保单",
    "statement.missing": "保单指向不存在的对账单",
    "statement.settled_early": "对账单尚待确认，却有保单标为已结",
    "statement.unsettled": "对账单已确认，却有保单未标为已结",
    "policy.settled_alone": "保单标为已结，却不在任何对账单中",
    "statement.paid_amount": "缴费金额与合计不符",
    "statement.paid_early": "未到缴费状态却记有缴费",
    "statement.no_channel": "已确认却没有业务渠道",
    "statement.no_invoice": "已开票却没有发票号",
    "policy.premium": "保单保费与被保险人保费之和或人数不一致",
    "policy.end": "保险止期与生效时间和天数不符",
    "numbers.format": "编号格式不对",
    "numbers.repeated": "流水号重复使用",
    "numbers.ahead": "流水号超过账本记录的序号",
    "policy.unbilled": "已结账月份的有效保单过了每日重试仍不在任何对账单中",
    "journal.twice_billed": "流水记录中一张保单进入了多张对账单",
    "journal.policy_unrecorded": "保单在流水中没有出单记录",
    "journal.policy_differs": "保单与流水重放不一致",
    "journal.policy_lost": "保单在流水中出单，账本中却没有",
    "journal.policy_premium": "出单流水中的保费与被保险人保费之和不符",
    "journal.plan_unrecorded": "方案版本在流水中没有上传记录",
    "journal.plan_differs": "方案版本的费率、系数、保障或限制与上传时不同",
    "journal.statement_unrecorded": "对账单在流水中没有生成记录",
    "journal.statement_differs": "对账单与流水重放不一致",
    "journal.statement_lost": "对账单在流水中生成，账本中却没有",
    "journal.deposit_differs": "预交保费收据与流水不一致",
    "journal.deposit_lost": "预交保费收据在流水中有记录，账本中却没有",
    "journal.agency_differs": "机构状态与流水重放不一致",
    "ledger.damaged": "账本文件已损坏",
    "numbers.behind": "账本的流水号落后于本机已发出的编号（可能是从较早的备份恢复的）",
    "events.unheld": "事件记录中已办理的业务不在账本中（账本可能是从较早的备份恢复的）",
    "recover.unfinished": "上一次 watcher recover 没有完成或发现不一致而停止，账本尚未核实",
    "check.more": "另有更多不一致未列出",
}


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One thing `check` found: what kind (a key of CODES), about which record, what was expected and
    what was found, and the line a person reads."""

    code: str
    record: str
    expected: str
    found: str
    message: str

    def __str__(self) -> str:
        return self.message


Say = Callable[[str, str, object, object, str], None]


def check_ledger(ledger, now: datetime | None = None, run_time: time = time(2, 0)) -> list[Discrepancy]:
    """`now`: also name the policies of ended months that month-end's daily retry (at `run_time`, the setting
    month_end_time) should have billed by now and has not. Read in one snapshot: run beside workers, its
    queries one by one saw a policy committed between the journal's and the policies' (在流水中没有出单记录,
    exit 1, "hand this to the technical staff") during every busy hour."""
    if getattr(ledger, "_depth", 0):  # inside the caller's transaction: its snapshot already
        return _check(ledger, now, run_time)
    postgres = getattr(ledger, "backend", "") == "postgresql"
    ledger.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if postgres else "BEGIN")
    try:
        return _check(ledger, now, run_time)
    finally:
        ledger.conn.execute("ROLLBACK")


def _check(ledger, now: datetime | None, run_time: time) -> list[Discrepancy]:
    conn = ledger.conn
    found: list[Discrepancy] = []

    def say(code: str, record: str, expected: object, actual: object, line: str) -> None:
        assert code in CODES, code
        found.append(Discrepancy(code, record, str(expected), str(actual), line))

    # Statements: total = Σ premium of their policies; counts agree; only live policies in them.
    for no, total, count, insured, fen, n, people, cancelled in conn.execute(
        "SELECT s.statement_no, s.total_fen, s.policy_count, s.insured_count, COALESCE(SUM(p.premium_fen), 0),"
        " COUNT(p.policy_no), COALESCE(SUM(p.insured_count), 0), COALESCE(SUM(CASE WHEN p.status != ? THEN 1 ELSE 0 END), 0)"
        " FROM statements s LEFT JOIN policies p ON p.statement_no = s.statement_no GROUP BY s.statement_no",
        (ACTIVE,),
    ):
        if total != fen:
            say(
                "statement.total",
                no,
                yuan_display(fen),
                yuan_display(total),
                f"对账单 {no}：合计 {yuan_display(total)} 元，所含保单保费之和 {yuan_display(fen)} 元，不一致",
            )
        if count != n or insured != people:
            say(
                "statement.counts",
                no,
                f"{n} 张 {people} 人",
                f"{count} 张 {insured} 人",
                f"对账单 {no}：记载 {count} 张保单 {insured} 人，实有 {n} 张 {people} 人",
            )
        if cancelled:
            say("statement.cancelled_policy", no, 0, cancelled, f"对账单 {no}：含 {cancelled} 张已撤单的保单")
    for (no,) in conn.execute(
        "SELECT DISTINCT p.statement_no FROM policies p LEFT JOIN statements s"
        " ON s.statement_no = p.statement_no WHERE p.statement_no != '' AND s.statement_no IS NULL"
    ):
        say("statement.missing", no, "对账单存在", "不存在", f"保单指向不存在的对账单 {no}")

    # Settlement state follows the statement: 已结 exactly when its statement is confirmed.
    for no, status, settled, unsettled in conn.execute(
        "SELECT s.statement_no, s.status, SUM(CASE WHEN p.settled_at IS NOT NULL THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN p.settled_at IS NULL THEN 1 ELSE 0 END)"
        " FROM statements s JOIN policies p ON p.statement_no = s.statement_no GROUP BY s.statement_no"
    ):
        if status == PENDING and settled:
            say("statement.settled_early", no, 0, settled, f"对账单 {no} 尚待确认，却有 {settled} 张保单标为已结")
        if status != PENDING and unsettled:
            say("statement.unsettled", no, 0, unsettled, f"对账单 {no} 已确认，却有 {unsettled} 张保单未标为已结")
    n = conn.execute("SELECT COUNT(*) FROM policies WHERE settled_at IS NOT NULL AND statement_no = ''").fetchone()[0]
    if n:
        say("policy.settled_alone", "", 0, n, f"{n} 张保单标为已结，却不在任何对账单中")

    # Payments equal totals; the states carry what they need.
    for no, status, total, paid, channel, invoice in conn.execute(
        "SELECT statement_no, status, total_fen, paid_fen, channel, invoice_no FROM statements"
    ):
        if status in (PAID, INVOICED) and paid != total:
            say(
                "statement.paid_amount",
                no,
                yuan_display(total),
                yuan_display(paid or 0),
                f"对账单 {no}：缴费 {yuan_display(paid or 0)} 元，与合计 {yuan_display(total)} 元不符",
            )
        if status in (PENDING, CONFIRMED) and paid is not None:
            say("statement.paid_early", no, "无缴费", yuan_display(paid), f"对账单 {no}：状态为{status}，却记有缴费")
        if status != PENDING and not channel:
            say("statement.no_channel", no, "业务渠道", "", f"对账单 {no}：已确认却没有业务渠道")
        if status == INVOICED and not invoice:
            say("statement.no_invoice", no, "发票号", "", f"对账单 {no}：已开票却没有发票号")

    # Policies: premium = Σ its people's; head count; numbering.
    for no, fen, people, count in conn.execute(
        "SELECT p.policy_no, p.premium_fen, COALESCE(SUM(i.premium_fen), 0), COUNT(i.seq)"
        " FROM policies p LEFT JOIN insured i ON i.policy_no = p.policy_no GROUP BY p.policy_no"
        " HAVING p.premium_fen != COALESCE(SUM(i.premium_fen), 0) OR p.insured_count != COUNT(i.seq)"
    ):
        say(
            "policy.premium",
            no,
            yuan_display(people),
            yuan_display(fen),
            f"保单 {no}：保费 {yuan_display(fen)} 元，被保险人保费之和 {yuan_display(people)} 元（{count} 人），不一致",
        )
    # The end of cover: 24:00 of the 天数-th day from the start, in the desk's zone.
    for no, start, days, end in conn.execute("SELECT policy_no, start_at, days, end_at FROM policies"):
        want = cover_end(datetime.fromisoformat(start), days, ledger.zone)
        if datetime.fromisoformat(end) != want:
            say(
                "policy.end",
                no,
                show_end(want, ledger.zone),
                show_end(datetime.fromisoformat(end), ledger.zone),
                f"保单 {no}：保险止期为 {show_end(datetime.fromisoformat(end), ledger.zone)}，按生效时间和 {days} 天"
                f"应为 {show_end(want, ledger.zone)}",
            )
    _numbering(conn, ledger.numbers_used(), say)
    if now is not None:
        _unbilled(ledger, now, run_time, say)
    _replay(conn, say)
    if len(found) > LIMIT:
        more = len(found) - LIMIT
        return found[:LIMIT] + [Discrepancy("check.more", "", "", str(more), f"……另有 {more} 处")]
    return found


def _unbilled(ledger, now: datetime, run_time: time, say: Say) -> None:
    """Live policies of an ended month, in effect, in no statement, whose plan waits for nothing, that the
    daily retry should have billed by now (a statement, or a supplementary one for late business) and has
    not: the first retry slot after the group became billable passed more than RETRY_GRACE ago. A group
    that became billable since the last slot is no discrepancy: the next retry bills it. A month no
    month-end has finished yet is not named: its run (scheduled or caught up) bills it anyway."""
    runs = ledger.runs()
    settled = {r.month for r in runs if r.finished_at}
    last_run = {r.month: r.started_at for r in runs}  # ordered: the month's latest run, finished or not
    zone = ledger.zone
    for month in sorted(ledger.unsettled_months(now) & settled):
        start, end = month_bounds(month, zone)
        policies = ledger.month_policies(start, end)
        by_group: dict[tuple[str, str], list] = {}  # cancelled ones too: one that made the plan wait counts
        for p in policies:
            by_group.setdefault((p.agency, p.plan_code), []).append(p)
        for group in settle_state(group_month(policies), now):
            if group.state != "ready":
                continue
            since = billable_since(month, zone, by_group[(group.agency, group.plan_code)])
            # Recorded after the month's latest run but dated before it (a clock moved back): the next
            # slot after that run is the one that bills it.
            slot = retry_slot_after(max(since, last_run[month]), zone, run_time)
            if now < slot + RETRY_GRACE:
                continue
            kind = "补充对账单" if group.stated else "对账单"
            for p in group.ready:
                say(
                    "policy.unbilled",
                    p.policy_no,
                    "在对账单中",
                    "不在任何对账单中",
                    f"保单 {p.policy_no}（{group.agency} {group.plan_code}，{month_text(month)}）自 "
                    f"{show_second(since, zone)} 起即可结算，{show_second(slot, zone)} 的每日重试本应为它出{kind}，"
                    f"至今不在任何对账单中：请确认 watcher serve 在运行，或运行 watcher month-end --month {month:%Y-%m}",
                )


# A retry slot's run may still be under way, or start a little late: named only this long after the slot.
RETRY_GRACE = timedelta(hours=1)


def _plan_shape(code: str, fields: list, rates: list, factors: list, coverages: list) -> tuple:
    return (
        code,
        [str(v) for v in fields],
        sorted((int(a), int(b), int(c)) for a, b, c in rates),
        sorted((int(a), int(b), str(Decimal(str(c)))) for a, b, c in factors),
        [(str(item), int(fen)) for item, fen in coverages],
    )


def _plans(conn, recorded: dict[int, tuple], say: Say) -> None:
    """Each plan version's rates, age factors, coverages and limits as its upload recorded them: a price
    changed in the table afterwards would price every later policy wrongly and look consistent."""
    rates: dict[int, list] = {}
    factors: dict[int, list] = {}
    covers: dict[int, list] = {}
    for v, low, high, fen in conn.execute("SELECT plan_version, day_low, day_high, price_fen FROM rate_bands"):
        rates.setdefault(v, []).append([low, high, fen])
    for v, low, high, factor in conn.execute("SELECT plan_version, age_low, age_high, factor FROM age_factors"):
        factors.setdefault(v, []).append([low, high, factor])
    for v, item, fen in conn.execute("SELECT plan_version, item, sum_fen FROM coverages ORDER BY plan_version, seq"):
        covers.setdefault(v, []).append([item, fen])
    uploads: dict[str, int] = {}  # which upload of its plan each version is (as a 方案 result numbers it)
    for v, code, name, region, low, high, days in conn.execute(
        "SELECT id, plan_code, name, region, min_age, max_age, max_days FROM plan_versions ORDER BY id"
    ):
        uploads[code] = n = uploads.get(code, 0) + 1
        actual = _plan_shape(
            code, [name, region, low, high, days], rates.get(v, []), factors.get(v, []), covers.get(v, [])
        )
        want = recorded.get(v)
        if want is None:
            say(
                "journal.plan_unrecorded",
                f"{code}#{v}",
                "上传记录",
                "无",
                f"方案 {code} 的第 {n} 版在流水中没有上传记录",
            )
        elif want != actual:
            what = "、".join(
                label
                for label, a, b in zip(
                    ("方案代码", "名称与限制", "费率", "年龄系数", "保障"), want, actual, strict=True
                )
                if a != b
            )
            say(
                "journal.plan_differs",
                f"{code}#{v}",
                "与上传时相同",
                what,
                f"方案 {code} 的第 {n} 版：{what}与上传时（流水记录）不同，之后按它出的保单保费可能是错的",
            )


def _numbering(conn, sequences: dict[str, int], say: Say) -> None:
    for name, table, column, pattern, _width in (
        ("policy", "policies", "policy_no", POLICY_NO_PATTERN, 7),
        ("statement", "statements", "statement_no", STATEMENT_NO_PATTERN, 6),
    ):
        numbers = [n for (n,) in conn.execute(f"SELECT {column} FROM {table}")]
        bad = [n for n in numbers if not re.match(pattern, n)]
        if bad:
            say("numbers.format", bad[0], pattern, bad[0], f"{len(bad)} 个编号格式不对，例如 {bad[0]}")
        tails = Counter(int(n[10 if name == "policy" else 8 :]) for n in numbers if n not in bad)
        repeated = [t for t, c in tails.items() if c > 1]
        if repeated:
            say(
                "numbers.repeated",
                name,
                "每个流水号一次",
                repeated[:5],
                f"{NUMBER_WORDS.get(name, name)}流水号重复使用：{repeated[:5]}",
            )
        if tails and max(tails) > sequences.get(name, 0):
            say(
                "numbers.ahead",
                name,
                sequences.get(name, 0),
                max(tails),
                f"{NUMBER_WORDS.get(name, name)}号的流水号 {max(tails)} 超过了账本记录的 {sequences.get(name, 0)}，"
                "今后可能重号",
            )


def _replay(conn, say: Say) -> None:
    """Replay the append-only journal from empty and compare with the tables' current state."""
    policies: dict[str, list] = {}  # no → [agency, premium, status, statement_no, settled, people]
    statements: dict[str, list] = {}  # no → [total, status, paid, invoice, policies]
    deposits: dict[str, list] = {}  # receipt → [agency, amount, refunded]
    agencies: dict[str, str] = {}
    plans: dict[int, tuple] = {}  # plan version → what its upload recorded (code, fields, rates, factors, coverages)
    in_statements: Counter[str] = Counter()
    for event, ref, agency, detail in conn.execute("SELECT event, ref, agency, detail FROM journal ORDER BY id"):
        d = json.loads(detail)
        if event == "policy.issued":
            policies[ref] = [agency, d["premium_fen"], ACTIVE, "", False, len(d["people"])]
            people_fen = sum(int(x[5]) for x in d["people"])
            if people_fen != d["premium_fen"]:
                say(
                    "journal.policy_premium",
                    ref,
                    yuan_display(d["premium_fen"]),
                    yuan_display(people_fen),
                    f"保单 {ref} 的出单流水：保费 {yuan_display(d['premium_fen'])} 元，其中被保险人保费之和却是 "
                    f"{yuan_display(people_fen)} 元",
                )
        elif event == "plan.version":
            plans[int(d["version"])] = _plan_shape(
                ref,
                [d["name"], d["region"], d["min_age"], d["max_age"], d["max_days"]],
                d["rates"],
                d["factors"],
                d["coverages"],
            )
        elif event == "policy.cancelled" and ref in policies:
            policies[ref][2] = CANCELLED
        elif event == "statement.created":
            statements[ref] = [d["total_fen"], PENDING, None, "", [no for no, _ in d["policies"]]]
            for no, _ in d["policies"]:
                in_statements[no] += 1
                if no in policies:
                    policies[no][3] = ref
        elif event == "statement.confirmed" and ref in statements:
            statements[ref][1] = CONFIRMED
            for no in statements[ref][4]:
                if no in policies:
                    policies[no][4] = True
        elif event == "statement.paid" and ref in statements:
            statements[ref][1], statements[ref][2] = PAID, d["amount_fen"]
        elif event == "statement.invoiced" and ref in statements:
            statements[ref][1], statements[ref][3] = INVOICED, d["invoice_no"]
        elif event == "deposit.received":
            deposits[ref] = [agency, d["amount_fen"], False]
        elif event == "deposit.refunded" and ref in deposits:
            deposits[ref][2] = True
        elif event in ("agency.registered", "agency.updated"):
            agencies[ref] = d["status"]
    for no, count in in_statements.items():
        if count > 1:
            say("journal.twice_billed", no, 1, count, f"保单 {no} 进入了 {count} 张对账单（流水记录）")
    _plans(conn, plans, say)

    seen = set()
    for no, agency, fen, status, statement_no, settled, count in conn.execute(
        "SELECT policy_no, agency, premium_fen, status, statement_no, CASE WHEN settled_at IS NULL THEN 0 ELSE 1 END,"
        " insured_count"
        " FROM policies"
    ):
        seen.add(no)
        want = policies.get(no)
        if want is None:
            say("journal.policy_unrecorded", no, "出单记录", "无", f"保单 {no} 在流水中没有出单记录")
        elif want != [agency, fen, status, statement_no, bool(settled), count]:
            say(
                "journal.policy_differs",
                no,
                want,
                [agency, fen, status, statement_no, bool(settled), count],
                f"保单 {no}：账本为 {agency}/{yuan_display(fen)} 元/{status}/{statement_no or '无对账单'}/"
                f"{'已结' if settled else '未结'}/{count} 人，流水重放为 {want[0]}/{yuan_display(want[1])} 元/"
                f"{want[2]}/{want[3] or '无对账单'}/{'已结' if want[4] else '未结'}/{want[5]} 人",
            )
    for no in policies.keys() - seen:
        say("journal.policy_lost", no, "在账本中", "无", f"保单 {no} 在流水中出单，账本中却没有")
    seen = set()
    for no, total, status, paid, invoice in conn.execute(
        "SELECT statement_no, total_fen, status, paid_fen, invoice_no FROM statements"
    ):
        seen.add(no)
        want = statements.get(no)
        if want is None:
            say("journal.statement_unrecorded", no, "生成记录", "无", f"对账单 {no} 在流水中没有生成记录")
        elif want[:4] != [total, status, paid, invoice]:
            say(
                "journal.statement_differs",
                no,
                want[:4],
                [total, status, paid, invoice],
                f"对账单 {no}：账本为 {yuan_display(total)} 元/{status}，流水重放为 {yuan_display(want[0])} 元/{want[1]}"
                + ("（缴费或发票不一致）" if want[:2] == [total, status] else ""),
            )
    for no in statements.keys() - seen:
        say("journal.statement_lost", no, "在账本中", "无", f"对账单 {no} 在流水中生成，账本中却没有")
    for no, agency, amount, refunded in conn.execute(
        "SELECT receipt_no, agency, amount_fen, CASE WHEN refunded_on IS NULL THEN 0 ELSE 1 END FROM deposits"
    ):
        replayed = deposits.pop(no, None)
        if replayed != [agency, amount, bool(refunded)]:
            say(
                "journal.deposit_differs",
                no,
                replayed,
                [agency, amount, bool(refunded)],
                f"预交保费收据 {no}：账本与流水不一致",
            )
    for no in deposits:
        say("journal.deposit_lost", no, "在账本中", "无", f"预交保费收据 {no} 在流水中有记录，账本中却没有")
    for code, status in conn.execute("SELECT code, status FROM agencies"):
        if agencies.get(code) != status:
            say(
                "journal.agency_differs",
                code,
                agencies.get(code) or "无记录",
                status,
                f"机构 {code}：账本状态为 {status}，流水重放为 {agencies.get(code) or '无记录'}",
            )
