"""Whether a `watcher recover` is under way or stopped on a mismatch: while it is, the desk does not start.
Kept light (read at every start and by `watcher status`); the replay itself is service/replay.py."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from .. import events
from ..io.atomic import write_bytes

FOLDER = ".watcher-recover"
STATE = "state.json"


def state_path(root: Path) -> Path:
    return Path(root) / FOLDER / STATE


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


def unheld(archive: Path, ledger, zone, last: int = 20) -> list[str]:
    """The latest business of the desk's event log (up to `last` files that changed the ledger and month-end
    runs) that the ledger does not hold: a ledger restored from an older backup, or made anew, whose mark
    of numbers was lost with it (the log is beside the archive, not the ledger). Each event is written
    after its commit, so a ledger in use holds every one of them."""
    recent = [
        e for e in events.tail(archive) if (e.kind == "file" and e.data.get("committed")) or e.kind == "month-end"
    ][-last:]
    if not recent:
        return []
    from ..ledger.common import to_text

    runs = {(r.month.strftime("%Y-%m"), r.trigger, to_text(r.started_at)) for r in ledger.runs()}
    missing = []
    for e in recent:
        when = f"{e.at.astimezone(zone):%Y-%m-%d %H:%M:%S}"
        if e.kind == "file":
            if ledger.effective_request(str(e.data.get("agency")), str(e.data.get("sha256"))) is None:
                missing.append(f"{e.data.get('agency')}/{e.data.get('file')}（{when}）")
        elif (str(e.data.get("month")), str(e.data.get("trigger")), to_text(e.at)) not in runs:
            missing.append(f"{e.data.get('month')} 月结（{when}）")
    return missing


_ORIGINAL = re.compile(r"^(\d{6})_[0-9a-f]{8}_")  # HHMMSS_<sha256[:8]>_…: walk/archive.py names each copy so
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def unlogged(layout, ledger, zone, tail: list | None = None) -> list[str]:
    """Processed originals in the archive (archive/<AGENCY>/<date>/) newer than anything the ledger holds
    that the event log does not name either, and that no file in hand is being processed from: the third
    evidence of business done, when the ledger, its mark of numbers and the event log were all restored
    from one older backup (the archive's newer originals left in place). A ledger in use holds or logs
    every file it walked: each walk is logged right after it, each commit is in the ledger. Only the day
    folders from the ledger's latest business on are read (at each start, `status`, the lookup page)."""
    archive = Path(layout.archive)
    if not archive.is_dir():
        return []
    latest = ledger.latest_processed()
    events_now = events.tail(archive) if tail is None else tail
    named = {str(e.data.get("archived")) for e in events_now if e.kind == "file"}
    first_day = latest.astimezone(zone).strftime("%Y-%m-%d") if latest is not None else ""
    found: list[str] = []
    in_hand: set[str] | None = None
    for agency in archive.iterdir():
        if not agency.is_dir() or agency.name == events.FOLDER:
            continue
        for day in agency.iterdir():
            if not (_DAY.fullmatch(day.name) and day.name >= first_day and day.is_dir()):
                continue
            for path in day.iterdir():
                match = _ORIGINAL.match(path.name)
                if match is None or path.name[16:].startswith("办理后修改_"):
                    continue  # no original (a copy being made, a file changed after it was processed)
                rel = str(path.relative_to(archive))
                if rel in named:
                    continue
                try:
                    local = datetime.strptime(f"{day.name} {match.group(1)}", "%Y-%m-%d %H%M%S").replace(tzinfo=zone)
                except ValueError:
                    continue
                if latest is not None and local < latest + timedelta(seconds=1):
                    continue
                if in_hand is None:
                    in_hand = _copies_in_hand(layout)
                if str(path) not in in_hand and path.is_file():
                    found.append(rel)
    return sorted(found)


def _copies_in_hand(layout) -> set[str]:
    """The archived copies that files in hand (claimed, not finished: this run's or one to resume) name."""
    from ..layout import CLAIMED
    from ..walk.claim import read_record

    copies: set[str] = set()
    workbooks = Path(layout.workbooks)
    if not workbooks.is_dir():
        return copies
    for drop in workbooks.iterdir():
        claimed = drop / CLAIMED
        if not claimed.is_dir():
            continue
        for path in claimed.rglob("*"):  # a worker's own folder in it too
            if path.is_file() and not path.name.startswith("."):
                record = read_record(path, drop.name)
                if record is not None and record.archived:
                    copies.add(record.archived)
    return copies


def lags(root: Path, mark: Path, ledger, zone, last: int = 20) -> bool:
    """Whether the ledger is behind the numbers the desk handed out (its mark at `mark`), or lacks the event
    log's latest business: what `status` says and what keeps the lookup page in maintenance."""
    from ..layout import Layout
    from ..ledger.issued import Issued, behind

    issued, _ = Issued(mark).read()
    layout = Layout(root)
    return (
        bool(behind(ledger.numbers_used(), issued))
        or bool(unheld(layout.archive, ledger, zone, last))
        or bool(unlogged(layout, ledger, zone))
    )
