"""Nothing an agency types reaches staff as a formula: 旅行团号 is checked at the door, and every CSV watcher
writes (the core system's exchange file) neutralises a value that starts like a formula (OWASP)."""

from __future__ import annotations

import csv
import io

import pytest
from helpers import (
    admin,
    issue,
    issue_fields,
    ledger_query,
    ledger_rows,
    month_end,
    people,
    result,
    run_watcher,
    statements,
    write_request,
)

EVIL = "-2+3+cmd|' /C calc'!A0"


@pytest.mark.parametrize("group", [EVIL, '=HYPERLINK("http://x")', "+86团", "@SUM(A1)", "团 A", "团\t团"])
def test_a_tour_group_that_could_be_a_formula_is_refused(root, group):
    before = ledger_rows(root)
    write_request(root / "workbooks" / "GZ001" / "团.xlsx", issue_fields(旅行团号=group), people(1))
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "团_结果")
    assert [(e["code"], e["column"]) for e in data["errors"]] == [("field.tour_group", "旅行团号")]
    assert ledger_rows(root) == before


def test_ordinary_tour_groups_pass(root):
    write_request(root / "workbooks" / "GZ001" / "团.xlsx", issue_fields(旅行团号="GZ-2026/12.桂林_A团"), people(1))
    run_watcher(root, "process")
    assert result(root, "GZ001", "团_结果")[0]["status"] == "success"


def test_the_exchange_file_neutralises_formula_like_values(root):
    """A policy recorded before the check (or a name staff typed) that starts like a formula is written
    with a leading ' in SETTLE_<对账单号>.csv."""

    issue(root, "团A", "2026-11-20 08:00", n=2)
    ledger_query(root, "UPDATE policies SET tour_group = ?", (EVIL,))
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    number = statements(root)[0][0]
    admin(
        root,
        "确认",
        "对账确认",
        ["序号", "对账单号", "业务渠道", "确认人"],
        [[1, number, "团险直销", "@SUM(A1)"]],
        action="对账确认",
        now="2026-12-02T10:00:00+08:00",
    )
    text = (root / "outbox" / "_core" / f"SETTLE_{number}.csv").read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][7] == "'@SUM(A1)" and rows[2][11] == "'" + EVIL
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)
