"""`watcher serve` and `watcher process` as a service: a real subprocess over real folders, killed at
random moments and at each named point of the walk; every file ends with exactly one result."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import (
    agency_workbook,
    assert_exactly_once,
    drop_all,
    fake,
    issue_fields,
    ledger_rows,
    people,
    request_bytes,
    result,
    results,
    run_watcher,
    serving,
    start_serve,
    wait_for,
    write_request,
)

from watcher.service.serve import ARRIVALS

pytestmark = pytest.mark.slow

FAST = "settle_seconds = 0.5\nrescan_seconds = 1\nstall_seconds = 3\n"


def configure(root: Path, text: str = FAST) -> None:
    (root / "watcher.toml").write_text(text, encoding="utf-8")


def test_files_written_in_place_and_renamed_in_are_taken(root):
    configure(root)
    with serving(root):
        write_request(root / "workbooks" / "GZ001" / "就地.xlsx", issue_fields(旅行团号="IN-PLACE"), people(2))
        drop_all(root, {"改名.xlsx": request_bytes(7)})
        wait_for(lambda: len(results(root)) == 2, 30, "two results")
    assert sorted(r["status"] for r in results(root)) == ["success", "success"]


def test_a_writer_that_stalls_halfway_is_not_taken_early(root):
    configure(root, "settle_seconds = 1\nrescan_seconds = 1\nstall_seconds = 30\n")
    data = request_bytes(1)
    target = root / "workbooks" / "GZ001" / "慢.xlsx"
    with serving(root):
        time.sleep(1.5)
        with open(target, "wb") as handle:
            half = len(data) // 2
            for i in range(0, half, 512):  # the first half in small pieces
                handle.write(data[i : min(i + 512, half)])
                handle.flush()
                time.sleep(0.01)
            time.sleep(2.5)  # stalls longer than the settle time: still, but it does not open whole
            assert not results(root), "taken before it was whole"
            handle.write(data[half:])
        wait_for(lambda: results(root), 30, "the result")
    [result] = results(root)
    assert result["status"] == "success", result["errors"]


def test_a_zero_byte_file_waits_like_any_other_then_fails(root):
    configure(root, "settle_seconds = 0.5\nrescan_seconds = 1\nstall_seconds = 3\n")
    filled = root / "workbooks" / "GZ001" / "先空后满.xlsx"
    empty = root / "workbooks" / "GZ001" / "一直空.xlsx"
    with serving(root):
        filled.write_bytes(b"")
        empty.write_bytes(b"")
        time.sleep(1.5)
        assert not results(root)  # past the settle time, but an empty file does not open
        filled.write_bytes(request_bytes(3))
        wait_for(lambda: len(results(root)) == 2, 30, "both results")
    by_file = {r["file"]: r for r in results(root)}
    assert by_file["先空后满.xlsx"]["status"] == "success"
    assert by_file["一直空.xlsx"]["status"] == "failed" and "空" in by_file["一直空.xlsx"]["errors"][0]["message"]


def test_three_hundred_files_dropped_at_once_are_all_processed(root):
    configure(root)
    files = {f"批{i:03d}.xlsx": request_bytes(i, size=1) for i in range(300)}
    with serving(root):
        time.sleep(1)
        drop_all(root, files)
        wait_for(lambda: len(results(root)) == 300, 240, "300 results")
    assert_exactly_once(root, files, set(files))


def test_kill_9_again_and_again_then_restart_gives_every_file_exactly_one_result(root):
    configure(root)
    rng = random.Random(20261125)
    files = {f"团{i:02d}.xlsx": request_bytes(i, valid=i % 6 != 0) for i in range(60)}
    valid = {name for i, name in enumerate(files) if i % 6 != 0}
    drop_all(root, files)
    for _ in range(6):
        proc = start_serve(root)
        time.sleep(rng.uniform(0.5, 2.0))
        proc.kill()  # SIGKILL: no chance to clean up
        proc.wait()
    with serving(root):
        wait_for(
            lambda: (
                len(results(root)) >= 60
                and not list((root / "workbooks" / "GZ001").glob("*.xlsx"))
                and not [
                    p
                    for p in (root / "workbooks" / "GZ001" / ".watcher-claimed").rglob("*")
                    if p.is_file() and not p.name.startswith(".")
                ]
            ),
            180,
            "every file finished",
        )
        time.sleep(1)
    assert_exactly_once(root, files, valid)


@pytest.mark.parametrize(
    "point",
    ["after_claim", "after_copy", "before_commit", "after_commit", "mid_outputs", "after_outputs", "before_archive"],
)
@pytest.mark.parametrize("valid", [True, False], ids=["issued", "refused"])
def test_a_crash_at_each_point_of_the_walk_ends_with_exactly_one_result(root, point, valid):
    files = {"团.xlsx": request_bytes(1, valid=valid)}
    drop_all(root, files)
    crashed = run_watcher(root, "process", env={"WATCHER_CRASH_AT": point}, check=False)
    if point == "before_commit" and not valid:
        assert crashed.returncode == 0, "a refused request never reaches a commit"
    else:
        assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    if point == "after_commit" and valid:
        assert len(ledger_rows(root)["policies"]) == 1  # committed, outputs not yet written
    run_watcher(root, "process")
    assert_exactly_once(root, files, {"团.xlsx"} if valid else set())
    [result] = results(root)
    assert result["result_file"] == "团_结果.xlsx"
    if valid:
        assert result["status"] == "success" and (root / "outbox" / "GZ001" / "团_结果.xlsx").exists()
        assert (root / "outbox" / "GZ001" / f"电子保单_{result['policies'][0]['policy_no']}.html").exists()


def in_hand(root: Path) -> list[str]:
    claimed = root / "workbooks" / "GZ001" / ".watcher-claimed"
    return sorted(p.name for p in claimed.rglob("*") if p.is_file() and not p.name.startswith("."))


@pytest.mark.parametrize("point", ["after_claim:2", "after_copy:2", "before_commit", "after_commit", "mid_outputs"])
def test_a_crash_with_two_files_in_hand_ends_with_exactly_one_result_each(root, point):
    """The parser works one file ahead: the next file is claimed (and copied) while the one before it is
    checked and committed. Killed then, both are in hand, and the restart finishes both, once each."""
    files = {f"前{i}.xlsx": request_bytes(i, valid=i != 2) for i in range(4)}
    drop_all(root, files)
    crashed = run_watcher(root, "process", env={"WATCHER_CRASH_AT": point}, check=False)
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    assert len(in_hand(root)) == 2, in_hand(root)  # the file walked and the one taken ahead
    assert len(list((root / "workbooks" / "GZ001").glob("*.xlsx"))) == 2  # the rest not taken yet
    run_watcher(root, "process")
    assert_exactly_once(root, files, {name for i, name in enumerate(files) if i != 2})


@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
def test_two_files_in_hand_are_finished_after_a_crash_in_the_order_they_were_taken(root, point):
    """The same bytes dropped twice, the second just after the first (and sorting first by name): killed
    with both in hand, the restart finishes them in the order they were taken, so the first dropped is the
    success and the second the 重复提交, as without the crash."""
    data = request_bytes(1)
    drop_all(root, {"z先.xlsx": data})
    time.sleep(0.05)
    drop_all(root, {"a后.xlsx": data})
    crashed = run_watcher(root, "process", env={"WATCHER_CRASH_AT": point}, check=False)
    assert crashed.returncode == -signal.SIGKILL and len(in_hand(root)) == 2
    run_watcher(root, "process")
    assert {r["file"]: r["status"] for r in results(root)} == {"z先.xlsx": "success", "a后.xlsx": "duplicate"}
    assert len(ledger_rows(root)["policies"]) == 1


def test_sigterm_finishes_both_files_in_hand_and_leaves_the_rest_where_they_were_dropped(root):
    files = {f"停后{i}.xlsx": request_bytes(i) for i in range(6)}
    drop_all(root, files)
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "process", "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUTF8": "1", "WATCHER_PAUSE_AT": "before_commit:1.5"},
    )
    wait_for(lambda: len(in_hand(root)) == 2, 60, "two files in hand")
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in output, output
    assert len(results(root)) == 2 and all(r["status"] == "success" for r in results(root)), output
    assert not in_hand(root)
    assert len(list((root / "workbooks" / "GZ001").glob("*.xlsx"))) == 4  # untouched, taken by the next run
    run_watcher(root, "process")
    assert_exactly_once(root, files, set(files))


@pytest.mark.parametrize("command", ["process", "serve"])
def test_a_stop_sent_to_every_process_of_the_service_never_fails_the_file_being_parsed(root, command):
    """systemd stops a unit by sending SIGTERM to each of its processes (Ctrl-C at a terminal: SIGINT to the
    whole group), the parser and the render helpers too. The service finishes the files in hand with its
    helpers: a parse cut short by the signal read as a file too big for the parser, a 失败 for a good file."""
    configure(root)
    files = {f"停组{i:02d}.xlsx": request_bytes(i) for i in range(10)}  # enough for the render helpers too
    drop_all(root, files)
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", command, "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUTF8": "1", "WATCHER_PAUSE_AT": "parsing:2"},
        start_new_session=True,  # its own group, as a unit's processes are
    )
    try:
        wait_for(lambda: len(in_hand(root)) >= 1, 60, "a file in hand, its parse under way")
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0 and "Traceback" not in output, output
    done = results(root)
    assert done and all(r["status"] == "success" for r in done), [r["errors"] for r in done]
    assert "解析进程退出" not in (root / "logs" / "watcher.log").read_text("utf-8")
    assert not in_hand(root)
    run_watcher(root, "process")
    assert_exactly_once(root, files, set(files))


@pytest.mark.parametrize("point", ["mid_outputs", "after_outputs"])
def test_a_crash_while_a_render_helper_writes_a_result_ends_with_exactly_one_result_each(root, point):
    """With enough files waiting, the render helpers write each result's workbook, page and then its JSON
    twin: a crash there (the point reached in a helper kills the service) leaves nothing half-done after
    the restart."""
    files = {f"助{i:02d}.xlsx": request_bytes(i, valid=i % 4 != 0) for i in range(12)}
    valid = {name for i, name in enumerate(files) if i % 4 != 0}
    drop_all(root, files)
    crashed = run_watcher(root, "process", env={"WATCHER_CRASH_AT": f"{point}:3"}, check=False)
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    assert len(results(root)) < len(files)  # it stopped part-way
    run_watcher(root, "process")
    assert_exactly_once(root, files, valid)


def test_sigterm_mid_burst_exits_cleanly_and_the_restart_finishes_the_rest(root):
    configure(root)
    files = {f"停{i:02d}.xlsx": request_bytes(i) for i in range(40)}
    drop_all(root, files)
    proc = start_serve(root)
    wait_for(lambda: len(results(root)) >= 3, 60, "a few results")
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    output, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0 and time.monotonic() - started < 10, output
    assert "Traceback" not in output
    with serving(root):
        wait_for(lambda: len(results(root)) == 40, 120, "all 40 results")
        time.sleep(0.5)
    assert_exactly_once(root, files, set(files))


def test_one_service_per_root_and_the_lock_dies_with_its_process(root, ledger_backend):
    configure(root)
    if ledger_backend == "postgresql":
        # The rule is the embedded ledger's: on PostgreSQL workers share a root, and the database keeps
        # them apart (tests/test_workers.py), so a second one runs.
        with serving(root):
            time.sleep(2)
            assert run_watcher(root, "process").returncode == 0
        assert not (root / ".watcher.lock").exists()
        return
    proc = start_serve(root)
    try:
        wait_for(
            lambda: (root / ".watcher.lock").exists() and "pid" in (root / ".watcher.lock").read_text(), 20, "the lock"
        )
        time.sleep(1)
        second = run_watcher(root, "process", check=False)
        assert second.returncode == 1 and "另一个 watcher" in second.stderr and "Traceback" not in second.stderr
    finally:
        proc.kill()
        proc.wait()
    assert run_watcher(root, "process").returncode == 0  # no stale lock after a kill -9


def test_new_agency_folders_are_picked_up_without_a_restart(root):
    configure(root)
    with serving(root):
        agency_workbook(
            root / "workbooks" / "_admin" / "新机构.xlsx", [[1, "SZ002", "深圳测试旅行社", "", "", "GN-A", "合作中"]]
        )
        wait_for(lambda: (root / "workbooks" / "SZ002").is_dir(), 30, "the new folder")
        write_request(root / "workbooks" / "SZ002" / "深圳.xlsx", issue_fields(), people(1))
        wait_for(lambda: results(root, "SZ002"), 30, "the new agency's result")
    assert results(root, "SZ002")[0]["status"] == "success"


def test_symlinks_and_fifos_are_reported_and_never_followed(root):
    configure(root)
    folder = root / "workbooks" / "GZ001"
    (folder / "密码.xlsx").symlink_to("/etc/passwd")
    os.mkfifo(folder / "管道.xlsx")
    run_watcher(root, "process")
    notices = [json.loads(p.read_text(encoding="utf-8")) for p in (root / "outbox" / "_admin").glob("未受理_*.json")]
    assert len(notices) == 2 and all(n["status"] == "failed" for n in notices)
    text = json.dumps(notices, ensure_ascii=False)
    assert "root:" not in text and "符号链接" in text
    assert (folder / "密码.xlsx").is_symlink() and (folder / "管道.xlsx").exists()
    assert not results(root)


@contextmanager
def service_in_process(root: Path):
    """A Service run on a thread of the test, for looking at its observers."""
    from watcher import clock
    from watcher.layout import Layout
    from watcher.ledger import Ledger
    from watcher.ledger.db import ledger_target
    from watcher.service.serve import Service
    from watcher.settings import load_settings
    from watcher.walk.desk import Desk

    settings = load_settings(root)
    ledger = Ledger(ledger_target(root, settings.ledger), settings.zone, now=clock.now())
    service = Service(Desk(Layout(root), settings, ledger))
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: service.observers and all(o.is_alive() for o in service.observers), 20, "observers")
        yield service
    finally:
        service.stop.set()
        thread.join(20)
        ledger.close()


def watched(service) -> set[tuple[Path, bool]]:
    return {(Path(e.watch.path), e.watch.is_recursive) for o in service.observers for e in o.emitters}


def test_a_dead_observer_is_restarted_and_logged(root, caplog):
    configure(root, "settle_seconds = 0.3\nrescan_seconds = 3600\n")  # only events can find files
    caplog.set_level("INFO", logger="watcher")
    with service_in_process(root) as service:
        for observer in service.observers:
            observer.stop()  # as a share outage kills it
        wait_for(lambda: service.restarts >= 1, 20, "the restart")
        wait_for(lambda: service.catch_up_at is None, 20, "the scan that follows the restart")
        write_request(root / "workbooks" / "GZ001" / "重启后.xlsx", issue_fields(), people(1))
        wait_for(lambda: results(root), 30, "a result found by events after the restart")
    assert "重启" in caplog.text


def test_a_file_dropped_while_the_watch_was_down_is_found_soon_after_it_is_restarted(root, tmp_path):
    """Nothing hears of a file that arrives while the observer is dead, nor while its replacement is
    still setting its watch: a scan a moment after the restart finds it, not the next rescan an hour on."""
    configure(root, "settle_seconds = 0.3\nrescan_seconds = 3600\n")  # no rescan of its own in the test
    staged = write_request(tmp_path / "停机时.xlsx", issue_fields(), people(1))
    with service_in_process(root) as service:
        for observer in service.observers:
            observer.stop()
        os.rename(staged, root / "workbooks" / "GZ001" / "停机时.xlsx")  # at once: no watch is listening
        wait_for(lambda: results(root), 30, "the file dropped while the watch was down")
        assert service.restarts == 1


@pytest.mark.parametrize("mode", ["events", "polling"])
def test_only_arrivals_are_heard_of_and_a_new_folder_at_once(root, mode):
    """One watch over the drop folders that hears of files arriving, not of reads; a new agency's folder
    (or one deleted and made again) is heard of without waiting for a rescan: by inotify, or by the
    polling observer meant for network shares."""
    configure(root, f'settle_seconds = 0.3\nrescan_seconds = 3600\nwatch = "{mode}"\n')  # no rescans
    workbooks = root / "workbooks"
    with service_in_process(root) as service:
        assert watched(service) == {(workbooks, True)}
        assert {e.watch.event_filter for o in service.observers for e in o.emitters} == {frozenset(ARRIVALS)}
        agency_workbook(
            workbooks / "_admin" / "新机构.xlsx", [[1, "SZ002", "深圳测试旅行社", "", "", "GN-A", "合作中"]]
        )
        wait_for(lambda: (workbooks / "SZ002").is_dir(), 30, "the new folder")
        write_request(workbooks / "SZ002" / "深圳.xlsx", issue_fields(), people(1))
        wait_for(lambda: results(root, "SZ002"), 30, "the new agency's result, found by events")
        shutil.rmtree(workbooks / "SZ002")
        (workbooks / "SZ002").mkdir()  # deleted and made again: its old watch went with the old folder
        write_request(workbooks / "SZ002" / "再来.xlsx", issue_fields(旅行团号="T-AGAIN"), people(1))
        wait_for(lambda: len(results(root, "SZ002")) >= 2, 30, "a result in the folder made again")
        time.sleep(0.5)
        write_request(workbooks / "SZ002" / "三.xlsx", issue_fields(旅行团号="T-3"), people(1))
        wait_for(lambda: len(results(root, "SZ002")) >= 3, 30, "a later file there, heard of by the new watch")
    assert {r["status"] for r in results(root, "SZ002")} == {"success"}


def test_status_says_what_is_waiting_and_what_was_done_today(root):
    write_request(root / "workbooks" / "GZ001" / "一.xlsx", issue_fields(), people(1))
    write_request(root / "workbooks" / "GZ001" / "二.xlsx", issue_fields(方案代码="NOPE"), people(1))
    run_watcher(root, "process")
    write_request(root / "workbooks" / "GZ001" / "三.xlsx", issue_fields(), people(1))
    write_request(root / "workbooks" / "XX999" / "错放.xlsx", issue_fields(), people(1))
    write_request(root / "workbooks" / "散落.xlsx", issue_fields(), people(1))
    text = run_watcher(root, "status").stdout
    assert "等待处理：1 个文件（GZ001 1）" in text  # not the misfiled ones: they are never taken
    assert "不予处理：2 个文件" in text and "XX999 1" in text and "workbooks/ 1" in text
    assert "其中 2 个的通知尚未写出" in text  # no run has met them yet
    assert "今日完成：2 个文件（成功 1" in text and "今日失败：1 个文件" in text and "二.xlsx" in text
    assert "服务：未运行" in text
    run_watcher(root, "process")  # staff are told of both: status no longer says it is still to come
    text = run_watcher(root, "status").stdout
    assert "不予处理：2 个文件" in text and "尚未写出" not in text, text


def test_status_lists_no_failure_fixed_since_and_names_a_page_set_aside(root):
    """A failed file corrected and dropped again under its name (succeeded) was still listed under 今日失败
    (attack J); an electronic policy found in place when its number was issued (a number handed out twice
    after a whole root was restored, or an agency's own file) was said only in the log (attack K)."""
    folder = root / "workbooks" / "GZ001"
    write_request(folder / "二.xlsx", issue_fields(方案代码="NOPE"), people(1))
    run_watcher(root, "process")
    assert "GZ001/二.xlsx" in run_watcher(root, "status").stdout
    write_request(folder / "二.xlsx", issue_fields(), people(1))
    run_watcher(root, "process")
    number = result(root, "GZ001", "二_结果_2")[0]["policies"][0]["policy_no"]
    text = run_watcher(root, "status").stdout
    assert "GZ001/二.xlsx → outbox/GZ001/二_结果.xlsx（之后同名文件已办理成功：outbox/GZ001/二_结果_2.xlsx）" in text, (
        text
    )
    # A page found in place when the page of its number is written (one put there after the number was drawn,
    # which looks for pages already there and skips their numbers: test_numbers), kept aside.
    from watcher.walk.render import set_aside

    following = number[:-7] + f"{int(number[-7:]) + 1:07d}"
    page = root / "outbox" / "GZ001" / f"电子保单_{following}.html"
    page.write_text("<p>旧</p>", encoding="utf-8")
    set_aside(page, root)
    text = run_watcher(root, "status").stdout
    assert "电子保单：1 份在同号保单签发前已存在" in text and f"电子保单_{following}.html" in text, text
    for aside in (root / "outbox" / "GZ001").glob(".*.set-aside"):  # looked at, then deleted by staff
        aside.unlink()
    assert "同号保单签发前已存在" not in run_watcher(root, "status").stdout


def test_status_counts_today_by_the_desk_clock_the_run_used(root):
    """A desk run under a pinned clock (WATCHER_FAKE_NOW, a day that is not the machine's) counts its files
    under that day: status read "today" from the desk clock and the run wrote them under the machine's."""
    moment = "2027-03-05T09:00:00+08:00"
    write_request(root / "workbooks" / "GZ001" / "一.xlsx", issue_fields(生效时间="2027-03-06 08:00"), people(1))
    write_request(root / "workbooks" / "GZ001" / "二.xlsx", issue_fields(方案代码="NOPE"), people(1))
    run_watcher(root, "process", env=fake(moment))
    assert (root / "logs" / "processed-2027-03-05.jsonl").exists()
    text = run_watcher(root, "status", env=fake("2027-03-05T18:00:00+08:00")).stdout
    assert "今日完成：2 个文件（成功 1" in text and "今日失败：1 个文件" in text and "二.xlsx" in text, text


def test_status_says_how_many_failed_files_it_does_not_list(root):
    for i in range(23):
        write_request(
            root / "workbooks" / "GZ001" / f"错{i:02d}.xlsx", issue_fields(方案代码="NOPE", 旅行团号=f"E{i}"), people(1)
        )
    run_watcher(root, "process")
    text = run_watcher(root, "status").stdout
    assert "今日失败：23 个文件（列出最近 20 个）" in text and "另有 3 个较早的失败文件" in text, text
    assert sum("错" in line and "→" in line for line in text.splitlines()) == 20


def test_output_piped_into_a_reader_that_leaves_early_is_no_error_about_the_root(root):
    """`watcher status | head -1`: the reader goes away; no message blaming the root, no traceback."""
    for command in ("status", "check"):
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", command, "--root", str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUTF8": "1"},
        )
        proc.stdout.close()  # before it writes a line
        err = proc.stderr.read().decode("utf-8")
        proc.stderr.close()
        assert proc.wait(timeout=60) == 1 and err == "", (command, err)


