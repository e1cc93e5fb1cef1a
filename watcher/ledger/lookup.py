"""What the self-service lookup page reads: the ledger opened read-only (the service may be writing it),
and the failed-lookup counts of clients in a small database of their own beside it.

One connection per thread; every lookup is one indexed query that either finds the person on that
policy with that ID type and number, or finds nothing: an unknown policy, a wrong number, a wrong
type and a person not on the policy take the same path.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime

from ..domain.idcard import typed_alike
from ..domain.plans import Coverage
from ..domain.policy import ACTIVE, CANCELLED, Insured, Policy, Replacement
from ..domain.throttle import ClientState
from .common import (
    POLICY_SELECT,
    chain,
    from_text,
    issued_from,
    policy_from_row,
)
from .db import is_url
from .postgresql import PostgresDatabase


@dataclass(frozen=True)
class Found:
    policy: Policy
    person: Insured
    coverages: tuple[Coverage, ...]
    agency_name: str
    replacement: Replacement | None = None  # a void policy: the one that replaces it now
    on_replacement: bool = False  # whether this person is on that one (减人 and 换人 leave people out)
    # A 信息变更 replaced it and this person's ID is not on the new one, nor can they be matched to someone
    # whose ID it corrected: the page names the new policy and asks for the corrected ID, it tells them
    # neither that they are covered nor that they are not.
    unsure: bool = False
    # On the replacement under an ID a 信息变更 corrected: looked up there by the ID typed, they would not be
    # found, so the page asks for the corrected one.
    id_corrected: bool = False


INFO_CHANGE = "信息变更"

_FIND = (
    POLICY_SELECT.replace("SELECT ", "SELECT i.name, i.id_type, i.id_no, i.gender, i.birth, i.age, i.premium_fen, ", 1)
    + " JOIN insured i ON i.policy_no = p.policy_no WHERE p.policy_no = ? AND i.id_no = ? AND i.id_type = ?"
)


IDLE_CHECK = 1.0  # seconds a pooled PostgreSQL connection may idle before it is tried (a round trip)


class Connections:
    """Connections for the web threads: one per thread on SQLite; on PostgreSQL a small pool per process
    (several processes on several hosts must stay well within the server's max_connections)."""

    def __init__(self, target, *, readonly: bool, pool: int = 3, setup: str = ""):
        self.target, self.readonly, self.size = target, readonly, pool
        self.setup = setup  # the lock-out table made where it is missing
        self.made_setup = False
        self.local = threading.local()
        self.idle: queue.LifoQueue = queue.LifoQueue()
        self.made = 0
        self.lock = threading.Lock()
        # SQLite: a file changed under the connections (a backup copied into place, its -wal and -shm
        # removed) raises the generation, and each thread opens the file anew at its next lookup: one that
        # kept the old -shm mapped kept answering from what the file held before (a policy the backup lacks,
        # 有效), the thread that saw the change alone was not enough. (A connection is closed by its own
        # thread only: closed under another thread's query, SQLite crashes the process.)
        self.generation = 0

    def _new(self):
        if is_url(self.target):
            conn = PostgresDatabase(self.target)
            conn.execute("SELECT set_config('application_name', 'watcher web', false)").fetchone()
            if self.readonly:
                conn.execute("SET default_transaction_read_only = on")
            elif self.setup and not self.made_setup:  # once a process: the table lives in the ledger database
                conn.execute(self.setup)
                self.made_setup = True
            return conn
        if self.readonly:
            conn = sqlite3.connect(f"file:{self.target}?mode=ro", uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
        else:
            conn = sqlite3.connect(str(self.target), isolation_level=None, check_same_thread=False, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # a lost lock-out after a power cut is harmless
        if self.setup:
            conn.execute(self.setup)  # each connection: a file deleted under the page is made again
        return conn

    def _file(self) -> tuple[int, int, int] | None:
        """The file at the ledger's name (device, inode) and its -shm's inode (0: none)."""
        try:
            st = os.stat(self.target)
        except OSError:
            return None
        try:
            shm = os.stat(f"{self.target}-shm").st_ino
        except OSError:
            shm = 0
        return st.st_dev, st.st_ino, shm

    def _drop(self) -> None:
        """Forget this thread's connection before closing it: one closed and kept (the reopening failed) was
        reused for ever once the same file came back under the name."""
        conn, self.local.conn, self.local.file = getattr(self.local, "conn", None), None, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    @contextmanager
    def connection(self):
        if not is_url(self.target):
            # A file replaced under the page (a ledger restored by moving a copy into place, the lock-out
            # file deleted to lift a lock-out): a connection keeps reading the file it opened, now gone, so
            # each thread opens the file now at that name (a stat a lookup).
            conn, opened, now = getattr(self.local, "conn", None), getattr(self.local, "file", None), self._file()
            if conn is not None and (opened != now or getattr(self.local, "generation", -1) != self.generation):
                if opened != now and opened is not None and now is not None and opened[:2] == now[:2]:
                    with self.lock:  # the same file, its -shm gone or another: every connection's view is old
                        self.generation += 1
                self._drop()
                conn = None
            if conn is None:
                conn = self._new()  # the file gone: raises, and the next lookup tries again
                # Read once first: the -shm it maps exists from then on. Taken before (no -shm yet), the file's
                # identity was the same after a copy went in over it and its -shm was removed, and this
                # connection went on answering from the old mapping.
                try:
                    conn.execute("PRAGMA schema_version").fetchone()
                except sqlite3.Error:
                    conn.close()
                    raise
                self.local.conn, self.local.file = conn, self._file()
                self.local.generation = self.generation
            try:
                yield conn
            except sqlite3.Error:
                # A connection that failed (its file moved away and back, damaged, closed) is not kept: the
                # thread's next lookup opens the file anew, and the page comes back once the file is whole.
                self._drop()
                raise
            return
        try:
            conn, since = self.idle.get_nowait()
        except queue.Empty:
            with self.lock:
                fresh = self.made < self.size
                self.made += fresh
            try:
                conn, since = (self._new(), None) if fresh else self.idle.get()
            except BaseException:
                with self.lock:
                    self.made -= fresh
                raise
        if since is not None and time.monotonic() - since > IDLE_CHECK:
            conn = self._alive(conn)
        try:
            yield conn
        except BaseException:
            try:
                conn.execute("ROLLBACK")
                self.idle.put((conn, time.monotonic()))
            except Exception:  # a broken connection is dropped; a new one is made next time
                with self.lock:
                    self.made -= 1
            raise
        else:
            self.idle.put((conn, time.monotonic()))

    def _alive(self, conn):
        """A pooled connection idle a while, tried before a lookup: one the server dropped meanwhile (a
        restart, a failover) is replaced now, not met by a traveller as 503 once for each in the pool."""
        try:
            conn.execute("SELECT 1").fetchone()
            return conn
        except Exception:
            with suppress(Exception):
                conn.close()
        try:
            return self._new()
        except BaseException:
            with self.lock:
                self.made -= 1
            raise


@dataclass(frozen=True)
class RunKey:
    month: date
    trigger: str
    started_at: datetime


class LookupLedger:
    """Read-only access to the ledger for the lookup page (a SQLite file or a postgresql:// URL)."""

    def __init__(self, target):
        self.target = target
        self.connections = Connections(target, readonly=True)

    def identity(self) -> tuple[int, int, int] | None:
        """The SQLite file now at the ledger's name (device, inode): another file moved into place (a backup
        restored) has another. None on PostgreSQL, or where there is no file."""
        return None if is_url(self.target) else self.connections._file()

    def whose(self, root) -> tuple[str | None, str]:
        """The ledger's id (None: one from before ids) and where it lives (identity.location): whether it is
        the root's ledger (a mistyped address served another desk's travellers, or a copy restored elsewhere
        behind the numbers since, and told them 未查到)."""
        from .identity import id_in, location

        pg = is_url(self.target)
        with self.connections.connection() as conn:
            return id_in(conn, postgresql=pg), location(self.target, root, conn if pg else None)

    def close(self) -> None:
        """Close what this thread holds (SQLite) and the idle pool (PostgreSQL)."""
        self.connections._drop()
        while True:
            try:
                conn, _ = self.connections.idle.get_nowait()
            except queue.Empty:
                return
            with suppress(Exception):
                conn.close()

    def ping(self) -> None:
        """Read the ledger once (raises as a lookup would when it cannot): for /healthz."""
        with self.connections.connection() as conn:
            conn.execute("SELECT 1 FROM policies LIMIT 1").fetchall()

    def find(self, policy_no: str, id_type: str, id_no: str) -> Found | None:
        with self.connections.connection() as conn:
            return self._find(conn, policy_no, id_type, id_no)

    def effective_request(self, agency: str, sha256: str) -> tuple | None:
        """A row when the ledger holds a request of these bytes from this agency, else None (as
        Ledger.effective_request answers recovering.unheld)."""
        with self.connections.connection() as conn:
            return conn.execute("SELECT 1 FROM requests WHERE agency = ? AND sha256 = ?", (agency, sha256)).fetchone()

    def holds_request(self, agency: str, sha256: str) -> bool:
        return self.effective_request(agency, sha256) is not None

    def runs(self) -> list[RunKey]:
        """The month-end runs the ledger holds, as recovering.unheld reads them."""
        from datetime import date

        with self.connections.connection() as conn:
            rows = conn.execute("SELECT month, trigger, started_at FROM month_end_runs").fetchall()
        return [RunKey(date.fromisoformat(m + "-01"), t, from_text(s)) for m, t, s in rows]

    def numbers_used(self) -> dict[str, int]:
        """The highest number of each sequence the ledger has handed out (as Ledger.numbers_used)."""
        from .schema import NUMBERED

        with self.connections.connection() as conn:
            if is_url(self.target):
                rows = conn.execute(
                    " UNION ALL ".join(
                        f"SELECT '{name}', CASE WHEN is_called THEN last_value ELSE 0 END FROM number_{name}"
                        for name in NUMBERED
                    )
                ).fetchall()
            else:
                rows = conn.execute("SELECT name, value FROM sequences").fetchall()
        used = dict(rows)
        return {name: int(used.get(name, 0)) for name in NUMBERED}

    def _find(self, conn, policy_no: str, id_type: str, id_no: str) -> Found | None:
        row = conn.execute(_FIND, (policy_no, id_no, id_type)).fetchone()
        if row is None:
            return None
        person = _insured(row)  # (its first columns are _PERSON's)
        policy = policy_from_row(row[7:])
        covers = tuple(
            Coverage(i, s)
            for i, s in conn.execute(
                "SELECT item, sum_fen FROM coverages WHERE plan_version = ? ORDER BY seq", (policy.plan_version,)
            )
        )
        name = conn.execute("SELECT name FROM agencies WHERE code = ?", (policy.agency,)).fetchone()
        head, on_head, unsure, corrected = None, False, False, False
        if policy.status == CANCELLED:
            head, on_head, unsure, corrected = where_now(conn, policy.policy_no, person)
        return Found(policy, person, covers, name[0] if name else "", head, on_head, unsure, corrected)


def where_now(
    conn, policy_no: str, person: Insured, steps: list[tuple] | None = None
) -> tuple[Replacement | None, bool, bool, bool]:
    """Where a person of a void policy stands now: (the policy that replaces it, whether they are on that
    one, unsure, on it under an ID a 信息变更 corrected). The lookup page and the void policy's own page
    (which names those left out) both ask this, so they never say different things. `steps`: chain(conn,
    policy_no), where the caller has it."""
    steps = chain(conn, policy_no) if steps is None else steps
    if not steps:
        return None, False, False, False
    head = Replacement(*steps[-1][:3])
    on_head, unsure, corrected, who = _follow(conn, policy_no, steps, person)
    if not on_head:
        # Left out of the replacement, but on another live policy issued from this one (a 加人 after a
        # 减人 took them off): that one covers them, and the page says so instead, under their ID as typed
        # or as a 信息变更 on the way corrected it. Only a policy of this chain: another trip of the same
        # tour group replaced nothing.
        descendants = issued_from(conn, policy_no)
        if descendants:
            marks = ",".join("?" * len(descendants))
            for typed in dict.fromkeys([(person.id_type, person.id_no), (who.id_type, who.id_no)]):
                row = conn.execute(
                    "SELECT p.policy_no, p.status, p.end_at FROM insured i JOIN policies p"
                    " ON p.policy_no = i.policy_no"
                    f" WHERE i.id_no = ? AND i.id_type = ? AND p.status = ? AND p.policy_no IN ({marks})"
                    " ORDER BY p.issued_at DESC, p.policy_no DESC LIMIT 1",
                    (typed[1], typed[0], ACTIVE, *descendants),
                ).fetchone()
                if row is not None:
                    head, on_head = Replacement(row[0], row[1], from_text(row[2])), True
                    corrected = typed != (person.id_type, person.id_no)
                    break
    # A 信息变更 this person cannot be told apart in: neither "you are on it" nor "you are not".
    return head, on_head, unsure and not on_head, corrected


# The people of one policy whose ID is not on another: those a 信息变更 took off (or whose ID it corrected),
# and those it put on (or under a corrected ID), counted by one of their facts.
_ONLY_ON = (
    "SELECT COUNT(*) FROM insured a WHERE a.policy_no = ? AND {fact} AND NOT EXISTS"
    " (SELECT 1 FROM insured b WHERE b.policy_no = ? AND b.id_no = a.id_no AND b.id_type = a.id_type)"
)


def _follow(conn, first: str, steps: list[tuple], person: Insured) -> tuple[bool, bool, bool, Insured]:
    """The person down the chain of replacements, step by step: (on its last policy, unsure, on it under
    another ID than the one typed). They stay on
    by their ID, or, at a 信息变更, under the ID it corrected (followed from there on). Where they fall off
    says why: at a 信息变更 that cannot tell them apart it is unsure; at a 减人 or 换人 they were left out
    (a 换人 after a 信息变更 told them to look again under a corrected ID that never was)."""
    prev, who = first, person
    for step in steps:
        number, reason = step[0], step[3]
        if _holds(conn, number, who.id_no, who.id_type):
            prev = number
            continue
        moved = _corrected(conn, prev, number, who) if reason == INFO_CHANGE else None
        if moved is None:
            # Unsure only where the 信息变更 brought someone in (whose ID it may have corrected); one that only
            # left people out left this one out.
            brought = reason == INFO_CHANGE and _brings_anyone(conn, number, prev)
            return False, brought, False, who
        prev, who = number, moved
    return True, False, (who.id_type, who.id_no) != (person.id_type, person.id_no), who


def _brings_anyone(conn, new: str, old: str) -> bool:
    """Whether `new` has anyone whose ID `old` lacks."""
    return (
        conn.execute(
            "SELECT 1 FROM insured a WHERE a.policy_no = ? AND NOT EXISTS (SELECT 1 FROM insured b"
            " WHERE b.policy_no = ? AND b.id_no = a.id_no AND b.id_type = a.id_type) LIMIT 1",
            (new, old),
        ).fetchone()
        is not None
    )


def _corrected(conn, old: str, new: str, person: Insured) -> Insured | None:
    """Whether a 信息变更 that replaced `old` by `new` corrected this person's ID (number or type; the ID
    typed is the one the old policy had): on `new`, under another ID, the same person by name and birth date;
    or the only person whose ID the change brought in with their name (a typo in the number's birth digits
    changes the birth date too), where they are the only one it took off with that name. Anyone else is
    told neither way (Found.unsure). The person as `new` has them, or None."""
    # Someone the change brought in (their ID not on the old policy): a namesake born the same day who was on
    # the old policy all along is another traveller, and the one dropped was told they were on the new one.
    row = conn.execute(
        _PERSON + " a WHERE a.policy_no = ? AND a.name = ? AND a.birth = ? AND NOT EXISTS (SELECT 1 FROM insured b"
        " WHERE b.policy_no = ? AND b.id_no = a.id_no AND b.id_type = a.id_type)",
        (new, person.name, person.birth.isoformat(), old),
    ).fetchone()
    if row is not None:
        return _insured(row)
    # By name alone (a birth date and gender are shared by too many: someone else put on in their place
    # would pass for them, and be told they are covered).
    query = _ONLY_ON.format(fact="a.name = ?")
    added = conn.execute(query, (new, person.name, old)).fetchone()[0]
    if added != 1 or conn.execute(query, (old, person.name, new)).fetchone()[0] != 1:
        return None
    row = conn.execute(
        _PERSON + " a WHERE a.policy_no = ? AND a.name = ? AND NOT EXISTS (SELECT 1 FROM insured b"
        " WHERE b.policy_no = ? AND b.id_no = a.id_no AND b.id_type = a.id_type)",
        (new, person.name, old),
    ).fetchone()
    if row is None:
        return None
    found = _insured(row)
    # A namesake under a number nothing like theirs (a common name, another region, birth date and sex) is
    # someone else put on in their place: the one dropped was told they were on the new policy.
    return found if typed_alike(person.id_no, found.id_no) else None


_PERSON = "SELECT name, id_type, id_no, gender, birth, age, premium_fen FROM insured"


def _insured(row: tuple) -> Insured:
    return Insured(row[0], row[1], row[2], row[3], date.fromisoformat(row[4]), row[5], row[6])


def _holds(conn, policy_no: str, id_no: str, id_type: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM insured WHERE id_no = ? AND id_type = ? AND policy_no = ?", (id_no, id_type, policy_no)
        ).fetchone()
        is not None
    )


_THROTTLE_TABLE = (
    "CREATE TABLE IF NOT EXISTS lookup_clients (client TEXT PRIMARY KEY, failures TEXT NOT NULL,"
    " locked_until DOUBLE PRECISION NOT NULL)"
)


class ThrottleStore:
    """The failed lookups of each client and each policy number (keyed `policy:<digest>`), shared by
    every web process of the root: a small SQLite file beside a SQLite ledger, or a table in the
    PostgreSQL ledger (web processes on several hosts share it)."""

    def __init__(self, target):
        self.target = target
        # The table made by each new connection: where the file was deleted (an operator lifting a
        # lock-out), the next lookup starts a new one instead of failing.
        self.connections = Connections(target, readonly=False, setup=_THROTTLE_TABLE)
        # Threads of one process take turns here, so only other processes ever meet SQLite's lock (whose
        # busy handler sleeps in steps of up to 100 ms: that would be the page's tail latency).
        self.writing = threading.Lock()
        with self.connections.connection():
            pass

    def get(self, client: str) -> ClientState:
        with self.connections.connection() as conn:
            return self._read(conn, client)

    @staticmethod
    def _read(conn, client: str) -> ClientState:
        row = conn.execute("SELECT failures, locked_until FROM lookup_clients WHERE client = ?", (client,)).fetchone()
        return ClientState(tuple(json.loads(row[0])), row[1]) if row else ClientState()

    def update(self, client: str, change) -> ClientState:
        """Apply `change(state) -> state` atomically for this client (several processes may race)."""
        return self.update_many({client: change})[client]

    def update_many(self, changes: dict) -> dict:
        """Apply each `change(state) -> state` to its key in one transaction (a failed lookup counts
        against the client and the policy number at once: one write, not two)."""
        with self.writing, self.connections.connection() as conn:
            return self._update(conn, changes)

    def _update(self, conn, changes: dict) -> dict:
        keys = sorted(changes)  # the same order in every process: row locks taken without deadlock
        if is_url(self.target):
            conn.execute("BEGIN")
            for key in keys:
                conn.execute("INSERT INTO lookup_clients VALUES (?, '[]', 0) ON CONFLICT (client) DO NOTHING", (key,))
                conn.execute("SELECT 1 FROM lookup_clients WHERE client = ? FOR UPDATE", (key,))
        else:
            conn.execute("BEGIN IMMEDIATE")
        try:
            states = {key: changes[key](self._read(conn, key)) for key in keys}
            for key, state in states.items():
                conn.execute(
                    "INSERT INTO lookup_clients VALUES (?, ?, ?) ON CONFLICT(client) DO UPDATE SET"
                    " failures = excluded.failures, locked_until = excluded.locked_until",
                    (key, json.dumps(state.failures), state.locked_until),
                )
            conn.execute("COMMIT")
        except BaseException:
            # A COMMIT that failed (a full disk) has already ended the transaction: the ROLLBACK's own
            # complaint ("no transaction is active") would hide why, and the log would blame the ledger.
            with suppress(Exception):
                conn.execute("ROLLBACK")
            raise
        return states

    def probe(self, now: float) -> None:
        """Write once, as recording a failure would (raises where that cannot be done: a full disk, a file
        that cannot be written): the page answers no lookup while its failures cannot be counted."""
        self.update("probe:", lambda _state: ClientState((), now))

    def prune(self, before: float) -> None:
        """Forget clients with nothing recent and no lock: the table stays small. One transaction, so
        thousands of stale rows after an attack cost one commit, not one each."""
        with self.writing, self.connections.connection() as conn:
            rows = conn.execute("SELECT client, failures, locked_until FROM lookup_clients").fetchall()
            # Deleted only if unchanged since read: a failure another process records meanwhile stays.
            stale = [
                (client, failures, locked)
                for client, failures, locked in rows
                if locked < before and all(t < before for t in json.loads(failures))
            ]
            if not stale:
                return
            conn.execute("BEGIN" if is_url(self.target) else "BEGIN IMMEDIATE")
            try:
                for key in stale:
                    conn.execute(
                        "DELETE FROM lookup_clients WHERE client = ? AND failures = ? AND locked_until = ?", key
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
