"""The connection interface the ledger uses, and where its database is (each backend in its own module:
sqlite.py, postgresql.py).

The ledger's SQL is written once, in the common subset of SQLite and PostgreSQL, with `?` parameters.
On PostgreSQL (psycopg 3) `?` becomes `%s`, sums come back as int rather than Decimal, and `BEGIN
IMMEDIATE` is a plain `BEGIN` (row locks and unique constraints do what SQLite's single writer did).
"""

from __future__ import annotations

import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

POSTGRES = re.compile(r"^postgres(ql)?://", re.I)


def is_url(target: object) -> bool:
    return isinstance(target, str) and bool(POSTGRES.match(target))


def redact(url: str) -> str:
    """A database URL fit for a message: the password hidden."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


class Database(ABC):
    """One connection: `execute` with `?` parameters gives rows to fetch or iterate (sqlite.py and
    postgresql.py are the two)."""

    backend = "sqlite"
    Error: type[Exception] = sqlite3.Error
    IntegrityError: type[Exception] = sqlite3.IntegrityError
    conn: Any

    @abstractmethod
    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any: ...

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    @abstractmethod
    def begin(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


def open_database(target) -> Database:
    if is_url(target):
        from .postgresql import PostgresDatabase

        return PostgresDatabase(target)
    from .sqlite import SqliteDatabase

    return SqliteDatabase(Path(target))


def ledger_target(root: Path, setting: str, environ=None):
    """Where the ledger is: WATCHER_LEDGER_URL, else the `ledger` setting (a postgresql:// URL, or a
    SQLite file relative to the root)."""
    import os

    url = (environ if environ is not None else os.environ).get("WATCHER_LEDGER_URL", "").strip()
    chosen = url or setting
    # A SQLite file named there (WATCHER_LEDGER_URL=ledger.sqlite3) is a path like the setting's: it crashed
    # `process` as text.
    return chosen if is_url(chosen) else Path(root) / chosen


def describe(target) -> str:
    return redact(target) if is_url(target) else str(target)


def ledger_exists(target) -> bool:
    """A SQLite file that exists, or a PostgreSQL database that `watcher init` has set up. A database that
    cannot be reached raises (psycopg's error): it is not a ledger lost, and a new one must not be made."""
    if not is_url(target):
        return Path(target).exists()
    from .postgresql import PostgresDatabase

    db = PostgresDatabase(target)
    try:
        return db.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is not None
    finally:
        db.close()