def test_process_shows_a_progress_bar_on_a_terminal(root):
    import pty

    for i in range(3):
        write_request(root / "workbooks" / "GZ001" / f"进度{i}.xlsx", issue_fields(旅行团号=f"P{i}"), people(1 + i)[i:])
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "process", "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**os.environ, "PYTHONUTF8": "1"},
    )
    proc.wait(timeout=120)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert b"3/3" in seen and b"[" in seen


def test_stray_temporary_files_are_cleaned_up_on_start(root, ledger_backend):
    stray = root / "outbox" / "GZ001" / ".团_结果.xlsx.123.watcher-tmp"
    stray.write_bytes(b"half")
    fresh = root / "outbox" / "GZ001" / ".团_结果_2.xlsx.456.watcher-tmp"
    fresh.write_bytes(b"being written")
    two_hours_ago = time.time() - 7200
    os.utime(stray, (two_hours_ago, two_hours_ago))
    run_watcher(root, "process")
    assert not stray.exists()
    # With several workers on the root (PostgreSQL), a fresh one may be another worker's write in progress.
    assert fresh.exists() == (ledger_backend == "postgresql")


def test_an_outbox_that_cannot_be_written_keeps_the_file_in_hand_and_the_service_goes_on(root):
    configure(root)
    agency_workbook(
        root / "workbooks" / "_admin" / "机构.xlsx", [[1, "SZ002", "深圳测试旅行社", "", "", "GN-A", "合作中"]]
    )
    run_watcher(root, "process")
    blocked = root / "outbox" / "SZ002"
    blocked.rmdir()
    blocked.write_text("not a folder")  # rendering into it fails whatever the user's privileges
    with serving(root) as proc:
        write_request(root / "workbooks" / "SZ002" / "写不进.xlsx", issue_fields(), people(1))
        wait_for(lambda: not (root / "workbooks" / "SZ002" / "写不进.xlsx").exists(), 30, "the claim")
        write_request(root / "workbooks" / "GZ001" / "照常.xlsx", issue_fields(), people(1))
        wait_for(lambda: results(root), 30, "the other agency's result")
        assert proc.poll() is None
    blocked.unlink()
    run_watcher(root, "process")  # the next start finishes what stayed in hand
    assert [r["status"] for r in results(root, "SZ002")] == ["success"]


