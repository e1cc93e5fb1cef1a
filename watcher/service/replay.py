"""`watcher recover`: bring a ledger restored from a backup (or new and empty) forward by replaying the
archive, in the order the desk's event log (watcher/events.py) gives, each event at its recorded moment.

    1. What the ledger already holds is skipped: a file whose request is recorded (agency + hash), a
       month-end run recorded at that moment. Files that changed nothing (failures, quotes, queries) are
       replayed only after the last event the ledger holds, so they read the ledger as it was.
    2. Each file is walked again from its archived copy (hash checked) under its result name, at its
       moment; each month-end run again at its moment. Outputs are written into `.watcher-recover/outbox/`,
       never over the outbox.
    3. Verified: `check` on the rebuilt ledger, its numbers against the desk's mark, every event replayed
       as it first ended (a file that changed the ledger changes it again, one that did not does not), and
       the JSON twins it wrote against those in the outbox (a cross-check only: the outbox is
       agency-writable). Then only the outputs missing from the outbox are moved in; one that differs is
       reported, never rewritten.

While it runs, and after a mismatch, `.watcher-recover/state.json` stops `serve` and `process` from
starting. Killed half-way, it runs again from where it stopped (what the ledger holds is skipped) and ends
with the same ledger; on an up-to-date ledger it changes nothing.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from .. import events
from ..demo import DEMO_AGENCY
from ..domain.policy import CANCELLED
from ..domain.problems import file_problem
from ..domain.settlement import parse_month
from ..io.atomic import TEMP_SUFFIX, replacing
from ..layout import Layout
from ..ledger.common import to_text
from ..ledger.schema import NUMBER_WORDS, NUMBERED
from ..walk.archive import CHANGED_TAG, Snapshot
from ..walk.claim import Claim
from ..walk.desk import Desk
from ..walk.flow import walk
from ..walk.preflight import sha256_of
from ..walk.render import finish, plan, run_job
from ..walk.shows import gather
from .recovering import ARCHIVED_NAME as _ARCHIVED
from .recovering import FOLDER

log = logging.getLogger("watcher")


@dataclass
class Item:
    """One thing to replay: an event of the log, or an archived original the log does not name."""

    kind: str
    at: datetime
    data: dict
    line: int  # place in the log; -1 for an original found only in the archive


@dataclass
class RecoverReport:
    replayed: Counter = field(default_factory=Counter)  # kind → how many replayed
    skipped: int = 0  # already in the ledger
    unlogged: list[str] = field(default_factory=list)  # originals ordered by their archive name only
    missing: list[str] = field(default_factory=list)  # originals gone that changed nothing (not replayed)
    repaired: set[str] = field(default_factory=set)  # outputs written again for what the ledger held
    mismatches: list[str] = field(default_factory=list)  # stop: nothing is guessed
    differs: list[str] = field(default_factory=list)  # outbox JSON twins that say otherwise (not rewritten)
    renumbered: list[str] = field(default_factory=list)  # of those, twins that print other numbers
    unmatched: list[str] = field(default_factory=list)  # JSON twins the replay wrote that the outbox lacks
    unlogged_committed: int = 0  # originals only the archive knows, replayed by this run, that changed the ledger
    committed: int = 0  # files and month-ends replayed by this run that changed the ledger (a rerun's: none new)
    written: list[str] = field(default_factory=list)  # outputs missing from the outbox, written now
    agencies: dict[str, dict] = field(default_factory=dict)  # per agency: policies, premium, statements, paid
    problems: list[str] = field(default_factory=list)  # `check` on the rebuilt ledger

    @property
    def ok(self) -> bool:
        return not (self.mismatches or self.problems)


@dataclass
class Planned:
    items: list[Item]
    unlogged: list[str]  # originals the log does not name, placed by their archive names
    held: int  # events the ledger holds already
    damaged: list[int]  # lines of the log that could not be read
    logged: int  # events in the log


def plan_replay(layout: Layout, ledger, zone) -> Planned:
    """The events to replay, in order (see the module's docstring)."""
    damaged: list[int] = []
    logged = events.read(layout.archive, damaged)
    finished: Counter = Counter()
    started: dict[tuple, list[int]] = defaultdict(list)  # runs the ledger holds started, not finished
    for r in ledger.runs():
        key = (r.month.strftime("%Y-%m"), r.trigger, to_text(r.started_at))
        if r.finished_at is not None:
            finished[key] += 1
        else:
            started[key].append(r.id)
    seen: Counter = Counter()
    held: list[bool] = []  # the ledger holds this event's effect
    extra_data: list[dict] = []  # what an event to replay needs besides the log's line
    last = -1  # the last business event the ledger holds
    for i, event in enumerate(logged):
        more: dict = {}
        if event.kind == "file" and event.data.get("committed"):
            agency, sha = str(event.data.get("agency")), str(event.data.get("sha256"))
            earlier = ledger.effective_request(agency, sha)
            held.append(earlier is not None)
            if earlier is not None and not all((layout.out(agency) / name).exists() for name in earlier.outputs):
                more = {"repair": True}  # in the ledger, its outputs missing from the outbox: written again
        elif event.kind == "file":
            held.append(False)  # changed nothing: replayed only after what the ledger holds (below)
            extra_data.append(more)
            continue
        elif event.kind == "month-end":
            key = (str(event.data.get("month")), str(event.data.get("trigger")), to_text(event.at))
            seen[key] += 1
            held.append(seen[key] <= finished[key])
            if not held[-1] and started[key]:
                more = {"resume": started[key].pop(0)}  # its settlement is in the ledger, its finish is not
        elif event.kind == "init":  # the demo data loaded, or nothing to load
            held.append(not event.data.get("demo") or ledger.agency(DEMO_AGENCY.code) is not None)
            extra_data.append(more)
            continue
        else:  # migrate: the ledger moved to another database; nothing in it changed
            held.append(True)
            extra_data.append(more)
            continue
        extra_data.append(more)
        if held[-1] or more:
            last = i
    items = []
    for i, (event, h, more) in enumerate(zip(logged, held, extra_data, strict=True)):
        if h and not more.get("repair"):
            continue
        if event.kind == "file" and not event.data.get("committed") and i < last:
            continue  # changed nothing, and the ledger is past it: replaying would read a later ledger
        items.append(Item(event.kind, event.at, {**event.data, **more}, event.line))
    # Originals the log does not name (a line lost to a power cut, an archive older than the log), newer
    # than anything the ledger holds: placed by their archive name's second.
    named = {str(e.data.get("archived")) for e in logged if e.kind == "file"}
    latest = ledger.latest_processed()
    extra: list[Item] = []
    for path in archived_originals(layout):
        rel = str(path.relative_to(layout.archive))
        if rel in named or changed_copy(path):
            continue
        found = _ARCHIVED.match(path.name)
        if not found:
            continue
        try:
            local = datetime.strptime(f"{path.parent.name} {found.group(1)}", "%Y-%m-%d %H%M%S").replace(tzinfo=zone)
        except ValueError:
            continue
        if latest is not None and local + timedelta(seconds=1) <= latest:
            continue
        who = path.parent.parent.name
        data = {"agency": who, "archived": rel, "file": found.group(4), "unlogged": True, "sha8": found.group(2)}
        extra.append(Item("file", local, data, -1))
    # Within one second, in the order the desk took them (each copy's time is the moment its file was
    # claimed, to the microsecond); the name (its hash) only where the times tie.
    extra.sort(key=lambda item: (item.at, _made_ns(layout.archive / item.data["archived"]), item.data["archived"]))
    merged: list[Item] = []
    for item in items:
        while extra and extra[0].at < item.at:
            merged.append(extra.pop(0))
        merged.append(item)
    merged += extra
    unlogged = [f"{i.data['archived']}" for i in merged if i.data.get("unlogged")]
    holds = sum(1 for h, more in zip(held, extra_data, strict=True) if h and not more.get("repair"))
    return Planned(merged, unlogged, holds, damaged, len(logged))


def strangers(layout: Layout, ledger) -> list[str]:
    """What the ledger holds that this desk never did: requests whose bytes no archived original and no line
    of the event log has, finished month-end runs the log does not name (when it names any). A backup of
    another desk's ledger, not a ledger behind or ahead of its own mark by a crash."""
    logged = events.read(layout.archive)
    known = {(str(e.data.get("agency")), str(e.data.get("sha256", ""))[:8]) for e in logged if e.kind == "file"}
    for path in archived_originals(layout):
        found = _ARCHIVED.match(path.name)
        if found:
            known.add((path.parent.parent.name, found.group(2)))
    found_here = [
        f"{agency}/{name}（{to_text(at) if not isinstance(at, str) else at}）"
        for agency, sha, name, at in ledger.conn.execute("SELECT agency, sha256, file_name, processed_at FROM requests")
        if (str(agency), str(sha)[:8]) not in known
    ]
    runs = {
        (str(e.data.get("month")), str(e.data.get("trigger")), to_text(e.at)) for e in logged if e.kind == "month-end"
    }
    if runs:
        found_here += [
            f"{r.month:%Y-%m} 月结（{to_text(r.started_at)}）"
            for r in ledger.runs()
            if r.finished_at is not None and (r.month.strftime("%Y-%m"), r.trigger, to_text(r.started_at)) not in runs
        ]
    return found_here


def _made_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def changed_copy(path: Path) -> bool:
    """A file's bytes changed after it was processed, kept beside the processed copy (never processed
    itself): `HHMMSS_<sha>_办理后修改_<name>` beside an original `HHMMSS_…_<name>` of the same second."""
    found = _ARCHIVED.match(path.name)
    if not found or not found.group(4).startswith(CHANGED_TAG[1:] + "_"):
        return False
    name = found.group(4)[len(CHANGED_TAG) :]
    for sibling in path.parent.glob(f"{found.group(1)}_*"):
        other = _ARCHIVED.match(sibling.name)
        if sibling != path and other and other.group(4) == name:
            return True
    return False


def archived_originals(layout: Layout) -> list[Path]:
    found: list[Path] = []
    if not layout.archive.is_dir():
        return found
    for agency in sorted(layout.archive.iterdir()):
        if not agency.is_dir() or agency.name == events.FOLDER:
            continue
        for day in sorted(agency.iterdir()):
            if day.is_dir() and re.fullmatch(r"\d{4}-\d{2}-\d{2}", day.name):
                found += sorted(p for p in day.iterdir() if p.is_file() and not p.name.startswith("."))
    return found


_NUMBERS = NUMBER_WORDS  # the ledger's sequences, as the reports name them


def _serials(numbers: dict[str, list[int]]) -> str:
    return "，".join(f"{_NUMBERS.get(n, n)} {'、'.join(map(str, v))}" for n, v in sorted(numbers.items()) if v) or "无"


class Replay:
    def __init__(self, desk: Desk, report: RecoverReport):
        self.desk, self.report = desk, report
        self.layout = desk.layout
        self.scratch = Layout(self.layout.root / FOLDER)  # outputs go to <root>/.watcher-recover/outbox/
        self.in_use: dict[str, set[int]] | None = None  # serials the ledger holds (read at the first need)

    def _give(self, item: Item, where: str) -> dict[str, list[int]] | None:
        """The numbers the event recorded, handed out again by the ledger in the order they were drawn: a
        replay drawing afresh renumbers everything after a gap (a draw rolled back on PostgreSQL, whose
        sequences never give a number back). None, a mismatch reported, where the record is unreadable or
        names a number the ledger holds already. An event logged before numbers were recorded gives {}:
        the sequence hands out the next."""
        recorded = item.data.get("numbers")
        if recorded is None or item.data.get("repair") or item.data.get("resume"):
            return {}
        if not (
            isinstance(recorded, dict)
            and set(recorded) <= set(NUMBERED)
            and all(
                isinstance(v, list) and all(type(n) is int and n > 0 for n in v) and len(set(v)) == len(v)
                for v in recorded.values()
            )
        ):
            self.report.mismatches.append(f"{where}：事件记录中它发出的编号无法读取（{recorded!r}），无法重放")
            return None
        if self.in_use is None:
            self.in_use = self.desk.ledger.serials_in_use()
        taken = {n: [v for v in values if v in self.in_use[n]] for n, values in recorded.items()}
        if any(taken.values()):
            self.report.mismatches.append(
                f"{where}：事件记录中它发出的编号在恢复前的账本中已有别的业务使用（{_serials(taken)}），"
                "账本与事件记录不是同一台机器的：请换上本机账本的备份，再运行 watcher recover"
            )
            return None
        numbers = {n: list(v) for n, v in recorded.items() if v}
        self.desk.ledger.given = {n: list(v) for n, v in numbers.items()}
        return numbers

    def _given_back(self, where: str, numbers: dict[str, list[int]], drawn: dict[str, list[int]]) -> None:
        """After the replay of an event whose numbers were recorded: it drew exactly those."""
        self.desk.ledger.given = None
        drawn = {n: v for n, v in drawn.items() if v}
        if self.in_use is not None:
            for name, values in drawn.items():
                self.in_use.setdefault(name, set()).update(values)
        if numbers and drawn != numbers:
            self.report.mismatches.append(
                f"{where}：重放发出的编号（{_serials(drawn)}）与当初发出的（{_serials(numbers)}）不同"
            )

    def run(self, items: list[Item]) -> None:
        for item in items:
            if self.report.mismatches:
                return  # stop at the first: what follows would build on it
            if item.kind == "file":
                self._file(item)
            elif item.kind == "month-end":
                self._month_end(item)
            elif item.kind == "init":
                self._init(item)
            else:
                self.report.replayed[item.kind] += 1  # migrate: the ledger moved, nothing in it changed

    def _file(self, item: Item) -> None:
        data, desk = item.data, self.desk
        who = str(data.get("agency", ""))
        where = f"{who}/{data.get('file', '')}（{item.at.astimezone(desk.zone):%Y-%m-%d %H:%M:%S}）"
        copy = self.layout.archive / str(data.get("archived", ""))
        if not data.get("archived") or not copy.is_file():
            if data.get("committed"):
                self.report.mismatches.append(
                    f"{where}：归档原件 {data.get('archived') or '（未记录）'} 不见了，无法重放"
                )
            else:  # it changed nothing: the ledger does not miss it, the report names it
                self.report.missing.append(f"{where}：归档原件 {data.get('archived') or '（未记录）'} 不见了")
            return
        sha, size = sha256_of(copy)
        if (data.get("sha256") and sha != data["sha256"]) or (data.get("sha8") and sha[:8] != data["sha8"]):
            self.report.mismatches.append(f"{where}：归档原件 {copy.name} 的内容与记录的不符（已被改动），无法重放")
            return
        if data.get("unlogged") and desk.ledger.effective_request(who, sha) is not None:
            self.report.skipped += 1
            return
        original = str(data.get("file") or copy.name)
        stem = str(data.get("stem") or "")
        if not stem:
            stem, original = self._stem_of(who, original, sha)
        record = Claim(copy, who, original, stem, str(copy), sha, snap=Snapshot(copy, sha, size), at=item.at)
        desk.now = lambda: item.at
        # A request the ledger holds already (a second line of one file: a run killed while writing its
        # outputs logs the walk again when it takes the file up) is shown again, drawing nothing.
        numbers = {} if desk.ledger.effective_request(who, sha) is not None else self._give(item, where)
        if numbers is None:
            return
        try:
            outcome = walk(desk, record)
        finally:
            desk.ledger.given = None
        self._given_back(where, numbers, outcome.numbers if outcome.committed and not data.get("repair") else {})
        self.report.replayed["repair" if data.get("repair") else "file"] += 1
        if outcome.committed:
            self.report.committed += 1
            if data.get("unlogged"):
                self.report.unlogged_committed += 1
        if "committed" in data and bool(data["committed"]) != outcome.committed:
            first = "改变了账本" if data["committed"] else "未改变账本"
            now = "改变了账本" if outcome.committed else f"未改变账本（{outcome.status}）"
            self.report.mismatches.append(f"{where}：当初{first}，重放时{now}")
            return
        if data.get("changed_after") and outcome.committed and not data.get("repair"):
            # The dropped file was written again after its commit: its result said so; this one says so too.
            outcome = replace(outcome, problems=[*outcome.problems, file_problem("file.changed_after", warning=True)])
        if outcome.committed and outcome.action == "机构":
            from .pipeline import ensure_folders

            ensure_folders(desk)
        out_dir = self.scratch.out(who)
        out_dir.mkdir(parents=True, exist_ok=True)
        outcome = gather(outcome, desk.ledger, desk.zone)
        rendering = plan(outcome, out_dir, self.scratch, desk.settings)
        desk.ledger.marked()
        for job in rendering.jobs:
            job.path.parent.mkdir(parents=True, exist_ok=True)
            run_job(job)
        finish(rendering)
        if data.get("repair"):  # written from the ledger as it is now, not replayed: not compared below
            for path in [job.path for job in rendering.jobs] + [rendering.json_path]:
                try:
                    self.report.repaired.add(str(path.relative_to(self.scratch.outbox)))
                except ValueError:
                    continue

    def _stem_of(self, who: str, original: str, sha: str) -> tuple[str, str]:
        """The result name of an original the log does not name, and its file name: the one whose JSON twin
        in the outbox is of these bytes (the name it was given; the file's own name, which the archive keeps
        only made safe and cut short, when the twin's makes the archive's), else a new one as the walk gives."""
        from ..walk.names import result_stem, safe_name, safe_stem

        base = safe_stem(Path(original).stem if "." in original else original)
        out = self.layout.out(who)
        for n in range(1, 100):
            stem = f"{base}_结果" if n == 1 else f"{base}_结果_{n}"
            twin = out / f"{stem}.json"
            if not twin.exists():
                break
            try:
                data = json.loads(twin.read_bytes())
                if data.get("sha256") == sha:
                    name = data.get("file")
                    return stem, name if isinstance(name, str) and safe_name(name) == original else original
            except (OSError, ValueError, AttributeError):
                continue
        return result_stem(self.desk, who, original), original

    def _month_end(self, item: Item) -> None:
        from .month_end import run_month_end

        month = parse_month(str(item.data.get("month")))
        where = f"{item.data.get('month')} 月结（{item.at.astimezone(self.desk.zone):%Y-%m-%d %H:%M:%S}）"
        numbers = self._give(item, where)
        if numbers is None:
            return
        try:
            done = run_month_end(
                self.desk.ledger,
                self.scratch,
                self.desk.settings,
                month,
                item.at,
                str(item.data.get("trigger") or "命令"),
                replay=True,
                resume=item.data.get("resume"),
                printed=self.layout,  # a statement's files in the outbox were there when the run first ran
            )
        finally:
            self.desk.ledger.given = None
        made = sorted(int(s.statement_no[8:]) for s in done.created) if item.data.get("resume") is None else []
        self._given_back(where, numbers, {"statement": made})
        self.report.replayed["month-end"] += 1
        self.report.committed += 1

    def _init(self, item: Item) -> None:
        if item.data.get("demo"):
            from ..demo import load_demo

            load_demo(self.desk.ledger, self.layout, item.at)
        self.report.replayed["init"] += 1


def reconcile(layout: Layout, report: RecoverReport, *, write: bool) -> None:
    """The outputs the replay wrote against the outbox: JSON twins compared; with `write`, those missing
    from the outbox moved in (whole: one rename on the same disk). Nothing in the outbox is rewritten."""
    scratch = layout.root / FOLDER / "outbox"
    if not scratch.is_dir():
        return
    for path in sorted(scratch.rglob("*")):
        if not path.is_file() or path.name.endswith(TEMP_SUFFIX):
            continue
        rel = path.relative_to(scratch)
        real = layout.outbox / rel
        if real.exists():
            if path.suffix == ".json" and str(rel) not in report.repaired and not _same_json(path, real):
                report.differs.append(str(Path("outbox") / rel))
                if _printed(path) != _printed(real):
                    report.renumbered.append(str(Path("outbox") / rel))
            continue
        if path.suffix == ".json" and str(Path("outbox") / rel) not in report.unmatched:
            report.unmatched.append(str(Path("outbox") / rel))
        if write:
            real.parent.mkdir(parents=True, exist_ok=True)
            _move_in(path, real)
            report.written.append(str(Path("outbox") / rel))


def _move_in(path: Path, real: Path) -> None:
    """One rename where the outbox is on the root's disk; where it is not (a share mounted at outbox/, an
    agency's folder linked elsewhere: the rename fails with EXDEV, and recover could never finish, the desk
    shut behind it), a copy written whole beside its place, then renamed there."""
    try:
        os.replace(path, real)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        with replacing(real) as tmp:
            shutil.copyfile(path, tmp)
        path.unlink()


_PRINTED = {"policy": re.compile(rb'"LY\d{8}(\d{7,})"'), "statement": re.compile(rb'"DZ\d{6}(\d{6,})"')}


def _printed(path: Path) -> set[bytes]:
    """The policy and statement numbers a JSON twin prints of its business (not `successors` and the rest
    of what is no business, which a later change writes otherwise)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return set()
    text = json.dumps(_business(data, data), ensure_ascii=False).encode("utf-8")
    return {m.group(0) for pattern in _PRINTED.values() for m in pattern.finditer(text)}


def printed_beyond(layout: Layout, used: dict[str, int]) -> list[str]:
    """JSON twins in the outbox that carry a policy or statement number past the ledger's (`used`): a
    number the desk printed that the replay did not hand out again (its original and its event line both
    lost). Raising the mark to `used` would hand it out a second time."""
    found = []
    for path in sorted(layout.outbox.glob("*/*.json")):
        try:
            text = path.read_bytes()
        except OSError:
            continue
        for name, pattern in _PRINTED.items():
            top = max((int(m) for m in pattern.findall(text)), default=0)
            if top > used.get(name, 0):
                found.append(f"{path.relative_to(layout.root)}（{_NUMBERS[name]}流水号 {top}）")
                break
    return found


# Not what a twin says of the business: when it was written (a statement written again by a later run),
# and what a later release adds or words otherwise (the outbox's twins may come from an earlier release:
# the replay runs today's code). Compared: the business itself, policies, numbers, money, statuses.
_NOT_BUSINESS = {"written_at", "warnings", "successors", "version", "version_id", "notes"}


def _same_json(a: Path, b: Path) -> bool:
    try:
        ours, theirs = json.loads(a.read_bytes()), json.loads(b.read_bytes())
    except (OSError, ValueError):
        return False
    if isinstance(ours, dict) and isinstance(theirs, dict):
        unchanged = ("failed", "quote")  # nothing committed: which errors it listed is no business of the ledger
        if ours.get("status") in unchanged and theirs.get("status") in unchanged:
            return all(ours.get(k) == theirs.get(k) for k in ("file", "sha256", "agency", "status"))
    return _business(ours, theirs) == _business(theirs, theirs)


def _business(value, shape):
    """`value` as far as the outbox's twin `shape` says anything: its keys (a key a later release added is
    not compared), without what is no business; errors by their codes; an `action` it left null."""
    if isinstance(value, dict) and isinstance(shape, dict):
        out = {}
        for key, item in value.items():
            if key in _NOT_BUSINESS or key not in shape or (key == "action" and shape[key] is None):
                continue
            if key == "errors" and isinstance(item, list):
                out[key] = [e.get("code") if isinstance(e, dict) else e for e in item]
                continue
            out[key] = _business(item, shape[key])
        return out
    if isinstance(value, list) and isinstance(shape, list) and len(value) == len(shape):
        return [_business(v, s) for v, s in zip(value, shape, strict=True)]
    return value


def tally(ledger) -> dict[str, dict]:
    """Per agency: policies not cancelled and their premium (as month-end's summary and 业务明细 count them),
    those cancelled apart, statements, payments (what the report shows)."""
    found: dict[str, dict] = defaultdict(
        lambda: {"policies": 0, "premium_fen": 0, "cancelled": 0, "statements": 0, "paid_fen": 0}
    )
    for agency, status, n, fen in ledger.conn.execute(
        "SELECT agency, status, COUNT(*), COALESCE(SUM(premium_fen), 0) FROM policies GROUP BY agency, status"
    ):
        if status == CANCELLED:
            found[agency]["cancelled"] += int(n)
        else:
            found[agency]["policies"] += int(n)
            found[agency]["premium_fen"] += int(fen)
    for s in ledger.statements():
        found[s.agency]["statements"] += 1
        found[s.agency]["paid_fen"] += int(getattr(s, "paid_fen", 0) or 0)
    return dict(sorted(found.items()))
