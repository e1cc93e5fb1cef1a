"""`watcher check`: the ledger's money and numbering verified against itself and against its journal.

Each finding is one Chinese line naming the record and both amounts. An empty list means consistent.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime

from ..domain.dates import cover_end, show_end
from ..domain.money import yuan_display
from ..domain.policy import ACTIVE, CANCELLED, POLICY_NO_PATTERN
from ..domain.settlement import (
    CONFIRMED,
    INVOICED,
    PAID,
    PENDING,
    STATEMENT_NO_PATTERN,
    group_month,
    month_bounds,
    month_text,
    settle_state,
)

LIMIT = 500  # findings listed; the count says if there were more


def check_ledger(ledger, now: datetime | None = None) -> list[str]:
    """`now`: also name the policies of ended months that month-end should have billed and has not."""
    conn = ledger.conn
    found: list[str] = []

    def say(line: str) -> None:
        found.append(line)

    # Statements: total = Σ premium of their policies; counts agree; only live policies in them.
    for no, total, count, insured, fen, n, people, cancelled in conn.execute(
        "SELECT s.statement_no, s.total_fen, s.policy_count, s.insured_count, COALESCE(SUM(p.premium_fen), 0),"
        " COUNT(p.policy_no), COALESCE(SUM(p.insured_count), 0), COALESCE(SUM(CASE WHEN p.status != ? THEN 1 ELSE 0 END), 0)"
        " FROM statements s LEFT JOIN policies p ON p.statement_no = s.statement_no GROUP BY s.statement_no",
        (ACTIVE,),
    ):
        if total != fen:
            say(f"对账单 {no}：合计 {yuan_display(total)} 元，所含保单保费之和 {yuan_display(fen)} 元，不一致")
        if count != n or insured != people:
            say(f"对账单 {no}：记载 {count} 张保单 {insured} 人，实有 {n} 张 {people} 人")
        if cancelled:
            say(f"对账单 {no}：含 {cancelled} 张已撤单的保单")
    for (no,) in conn.execute(
        "SELECT DISTINCT p.statement_no FROM policies p LEFT JOIN statements s"
        " ON s.statement_no = p.statement_no WHERE p.statement_no != '' AND s.statement_no IS NULL"
    ):
        say(f"保单指向不存在的对账单 {no}")

    # Settlement state follows the statement: 已结 exactly when its statement is confirmed.
    for no, status, settled, unsettled in conn.execute(
        "SELECT s.statement_no, s.status, SUM(CASE WHEN p.settled_at IS NOT NULL THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN p.settled_at IS NULL THEN 1 ELSE 0 END)"
        " FROM statements s JOIN policies p ON p.statement_no = s.statement_no GROUP BY s.statement_no"
    ):
        if status == PENDING and settled:
            say(f"对账单 {no} 尚待确认，却有 {settled} 张保单标为已结")
        if status != PENDING and unsettled:
            say(f"对账单 {no} 已确认，却有 {unsettled} 张保单未标为已结")
    n = conn.execute("SELECT COUNT(*) FROM policies WHERE settled_at IS NOT NULL AND statement_no = ''").fetchone()[0]
    if n:
        say(f"{n} 张保单标为已结，却不在任何对账单中")

    # Payments equal totals; the states carry what they need.
    for no, status, total, paid, channel, invoice in conn.execute(
        "SELECT statement_no, status, total_fen, paid_fen, channel, invoice_no FROM statements"
    ):
        if status in (PAID, INVOICED) and paid != total:
            say(f"对账单 {no}：缴费 {yuan_display(paid or 0)} 元，与合计 {yuan_display(total)} 元不符")
        if status in (PENDING, CONFIRMED) and paid is not None:
            say(f"对账单 {no}：状态为{status}，却记有缴费")
        if status != PENDING and not channel:
            say(f"对账单 {no}：已确认却没有业务渠道")
        if status == INVOICED and not invoice:
            say(f"对账单 {no}：已开票却没有发票号")

    # Policies: premium = Σ its people's; head count; numbering.
    for no, fen, people, count in conn.execute(
        "SELECT p.policy_no, p.premium_fen, COALESCE(SUM(i.premium_fen), 0), COUNT(i.seq)"
        " FROM policies p LEFT JOIN insured i ON i.policy_no = p.policy_no GROUP BY p.policy_no"
        " HAVING p.premium_fen != COALESCE(SUM(i.premium_fen), 0) OR p.insured_count != COUNT(i.seq)"
    ):
        say(f"保单 {no}：保费 {yuan_display(fen)} 元，被保险人保费之和 {yuan_display(people)} 元（{count} 人），不一致")
    # The end of cover: 24:00 of the 天数-th day from the start, in the desk's zone.
    for no, start, days, end in conn.execute("SELECT policy_no, start_at, days, end_at FROM policies"):
        want = cover_end(datetime.fromisoformat(start), days, ledger.zone)
        if datetime.fromisoformat(end) != want:
            say(
                f"保单 {no}：保险止期为 {show_end(datetime.fromisoformat(end), ledger.zone)}，按生效时间和 {days} 天"
                f"应为 {show_end(want, ledger.zone)}"
            )
    _numbering(conn, ledger.numbers_used(), say)
    if now is not None:
        _unbilled(ledger, now, say)
    _replay(conn, say)
    if len(found) > LIMIT:
        return found[:LIMIT] + [f"……另有 {len(found) - LIMIT} 处"]
    return found


def _unbilled(ledger, now: datetime, say) -> None:
    """Live policies of an ended month, in effect, in no statement, whose plan waits for nothing: late
    business (recorded for a month already settled) that a supplementary statement must bill. A month
    no month-end has finished yet is not named: its run (scheduled or caught up) bills it anyway."""
    settled = {r.month for r in ledger.runs() if r.finished_at}
    for month in sorted(ledger.unsettled_months(now) & settled):
        start, end = month_bounds(month, ledger.zone)
        for group in settle_state(group_month(ledger.month_policies(start, end)), now):
            if group.state == "ready":
                for p in group.ready:
                    say(
                        f"保单 {p.policy_no}（{group.agency} {group.plan_code}，{month_text(month)}）已生效却不在任何对账单中："
                        "下一次月结（或其每日重试）会为它出补充对账单"
                    )


def _numbering(conn, sequences: dict[str, int], say) -> None:
    for name, table, column, pattern, _width in (
        ("policy", "policies", "policy_no", POLICY_NO_PATTERN, 7),
        ("statement", "statements", "statement_no", STATEMENT_NO_PATTERN, 6),
    ):
        numbers = [n for (n,) in conn.execute(f"SELECT {column} FROM {table}")]
        bad = [n for n in numbers if not re.match(pattern, n)]
        if bad:
            say(f"{len(bad)} 个编号格式不对，例如 {bad[0]}")
        tails = Counter(int(n[10 if name == "policy" else 8 :]) for n in numbers if n not in bad)
        repeated = [t for t, c in tails.items() if c > 1]
        if repeated:
            say(f"{'保单' if name == 'policy' else '对账单'}流水号重复使用：{repeated[:5]}")
        if tails and max(tails) > sequences.get(name, 0):
            say(
                f"{'保单' if name == 'policy' else '对账单'}号的流水号 {max(tails)} 超过了账本记录的 {sequences.get(name, 0)}，"
                "今后可能重号"
            )


def _replay(conn, say) -> None:
    """Replay the append-only journal from empty and compare with the tables' current state."""
    policies: dict[str, list] = {}  # no → [agency, premium, status, statement_no, settled, people]
    statements: dict[str, list] = {}  # no → [total, status, paid, invoice, policies]
    deposits: dict[str, list] = {}  # receipt → [agency, amount, refunded]
    agencies: dict[str, str] = {}
    in_statements: Counter[str] = Counter()
    for event, ref, agency, detail in conn.execute("SELECT event, ref, agency, detail FROM journal ORDER BY id"):
        d = json.loads(detail)
        if event == "policy.issued":
            policies[ref] = [agency, d["premium_fen"], ACTIVE, "", False, len(d["people"])]
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
            say(f"保单 {no} 进入了 {count} 张对账单（流水记录）")

    seen = set()
    for no, agency, fen, status, statement_no, settled, count in conn.execute(
        "SELECT policy_no, agency, premium_fen, status, statement_no, CASE WHEN settled_at IS NULL THEN 0 ELSE 1 END,"
        " insured_count"
        " FROM policies"
    ):
        seen.add(no)
        want = policies.get(no)
        if want is None:
            say(f"保单 {no} 在流水中没有出单记录")
        elif want != [agency, fen, status, statement_no, bool(settled), count]:
            say(
                f"保单 {no}：账本为 {agency}/{yuan_display(fen)} 元/{status}/{statement_no or '无对账单'}/"
                f"{'已结' if settled else '未结'}/{count} 人，流水重放为 {want[0]}/{yuan_display(want[1])} 元/"
                f"{want[2]}/{want[3] or '无对账单'}/{'已结' if want[4] else '未结'}/{want[5]} 人"
            )
    for no in policies.keys() - seen:
        say(f"保单 {no} 在流水中出单，账本中却没有")
    seen = set()
    for no, total, status, paid, invoice in conn.execute(
        "SELECT statement_no, total_fen, status, paid_fen, invoice_no FROM statements"
    ):
        seen.add(no)
        want = statements.get(no)
        if want is None:
            say(f"对账单 {no} 在流水中没有生成记录")
        elif want[:4] != [total, status, paid, invoice]:
            say(
                f"对账单 {no}：账本为 {yuan_display(total)} 元/{status}，流水重放为 {yuan_display(want[0])} 元/{want[1]}"
                + ("（缴费或发票不一致）" if want[:2] == [total, status] else "")
            )
    for no in statements.keys() - seen:
        say(f"对账单 {no} 在流水中生成，账本中却没有")
    for no, agency, amount, refunded in conn.execute(
        "SELECT receipt_no, agency, amount_fen, CASE WHEN refunded_on IS NULL THEN 0 ELSE 1 END FROM deposits"
    ):
        if deposits.pop(no, None) != [agency, amount, bool(refunded)]:
            say(f"预交保费收据 {no}：账本与流水不一致")
    for no in deposits:
        say(f"预交保费收据 {no} 在流水中有记录，账本中却没有")
    for code, status in conn.execute("SELECT code, status FROM agencies"):
        if agencies.get(code) != status:
            say(f"机构 {code}：账本状态为 {status}，流水重放为 {agencies.get(code) or '无记录'}")