def test_serve_has_a_big_rosters_result_workbook_written_by_a_renderer_while_it_walks_the_next_file(root, tmp_path):
    """A big roster never holds a small agency up: `serve` hands the 20,000-person result workbook (a
    second of writing) to a render process and walks the 30-person request dropped just after it, whose
    result is out while the big one's is still being written. (`process` writes a big one itself.)"""
    configure(root)
    crowd = people(20030)
    staged = tmp_path / "staged"
    write_request(staged / "big.xlsx", issue_fields(旅行团号="BIG"), crowd[:20000])
    write_request(staged / "small.xlsx", issue_fields(旅行团号="SMALL"), crowd[20000:])
    drop, out = root / "workbooks" / "GZ001", root / "outbox" / "GZ001"
    with serving(root):
        time.sleep(1.5)  # started and watching
        os.rename(staged / "big.xlsx", drop / "big.xlsx")
        time.sleep(0.1)
        os.rename(staged / "small.xlsx", drop / "small.xlsx")
        wait_for(lambda: (out / "big_结果.json").exists() and (out / "small_结果.json").exists(), 120, "both results")
    big, small = (json.loads((out / f"{n}_结果.json").read_text("utf-8")) for n in ("big", "small"))
    assert (big["status"], small["status"]) == ("success", "success")
    assert big["policies"][0]["insured_count"] == 20000
    big_done = (out / "big_结果.json").stat().st_mtime_ns  # its twin: written by the renderer after the rest
    assert (out / "small_结果.xlsx").stat().st_mtime_ns < big_done, "the small one's workbook came out first"
    assert (out / "small_结果.json").stat().st_mtime_ns < big_done, "and the whole of its result"


