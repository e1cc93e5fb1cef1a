"""What the ledger's modules share: time as sortable UTC text, its error, the policy SELECT."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from ..domain.policy import ADD_PEOPLE, Policy, Replacement


class LedgerError(Exception):
    pass


def to_text(moment: datetime) -> str:
    """Aware datetime → sortable UTC text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime in the ledger")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@overload
def from_text(text: str) -> datetime: ...
@overload
def from_text(text: None) -> None: ...
def from_text(text: str | None) -> datetime | None:
    """Ledger text → aware datetime (a column that may be empty gives None)."""
    return datetime.fromisoformat(text) if text else None


POLICY_SELECT = (
    "SELECT p.policy_no, p.agency, p.tour_group, p.region, p.plan_code, v.name, p.plan_version, p.start_at,"
    " p.days, p.end_at, p.route, p.handler, p.sales_id, p.sales_name, p.premium_fen, p.status, p.issued_at,"
    " p.cancelled_at, p.replaces, p.replace_reason, p.statement_no, p.settled_at, p.insured_count"
    " FROM policies p JOIN plan_versions v ON v.id = p.plan_version"
)


def policy_from_row(row: tuple, people: tuple = ()) -> Policy:
    """A policy from a row of POLICY_SELECT (its people loaded separately, or none)."""
    return Policy(
        policy_no=row[0],
        agency=row[1],
        tour_group=row[2],
        region=row[3],
        plan_code=row[4],
        plan_name=row[5],
        plan_version=row[6],
        start=from_text(row[7]),
        days=row[8],
        end=from_text(row[9]),
        route=row[10],
        handler=row[11],
        sales_id=row[12],
        sales_name=row[13],
        premium_fen=row[14],
        people=people,
        issued_at=from_text(row[16]),
        status=row[15],
        cancelled_at=from_text(row[17]),
        replaces=row[18],
        replace_reason=row[19],
        statement_no=row[20],
        settled_at=from_text(row[21]),
        headcount=row[22],
    )


_CHAIN_LIMIT = 1000  # a chain of replacements longer than any desk makes: never loop on a damaged ledger


def replacement(conn, policy_no: str) -> Replacement | None:
    """The end of the chain of policies that replaced `policy_no` (批改, 减人, 换人, 信息变更; a 加人 policy
    replaces nothing), or None when nothing replaced it. `conn` runs `?` queries on either database."""
    steps = chain(conn, policy_no)
    if not steps:
        return None
    number, status, end, _why, start, statement = steps[-1]
    return Replacement(number, status, end, start, statement)


def chain(conn, policy_no: str) -> list[tuple]:
    """The chain's steps from `policy_no` on, the policies that replaced it one after another: (policy_no,
    status, end, why it was issued: 批改, 减人, 换人, 信息变更, start, statement number) each."""
    steps: list[tuple] = []
    number = policy_no
    for _ in range(_CHAIN_LIMIT):
        row = conn.execute(
            "SELECT policy_no, status, end_at, replace_reason, start_at, statement_no FROM policies"
            " WHERE replaces = ? AND replaces != '' AND replace_reason != ?"
            " ORDER BY issued_at DESC, policy_no DESC LIMIT 1",
            (number, ADD_PEOPLE),
        ).fetchone()
        if row is None:
            break
        steps.append((row[0], row[1], from_text(row[2]), row[3], from_text(row[4]), row[5] or ""))
        number = row[0]
    return steps


def latest_processed(conn) -> datetime | None:
    """The latest moment of business a ledger holds: a request processed, a month-end started. `conn` runs
    `?` queries on either database."""
    moments = [m for (m,) in conn.execute("SELECT MAX(processed_at) FROM requests").fetchall() if m]
    moments += [m for (m,) in conn.execute("SELECT MAX(started_at) FROM month_end_runs").fetchall() if m]
    return from_text(max(moments)) if moments else None


def issued_from(conn, policy_no: str) -> list[str]:
    """Every policy issued from `policy_no`, directly or through others, by any endorsement (加人 too): the
    policies that may cover its people now. Never another trip of the same tour group."""
    found: list[str] = []
    todo = [policy_no]
    while todo and len(found) < _CHAIN_LIMIT:
        number = todo.pop()
        for (new,) in conn.execute("SELECT policy_no FROM policies WHERE replaces = ? ORDER BY policy_no", (number,)):
            if new not in found and new != policy_no:
                found.append(new)
                todo.append(new)
    return found


def ancestors(conn, policy_no: str) -> list[str]:
    """Every policy `policy_no` was issued from, directly or through others, by any endorsement (加人 too):
    the void pages that may speak of its people. Newest first."""
    found: list[str] = []
    number = policy_no
    for _ in range(_CHAIN_LIMIT):
        row = conn.execute("SELECT replaces FROM policies WHERE policy_no = ?", (number,)).fetchone()
        if row is None or not row[0] or row[0] in found or row[0] == policy_no:
            break
        found.append(row[0])
        number = row[0]
    return found


def replaced(conn, policy_no: str) -> list[str]:
    """The policies `policy_no` replaced, directly or through others, newest first."""
    found: list[str] = []
    number = policy_no
    for _ in range(_CHAIN_LIMIT):
        row = conn.execute("SELECT replaces, replace_reason FROM policies WHERE policy_no = ?", (number,)).fetchone()
        if row is None or not row[0] or row[1] == ADD_PEOPLE or row[0] in found:
            break
        found.append(row[0])
        number = row[0]
    return found
