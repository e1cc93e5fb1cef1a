"""A policy or statement number is never handed out twice, even after the ledger is restored from a backup
or made anew: the desk's own mark of numbers handed out (beside the ledger, synced) refuses a ledger
behind it, `watcher init` will not make a new ledger where one has been, and no page of a policy is ever
written over with another's."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from helpers import issue_fields, ledger_query, people, result, run_watcher, write_request

from watcher.ledger.issued import SLOT, Issued


def _issue(root: Path, name: str, group: str, n: int = 1, start: int = 0) -> str:
    write_request(
        root / "workbooks" / "GZ001" / f"{name}.xlsx", issue_fields(旅行团号=group), people(start + n)[start:]
    )
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", f"{name}_结果")
    assert data["status"] == "success", data["errors"]
    return data["policies"][0]["policy_no"]


def _rewind(root: Path, backup: Path | None) -> None:
    """The ledger as it was at the backup: SQLite the file copied back (the README's online backup);
    PostgreSQL its sequences and the newer rows as a restored dump has them."""
    if backup is not None:
        ledger = root / "ledger.sqlite3"
        for extra in ("-wal", "-shm"):
            Path(str(ledger) + extra).unlink(missing_ok=True)
        shutil.copy(backup, ledger)
    else:
        ledger_query(root, "SELECT setval('number_policy', 1)")


def _backup(root: Path, ledger_backend: str) -> Path | None:
    if ledger_backend != "sqlite":
        return None
    target = root.parent / "backup.sqlite3"
    source = sqlite3.connect(root / "ledger.sqlite3")
    copy = sqlite3.connect(target)
    source.backup(copy)  # what `sqlite3 ledger.sqlite3 ".backup …"` does, while the service runs
    copy.close()
    source.close()
    return target


def test_a_ledger_restored_from_an_older_backup_is_refused_and_hands_out_no_number_again(root, ledger_backend):
    first = _issue(root, "一", "T1")
    backup = _backup(root, ledger_backend)
    second = _issue(root, "二", "T2", start=1)
    page = root / "outbox" / "GZ001" / f"电子保单_{second}.html"
    printed = page.read_bytes()
    _rewind(root, backup)
    write_request(root / "workbooks" / "GZ001" / "三.xlsx", issue_fields(旅行团号="T3"), people(3)[2:])
    proc = run_watcher(root, "process", check=False)
    assert proc.returncode == 1 and "账本落后于本机已发出的编号" in proc.stderr and "备份" in proc.stderr
    assert (root / "workbooks" / "GZ001" / "三.xlsx").exists(), "nothing taken"
    assert page.read_bytes() == printed, "the printed policy's page is untouched"
    for command in (("serve",), ("month-end", "--month", "2026-10")):
        assert run_watcher(root, *command, check=False).returncode == 1
    check = run_watcher(root, "check", check=False)
    assert check.returncode == 1 and "账本落后" in check.stderr
    assert first < second


def test_a_ledger_restored_with_its_mark_and_event_log_hands_out_no_number_again(root, ledger_backend):
    """The ledger, its mark of numbers and the event log all put back from one backup (taken "with its
    files"): level with each other, the desk started and gave the next group the number a group issued since
    the backup already had, and set that group's page aside. The originals archived since and their results
    say what was issued: the start is refused until `recover` replays them. A file that failed since (its
    result says so) is no such evidence."""
    if ledger_backend != "sqlite":
        pytest.skip(
            "the restore copies the SQLite file with its mark beside it (test_a_ledger_restored_from_an_older_backup covers PostgreSQL)"
        )
    _issue(root, "一", "T1")
    backup = _backup(root, "sqlite")
    kept = [root / "ledger.sqlite3.numbers.json", root / "archive" / "_events" / "events.jsonl"]
    saved = {path: path.read_bytes() for path in kept}
    second = _issue(root, "二", "T2", start=1)
    write_request(root / "workbooks" / "GZ001" / "坏.xlsx", issue_fields(旅行团号="T9", 天数=0), people(5)[4:])
    run_watcher(root, "process")
    assert result(root, "GZ001", "坏_结果")[0]["status"] == "failed"
    page = root / "outbox" / "GZ001" / f"电子保单_{second}.html"
    printed = page.read_bytes()
    _rewind(root, backup)
    for path, data in saved.items():
        path.write_bytes(data)
    twin = root / "outbox" / "GZ001" / "二_结果.json"
    taken = twin.read_bytes()
    twin.unlink()  # taken by the agency's own system: the page says it
    write_request(root / "workbooks" / "GZ001" / "三.xlsx", issue_fields(旅行团号="T3"), people(3)[2:])
    proc = run_watcher(root, "process", check=False)
    assert proc.returncode == 1 and f"电子保单_{second}.html" in proc.stderr and "watcher recover" in proc.stderr, (
        proc.stderr
    )
    assert "坏.xlsx" not in proc.stderr
    assert (root / "workbooks" / "GZ001" / "三.xlsx").exists(), "nothing taken"
    assert page.read_bytes() == printed
    assert run_watcher(root, "serve", check=False).returncode == 1
    assert "账本：落后" in run_watcher(root, "status").stdout, "status said 正常"
    twin.write_bytes(taken)  # (without it recover cannot tell the replay's number 2 from one never printed)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    third = _issue(root, "三", "T3", start=2)
    assert third > second and page.read_bytes() == printed
    assert "落后" not in run_watcher(root, "status").stdout


def test_a_ledger_restored_with_its_log_from_before_a_撤单_is_refused(root, ledger_backend):
    """The same restore after a 撤单 (it prints no new number): the policy was 有效 again on the lookup page and
    billed at month-end, and the desk started without a word."""
    if ledger_backend != "sqlite":
        pytest.skip(
            "the restore copies the SQLite file with its mark beside it (test_a_ledger_restored_from_an_older_backup covers PostgreSQL)"
        )
    number = _issue(root, "一", "T1")
    backup = _backup(root, "sqlite")
    kept = [root / "ledger.sqlite3.numbers.json", root / "archive" / "_events" / "events.jsonl"]
    saved = {path: path.read_bytes() for path in kept}
    write_request(root / "workbooks" / "GZ001" / "撤.xlsx", {"操作类型": "撤单", "保单号": number})
    run_watcher(root, "process")
    assert result(root, "GZ001", "撤_结果")[0]["status"] == "success"
    _rewind(root, backup)
    for path, data in saved.items():
        path.write_bytes(data)
    proc = run_watcher(root, "process", check=False)
    assert proc.returncode == 1 and "GZ001/撤.xlsx" in proc.stderr, proc.stdout + proc.stderr
    assert run_watcher(root, "recover", check=False).returncode == 0
    assert ledger_query(root, "SELECT status FROM policies") == [("已撤单",)]
    run_watcher(root, "process")


def test_a_query_whose_log_line_a_power_cut_took_stops_nothing(root):
    """A 保单查询's line in the event log lost to a power cut (lines are not synced one by one): its result
    says 成功 and its original is named by no line, and every start was refused as a ledger restored with its
    log, recover or not. It printed no number the ledger lacks; nor does a 投保 the ledger holds."""
    number = _issue(root, "一", "T1")
    log = root / "archive" / "_events" / "events.jsonl"
    write_request(root / "workbooks" / "GZ001" / "查.xlsx", {"操作类型": "保单查询", "旅行团号": "T1"})
    run_watcher(root, "process")
    assert result(root, "GZ001", "查_结果")[0]["status"] == "success"
    assert number in (root / "outbox" / "GZ001" / "查_结果.json").read_text("utf-8")
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-2]))  # the query's line and the 投保's: the power cut
    assert _issue(root, "二", "T2", start=1) > number
    assert "落后" not in run_watcher(root, "status").stdout


def test_init_makes_no_new_ledger_where_one_has_been(root, ledger_backend):
    _issue(root, "一", "T1")
    assert run_watcher(root, "init").returncode == 0  # where the ledger is, init goes on working
    if ledger_backend != "sqlite":
        ledger_query(root, "DROP TABLE schema_migrations CASCADE")  # the database as good as new
    else:
        (root / "ledger.sqlite3").unlink()
    proc = run_watcher(root, "init", check=False)
    assert proc.returncode == 1 and "不予新建" in proc.stderr
    if ledger_backend == "sqlite":
        assert not (root / "ledger.sqlite3").exists()
    # Even without the archive, the mark beside the ledger remembers.
    shutil.rmtree(root / "archive")
    assert run_watcher(root, "init", check=False).returncode == 1


def test_the_mark_rises_with_every_number_and_a_forged_page_stops_nothing(root, ledger_backend):
    number = _issue(root, "一", "T1")
    marks = sorted(root.glob("*.numbers.json")) or sorted(root.glob("ledger.numbers.json"))
    [mark] = marks
    assert Issued(mark).read()[0]["policy"] == int(number[10:])
    # An agency puts a page for the next number in its own outbox: it stops nothing, and the number is not
    # used (a gap, never a number two groups hold), said as an error that names both readings.
    following = number[:10] + f"{int(number[10:]) + 1:07d}"
    forged = root / "outbox" / "GZ001" / f"电子保单_{following}.html"
    forged.write_text("<html>伪造</html>", encoding="utf-8")
    after = number[:10] + f"{int(number[10:]) + 2:07d}"
    assert _issue(root, "二", "T2", start=1) == after
    assert forged.read_text("utf-8") == "<html>伪造</html>" and not list(forged.parent.glob(".*.set-aside"))
    said = [line for line in (root / "logs" / "watcher.log").read_text("utf-8").splitlines() if forged.name in line]
    assert said and "ERROR" in said[0] and "已发出过" in said[0] and "停止 watcher" in said[0], said
    assert "编号：1 个未使用" in run_watcher(root, "status").stdout
    # Numbers are the desk's: a page in another folder is found too (every folder, for the first numbers of
    # a run), and the log says the skipped numbers once.
    elsewhere = root / "outbox" / "_admin" / f"电子保单_{number[:10]}{int(number[10:]) + 3:07d}.html"
    elsewhere.write_text("<html>旧</html>", encoding="utf-8")
    assert _issue(root, "三", "T3", start=2) == number[:10] + f"{int(number[10:]) + 4:07d}"
    assert "编号：2 个未使用" in run_watcher(root, "status").stdout


def _restore_keeping_the_outbox(root: Path, backup: Path) -> None:
    """The whole root restored from `backup` (the ledger, its mark and the archive with it), the outbox kept."""
    outbox = root.parent / "outbox-now"
    shutil.move(root / "outbox", outbox)
    shutil.rmtree(root)
    shutil.move(backup, root)
    shutil.rmtree(root / "outbox")
    shutil.move(outbox, root / "outbox")


def test_a_whole_root_restored_with_the_outbox_kept_hands_out_no_number_twice(tmp_path, ledger_backend):
    """The whole root restored from a tar (the ledger, its mark and the archive together) with the outbox kept
    as it was: each file was issued a number a group already held, its result 成功 and its page set aside,
    and the desk went on (attack R). The numbers whose pages are there are skipped now; status says so."""
    if ledger_backend != "sqlite":
        pytest.skip("the whole root, its SQLite ledger with it")
    root = tmp_path / "desk"
    run_watcher(root, "init", "--demo")
    (root / "watcher.toml").write_text("settle_seconds = 0\n", encoding="utf-8")
    _issue(root, "一", "T1")
    backup = tmp_path / "backup"
    shutil.copytree(root, backup, symlinks=True)
    later = [_issue(root, name, name, start=i) for i, name in enumerate(("二", "三"), start=1)]
    _restore_keeping_the_outbox(root, backup)
    issued = [_issue(root, name, name, start=i) for i, name in enumerate(("四", "五"), start=3)]
    assert not set(issued) & set(later), (issued, later)
    text = run_watcher(root, "status").stdout
    assert "编号：2 个未使用" in text and later[0] in text, text
    checked = run_watcher(root, "check").stdout  # (consistent in itself; it says what it cannot see: attack S)
    assert "一致" in checked and "2 个编号因 outbox 中已有同一流水号的文件而未使用" in checked, checked


def test_a_whole_root_restored_on_another_day_skips_the_serials_the_outbox_holds(tmp_path, ledger_backend):
    """The same restore, the desk run again on a later day: the numbers drawn carry the new date, so none
    matched a page by name (LY<today>0000002 beside the page of LY<that day>0000002), nothing was skipped and
    nothing said the ledger lacks the policies since the backup (attack S). The serial never repeats: those
    the outbox holds under any date are skipped, and status says so."""
    if ledger_backend != "sqlite":
        pytest.skip("the whole root, its SQLite ledger with it")
    from helpers import fake, issue

    root = tmp_path / "desk"
    run_watcher(root, "init", "--demo")
    (root / "watcher.toml").write_text("settle_seconds = 0\n", encoding="utf-8")
    first = issue(root, "团1", "2026-11-20 08:00", n=1, at="2026-11-10T10:00:00+08:00")["policy_no"]
    backup = tmp_path / "backup"
    shutil.copytree(root, backup, symlinks=True)
    later = [
        issue(root, f"团{i}", f"2026-11-2{i} 08:00", n=1, at="2026-11-10T11:00:00+08:00", group=f"T{i}")["policy_no"]
        for i in (2, 3)
    ]
    pages = {p: p.read_bytes() for p in (root / "outbox" / "GZ001").glob("电子保单_*.html")}
    _restore_keeping_the_outbox(root, backup)
    now = issue(root, "团4", "2026-11-25 08:00", n=1, at="2026-11-12T09:00:00+08:00", group="T4")["policy_no"]
    serials = [int(n[10:]) for n in (first, *later, now)]
    assert now[:10] == "LY20261112" and serials == [1, 2, 3, 4], (first, later, now)
    assert {p: p.read_bytes() for p in pages} == pages
    text = run_watcher(root, "status", env=fake("2026-11-12T09:05:00+08:00")).stdout
    assert "编号：2 个未使用" in text and "LY202611120000002" in text and "账本缺少此后办理的业务" in text, text
    said = (root / "logs" / "watcher.log").read_text("utf-8")
    assert f"电子保单_{later[0]}.html" in said, said[-2000:]


def test_the_mark_survives_a_record_cut_short_and_reads_the_release_before(tmp_path):
    """Two records written in turn in place: a power cut in the middle of one leaves the other, the mark
    as it was before (no output carries the newer numbers yet). The one-file form of the release before
    is read, and turned into two records at the next raise."""
    path = tmp_path / "ledger.sqlite3.numbers.json"
    path.write_text(json.dumps({"numbers": {"policy": 7, "statement": 2}, "at": "x"}), encoding="utf-8")
    mark = Issued(path)
    assert mark.read()[0] == {"policy": 7, "statement": 2}
    mark.raise_to({"policy": 9, "statement": 2})
    assert path.stat().st_size == 2 * SLOT and Issued(path).read()[0] == {"policy": 9, "statement": 2}
    mark.raise_to({"policy": 10, "statement": 2})
    mark.raise_to({"policy": 8, "statement": 3})  # never lowered: each name rises on its own
    assert Issued(path).read()[0] == {"policy": 10, "statement": 3}
    raw = bytearray(path.read_bytes())
    newest = max((0, SLOT), key=lambda at: json.loads(raw[at : at + SLOT])["body"]["seq"])
    raw[newest + 20 : newest + 60] = b"\0" * 40  # the record being written when the power went
    path.write_bytes(bytes(raw))
    assert Issued(path).read()[0] == {"policy": 10, "statement": 2}, "the record before it"
    mark.close()
    again = Issued(path)
    again.raise_to({"policy": 11})
    assert Issued(path).read()[0] == {"policy": 11, "statement": 2}
    again.close()


def test_no_output_carries_a_number_before_the_mark_holds_it(root, ledger_backend):
    """The mark rises on a thread of its own while the result is planned; the outputs wait for it. Held
    up there for two seconds and killed right after its outputs, a run leaves a mark that covers every
    number its pages show."""
    write_request(root / "workbooks" / "GZ001" / "慢.xlsx", issue_fields(旅行团号="T9"), people(2))
    env = {"WATCHER_PAUSE_AT": "raising_mark:2", "WATCHER_CRASH_AT": "after_outputs"}
    proc = run_watcher(root, "process", env=env, check=False)
    assert proc.returncode != 0, "killed at after_outputs"
    [page] = (root / "outbox" / "GZ001").glob("电子保单_*.html")
    number = page.name.removeprefix("电子保单_").removesuffix(".html")
    [mark] = sorted(root.glob("*.numbers.json")) or sorted(root.glob("ledger.numbers.json"))
    assert Issued(mark).read()[0].get("policy", 0) >= int(number[10:])


def _halted(root: Path) -> str:
    """What the running service says of its stopped intake (a worker of a PostgreSQL ledger: its own file)."""
    return "".join(json.loads(path.read_text("utf-8"))["line"] for path in root.glob(".watcher-halted*.json"))


def test_a_backup_restored_into_the_ledger_under_a_running_service_hands_out_no_number_again(root, ledger_backend):
    """`sqlite3 ledger.sqlite3 ".restore backup"` (or a PostgreSQL restore) while `serve` ran: the service
    had checked the ledger against the mark only at its start, and gave the next group a number already
    printed on another's policy. A number drawn at or below the mark stops the intake; nothing commits."""
    from helpers import serving, wait_for

    (root / "watcher.toml").write_text("settle_seconds = 0.3\nrescan_seconds = 1\n", encoding="utf-8")
    drop = root / "workbooks" / "GZ001"
    with serving(root) as proc:
        write_request(drop / "一.xlsx", issue_fields(旅行团号="T1"), people(1))
        wait_for(lambda: (root / "outbox/GZ001/一_结果.json").exists(), 60, "the first result")
        backup = _backup(root, ledger_backend)
        write_request(drop / "二.xlsx", issue_fields(旅行团号="T2"), people(2)[1:])
        wait_for(lambda: (root / "outbox/GZ001/二_结果.json").exists(), 60, "the second result")
        second = result(root, "GZ001", "二_结果")[0]["policies"][0]["policy_no"]
        if backup is not None:  # into the open file, as the sqlite3 shell's .restore does
            source, live = sqlite3.connect(backup), sqlite3.connect(root / "ledger.sqlite3")
            source.backup(live)
            live.close()
            source.close()
        else:
            ledger_query(root, "SELECT setval('number_policy', 1)")
        write_request(drop / "三.xlsx", issue_fields(旅行团号="T3"), people(3)[2:])
        wait_for(lambda: "恢复成了较早的备份" in _halted(root), 60, "the intake stopped")
        time.sleep(1.5)  # a rescan or two: the fault holds, nothing is taken
        assert proc.poll() is None, "the service stays up, its intake stopped"
        assert "恢复成了较早的备份" in _halted(root) and "watcher recover" in _halted(root)
    assert (drop / "三.xlsx").exists() and not (root / "outbox/GZ001/三_结果.json").exists()
    numbers = [r[0] for r in ledger_query(root, "SELECT policy_no FROM policies WHERE tour_group = 'T3'")]
    assert numbers == [], f"nothing committed for T3 (the number {second} was handed out already)"
    if ledger_backend == "sqlite":  # (the PostgreSQL one here only had its sequence set back)
        assert run_watcher(root, "process", check=False).returncode == 1, "a restart refuses the ledger behind"


def test_a_ledger_deleted_under_a_running_service_stops_its_intake(root, ledger_backend):
    """`rm ledger.sqlite3*` while `serve` ran: the service went on committing into the deleted file (lost
    at its exit) and said success."""
    import pytest
    from helpers import serving, wait_for

    if ledger_backend != "sqlite":
        pytest.skip("a file of the SQLite ledger")
    (root / "watcher.toml").write_text("settle_seconds = 0.3\nrescan_seconds = 1\n", encoding="utf-8")
    drop = root / "workbooks" / "GZ001"
    with serving(root):
        write_request(drop / "一.xlsx", issue_fields(旅行团号="T1"), people(1))
        wait_for(lambda: (root / "outbox/GZ001/一_结果.json").exists(), 60, "the first result")
        for path in root.glob("ledger.sqlite3*"):
            if not path.name.endswith(".numbers.json"):
                path.unlink()
        write_request(drop / "二.xlsx", issue_fields(旅行团号="T2"), people(2)[1:])
        wait_for(lambda: "被删除、替换" in _halted(root), 60, "the intake stopped")
    assert (drop / "二.xlsx").exists() and not (root / "outbox/GZ001/二_结果.json").exists()


def test_a_read_only_ledger_is_said_as_such_not_as_damaged(root, monkeypatch):
    """A ledger file on a read-only mount: `BEGIN IMMEDIATE` passes on it, so the service's check said the
    ledger was well again at every rescan (and stopped at the next commit); the words said 可能已损坏 and
    sent the operator to a backup."""
    import os

    from watcher.faults import DISK, classify
    from watcher.ledger import policies

    opened = run_watcher(root, "status")
    assert opened.returncode == 0
    from watcher import clock
    from watcher.ledger import Ledger
    from watcher.settings import load_settings

    settings = load_settings(root)
    ledger = Ledger(root / "ledger.sqlite3", settings.zone, now=clock.now())
    try:
        ledger.probe()
        real = os.access
        monkeypatch.setattr(
            policies.os,
            "access",
            lambda p, mode: False if Path(p) == ledger.path and mode == os.W_OK else real(p, mode),
        )
        try:
            ledger.probe()
        except sqlite3.OperationalError as exc:
            assert classify(exc) == DISK
        else:
            raise AssertionError("a read-only ledger passed the check")
    finally:
        ledger.close()
    assert classify(sqlite3.OperationalError("attempt to write a readonly database")) == DISK
    from watcher.faults import DeskFault

    for running in (True, False):  # the advice is not only to free space
        line = DeskFault(DISK, sqlite3.OperationalError("attempt to write a readonly database")).line(running=running)
        assert "数据库是只读的" in line and "chattr +i 或只读挂载" in line, line


def test_a_swapped_ledger_is_said_by_a_new_fault_each_time(tmp_path):
    """The stop held to a restart re-raised one exception object at every check: its traceback grew by the
    frames of each rescan (and kept their locals) for as long as the service waited."""
    from watcher import clock
    from watcher.faults import SWAPPED, DeskFault
    from watcher.ledger import Ledger

    ledger = Ledger(tmp_path / "ledger.sqlite3", clock.now().tzinfo, now=clock.now())
    try:
        (tmp_path / "ledger.sqlite3").rename(tmp_path / "aside.sqlite3")
        raised = []
        for _ in range(3):
            try:
                ledger.same_file()
            except DeskFault as fault:
                raised.append(fault)
        assert len(raised) == 3 and all(f.reason == SWAPPED for f in raised)
        assert len({id(f) for f in raised}) == 3, "one fault raised again and again"
        assert "被删除或替换" in str(raised[-1].cause)
    finally:
        ledger.close()


def test_a_number_handed_out_before_is_said_in_chinese(tmp_path):
    """The stop a running service raises when the ledger gives a number it already handed out said
    「账本给出的编号 policy 287」: the sequence's English name in the alarm."""
    from watcher import clock
    from watcher.faults import SWAPPED, DeskFault
    from watcher.ledger import Ledger
    from watcher.ledger.issued import Issued

    ledger = Ledger(tmp_path / "ledger.sqlite3", clock.now().tzinfo, now=clock.now())
    try:
        ledger.issued = Issued(tmp_path / "issued.json")
        ledger.issued.known = {"policy": 5}
        ledger.watch_numbers = True
        try:
            with ledger.atomic():
                ledger._next("policy")
        except DeskFault as fault:
            assert fault.reason == SWAPPED and "账本给出的保单流水号 1 已发出过（已发出到 5）" in str(fault.cause)
        else:
            raise AssertionError("a number handed out before was drawn again")
    finally:
        ledger.close()


def test_a_read_only_postgresql_is_a_fault_of_the_desk_said_as_read_only(pg_url):
    """A hot standby, or default_transaction_read_only: the write raised an error no fault matched, and the
    service logged 意外错误 at every tick (process: a traceback)."""
    import psycopg

    from watcher.faults import DISK, DeskFault, classify

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = on")
        try:
            conn.execute("CREATE TABLE ro_probe (x int)")
        except psycopg.Error as exc:
            assert classify(exc) == DISK, type(exc)
            assert "只读" in DeskFault(DISK, exc).line()
        else:
            raise AssertionError("a read-only session wrote")


def test_a_whole_root_restored_with_the_outbox_kept_makes_no_statement_number_twice(tmp_path, ledger_backend):
    """The same restore, then month-end: it made DZ…0001 again for other policies and wrote it over the
    statement the agency already held, saying 新生成对账单 1 张 (attack S); skipping only numbers in the
    agency's own folder gave GZ001 the number SZ002's statement holds (review V). Numbers whose files lie in
    any folder are skipped now."""
    if ledger_backend != "sqlite":
        pytest.skip("the whole root, its SQLite ledger with it")
    from helpers import agency_workbook, fake, issue, month_end

    root = tmp_path / "desk"
    run_watcher(root, "init", "--demo")
    (root / "watcher.toml").write_text("settle_seconds = 0\n", encoding="utf-8")
    agency_workbook(
        root / "workbooks/_admin/登记.xlsx", [[1, "SZ002", "深圳测试旅行社", "9144", "XY-2", "GN-A", "合作中"]]
    )
    run_watcher(root, "process", env=fake("2026-11-09T10:00:00+08:00"))
    first = issue(root, "团1", "2026-11-20 08:00", n=1, at="2026-11-10T10:00:00+08:00")
    issue(root, "团S1", "2026-11-20 08:00", n=1, at="2026-11-10T10:05:00+08:00", agency="SZ002")
    backup = tmp_path / "backup"
    shutil.copytree(root, backup, symlinks=True)
    second = issue(root, "团2", "2026-11-21 08:00", n=1, at="2026-11-11T10:00:00+08:00", group="T2")
    issue(root, "团S2", "2026-11-21 08:00", n=1, at="2026-11-11T10:05:00+08:00", agency="SZ002", group="TS2")
    month_end(root, "2026-11", "2026-12-01T03:00:00+08:00")
    held = sorted((root / "outbox").glob("*/对账单_*.json"))
    assert [p.name for p in held] == ["对账单_DZ202611000001.json", "对账单_DZ202611000002.json"]
    before = {p: p.read_bytes() for p in held}
    assert second["policy_no"] in before[root / "outbox/GZ001/对账单_DZ202611000001.json"].decode("utf-8")
    _restore_keeping_the_outbox(root, backup)
    done = month_end(root, "2026-11", "2026-12-01T04:00:00+08:00")
    assert "DZ202611000001" not in done.stdout and "DZ202611000002" not in done.stdout, done.stdout
    assert {p: p.read_bytes() for p in held} == before, "the statements the agencies hold are not written over"
    made = sorted(p.name for p in (root / "outbox").glob("*/对账单_*.json") if p not in before)
    assert made == ["对账单_DZ202611000003.json", "对账单_DZ202611000004.json"], made
    assert any(
        first["policy_no"] in (root / "outbox/GZ001" / name).read_text("utf-8")
        for name in made
        if (root / "outbox/GZ001" / name).exists()
    )
    text = run_watcher(root, "status", env=fake("2026-12-01T05:00:00+08:00")).stdout
    assert "编号：2 个未使用" in text and "DZ202611000001" in text, text


def test_a_listing_with_a_folder_unread_is_made_again_at_the_next_number(tmp_path):
    """The outbox not yet mounted when serve started (or one folder unreadable) at the first number drawn:
    the empty listing was kept for the life of the process, and a restore on another day went unseen for
    weeks (review Z)."""
    from watcher.layout import Layout
    from watcher.walk.names import Printed

    layout = Layout(tmp_path)
    printed = Printed(layout)
    assert printed("LY202612030000002", "GZ001") is None  # (no outbox at all yet)
    page = layout.out("AA001") / "电子保单_LY202611100000003.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html></html>", encoding="utf-8")
    assert printed("LY202612030000003", "GZ001") == page
    statement = layout.out("AA001") / "对账单_DZ202610000004.json"
    statement.write_text("{}", encoding="utf-8")
    assert printed.statement("DZ202611000004", "GZ001") == statement
