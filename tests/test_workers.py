"""Several `watcher serve` workers on one root with the ledger on PostgreSQL (whichever --ledger the run
uses: these always need the database). One is killed with kill -9 in the middle of a burst; month-end
is started on both at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import (
    LEDGER_NOW,
    ZONE,
    agency_workbook,
    assert_exactly_once,
    drop_all,
    issue_fields,
    ledger_policy,
    ledger_query,
    need_postgresql,
    people,
    pg_schema,
    request_bytes,
    result,
    results,
    run_watcher,
    serving,
    start_serve,
    wait_for,
    write_request,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_root(tmp_path, pg_url) -> Path:
    """A demo desk whose ledger is a PostgreSQL schema of its own."""
    path = tmp_path / "desk"
    run_watcher(path, "init", "--demo")
    (path / "watcher.toml").write_text(
        "settle_seconds = 0.5\nrescan_seconds = 1\nstall_seconds = 3\n", encoding="utf-8"
    )
    return path


def _demo_ledger(url: str):
    from watcher.demo import DEMO_AGENCY, DEMO_PLANS
    from watcher.ledger import Ledger

    ledger = Ledger(url, ZONE, now=LEDGER_NOW)
    with ledger.atomic():
        for plan in DEMO_PLANS:
            ledger.add_plan_version(plan, request_id=None, at=LEDGER_NOW)
        ledger.save_agency(DEMO_AGENCY, request_id=None, at=LEDGER_NOW)
    return ledger


def _issue(ledger, sha: str) -> str:
    rid = ledger.record_request(
        agency="GZ001", sha256=sha * 64, file_name="x.xlsx", action="投保", at=LEDGER_NOW, outputs=[]
    )
    return ledger.issue_policy(ledger_policy(ledger.plan("GN-A").version), request_id=rid)


def test_a_workers_open_transaction_holds_up_no_other_workers_numbers(pg_url):
    """Two workers number policies at once: neither waits for the other's commit, a number is never
    handed out twice, and one rolled back is left unused (a gap), not given again."""
    from watcher.ledger import Ledger

    first = _demo_ledger(pg_url)
    second = Ledger(pg_url, ZONE, now=LEDGER_NOW)
    second.conn.execute("SET lock_timeout = '2s'")  # waiting on the first's commit would fail, not hang
    try:
        with pytest.raises(RuntimeError):
            with first.atomic():
                held = _issue(first, "a")
                with second.atomic():  # while the first's transaction is open
                    other = _issue(second, "b")
                raise RuntimeError("the first worker's file fails after its policy was numbered")
        with first.atomic():
            after = _issue(first, "c")
        tails = [int(n[-7:]) for n in (held, other, after)]
        assert tails == [1, 2, 3], tails
        stored = sorted(n for (n,) in first.conn.execute("SELECT policy_no FROM policies").fetchall())
        assert stored == sorted([other, after])  # the rolled-back number stays unused
        assert first.numbers_used() == second.numbers_used() == {"policy": 3, "statement": 0}
        from watcher.ledger.check import check_ledger

        assert check_ledger(first) == []
    finally:
        first.close()
        second.close()


def test_a_postgresql_ledger_from_before_its_own_sequences_carries_on_its_numbers(pg_url):
    from watcher.ledger.check import check_ledger
    from watcher.ledger.postgresql import PostgresDatabase
    from watcher.ledger.schema import migrate

    db = PostgresDatabase(pg_url)
    migrate(db, LEDGER_NOW.isoformat(), upto=8)
    db.execute("INSERT INTO sequences VALUES ('policy', 41), ('statement', 7)")
    db.close()
    ledger = _demo_ledger(pg_url)  # brought forward on open
    try:
        assert ledger.numbers_used() == {"policy": 41, "statement": 7}
        assert ledger.conn.execute("SELECT to_regclass('sequences')").fetchone()[0] is None
        with ledger.atomic():
            assert _issue(ledger, "a").endswith("0000042")
        assert check_ledger(ledger) == []
    finally:
        ledger.close()


def test_two_workers_one_killed_halfway_every_file_exactly_once(pg_root):
    root = pg_root
    files = {f"团{i:03d}.xlsx": request_bytes(i, valid=i % 7 != 0) for i in range(300)}
    valid = {name for i, name in enumerate(files) if i % 7 != 0}
    first, second = start_serve(root), start_serve(root)
    try:
        time.sleep(2)
        drop_all(root, files)
        wait_for(lambda: len(results(root)) >= 100, 240, "a third of the results")
        first.kill()  # SIGKILL halfway: whatever it held in hand, the other worker finishes
        first.wait()
        wait_for(
            lambda: (
                len(results(root)) >= 300
                and not [
                    p for p in (root / "workbooks" / "GZ001").rglob("*") if p.is_file() and not p.name.startswith(".")
                ]
            ),
            240,
            "every file finished by the survivor",
        )
        claimed = root / "workbooks" / "GZ001" / ".watcher-claimed"
        wait_for(
            lambda: not [p for p in claimed.iterdir() if p.name.endswith(f"-{first.pid}")],
            30,
            "the dead worker's claim folder cleared away",
        )
        time.sleep(1.5)
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(20)
    assert_exactly_once(root, files, valid)
    numbers = [n for (n,) in ledger_query(root, "SELECT policy_no FROM policies")]
    assert len(numbers) == len(set(numbers)) == len(valid)
    check = run_watcher(root, "check")
    assert check.returncode == 0 and "一致" in check.stdout


def test_month_end_started_on_both_workers_at_once_settles_once(pg_root):
    root = pg_root
    for i, start in enumerate(("2026-11-20 08:00", "2026-11-21 08:00")):
        write_request(
            root / "workbooks/GZ001" / f"团{i}.xlsx",
            issue_fields(生效时间=start, 旅行团号=f"T{i}"),
            people(2 + 2 * i)[2 * i :],
        )
    run_watcher(root, "process", env={"WATCHER_FAKE_NOW": "2026-11-10T10:00:00+08:00"})
    env = {"WATCHER_FAKE_NOW": "2026-12-01T02:00:05+08:00"}
    # Both workers start after the scheduled time: each tries the due month-end at once.
    with serving(root, env), serving(root, env):
        wait_for(lambda: (root / "outbox/_admin/月结汇总_2026-11.xlsx").exists(), 60, "the month-end")
        time.sleep(3)
    runs = ledger_query(root, "SELECT month, trigger FROM month_end_runs")
    assert runs == [("2026-11", "定时")], runs
    statements = ledger_query(root, "SELECT statement_no, policy_count FROM statements")
    assert len(statements) == 1 and statements[0][1] == 2
    # The command, started twice at the same moment, settles nothing twice either.
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "watcher", "month-end", "--month", "2026-11", "--root", str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUTF8": "1", "WATCHER_FAKE_NOW": "2026-12-02T09:00:00+08:00"},
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes[0] == 0 and all(
        c == 0 or "另一个 watcher 正在运行月结" in err
        for c, (_, err) in zip([p.returncode for p in procs], outs, strict=True)
    ), outs
    assert ledger_query(root, "SELECT COUNT(*) FROM statements") == [(1,)]
    assert run_watcher(root, "check").returncode == 0
    data, _ = result(root, "GZ001", "团0_结果")
    assert data["status"] == "success"


def test_a_copy_undone_by_its_verification_leaves_the_database_fit_for_the_next(tmp_path, pg_url, monkeypatch):
    """PostgreSQL does not roll back setval: a copy refused after the numbers were carried on must not
    leave the target looking used, and the next copy must set them again."""
    from watcher.ledger import Ledger
    from watcher.ledger import copy as copying
    from watcher.ledger.check import check_ledger

    source = _demo_ledger(tmp_path / "ledger.sqlite3")
    target = Ledger(pg_url, ZONE, now=LEDGER_NOW)
    try:
        with source.atomic():
            _issue(source, "a")
            _issue(source, "b")
        checked = []

        def failing_on_the_target(ledger):
            checked.append(ledger.backend)
            return ["目标核对不一致（测试）"] if ledger is target else []

        monkeypatch.setattr(copying, "check_ledger", failing_on_the_target)
        with pytest.raises(copying.CopyRefused, match="已撤销"):
            copying.copy_ledger(source, target)
        assert checked == ["sqlite", "postgresql"]
        assert target.conn.execute("SELECT COUNT(*) FROM policies").fetchone()[0] == 0
        monkeypatch.setattr(copying, "check_ledger", check_ledger)  # the real check again
        with target.atomic():  # numbers handed out without a row to show for them are set back too
            for _ in range(3):
                target._next("policy")
        assert target.numbers_used()["policy"] == 5
        copied = copying.copy_ledger(source, target)
        assert copied["policies"] == 2
        assert target.numbers_used() == source.numbers_used() == {"policy": 2, "statement": 0}
        with target.atomic():
            assert _issue(target, "c").endswith("0000003")
    finally:
        source.close()
        target.close()


def test_migrate_copies_a_sqlite_ledger_into_postgresql_and_verifies_it(tmp_path, monkeypatch):
    need_postgresql()
    monkeypatch.delenv("WATCHER_LEDGER_URL", raising=False)
    root = tmp_path / "desk"
    run_watcher(root, "init", "--demo")
    (root / "watcher.toml").write_text("settle_seconds = 0\n", encoding="utf-8")
    write_request(root / "workbooks/GZ001/团A.xlsx", issue_fields(生效时间="2026-11-20 08:00"), people(3))
    run_watcher(root, "process", env={"WATCHER_FAKE_NOW": "2026-11-10T10:00:00+08:00"})
    run_watcher(root, "month-end", "--month", "2026-11", env={"WATCHER_FAKE_NOW": "2026-12-01T02:00:00+08:00"})
    before = {
        t: ledger_query(root, f"SELECT COUNT(*) FROM {t}")[0][0]
        for t in ("policies", "insured", "journal", "statements", "requests")
    }
    held = ledger_query(root, "SELECT value FROM desk")  # the ledger's id, which the copy keeps
    with pg_schema("m_") as url:  # a schema apart from the run's: the source here is SQLite
        with serving(root):  # a service still at work on the SQLite ledger: the copy would miss what it does
            wait_for(lambda: "服务：运行中" in run_watcher(root, "status").stdout, 60, "serve running")
            busy = run_watcher(root, "migrate", "--to", url, check=False)
            assert busy.returncode == 1 and "停止 watcher serve" in busy.stderr, busy.stderr
        done = run_watcher(root, "migrate", "--to", url)
        assert "核对一致" in done.stdout
        monkeypatch.setenv("WATCHER_LEDGER_URL", url)
        after = {t: ledger_query(root, f"SELECT COUNT(*) FROM {t}")[0][0] for t in before}
        assert after == before and before["policies"] == 1 and before["statements"] == 1
        assert run_watcher(root, "check").returncode == 0
        # The copy goes on working: a new request gets the next numbers.
        write_request(root / "workbooks/GZ001/团B.xlsx", issue_fields(旅行团号="T-B"), people(5)[3:])
        run_watcher(root, "process")
        numbers = sorted(n for (n,) in ledger_query(root, "SELECT policy_no FROM policies"))
        assert len(numbers) == 2 and numbers[1][-7:] == "0000002"
        identity = json.loads((root / "ledger.identity.json").read_text("utf-8"))
        assert ledger_query(root, "SELECT value FROM desk") == held == [(identity["ledger"],)]
        assert identity["where"].startswith("pg:")  # the same ledger, now on PostgreSQL
        monkeypatch.delenv("WATCHER_LEDGER_URL")
        again = run_watcher(root, "migrate", "--to", url, check=False)
        # (the SQLite ledger left behind is stale: it is not copied again, whatever the target holds)
        assert again.returncode == 1 and "迁移到 PostgreSQL 之前的 SQLite 账本" in again.stderr, again.stderr
        other = tmp_path / "desk2"  # another desk's ledger into one that holds data: refused
        run_watcher(other, "init", "--demo")
        onto = run_watcher(other, "migrate", "--to", url, check=False)
        assert onto.returncode == 1 and "已有数据" in onto.stderr, onto.stderr
        # Run again on the SQLite ledger the migration left behind: it lacks 团B, whose number it would hand
        # out again. Sent to `recover` (a fork of the ledger), not to the URL.
        for command in ("process", "month-end", "recover", "status", "check", "web"):
            back = run_watcher(root, command, "--month", "2026-11", check=False) if command == "month-end" else None
            back = back or run_watcher(root, command, check=False)
            assert back.returncode == 1 and "WATCHER_LEDGER_URL" in back.stderr, (command, back.stderr)
            assert "运行 watcher recover" not in back.stderr, back.stderr


def test_status_lists_the_live_workers_of_a_shared_ledger(pg_root):
    root = pg_root
    assert "服务：未运行" in run_watcher(root, "status").stdout
    first, second = start_serve(root), start_serve(root)
    try:
        wait_for(
            lambda: all(str(p.pid) in run_watcher(root, "status").stdout for p in (first, second)),
            60,
            "both workers in watcher status",
        )
        text = run_watcher(root, "status").stdout
        assert "服务：运行中（2 个工作进程：" in text and "serve" in text
        first.kill()  # kill -9: its row stays, but nobody holds its lock any more
        first.wait()
        text = run_watcher(root, "status").stdout
        assert "运行中（1 个工作进程：" in text and str(second.pid) in text and str(first.pid) not in text
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(20)
    assert "服务：未运行" in run_watcher(root, "status").stdout
    # The worker that stopped cleanly took its row away; the killed one's is cleared by the next to start.
    names = [n for (n,) in ledger_query(root, "SELECT name FROM workers")]
    assert len(names) == 1 and names[0].endswith(f"-{first.pid}")
    with serving(root):
        wait_for(lambda: "运行中（1 个工作进程" in run_watcher(root, "status").stdout, 60, "the new worker")
        names = [n for (n,) in ledger_query(root, "SELECT name FROM workers")]
        assert len(names) == 1 and not names[0].endswith(f"-{first.pid}")


def test_a_dead_workers_claim_folder_adopted_by_another_meanwhile_stops_nothing(root):
    """Two workers starting together: the other adopted the dead worker's folder and removed it between this
    one's listing and its look inside, and this worker stopped with 无法访问 … 路径不存在."""
    import shutil

    from watcher import clock
    from watcher.layout import Layout
    from watcher.ledger import Ledger
    from watcher.ledger.db import ledger_target
    from watcher.service.intake import adopt
    from watcher.settings import load_settings
    from watcher.walk.desk import Desk

    dead = root / "workbooks" / "GZ001" / ".watcher-claimed" / "gone-host-2"
    dead.mkdir(parents=True)
    write_request(dead / "团A.xlsx", issue_fields(), people(1))
    settings = load_settings(root)
    ledger = Ledger(ledger_target(root, settings.ledger), settings.zone, now=clock.now())
    taking = ledger.try_lock

    def meanwhile(name: str) -> bool:  # the other worker adopts it just before this one's turn
        shutil.rmtree(dead, ignore_errors=True)
        return taking(name)

    ledger.try_lock = meanwhile  # type: ignore[method-assign]
    try:
        assert adopt(Desk(Layout(root), settings, ledger, worker="me-3"), "GZ001") == []
    finally:
        ledger.close()


