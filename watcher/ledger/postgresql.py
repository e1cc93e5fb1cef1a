"""The ledger's database on PostgreSQL (psycopg 3): `?` becomes `%s`, sums come back as int rather than
Decimal, and `BEGIN IMMEDIATE` is a plain `BEGIN` (row locks and unique constraints do what SQLite's
single writer did)."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

from .db import Database


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
    backend = "postgresql"

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
