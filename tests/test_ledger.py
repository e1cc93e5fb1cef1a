"""The ledger on a real SQLite file: migrations, transactions, numbering, the append-only journal."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from helpers import LEDGER_NOW, ZONE, ledger_policy, ledger_query, ledger_rows, run_watcher

from watcher.demo import DEMO_AGENCY, DEMO_PLANS
from watcher.domain.policy import POLICY_NO_PATTERN
from watcher.ledger import Ledger, LedgerError
from watcher.ledger.schema import LATEST, migrate
from watcher.ledger.sqlite import SqliteDatabase


@pytest.fixture
def ledger(tmp_path, ledger_backend):
    """On the backend of the run: with --ledger=postgresql, the test's own schema."""
    import os

    ledger = Ledger(os.environ.get("WATCHER_LEDGER_URL") or tmp_path / "ledger.sqlite3", ZONE, now=LEDGER_NOW)
    with ledger.atomic():
        for plan in DEMO_PLANS:
            ledger.add_plan_version(plan, request_id=None, at=LEDGER_NOW)
        ledger.save_agency(DEMO_AGENCY, request_id=None, at=LEDGER_NOW)
    yield ledger
    ledger.close()


def test_settings_of_the_connection(ledger):
    if ledger.backend == "postgresql":  # money and counts are 64-bit there
        types = dict(
            ledger.conn.execute(
                "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
            ).fetchall()
        )
        assert (
            types["policies.premium_fen"] == types["statements.total_fen"] == types["insured.premium_fen"] == "bigint"
        )
        return
    assert ledger.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ledger.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert ledger.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_an_older_ledger_is_brought_forward(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = SqliteDatabase(path)
    migrate(db, LEDGER_NOW.isoformat(), upto=1)
    assert db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == 1
    db.close()
    ledger = Ledger(path, ZONE, now=LEDGER_NOW)
    versions = [v for (v,) in ledger.conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, LATEST + 1))
    triggers = {n for (n,) in ledger.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert {"journal_no_update", "journal_no_delete"} <= triggers
    ledger.close()


def test_a_ledger_brought_forward_by_a_newer_release_is_refused_not_written(root):
    """Several hosts upgraded one by one: a worker of the older release stops with a message rather than
    write what the newer schema no longer has."""
    ledger_query(root, "INSERT INTO schema_migrations VALUES (?, ?, ?)", (LATEST + 1, "from a newer release", "x"))
    before = ledger_rows(root)
    for command in ("process", "serve", "month-end"):
        done = run_watcher(root, command, check=False)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert f"升级到第 {LATEST + 1} 版" in done.stderr and f"只认识到第 {LATEST} 版" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert ledger_rows(root) == before


def test_the_journal_is_append_only(ledger):
    with pytest.raises(ledger.db.Error):
        ledger.conn.execute("UPDATE journal SET event = 'x'")
    with pytest.raises(ledger.db.Error):
        ledger.conn.execute("DELETE FROM journal")


def test_a_failed_block_leaves_nothing_and_numbers_are_unique(ledger):
    version = ledger.plan("GN-A").version
    counts = ledger.counts()
    with pytest.raises(RuntimeError):
        with ledger.atomic():
            rid = ledger.record_request(
                agency="GZ001", sha256="a" * 64, file_name="x.xlsx", action="投保", at=LEDGER_NOW, outputs=[]
            )
            ledger.issue_policy(ledger_policy(version), request_id=rid)
            raise RuntimeError("crash before commit")
    assert ledger.counts() == counts
    numbers = []
    for i in range(3):
        with ledger.atomic():
            rid = ledger.record_request(
                agency="GZ001", sha256=f"{i}" * 64, file_name="x.xlsx", action="投保", at=LEDGER_NOW, outputs=[]
            )
            numbers.append(ledger.issue_policy(ledger_policy(version), request_id=rid))
    assert len(set(numbers)) == 3 and all(re.match(POLICY_NO_PATTERN, n) for n in numbers)
    assert numbers[0].startswith("LY20261125")


def test_numbers_used_and_carried_on_from_another_ledger(ledger):
    version = ledger.plan("GN-A").version
    assert ledger.numbers_used() == {"policy": 0, "statement": 0}
    with ledger.atomic():
        rid = ledger.record_request(
            agency="GZ001", sha256="a" * 64, file_name="x.xlsx", action="投保", at=LEDGER_NOW, outputs=[]
        )
        ledger.issue_policy(ledger_policy(version), request_id=rid)
    assert ledger.numbers_used() == {"policy": 1, "statement": 0}
    with ledger.atomic():  # as `migrate` does with the numbers of the ledger it copies
        ledger.continue_numbers({"policy": 41, "statement": 7})
    assert ledger.numbers_used() == {"policy": 41, "statement": 7}
    with ledger.atomic():
        rid = ledger.record_request(
            agency="GZ001", sha256="b" * 64, file_name="x.xlsx", action="投保", at=LEDGER_NOW, outputs=[]
        )
        assert ledger.issue_policy(ledger_policy(version), request_id=rid).endswith("0000042")
    with pytest.raises(LedgerError):
        ledger.continue_numbers({"policy": 50})  # outside a transaction
    with ledger.atomic():  # from a ledger that has numbered nothing yet
        ledger.continue_numbers({"policy": 0, "statement": 0})
    assert ledger.numbers_used() == {"policy": 0, "statement": 0}


def test_a_roster_larger_than_one_statement_holds_is_stored_whole(ledger):
    """6,000 people: more parameters than PostgreSQL takes in one INSERT, and more ID numbers than one
    overlap query asks about."""
    version = ledger.plan("GN-A").version
    base = ledger_policy(version)
    people = tuple(
        replace(base.people[0], name=f"旅客{i}", id_no=f"ID{i:06d}", premium_fen=700 + i % 3, row=i + 2)
        for i in range(6000)
    )
    policy = replace(base, people=people, premium_fen=sum(p.premium_fen for p in people))
    with ledger.atomic():
        rid = ledger.record_request(
            agency="GZ001", sha256="b" * 64, file_name="大团.xlsx", action="投保", at=LEDGER_NOW, outputs=[]
        )
        number = ledger.issue_policy(policy, request_id=rid)
    stored = ledger.policy(number, agency="GZ001")
    assert [(p.name, p.id_no, p.premium_fen, p.row) for p in stored.people] == [
        (p.name, p.id_no, p.premium_fen, p.row) for p in people
    ]
    found = ledger.live_overlaps("GZ001", [("身份证", p.id_no) for p in people], base.start, base.end)
    assert sorted(o.id_no for o in found) == sorted(p.id_no for p in people)


def test_writes_outside_a_transaction_are_refused(ledger):
    with pytest.raises(LedgerError):
        ledger.save_agency(DEMO_AGENCY, request_id=None, at=LEDGER_NOW)


def test_the_same_bytes_of_one_agency_are_recorded_once(ledger):
    with ledger.atomic():
        ledger.record_request(
            agency="GZ001", sha256="b" * 64, file_name="x.xlsx", action="投保", at=LEDGER_NOW, outputs=[]
        )
    with pytest.raises(ledger.db.IntegrityError):
        with ledger.atomic():
            ledger.record_request(
                agency="GZ001", sha256="b" * 64, file_name="y.xlsx", action="投保", at=LEDGER_NOW, outputs=[]
            )


def test_a_policy_is_seen_only_by_its_own_agency(ledger):
    version = ledger.plan("GN-A").version
    with ledger.atomic():
        rid = ledger.record_request(
            agency="GZ001", sha256="c" * 64, file_name="x.xlsx", action="投保", at=LEDGER_NOW, outputs=[]
        )
        number = ledger.issue_policy(ledger_policy(version), request_id=rid)
    assert ledger.policy(number, agency="GZ001").people[0].name == "张三"
    assert ledger.policy(number, agency="SZ002") is None


def test_plan_versions_keep_their_prices(ledger):
    first = ledger.plan("GN-A")
    with ledger.atomic():
        ledger.add_plan_version(replace(DEMO_PLANS[0], name="新名"), request_id=None, at=LEDGER_NOW)
    assert ledger.plan("GN-A").name == "新名" and ledger.plan("GN-A").version != first.version
    assert ledger.plan_version(first.version).name == first.name


def test_statements_made_before_names_were_kept_take_the_name_their_agency_had_then(tmp_path):
    """Migration 12: a statement gets its agency's name from the journal's last 机构 record before it was
    made (renamed since: the old name), else the name now."""
    path = tmp_path / "old.sqlite3"
    db = SqliteDatabase(path)
    migrate(db, LEDGER_NOW.isoformat(), upto=11)
    db.begin()
    db.execute(
        "INSERT INTO agencies (code, name, status, created_at, updated_at) VALUES ('GZ001', '新名', '合作中', 'x', 'x')"
    )
    db.execute(
        "INSERT INTO agencies (code, name, status, created_at, updated_at) VALUES ('SZ002', '深圳社', '合作中', 'x', 'x')"
    )
    journal = [
        ("GZ001", "agency.registered", "GZ001", '{"name": "旧名"}'),
        ("GZ001", "statement.created", "S1", "{}"),
        ("GZ001", "agency.updated", "GZ001", '{"name": "新名"}'),
        ("GZ001", "statement.created", "S2", "{}"),
        ("SZ002", "statement.created", "S3", "{}"),  # no 机构 record before it: the name now
    ]
    for agency, event, ref, detail in journal:
        db.execute(
            "INSERT INTO journal (at, agency, event, ref, detail) VALUES ('x', ?, ?, ?, ?)",
            (agency, event, ref, detail),
        )
    for number, agency in (("S1", "GZ001"), ("S2", "GZ001"), ("S3", "SZ002")):
        db.execute(
            "INSERT INTO statements (statement_no, agency, plan_code, plan_name, month, created_at, total_fen,"
            " policy_count, insured_count, status) VALUES (?, ?, 'GN-A', 'A', '2026-11', 'x', 0, 0, 0, '待确认')",
            (number, agency),
        )
    db.execute("COMMIT")
    db.close()
    ledger = Ledger(path, ZONE, now=LEDGER_NOW)
    names = dict(ledger.conn.execute("SELECT statement_no, agency_name FROM statements").fetchall())
    ledger.close()
    assert names == {"S1": "旧名", "S2": "新名", "S3": "深圳社"}


def test_check_beside_a_worker_reads_the_ledger_in_one_snapshot(root, ledger_backend):
    """`watcher check` run while workers issue (cron, monitoring): its queries, one by one, saw a policy
    committed between the journal's and the policies' and said 保单 … 在流水中没有出单记录, exit 1, "hand this to
    the technical staff". Read in one snapshot, the desk as it was is consistent."""
    from helpers import issue_fields, people, write_request

    from watcher import commands
    from watcher.layout import Layout
    from watcher.ledger.check import check_ledger
    from watcher.settings import load_settings

    write_request(root / "workbooks" / "GZ001" / "一.xlsx", issue_fields(), people(2))
    run_watcher(root, "process")
    write_request(root / "workbooks" / "GZ001" / "二.xlsx", issue_fields(旅行团号="T2"), people(4)[2:])

    class Meanwhile:
        """The ledger's connection; a worker commits 二 right after the journal is read."""

        def __init__(self, db):
            self.db, self.pending = db, True

        def execute(self, sql, *args):
            cursor = self.db.execute(sql, *args)
            if self.pending and "FROM journal ORDER BY id" in sql:
                rows, self.pending = cursor.fetchall(), False
                run_watcher(root, "process")
                return rows
            return cursor

        def __getattr__(self, name):
            return getattr(self.db, name)

    ledger = commands._open(Layout(root), load_settings(root), create=False)
    try:
        ledger.conn = Meanwhile(ledger.conn)
        found = check_ledger(ledger)
        assert not ledger.conn.pending, "the worker committed during the check"
    finally:
        ledger.conn = ledger.conn.db
        ledger.close()
    assert found == [], [d.message for d in found]
    assert ledger_query(root, "SELECT COUNT(*) FROM policies") == [(2,)]