def test_a_dead_workers_claim_folder_is_emptied_and_removed(root):
    """Its files (with their claim records) move to the adopting worker; records of files it had already
    finished, and a record it was half-way writing, go; the folder goes."""
    from watcher import clock
    from watcher.layout import Layout
    from watcher.ledger import Ledger
    from watcher.ledger.db import ledger_target
    from watcher.service.intake import adopt
    from watcher.settings import load_settings
    from watcher.walk.claim import read_record, record_path, write_record
    from watcher.walk.desk import Desk

    dead = root / "workbooks" / "GZ001" / ".watcher-claimed" / "gone-host-1"
    dead.mkdir(parents=True)
    write_request(dead / "团A.xlsx", issue_fields(), people(1))
    write_record(dead / "团A.xlsx", "GZ001", "团A_结果")
    record_path(dead / "团B.xlsx").write_text('{"original": "团B.xlsx", "stem": "团B_结果"}', encoding="utf-8")
    (dead / ".团C.xlsx.claim.json.gone-host-1.watcher-tmp").write_text("{", encoding="utf-8")
    settings = load_settings(root)
    ledger = Ledger(ledger_target(root, settings.ledger), settings.zone, now=clock.now())
    try:
        taken = adopt(Desk(Layout(root), settings, ledger, worker="me-2"), "GZ001")
    finally:
        ledger.close()
    mine = root / "workbooks" / "GZ001" / ".watcher-claimed" / "me-2"
    assert taken == [mine / "团A.xlsx"] and read_record(mine / "团A.xlsx", "GZ001") is not None
    assert not dead.exists()


