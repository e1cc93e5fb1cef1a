"""Whether a `watcher recover` is under way or stopped on a mismatch: while it is, the desk does not start.
Kept light (read at every start and by `watcher status`); the replay itself is service/replay.py."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from .. import events
from ..io.atomic import write_bytes
from ..layout import Layout

# An archived original's name: HHMMSS_<sha256's first 8>_[n_]<the name as dropped> (walk/archive.py).
ARCHIVED_NAME = re.compile(r"^(\d{6})_([0-9a-f]{8})_(?:(\d+)_)?(.+)$")

FOLDER = ".watcher-recover"
STATE = "state.json"


def state_path(root: Path) -> Path:
    return Path(root) / FOLDER / STATE


# What stops a running service once a recovery is under way on its root (it must not take files beside the
# replay, nor go on afterwards on what it holds in memory): it holds until the service is started again.
UNDER_WAY = "watcher recover 正在（或曾经）在此目录运行而未完成：恢复期间与恢复之后，运行中的服务都不能继续受理"


def under_way(root: Path) -> bool:
    """Whether a recovery started on this root and has not finished (one stat: asked before each walk)."""
    return state_path(root).exists()


def unfinished(root: Path) -> dict | None:
    """What a recovery left (in progress, or stopped on a mismatch): the desk does not start meanwhile."""
    try:
        return json.loads(state_path(root).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        return {"state": "unreadable"}


def save_state(root: Path, state: str, **more) -> None:
    path = state_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, json.dumps({"state": state, **more}, ensure_ascii=False, indent=1).encode("utf-8"))


def clear(root: Path) -> None:
    """Recovered: the scratch folder goes (whatever it still holds is already in the outbox)."""
    shutil.rmtree(Path(root) / FOLDER, ignore_errors=True)


def clear_outputs(root: Path) -> None:
    """The outputs a recovery that stopped on a mismatch wrote aside: the next run replays onto the ledger
    as it is then (the backup restored again, as the report says) and writes its own."""
    shutil.rmtree(Path(root) / FOLDER / "outbox", ignore_errors=True)


def unheld(archive: Path, ledger, zone, last: int | None = 20) -> list[str]:
    """The latest business of the desk's event log (up to `last` files that changed the ledger and month-end
    runs; `last=None`: the whole log, as `check` reads it) that the ledger does not hold: a ledger restored
    from an older backup, or made anew, whose mark of numbers was lost with it (the log is beside the
    archive, not the ledger). Each event is written after its commit, so a ledger in use holds every one of
    them. Each missing piece of business is named once (the same file's events, e.g. a retry, count once)."""
    logged = events.tail(archive) if last is not None else events.read(archive)
    recent = [e for e in logged if (e.kind == "file" and e.data.get("committed")) or e.kind == "month-end"]
    if last is not None:
        recent = recent[-last:]
    if not recent:
        return []
    from ..ledger.common import to_text

    runs = {(r.month.strftime("%Y-%m"), r.trigger, to_text(r.started_at)) for r in ledger.runs()}
    missing: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for e in recent:
        when = f"{e.at.astimezone(zone):%Y-%m-%d %H:%M:%S}"
        if e.kind == "file":
            key: tuple[str, ...] = ("file", str(e.data.get("agency")), str(e.data.get("sha256")))
            if key in seen:
                continue
            seen.add(key)
            if not ledger.holds_request(key[1], key[2]):
                missing.append(f"{e.data.get('agency')}/{e.data.get('file')}（{when}）")
        else:
            key = ("month-end", str(e.data.get("month")), str(e.data.get("trigger")), to_text(e.at))
            if key not in seen and key[1:] not in runs:
                missing.append(f"{e.data.get('month')} 月结（{when}）")
            seen.add(key)
    return missing


def issued_unheld(layout: Layout, ledger, zone) -> list[str]:
    """Files the desk issued (their result says 成功) that neither the ledger nor the event log holds: their
    originals archived after the ledger's latest business, named by no line of the log and by no file in
    hand. A ledger restored together with its mark of numbers and the event log (a backup taken "with its
    files") is level with both, yet hands the numbers printed since its backup out again. The originals
    (insurer side) and their results (whose bytes' hash only the desk knows) say so: done (成功), of an
    action that changes the ledger; where an agency's system took the JSON twins away, the electronic
    policies printed since, under numbers the ledger lacks. Read at start: the archive's day folders from the
    ledger's latest business on. A file whose log line a power cut took and that changed nothing (a failure,
    a query) is not counted."""
    import os
    from datetime import datetime, timedelta

    from ..walk.archive import CHANGED_TAG
    from ..walk.claim import read_record
    from . import scan

    if not layout.archive.is_dir():
        return []
    latest = ledger.latest_processed()
    first_day = f"{latest.astimezone(zone):%Y-%m-%d}" if latest is not None else ""
    candidates: dict[tuple[str, str], tuple[str, datetime]] = {}  # (agency, sha8) → (archived, when)
    for agency in sorted(layout.archive.iterdir()):
        if agency.name == events.FOLDER or not agency.is_dir():
            continue
        for day in sorted(d for d in agency.iterdir() if d.name >= first_day and d.is_dir()):
            for path in day.iterdir():
                found = ARCHIVED_NAME.match(path.name)
                if path.name.startswith(".") or not found or found.group(4).startswith(CHANGED_TAG[1:] + "_"):
                    continue
                try:
                    at = datetime.strptime(f"{day.name} {found.group(1)}", "%Y-%m-%d %H%M%S").replace(tzinfo=zone)
                except ValueError:
                    continue
                if latest is None or at + timedelta(seconds=1) > latest:
                    rel = str(path.relative_to(layout.archive))
                    candidates[(agency.name, found.group(2))] = (rel, at)
    if not candidates:
        return []
    held = set()  # the copies of files in hand (their records name them before they are made)
    for who in {a for a, _ in candidates}:
        for claimed in scan.claimed_in(layout, who, every=True):
            record = read_record(claimed, who)
            if record is not None and record.archived:
                held.add(os.path.normpath(record.archived))
    logged = events.tail(layout.archive)
    if logged and latest is not None and logged[0].at > latest:
        logged = events.read(layout.archive)  # more files since than the tail holds
    named = {str(e.data.get("archived")) for e in logged if e.kind == "file"}
    left = {
        key: (rel, at)
        for key, (rel, at) in candidates.items()
        if rel not in named and os.path.normpath(layout.archive / rel) not in held and not _holds(ledger, *key)
    }
    issued: list[str] = []
    for who in sorted({a for a, _ in left}):
        since = min(at for (a, _), (_, at) in left.items() if a == who).timestamp() - 60
        pages: list[str] = []
        for output in sorted(layout.out(who).iterdir()) if layout.out(who).is_dir() else []:
            page = _PAGE.fullmatch(output.name)
            if output.suffix not in (".json", ".html") or (output.suffix == ".html" and page is None):
                continue
            try:
                if output.stat().st_mtime < since:
                    continue
                raw = output.read_bytes()
            except OSError:
                continue
            if page is not None:  # 电子保单_<no>.html: its number, whatever took the JSON twin away
                if not _numbered(ledger, page.group(1)):
                    pages.append(f"outbox/{who}/{output.name}")
                continue
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(data, dict) or data.get("status") != "success" or data.get("action") in READ_ONLY:
                continue
            key = (who, str(data.get("sha256", ""))[:8])
            if key in left:  # done, and the ledger holds no request of it: a 撤单, a rate change, lost with it
                rel, at = left.pop(key)
                issued.append(f"{who}/{data.get('file') or rel}（{at:%Y-%m-%d %H:%M:%S}）")
        if pages and any(a == who for a, _ in left):  # the twins gone: the pages printed since say it
            issued += pages[:3]
    return issued


_PAGE = re.compile(r"电子保单_(LY\d{15,})\.html")
# What changes nothing in the ledger (no request of it is recorded): one whose log line a power cut took is no
# sign of a ledger gone back.
READ_ONLY = frozenset(("保单查询", "业务明细", "补打保单", "对账单查询", "业绩", "试算"))


def _numbered(ledger, number: str) -> bool:
    """Whether the ledger holds this policy or statement number."""
    table, column = ("policies", "policy_no") if number.startswith("LY") else ("statements", "statement_no")
    return ledger.conn.execute(f"SELECT 1 FROM {table} WHERE {column} = ?", (number,)).fetchone() is not None


def _holds(ledger, agency: str, sha8: str) -> bool:
    """Whether the ledger holds a request of this agency whose bytes' hash begins so (a replayed original the
    log never named)."""
    row = ledger.conn.execute(
        "SELECT 1 FROM requests WHERE agency = ? AND sha256 LIKE ? LIMIT 1", (agency, f"{sha8}%")
    ).fetchone()
    return row is not None


def lags(root: Path, mark: Path, ledger, zone, last: int = 20) -> bool:
    """Whether the ledger is behind the numbers the desk handed out (its mark at `mark`), or lacks the event
    log's latest business: what `status` says and what keeps the lookup page in maintenance."""
    from ..ledger.issued import Issued, behind

    issued, _ = Issued(mark).read()
    return bool(behind(ledger.numbers_used(), issued)) or bool(unheld(Layout(root).archive, ledger, zone, last))


LOST = ".watcher-lost-outputs.json"  # in the root: done requests whose outputs and claim record are gone


def note_lost(root: Path, line: str, expect: str | None = None) -> None:
    """A request done whose outputs were never written and whose claim record was deleted (its agency's
    hidden folder removed): nothing else remembers it, so `status` reads it here until `recover` writes
    the outputs, or they appear otherwise (`expect`: its JSON twin, relative to the outbox; the same bytes
    dropped again write the outputs the earlier request lacks). Best effort (the disk may be the trouble);
    the log says it too."""
    path = Path(root) / LOST
    entry: dict[str, str] = {"line": line, **({"expect": expect} if expect else {})}
    try:
        lines = json.loads(path.read_text("utf-8")) if path.exists() else []
        if entry not in lines:
            write_bytes(path, json.dumps([*lines, entry], ensure_ascii=False, indent=1).encode("utf-8"))
    except (OSError, ValueError):
        pass


def lost_outputs(root: Path) -> list[str]:
    """What `note_lost` noted, but for those whose outputs have been written since."""
    try:
        lines = json.loads((Path(root) / LOST).read_text("utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(lines, list):
        return []
    found = []
    for entry in lines:
        if isinstance(entry, dict):
            expect = entry.get("expect")
            if isinstance(expect, str) and expect and (Layout(root).outbox / expect).is_file():
                continue
            found.append(str(entry.get("line", "")))
        else:  # (the form of the release before: a line alone)
            found.append(str(entry))
    return found


def clear_lost(root: Path) -> None:
    """`recover` wrote every output the outbox lacked: nothing is lost any more."""
    (Path(root) / LOST).unlink(missing_ok=True)
