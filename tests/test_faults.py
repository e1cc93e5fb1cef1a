"""Under real faults nothing is lost and nothing doubled: an outbox that cannot take outputs (full, or not
a folder), a claim that fails halfway, a claim record lost to a power cut, a ledger locked by another
program or broken. Real `serve` and `process` subprocesses, a small tmpfs for a full disk where this
machine lets a test mount one (else a folder swapped for a file), real second processes holding locks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers import (
    alive,
    assert_exactly_once,
    child_processes,
    drop_all,
    issue_fields,
    ledger_query,
    people,
    request_bytes,
    result,
    results,
    run_watcher,
    serving,
    start_serve,
    unusable,
    wait_for,
    write_request,
)

OUT = ("outbox", "GZ001")


def _back_up(ledger: Path, saved: Path) -> None:
    """A backup of a SQLite ledger as an operator takes one (SQLite's backup API: consistent while it runs)."""
    import sqlite3

    source, copy = sqlite3.connect(ledger), sqlite3.connect(saved)
    source.backup(copy)
    copy.close()
    source.close()


def _results(root: Path, stem: str) -> list[Path]:
    return sorted(root.joinpath(*OUT).glob(f"{stem}_结果*.json"))


def test_outputs_that_cannot_be_written_are_written_as_soon_as_they_can_be(root):
    (root / "watcher.toml").write_text("settle_seconds = 0.3\nrescan_seconds = 1\n", encoding="utf-8")
    outbox = root.joinpath(*OUT)
    with serving(root) as proc:
        time.sleep(1.5)
        with unusable(outbox) as how:
            write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
            wait_for(lambda: ledger_query(root, "SELECT COUNT(*) FROM policies") == [(1,)], 30, "the commit")
            time.sleep(2.5)  # two rescans that find the outbox still unusable
            status = run_watcher(root, "status").stdout
            assert "待写出结果：1 个文件" in status and "团A.xlsx" in status, status
            assert not (root / "workbooks" / "GZ001" / "团A.xlsx").exists(), "in hand, not back to be issued twice"
            if how == "full":  # a fault of the desk: the intake stops, a file dropped meanwhile stays
                write_request(root / "workbooks" / "GZ001" / "团B.xlsx", issue_fields(旅行团号="T-B"), people(3)[2:])
                time.sleep(2.5)
                assert (root / "workbooks" / "GZ001" / "团B.xlsx").exists()
                # status's own probe of the root's disk passes (the outbox is another disk): it said 正常
                # beside a file waiting; it says what the service stopped on.
                status = run_watcher(root, "status").stdout
                assert "受理已暂停" in status and "磁盘已满" in status and "正常" not in status, status
                # Which disk: the error names no file, and the root's own disk has room.
                [halt] = [line for line in status.splitlines() if "受理已暂停" in line]
                assert "outbox/GZ001" in halt, halt
                # Since when, by the desk's clock (it was printed in UTC, eight hours off).
                since = re.search(r"服务自 (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) 起", status)
                shown = datetime.strptime(since.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo("Asia/Shanghai"))
                assert abs((datetime.now(ZoneInfo("Asia/Shanghai")) - shown).total_seconds()) < 120, status
        wait_for(lambda: _results(root, "团A"), 30, "团A's result once the outbox takes it")
        if how == "full":
            wait_for(lambda: _results(root, "团B"), 30, "团B, taken once the desk works again")
        assert proc.poll() is None
    [one] = _results(root, "团A")
    data = json.loads(one.read_text(encoding="utf-8"))
    assert data["status"] == "success" and len(data["policies"]) == 1  # never turned into a failure
    assert (outbox / f"电子保单_{data['policies'][0]['policy_no']}.html").exists()
    assert ledger_query(root, "SELECT COUNT(*) FROM policies") == [(2 if how == "full" else 1,)]
    log = (root / "logs" / "watcher.log").read_text(encoding="utf-8")
    # At every rescan the log says so: a retry of the outputs, or (a full disk) the alarm that stopped the intake.
    assert log.count("重新写出 GZ001/") + log.count("磁盘已满或读写出错（") >= 3, log
    assert "待写出" not in run_watcher(root, "status").stdout
    assert "受理已暂停" not in run_watcher(root, "status").stdout


def test_a_file_taken_ahead_that_cannot_go_back_stays_in_hand_and_is_finished_by_the_same_service(root):
    """The parser works one file ahead. The archive goes read-only (a disk remounted after errors) while two
    files are in hand: the next claim stops the intake, and the file taken ahead cannot go back (its archived
    copy cannot be removed). It stays in hand with its record, and the same service finishes it once the
    archive is writable again, with every other file, each exactly once."""
    archive = root / "archive"
    archive.mkdir(exist_ok=True)
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(archive)], capture_output=True
    ).returncode:
        pytest.skip("needs a tmpfs for the archive (mount, as root)")
    try:
        (root / "watcher.toml").write_text(
            "settle_seconds = 0.5\nrescan_seconds = 1\nstall_seconds = 3\n", encoding="utf-8"
        )
        files = {f"读{i}.xlsx": request_bytes(i) for i in range(5)}
        claimed = root / "workbooks" / "GZ001" / ".watcher-claimed"
        with serving(root, env={"WATCHER_PAUSE_AT": "before_commit:2"}) as proc:
            time.sleep(2)
            drop_all(root, files)
            wait_for(lambda: len(list(claimed.rglob("*.xlsx"))) == 2, 60, "two files in hand")  # a worker's folder
            subprocess.run(["mount", "-o", "remount,ro", str(archive)], check=True)
            time.sleep(8)
            taken = {r["file"] for r in results(root)}
            assert len(taken) < len(files)  # the intake stopped
            subprocess.run(["mount", "-o", "remount,rw", str(archive)], check=True)
            wait_for(lambda: len(results(root)) == len(files), 60, "every result from the same service")
            assert proc.poll() is None
        assert_exactly_once(root, files, set(files))
    finally:
        subprocess.run(["umount", "-l", str(archive)], check=False)


