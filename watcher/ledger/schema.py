"""The ledger's schema as numbered migrations; `migrate` brings any older ledger forward.

Times are ISO-8601 text in UTC (sortable); money is integer fen; factors are decimal text.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from .common import LedgerError

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "initial",
        """
CREATE TABLE agencies (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    license_no TEXT NOT NULL DEFAULT '',
    agreement_no TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('合作中', '已终止')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE agency_plans (
    agency TEXT NOT NULL REFERENCES agencies(code),
    plan_code TEXT NOT NULL REFERENCES plans(code),
    PRIMARY KEY (agency, plan_code)
);
CREATE TABLE plans (
    code TEXT PRIMARY KEY,
    current_version INTEGER
);
CREATE TABLE plan_versions (
    id INTEGER PRIMARY KEY,
    plan_code TEXT NOT NULL REFERENCES plans(code),
    name TEXT NOT NULL,
    region TEXT NOT NULL CHECK (region IN ('境内', '境外')),
    min_age INTEGER NOT NULL,
    max_age INTEGER NOT NULL,
    max_days INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    request_id INTEGER REFERENCES requests(id)
);
CREATE TABLE rate_bands (
    plan_version INTEGER NOT NULL REFERENCES plan_versions(id),
    day_low INTEGER NOT NULL,
    day_high INTEGER NOT NULL,
    price_fen INTEGER NOT NULL CHECK (price_fen > 0)
);
CREATE TABLE age_factors (
    plan_version INTEGER NOT NULL REFERENCES plan_versions(id),
    age_low INTEGER NOT NULL,
    age_high INTEGER NOT NULL,
    factor TEXT NOT NULL
);
CREATE TABLE coverages (
    plan_version INTEGER NOT NULL REFERENCES plan_versions(id),
    seq INTEGER NOT NULL,
    item TEXT NOT NULL,
    sum_fen INTEGER NOT NULL
);
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    agency TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    file_name TEXT NOT NULL,
    action TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    outputs TEXT NOT NULL,
    policies TEXT NOT NULL DEFAULT '[]',
    cancelled TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX requests_once ON requests(agency, sha256);
CREATE TABLE outputs (
    agency TEXT NOT NULL,
    name TEXT NOT NULL,
    request_id INTEGER NOT NULL REFERENCES requests(id),
    PRIMARY KEY (agency, name)
);
CREATE TABLE policies (
    policy_no TEXT PRIMARY KEY,
    agency TEXT NOT NULL REFERENCES agencies(code),
    request_id INTEGER NOT NULL REFERENCES requests(id),
    tour_group TEXT NOT NULL,
    region TEXT NOT NULL,
    plan_code TEXT NOT NULL,
    plan_version INTEGER NOT NULL REFERENCES plan_versions(id),
    start_at TEXT NOT NULL,
    days INTEGER NOT NULL,
    end_at TEXT NOT NULL,
    route TEXT NOT NULL DEFAULT '',
    handler TEXT NOT NULL DEFAULT '',
    sales_id TEXT NOT NULL DEFAULT '',
    sales_name TEXT NOT NULL DEFAULT '',
    premium_fen INTEGER NOT NULL,
    insured_count INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('有效', '已撤单')),
    issued_at TEXT NOT NULL,
    cancelled_at TEXT,
    cancel_request_id INTEGER REFERENCES requests(id),
    replaces TEXT NOT NULL DEFAULT '',
    replace_reason TEXT NOT NULL DEFAULT '',
    statement_no TEXT NOT NULL DEFAULT ''
);
CREATE INDEX policies_agency_issued ON policies(agency, issued_at);
CREATE TABLE insured (
    policy_no TEXT NOT NULL REFERENCES policies(policy_no),
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    id_type TEXT NOT NULL,
    id_no TEXT NOT NULL,
    gender TEXT NOT NULL,
    birth TEXT NOT NULL,
    age INTEGER NOT NULL,
    premium_fen INTEGER NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    row INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (policy_no, seq)
);
CREATE TABLE journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    request_id INTEGER REFERENCES requests(id),
    agency TEXT NOT NULL,
    event TEXT NOT NULL,
    ref TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE sequences (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
""",
    ),
    (
        2,
        "journal append-only, insured lookup",
        """
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
CREATE INDEX insured_id ON insured(id_no, id_type);
""",
    ),
    (
        3,
        "what each result showed, to re-render it after a crash",
        """
ALTER TABLE requests ADD COLUMN result TEXT NOT NULL DEFAULT '{}';
""",
    ),
    (
        4,
        "settlement state of policies, policy chains",
        """
ALTER TABLE policies ADD COLUMN settled_at TEXT;
CREATE INDEX policies_replaces ON policies(replaces) WHERE replaces != '';
CREATE INDEX policies_tour_group ON policies(agency, tour_group);
""",
    ),
    (
        5,
        "month-end: statements, payments, invoices, deposits, runs",
        """
CREATE TABLE statements (
    statement_no TEXT PRIMARY KEY,
    agency TEXT NOT NULL REFERENCES agencies(code),
    plan_code TEXT NOT NULL,
    plan_name TEXT NOT NULL,
    month TEXT NOT NULL,
    created_at TEXT NOT NULL,
    total_fen INTEGER NOT NULL,
    policy_count INTEGER NOT NULL,
    insured_count INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('待确认', '已确认', '已缴费', '已开票')),
    channel TEXT NOT NULL DEFAULT '',
    confirmed_by TEXT NOT NULL DEFAULT '',
    confirmed_at TEXT,
    paid_fen INTEGER,
    payment_ref TEXT NOT NULL DEFAULT '',
    paid_on TEXT,
    invoice_no TEXT NOT NULL DEFAULT '',
    invoiced_on TEXT,
    request_id INTEGER REFERENCES requests(id),
    run_id INTEGER REFERENCES month_end_runs(id)
);
CREATE INDEX statements_agency ON statements(agency, month);
CREATE INDEX policies_statement ON policies(statement_no) WHERE statement_no != '';
CREATE TABLE deposits (
    receipt_no TEXT PRIMARY KEY,
    agency TEXT NOT NULL REFERENCES agencies(code),
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    received_on TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    request_id INTEGER REFERENCES requests(id),
    refunded_on TEXT,
    refund_ref TEXT NOT NULL DEFAULT '',
    refund_request_id INTEGER REFERENCES requests(id)
);
CREATE TABLE month_end_runs (
    id INTEGER PRIMARY KEY,
    month TEXT NOT NULL,
    trigger TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    created INTEGER NOT NULL DEFAULT 0,
    waiting INTEGER NOT NULL DEFAULT 0,
    summary TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX month_end_runs_month ON month_end_runs(month, id);
""",
    ),
    (
        6,
        "the lookup page finds a person on a policy by one index",
        """
CREATE INDEX insured_lookup ON insured(id_no, id_type, policy_no);
DROP INDEX insured_id;
""",
    ),
    (
        7,
        "result names of the files in hand, whichever worker claimed them",
        """
CREATE TABLE result_names (
    agency TEXT NOT NULL,
    stem TEXT NOT NULL,
    reserved_at TEXT NOT NULL,
    PRIMARY KEY (agency, stem)
);
""",
    ),
    (
        8,
        "the workers sharing the ledger, for watcher status",
        """
CREATE TABLE workers (
    name TEXT PRIMARY KEY,
    command TEXT NOT NULL,
    started_at TEXT NOT NULL
);
""",
    ),
    # SQLite has one writer at a time: its sequence rows stay. PostgreSQL numbers from sequences of
    # its own, which no transaction holds locked until it commits (see POSTGRES_ONLY).
    (9, "numbers on PostgreSQL from its own sequences: no worker waits for another's commit", ""),
    (
        10,
        "one-off chores a new release does once (pages of policies voided before it)",
        """
CREATE TABLE chores (
    name TEXT PRIMARY KEY,
    done_at TEXT NOT NULL
);
""",
    ),
    (
        11,
        "supplementary statements: business recorded late for a month already settled",
        """
ALTER TABLE statements ADD COLUMN supplements TEXT NOT NULL DEFAULT '';
""",
    ),
    (
        12,
        "a statement keeps its agency's name as it was when the statement was made",
        """
ALTER TABLE statements ADD COLUMN agency_name TEXT NOT NULL DEFAULT '';
""",
    ),
    (
        13,
        "the ledger's own id, which the root records (ledger.identity): a start on another ledger is refused",
        """
CREATE TABLE desk (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
""",
    ),
]

LATEST = MIGRATIONS[-1][0]

# What the ledger numbers: policies (保单号) and statements (对账单号), each a ledger-wide sequence.
NUMBERED = ("policy", "statement")
NUMBER_WORDS = {"policy": "保单", "statement": "对账单"}  # each sequence as messages name it (…流水号)

# Where PostgreSQL needs its own words for a migration (SQLite's triggers are not PostgreSQL's).
POSTGRES_ONLY: dict[int, list[str]] = {
    2: [
        "CREATE OR REPLACE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'journal is append-only'; END $$",
        "CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal FOR EACH ROW EXECUTE FUNCTION journal_append_only()",
        "CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal FOR EACH ROW EXECUTE FUNCTION journal_append_only()",
        "CREATE INDEX insured_id ON insured(id_no, id_type)",
    ],
    9: [f"CREATE SEQUENCE number_{name} MINVALUE 1" for name in NUMBERED]
    + [
        "SELECT setval('number_' || name, value) FROM sequences WHERE value > 0",
        "DROP TABLE sequences",
    ],
}


def _void_pages_chore(db, now_text: str) -> None:
    """Only a ledger that already holds void policies has pages to bring up to date (service.process)."""
    if db.execute("SELECT 1 FROM policies WHERE status = '已撤单' LIMIT 1").fetchone() is None:
        db.execute("INSERT INTO chores VALUES ('void-pages', ?)", (now_text,))


def _statement_agency_names(db, now_text: str) -> None:
    """Statements made before the name was kept: the agency's name as the journal had it when each was made
    (its last 机构 record before the statement's), else as it is now."""
    names: dict[str, list[tuple[int, str]]] = {}
    for jid, code, detail in db.execute(
        "SELECT id, ref, detail FROM journal WHERE event IN ('agency.registered', 'agency.updated') ORDER BY id"
    ).fetchall():
        try:
            names.setdefault(code, []).append((jid, str(json.loads(detail)["name"])))
        except (ValueError, KeyError, TypeError):
            continue
    made = dict(db.execute("SELECT ref, id FROM journal WHERE event = 'statement.created'").fetchall())
    now = dict(db.execute("SELECT code, name FROM agencies").fetchall())
    for number, agency in db.execute("SELECT statement_no, agency FROM statements").fetchall():
        at = made.get(number)
        then = [name for jid, name in names.get(agency, []) if at is not None and jid < at]
        db.execute(
            "UPDATE statements SET agency_name = ? WHERE statement_no = ?",
            (then[-1] if then else now.get(agency, ""), number),
        )


# Steps in Python after a migration's SQL, in the same transaction.
AFTER: dict[int, Callable[[Any, str], None]] = {10: _void_pages_chore, 12: _statement_agency_names}
MIGRATION_LOCK = 7_411_001  # PostgreSQL advisory lock: one worker migrates at a time


def current_version(db) -> int:
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    row = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return row[0] or 0


def migrate(db, now_text: str, upto: int = LATEST) -> list[int]:
    """Apply every migration newer than the ledger's version, each in its own transaction. Workers that
    start together take turns (SQLite: the write lock; PostgreSQL: an advisory lock)."""
    applied: list[int] = []
    version = current_version(db)
    if version > LATEST:
        # A worker of an older release on a ledger a newer one has brought forward (a rolling upgrade of
        # several hosts): it would write what the newer schema no longer has. It stops instead.
        raise LedgerError(
            f"账本已由更新版本的 watcher 升级到第 {version} 版，本机的 watcher 只认识到第 {LATEST} 版。"
            "请先把本机的 watcher 升级到与其他主机相同的版本，再启动"
        )
    if version >= upto:
        return applied
    for version, name, sql in MIGRATIONS:
        if version > upto:
            continue
        db.begin()
        try:
            if db.backend == "postgresql":
                db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            if version <= current_version(db):
                db.execute("ROLLBACK")
                continue
            for statement in statements_for(db.backend, version, sql):
                db.execute(statement)
            if version in AFTER:
                AFTER[version](db, now_text)
            db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, now_text))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


def statements_for(backend: str, version: int, sql: str) -> list[str]:
    """One description, two databases: SQLite runs it as written; PostgreSQL gets 64-bit integers
    (money is BIGINT fen), identity keys, and foreign keys added once every table of the step exists."""
    if backend != "postgresql":
        return [s for s in _statements(sql) if s.strip()]
    if version in POSTGRES_ONLY:
        return POSTGRES_ONLY[version]
    out, foreign = [], []
    for statement in _statements(sql):
        if not statement.strip():
            continue
        statement = re.sub(
            r"INTEGER PRIMARY KEY( AUTOINCREMENT)?", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement
        )
        statement = re.sub(r"\bINTEGER\b", "BIGINT", statement)
        statement = re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement)
        table = re.match(r"\s*CREATE TABLE (\w+)", statement)
        if table:

            def lift(m, table=table.group(1)):  # noqa: B008
                foreign.append(
                    f"ALTER TABLE {table} ADD FOREIGN KEY ({m.group(1)}) REFERENCES {m.group(3)}({m.group(4)})"
                )
                return m.group(1) + m.group(2)

            statement = re.sub(r"(\w+)( [^,\n]*?) REFERENCES (\w+)\((\w+)\)", lift, statement)
        out.append(statement.rstrip().rstrip(";"))
    return out + foreign


def _statements(sql: str) -> list[str]:
    """Split on ';' at line ends, keeping trigger bodies (BEGIN … END;) whole."""
    out, buf = [], []
    for line in sql.strip().splitlines():
        buf.append(line)
        text = "\n".join(buf).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            out.append(text)
            buf = []
    if buf:
        out.append("\n".join(buf))
    return out