def test_the_loop_wakes_for_a_new_file_or_a_finished_render_whichever_comes_first(root, monkeypatch):
    """The loop waited a whole tick on the oldest file's render alone: a file dropped meanwhile sat behind a
    big roster's result workbook (a CI run saw the small result come out after the big one's workbook)."""
    from concurrent.futures import Future
    from types import SimpleNamespace

    from watcher.service import serve
    from watcher.settings import load_settings

    monkeypatch.setattr(serve, "TICK", 3.0)
    service = serve.Service(SimpleNamespace(settings=load_settings(root)))
    rendering: Future = Future()  # a big roster's outputs, still being written
    pipeline = SimpleNamespace(in_hand=[SimpleNamespace(future=rendering)])
    service.paths.put((str(root / "workbooks" / "GZ001" / "新.xlsx"), True))
    began = time.monotonic()
    service._wait(pipeline)
    assert time.monotonic() - began < 1.5, "a file that has arrived is looked at now, not after the render"
    assert service.paths.get_nowait()[0].endswith("新.xlsx")
    threading.Timer(0.3, rendering.set_result, [None]).start()
    began = time.monotonic()
    service._wait(pipeline)
    assert 0.25 < time.monotonic() - began < 1.5, "the render's end wakes the loop to finish its file"
    assert service.paths.get_nowait() == serve.WAKE  # as the next round's look at the events takes it
    began = time.monotonic()
    service._wait(pipeline)  # the same render, ended: one wake-up, then a tick's sleep again (no busy loop)
    assert time.monotonic() - began >= 3