@contextmanager
def _paused_before_commit(root: Path, dropped: Path):
    """A worker (`watcher process`) that took `dropped` and waits 4 s before its commit: what the block does
    meanwhile is another worker's."""
    slow = subprocess.Popen(
        [sys.executable, "-m", "watcher", "process", "--root", str(root)],
        env={**os.environ, "PYTHONUTF8": "1", "WATCHER_PAUSE_AT": "before_commit:4"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: not dropped.exists(), 30, "the file taken by the paused worker")
        time.sleep(1)  # read, checked, waiting before its commit
        yield
    finally:
        slow.wait(60)


def test_two_workers_never_both_issue_one_group_to_the_same_people(pg_root):
    """Two 投保 of one group with the same people, taken by two workers at once: each read the group before
    the other committed, and both issued (SPEC: the second is refused). One waits for the other's commit."""
    root = pg_root
    roster = people(3)
    first = write_request(root / "workbooks" / "GZ001" / "甲.xlsx", issue_fields(行程路线="路线甲"), roster)
    with _paused_before_commit(root, first):  # it has read the group and waits before its commit
        write_request(root / "workbooks" / "GZ001" / "乙.xlsx", issue_fields(行程路线="路线乙"), roster)
        run_watcher(root, "process")
    answers = {name: result(root, "GZ001", f"{name}_结果")[0] for name in ("甲", "乙")}
    assert sorted(a["status"] for a in answers.values()) == ["failed", "success"], answers
    live = ledger_query(root, "SELECT policy_no FROM policies WHERE status = '有效'")
    assert len(live) == 1


def test_a_worker_cut_off_from_the_database_for_a_moment_takes_its_lock_back(pg_root):
    """A database restart drops every connection and every session lock with it: a worker that carried on
    without its lock looked dead to the others (status said 未运行), which took over its files in hand and
    gave them a second result."""
    import psycopg
    from helpers import PG_BASE

    root = pg_root
    with serving(root) as worker:
        wait_for(lambda: str(worker.pid) in run_watcher(root, "status").stdout, 60, "the worker in status")
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            cut = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            ).fetchall()
        assert cut, "the worker's connection was cut"
        # Its next look at the desk (a rescan each second here) reconnects and takes its lock again.
        write_request(root / "workbooks" / "GZ001" / "之后.xlsx", issue_fields(), people(1))
        wait_for(lambda: (root / "outbox" / "GZ001" / "之后_结果.json").exists(), 60, "a file after the cut")
        wait_for(lambda: str(worker.pid) in run_watcher(root, "status").stdout, 30, "the worker alive again")
        assert "服务：未运行" not in run_watcher(root, "status").stdout


