"""What `process` and `serve` share before and around the walk: the folders made, files left in hand by a
stopped run adopted, waiting files gathered, the parse sandbox, who may drop files, and what staff are
told about files that are not requests."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from pathlib import Path

from ..domain.problems import problem
from ..domain.text import fold
from ..faults import os_words
from ..io.sandbox import Sandbox
from ..layout import ADMIN
from ..walk.desk import Desk
from ..walk.names import cut, display_name, safe_stem
from ..walk.outcome import Outcome
from ..walk.render import page_job, render, run_job
from . import scan
from .health import folders_gone
from .pipeline import Pipeline, RunReport, ensure_folders

log = logging.getLogger("watcher")


def start(desk: Desk, pipeline: Pipeline) -> None:
    """Before taking anything new: clean up after a stop, and finish what it left in hand. Not with the drop
    or output root missing (a share away): `process` says so and exits, `serve` waits for it."""
    gone = folders_gone(desk.layout)
    if gone is not None:
        raise gone
    removed = scan.clean_strays(desk.layout, older_than=3600 if desk.worker else 0, worker=desk.worker)
    if removed:
        log.info("已清理上次停止时留下的 %d 个临时文件", removed)
    try:
        refresh_void_pages(desk)
    except OSError as exc:  # a full disk: done at a later start (the chore is recorded only once done)
        log.warning("作废保单的电子保单页暂时无法更新：%s", os_words(exc))
    folders = scan.folders(desk.layout)
    grace = ADOPT_GRACE_RESCANS * desk.settings.rescan_seconds if desk.worker else 0.0
    if grace:
        # Another worker's lock found free at start may be one cut off from the database for a moment (a
        # restart): looked at again once that worker has had its rescan to take it back.
        for who in folders:
            adopt(desk, who, grace=grace)
        root = str(desk.layout.root)
        if any(_holds(f) and not _gone_here(f.name) for (at, _), (_, f) in _free_since.items() if at == root):
            time.sleep(grace)  # (a worker's empty claim folder is cleared after the grace, waited for by none)
    for who in folders:
        # In the order they were taken: its own and a dead worker's, two in hand finished as they came.
        left = scan.claimed_in(desk.layout, who, desk.worker) + adopt(desk, who, grace=grace)
        for claimed in sorted(left, key=scan.taken_order):
            log.info("继续办理上次停止时未办完的 %s/%s", who, claimed.name)
            pipeline.resume(claimed, who)
    ensure_folders(desk)


VOID_PAGES = "void-pages"


def refresh_void_pages(desk: Desk) -> None:
    """Once, after the release that made void pages say so: the pages of policies cancelled or replaced
    before it are written again, 已撤单 and pointing to the policy that replaces them."""
    ledger = desk.ledger
    if ledger.chore_done(VOID_PAGES) or not ledger.try_lock(f"chore:{VOID_PAGES}"):
        return
    try:
        if ledger.chore_done(VOID_PAGES):
            return
        from ..walk.shows import page_shown

        at = desk.now()
        policies = ledger.cancelled_policies()
        for policy in policies:
            run_job(page_job(desk.layout, desk.settings, page_shown(ledger, policy), at))
        ledger.finish_chore(VOID_PAGES, at)
        if policies:
            log.info("已撤单保单的电子保单已更新为“已撤单”并注明替代保单：%d 份", len(policies))
    finally:
        ledger.unlock(f"chore:{VOID_PAGES}")


# A dead worker's files are taken over once its lock has been free over this many rescans: a live worker
# cut off from the database for a moment takes its lock back as it reconnects (at its next rescan).
ADOPT_GRACE_RESCANS = 2
# Worker → when its lock was first found free (monotonic): a worker whose connection to the database
# dropped for a moment lost its session lock with it, and takes it again once it reconnects.
_free_since: dict[tuple[str, str], tuple[float, Path]] = {}


def worker_name(host: str, pid: int) -> str:
    """A worker's name: its host and process id (its claim folder, its lock, its temporary files)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{host}-{pid}")


def _gone_here(name: str) -> bool:
    """A worker of this host whose process is gone (one that crashed here, restarted as another): it is
    certainly not reconnecting, so no grace is waited for it. Another host's, or a live process id: unknown."""
    import socket

    host, _, pid = name.rpartition("-")
    if not pid.isdigit() or worker_name(socket.gethostname(), 0).rpartition("-")[0] != host:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def _holds(folder: Path) -> bool:
    try:
        return any(p.is_file() and not p.name.startswith(".") for p in folder.iterdir())
    except OSError:
        return False


