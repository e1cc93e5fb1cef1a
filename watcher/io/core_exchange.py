"""The exchange file for the insurer's core system, one per confirmed statement (outbox/_core/).

Layout (documented in the README): `SETTLE_<对账单号>.csv`, UTF-8 without BOM, comma-separated, CRLF
line ends, RFC 4180 quoting, a header line naming the columns, then

    H  one line: the statement (policy columns empty, 保费 = the statement total)
    D  one line per policy in the statement
    T  one line: the count of D lines in 保单数, their Σ 人数 and Σ 保费 (a check on the transfer)

Times are ISO 8601 with offset (desk time); money is yuan with two decimals, never a float. A value
that starts with = + - @, a tab or a carriage return is written with a leading ' (OWASP's advice
against CSV injection), so a spreadsheet never takes it for a formula.
"""

from __future__ import annotations

import csv
import io
from datetime import tzinfo

from ..domain.money import yuan_text
from ..domain.settlement import Statement, month_text

COLUMNS = [
    "记录类型",
    "对账单号",
    "机构代码",
    "机构名称",
    "方案代码",
    "结账月份",
    "业务渠道",
    "确认人",
    "确认时间",
    "保单数",
    "保单号",
    "旅行团号",
    "投保时间",
    "生效时间",
    "终止时间",
    "人数",
    "保费",
]


def core_name(statement_no: str) -> str:
    return f"SETTLE_{statement_no}.csv"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutral(value: object) -> object:
    """Text that a spreadsheet would read as a formula, made inert with a leading '."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


class _Writer:
    def __init__(self, buffer):
        self.w = csv.writer(buffer, lineterminator="\r\n")

    def writerow(self, row: list) -> None:
        self.w.writerow([neutral(v) for v in row])


def core_exchange(s: Statement, policies: list, agency_name: str, zone: tzinfo) -> bytes:
    buffer = io.StringIO()
    w = _Writer(buffer)
    w.writerow(COLUMNS)
    head = [
        "H",
        s.statement_no,
        s.agency,
        s.agency_name or agency_name,
        s.plan_code,
        month_text(s.month),
        s.channel,
        s.confirmed_by,
        s.confirmed_at.astimezone(zone).isoformat() if s.confirmed_at else "",
    ]
    w.writerow(head + [s.policy_count, "", "", "", "", "", s.insured_count, yuan_text(s.total_fen)])
    for p in policies:
        w.writerow(
            [
                "D",
                s.statement_no,
                s.agency,
                "",
                s.plan_code,
                "",
                "",
                "",
                "",
                "",
                p.policy_no,
                p.tour_group,
                p.issued_at.astimezone(zone).isoformat(),
                p.start.astimezone(zone).isoformat(),
                p.end.astimezone(zone).isoformat(),
                p.insured_count,
                yuan_text(p.premium_fen),
            ]
        )
    w.writerow(
        [
            "T",
            s.statement_no,
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            len(policies),
            "",
            "",
            "",
            "",
            "",
            sum(p.insured_count for p in policies),
            yuan_text(sum(p.premium_fen for p in policies)),
        ]
    )
    return buffer.getvalue().encode("utf-8")