def test_a_claim_that_fails_halfway_puts_the_file_back(root, ledger_backend):
    """The rename into the claim area works, the archived copy cannot be made (the archive's disk is full: a
    small tmpfs): the file goes back where it was dropped, nothing of it is left in the archive, and it is
    taken once it can be."""
    archive = root / "archive"
    archive.mkdir(exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(archive)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("needs a small tmpfs for the archive (mount, as root)")
    try:
        folder = root / "workbooks" / "GZ001"
        path = write_request(folder / "团A.xlsx", issue_fields(), people(2))
        with open(archive / ".filler", "wb") as handle:
            try:
                handle.write(b"\0" * (1 << 20))
            except OSError:
                pass
        proc = run_watcher(root, "process", check=False)
        assert path.exists() and not list((folder / ".watcher-claimed").rglob("团A.xlsx"))
        assert not _results(root, "团A") and "Traceback" not in proc.stderr
        # Its archived copy, begun at the claim, went with it: the archive holds only what was processed.
        assert not list(archive.rglob("*团A.xlsx")) and not list(archive.rglob("*.watcher-tmp"))
        (archive / ".filler").unlink()
        run_watcher(root, "process")
        assert json.loads(_results(root, "团A")[0].read_text("utf-8"))["status"] == "success"
        assert len(list(archive.rglob("*团A.xlsx"))) == 1
    finally:
        subprocess.run(["umount", "-l", str(archive)], check=False)


def test_a_claim_record_lost_to_a_power_cut_loses_nothing(root):
    write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
    killed = run_watcher(root, "process", env={"WATCHER_CRASH_AT": "after_commit"}, check=False)
    assert killed.returncode == -9
    claimed = root / "workbooks" / "GZ001" / ".watcher-claimed"
    from watcher.walk.claim import drop_record, read_record

    [held] = [p for p in claimed.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert read_record(held, "GZ001") is not None
    drop_record(held)  # written without fsync: a power cut takes it
    run_watcher(root, "process")
    [one] = _results(root, "团A")
    assert one.name == "团A_结果.json"
    data = json.loads(one.read_text("utf-8"))
    assert data["status"] == "success", "its own result, not 重复提交"
    assert (root.joinpath(*OUT) / f"电子保单_{data['policies'][0]['policy_no']}.html").exists()
    assert ledger_query(root, "SELECT COUNT(*) FROM policies") == [(1,)]


def test_a_duplicate_writes_its_first_requests_missing_outputs(root):
    path = write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
    content = path.read_bytes()
    run_watcher(root, "process")
    first = json.loads(_results(root, "团A")[0].read_text("utf-8"))
    for name in ("团A_结果.xlsx", "团A_结果.json", f"电子保单_{first['policies'][0]['policy_no']}.html"):
        (root.joinpath(*OUT) / name).unlink()
    path.write_bytes(content)
    run_watcher(root, "process")
    assert (root.joinpath(*OUT) / "团A_结果.xlsx").exists()
    assert json.loads((root.joinpath(*OUT) / "团A_结果.json").read_text("utf-8"))["status"] == "success"
    assert json.loads((root.joinpath(*OUT) / "团A_结果_2.json").read_text("utf-8"))["status"] == "duplicate"
    assert (root.joinpath(*OUT) / f"电子保单_{first['policies'][0]['policy_no']}.html").exists()


def _hold_lock(root: Path, seconds: float) -> subprocess.Popen:
    """Another program holding the SQLite ledger's write lock (or a PostgreSQL table lock)."""
    url = os.environ.get("WATCHER_LEDGER_URL")
    code = (
        f"import sys, time\n"
        f"from watcher.ledger.db import open_database\n"
        f"db = open_database({url!r} if {bool(url)} else {str(root / 'ledger.sqlite3')!r})\n"
        f"db.begin()\n"
        f"db.execute('LOCK TABLE requests IN ACCESS EXCLUSIVE MODE' if db.backend == 'postgresql' else"
        f" 'INSERT INTO chores VALUES (\\'lock\\', \\'x\\')')\n"
        f"print('locked', flush=True)\n"
        f"time.sleep({seconds})\n"
        f"db.execute('ROLLBACK')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_ledger_locked_for_a_while_is_waited_out(root):
    write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
    locker = _hold_lock(root, 20)
    started = time.monotonic()
    run_watcher(root, "process")
    assert time.monotonic() - started >= 15
    locker.wait()
    assert json.loads(_results(root, "团A")[0].read_text("utf-8"))["status"] == "success"


def test_a_ledger_locked_too_long_stops_the_intake_and_leaves_every_file(root, ledger_backend):
    if ledger_backend != "sqlite":
        pytest.skip("PostgreSQL waits on a table lock without a time limit: nothing to give up on")
    (root / "watcher.toml").write_text("settle_seconds = 0\nlock_wait_seconds = 2\n", encoding="utf-8")
    for name in ("团A", "团B"):
        write_request(root / "workbooks" / "GZ001" / f"{name}.xlsx", issue_fields(旅行团号=name), people(2))
    locker = _hold_lock(root, 60)
    try:
        proc = run_watcher(root, "process", check=False)
        assert proc.returncode == 1 and "账本被其他程序锁定" in proc.stderr and "Traceback" not in proc.stderr
        # Nothing goes on by itself after a `process` run: it says what to run, not "自动继续".
        assert "自动继续" not in proc.stderr and "重新运行命令" in proc.stderr
        assert sorted(p.name for p in (root / "workbooks" / "GZ001").glob("*.xlsx")) == ["团A.xlsx", "团B.xlsx"]
        assert not _results(root, "团A") and not list((root / "archive").rglob("*.xlsx"))
        status = run_watcher(root, "status").stdout
        assert "账本被其他程序锁定" in status and "服务：未运行" in status
        assert "自动继续" not in status and "重新运行命令" in status
    finally:
        locker.kill()
    run_watcher(root, "process")
    assert len(list(root.joinpath(*OUT).glob("*_结果.json"))) == 2


def _one_policy_ledger(root: Path) -> bytearray:
    """The SQLite ledger's bytes after one policy, its log checkpointed into the file."""
    write_request(root / "workbooks" / "GZ001" / "一.xlsx", issue_fields(), people(2))
    run_watcher(root, "process")
    ledger_query(root, "PRAGMA wal_checkpoint(TRUNCATE)")
    return bytearray((root / "ledger.sqlite3").read_bytes())


def test_check_says_a_damaged_ledger_in_one_line_however_many_pages_the_check_names(root, ledger_backend):
    """SQLite's quick check answers one row holding every problem a line each (a backup copied over a stale
    -wal: a hundred "Page N is never used"): `check` printed them all, about a hundred English lines before
    its advice (attack X). One line now, the first three and how many."""
    if ledger_backend != "sqlite":
        pytest.skip("a damaged PostgreSQL database is its server's to report; this is the SQLite file")
    _one_policy_ledger(root)
    ledger_query(root, "CREATE TABLE scratch (x)")
    for _ in range(40):
        ledger_query(root, "INSERT INTO scratch VALUES (?)", (b"x" * 3000,))
    ledger_query(root, "DROP TABLE scratch")
    ledger_query(root, "PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray((root / "ledger.sqlite3").read_bytes())
    data[32:40] = bytes(8)  # the free-page list forgotten: every free page "is never used"
    (root / "ledger.sqlite3").write_bytes(bytes(data))
    check = run_watcher(root, "check", check=False)
    assert check.returncode == 1 and "Traceback" not in check.stderr, check.stderr
    said = [line for line in (check.stdout + check.stderr).splitlines() if "never used" in line]
    assert len(said) == 1 and "账本文件已损坏" in said[0] and " 等共 " in said[0], check.stdout + check.stderr
    assert "***" not in check.stdout + check.stderr


def test_a_broken_ledger_is_said_in_one_line_and_nothing_is_taken(root, ledger_backend):
    if ledger_backend != "sqlite":
        pytest.skip("a damaged PostgreSQL database is its server's to report; this is the SQLite file")
    page = 4096
    data = _one_policy_ledger(root)
    for at in range(page, len(data), page):  # every page but the first (the header): garbage
        data[at : at + page] = os.urandom(page)
    (root / "ledger.sqlite3").write_bytes(bytes(data))
    path = write_request(root / "workbooks" / "GZ001" / "二.xlsx", issue_fields(旅行团号="T2"), people(3)[2:])
    for command in (("process",), ("check",)):
        proc = run_watcher(root, *command, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "损坏" in proc.stderr or "出错" in proc.stderr, proc.stderr
    status = run_watcher(root, "status", check=False)
    assert "Traceback" not in status.stderr and "账本" in status.stdout
    assert path.exists() and not _results(root, "二")
    # The lookup page says it is under maintenance (503), not 系统繁忙 with a traceback a request.
    import io as _io

    from watcher.settings import load_settings
    from watcher.web.app import LookupApp

    app = LookupApp(root, load_settings(root))
    body = b"id_type=%E8%BA%AB%E4%BB%BD%E8%AF%81&policy_no=LY202601010009999&id_no=110101199003070011"
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_ADDR": "127.0.0.9",
        "wsgi.input": _io.BytesIO(body),
    }
    said = []
    page = b"".join(app(environ, lambda status, headers: said.append(status)))
    assert said[0].startswith("503") and "维护" in page.decode("utf-8"), said


def test_a_ledger_whose_pages_cannot_even_be_checked_is_said_in_one_line_by_every_command(root, ledger_backend):
    """A few pages overwritten in the middle of the file: SQLite's quick check itself stops with 'database
    disk image is malformed'. Every command said it as a Python traceback, and `check`, which `status`
    sends the operator to, answered with `status`'s own advice to run `check`."""
    if ledger_backend != "sqlite":
        pytest.skip("a damaged PostgreSQL database is its server's to report; this is the SQLite file")
    data = _one_policy_ledger(root)
    page, pages = 4096, len(data) // 4096
    assert pages >= 12, pages
    data[5 * page : 13 * page] = os.urandom(8 * page)  # the schema's and the tables' first pages among them
    (root / "ledger.sqlite3").write_bytes(bytes(data))
    path = write_request(root / "workbooks" / "GZ001" / "二.xlsx", issue_fields(旅行团号="T2"), people(3)[2:])
    for command in (("process",), ("recover",), ("month-end", "--month", "2026-11"), ("init",)):
        proc = run_watcher(root, *command, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, (command, proc.stderr)
        assert "损坏" in proc.stderr, (command, proc.stderr)
        assert "malformed" not in proc.stderr, (command, proc.stderr)  # SQLite's English, said in Chinese
    for command in (("process",), ("check",)):  # and the way out when no backup is left: the archive
        proc = run_watcher(root, *command, check=False)
        assert "watcher recover" in proc.stderr and "archive/" in proc.stderr, (command, proc.stderr)
    check = run_watcher(root, "check", check=False)
    assert check.returncode == 1 and "Traceback" not in check.stderr
    assert "账本文件已损坏" in check.stderr and "恢复到最近的备份" in check.stderr
    # Started on that backup, serve was refused as behind the desk's numbers: recover is the next step.
    assert "恢复到最近的备份（复制前先删除旁边的 ledger.sqlite3-wal 和 ledger.sqlite3-shm" in check.stderr, check.stderr
    assert "见运维文档的备份与恢复），再运行 watcher recover" in check.stderr, check.stderr
    assert "请运行 watcher check" not in check.stderr, "check sends the operator back to itself"
    assert path.exists() and not _results(root, "二")
    # The blank template is still written (without the plans' list); a copy to PostgreSQL is refused.
    blank = root.parent / "投保.xlsx"
    made = run_watcher(root, "template", "投保", "-o", str(blank), check=False)
    assert made.returncode == 0 and blank.exists() and "Traceback" not in made.stderr and "下拉列表" in made.stderr
    moved = run_watcher(root, "migrate", "--to", "postgresql://127.0.0.1/nowhere", check=False)
    assert moved.returncode == 1 and "损坏" in moved.stderr and "Traceback" not in moved.stderr, moved.stderr


def test_serve_stops_the_intake_while_the_ledger_is_locked_and_goes_on_after(root, ledger_backend):
    if ledger_backend != "sqlite":
        pytest.skip("PostgreSQL waits on a table lock without a time limit: nothing to give up on")
    (root / "watcher.toml").write_text(
        "settle_seconds = 0.3\nrescan_seconds = 1\nlock_wait_seconds = 1\n", encoding="utf-8"
    )
    with serving(root) as proc:
        time.sleep(1.5)
        locker = _hold_lock(root, 22)  # past the ledger's own busy timeout (10 s) and lock_wait_seconds
        path = write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
        wait_for(lambda: "账本被其他程序锁定（" in (root / "logs" / "watcher.log").read_text("utf-8"), 30, "the alarm")
        wait_for(path.exists, 5, "the file put back where it was dropped")
        time.sleep(2.5)
        assert path.exists() and not _results(root, "团A"), "left where it was while the lock holds, not failed"
        locker.wait()
        wait_for(lambda: _results(root, "团A"), 30, "the file, once the ledger is free")
        assert proc.poll() is None
    assert json.loads(_results(root, "团A")[0].read_text("utf-8"))["status"] == "success"
    log = (root / "logs" / "watcher.log").read_text("utf-8")
    assert log.count("账本被其他程序锁定（") >= 2 and "账本的锁定已解除，继续受理" in log


def test_status_does_not_say_the_intake_stopped_while_the_service_waits_out_a_lock(root, ledger_backend):
    """A short lock: the service waits it out with a file in hand; status's own probe met the lock and said
    已暂停受理新文件 (nothing had stopped)."""
    if ledger_backend != "sqlite":
        pytest.skip("status probes PostgreSQL with a plain read, which a table lock does not hold up")
    (root / "watcher.toml").write_text("settle_seconds = 0.3\nrescan_seconds = 1\n", encoding="utf-8")
    with serving(root):
        time.sleep(1.5)
        locker = _hold_lock(root, 8)
        write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
        time.sleep(2)
        status = run_watcher(root, "status").stdout
        assert "账本被其他程序锁定" in status and "已暂停受理新文件" not in status, status
        assert "watcher status 检查时发现" in status
        locker.wait()
        wait_for(lambda: _results(root, "团A"), 30, "the file, once the lock is gone")


def test_serve_killed_with_kill_9_leaves_no_helper_process_behind(root):
    """Its render processes, its parser and multiprocessing's resource tracker die with it."""

    (root / "watcher.toml").write_text("settle_seconds = 0.3\n", encoding="utf-8")
    with serving(root) as proc:
        write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
        wait_for(lambda: _results(root, "团A"), 30, "a first file (every helper at work)")
        helpers = child_processes(proc.pid)
        assert len(helpers) >= 3, helpers  # two renderers and the parser (and the resource tracker)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(pid, started) for pid, started in helpers.items()):
            time.sleep(0.1)
        left = [pid for pid, started in helpers.items() if alive(pid, started)]
        for pid in left:  # not left to the next test
            os.kill(pid, 9)
        assert not left, f"helpers of the killed serve still alive: {left}"
        # Nothing in English left in the service's output by the helpers that outlived it a moment (the
        # resource tracker's "leaked semaphore objects" warning).
        said = proc.stdout.read()
        assert "resource_tracker" not in said and "leaked" not in said, said[-500:]


def test_no_helper_holds_the_root_lock_or_the_ledger_open(root, ledger_backend):
    """The parser is a copy of the service made before it takes the lock (it starts at once): it, and every
    other helper, holds neither the root's lock nor the ledger's file, so a helper that outlived the service
    a moment would never keep the next start out."""
    (root / "watcher.toml").write_text("settle_seconds = 0.3\n", encoding="utf-8")
    with serving(root) as proc:
        write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
        wait_for(lambda: _results(root, "团A"), 30, "a first file (every helper at work)")
        helpers = child_processes(proc.pid)
        assert len(helpers) >= 3, helpers
        held = {}
        for pid in helpers:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    held.setdefault(pid, []).append(os.readlink(fd))
                except OSError:
                    pass
        service = [os.readlink(fd) for fd in Path(f"/proc/{proc.pid}/fd").iterdir()]
        if ledger_backend == "sqlite":  # (several PostgreSQL workers share a root: no lock there)
            assert any(t.endswith(".watcher.lock") for t in service)  # what the check looks for is there to find
        for pid, targets in held.items():
            assert not [t for t in targets if t.endswith((".watcher.lock", "ledger.sqlite3"))], (pid, targets)


def _fill(disk: Path, keep: int = 0) -> Path:
    """Fill what is left of a small mounted disk with one file (`keep`: bytes left free); the file."""
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        try:
            handle.write(b"\0" * (8 << 20))
        except OSError:
            pass
    if keep:
        os.truncate(filler, filler.stat().st_size - keep)
    return filler


@contextmanager
def small_disk(tmp_path: Path):
    """A 4 MB tmpfs holding a demo desk (where this machine lets a test mount one), and a function that
    fills what is left of it (`keep`: bytes left free)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("this machine does not let a test mount a filesystem")

    try:
        root = disk / "desk"
        run_watcher(root, "init", "--demo")
        yield root, lambda keep=0: _fill(disk, keep)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_serve_started_on_a_full_disk_waits_instead_of_exiting(tmp_path, ledger_backend):
    """The whole root on a small tmpfs, full: serve neither exits nor fails the file waiting; once space
    is freed it takes it."""
    with small_disk(tmp_path) as (root, fill):
        (root / "watcher.toml").write_text("settle_seconds = 0.3\nrescan_seconds = 1\n", encoding="utf-8")
        write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
        filler = fill()
        with serving(root) as proc:
            time.sleep(4)
            assert proc.poll() is None, proc.stdout.read() if proc.poll() is not None else ""
            assert not _results(root, "团A")
            if ledger_backend == "sqlite":  # one service per root (PostgreSQL workers share a root: no lock)
                # It keeps the root while it waits: status says a service is there (it said 未运行 and advised
                # to start one), and a second serve is refused rather than waiting beside it.
                status = run_watcher(root, "status", check=False).stdout
                assert "服务：运行中" in status and "未运行" not in status, status
                second = run_watcher(root, "serve", check=False)
                assert second.returncode == 1 and "正由另一个 watcher 使用" in second.stderr, second.stderr
            filler.unlink()
            wait_for(lambda: _results(root, "团A"), 40, "the file, once the disk has room")
        assert json.loads(_results(root, "团A")[0].read_text("utf-8"))["status"] == "success"


def test_status_does_not_call_a_disk_with_a_few_kb_left_healthy(tmp_path):
    """A disk with a few KB left took status's 4 KB probe while every commit failed ("database or disk is
    full"): status said 账本与磁盘：正常 beside files that waited. It now names the full disk."""
    with small_disk(tmp_path) as (root, fill):
        filler = fill(keep=64 << 10)  # 64 KB left: a small write still fits
        proc = run_watcher(root, "status", check=False)
        assert "账本与磁盘：正常" not in proc.stdout and "磁盘" in proc.stdout, proc.stdout
        filler.unlink()
        assert "账本与磁盘：正常" in run_watcher(root, "status").stdout


def test_the_same_bytes_killed_just_after_their_claim_still_get_a_result(root):
    """A duplicate dropped after the first request finished, the run killed just after its claim (before
    its record): the restart answers it (重复提交) and archives it; it is not taken for the first request
    left half-way, which would leave it with no result and its original unarchived."""
    folder = root / "workbooks" / "GZ001"
    path = write_request(folder / "团A.xlsx", issue_fields(), people(2))
    content = path.read_bytes()
    run_watcher(root, "process")
    (folder / "团B.xlsx").write_bytes(content)
    killed = run_watcher(root, "process", env={"WATCHER_CRASH_AT": "after_claim"}, check=False)
    assert killed.returncode == -9
    run_watcher(root, "process")
    second = json.loads(_results(root, "团B")[0].read_text("utf-8"))
    assert second["status"] == "duplicate"
    assert len([p for p in (root / "archive" / "GZ001").rglob("*.xlsx")]) == 2
    assert not [p for p in folder.rglob("*") if p.is_file()]
    assert ledger_query(root, "SELECT COUNT(*) FROM policies") == [(1,)]


def test_a_claim_record_planted_on_a_dropped_file_is_not_believed(root):
    """An agency can set extended attributes on its own file: a claim record planted as user.watcher.claim,
    naming a result outside the outbox and an "archived copy" that is another file, read after a run was
    killed before it wrote its own record, is ignored: nothing outside the outbox is written or removed."""
    folder = root / "workbooks" / "GZ001"
    path = write_request(folder / "团A.xlsx", issue_fields(), people(2))
    victim = root / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    planted = {"original": "团A.xlsx", "stem": "../../evil", "archived": str(victim), "sha256": "0" * 64}
    try:
        os.setxattr(path, "user.watcher.claim", json.dumps(planted).encode("utf-8"))
    except OSError:
        pytest.skip("this filesystem keeps no extended attributes (the record is a file beside the claim)")
    killed = run_watcher(root, "process", env={"WATCHER_CRASH_AT": "after_claim"}, check=False)
    assert killed.returncode == -9
    run_watcher(root, "process")
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert not list(root.rglob("evil*"))
    [one] = _results(root, "团A")
    assert json.loads(one.read_text("utf-8"))["status"] == "success"
    assert not [p for p in folder.rglob("*") if p.is_file()]


def test_a_claim_record_goes_in_a_file_beside_the_claim_where_there_are_no_extended_attributes(tmp_path, monkeypatch):
    """Some shares keep no extended attributes: the record is then the hidden file beside the claimed one,
    read back the same way, and gone with it when dropped."""
    import errno

    from watcher.walk import claim as claiming

    def refused(*args, **kwargs):
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(claiming.os, "setxattr", refused)
    claimed = tmp_path / "GZ001" / ".watcher-claimed" / "团A.xlsx"
    claimed.parent.mkdir(parents=True)
    claimed.write_bytes(b"PK")
    copy = tmp_path / "archive" / "GZ001" / "2026-11-30" / "120000_abcdef12_团A.xlsx"
    claiming.save_record(claiming.Claim(claimed, "GZ001", "团A.xlsx", "团A_结果", str(copy), "ab" * 32))
    assert claiming.record_path(claimed).is_file()
    back = claiming.read_record(claimed, "GZ001")
    assert back is not None and (back.stem, back.archived) == ("团A_结果", str(copy))
    claiming.drop_record(claimed)
    assert not claiming.record_path(claimed).exists() and claiming.read_record(claimed, "GZ001") is None


def test_status_after_a_killed_run_says_the_next_run_finishes_what_it_held(root):
    """A run killed after its commit leaves the file in hand: status said 服务：未运行 beside 处理中 1 with no
    word of what happens to it; it says the next run finishes it first (and the next run does)."""
    write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
    killed = run_watcher(root, "process", env={"WATCHER_CRASH_AT": "after_commit"}, check=False)
    assert killed.returncode != 0
    status = run_watcher(root, "status").stdout
    [held] = [line for line in status.splitlines() if line.startswith("处理中")]
    assert "处理中：1 个文件" in held and "下次运行 watcher process 或启动 watcher serve 时会先完成" in held
    run_watcher(root, "process")
    assert json.loads(_results(root, "团A")[0].read_text("utf-8"))["status"] == "success"
    assert "处理中：0 个文件" in run_watcher(root, "status").stdout


def test_month_end_on_a_full_outbox_says_so_in_one_line_and_writes_its_files_on_the_next_run(root):
    """A full agency outbox under month-end: `watcher month-end` printed only a Python traceback (the full
    disk met inside the statement's writer), and serve logged one every retry."""
    from helpers import issue, month_end

    issue(root, "团A", "2026-11-20 08:00", n=2)
    out = root.joinpath(*OUT)
    with unusable(out) as kind:
        proc = month_end(root, "2026-11", "2026-12-01T03:00:00+08:00", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert ("磁盘已满" if kind == "full" else "无法访问") in proc.stderr, proc.stderr
    if kind == "full":  # the advice names month-end, not process (which runs no month-end)
        assert "watcher process" not in proc.stderr and "再运行一次 watcher month-end" in proc.stderr, proc.stderr
    month_end(root, "2026-11", "2026-12-01T04:00:00+08:00")  # room again: the statement already recorded is written
    assert (out / "业务明细_2026-11.xlsx").exists() and list(out.glob("对账单_DZ*.xlsx"))


def test_outputs_are_written_into_an_outbox_with_room_for_them_though_not_for_a_megabyte(root):
    """An agency's outbox on a small share: once 300 KB were free again the results (a few tens of KB)
    still waited, and every agency's intake with them: the check asked 1 MB of the folder."""
    (root / "watcher.toml").write_text("settle_seconds = 0.3\nrescan_seconds = 1\n", encoding="utf-8")
    outbox = root.joinpath(*OUT)
    outbox.mkdir(parents=True, exist_ok=True)
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(outbox)], capture_output=True
    ).returncode:
        pytest.skip("this machine lets no test mount a small disk")
    try:
        filler = _fill(outbox)
        with serving(root) as proc:
            write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
            wait_for(lambda: ledger_query(root, "SELECT COUNT(*) FROM policies") == [(1,)], 30, "the commit")
            time.sleep(2.5)
            assert not _results(root, "团A"), "no room at all yet"
            os.truncate(filler, max(0, filler.stat().st_size - 300 * 1024))
            wait_for(lambda: _results(root, "团A"), 20, "the outputs, in the room there is")
            assert proc.poll() is None
    finally:
        subprocess.run(["umount", "-l", str(outbox)], check=False)


def test_a_desk_fault_met_inside_other_work_is_said_by_its_own_words():
    """A fault raised inside month-end (the ledger swapped under the service) and wrapped on its way out was
    logged as its Python repr: （('swapped', RuntimeError(...))）."""
    from watcher.faults import SWAPPED, DeskFault, classify

    try:
        try:
            raise DeskFault(SWAPPED, RuntimeError("账本落后于已发出的编号"))
        except DeskFault as inner:
            raise ValueError("while writing the month") from inner
    except ValueError as outer:
        said = DeskFault(classify(outer), outer).short()
    assert said.endswith("（账本落后于已发出的编号）") and "('swapped'" not in said, said


def test_the_month_end_summary_dropped_without_its_apply_sheet_is_still_a_confirmation(root):
    """The summary holds a 对账确认 sheet and a 预交保费 report: with its 申请 sheet deleted, it was refused
    as holding two kinds of table."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "汇总"
    confirm = wb.create_sheet("对账确认")
    confirm.append(["序号", "对账单号", "业务渠道", "确认人"])
    confirm.append([1, "DZ202611999999", "团险直销", "王五"])
    wb.create_sheet("预交保费").append(["机构代码", "收据号", "金额"])
    wb.save(root / "workbooks" / "_admin" / "月结汇总_2026-11.xlsx")
    run_watcher(root, "process")
    [path] = (root / "outbox" / "_admin").glob("月结汇总_2026-11_结果.json")
    data = json.loads(path.read_text("utf-8"))
    assert data["action"] == "对账确认", data["errors"]
    assert "file.sheets_ambiguous" not in [e["code"] for e in data["errors"]]


def test_an_archive_that_refuses_writes_stops_the_intake_never_fails_the_file(root):
    """archive/GZ001 made read-only (`chattr +i`: root is refused too). The claim's copy met EPERM, taken for
    the file's own trouble: the clerk got 失败 "申请未生效" while status said the file was issued, and once the
    folder took writes again the policy was issued and the result overwritten with 成功, nobody told. Now it
    is the desk's fault: no result, the file back in its folder, the operator told which folder and what to
    do; once writable, the file is issued once."""
    folder = root / "archive" / "GZ001"
    folder.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("needs chattr +i (root, on a filesystem that supports it)")
    try:
        path = write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
        proc = run_watcher(root, "process", check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert "文件夹不允许写入" in proc.stderr and "archive/GZ001" in proc.stderr and "chattr -i" in proc.stderr
        assert path.exists(), "the file is back where it was dropped"
        assert not _results(root, "团A"), "no result: never 失败 for the desk's own trouble"
        assert ledger_query(root, "SELECT COUNT(*) FROM policies") == [(0,)]
        status = run_watcher(root, "status", check=False).stdout
        assert "待写出结果" not in status
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=False)
    run_watcher(root, "process")
    [one] = _results(root, "团A")
    assert json.loads(one.read_text("utf-8"))["status"] == "success"
    assert ledger_query(root, "SELECT COUNT(*) FROM policies") == [(1,)]


def test_a_drop_folder_that_refuses_the_claim_is_named_by_status(root):
    """An agency's drop folder made immutable (`chattr +i`, or a read-only mount): the claim's rename is
    refused, the service logs a warning at each scan and leaves the file, and status said 正常 with the file
    waiting for ever and nothing to say why. It names the folder, the count and the fix."""
    folder = root / "workbooks" / "GZ001"
    path = write_request(folder / "团A.xlsx", issue_fields(), people(2))
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("needs chattr +i (root, on a filesystem that supports it)")
    try:
        run_watcher(root, "process", check=False)
        assert path.exists()
        status = run_watcher(root, "status", check=False).stdout
        assert "等待处理：1 个文件" in status, status
        assert "GZ001 的 1 个无法受理" in status and "chattr -i" in status, status
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=False)
    assert "无法受理" not in run_watcher(root, "status").stdout
    run_watcher(root, "process")
    [one] = _results(root, "团A")
    assert json.loads(one.read_text("utf-8"))["status"] == "success"


def test_a_ledger_database_that_cannot_be_reached_is_not_called_lost_and_serve_waits_for_it(root):
    """The database away (stopped, the network down): status, check, process, web, template and recover
    said 「找不到账本…重建」 (one that is not lost), naming watcher.toml's setting where the address came from
    WATCHER_LEDGER_URL; serve exited instead of waiting for it."""
    from helpers import need_postgresql

    need_postgresql()  # (psycopg installed, and a server that answers for the refused login below)
    away = {"WATCHER_LEDGER_URL": "postgresql://watcher@127.0.0.1:1/watcher"}  # nothing listens there
    template = ["template", "投保", "-o", str(root / "t.xlsx")]
    for command in (["status"], ["check"], ["process"], ["web"], template, ["recover"], ["month-end"]):
        said = run_watcher(root, *command, env=away, check=False)
        # The blank template is still written, without the plans' list.
        assert (said.returncode == 0) == (command == template), (command, said.stderr)
        assert "无法连接账本数据库 postgresql://watcher@127.0.0.1:1/watcher" in said.stderr, (command, said.stderr)
        assert "WATCHER_LEDGER_URL" in said.stderr and "并没有丢失" in said.stderr, said.stderr
        assert "找不到账本" not in said.stderr and "Traceback" not in said.stderr, said.stderr
    assert (root / "t.xlsx").exists()
    # A server that answers and refuses the login (a database that does not exist): the address is wrong;
    # serve does not wait for it for ever.
    wrong = {"WATCHER_LEDGER_URL": "postgresql://postgres@127.0.0.1:5432/watcher_no_such_database"}
    for command in (["status"], ["serve"]):
        said = run_watcher(root, *command, env=wrong, check=False)
        assert said.returncode == 1 and "拒绝了连接" in said.stderr and "数据库名" in said.stderr, said.stderr
    proc = start_serve(root, env=away)
    try:
        time.sleep(6)
        assert proc.poll() is None, "serve waits for the database"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "无法连接账本数据库" in out and "秒后重试" in out, out


def test_a_backup_copied_over_the_open_ledger_stops_the_intake(root, ledger_backend):
    """`cp backup.sqlite3 ledger.sqlite3` under a running serve keeps the file's inode, so the watch on a
    file replaced never fired; its pages no longer fit the WAL beside them, and serve went on issuing into
    a damaged ledger, each result saying 成功, while status said 账本出错."""
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite file copied over; PostgreSQL has no file")
    import sqlite3

    (root / "watcher.toml").write_text(
        "settle_seconds = 0.2\ntext_settle_seconds = 0.2\nrescan_seconds = 1\n", encoding="utf-8"
    )
    ledger, saved = root / "ledger.sqlite3", root.parent / "backup.sqlite3"
    out = root / "outbox" / "GZ001"

    def done(name: str) -> bool:
        return (out / f"{name}_结果.json").exists()

    _back_up(ledger, saved)  # last night's backup, before the day's business
    with serving(root) as proc:
        # Business, a checkpoint by another program (no harm, no stop: the main file written by someone
        # else, still sound), more business (the WAL holds only its pages).
        crowd = people(460)  # the people's table over many pages; the last group's commit touches few
        for n, (name, first, last) in enumerate((("团1", 0, 200), ("团2", 200, 400), ("团3", 400, 430))):
            write_request(root / "workbooks" / "GZ001" / f"{name}.xlsx", issue_fields(旅行团号=name), crowd[first:last])
            wait_for(lambda name=name: done(name), 60, name)
            if n == 1:
                with sqlite3.connect(ledger) as other:
                    assert other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
                other.close()
        shutil.copyfile(saved, ledger)  # over the open file: same inode, the WAL left beside it
        write_request(root / "workbooks" / "GZ001" / "团4.xlsx", issue_fields(旅行团号="团4"), crowd[430:])
        time.sleep(4)
        assert proc.poll() is None
    assert [json.loads((out / f"{n}_结果.json").read_text("utf-8"))["status"] for n in ("团1", "团2", "团3")] == [
        "success"
    ] * 3, "the checkpoint by another program stopped nothing"
    assert not done("团4"), "nothing issued into the damaged ledger"
    log = (root / "logs" / "watcher.log").read_text("utf-8")
    assert "被其他程序改写" in log and "已暂停受理新文件" in log, log[-2000:]
    assert not (root / "workbooks" / "GZ001" / "团4.xlsx").exists() or not done("团4")
    refused = run_watcher(root, "process", check=False)  # the next start finds the ledger behind the desk
    assert refused.returncode == 1 and "watcher recover" in refused.stderr, refused.stderr


def test_a_backup_restored_under_serve_that_lacks_the_days_business_stops_the_intake(root, ledger_backend):
    """A backup restored into the open ledger after a 撤单 (a dump restored under PostgreSQL workers is the
    same): no number was drawn since, so the ledger stayed level with the mark and serve went on, on a
    ledger that had the policy in force again. The event log's latest business, missing from the ledger,
    now stops it at the next rescan, until it is started again (and start sends the operator to recover)."""
    if ledger_backend != "sqlite":
        pytest.skip("the backup restored into the open SQLite file; under PostgreSQL workers it is a dump")
    import sqlite3

    (root / "watcher.toml").write_text(
        "settle_seconds = 0.2\ntext_settle_seconds = 0.2\nrescan_seconds = 1\n", encoding="utf-8"
    )
    out = root / "outbox" / "GZ001"
    write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
    run_watcher(root, "process")
    number = json.loads((out / "团A_结果.json").read_text("utf-8"))["policies"][0]["policy_no"]
    ledger, saved = root / "ledger.sqlite3", root.parent / "backup.sqlite3"
    _back_up(ledger, saved)
    log = root / "logs" / "watcher.log"
    with serving(root) as proc:
        write_request(root / "workbooks" / "GZ001" / "撤A.xlsx", {"操作类型": "撤单", "保单号": number})
        wait_for(lambda: (out / "撤A_结果.json").exists(), 30, "the 撤单")
        back, live = sqlite3.connect(saved), sqlite3.connect(ledger)
        back.backup(live)  # `.restore` into the open file: numbers level, the 撤单 gone
        back.close()
        live.close()
        wait_for(lambda: "账本缺少事件记录中最近已办理的业务" in log.read_text("utf-8"), 30, "the intake stopped")
        write_request(root / "workbooks" / "GZ001" / "批A.xlsx", {"操作类型": "批改", "保单号": number, "天数": 5})
        time.sleep(3)
        assert proc.poll() is None
    assert not (out / "批A_结果.json").exists(), "nothing done on the ledger that lost the 撤单"
    assert (root / "workbooks" / "GZ001" / "批A.xlsx").exists()
    refused = run_watcher(root, "process", check=False)
    assert refused.returncode == 1 and "watcher recover" in refused.stderr, refused.stderr


def test_a_recover_started_beside_a_running_worker_stops_its_intake(root):
    """A worker cut off from the database while `recover` began (no session for recover to see) came back
    and took files in the middle of the replay. A running service now stops its intake once a recovery is
    under way on its root, until it is started again."""
    from watcher.service.recovering import save_state

    (root / "watcher.toml").write_text(
        "settle_seconds = 0.2\ntext_settle_seconds = 0.2\nrescan_seconds = 1\n", encoding="utf-8"
    )
    log = root / "logs" / "watcher.log"
    with serving(root) as proc:
        wait_for(lambda: log.exists() and "正在监视" in log.read_text("utf-8"), 30, "serve up")
        save_state(root, "replaying")  # what recover writes as it begins
        wait_for(lambda: "watcher recover 正在" in log.read_text("utf-8"), 30, "the intake stopped")
        write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
        time.sleep(3)
        assert proc.poll() is None
    assert not (root / "outbox" / "GZ001" / "团A_结果.json").exists()
    assert (root / "workbooks" / "GZ001" / "团A.xlsx").exists()


def test_a_commit_a_full_disk_refused_is_not_said_done(tmp_path, ledger_backend):
    """SQLite refusing a COMMIT on a full disk committed nothing: the file was said 已办理（已生效）, listed as
    待写出结果, and its outputs written later when the ledger held no request of it (attack K)."""
    if ledger_backend != "sqlite":
        pytest.skip("SQLite's COMMIT on its own full disk")
    with small_disk(tmp_path) as (root, fill):
        (root / "watcher.toml").write_text("settle_seconds = 0\n", encoding="utf-8")
        write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(3))
        filler = fill(keep=80 << 10)
        proc = run_watcher(root, "process", check=False)
        said = proc.stdout + proc.stderr
        assert ledger_query(root, "SELECT COUNT(*) FROM requests") == [(0,)], said
        assert "已生效" not in said and "已办理" not in said, said
        status = run_watcher(root, "status", check=False).stdout
        assert "待写出结果" not in status, status
        assert not _results(root, "团A")
        filler.unlink()
        run_watcher(root, "process")
        assert json.loads(_results(root, "团A")[0].read_text("utf-8"))["status"] == "success"
        assert ledger_query(root, "SELECT COUNT(*) FROM requests") == [(1,)]


def test_a_ledger_written_over_under_serve_is_checked_whole_before_the_next_start(root, ledger_backend):
    """A backup copied over the open ledger after a checkpoint: serve stops, and its close checkpoints the
    day's last commit into the copy (SQLite does at the last close). The file then held the backup with
    some newer pages, level with the mark, its quick check passing: status said 正常 and the advised
    restart issued into it. The next start now checks it whole, and refuses it (attack K)."""
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite file copied over; PostgreSQL has no file")

    (root / "watcher.toml").write_text(
        "settle_seconds = 0.2\ntext_settle_seconds = 0.2\nrescan_seconds = 1\n", encoding="utf-8"
    )
    ledger, saved = root / "ledger.sqlite3", root.parent / "backup.sqlite3"
    out, drop = root / "outbox" / "GZ001", root / "workbooks" / "GZ001"
    crowd = people(40)
    for n in range(3):  # the desk's earlier business
        write_request(drop / f"旧{n}.xlsx", issue_fields(旅行团号=f"旧{n}"), crowd[n * 2 : n * 2 + 2])
    run_watcher(root, "process")

    def done(name: str) -> bool:
        return (out / f"{name}_结果.json").exists()

    with serving(root) as proc:
        _back_up(ledger, saved)  # last night's backup
        for n in range(5):
            write_request(drop / f"团{n}.xlsx", issue_fields(旅行团号=f"团{n}"), crowd[10 + n * 2 : 12 + n * 2])
        wait_for(lambda: all(done(f"团{n}") for n in range(5)), 60, "five groups")
        ledger_query(root, "PRAGMA wal_checkpoint(TRUNCATE)")  # another program's checkpoint (or the service's own)
        write_request(drop / "团X.xlsx", issue_fields(旅行团号="团X"), crowd[30:32])
        wait_for(lambda: done("团X"), 60, "团X")
        shutil.copyfile(saved, ledger)  # over the open file
        write_request(drop / "团Y.xlsx", issue_fields(旅行团号="团Y"), crowd[32:34])
        log = root / "logs" / "watcher.log"
        wait_for(lambda: "被其他程序改写" in log.read_text("utf-8"), 30, "the intake stopped")
        assert proc.poll() is None
    assert not done("团Y")
    status = run_watcher(root, "status", check=False).stdout
    assert "账本与磁盘：正常" not in status or "被其他程序改写" in status, status
    refused = run_watcher(root, "process", check=False)
    assert refused.returncode == 1 and "watcher recover" in refused.stderr, refused.stderr
    assert not done("团Y")
    # recover on the torn file reads it whole too: refused with the same advice, leaving no recovery under way.
    torn = run_watcher(root, "recover", check=False)
    assert torn.returncode == 1 and "恢复到最近的备份" in torn.stderr, torn.stderr
    assert "上一次 watcher recover" not in run_watcher(root, "process", check=False).stderr
    # The advice: the backup put back (its -wal and -shm first), then recover; the desk goes on.
    for extra in ("-wal", "-shm"):
        Path(str(ledger) + extra).unlink(missing_ok=True)
    shutil.copyfile(saved, ledger)
    assert run_watcher(root, "recover", check=False).returncode == 0
    run_watcher(root, "process")
    assert done("团Y") and run_watcher(root, "check").returncode == 0
    assert "被其他程序改写" not in run_watcher(root, "status").stdout


def test_a_ledger_written_over_just_before_serve_stops_is_noted_for_the_next_start(root, ledger_backend):
    """A backup copied over the open ledger, serve stopped before its next rescan looked: the close
    checkpointed the day's commits into the copy and nothing was noted; the next start found the file 正常
    (a quick check) and issued into it (attack R). The stop now looks first, and notes it."""
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite file copied over; PostgreSQL has no file")

    (root / "watcher.toml").write_text(
        "settle_seconds = 0.2\ntext_settle_seconds = 0.2\nrescan_seconds = 3600\n", encoding="utf-8"
    )
    ledger, saved = root / "ledger.sqlite3", root.parent / "backup.sqlite3"
    out, drop = root / "outbox" / "GZ001", root / "workbooks" / "GZ001"
    write_request(drop / "旧.xlsx", issue_fields(旅行团号="旧"), people(2))
    run_watcher(root, "process")
    _back_up(ledger, saved)  # last night's backup
    crowd = people(20)
    with serving(root):
        for n in range(3):
            write_request(drop / f"团{n}.xlsx", issue_fields(旅行团号=f"团{n}"), crowd[2 + n * 2 : 4 + n * 2])
        wait_for(lambda: all((out / f"团{n}_结果.json").exists() for n in range(3)), 60, "three groups")
        ledger_query(root, "PRAGMA wal_checkpoint(TRUNCATE)")  # a checkpoint: the file now holds more than the backup
        write_request(drop / "团X.xlsx", issue_fields(旅行团号="团X"), crowd[10:12])
        wait_for(lambda: (out / "团X_结果.json").exists(), 60, "团X")
        shutil.copyfile(saved, ledger)  # over the open file; the service is stopped at once
    assert Path(f"{ledger}.swapped").exists()
    assert "在服务停止前被其他程序改写" in (root / "logs" / "watcher.log").read_text("utf-8")
    assert "账本与磁盘：正常" not in run_watcher(root, "status", check=False).stdout


def test_status_names_the_ledgers_own_full_disk(root, tmp_path, ledger_backend):
    """A SQLite ledger on a disk of its own (watcher.toml's ledger = "/var/lib/…"), that disk full: every
    commit failed while status probed only the root's disk and said 账本与磁盘：正常 (attack K)."""
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite ledger's own disk")
    disk = tmp_path / "ledger_disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("this machine does not let a test mount a filesystem")
    try:
        run_watcher(root, "process")  # (a checkpoint: the ledger whole in its file)
        for path in root.glob("ledger.sqlite3*"):  # the file and the mark beside it (no -wal after a close)
            shutil.copyfile(path, disk / path.name)
            path.unlink()
        (root / "watcher.toml").write_text(f'settle_seconds = 0\nledger = "{disk / "ledger.sqlite3"}"\n', "utf-8")
        assert "账本与磁盘：正常" in run_watcher(root, "status").stdout
        import sqlite3

        held = sqlite3.connect(disk / "ledger.sqlite3")  # as a running serve holds it: its -wal and -shm there
        held.execute("SELECT COUNT(*) FROM policies").fetchone()
        filler = _fill(disk, keep=16 << 10)
        text = run_watcher(root, "status", check=False).stdout
        assert "账本与磁盘：正常" not in text and "磁盘" in text, text
        filler.unlink()
        held.close()
        assert "账本与磁盘：正常" in run_watcher(root, "status").stdout
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_status_during_an_unfinished_recover_advises_recover_not_process(root):
    """A recover stopped by a fault (its disk full, a share away): status said 重新运行命令（如 watcher process），
    或启动 watcher serve while the next line said neither starts before recover is done (attack R)."""
    from watcher.service.recovering import save_state

    save_state(root, "replaying")
    shutil.move(root / "workbooks", root.parent / "workbooks-away")  # the share away
    text = run_watcher(root, "status").stdout
    assert "再运行 watcher recover 即可继续" in text and "如 watcher process" not in text, text


def test_a_file_kept_in_hand_while_the_ledger_is_away_is_not_said_done(root, monkeypatch, capsys):
    """A file whose put-back met the ledger away stays in hand under its result name (review U), but it was
    listed as 已办理（已生效），结果暂时无法写出 and logged 重新写出 … 的结果: nothing of it was committed
    (review V). Said as not yet done, and done at the next run."""
    import watcher.walk.flow as flow
    from watcher.cli import main
    from watcher.faults import AWAY, DeskFault
    from watcher.ledger.policies import Ledger

    write_request(root / "workbooks/GZ001/团A.xlsx", issue_fields(), people(1))

    def away(*args, **kwargs):
        raise DeskFault(AWAY, ConnectionError("server closed the connection unexpectedly"))

    def unreachable(self, *args):
        raise ConnectionError("server closed the connection unexpectedly")

    with monkeypatch.context() as patched:
        patched.setattr(flow, "walk", away)
        patched.setattr(Ledger, "release_stem", unreachable)
        assert main(["process", "--root", str(root)]) == 1
    said = capsys.readouterr()
    assert "已办理" not in said.out + said.err and "尚未办理" in said.err, said
    kept = [p for p in (root / "workbooks/GZ001/.watcher-claimed").rglob("*") if p.is_file()]
    assert kept and not (root / "workbooks/GZ001/团A.xlsx").exists(), kept  # (in hand, under its name)
    assert "待写出结果" not in run_watcher(root, "status").stdout
    run_watcher(root, "process")
    assert result(root, "GZ001", "团A_结果")[0]["status"] == "success"
