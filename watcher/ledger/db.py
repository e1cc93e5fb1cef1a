"""The two databases the ledger runs on, behind one small connection interface.

The ledger's SQL is written once, in the common subset of SQLite and PostgreSQL, with `?` parameters.
On PostgreSQL (psycopg 3) `?` becomes `%s`, sums come back as int rather than Decimal, and `BEGIN
IMMEDIATE` is a plain `BEGIN` (row locks and unique constraints do what SQLite's single writer did).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

POSTGRES = re.compile(r"^postgres(ql)?://", re.I)


def is_url(target: object) -> bool:
    return isinstance(target, str) and bool(POSTGRES.match(target))


def redact(url: str) -> str:
    """A database URL fit for a message: the password hidden."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


class Database:
    """One connection: `execute` with `?` parameters gives rows to fetch or iterate."""

    kind = "sqlite"
    Error: type[Exception] = sqlite3.Error
    IntegrityError: type[Exception] = sqlite3.IntegrityError
    conn: Any

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def begin(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteDatabase(Database):
    def __init__(self, path: Path):
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")  # this is money
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=10000")

    def execute(self, sql: str, args=()):
        return self.conn.execute(sql, args)

    def executemany(self, sql: str, rows) -> None:
        self.conn.executemany(sql, rows)

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        self.conn.close()


class _Rows:
    """A psycopg cursor that hands back ints where PostgreSQL made numerics of sums."""

    def __init__(self, cursor):
        self.cursor = cursor

    @staticmethod
    def _fix(row):
        if row is None:
            return None
        return tuple(int(v) if isinstance(v, Decimal) and v == v.to_integral_value() else v for v in row)

    def fetchone(self):
        return self._fix(self.cursor.fetchone())

    def fetchall(self):
        return [self._fix(r) for r in self.cursor.fetchall()]

    def __iter__(self):
        return (self._fix(r) for r in self.cursor)

    @property
    def rowcount(self) -> int:
        return self.cursor.rowcount


_PLAIN_INSERT = re.compile(r"^\s*(INSERT INTO \w+(?:\s*\([\w, ]+\))?\s+VALUES\s*)(\((?:\?\s*,\s*)*\?\))\s*$", re.S)
_MAX_PARAMS = 65535  # PostgreSQL's limit on one statement's parameters


def _multi_row(insert: str, width: int, rows: int) -> str:
    """`INSERT … VALUES ($1, …), ($n, …)` for `rows` rows of `width` values, in PostgreSQL's own
    placeholders, sent through psycopg's raw cursor. psycopg parses a `%s` query with more than 50
    parameters again on every call (its cache leaves those out): 2.4 ms for a roster of 30, spent inside
    the transaction. The text for a usual roster is kept; a very large one is built each time."""
    return _multi_row_kept(insert, width, rows) if rows <= 200 else _multi_row_built(insert, width, rows)


def _multi_row_built(insert: str, width: int, rows: int) -> str:
    return insert + ", ".join(
        "(" + ", ".join(f"${r * width + c}" for c in range(1, width + 1)) + ")" for r in range(rows)
    )


_multi_row_kept = lru_cache(maxsize=256)(_multi_row_built)


class PostgresDatabase(Database):
    kind = "postgresql"

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:
            raise RuntimeError("账本在 PostgreSQL 上需要 psycopg：pip install 'watcher[postgresql]'") from None

        self.Error = psycopg.Error
        self.IntegrityError = psycopg.IntegrityError
        self._RawCursor = psycopg.RawCursor
        self.conn = psycopg.connect(url, autocommit=True)

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, args=()):
        return _Rows(self.conn.execute(self._sql(sql), tuple(args)))

    def executemany(self, sql: str, rows) -> None:
        """A plain `INSERT … VALUES (?, …)` goes as multi-row INSERTs (one statement for a roster, not one
        per person); anything else row by row, pipelined."""
        rows = list(rows)
        if not rows:
            return
        plain = _PLAIN_INSERT.match(sql)
        if plain:
            width = plain.group(2).count("?")
            step = max(1, _MAX_PARAMS // width)
            with self._RawCursor(self.conn) as cursor:
                for i in range(0, len(rows), step):
                    chunk = rows[i : i + step]
                    cursor.execute(_multi_row(plain.group(1), width, len(chunk)), [v for row in chunk for v in row])
            return
        with self.conn.cursor() as cur:
            cur.executemany(self._sql(sql), rows)

    def begin(self) -> None:
        self.conn.execute("BEGIN")

    def close(self) -> None:
        self.conn.close()


def open_database(target) -> Database:
    return PostgresDatabase(target) if is_url(target) else SqliteDatabase(Path(target))


def ledger_target(root: Path, setting: str, environ=None):
    """Where the ledger is: WATCHER_LEDGER_URL, else the `ledger` setting (a postgresql:// URL, or a
    SQLite file relative to the root)."""
    import os

    url = (environ if environ is not None else os.environ).get("WATCHER_LEDGER_URL", "").strip()
    if url:
        return url
    return setting if is_url(setting) else Path(root) / setting


def describe(target) -> str:
    return redact(target) if is_url(target) else str(target)


def ledger_exists(target) -> bool:
    """A SQLite file that exists, or a PostgreSQL database that `watcher init` has set up."""
    if not is_url(target):
        return Path(target).exists()
    try:
        db = PostgresDatabase(target)
    except Exception:
        return False
    try:
        return db.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is not None
    finally:
        db.close()
