"""Which ledger a root works with: an id kept in the ledger, and the root's own record of it.

A worker pointed at the wrong database (a `WATCHER_LEDGER_URL` mistyped on one host, a test database, an
old server a ledger was moved away from) would issue into a ledger the rest of the desk does not use: two
ledgers, the same policy numbers handed to two groups. So a ledger carries an id of its own (`desk`
table), the root records the id and where that ledger lives (`ledger.identity.json`, beside the root's
mark of numbers, never in the outbox), a start on a ledger of another id is refused, and `recover` will
not build a new ledger somewhere other than where the root's ledger lives unless told to (--new-ledger).

A ledger from before ids were kept takes the root's recorded id (or a new one) at its first start.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..io.atomic import write_bytes
from .db import is_url, redact

RECORD_NAME = "ledger.identity.json"
KEY = "ledger_id"


@dataclass(frozen=True)
class Recorded:
    ledger: str  # the id
    where: str  # where that ledger lives (location())
    shown: str  # the same, as messages say it (a URL's password hidden)
    at: str  # when the root recorded it


def location(target) -> str:
    """Where a ledger lives, compared across runs: a SQLite file's full path; a PostgreSQL database's host,
    port and name (not the user or password, which may change without the database changing)."""
    if not is_url(target):
        return str(Path(target).resolve())
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(str(target))
    except Exception:  # psycopg missing or a URL it cannot read: the URL itself, password hidden
        return redact(str(target))
    host = str(parts.get("host") or "localhost")
    port = str(parts.get("port") or "5432")
    where = f"postgresql://{host}:{port}/{parts.get('dbname') or parts.get('user') or ''}"
    options = str(parts.get("options") or "").strip()  # a search_path: another schema is another ledger
    return f"{where}?options={options}" if options else where


def shown(target) -> str:
    return redact(str(target)) if is_url(target) else str(target)


def record_path(root: Path) -> Path:
    return Path(root) / RECORD_NAME


def read_record(root: Path) -> Recorded | None:
    """The root's record; None where there is none (a root from before ids, or a new one). A record that
    cannot be read is said as such: it must not pass for none (a start would then take any ledger)."""
    path = record_path(root)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
        return Recorded(str(data["ledger"]), str(data["where"]), str(data.get("shown", data["where"])), str(data["at"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} 已损坏，无法读出此目录使用的账本（{exc}）") from exc


def write_record(root: Path, ledger_id: str, target, at: str) -> Recorded:
    record = Recorded(ledger_id, location(target), shown(target), at)
    body = {"ledger": record.ledger, "where": record.where, "shown": record.shown, "at": record.at}
    write_bytes(record_path(root), (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    return record


def ledger_id(ledger) -> str | None:
    row = ledger.conn.execute("SELECT value FROM desk WHERE name = ?", (KEY,)).fetchone()
    return None if row is None else str(row[0])


def give_id(ledger, value: str | None = None) -> str:
    """Give a ledger that has none its id (`value`, else a new one), and return the id it has."""
    with ledger.atomic():  # (workers starting together: the first one's id stands)
        ledger.conn.execute(
            "INSERT INTO desk VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (KEY, value or uuid.uuid4().hex)
        )
    held = ledger_id(ledger)
    assert held is not None
    return held


def foreign(record: Recorded | None, held: str | None, target) -> bool:
    """Whether a ledger (its id `held`, at `target`) is not the one the root records: another id, or, for a
    ledger from before ids, another place."""
    if record is None:
        return False
    return held != record.ledger if held is not None else record.where != location(target)


def short(value: str) -> str:
    return value[:8]