def test_a_dead_workers_files_are_taken_over_only_once_its_lock_stayed_free(root):
    """A running service takes over only from a worker whose lock it found free over its grace (a worker
    reconnecting takes its lock back meanwhile); at start, at once."""
    from watcher import clock
    from watcher.layout import Layout
    from watcher.ledger import Ledger
    from watcher.ledger.db import ledger_target
    from watcher.service.intake import adopt
    from watcher.settings import load_settings
    from watcher.walk.claim import write_record
    from watcher.walk.desk import Desk

    dead = root / "workbooks" / "GZ001" / ".watcher-claimed" / "gone-host-2"
    dead.mkdir(parents=True)
    write_request(dead / "团A.xlsx", issue_fields(), people(1))
    write_record(dead / "团A.xlsx", "GZ001", "团A_结果")
    settings = load_settings(root)
    ledger = Ledger(ledger_target(root, settings.ledger), settings.zone, now=clock.now())
    try:
        desk = Desk(Layout(root), settings, ledger, worker="me-3")
        assert adopt(desk, "GZ001", grace=1.0) == [] and (dead / "团A.xlsx").exists()
        time.sleep(1.1)
        mine = root / "workbooks" / "GZ001" / ".watcher-claimed" / "me-3"
        assert adopt(desk, "GZ001", grace=1.0) == [mine / "团A.xlsx"] and not dead.exists()
        # A worker of this host whose process is gone (crashed, restarted as another) is not waited for.
        import socket

        from watcher.service.intake import worker_name

        ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        here = root / "workbooks" / "GZ001" / ".watcher-claimed" / worker_name(socket.gethostname(), int(ended.stdout))
        here.mkdir()
        write_request(here / "团B.xlsx", issue_fields(旅行团号="T-B"), people(1))
        assert adopt(desk, "GZ001", grace=60.0) == [mine / "团B.xlsx"] and not here.exists()
    finally:
        ledger.close()