def test_a_service_that_refuses_to_start_says_why_in_the_desks_log_too(root):
    """An operator who reads logs/ saw a service that had simply stopped: the refusal went to stderr only."""
    run_watcher(root, "process")  # the desk has run: its logs folder is there
    (root / "watcher.toml").write_text('timezone = "Nowhere/City"\n', encoding="utf-8")
    refused = run_watcher(root, "serve", check=False)
    assert refused.returncode == 1 and "Nowhere/City" in refused.stderr
    log = (root / "logs" / "watcher.log").read_text("utf-8")
    [line] = [x for x in log.splitlines() if "watcher serve 未能启动" in x]
    assert "Nowhere/City" in line and "\tERROR\t" in line


def test_a_copy_staged_loose_and_renamed_into_a_folder_is_never_told_as_loose(root):
    """`cp` to workbooks/R1.partial, then `mv` into GZ001/ (a stage-then-rename copy): the file was processed,
    and staff were also told at once of a loose R1.partial that no longer existed. A loose file is told once
    it has held still for the settle time, as any file is taken; one that stays is told."""
    configure(root, "settle_seconds = 2\nrescan_seconds = 1\nstall_seconds = 30\n")
    notices = root / "outbox" / "_admin"
    with serving(root):
        staged = root / "workbooks" / "R1.partial"
        staged.write_bytes(request_bytes(3))
        os.utime(staged, (time.time() - 3600, time.time() - 3600))  # a copy keeping its source's time (cp -p)
        time.sleep(1.5)  # across a rescan, within the settle time
        staged.rename(root / "workbooks" / "GZ001" / "R1.xlsx")
        wait_for(lambda: len(results(root)) == 1, 30, "R1's result")
        left = root / "workbooks" / "放错了.xlsx"
        left.write_bytes(request_bytes(4))
        wait_for(lambda: list(notices.glob("未受理_*放错了*.json")), 30, "the loose file that stayed is told")
    assert [r["status"] for r in results(root)] == ["success"]
    assert not list(notices.glob("未受理_*R1*")), "nothing said of the staged copy"


