"""Which files in the drop folders are waiting, and when one is stable enough to take.

Stability as paperless-ngx's consumer does it: size and mtime unchanged for the settle time on a
monotonic clock, and the file opens whole. One that does not open is waited for while it keeps
changing, and taken (to fail with a result) once it has been still for the stall time.

A text file (CSV) has no end marker to open whole: it is taken once its writer closed it with nothing
written since (change notification says so), or, where no such word comes (polling, shares, a file
present at start), once it has been still for the longer text settle time.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..layout import ADMIN, CLAIMED, Layout
from ..walk.claim import original_name

IGNORED = ("~$*", ".*", "*.tmp", "*.part", "*.filepart", "*.crdownload", "Thumbs.db", "desktop.ini", ".DS_Store")
_OLE = bytes.fromhex("D0CF11E0A1B11AE1")


@dataclass(frozen=True)
class Arrival:
    who: str  # folder name: an agency code or _admin
    path: Path
    size: int
    mtime: float
    ctime: float = 0.0  # the inode's last change (writes, renames): when the file last moved at all


# Change notification arrives late (watchdog holds inotify events up to 0.5 s to pair renames): a file
# first seen through an event is counted as still since its ctime, by at most this much.
EVENT_LAG = 0.5


@dataclass(frozen=True)
class Odd:
    """Something in a drop folder that is not a regular file (a symlink, a FIFO …): never followed."""

    who: str
    path: Path
    what: str


def ignored(name: str) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in IGNORED)


def _top(layout: Layout) -> list[os.DirEntry]:
    try:
        return [e for e in os.scandir(layout.workbooks) if not e.name.startswith(".")]
    except FileNotFoundError:
        return []


def folders(layout: Layout) -> list[str]:
    """Drop folders, _admin first so plans and agencies land before the requests that use them."""
    entries = _top(layout)
    followed, _ = links(layout, entries)
    names = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False) or e.name in followed)
    return ([ADMIN] if ADMIN in names else []) + [n for n in names if n != ADMIN]


def links(layout: Layout, entries: list[os.DirEntry] | None = None) -> tuple[set[str], dict[str, str]]:
    """The symbolic links in workbooks/: the names followed as drop folders, and why each other one is not
    (its problem code). A link to a folder elsewhere is followed (an operator moved an agency's folder to
    another disk and left a link); not one that leads back into workbooks/ or above it, nor two that lead
    to the same folder (its files would be taken as either agency's), nor one whose folder cannot be
    reached now (a disk not mounted)."""
    entries = _top(layout) if entries is None else entries
    followed: dict[str, Path] = {}
    refused: dict[str, str] = {}
    # Where each link followed leads (a real folder of workbooks/ never leads where a followed link does:
    # those lead outside it).
    seen: dict[Path, list[str]] = {}
    for entry in entries:
        if not entry.is_symlink():
            continue
        path = Path(entry.path)
        try:
            # Where the link says (a link to workbooks/GZ001, itself a link, leads inside whatever GZ001 is) …
            said = Path(os.path.normpath(path.parent / os.readlink(path)))
            # … and where it leads in the end.
            target = path.resolve(strict=True)
            base = path.parent.resolve(strict=True)
        except (OSError, RuntimeError):  # a dangling link, a loop
            refused[entry.name] = "folder.link_broken"
            continue
        inside = said == path.parent or path.parent in said.parents or said in path.parent.parents
        if inside or target == base or base in target.parents or target in base.parents:
            refused[entry.name] = "folder.linked_inside"
        elif not target.is_dir():
            continue  # a link to a file: a loose file like any other
        else:
            followed[entry.name] = target
            seen.setdefault(target, []).append(entry.name)
    for name, target in list(followed.items()):
        if len(seen[target]) > 1:
            del followed[name]
            refused[name] = "folder.linked_twice"
    return set(followed), refused


def loose_files(layout: Layout) -> list[Path]:
    """Files dropped into workbooks/ itself, outside every drop folder: nobody's, so never processed (a
    link to a folder that is not followed among them: `links` says why)."""
    entries = _top(layout)
    followed, _ = links(layout, entries)
    return sorted(
        Path(e.path)
        for e in entries
        if not ignored(e.name) and not e.is_dir(follow_symlinks=False) and e.name not in followed
    )


def waiting_in(layout: Layout, who: str) -> tuple[list[Arrival], list[Odd]]:
    found, odd = [], []
    try:
        entries = list(os.scandir(layout.drop(who)))
    except (FileNotFoundError, NotADirectoryError):
        return [], []
    for entry in entries:
        if entry.name == CLAIMED or ignored(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode):
            found.append(Arrival(who, Path(entry.path), st.st_size, st.st_mtime, st.st_ctime))
        elif not stat.S_ISDIR(st.st_mode):
            what = "符号链接" if stat.S_ISLNK(st.st_mode) else "命名管道" if stat.S_ISFIFO(st.st_mode) else "特殊文件"
            odd.append(Odd(who, Path(entry.path), what))
    return sorted(found, key=lambda w: (w.mtime, w.path.name)), odd


def claimed_in(layout: Layout, who: str, worker: str | None = None, *, every: bool = False) -> list[Path]:
    """Files claimed and not yet finished: in the claim area, or in one worker's folder of it (several
    workers), or (`every`) anywhere in it, for `watcher status`. In the order they were taken (a claim
    keeps the file's modification time, by which files are taken), so that two files in hand, one taken
    ahead of the other, are finished in that order (the same bytes twice: the first is the success)."""
    folder = layout.claimed(who) / worker if worker else layout.claimed(who)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    if every:
        found += [
            p
            for sub in folder.iterdir()
            if sub.is_dir()
            for p in sub.iterdir()
            if p.is_file() and not p.name.startswith(".")
        ]
    return sorted(found, key=taken_order)


def taken_order(path: Path) -> tuple[float, str]:
    """The key Tracker.ready takes files by: modification time, then the name as dropped."""
    try:
        return path.stat().st_mtime, original_name(path)
    except OSError:  # gone meanwhile: its place does not matter
        return 0.0, path.name


def clean_strays(layout: Layout, *, older_than: float = 0.0, worker: str | None = None) -> int:
    """Temporary files of writes that a stop cut short, and claim records whose file is gone. With
    several workers on the root, only what is `older_than` seconds (another worker may be writing) and
    only in this worker's claim folder."""
    removed = 0
    now = time.time()
    for base in (layout.outbox, layout.archive):
        if base.is_dir():
            for path in base.rglob(".*.watcher-tmp"):
                try:
                    if older_than and now - path.stat().st_mtime < older_than:
                        continue
                except FileNotFoundError:
                    continue
                path.unlink(missing_ok=True)
                removed += 1
    for who in folders(layout):
        folder = layout.claimed(who) / worker if worker else layout.claimed(who)
        if folder.is_dir():
            for path in folder.glob(".*"):
                if path.name.endswith(".watcher-tmp") or (
                    path.name.endswith(".claim.json")
                    and not (folder / path.name[1:].removesuffix(".claim.json")).exists()
                ):
                    path.unlink(missing_ok=True)
                    removed += 1
    return removed


def is_text(path: Path) -> bool:
    """Neither a zip (xlsx) nor an OLE file (xls): text, whose completeness nothing inside can prove."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return False
    return bool(head) and not head.startswith(b"PK") and head[:4] != _OLE[:4]


def opens_whole(path: Path) -> bool:
    """A workbook that can be opened whole: a zip with its central directory, an OLE header, or text."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
        if head.startswith(b"PK"):
            with zipfile.ZipFile(path):
                return True
        if head[:4] == _OLE[:4]:
            return head == _OLE and path.stat().st_size >= 1536
        return len(head) > 0
    except Exception:  # noqa: BLE001 — zipfile raises NotImplementedError, OverflowError, struct.error … on
        # damaged bytes: the file does not open (yet); once still for the stall time it fails with a result
        return False


def held_for_writing(paths: list[Path]) -> set[Path]:
    """Those of `paths` a process on this machine holds open for writing (Linux: each /proc/<pid>/fd link
    read as text, which touches no file system, so a hung mount behind another process cannot hold us;
    then that descriptor's flags). Where that cannot be seen (another user's processes, a writer on
    another machine, no /proc): not held."""
    wanted: dict[str, Path] = {}
    for path in paths:
        wanted[os.path.realpath(path)] = path
    found: set[Path] = set()
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return found
    for pid in pids:
        fds = f"/proc/{pid}/fd"
        try:
            open_fds = os.listdir(fds)
        except OSError:
            continue
        for fd in open_fds:
            try:
                match = wanted.get(os.readlink(f"{fds}/{fd}"))
                if match is None or match in found:
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as info:
                    flags = next((line.split()[1] for line in info if line.startswith("flags:")), "0")
                if int(flags, 8) & (os.O_WRONLY | os.O_RDWR):
                    found.add(match)
            except (OSError, ValueError, IndexError):
                continue
        if len(found) == len(wanted):
            break
    return found


HELD_RECHECK = 2.0  # seconds between looks at /proc for the same file


class Tracker:
    """Files seen but not yet taken, with when each last changed (monotonic)."""

    def __init__(self, settle: float, stall: float, text_settle: float | None = None, writer_wait: float = 0.0):
        self.settle, self.stall = settle, stall
        self.text_settle = max(text_settle if text_settle is not None else settle, settle)
        self.writer_wait = max(writer_wait, self.text_settle)
        self.held: dict[Path, float] = {}  # a text file a writer here holds open → when to look again
        self.seen: dict[Path, tuple[Arrival, float]] = {}
        self.closed: dict[Path, float] = {}  # the mtime a file had when its writer closed it
        self.written_before: dict[Path, float] = {}  # first seen with an mtime older than the text settle time
        self.kinds: dict[Path, tuple] = {}  # whether a file is text, as of its (size, mtime)
        self.loose: dict[Path, float] = {}  # a file loose in workbooks/ → when first seen (monotonic)

    def loose_settled(self, path: Path, present: set[Path]) -> bool:
        """Whether a file loose in workbooks/ has been there the settle time (by when this service first saw
        it, not its mtime: a copy keeps its source's); forgets those gone (`present`: what is there now)."""
        for gone in [p for p in self.loose if p not in present]:
            del self.loose[gone]
        now = time.monotonic()
        return now - self.loose.setdefault(path, now) >= self.settle

    def observe(self, item: Arrival, *, backdate: bool = False) -> None:
        """Note the file's current size and mtime. With `backdate`, a file first seen already old
        (unchanged longer than the settle time by the wall clock) counts as settled at once."""
        now = time.monotonic()
        known = self.seen.get(item.path)
        if known and (known[0].size, known[0].mtime) == (item.size, item.mtime):
            return
        since = now
        if known is None:
            age = time.time() - max(item.mtime, item.ctime)
            if backdate and age >= self.settle:
                since = now - age  # ready at once unless a text file younger than the text settle time
            elif age > 0:
                since = now - min(age, EVENT_LAG)
            if backdate and time.time() - item.mtime >= self.text_settle:
                # Found already written long ago (its times set since: a copy that keeps them, a touch): a
                # writer sets the time after its last write, so once still for the settle time and held open
                # by no program here, a text file is taken without the text settle time's wait.
                self.written_before[item.path] = item.mtime
        self.seen[item.path] = (item, since)

    def close_seen(self, item: Arrival) -> None:
        """Its writer closed it (or renamed it in whole): a text file is complete as of this mtime."""
        self.observe(item)
        self.closed[item.path] = item.mtime

    def refresh(self) -> None:
        """Stat every tracked file again; forget those that are gone."""
        for path, (item, _) in list(self.seen.items()):
            try:
                st = path.stat(follow_symlinks=False)
            except FileNotFoundError:
                self.forget(path)
                continue
            self.observe(Arrival(item.who, path, st.st_size, st.st_mtime, st.st_ctime))

    def ready(self) -> list[Arrival]:
        """Settled files that open whole, or that have been still past the stall time (they will fail).
        A text file: closed by its writer with nothing written since, or still for the text settle time and
        held open for writing by no program here (or still for `writer_wait` whatever holds it)."""
        now = time.monotonic()
        out = []
        candidates: list[Arrival] = []
        for path, (item, since) in list(self.seen.items()):
            still = now - since
            if still < self.settle:
                continue
            if self._text(item):
                if self.closed.get(path) == item.mtime or still >= self.writer_wait:
                    out.append(item)
                elif still >= self.text_settle or self.written_before.get(path) == item.mtime:
                    candidates.append(item)  # unless a program here still holds it open for writing
            elif still >= self.stall or opens_whole(path):
                out.append(item)
        if candidates:
            held = self._held([c.path for c in candidates], now)
            out += [c for c in candidates if c.path not in held]
        return sorted(out, key=lambda w: (w.who != ADMIN, w.mtime, w.path.name))

    def _held(self, paths: list[Path], now: float) -> set[Path]:
        """Which of these text files a program here still holds open for writing: /proc is read once for
        all of them, and a file found held is looked at again only HELD_RECHECK later."""
        held = {p for p in paths if self.held.get(p, 0.0) > now}
        due = [p for p in paths if p not in held]
        if due:
            found = held_for_writing(due)
            for p in due:
                if p in found:
                    self.held[p] = now + HELD_RECHECK
                else:
                    self.held.pop(p, None)
            held |= found
        return held

    def _text(self, item: Arrival) -> bool:
        known = self.kinds.get(item.path)
        if known is None or known[0] != (item.size, item.mtime):
            known = self.kinds[item.path] = ((item.size, item.mtime), is_text(item.path))
        return known[1]

    def forget(self, path: Path) -> None:
        self.seen.pop(path, None)
        self.closed.pop(path, None)
        self.written_before.pop(path, None)
        self.held.pop(path, None)
        self.kinds.pop(path, None)

    def __len__(self) -> int:
        return len(self.seen)
