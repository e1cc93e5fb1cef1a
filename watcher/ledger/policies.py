"""The ledger on SQLite (WAL, synchronous FULL, foreign keys) or PostgreSQL, migrations on open.

Every change of one request happens inside one `atomic()` block; each write also appends to the
journal. Nothing outside this package writes SQL.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import crash
from ..domain.idcard import same_document
from ..domain.plans import AgeFactor, Coverage, Plan, RateBand
from ..domain.policy import ACTIVE, CANCELLED, Agency, Insured, Policy, Replacement, policy_number
from ..domain.text import group_key
from ..faults import AWAY, SWAPPED, DeskFault, describe, os_words
from ..layout import ADMIN as ADMIN_FOLDER
from .common import (
    POLICY_SELECT,
    LedgerError,
    ancestors,
    chain,
    from_text,
    latest_processed,
    policy_from_row,
    replaced,
    replacement,
    to_text,
)
from .db import is_url, open_database
from .issued import Issued
from .schema import NUMBER_WORDS, NUMBERED, migrate
from .settlement import SettlementLedger

log = logging.getLogger("watcher")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    id: int
    agency: str
    sha256: str
    file_name: str
    action: str
    processed_at: datetime
    outputs: tuple[str, ...]
    policies: tuple[str, ...]
    cancelled: tuple[str, ...]
    result: dict  # what the result showed besides the policies: warnings, summary lines, premiums by row


@dataclass(frozen=True, slots=True)
class Overlap:
    id_type: str
    id_no: str
    policy_no: str
    start: datetime
    end: datetime
    tour_group: str = ""


def _identity(path: Path | None) -> tuple[int, int] | None:
    """The file at `path` (device, inode); None where there is none (or no path: PostgreSQL)."""
    found = _seen(path)
    return found[:2] if found is not None else None


def _seen(path: Path | None) -> tuple[int, int, int, int] | None:
    """The file at `path` and when it was last written: device, inode, mtime (ns), size."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def _numbered(name: str) -> str:
    if name not in NUMBERED:
        raise LedgerError(f"no sequence named {name!r}")
    return name


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


class TurnBusy(Exception):
    """An agency's turn (Ledger.turn) stayed with another worker for the whole wait: the file in hand goes
    back to wait, and the worker goes on with the others (a worker frozen while it held the turn, stopped
    or its machine paused, held up every worker that met a file of that agency, and all their files)."""

    def __init__(self, name: str, waited: float):
        super().__init__(name, waited)
        self.name, self.waited = name, waited


SWAPPED_SUFFIX = ".swapped"  # beside a SQLite ledger: written over under a running process (note_swapped)


def note_swapped(path: Path, what: str, at: datetime) -> None:
    """Remember, beside the file, that a SQLite ledger was written over under this process. Closing its
    connection then checkpoints what this process committed into the file copied in (SQLite does so at the
    last close): a backup with some of the newer pages, whose quick check may pass. The next start reads
    the whole file and checks it before it takes a file (commands._after_a_swap)."""
    try:
        body = json.dumps({"at": at.isoformat(timespec="seconds"), "what": what}, ensure_ascii=False)
        Path(str(path) + SWAPPED_SUFFIX).write_text(body + "\n", encoding="utf-8")
    except OSError as exc:
        log.error("未能记下账本被改写（%s）", os_words(exc))