def test_a_drop_share_that_goes_away_stops_the_intake_and_is_never_made_again_empty(root):
    """The share holding workbooks/ went away (unmounted, renamed): serve made an empty workbooks/GZ001 in its
    place with nothing in the log, status said 正常 and 等待处理 0, and the share put back with `mv` landed
    inside the new folder, where a clerk's file was never seen. The intake stops, status says why; once the
    share is back the file dropped meanwhile is processed."""
    configure(root, "settle_seconds = 0.5\nrescan_seconds = 1\nstall_seconds = 30\n")
    share, away = root / "workbooks", root / "workbooks.away"
    with serving(root):
        write_request(share / "GZ001" / "之前.xlsx", issue_fields(), people(2))
        wait_for(lambda: len(results(root)) == 1, 30, "the file before")
        share.rename(away)
        wait_for(lambda: "投递或输出文件夹不见了" in run_watcher(root, "status").stdout, 30, "status says so")
        time.sleep(2.5)  # rescans while it is away
        assert not share.exists(), "no empty folder made in the share's place"
        write_request(away / "GZ001" / "期间.xlsx", issue_fields(旅行团号="T-AWAY"), people(4)[2:])
        text = run_watcher(root, "status").stdout
        assert "共享盘" in text and "正常" not in text.splitlines()[2], text
        away.rename(share)
        wait_for(lambda: len(results(root)) == 2, 60, "the file dropped while the share was away")
        assert "投递或输出文件夹不见了" not in run_watcher(root, "status").stdout
    assert sorted(r["status"] for r in results(root)) == ["success", "success"]


