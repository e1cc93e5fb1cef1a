"""What the self-service lookup page reads: the ledger opened read-only (the service may be writing it),
and the failed-lookup counts of clients in a small database of their own beside it.

One connection per thread; every lookup is one indexed query that either finds the person on that
policy with that ID type and number, or finds nothing: an unknown policy, a wrong number, a wrong
type and a person not on the policy take the same path.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from ..domain.plans import Coverage
from ..domain.policy import Insured, Policy
from ..domain.throttle import ClientState
from .common import _POLICY_SELECT, _dt


@dataclass(frozen=True)
class Found:
    policy: Policy
    person: Insured
    coverages: tuple[Coverage, ...]
    agency_name: str


_FIND = (_POLICY_SELECT.replace("SELECT ", "SELECT i.name, i.id_type, i.id_no, i.gender, i.birth, i.age, i.premium_fen, ", 1)
         + " JOIN insured i ON i.policy_no = p.policy_no WHERE p.policy_no = ? AND i.id_no = ? AND i.id_type = ?")


class LookupLedger:
    """Read-only access to the ledger for the lookup page."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            self.local.conn = conn
        return conn

    def find(self, policy_no: str, id_type: str, id_no: str) -> Found | None:
        from datetime import date

        conn = self._conn()
        row = conn.execute(_FIND, (policy_no, id_no, id_type)).fetchone()
        if row is None:
            return None
        person = Insured(row[0], row[1], row[2], row[3], date.fromisoformat(row[4]), row[5], row[6])
        p = row[7:]
        policy = Policy(policy_no=p[0], agency=p[1], tour_group=p[2], region=p[3], plan_code=p[4], plan_name=p[5],
                        plan_version=p[6], start=_dt(p[7]), days=p[8], end=_dt(p[9]), route=p[10], handler=p[11],
                        sales_id=p[12], sales_name=p[13], premium_fen=p[14], people=(), issued_at=_dt(p[16]),
                        status=p[15], cancelled_at=_dt(p[17]), headcount=p[22])
        covers = tuple(Coverage(i, s) for i, s in conn.execute(
            "SELECT item, sum_fen FROM coverages WHERE plan_version = ? ORDER BY seq", (policy.plan_version,)))
        name = conn.execute("SELECT name FROM agencies WHERE code = ?", (policy.agency,)).fetchone()
        return Found(policy, person, covers, name[0] if name else "")

    def close(self) -> None:
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            conn.close()
            self.local.conn = None


class ThrottleStore:
    """Each client's failed lookups, shared by every web process on this root (SQLite, WAL)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.local = threading.local()
        # Threads of one process take turns here, so only other processes ever meet SQLite's lock (whose
        # busy handler sleeps in steps of up to 100 ms: that would be the page's tail latency).
        self.writing = threading.Lock()
        conn = self._conn()
        conn.execute("CREATE TABLE IF NOT EXISTS lookup_clients (client TEXT PRIMARY KEY, failures TEXT NOT NULL,"
                     " locked_until REAL NOT NULL)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # a lost lock-out after a power cut is harmless
            self.local.conn = conn
        return conn

    def get(self, client: str) -> ClientState:
        row = self._conn().execute("SELECT failures, locked_until FROM lookup_clients WHERE client = ?",
                                   (client,)).fetchone()
        return ClientState(tuple(json.loads(row[0])), row[1]) if row else ClientState()

    def update(self, client: str, change) -> ClientState:
        """Apply `change(state) -> state` atomically for this client (several processes may race)."""
        conn = self._conn()
        with self.writing:
            return self._update(conn, client, change)

    def _update(self, conn: sqlite3.Connection, client: str, change) -> ClientState:
        conn.execute("BEGIN IMMEDIATE")
        try:
            state = change(self.get(client))
            conn.execute("INSERT INTO lookup_clients VALUES (?, ?, ?) ON CONFLICT(client) DO UPDATE SET"
                         " failures = excluded.failures, locked_until = excluded.locked_until",
                         (client, json.dumps(state.failures), state.locked_until))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return state

    def prune(self, before: float) -> None:
        """Forget clients with nothing recent and no lock: the table stays small."""
        conn = self._conn()
        for client, failures, locked in conn.execute("SELECT client, failures, locked_until FROM lookup_clients").fetchall():
            if locked < before and all(t < before for t in json.loads(failures)):
                conn.execute("DELETE FROM lookup_clients WHERE client = ?", (client,))