def test_a_shared_ledgers_root_run_without_its_url_points_to_the_url_not_to_a_new_ledger(pg_root, monkeypatch):
    """Run in a shell without WATCHER_LEDGER_URL, commands looked for ledger.sqlite3 and sent the operator to
    init (which made one and handed out LY…0000001 again) or recover; nothing is made, the URL is asked for."""
    root = pg_root
    write_request(root / "workbooks" / "GZ001" / "团.xlsx", issue_fields(), people(1))
    run_watcher(root, "process")
    assert (root / "ledger.numbers.json").exists()
    monkeypatch.delenv("WATCHER_LEDGER_URL")
    (root / "archive").rename(root.parent / "archive-elsewhere")  # even where the archive is not at hand
    for command in ("process", "init", "recover", "status", "check"):
        proc = run_watcher(root, command, check=False)
        assert proc.returncode == 1 and "WATCHER_LEDGER_URL" in proc.stderr, (command, proc.stderr)
    assert not (root / "ledger.sqlite3").exists()


def test_an_agency_terminated_by_one_worker_issues_nothing_on_another_meanwhile(pg_root):
    """A 机构 terminating GZ001 on one worker, a GZ001 投保 on another: the 投保 had passed the 'still 合作中'
    check before the 机构 committed and issued to a terminated agency. The 机构 holds GZ001's turn."""
    from helpers import agency_workbook

    root = pg_root
    stop = agency_workbook(
        root / "workbooks" / "_admin" / "终止.xlsx",
        [[1, "GZ001", "广州示例国际旅行社有限公司", "", "", "GN-A", "已终止"]],
    )
    with _paused_before_commit(root, stop):
        write_request(root / "workbooks" / "GZ001" / "团.xlsx", issue_fields(), people(2))
        run_watcher(root, "process")
    assert result(root, "_admin", "终止_结果")[0]["status"] == "success"
    issued = result(root, "GZ001", "团_结果")[0]
    assert issued["status"] == "failed" and issued["errors"][0]["code"] == "agency.ended", issued
    assert ledger_query(root, "SELECT COUNT(*) FROM policies") == [(0,)]