def test_a_share_unmounted_under_its_mount_point_is_not_taken_for_the_desk(root):
    """Unmounted, the share leaves its mount point behind: an empty outbox/ (or workbooks/) that is a folder
    still. serve made the agencies' folders again inside it and status said 正常; the share mounted back hid
    them, with the results written there meanwhile. The intake stops as for a share gone; `process` makes
    nothing, nor do `month-end` and `recover`; an _admin folder removed by hand is made again by `init`, as the
    advice says."""
    configure(root, "settle_seconds = 0.5\nrescan_seconds = 1\nstall_seconds = 30\n")
    share, away = root / "outbox", root / "outbox.away"
    with serving(root):
        write_request(root / "workbooks" / "GZ001" / "之前.xlsx", issue_fields(), people(2))
        wait_for(lambda: len(results(root)) == 1, 30, "the file before")
        share.rename(away)
        share.mkdir()  # the mount point the share was mounted on
        wait_for(lambda: "投递或输出文件夹不见了" in run_watcher(root, "status").stdout, 30, "status says so")
        write_request(root / "workbooks" / "GZ001" / "期间.xlsx", issue_fields(旅行团号="T-AWAY"), people(4)[2:])
        time.sleep(2.5)  # rescans while it is unmounted
        assert list(share.iterdir()) == [], "nothing made or written into the empty mount point"
        share.rmdir()
        away.rename(share)  # mounted back
        wait_for(lambda: len(results(root)) == 2, 60, "the file dropped while the share was away")
    refused_root = root / "workbooks"
    refused_root.rename(root / "workbooks.away")
    refused_root.mkdir()
    refused = run_watcher(root, "process", check=False)
    assert refused.returncode == 1 and "_admin" in refused.stderr and "init" in refused.stderr, refused.stderr
    assert "文件夹是空的" in refused.stderr, refused.stderr
    for command in ("month-end", "recover"):  # statements or replayed results would be hidden there too
        refused = run_watcher(root, command, check=False)
        assert refused.returncode == 1 and "_admin" in refused.stderr, command + refused.stdout + refused.stderr
    # The advice's `init` is for an _admin removed by hand: on an empty mount point it makes nothing.
    refused = run_watcher(root, "init", check=False)
    assert refused.returncode == 1 and "共享盘没有挂载" in refused.stderr, refused.stdout + refused.stderr
    assert list(refused_root.iterdir()) == []
    refused_root.rmdir()
    (root / "workbooks.away").rename(refused_root)
    (refused_root / "_admin").rmdir()  # removed by hand, the share in place
    assert run_watcher(root, "process", check=False).returncode == 1
    run_watcher(root, "init")
    run_watcher(root, "process")
    assert sorted(r["status"] for r in results(root)) == ["success", "success"]