def _listing(folder: Path) -> list[Path]:
    """A dead worker's claim folder, or nothing where another worker adopted it and removed it a moment ago
    (a worker starting beside another stopped with 无法访问 … 路径不存在)."""
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def adopt(desk: Desk, who: str, grace: float = 0.0) -> list[Path]:
    """Several workers: the files a dead worker left in hand move to this worker's claim folder.

    A worker holds a database session lock named after it for as long as it lives; whoever can take
    that lock knows the worker is gone, and one rename a file decides which worker finishes it. `grace`:
    the lock must be found free that long (a running service's rescans): a live worker cut off from the
    database for a moment (a restart, a failover) lost its lock and takes it back as it reconnects, and
    finishing its files here too gave them two results."""
    if not desk.worker:
        return []
    from ..walk.claim import record_path

    base = desk.layout.claimed(who)
    mine = base / desk.worker
    taken: list[Path] = []
    if not base.is_dir():
        return taken
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and p.name != desk.worker):
        lock = f"worker:{folder.name}"
        key = (str(desk.layout.root), folder.name)
        if not desk.ledger.try_lock(lock):
            _free_since.pop(key, None)
            continue  # alive: its files are its own
        first, _ = _free_since.setdefault(key, (time.monotonic(), folder))
        if grace > 0 and time.monotonic() - first < grace and not _gone_here(folder.name):
            desk.ledger.unlock(lock)  # not yet: a worker reconnecting takes it back meanwhile (its temporary
            continue  # files and claim records too are left alone till then)
        _free_since.pop(key, None)
        try:
            mine.mkdir(exist_ok=True)
            for path in sorted(p for p in _listing(folder) if p.is_file() and not p.name.startswith(".")):
                target = mine / path.name
                if target.exists():
                    continue
                try:
                    os.rename(path, target)
                except FileNotFoundError:  # another worker adopted it first
                    continue
                try:
                    os.rename(record_path(path), record_path(target))
                except FileNotFoundError:  # claimed but never recorded: a fresh name is chosen
                    pass
                log.warning(
                    "%s/%s：由已停止的 worker %s 受理但未办完，由本 worker 接着办理", who, path.name, folder.name
                )
                taken.append(target)
            for leftover in _listing(folder):  # claim records of files it had finished, half-written records
                if leftover.name.startswith(".") and leftover.is_file():
                    leftover.unlink(missing_ok=True)
            try:
                folder.rmdir()
            except OSError:
                pass
            # What it was writing when it died: its temporary files, named after it.
            for top in (desk.layout.outbox, desk.layout.archive):
                for path in top.rglob(f".*.{folder.name}.watcher-tmp") if top.is_dir() else ():
                    path.unlink(missing_ok=True)
        finally:
            desk.ledger.unlock(lock)
    return sorted(taken, key=scan.taken_order)


def gather(
    desk: Desk, tracker: scan.Tracker, report: RunReport | None, *, backdate: bool, patient: bool = False
) -> None:
    """Scan every drop folder; track the files of registered agencies (a terminated one still queries) and
    of _admin; tell staff about the rest, and about files dropped into workbooks/ itself. `patient` (serve,
    which scans again): a loose file is told only once it has held still for the settle time."""
    _, refused_links = scan.links(desk.layout)
    loose = scan.loose_files(desk.layout)
    for thing in loose:
        if patient and not tracker.loose_settled(thing, set(loose)):
            continue  # just written (or staged to be renamed into a folder): told at a later rescan if it stays
        name = display_name(thing.name)
        tell_admin(desk, LOOSE, name, problem(refused_links.get(thing.name, "folder.loose_file"), file=name))
        if report is not None:
            report.refused_folders.append((LOOSE, name))
    for who in scan.folders(desk.layout):
        items, odd = scan.waiting_in(desk.layout, who)
        for strange in odd:
            name = display_name(strange.path.name)
            tell_admin(desk, who, name, problem("folder.not_regular", file=name, what=strange.what, folder=who))
        if not items:
            continue
        if who != ADMIN and not registered(desk, who):
            meant = _meant(desk, who)
            for item in items:
                name = display_name(item.path.name)
                if meant:  # gz002 beside GZ002: registering "gz002" would change GZ002, not make this folder
                    why = problem("folder.case", folder=display_name(who), file=name, agency=meant)
                else:
                    why = problem("folder.unknown", folder=display_name(who), file=name)
                tell_admin(desk, who, name, why)
                if report is not None:
                    report.refused_folders.append((who, name))
            continue
        for item in items:
            tracker.observe(item, backdate=backdate)


def sandboxed(desk: Desk) -> Sandbox:
    """Parse every file in a worker process bounded in memory and time (settings parse_memory_mb, parse_seconds):
    the one started with the desk (`serve` and `process` start it before loading the rest of watcher), or a
    new one."""
    sandbox = desk.parser or Sandbox.for_settings(desk.settings)
    sandbox.warm()
    desk.reader, desk.parser = sandbox.read, sandbox
    return sandbox


LOOSE = "workbooks"  # what staff are told a file dropped into workbooks/ itself came from


def registered(desk: Desk, who: str) -> bool:
    """A registered agency's folder: its files are processed (a terminated agency's requests other than
    queries get a 失败 result in its own outbox saying why). A folder whose name is not UTF-8 (a GBK name
    from an old share) is no agency's code: never asked of the ledger, which cannot hold such text."""
    try:
        who.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return desk.ledger.agency(who) is not None


def _meant(desk: Desk, who: str) -> str:
    """The registered agency a folder's name differs from only in case or width (gz002, ＧＺ００２), or ""."""
    wanted = fold(who).strip().upper()
    if wanted == who or wanted == ADMIN.upper():
        return ""
    try:
        return wanted if desk.ledger.agency(wanted) is not None else ""
    except Exception:  # noqa: BLE001 — only a better notice: the plain one is still true
        return ""


def tell_admin(desk: Desk, who: str, name: str, why) -> None:
    """A file left where it is (folder not an active agency, not a regular file): staff told once."""
    who, name = display_name(who), display_name(name)
    key = hashlib.sha256(f"{who}/{name}/{why.code}".encode()).hexdigest()
    stem = safe_stem(f"未受理_{who}_{cut(Path(name).stem, 90)}_{key[:8]}")
    out = desk.layout.out(ADMIN)
    if (out / f"{stem}.json").exists():
        return
    outcome = Outcome(ADMIN, f"{who}/{name}", "", desk.now(), action="未受理", problems=[why], result_stem=stem)
    render(outcome, out, desk.layout, desk.settings)  # a failure shows nothing from the ledger
    log.info("%s\t%s\t-\t未受理\tfailed\t0ms", who, name)