def test_a_worker_whose_lock_another_holds_after_reconnecting_does_not_go_on(pg_url):
    """Reconnected while another worker held its lock (taking over its files): it worked on without it."""
    import psycopg
    from helpers import PG_BASE

    from watcher.faults import DeskFault
    from watcher.ledger.policies import _lock_key

    ledger = _demo_ledger(pg_url)
    try:
        assert ledger.keep_lock("worker:me-1")
        ledger.db.conn.close()  # the connection dropped (a database restart)
        with psycopg.connect(pg_url, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s)", (_lock_key("worker:me-1"),))
            with pytest.raises(DeskFault):
                ledger.probe()  # reconnects, finds its lock held by another: the desk does not go on
            assert not ledger.lock_held
            other.execute("SELECT pg_advisory_unlock(%s)", (_lock_key("worker:me-1"),))
        ledger.probe()  # free again: taken back, the desk goes on
        assert ledger.lock_held
        with psycopg.connect(PG_BASE, autocommit=True) as third:
            got = third.execute("SELECT pg_try_advisory_lock(%s)", (_lock_key("worker:me-1"),)).fetchone()[0]
            assert got is False
    finally:
        ledger.close()


def test_a_worker_the_workers_table_lost_is_still_seen_and_recover_waits_for_it(pg_root):
    """A dump from before the worker started, restored under it, takes its row away: status said 「服务：未运行」
    over a live worker, and recover replayed beside it. Its session names it on the server itself."""
    root = pg_root
    with serving(root) as proc:
        wait_for(lambda: "运行中（1 个工作进程" in run_watcher(root, "status").stdout, 60, "the worker")
        ledger_query(root, "DELETE FROM workers")
        text = run_watcher(root, "status").stdout
        assert "服务：运行中（1 个工作进程" in text and str(proc.pid) in text, text
        refused = run_watcher(root, "recover", check=False)
        assert refused.returncode == 1, refused.stdout
        assert "还有 1 个 watcher 工作进程" in refused.stderr and str(proc.pid) in refused.stderr, refused.stderr
    assert "服务：未运行" in run_watcher(root, "status").stdout


class _Cable:
    """A TCP hop between one worker and the database that the test can cut: the worker lives on, its
    connection dropped and every new one refused (a network gone), while everyone else reaches the server."""

    def __init__(self, url: str):
        import socket
        import threading
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.server = socket.create_server(("127.0.0.1", 0))
        port = self.server.getsockname()[1]
        self.url = url.replace(f"@{parts.hostname}:{parts.port or 5432}", f"@127.0.0.1:{port}", 1)
        assert self.url != url, url
        self.sockets: list = []
        # Armed: the COMMIT that follows a request's INSERT goes through, and the connection is cut before its
        # answer comes back (the database committed; the worker cannot know).
        self.armed, self.fired = False, False
        # Before: the request's INSERT is not passed on and the connection is cut (nothing committed).
        self.before = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b, out in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, out), daemon=True).start()

    def _pipe(self, a, b, out: bool = False) -> None:
        import socket

        inserted = False
        try:
            while data := a.recv(65536):
                if out and self.before and b"INSERT INTO requests" in data:
                    self.before, self.fired = False, True
                    break
                inserted = inserted or (out and self.armed and b"INSERT INTO requests" in data)
                if inserted and b"COMMIT" in data:
                    self.armed, self.fired = False, True
                    a.shutdown(socket.SHUT_RDWR)  # the worker's end first: no answer can reach it
                    b.sendall(data)
                    time.sleep(0.5)  # the server commits
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        import socket

        try:  # (close alone leaves a thread blocked in accept taking connections on Linux)
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_recover_refuses_while_a_worker_cut_off_from_the_database_still_runs(pg_root, pg_url):
    """A worker whose network to the database dropped has no session there: recover's look at the server
    found no worker and replayed, and the worker, once back, took files beside the replay. It says on the
    shared root that it lives (a beat file that keeps changing), and recover refuses until it is stopped;
    status names it as cut off. Killed, it holds nothing up: its process is seen to be gone."""
    root = pg_root
    cable = _Cable(pg_url)
    try:
        with serving(root, env={"WATCHER_LEDGER_URL": cable.url}) as worker:
            wait_for(lambda: str(worker.pid) in run_watcher(root, "status").stdout, 60, "the worker in status")
            cable.cut()
            wait_for(lambda: "连不上账本数据库" in run_watcher(root, "status").stdout, 30, "the worker cut off")
            text = run_watcher(root, "status").stdout
            assert "服务：运行中（1 个工作进程仍在运行但连不上账本数据库" in text and str(worker.pid) in text, text
            refused = run_watcher(root, "recover", check=False)
            assert refused.returncode == 1, refused.stdout
            assert "暂时连不上账本数据库" in refused.stderr and str(worker.pid) in refused.stderr, refused.stderr
            assert worker.poll() is None, "the worker lives on, waiting for the database"
            # Frozen as well (its beat file still): on this machine its process is seen to live.
            os.kill(worker.pid, signal.SIGSTOP)
            try:
                frozen = run_watcher(root, "recover", check=False)
            finally:
                os.kill(worker.pid, signal.SIGCONT)
            assert frozen.returncode == 1 and str(worker.pid) in frozen.stderr, frozen.stdout + frozen.stderr
            worker.kill()
            worker.wait()
        done = run_watcher(root, "recover", check=False)
        assert "连不上账本数据库" not in done.stderr and done.returncode == 0, done.stdout + done.stderr
        assert not list(root.glob(".watcher-alive-*")), "the dead worker's beat file is cleared"
    finally:
        cable.cut()