class Ledger(SettlementLedger):
    def __init__(self, target, zone: tzinfo, *, now: datetime):
        """`target`: a SQLite file, or a postgresql:// URL."""
        self.target = target if is_url(target) else Path(target)
        self.path = self.target if isinstance(self.target, Path) else None
        self.zone = zone
        self.db = open_database(self.target)
        self.backend = self.db.backend
        self.conn = self.db  # execute / executemany with `?` parameters, on either database
        self._depth = 0
        self._versions: dict[int, Plan] = {}
        self.on_reconnect: list = []  # what a session must do again on a new connection
        # A session lock this worker holds while it lives (its name, on a shared ledger), and whether the
        # current connection holds it: a new connection takes it again before the desk goes on.
        self.kept_lock: str | None = None
        self.announced: str | None = None  # this worker's session name (register_worker)
        self.lock_held = False
        self.issued: Issued | None = None  # ledger.issued.Issued: the mark every transaction that draws a number raises
        # The numbers the current (or last) transaction drew, by sequence, in the order drawn: what the
        # desk's event log records of a file or a month-end, so `recover` hands out the same ones again.
        self.drawn: dict[str, list[int]] = {}
        self.commit_unknown = False  # the last COMMIT raised: it may have been committed all the same
        # `recover`: the numbers to hand out again, in order, by sequence (the event's record); once they run
        # out, the sequence gives the next.
        self.given: dict[str, list[int]] | None = None
        # Where a policy number's page (and `.statement`: a statement's workbook) already lies in the outbox
        # (None: not looked at): set by the service, `process` and `month-end`. A number drawn that has one
        # is skipped (_unprinted).
        self.printed: Any = None
        self.skip_list: Path | None = None  # the root's list of numbers skipped so (status reads it)
        self._marking: Future[None] | None = None  # the mark rising on its thread (see marked())
        self._mark_pool: ThreadPoolExecutor | None = None
        # Set once the ledger was found level with the mark (commands._guard): from then on a number drawn
        # at or below what the mark knows was handed out means the ledger went back under the running
        # process (a backup restored into it), and nothing is committed. `recover` hands numbers out again
        # on purpose and leaves it unset.
        self.watch_numbers = False
        # Such a fault, once met, holds until the process restarts (and its start checks the ledger again):
        # a PostgreSQL sequence that gave a number twice has moved past it by then, and a check of the
        # numbers alone would let the intake go on into a ledger that lost what the backup did not have.
        self.swapped: DeskFault | None = None
        migrate(self.db, to_text(now))
        self.identity = _identity(self.path)  # the file this connection writes (a SQLite ledger)
        self.written = _seen(self.path)  # and as this process last left it (see same_file)

    def close(self) -> None:
        self.marked()
        if self._mark_pool is not None:
            self._mark_pool.shutdown()
        self.conn.close()
        if self.issued is not None:
            self.issued.close()

    # --- the ledger's health -------------------------------------------------------------------

    def integrity(self) -> list[str]:
        """What SQLite's quick check finds wrong with the file ([] when sound; PostgreSQL keeps its own)."""
        if self.backend == "postgresql":
            return []
        try:
            rows = [r[0] for r in self.conn.execute("PRAGMA quick_check").fetchall()]
        except sqlite3.DatabaseError as exc:  # pages so damaged that the check itself cannot read them
            return [f"无法读完账本文件（{describe(exc)}）"]
        if rows == ["ok"]:
            return []
        # One row can hold every problem a line each, under "*** in database main ***" (a backup copied back
        # over a stale -wal: a hundred "Page N is never used"), and `check` printed them all (attack X).
        lines = [line.strip() for row in rows for line in str(row).splitlines()]
        return [line for line in lines if line and not line.startswith("***")][:100] or ["SQLite 的检查未通过"]

    def probe(self, *, thorough: bool = False) -> None:
        """Raise what a write would meet now: a lock held by another program, a broken file, a server away
        (a lost PostgreSQL connection is made again first)."""
        if self.backend == "postgresql":
            if self.db.conn.closed or self.db.conn.broken:
                self.reconnect()
            self.conn.execute("SELECT 1").fetchone()
            self.same_file()
            self.level_with_mark()
            if self.kept_lock is not None and not self.lock_held:
                self.lock_held = self.try_lock(self.kept_lock)
                if not self.lock_held:
                    # Another worker holds this worker's lock: it found it free while the connection was
                    # down and is taking over its files. Working on without it would finish them twice.
                    raise DeskFault(
                        AWAY, RuntimeError(f"重新连接后本 worker 的锁（{self.kept_lock}）被其他 worker 占用，等它释放")
                    )
            return
        self.same_file()
        self.level_with_mark()
        if self.path is not None and not os.access(self.path, os.W_OK):  # a read-only mount: BEGIN passes
            raise sqlite3.OperationalError("attempt to write a readonly database")
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("ROLLBACK")
        if thorough:
            found = self.integrity()
            if found:
                raise sqlite3.DatabaseError("integrity check: " + "; ".join(found[:3]))

    def same_file(self) -> None:
        """Raise where the ledger file was deleted or replaced (moved aside, a backup moved in) under this
        process: its connection would go on committing into a file the desk no longer has."""
        if self.swapped is not None:  # a new one each time: one raised again and again grows its traceback
            raise DeskFault(SWAPPED, self.swapped.cause)
        if self.path is None:
            return
        seen = _seen(self.path)
        if seen is None or seen[:2] != self.identity:
            self._swapped(f"账本文件 {self.path} 已不是本服务打开的那个文件（被删除或替换）")
        if seen != self.written:
            # Written since by another program. In WAL mode this process writes the main file only when it
            # checkpoints, right after its own commits: another watcher command that checkpointed is no
            # harm, but a backup copied over the open file (`cp`, the same inode) is. This connection goes on
            # reading its cached pages, sound, and issued on, each result 成功, while the file under it (the
            # backup's pages with the WAL's beside them) lost business or was damaged.
            if not self._same_view():
                self._swapped(f"账本文件 {self.path} 在服务运行时被其他程序改写（例如把备份复制到了原文件上）")
            self.written = seen

    def note_if_written(self) -> bool:
        """At a service's stop, before its close: a SQLite file replaced or written by another program since
        this process last wrote it (a backup copied over it after the last rescan looked) is noted beside it
        (note_swapped), so the next start checks the whole file: the close checkpoints this process's commits
        into whatever is there now, and a new connection reading the copy with the WAL beside it sees what
        this one sees (same_file's comparison passes). Another program's own checkpoint costs only that
        check. Whether it noted."""
        if self.path is None or self.swapped is not None:
            return False
        seen = _seen(self.path)
        if seen is None or seen == self.written:
            return False  # (no file there: the next start finds no ledger, and says so)
        note_swapped(
            self.path,
            f"账本文件 {self.path} 在服务停止前被其他程序改写或替换（例如把备份复制到了原文件上）",
            datetime.now(self.zone),
        )
        return True

    def _same_view(self) -> bool:
        """Whether the file as a new connection reads it holds what this connection holds: sound, and the
        same count of requests, policies, people and journal entries."""
        counts = (
            "SELECT (SELECT COUNT(*) FROM requests), (SELECT COUNT(*) FROM policies),"
            " (SELECT COUNT(*) FROM insured), (SELECT COUNT(*) FROM journal)"
        )
        try:
            fresh = sqlite3.connect(f"file:{quote(str(self.path))}?mode=ro", uri=True)
        except sqlite3.DatabaseError:
            return False
        try:
            if fresh.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
                return False
            for _ in range(3):  # (another watcher command may commit meanwhile: read again)
                ours = tuple(self.conn.execute(counts).fetchone())
                theirs = tuple(fresh.execute(counts).fetchone())
                if ours == theirs:
                    return True
                if ours == tuple(self.conn.execute(counts).fetchone()):
                    return False
            return False
        except sqlite3.DatabaseError:
            return False
        finally:
            fresh.close()

    def _swapped(self, what: str) -> None:
        if self.swapped is None and self.path is not None:
            note_swapped(self.path, what, datetime.now(self.zone))
        self.swapped = DeskFault(SWAPPED, RuntimeError(what))
        raise DeskFault(SWAPPED, self.swapped.cause)

    def level_with_mark(self) -> None:
        """Raise where the ledger is behind the numbers the desk has handed out (its mark), once it was found
        level: a backup restored into the open file (SQLite's .restore, a PostgreSQL restore)."""
        if not self.watch_numbers or self.issued is None:
            return
        from .issued import behind

        try:
            mark, _ = self.issued.read()
        except OSError:
            mark = self.issued.known  # the mark's disk away: what this process knows it raised the mark to
        known = self.issued.known
        late = behind(self.numbers_used(), {k: max(mark.get(k, 0), known.get(k, 0)) for k in {*mark, *known}})
        if late:
            which = "，".join(f"{name} 账本只到 {used}，已发出到 {top}" for name, used, top in late)
            self._swapped(f"账本落后于已发出的编号：{which}")

    def reconnect(self) -> None:
        try:
            self.db.close()
        except Exception:  # already gone
            pass
        self.db = open_database(self.target)
        self.conn = self.db
        self._depth = 0
        self.lock_held = False  # a session lock dies with its connection
        if self.kept_lock is not None:
            self.lock_held = self.try_lock(self.kept_lock)
        self._announce()
        for hook in self.on_reconnect:
            hook()

    # --- transactions -------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction; nested blocks are savepoints."""
        if self._depth:
            name = f"sp{self._depth}"
            self.conn.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
                raise
            finally:
                self._depth -= 1
            self.conn.execute(f"RELEASE {name}")
            return
        self.marked()  # the marks rise in order, one at a time
        self.same_file()
        self.db.begin()
        self._depth, self.drawn, self.commit_unknown = 1, {}, False
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._versions.clear()  # a version read inside the block may not exist now
            raise
        finally:
            self._depth = 0
        try:
            self.conn.execute("COMMIT")
        except BaseException as exc:
            # The COMMIT went out and no answer came back (a connection lost at that moment): the database
            # may have committed it. Whoever called must not take it for undone (pipeline keeps the file).
            # SQLite refusing it (its disk full, a lock) committed nothing: said so, the file is not taken
            # for done (it was said 已办理（已生效） and its outputs written later, for a request never held).
            self.commit_unknown = not self._commit_refused(exc)
            self._versions.clear()
            raise
        if self.path is not None:
            self.written = _seen(self.path)  # a checkpoint of its own may have written the main file
        if self.drawn and self.issued is not None:
            self._raise_issued()

    def _commit_refused(self, exc: BaseException) -> bool:
        """Whether a COMMIT that raised surely committed nothing: SQLite (a file on this machine, no answer
        lost on a network) that kept the transaction open, now rolled back, or that refused it for a full
        disk or a lock before writing its commit. A failed sync (an I/O error) may leave the commit in the
        WAL for the next open to find: unknown."""
        if self.backend != "sqlite" or not isinstance(exc, sqlite3.Error):
            return False
        raw = self.db.conn
        if raw.in_transaction:
            try:
                raw.execute("ROLLBACK")
            except sqlite3.Error:
                return False
            return True
        return getattr(exc, "sqlite_errorcode", None) in (
            sqlite3.SQLITE_FULL,
            sqlite3.SQLITE_BUSY,
            sqlite3.SQLITE_LOCKED,
        )

    def _raise_issued(self) -> None:
        """The desk's own mark of the numbers just drawn rises (synced) on a thread of its own, while the
        caller gathers and plans what it will write; `marked()` waits for it before any output carries
        them. If the disk refuses, the ledger (ahead of the mark) is still right; the next commit, or the
        next start, raises it. The mark rises to the numbers this transaction committed, not to where the
        sequence stands: on PostgreSQL that counts numbers drawn by transactions rolled back since (or
        still open in other workers), which no output shows and a replay of the archive never draws."""
        if self.issued is None:
            return
        used = {name: max(values) for name, values in self.drawn.items()}
        if self._mark_pool is None:
            self._mark_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="watcher-mark")
        self._marking = self._mark_pool.submit(self._raise_now, self.issued, used)

    @staticmethod
    def _raise_now(issued: Issued, used: dict[str, int]) -> None:
        crash.point("raising_mark")
        try:
            issued.raise_to(used)
        except OSError as exc:
            log.error(
                "未能更新已发出编号的记录（%s），下次提交时再更新",
                os_words(exc),
            )

    def marked(self) -> None:
        """Wait until the mark covers every number this ledger has drawn: called before any output is
        written after a commit (the walk's outputs, month-end's files), and before the next transaction."""
        pending, self._marking = self._marking, None
        if pending is not None:
            pending.result()

    def _need_tx(self) -> None:
        if not self._depth:
            raise LedgerError("ledger writes must run inside atomic()")

    def _journal(self, at: datetime, request_id: int | None, agency: str, event: str, ref: str, detail: dict) -> None:
        self.conn.execute(
            "INSERT INTO journal (at, request_id, agency, event, ref, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (to_text(at), request_id, agency, event, ref, json.dumps(detail, ensure_ascii=False, default=str)),
        )

    def _next(self, name: str) -> int:
        """The next number of a ledger-wide sequence, never handed out before. SQLite: a row of
        `sequences`, under the one write lock. PostgreSQL: a sequence of its own (`nextval` holds no lock
        to the commit, so workers never queue behind each other's transactions; a rolled-back
        transaction leaves its number unused, a gap, never a repeat). `recover` hands out the numbers
        given (`given`), each once, and moves the sequence on past them."""
        queue = self.given.get(name) if self.given is not None else None
        if queue:
            value = queue.pop(0)
            self._past(name, value)
        elif self.backend == "postgresql":
            value = self.conn.execute(f"SELECT nextval('number_{_numbered(name)}')").fetchone()[0]
        else:
            value = self.conn.execute(
                "INSERT INTO sequences VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = sequences.value + 1"
                " RETURNING value",
                (name,),
            ).fetchone()[0]
        top = self.issued.known.get(name, 0) if self.watch_numbers and self.issued is not None else 0
        if value <= top:  # handed out before: the ledger went back under this process (rolled back with it)
            self._swapped(f"账本给出的{NUMBER_WORDS.get(name, name)}流水号 {value} 已发出过（已发出到 {top}）")
        self.drawn.setdefault(name, []).append(value)
        return value

    SKIP_AT_MOST = 1000  # numbers skipped for one draw: past that, used (its file set aside when written)

    def _unprinted(self, sequence: str, number: str, agency: str, looked, again: Callable[[int], str]) -> str:
        """`number`, or the first after it whose file (`looked`: a policy's page, a statement's workbook) is
        not already in the outbox: one there means a number handed out before (the whole root restored from a
        backup, the ledger, its mark and the archive together, with the outbox kept as it was: each file then
        issued a number a group already held, its result 成功; month-end wrote a statement over the agency's)
        or a file an agency put there. Those are skipped (a gap, never a number twice), said once in the log
        and listed in the root for `status`. `again`: the number a serial makes."""
        skipped: list[tuple[str, Path]] = []
        while len(skipped) < self.SKIP_AT_MOST and (page := looked(number, agency)) is not None:
            skipped.append((number, page))
            self.drawn[sequence].pop()  # (not this request's: a replay by `recover` hands out only what it kept)
            number = again(self._next(sequence))
        if not skipped:
            return number
        what = NUMBER_WORDS.get(sequence, sequence)
        log.error(
            "%s号 %s%s 未使用（共 %d 个）：同一流水号的文件已在 outbox 中（如 %s），此前已发出过，或是旅行社自己放进去的。"
            "若不是后者，说明账本、编号记录和 archive/ 一起恢复到了较早的备份而 outbox 没有：账本缺少此后办理的业务，请立即"
            "停止 watcher，找回更新的账本备份（或最新的 archive/）后运行 watcher recover，见运维文档的备份与恢复",
            what,
            skipped[0][0],
            f" 至 {skipped[-1][0]}" if len(skipped) > 1 else "",
            len(skipped),
            skipped[0][1],
        )
        if self.skip_list is not None:
            try:
                with open(self.skip_list, "a", encoding="utf-8") as listed:
                    listed.writelines(f"{n}\t{page}\n" for n, page in skipped)
            except OSError:  # (the log line above still says it)
                pass
        return number

    def _past(self, name: str, value: int) -> None:
        """The sequence `name` at least at `value` (a number handed out again by `recover`)."""
        if self.backend == "postgresql":
            seq = f"number_{_numbered(name)}"
            self.conn.execute(
                f"SELECT setval('{seq}', GREATEST(?, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
                f" FROM {seq})), true)",
                (value,),
            ).fetchone()
        else:
            self.conn.execute(
                "INSERT INTO sequences VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = MAX(value, excluded.value)",
                (name, value),
            )

    def numbers_held(self) -> dict[str, int]:
        """The highest serial of each sequence on a policy or statement the ledger holds (0: none). Below
        `numbers_used` by the numbers drawn by transactions rolled back since (PostgreSQL)."""
        row = self.conn.execute(
            "SELECT (SELECT MAX(CAST(substr(policy_no, 11) AS BIGINT)) FROM policies),"
            " (SELECT MAX(CAST(substr(statement_no, 9) AS BIGINT)) FROM statements)"
        ).fetchone()
        return {"policy": int(row[0] or 0), "statement": int(row[1] or 0)}

    def numbers_of(self, request: RequestRecord) -> dict[str, list[int]]:
        """The serials a committed request drew, in the order drawn (a sequence only rises)."""
        found: dict[str, list[int]] = {}
        if request.policies:
            found["policy"] = sorted(int(n[10:]) for n in request.policies)
        made = self.conn.execute("SELECT statement_no FROM statements WHERE request_id = ?", (request.id,)).fetchall()
        if made:
            found["statement"] = sorted(int(str(n)[8:]) for (n,) in made)
        return found

    def serials_in_use(self) -> dict[str, set[int]]:
        """Every policy and statement serial the ledger holds (`recover` hands none out twice)."""
        found: dict[str, set[int]] = {"policy": set(), "statement": set()}
        for (number,) in self.conn.execute("SELECT policy_no FROM policies"):
            found["policy"].add(int(str(number)[10:]))
        for (number,) in self.conn.execute("SELECT statement_no FROM statements"):
            found["statement"].add(int(str(number)[8:]))
        return found

    def numbers_used(self) -> dict[str, int]:
        """The highest number handed out so far by each sequence (0: none yet)."""
        if self.backend == "postgresql":
            return dict(
                self.conn.execute(
                    " UNION ALL ".join(
                        f"SELECT '{name}', CASE WHEN is_called THEN last_value ELSE 0 END FROM number_{name}"
                        for name in NUMBERED
                    )
                ).fetchall()
            )
        used = dict(self.conn.execute("SELECT name, value FROM sequences").fetchall())
        return {name: used.get(name, 0) for name in NUMBERED}

    def continue_numbers(self, used: dict[str, int]) -> None:
        """Carry on from another ledger's numbers (migrate into an empty ledger): the next number of each
        is one past `used`. On PostgreSQL `setval` is not undone by a rollback; a copy that is rolled back
        leaves its tables empty, and the next copy sets the numbers again."""
        self._need_tx()
        for name, value in used.items():
            if self.backend == "postgresql":
                self.conn.execute(
                    f"SELECT setval('number_{_numbered(name)}', ?, ?)", (max(value, 1), value > 0)
                ).fetchone()
            else:
                self.conn.execute(
                    "INSERT INTO sequences VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = ?",
                    (_numbered(name), value, value),
                )

    # --- requests -----------------------------------------------------------------------

    def record_request(
        self, *, agency: str, sha256: str, file_name: str, action: str, at: datetime, outputs: list[str]
    ) -> int:
        """The request that changed the ledger, with the names of its outputs, in the same transaction."""
        self._need_tx()
        request_id = self.conn.execute(
            "INSERT INTO requests (agency, sha256, file_name, action, processed_at, outputs) VALUES (?, ?, ?, ?, ?, ?)"
            " RETURNING id",
            (agency, sha256, file_name, action, to_text(at), json.dumps(outputs, ensure_ascii=False)),
        ).fetchone()[0]
        self._journal(at, request_id, agency, "request", sha256, {"file": file_name, "action": action})
        return request_id

    def finish_request(
        self, request_id: int, *, policies: list[str], cancelled: list[str], outputs: list[str], result: dict
    ) -> None:
        """The request's effect and the names of all its outputs, still inside the request's transaction."""
        self._need_tx()
        agency = self.conn.execute(
            "UPDATE requests SET policies = ?, cancelled = ?, outputs = ?, result = ? WHERE id = ? RETURNING agency",
            (
                json.dumps(policies),
                json.dumps(cancelled),
                json.dumps(outputs, ensure_ascii=False),
                json.dumps(result, ensure_ascii=False),
                request_id,
            ),
        ).fetchone()[0]
        self.conn.executemany("INSERT INTO outputs VALUES (?, ?, ?)", [(agency, n, request_id) for n in outputs])

    def latest_processed(self) -> datetime | None:
        """When the latest business the ledger holds was done: a request's processing or a month-end's start."""
        return latest_processed(self.conn)

    def named_before(self, agency: str, file_name: str, since: datetime) -> tuple[datetime, list[str]] | None:
        """The latest request of this agency committed since `since` from a file of the same name: when, and
        the policies it issued."""
        row = self.conn.execute(
            "SELECT processed_at, policies FROM requests WHERE agency = ? AND file_name = ? AND processed_at >= ?"
            " ORDER BY processed_at DESC LIMIT 1",
            (agency, file_name, to_text(since)),
        ).fetchone()
        return (from_text(row[0]), list(json.loads(row[1] or "[]"))) if row is not None else None

    def holds_request(self, agency: str, sha256: str) -> bool:
        """Whether a request of these bytes from this agency is in the ledger (without reading its record)."""
        return (
            self.conn.execute("SELECT 1 FROM requests WHERE agency = ? AND sha256 = ?", (agency, sha256)).fetchone()
            is not None
        )

    def effective_request(self, agency: str, sha256: str) -> RequestRecord | None:
        row = self.conn.execute(
            "SELECT id, agency, sha256, file_name, action, processed_at, outputs, policies, cancelled, result"
            " FROM requests WHERE agency = ? AND sha256 = ?",
            (agency, sha256),
        ).fetchone()
        if row is None:
            return None
        return RequestRecord(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            from_text(row[5]),
            tuple(json.loads(row[6])),
            tuple(json.loads(row[7])),
            tuple(json.loads(row[8])),
            json.loads(row[9]),
        )

    def reserve_stem(self, agency: str, stem: str, at: datetime) -> bool:
        """Take a result name for a file just claimed; False if another file in hand (any worker's) has it.
        Held until the file is finished; from then on its outputs in the outbox keep the name taken.
        On SQLite one service holds the root, and its own list of names in hand is enough."""
        if self.backend != "postgresql":
            return True
        return (
            self.conn.execute(
                "INSERT INTO result_names VALUES (?, ?, ?) ON CONFLICT (agency, stem) DO NOTHING",
                (agency, stem, to_text(at)),
            ).rowcount
            == 1
        )

    def release_stem(self, agency: str, stem: str) -> None:
        """The file is finished: its outputs exist (and a request that changed the ledger recorded them)."""
        if self.backend == "postgresql":
            self.conn.execute("DELETE FROM result_names WHERE agency = ? AND stem = ?", (agency, stem))

    # --- locks between workers (PostgreSQL; on SQLite one service per root holds the root's lock) -----

    def keep_lock(self, name: str) -> bool:
        """Take this worker's lock and keep it: taken again on each new connection, and the desk does not go
        on (probe raises) while another worker holds it."""
        self.kept_lock = name
        self.lock_held = self.try_lock(name)
        return self.lock_held

    def try_lock(self, name: str) -> bool:
        """A session lock between workers: True if taken (it dies with the session, e.g. a killed worker)."""
        if self.backend != "postgresql":
            return True
        return bool(self.conn.execute("SELECT pg_try_advisory_lock(?)", (_lock_key(name),)).fetchone()[0])

    def unlock(self, name: str) -> None:
        if self.backend == "postgresql":
            self.conn.execute("SELECT pg_advisory_unlock(?)", (_lock_key(name),)).fetchone()

    @contextmanager
    def turn(self, *names: str, wait: float | None = None) -> Iterator[None]:
        """Wait for these names' turn among the workers of a shared (PostgreSQL) ledger and hold it: what a
        request reads to decide (a group's live policies, a policy still 有效, an agency still 合作中) cannot
        change under it before its commit. Taken in the order given (callers give the same order). `wait`:
        at most this many seconds for each, then TurnBusy (None: as long as it takes). SQLite has one
        process per root: nothing to wait for."""
        if self.backend != "postgresql":
            yield
            return
        taken: list[int] = []
        try:
            for name in names:
                key = _lock_key(name)
                if wait is None:
                    self.conn.execute("SELECT pg_advisory_lock(?)", (key,)).fetchone()
                elif not self._lock_within(key, wait):
                    raise TurnBusy(name, wait)
                taken.append(key)
            yield
        finally:
            for key in reversed(taken):
                try:
                    self.conn.execute("SELECT pg_advisory_unlock(?)", (key,)).fetchone()
                except Exception:  # the connection went: its session locks went with it
                    pass

    def _lock_within(self, key: int, wait: float) -> bool:
        """pg_advisory_lock waited for at most `wait` seconds (the server's lock_timeout, set for this wait
        only): whether it was taken."""
        if self.conn.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()[0]:
            return True
        if wait <= 0:
            return False
        import psycopg

        self.conn.execute(
            "SELECT set_config('lock_timeout', ?, false)", (f"{max(1, round(wait * 1000))}ms",)
        ).fetchone()
        try:
            self.conn.execute("SELECT pg_advisory_lock(?)", (key,)).fetchone()
            return True
        except psycopg.errors.LockNotAvailable:
            return False
        finally:
            self.conn.execute("RESET lock_timeout")

    def register_worker(self, name: str, command: str, at: datetime) -> None:
        """A worker on a shared (PostgreSQL) ledger says it is here; rows of workers that are gone (nobody
        holds their lock) are cleared on the way. It holds its lock `worker:<name>` for as long as it lives."""
        for other, _, _ in self.workers(alive=False):
            if other != name and self.try_lock(f"worker:{other}"):
                self.conn.execute("DELETE FROM workers WHERE name = ?", (other,))
                self.unlock(f"worker:{other}")
        self.conn.execute(
            "INSERT INTO workers VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
            " SET command = excluded.command, started_at = excluded.started_at",
            (name, command, to_text(at)),
        )

        # PostgreSQL keeps 63 bytes of it, and shows other than ASCII as '?'.
        self.announced = f"{self._session_tag()}{command} {name}".encode("ascii", "replace").decode()[:63]
        self._announce()

    def _session_tag(self) -> str:
        """What names a worker's session (`application_name`) as one of this desk's: its database and
        schema, hashed (several desks may share a database, each in a schema of its own)."""
        where = self.conn.execute("SELECT current_database() || '/' || current_schema()").fetchone()[0]
        return f"watcher {hashlib.sha256(str(where).encode()).hexdigest()[:8]} "

    def _announce(self) -> None:
        """This session named after the worker it serves: `workers` finds a live worker from the server's
        own sessions too, not only from the workers table (which a restored dump takes back to its day)."""
        if self.backend == "postgresql" and self.announced:
            self.conn.execute("SELECT set_config('application_name', ?, false)", (self.announced,)).fetchone()

    def unregister_worker(self, name: str) -> None:
        self.conn.execute("DELETE FROM workers WHERE name = ?", (name,))

    def stuck_turns(self, longer_than: float) -> dict[str, tuple[str, int]]:
        """Workers of this desk (its sessions, by their name: desks sharing a database in schemas of their own
        use the same turn keys) holding an agency's turn (turn) while their session has done nothing for over
        `longer_than` seconds: {worker: (agency, seconds)}. A worker frozen while it holds one (stopped, its
        machine paused) holds that agency's files back on every worker (each puts them back after
        lock_wait_seconds and tries again later). A worker at work runs a query every few milliseconds."""
        if self.backend != "postgresql":
            return {}
        keys = {_lock_key(f"agency:{code}"): code for (code,) in self.conn.execute("SELECT code FROM agencies")}
        keys[_lock_key(f"agency:{ADMIN_FOLDER}")] = ADMIN_FOLDER
        tag = self._session_tag()
        rows = self.conn.execute(
            "SELECT h.application_name, (l.classid::bigint << 32) | l.objid::bigint,"
            " EXTRACT(EPOCH FROM now() - h.state_change)"
            " FROM pg_locks l JOIN pg_stat_activity h ON h.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND h.state LIKE 'idle%' AND h.pid <> pg_backend_pid() AND starts_with(h.application_name, ?)"
            " AND now() - h.state_change > make_interval(secs => ?)",
            (tag, float(longer_than)),
        ).fetchall()
        found: dict[str, tuple[str, int]] = {}
        for holder, key, seconds in rows:
            signed = int(key) - (1 << 64) if int(key) >= 1 << 63 else int(key)
            if signed not in keys:
                continue  # (a worker's own lock, held all its life)
            found[str(holder)[len(tag) :].partition(" ")[2]] = (keys[signed], int(seconds))
        return found

    def workers(self, alive: bool = True) -> list[tuple[str, str, datetime]]:
        """(name, command, started) of the registered workers; with `alive`, only those whose lock is held
        by a live session (taking it would succeed for one that is gone), and any session a worker of this
        desk named (register_worker) that the table lacks (a dump restored under live workers)."""
        rows = [
            (n, c, from_text(t))
            for n, c, t in self.conn.execute("SELECT name, command, started_at FROM workers ORDER BY started_at, name")
        ]
        if not alive:
            return rows
        live = []
        for row in rows:
            if self.try_lock(f"worker:{row[0]}"):
                self.unlock(f"worker:{row[0]}")
            else:
                live.append(row)
        tag = self._session_tag()
        sessions = self.conn.execute(
            "SELECT application_name, COALESCE(backend_start, now()) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND starts_with(application_name, ?)"
            " ORDER BY 2",
            (tag,),
        ).fetchall()
        for app, started in sessions:
            command, _, name = str(app)[len(tag) :].partition(" ")
            cut = len(str(app)) >= 63  # the name cut short: matched by its start
            if name and not any(
                (shown := n.encode("ascii", "replace").decode()) == name or (cut and shown.startswith(name))
                for n, _, _ in live
            ):
                live.append((name, command, started))
        return live

    def output_taken(self, agency: str, *names: str) -> bool:
        """Whether an earlier request recorded an output of any of these names (its file may since have been
        deleted)."""
        marks = ",".join("?" * len(names))
        return (
            self.conn.execute(
                f"SELECT 1 FROM outputs WHERE agency = ? AND name IN ({marks}) LIMIT 1", (agency, *names)
            ).fetchone()
            is not None
        )

    # --- agencies -----------------------------------------------------------------------

    _AGENCIES = (
        "SELECT a.code, a.name, a.license_no, a.agreement_no, a.status, ap.plan_code FROM agencies a"
        " LEFT JOIN agency_plans ap ON ap.agency = a.code"
    )

    @staticmethod
    def _agencies(rows) -> list[Agency]:
        """Agencies from one row per (agency, plan) (plan NULL for none), in the rows' order."""
        heads: dict[str, tuple] = {}
        plans: dict[str, list[str]] = {}
        for *head, plan in rows:
            heads.setdefault(head[0], tuple(head))
            plans.setdefault(head[0], []).extend([plan] if plan is not None else [])
        return [
            Agency(code, name, license_no, agreement_no, tuple(plans[code]), status)
            for code, name, license_no, agreement_no, status in heads.values()
        ]

    def agency(self, code: str) -> Agency | None:
        found = self._agencies(self.conn.execute(self._AGENCIES + " WHERE a.code = ? ORDER BY ap.plan_code", (code,)))
        return found[0] if found else None

    def policies_in_force(
        self, *, agency: str | None = None, plan_code: str | None = None, longer_than: int = 0
    ) -> list[tuple[str, str, datetime]]:
        """Policies 有效 (not cancelled) of an agency or of a plan, longer than `longer_than` days: (policy_no,
        plan_code, end), latest end first; the caller keeps those whose cover has not ended at its `now`."""
        sql = "SELECT policy_no, plan_code, end_at FROM policies WHERE status = ? AND days > ?"
        args: list = [ACTIVE, longer_than]
        if agency is not None:
            sql += " AND agency = ?"
            args.append(agency)
        if plan_code is not None:
            sql += " AND plan_code = ?"
            args.append(plan_code)
        rows = self.conn.execute(sql + " ORDER BY end_at DESC, policy_no", tuple(args))
        return [(no, plan, from_text(end)) for no, plan, end in rows]

    def policies_aged_outside(self, plan_code: str, low: int, high: int) -> list[tuple[str, str, datetime]]:
        """Policies 有效 of a plan with someone whose age (at its start) is outside low..high: (policy_no,
        plan_code, end), latest end first; the caller keeps those whose cover has not ended at its `now`."""
        rows = self.conn.execute(
            "SELECT p.policy_no, p.plan_code, p.end_at FROM policies p WHERE p.status = ? AND p.plan_code = ?"
            " AND EXISTS (SELECT 1 FROM insured i WHERE i.policy_no = p.policy_no AND (i.age < ? OR i.age > ?))"
            " ORDER BY p.end_at DESC, p.policy_no",
            (ACTIVE, plan_code, low, high),
        )
        return [(no, plan, from_text(end)) for no, plan, end in rows]

    def agencies(self) -> list[Agency]:
        return self._agencies(self.conn.execute(self._AGENCIES + " ORDER BY a.code, ap.plan_code"))

    def save_agency(self, agency: Agency, *, request_id: int | None, at: datetime) -> None:
        self._need_tx()
        before = self.agency(agency.code)
        self.conn.execute(
            "INSERT INTO agencies (code, name, license_no, agreement_no, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(code) DO UPDATE SET name = excluded.name,"
            " license_no = excluded.license_no, agreement_no = excluded.agreement_no,"
            " status = excluded.status, updated_at = excluded.updated_at",
            (agency.code, agency.name, agency.license_no, agency.agreement_no, agency.status, to_text(at), to_text(at)),
        )
        self.conn.execute("DELETE FROM agency_plans WHERE agency = ?", (agency.code,))
        self.conn.executemany("INSERT INTO agency_plans VALUES (?, ?)", [(agency.code, p) for p in agency.plans])
        self._journal(
            at,
            request_id,
            agency.code,
            "agency.updated" if before else "agency.registered",
            agency.code,
            {
                "name": agency.name,
                "license_no": agency.license_no,
                "agreement_no": agency.agreement_no,
                "plans": list(agency.plans),
                "status": agency.status,
            },
        )

    # --- plans --------------------------------------------------------------------------

    def plan(self, code: str) -> Plan | None:
        row = self.conn.execute("SELECT current_version FROM plans WHERE code = ?", (code,)).fetchone()
        return self.plan_version(row[0]) if row and row[0] else None

    def plans(self) -> list[Plan]:
        versions = [
            v
            for (v,) in self.conn.execute(
                "SELECT current_version FROM plans WHERE current_version IS NOT NULL ORDER BY code"
            )
        ]
        return [self.plan_version(v) for v in versions]

    def plan_version(self, version: int) -> Plan:
        """A plan version never changes once written (an upload makes a new one): read it once."""
        plan = self._versions.get(version)
        if plan is None:
            plan = self._versions[version] = self._plan_version(version)
        return plan

    def _plan_version(self, version: int) -> Plan:
        row = self.conn.execute(
            "SELECT plan_code, name, region, min_age, max_age, max_days FROM plan_versions WHERE id = ?", (version,)
        ).fetchone()
        rates = tuple(
            RateBand(*r)
            for r in self.conn.execute(
                "SELECT day_low, day_high, price_fen FROM rate_bands WHERE plan_version = ? ORDER BY day_low",
                (version,),
            )
        )
        factors = tuple(
            AgeFactor(lo, hi, Decimal(f))
            for lo, hi, f in self.conn.execute(
                "SELECT age_low, age_high, factor FROM age_factors WHERE plan_version = ? ORDER BY age_low", (version,)
            )
        )
        covers = tuple(
            Coverage(i, s)
            for i, s in self.conn.execute(
                "SELECT item, sum_fen FROM coverages WHERE plan_version = ? ORDER BY seq", (version,)
            )
        )
        return Plan(row[0], row[1], row[2], row[3], row[4], row[5], rates, factors, covers, version)

    def plan_version_number(self, code: str, version: int) -> int:
        """Which upload of plan `code` the version `version` is: 1 for its first (ids are shared by all plans)."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM plan_versions WHERE plan_code = ? AND id <= ?", (code, version)
        ).fetchone()
        return int(row[0])

    def add_plan_version(self, plan: Plan, *, request_id: int | None, at: datetime) -> int:
        """A new version of the plan; policies already issued keep the version they were priced with."""
        self._need_tx()
        self.conn.execute("INSERT INTO plans (code) VALUES (?) ON CONFLICT(code) DO NOTHING", (plan.code,))
        version = self.conn.execute(
            "INSERT INTO plan_versions (plan_code, name, region, min_age, max_age, max_days, created_at, request_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (plan.code, plan.name, plan.region, plan.min_age, plan.max_age, plan.max_days, to_text(at), request_id),
        ).fetchone()[0]
        self.conn.executemany(
            "INSERT INTO rate_bands VALUES (?, ?, ?, ?)", [(version, b.low, b.high, b.price_fen) for b in plan.rates]
        )
        self.conn.executemany(
            "INSERT INTO age_factors VALUES (?, ?, ?, ?)",
            [(version, f.low, f.high, str(f.factor)) for f in plan.factors],
        )
        self.conn.executemany(
            "INSERT INTO coverages VALUES (?, ?, ?, ?)",
            [(version, i, c.item, c.sum_fen) for i, c in enumerate(plan.coverages, 1)],
        )
        self.conn.execute("UPDATE plans SET current_version = ? WHERE code = ?", (version, plan.code))
        self._journal(
            at,
            request_id,
            "_admin",
            "plan.version",
            plan.code,
            {
                "version": version,
                "name": plan.name,
                "region": plan.region,
                "min_age": plan.min_age,
                "max_age": plan.max_age,
                "max_days": plan.max_days,
                "rates": [[b.low, b.high, b.price_fen] for b in plan.rates],
                "factors": [[f.low, f.high, str(f.factor)] for f in plan.factors],
                "coverages": [[c.item, c.sum_fen] for c in plan.coverages],
            },
        )
        return version

    # --- policies -----------------------------------------------------------------------

    def issue_policy(self, policy: Policy, *, request_id: int) -> str:
        """Number and store a new policy with its people; returns the policy number."""
        self._need_tx()
        number = policy_number(policy.issued_at, self._next("policy"), self.zone)
        if self.printed is not None and self.given is None:
            number = self._unprinted(
                "policy", number, policy.agency, self.printed, lambda n: policy_number(policy.issued_at, n, self.zone)
            )
        self.conn.execute(
            "INSERT INTO policies (policy_no, agency, request_id, tour_group, region, plan_code, plan_version,"
            " start_at, days, end_at, route, handler, sales_id, sales_name, premium_fen, insured_count, status,"
            " issued_at, replaces, replace_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                number,
                policy.agency,
                request_id,
                policy.tour_group,
                policy.region,
                policy.plan_code,
                policy.plan_version,
                to_text(policy.start),
                policy.days,
                to_text(policy.end),
                policy.route,
                policy.handler,
                policy.sales_id,
                policy.sales_name,
                policy.premium_fen,
                len(policy.people),
                ACTIVE,
                to_text(policy.issued_at),
                policy.replaces,
                policy.replace_reason,
            ),
        )
        self.conn.executemany(
            "INSERT INTO insured VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    number,
                    seq,
                    p.name,
                    p.id_type,
                    p.id_no,
                    p.gender,
                    p.birth.isoformat(),
                    p.age,
                    p.premium_fen,
                    p.phone,
                    p.note,
                    p.row,
                )
                for seq, p in enumerate(policy.people, 1)
            ],
        )
        self._journal(
            policy.issued_at,
            request_id,
            policy.agency,
            "policy.issued",
            number,
            {
                "tour_group": policy.tour_group,
                "plan": policy.plan_code,
                "plan_version": policy.plan_version,
                "start": policy.start.isoformat(),
                "end": policy.end.isoformat(),
                "days": policy.days,
                "premium_fen": policy.premium_fen,
                "replaces": policy.replaces,
                "people": [
                    [p.name, p.id_type, p.id_no, p.gender, p.birth.isoformat(), p.premium_fen] for p in policy.people
                ],
            },
        )
        return number

    def cancel_policy(self, policy_no: str, *, request_id: int, at: datetime, reason: str) -> None:
        self._need_tx()
        cur = self.conn.execute(
            "UPDATE policies SET status = ?, cancelled_at = ?, cancel_request_id = ?"
            " WHERE policy_no = ? AND status = ? AND statement_no = ''",
            (CANCELLED, to_text(at), request_id, policy_no, ACTIVE),
        )
        if cur.rowcount != 1:
            raise LedgerError(f"policy {policy_no} cannot be cancelled")
        agency = self.conn.execute("SELECT agency FROM policies WHERE policy_no = ?", (policy_no,)).fetchone()[0]
        self._journal(at, request_id, agency, "policy.cancelled", policy_no, {"reason": reason})

    def policy(self, policy_no: str, *, agency: str | None = None, people: bool = True) -> Policy | None:
        """One policy; with `agency`, only if it is that agency's (an agency never sees another's)."""
        sql = POLICY_SELECT + " WHERE p.policy_no = ?"
        args: tuple = (policy_no,)
        if agency is not None:
            sql += " AND p.agency = ?"
            args += (agency,)
        row = self.conn.execute(sql, args).fetchone()
        return self._policy(row, people) if row else None

    def policies_of_request(self, request_id: int) -> list[Policy]:
        rows = self.conn.execute(POLICY_SELECT + " WHERE p.request_id = ? ORDER BY p.policy_no", (request_id,))
        return [self._policy(r, True) for r in rows.fetchall()]

    def _people(self, policy_no: str) -> tuple[Insured, ...]:
        return tuple(
            Insured(n, t, i, g, date.fromisoformat(b), a, f, ph, nt, rw)
            for n, t, i, g, b, a, f, ph, nt, rw in self.conn.execute(
                "SELECT name, id_type, id_no, gender, birth, age, premium_fen, phone, note, row"
                " FROM insured WHERE policy_no = ? ORDER BY seq",
                (policy_no,),
            )
        )

    def _policy(self, row: tuple, with_people: bool) -> Policy:
        return policy_from_row(row, self._people(row[0]) if with_people else ())

    def find_policies(self, flt, *, people: bool) -> list[Policy]:
        """This agency's policies matching a query filter (queries.Filter), oldest first."""
        sql = POLICY_SELECT + " WHERE p.agency = ?"
        args: list = [flt.agency]
        if flt.policy_no:
            sql += " AND p.policy_no = ?"
            args.append(flt.policy_no)
        if flt.issued_from:
            sql += " AND p.issued_at >= ?"
            args.append(to_text(flt.issued_from))
        if flt.issued_to:
            sql += " AND p.issued_at < ?"
            args.append(to_text(flt.issued_to))
        if flt.plan_code:
            sql += " AND p.plan_code = ?"
            args.append(flt.plan_code)
        if flt.status in ("有效", "已撤单"):
            sql += " AND p.status = ?"
            args.append(flt.status)
        rows = self.conn.execute(sql + " ORDER BY p.issued_at, p.policy_no", args).fetchall()
        found = [self._policy(r, False) for r in rows]
        if flt.tour_group:  # as 投保 compares groups: case, full-width and spaces aside (gz-t1 found nothing)
            want = group_key(flt.tour_group)
            found = [p for p in found if group_key(p.tour_group) == want]
        if people:  # only for the policies kept: a group filter over a busy agency reads no one else's roster
            found = [replace(p, people=self._people(p.policy_no)) for p in found]
        return found

    def successors(self, numbers: list[str]) -> dict[str, list[tuple[str, str]]]:
        """For each policy number, the policies issued from it (批改, 加人, 减人 …) with why: the chain forwards.
        A 加人 policy replaced nothing (it was issued beside the old one for the people added)."""
        found: dict[str, list[tuple[str, str]]] = {}
        for chunk in (numbers[i : i + 500] for i in range(0, len(numbers), 500)):
            marks = ",".join("?" * len(chunk))
            for old, new, reason in self.conn.execute(
                f"SELECT replaces, policy_no, replace_reason FROM policies WHERE replaces IN ({marks})"
                " ORDER BY policy_no",
                chunk,
            ):
                found.setdefault(old, []).append((new, reason or ""))
        return found

    def others_in_group(self, policy: Policy) -> list[tuple[str, datetime]]:
        """The agency's other live policies of the same tour group over this one's period, in no statement,
        with their start: a 加人 policy issued beside this one (and whatever replaced that since), or another
        issued for the group apart. A 撤单 or 批改 of this one leaves them as they are."""
        rows = self.conn.execute(
            "SELECT policy_no, start_at, tour_group FROM policies WHERE agency = ? AND status = ?"
            " AND policy_no != ? AND statement_no = '' AND start_at < ? AND end_at > ? ORDER BY policy_no",
            (policy.agency, ACTIVE, policy.policy_no, to_text(policy.end), to_text(policy.start)),
        )
        # the group as 投保 compares it: gz-t1 issued apart is the same group as GZ-T1
        want = group_key(policy.tour_group)
        return [(row[0], from_text(row[1])) for row in rows if group_key(row[2]) == want]

    def replacement(self, policy_no: str) -> Replacement | None:
        """The policy that replaces this one now, following the chain (None: nothing replaced it)."""
        return replacement(self.conn, policy_no)

    def placed(self, policy: Policy) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        """Where a void policy's people stand now, as the lookup page tells each of them (lookup.where_now):
        the names of those nothing covers (left out of its replacement by a 减人 or 换人, on no live policy
        issued from it since), and (name, policy number) of those a 加人 put back on another policy than
        its replacement (the page named only the replacement, which does not list them). One a 信息变更
        cannot tell apart is in neither. Those whose ID every step of the chain holds are on its head
        without asking further (one query)."""
        from .lookup import where_now

        steps = chain(self.conn, policy.policy_no)
        if not steps:
            return (), ()
        numbers = [s[0] for s in steps]
        held: dict[tuple[str, str], int] = {}
        marks = ",".join("?" * len(numbers))
        for id_type, id_no, _ in self.conn.execute(
            f"SELECT DISTINCT id_type, id_no, policy_no FROM insured WHERE policy_no IN ({marks})", numbers
        ):
            held[(id_type, id_no)] = held.get((id_type, id_no), 0) + 1
        out: list[str] = []
        moved: list[tuple[str, str]] = []
        for person in policy.people:
            if held.get((person.id_type, person.id_no)) == len(numbers):
                continue  # on every step: on the head by their ID
            head, on_head, unsure, _ = where_now(self.conn, policy.policy_no, person, steps)
            if not on_head and not unsure:
                out.append(person.name)
            elif on_head and head is not None and head.policy_no != steps[-1][0]:
                moved.append((person.name, head.policy_no))
        return tuple(out), tuple(moved)

    def ancestors(self, policy_no: str) -> list[str]:
        """Every policy this one was issued from, by any endorsement (加人 too), newest first."""
        return ancestors(self.conn, policy_no)

    def replaced(self, policy_no: str) -> list[str]:
        """The policies this one replaced, directly or through others."""
        return replaced(self.conn, policy_no)

    def live_overlaps(self, agency: str, ids: list[tuple[str, str]], start: datetime, end: datetime) -> list[Overlap]:
        """People of `ids` already on this agency's live policies whose cover overlaps [start, end).

        From the people (the insured(id_no, …) index) to their policies, never the other way round: a plan
        that starts from the agency walks every policy it ever had. SQLite keeps the order of a materialised
        CTE. PostgreSQL without statistics (a new ledger, or autovacuum off) guesses that 30 numbers match
        15% of the table and scans it all, so there each number and then each policy is one index probe
        (OFFSET 0 keeps the planner from merging the steps again)."""
        found: list[Overlap] = []
        wanted = set(ids)
        numbers = sorted({n for _, n in ids})
        for chunk in (numbers[i : i + 500] for i in range(0, len(numbers), 500)):
            if self.backend == "postgresql":
                sql = (
                    "SELECT h.id_type, h.id_no, p.policy_no, p.start_at, p.end_at, p.tour_group"
                    " FROM unnest(?::text[]) AS w(id_no)"
                    " CROSS JOIN LATERAL (SELECT id_type, id_no, policy_no FROM insured"
                    " WHERE id_no = w.id_no OFFSET 0) h"
                    " CROSS JOIN LATERAL (SELECT policy_no, agency, status, start_at, end_at, tour_group FROM policies"
                    " WHERE policy_no = h.policy_no OFFSET 0) p"
                )
                args: tuple = (chunk,)
            else:
                sql = (
                    f"WITH h AS MATERIALIZED (SELECT id_type, id_no, policy_no FROM insured"
                    f" WHERE id_no IN ({','.join('?' * len(chunk))}))"
                    " SELECT h.id_type, h.id_no, p.policy_no, p.start_at, p.end_at, p.tour_group FROM h"
                    " JOIN policies p ON p.policy_no = h.policy_no"
                )
                args = tuple(chunk)
            rows = self.conn.execute(
                sql + " WHERE p.agency = ? AND p.status = ? AND p.start_at < ? AND p.end_at > ?",
                (*args, agency, ACTIVE, to_text(end), to_text(start)),
            )
            for t, n, no, s, e, g in rows:
                # Under 其他 on either side, the same number is the same traveller (one whose passport was typed
                # as 其他 once was insured twice for the same group): said under the type the request has.
                for key in [(t, n)] if (t, n) in wanted else [k for k in ids if same_document(t, n, *k)]:
                    found.append(Overlap(key[0], n, no, from_text(s), from_text(e), g))
        return found

    # --- one-off chores of a new release ----------------------------------------------------

    def chore_done(self, name: str) -> bool:
        return self.conn.execute("SELECT 1 FROM chores WHERE name = ?", (name,)).fetchone() is not None

    def finish_chore(self, name: str, at: datetime) -> None:
        self.conn.execute("INSERT INTO chores VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (name, to_text(at)))

    def cancelled_policies(self) -> list[Policy]:
        rows = self.conn.execute(POLICY_SELECT + " WHERE p.status = ? ORDER BY p.policy_no", (CANCELLED,)).fetchall()
        return [self._policy(r, True) for r in rows]

    # --- counts for tests and status ------------------------------------------------------

    def counts(self) -> dict[str, int]:
        tables = ("agencies", "plan_versions", "requests", "policies", "insured", "journal")
        return {t: self.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
