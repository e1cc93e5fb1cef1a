"""Which ledger a root works with: an id kept in the ledger, and the root's own record of it.

A worker pointed at the wrong database (a `WATCHER_LEDGER_URL` mistyped on one host, a test database, an
old server a ledger was moved away from, a dump restored under another name) would issue into a ledger the
rest of the desk does not use: two ledgers, the same policy numbers handed to two groups. So a ledger
carries an id of its own (`desk` table), the root records the id and where that ledger lives
(`ledger.identity.json`, beside the root's mark of numbers, never in the outbox), and a start on a ledger of
another id, or on another copy of this one, is refused (`verdict`); `recover` takes another ledger, or
builds one somewhere else, only when told to (--new-ledger).

A ledger from before ids were kept takes the root's recorded id where the root's ledger lived (or a new
one) at its first start that passes every check.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

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


ROOT_MARK = "<root>/"


def location(target, root: Path, db=None) -> str:
    """Where a ledger lives, compared across runs (same_place): a SQLite file's path (inside the root, from
    the root: a root moved or restored elsewhere keeps its ledger's place); on PostgreSQL what the server
    itself says (its cluster's system identifier, the database's name, the schema the session writes): not
    the URL's text, which two hosts spell two ways (localhost, 127.0.0.1), and which says nothing of a
    search_path set outside it (PGOPTIONS, ALTER ROLE) or of a cluster moved. A database dropped and made
    again under its name (a dump restored in place) is the same place. `db`: a connection to ask (else one
    is opened and closed)."""
    if not is_url(target):
        path = Path(target).resolve()
        try:
            return ROOT_MARK + path.relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            return str(path)
    if db is not None:
        return _server_place(db)
    from .db import open_database

    opened = open_database(target)
    try:
        return _server_place(opened)
    finally:
        opened.close()


def _server_place(db) -> str:
    cluster = ""  # (a role that may not read it: unknown, and no cluster is told apart from another)
    if db.execute("SELECT has_function_privilege('pg_control_system()', 'EXECUTE')").fetchone()[0]:
        cluster = str(db.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0])
    name, schema = db.execute("SELECT current_database(), current_schema()").fetchone()
    return f"pg:{cluster}/{name}/{schema or ''}"


def same_place(a: str, b: str, root: Path) -> bool:
    """Whether two places (location) are one: PostgreSQL's by database and schema, and by cluster where both
    know it; SQLite's as full paths (a record of either form)."""
    if a.startswith("pg:") or b.startswith("pg:"):
        if not (a.startswith("pg:") and b.startswith("pg:")):
            return False
        (ca, _, ra), (cb, _, rb) = a[3:].partition("/"), b[3:].partition("/")
        return ra == rb and (ca == cb or not ca or not cb)
    return _file(a, root) == _file(b, root)


def _file(where: str, root: Path) -> Path:
    return (Path(root) / where[len(ROOT_MARK) :] if where.startswith(ROOT_MARK) else Path(where)).resolve()


def verdict(record: Recorded | None, held: str | None, here: str, root: Path) -> str | None:
    """Whether a ledger (its id `held`, living at `here`) is the root's: None where it is (or the root records
    none); "other" another ledger; "older" one from before ids at another place; "root-copy" the same ledger
    in a copy of the whole root while the root that recorded it still holds it; "copy" the same ledger's
    other copy (a dump restored, the file a migration left, a rebuild elsewhere) while the recorded one is
    still there. A SQLite file moved (nothing left where it was) is the same ledger moved."""
    if record is None:
        return None
    if held is None:
        return None if same_place(record.where, here, root) else "older"
    if held != record.ledger:
        return "other"
    if same_place(record.where, here, root):
        return "root-copy" if _root_copied(record, held, here, root) else None
    if not record.where.startswith("pg:") and not _file(record.where, root).exists():
        return None  # moved, not copied
    return "copy"


# What a verdict found, as `status` and the lookup page's log say it after 连上的 ("root-copy" is the root's own
# case, said with the path of the root it was copied from).
FOUND_WORDS = {
    "other": "不是此目录的账本",
    "older": "不是此目录的账本",
    "copy": "是此目录账本的另一份副本，不是在用的那份",
}


def _root_copied(record: Recorded, held: str, here: str, root: Path) -> bool:
    """Whether this root is a copy of the root that recorded its ledger (`cp -a` of the whole desk, or a tar
    unpacked beside it) while that one is still there with the same ledger: a ledger inside the root is
    recorded from the root, so both copies would pass, and each would hand out the same numbers. Told by
    the path the record shows (the recording root's file), where that file still holds this ledger's id."""
    if not record.where.startswith(ROOT_MARK) or is_url(record.shown):
        return False
    then = Path(record.shown)
    if not then.is_absolute():
        return False
    try:
        if os.path.samefile(then, _file(here, root)):
            return False
    except OSError:
        pass
    if not then.is_file():
        return False  # (moved: nothing left where it was)
    try:
        with closing(sqlite3.connect(f"file:{quote(str(then))}?mode=ro", uri=True, timeout=5)) as db:
            return id_in(db, postgresql=False) == held  # (one from before ids, or no ledger: not this one)
    except sqlite3.Error:
        return False


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


def write_record(root: Path, ledger_id: str, target, at: str, where: str) -> Recorded:
    record = Recorded(ledger_id, where, shown(target), at)
    body = {"ledger": record.ledger, "where": record.where, "shown": record.shown, "at": record.at}
    write_bytes(record_path(root), (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    return record


def ledger_id(ledger) -> str | None:
    return id_in(ledger.conn, postgresql=ledger.backend == "postgresql")


def id_in(conn, *, postgresql: bool) -> str | None:
    """The id a connection's ledger holds: None where it has none yet, or has no `desk` table (a ledger from
    before ids, opened without migrating: the lookup page's, or another root's file)."""
    if postgresql:
        has = conn.execute("SELECT to_regclass('desk')").fetchone()[0] is not None
    else:
        has = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'desk'").fetchone()
    row = conn.execute("SELECT value FROM desk WHERE name = ?", (KEY,)).fetchone() if has else None
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


def short(value: str) -> str:
    return value[:8]