def test_a_beat_file_that_stops_changing_is_a_worker_gone_and_one_that_changes_a_worker_alive(tmp_path):
    """Beat files as recover reads them: one left by a worker killed on another host (it never changes)
    is waited out over a few of its beats and cleared; one whose worker beats is a live worker; a file of
    this machine whose process is gone is removed at once. One that cannot be read as a beat file (a pipe,
    garbage) is not known to be a stopped worker: recover names it rather than block or crash on it."""
    import json
    import socket

    from watcher.service.heartbeat import Heartbeat, _machine, beat_path, beating

    left = beat_path(tmp_path, "elsewhere-41")
    left.write_text(json.dumps({"worker": "elsewhere-41", "host": "elsewhere", "pid": 41, "every": 0.5, "beat": 9}))
    dead = beat_path(tmp_path, "here-dead")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    here = {"host": socket.gethostname(), "machine": _machine(), "every": 0.5}
    dead.write_text(json.dumps({"worker": "here-dead", "pid": int(gone.stdout), **here}))
    # A file no worker wrote: a huge process id, garbage, a pipe (reading it would block for ever).
    beat_path(tmp_path, "huge").write_text(json.dumps({"worker": "huge", "pid": 2**64, **here}))
    started = time.monotonic()
    assert beating(tmp_path) == []
    assert time.monotonic() - started < 5, "waited only a few of its beats"
    assert not left.exists() and not dead.exists(), "left over: cleared, the next recover waits for nothing"
    os.mkfifo(beat_path(tmp_path, "pipe"))
    (tmp_path / ".watcher-alive-garbage.json").write_text("not json")
    started = time.monotonic()
    found = beating(tmp_path)
    assert time.monotonic() - started < 15 and sorted(b.worker for b in found) == ["garbage", "pipe"], found
    for odd in ("pipe", "garbage"):
        beat_path(tmp_path, odd).unlink()
    beat = Heartbeat(tmp_path, "here-live", "serve", every=0.3).start()
    try:
        found = beating(tmp_path)
        assert [(b.worker, b.command, b.host) for b in found] == [("here-live", "serve", socket.gethostname())]
        assert [b.worker for b in beating(tmp_path, watch=False)] == ["here-live"], "status: no waiting"
    finally:
        beat.close()
    time.sleep(0.5)
    assert not beat_path(tmp_path, "here-live").exists(), "a worker that stops removes its file, for good"


def test_status_says_a_worker_that_stopped_beating_may_have_stopped_responding(pg_root):
    """A worker frozen (SIGSTOP) with a file in hand: its session and lock live on, so nobody takes the file
    over, and status said 运行中 and 处理中 with nothing amiss for as long as it lasted."""
    root = pg_root
    with serving(root) as worker:
        wait_for(lambda: str(worker.pid) in run_watcher(root, "status").stdout, 60, "the worker in status")
        assert "没有心跳" not in run_watcher(root, "status").stdout
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            wait_for(lambda: "没有心跳" in run_watcher(root, "status").stdout, 40, "the silence said")
            text = run_watcher(root, "status").stdout
            assert str(worker.pid) in text and "可能已停止响应" in text, text
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        wait_for(lambda: "没有心跳" not in run_watcher(root, "status").stdout, 30, "beating again")


@contextmanager
def _serving_through(root: Path, cable: _Cable):
    """A `serve` worker reaching the database through `cable`, once status lists it."""
    with serving(root, env={"WATCHER_LEDGER_URL": cable.url}) as worker:
        wait_for(lambda: str(worker.pid) in run_watcher(root, "status").stdout, 60, "the worker in status")
        yield worker


