"""`watcher check` says what it found as data: each discrepancy a code, the record, what was expected and
what was found (`--json`), besides the Chinese line a person reads."""

from __future__ import annotations

import json

from helpers import issue, ledger_query, month_end, run_watcher

from watcher.domain.money import yuan_display
from watcher.ledger.check import CODES


def _check(root) -> tuple[int, dict]:
    proc = run_watcher(root, "check", "--json", check=False)
    return proc.returncode, json.loads(proc.stdout)


def _settled_desk(root) -> tuple[dict, str]:
    policy = issue(root, "团", "2026-11-20 08:00")
    month_end(root, "2026-11", "2026-12-01T03:00:00+08:00")
    [(statement,)] = ledger_query(root, "SELECT statement_no FROM statements")
    return policy, statement


def test_a_consistent_ledger_is_said_as_data_too(root):
    _settled_desk(root)
    code, data = _check(root)
    assert code == 0
    assert data["consistent"] is True and data["discrepancies"] == []
    assert data["counts"]["policies"] == 1 and data["counts"]["statements"] == 1


def test_each_discrepancy_carries_its_code_record_and_both_values(root):
    policy, statement = _settled_desk(root)
    [(fen,)] = ledger_query(root, "SELECT premium_fen FROM policies")
    ledger_query(root, "UPDATE statements SET total_fen = total_fen + 100 WHERE statement_no = ?", (statement,))
    ledger_query(root, "UPDATE policies SET premium_fen = premium_fen + 1 WHERE policy_no = ?", (policy["policy_no"],))
    code, data = _check(root)
    assert code == 1 and data["consistent"] is False
    found = {(d["code"], d["record"]) for d in data["discrepancies"]}
    assert ("statement.total", statement) in found
    assert ("policy.premium", policy["policy_no"]) in found
    assert ("journal.statement_differs", statement) in found
    assert ("journal.policy_differs", policy["policy_no"]) in found
    premium = next(d for d in data["discrepancies"] if d["code"] == "policy.premium")
    assert premium["expected"] == yuan_display(fen) and premium["found"] == yuan_display(fen + 1)
    assert all(d["code"] in CODES and d["message"] for d in data["discrepancies"])
    # The text form says the same findings, one line each.
    text = run_watcher(root, "check", check=False)
    assert text.returncode == 1
    assert all(d["message"] in text.stderr for d in data["discrepancies"])


def test_a_ledger_whose_numbers_went_back_is_named_by_code(root, ledger_backend):
    """Its sequence set back (as a restored backup has it): numbers ahead of the sequence, and the ledger
    behind the mark of numbers handed out."""
    issue(root, "甲", "2026-11-20 08:00")
    issue(root, "乙", "2026-11-21 08:00")
    if ledger_backend == "sqlite":
        ledger_query(root, "UPDATE sequences SET value = 1 WHERE name = 'policy'")
    else:
        ledger_query(root, "SELECT setval('number_policy', 1)")
    code, data = _check(root)
    assert code == 1
    found = {d["code"]: d for d in data["discrepancies"]}
    assert found["numbers.ahead"]["record"] == "policy" and found["numbers.ahead"]["expected"] == "1"
    assert found["numbers.ahead"]["found"] == "2"
    assert found["numbers.behind"]["expected"] == "2" and found["numbers.behind"]["found"] == "1"


def test_the_docs_list_every_code():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "settlement.md").read_text(encoding="utf-8")
    assert [code for code in CODES if f"`{code}`" not in text] == []


def test_a_price_changed_in_the_rate_table_or_a_journal_record_that_does_not_add_up_is_found(root, ledger_backend):
    """`check` read plan prices as they were: a 每人保费 doubled in the ledger's rate table priced every later
    policy at twice the uploaded rate and still said 一致; so did an issue record whose people's premiums
    no longer add up to the policy's."""
    policy = issue(root, "团", "2026-11-20 08:00")
    assert _check(root)[0] == 0
    ledger_query(root, "UPDATE rate_bands SET price_fen = price_fen * 2")
    code, data = _check(root)
    assert code == 1 and {d["code"] for d in data["discrepancies"]} == {"journal.plan_differs"}
    changed = data["discrepancies"][0]
    assert changed["found"] == "费率" and "费率与上传时" in changed["message"] and changed["record"].startswith("GN-A#")
    ledger_query(root, "UPDATE rate_bands SET price_fen = price_fen / 2")
    assert _check(root)[0] == 0
    ledger_query(root, "DROP TRIGGER journal_no_update" + (" ON journal" if ledger_backend == "postgresql" else ""))
    [(detail,)] = ledger_query(
        root, "SELECT detail FROM journal WHERE event = 'policy.issued' AND ref = ?", (policy["policy_no"],)
    )
    forged = json.loads(detail)
    forged["people"][0][5] += 100  # one person's premium, the policy's left as it was
    ledger_query(
        root,
        "UPDATE journal SET detail = ? WHERE event = 'policy.issued' AND ref = ?",
        (json.dumps(forged, ensure_ascii=False), policy["policy_no"]),
    )
    code, data = _check(root)
    assert code == 1 and [(d["code"], d["record"]) for d in data["discrepancies"]] == [
        ("journal.policy_premium", policy["policy_no"])
    ]