def test_process_with_the_drop_or_output_root_missing_says_so_and_makes_nothing(root):
    """`process` with outbox/ renamed away committed a request and made outbox/GZ001 again locally with its
    result inside; with workbooks/ gone it said 0 个文件 and exited 0."""
    write_request(root / "workbooks" / "GZ001" / "团.xlsx", issue_fields(), people(2))
    (root / "outbox").rename(root / "outbox.away")
    refused = run_watcher(root, "process", check=False)
    assert refused.returncode == 1 and "投递或输出文件夹不见了" in refused.stderr, refused.stdout + refused.stderr
    assert not (root / "outbox").exists() and (root / "workbooks" / "GZ001" / "团.xlsx").exists()
    # Nor does `init` (the operator following the advice meant for an _admin removed): an outbox made anew
    # here would hide the results written into it once the share is back (attack K).
    refused = run_watcher(root, "init", check=False)
    assert refused.returncode == 1 and "不见了" in refused.stderr and "共享盘" in refused.stderr, refused.stderr
    assert not (root / "outbox").exists()
    (root / "outbox.away").rename(root / "outbox")
    (root / "workbooks").rename(root / "workbooks.away")
    refused = run_watcher(root, "process", check=False)
    assert refused.returncode == 1 and "共享盘" in refused.stderr, refused.stdout + refused.stderr
    assert not (root / "workbooks").exists()
    (root / "workbooks.away").rename(root / "workbooks")
    run_watcher(root, "process")
    assert [r["status"] for r in results(root)] == ["success"]