def test_a_commit_whose_answer_never_came_is_finished_as_that_request(pg_root, pg_url):
    """The database committed, the connection dropped before its answer came back: the worker took the
    commit for undone, put the file back and deleted its archived copy. Taken again it was a 重复提交 beside a
    result rebuilt under another name, its event line said it changed nothing, and recover could never
    rebuild the desk. It stays in hand now, and is finished as that request once the database answers."""
    import json

    from watcher import events

    root = pg_root
    out = root / "outbox" / "GZ001"
    cable = _Cable(pg_url)
    try:
        with _serving_through(root, cable):
            cable.armed = True
            write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
            wait_for(lambda: (out / "团A_结果.json").exists(), 90, "团A's result")
            time.sleep(2)  # a second result, if any, would follow
        assert cable.fired, "the answer to the request's COMMIT was never passed on"
        data = json.loads((out / "团A_结果.json").read_text("utf-8"))
        assert data["status"] == "success" and len(data["policies"]) == 1, data
        assert sorted(p.name for p in out.glob("团A_结果*.json")) == ["团A_结果.json"], "one result for one drop"
        lines = [e.data for e in events.read(root / "archive") if e.kind == "file" and e.data["file"] == "团A.xlsx"]
        assert [(x["status"], x["committed"]) for x in lines] == [("success", True)], lines
        assert lines[0]["numbers"] and (root / "archive" / lines[0]["archived"]).is_file()
    finally:
        cable.cut()


def test_a_file_put_back_when_the_connection_dropped_keeps_its_result_name(pg_root, pg_url):
    """The connection dropped before a request's commit: the file went back to wait, but the name its result
    was to take could not be freed (the database away at that moment), so taken again it came out as
    团A_结果_2, and no 团A_结果 ever existed for the clerk to find. It stays in hand under its name now, and is
    done once the database answers."""
    root = pg_root
    out = root / "outbox" / "GZ001"
    cable = _Cable(pg_url)
    try:
        with _serving_through(root, cable):
            cable.before = True
            write_request(root / "workbooks" / "GZ001" / "团A.xlsx", issue_fields(), people(2))
            wait_for(lambda: list(out.glob("团A_结果*.json")), 90, "团A's result")
            time.sleep(1)
        assert cable.fired, "the request's INSERT was never held back"
        assert sorted(p.name for p in out.glob("团A_结果*.json")) == ["团A_结果.json"]
        assert ledger_query(root, "SELECT count(*) FROM result_names")[0][0] == 0
    finally:
        cable.cut()


def test_a_worker_frozen_on_an_agencys_turn_holds_up_no_other_file_and_status_names_it(pg_root, pg_url):
    """A worker frozen while it holds an agency's turn (kill -STOP, a paused machine) held up every worker that
    met a file of that agency, and all their other files with it; status said nothing of it. Now the file
    waits lock_wait_seconds, goes back where it was dropped and is tried again later, while the worker goes
    on with the other files; status names the worker holding the turn."""
    import hashlib

    import psycopg

    from watcher.ledger.policies import _lock_key

    root = pg_root
    (root / "watcher.toml").write_text(
        "settle_seconds = 0.3\nrescan_seconds = 1\nlock_wait_seconds = 2\n", encoding="utf-8"
    )
    drop = root / "workbooks/GZ001/团A.xlsx"
    with psycopg.connect(pg_url, autocommit=True) as frozen:
        where = frozen.execute("SELECT current_database() || '/' || current_schema()").fetchone()[0]
        tag = f"watcher {hashlib.sha256(str(where).encode()).hexdigest()[:8]} "
        frozen.execute("SELECT set_config('application_name', %s, false)", (tag + "serve frozen-1",))
        frozen.execute("SELECT pg_advisory_lock(%s)", (_lock_key("agency:GZ001"),))
        with serving(root) as proc:
            write_request(drop, issue_fields(), people(2))
            wait_for(lambda: "占着机构 GZ001 的办理次序" in run_watcher(root, "status").stdout, 60, "status names it")
            text = run_watcher(root, "status").stdout
            assert "frozen-1（" in text and text.index("frozen-1（") < text.index("占着机构 GZ001"), text
            assert (
                f"{proc.pid}（serve，" in text and "占着" not in text.split(f"{proc.pid}（serve，", 1)[1].split("）")[0]
            )
            # The file went back to wait, and the worker is free for other files meanwhile: a 机构 workbook
            # registering another agency (its own turn and the admin folder's) is done while GZ001's is held.
            log = root / "logs" / "watcher.log"
            wait_for(lambda: "文件已放回原处" in log.read_text("utf-8"), 60, "the file put back")
            agency_workbook(
                root / "workbooks/_admin/登记.xlsx", [[1, "SZ002", "深圳测试旅行社", "9144", "XY-2", "GN-A", "合作中"]]
            )
            wait_for(lambda: results(root, "_admin"), 60, "the other agency's file, meanwhile")
            assert results(root, "_admin")[0]["status"] == "success"
            assert not results(root)
            frozen.execute("SELECT pg_advisory_unlock(%s)", (_lock_key("agency:GZ001"),))
            wait_for(lambda: results(root), 60, "the file, once the turn is free")
            assert "办理次序" not in run_watcher(root, "status").stdout
            assert proc.poll() is None
    assert results(root)[0]["status"] == "success"
    assert [p.name for p in (root / "outbox/GZ001").glob("团A_结果*.json")] == ["团A_结果.json"]
