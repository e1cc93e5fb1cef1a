"""One agency's outbox that takes nothing (a file where its folder should be: the agency owns that share)
keeps back only that agency's files: month-end writes every other agency's detail sheet and statements and
the staff summary, says which agency waits and why in Chinese, and writes its files once the folder takes
them, without a restart; a 对账确认 over several agencies writes every other output it can."""

from __future__ import annotations

import json
import shutil

import openpyxl
from helpers import (
    agency_workbook,
    fake,
    issue,
    issue_fields,
    ledger_query,
    month_end,
    people,
    run_watcher,
    serving,
    statements,
    unusable,
    wait_for,
    write_request,
)

NOV = "2026-12-01T03:00:00+08:00"


def _two_agencies(root):
    agency_workbook(
        root / "workbooks" / "_admin" / "机构.xlsx",
        [[1, "AA001", "甲旅行社", "9144", "LY-1", "GN-A", "合作中"]],
    )
    run_watcher(root, "process", env=fake("2026-11-02T09:00:00+08:00"))
    issue(root, "团G", "2026-11-20 08:00", n=2)
    issue(root, "团A", "2026-11-20 08:00", n=3, agency="AA001")


def _block(root, agency="AA001"):
    out = root / "outbox" / agency
    shutil.move(out, root / f"{agency}_saved")
    out.write_text("not a folder", encoding="utf-8")


def _unblock(root, agency="AA001"):
    (root / "outbox" / agency).unlink()
    shutil.move(root / f"{agency}_saved", root / "outbox" / agency)


def test_month_end_writes_every_other_agencys_files_and_the_blocked_ones_later(root):
    _two_agencies(root)
    _block(root)
    done = month_end(root, "2026-11", NOV, check=False)
    assert done.returncode == 1
    assert "新生成对账单 2 张" in done.stdout, done.stdout
    assert "AA001" in done.stderr and "该位置已有同名的文件" in done.stderr, done.stderr
    assert "File exists" not in done.stderr + done.stdout and "Traceback" not in done.stderr
    numbers = {s[1]: s[0] for s in statements(root)}
    assert set(numbers) == {"AA001", "GZ001"}
    gz = root / "outbox" / "GZ001"
    assert (gz / "业务明细_2026-11.xlsx").exists()
    assert (gz / f"对账单_{numbers['GZ001']}.json").exists() and (gz / f"对账单_{numbers['GZ001']}.xlsx").exists()
    summary = openpyxl.load_workbook(root / "outbox" / "_admin" / "月结汇总_2026-11.xlsx")
    assert summary.sheetnames
    status = run_watcher(root, "status", env=fake("2026-12-01T03:05:00+08:00")).stdout
    assert "月结文件未能写出" in status and "2026-11 AA001" in status, status

    # The folder is back: the next run (serve's tick, process, month-end) writes what waited.
    _unblock(root)
    with serving(root, fake("2026-12-01T03:10:00+08:00")):
        aa = root / "outbox" / "AA001"
        wait_for(lambda: (aa / f"对账单_{numbers['AA001']}.json").exists(), 30, "AA001's statement")
        wait_for(lambda: (aa / "业务明细_2026-11.xlsx").exists(), 30, "AA001's detail sheet")
    answer = json.loads((aa / f"对账单_{numbers['AA001']}.json").read_text("utf-8"))
    assert answer["statement_no"] == numbers["AA001"] and answer["agency"] == "AA001"
    status = run_watcher(root, "status", env=fake("2026-12-01T03:15:00+08:00")).stdout
    assert "月结文件未能写出" not in status, status
    assert len(statements(root)) == 2, "nothing settled twice"
    runs = ledger_query(root, "SELECT COUNT(*) FROM month_end_runs")
    assert runs == [(1,)], "the files were written without another month-end run"


def test_process_writes_the_month_end_files_a_folder_refused_once_it_takes_them(root):
    """Only serve's tick and month-end wrote them: after a `process` (which wrote a 对账确认's statements into
    the folder now free), status still said the agency's files were missing, sending the operator after a
    fault that was gone."""
    _two_agencies(root)
    _block(root)
    month_end(root, "2026-11", NOV, check=False)
    numbers = {s[1]: s[0] for s in statements(root)}
    assert "月结文件未能写出" in run_watcher(root, "status", env=fake("2026-12-01T03:05:00+08:00")).stdout
    _unblock(root)
    run_watcher(root, "process", env=fake("2026-12-01T03:08:00+08:00"))  # nothing to take
    aa = root / "outbox" / "AA001"
    assert (aa / f"对账单_{numbers['AA001']}.json").exists() and (aa / "业务明细_2026-11.xlsx").exists()
    status = run_watcher(root, "status", env=fake("2026-12-01T03:09:00+08:00")).stdout
    assert "月结文件未能写出" not in status, status
    assert ledger_query(root, "SELECT COUNT(*) FROM month_end_runs") == [(1,)]


def test_a_confirmation_writes_every_output_it_can_while_one_agencys_folder_takes_nothing(root):
    _two_agencies(root)
    month_end(root, "2026-11", NOV)
    numbers = {s[1]: s[0] for s in statements(root)}
    _block(root)
    head = ["序号", "对账单号", "业务渠道", "确认人"]
    rows = [[1, numbers["AA001"], "团险直销", "张运营"], [2, numbers["GZ001"], "团险直销", "张运营"]]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "申请"
    ws.append(["操作类型", "对账确认"])
    table = wb.create_sheet("对账确认")
    table.append(head)
    for row in rows:
        table.append(row)
    wb.save(root / "workbooks" / "_admin" / "确认.xlsx")
    run_watcher(root, "process", env=fake("2026-12-02T10:00:00+08:00"), check=False)
    # GZ001's statement and both exchange files are written although AA001's folder takes nothing …
    gz = json.loads((root / "outbox" / "GZ001" / f"对账单_{numbers['GZ001']}.json").read_text("utf-8"))
    assert gz["status"] == "已确认"
    assert (root / "outbox" / "_core" / f"SETTLE_{numbers['GZ001']}.csv").exists()
    assert (root / "outbox" / "_core" / f"SETTLE_{numbers['AA001']}.csv").exists()
    # … but the result is not said complete (its JSON twin) until every output is in place.
    assert not (root / "outbox" / "_admin" / "确认_结果.json").exists()
    _unblock(root)
    run_watcher(root, "process", env=fake("2026-12-02T10:05:00+08:00"))
    data = json.loads((root / "outbox" / "_admin" / "确认_结果.json").read_text("utf-8"))
    assert data["status"] == "success"
    aa = json.loads((root / "outbox" / "AA001" / f"对账单_{numbers['AA001']}.json").read_text("utf-8"))
    assert aa["status"] == "已确认"
    assert [s[6] for s in statements(root)] == ["已确认", "已确认"]


def test_a_month_end_whose_summary_cannot_be_written_is_finished_later_not_run_again(root):
    """Staff's own outbox taking nothing stops the run after its settlement: the next try finishes that
    run (its statements counted as new in its summary, its trigger kept) instead of starting another."""
    _two_agencies(root)
    _block(root, "_admin")
    stopped = month_end(root, "2026-11", NOV, check=False)
    assert stopped.returncode == 1 and "该位置已有同名的文件" in stopped.stderr, stopped.stderr
    assert "watcher-tmp" not in stopped.stderr, "the output is named, not its temporary file"
    assert len(statements(root)) == 2
    status = run_watcher(root, "status", env=fake("2026-12-01T03:05:00+08:00")).stdout
    assert "月结 2026-11 未完成（该位置已有同名的文件" in status, status
    month_end(root, "2026-11", "2026-12-01T03:06:00+08:00", check=False)  # still blocked: no new run
    _unblock(root, "_admin")
    done = month_end(root, "2026-11", "2026-12-01T03:10:00+08:00")
    assert "新生成对账单 2 张" in done.stdout, done.stdout
    runs = ledger_query(root, "SELECT trigger, finished_at IS NOT NULL FROM month_end_runs")
    assert runs == [("命令", 1)], runs
    summary = openpyxl.load_workbook(root / "outbox" / "_admin" / "月结汇总_2026-11.xlsx")["汇总"]
    labels = {row[0]: row[1] for row in summary.iter_rows(values_only=True) if row and row[0]}
    assert labels["本次生成对账单"] == 2 and labels["触发方式"] == "命令"
    status = run_watcher(root, "status", env=fake("2026-12-01T03:15:00+08:00")).stdout
    assert "未完成" not in status, status


def test_process_names_each_file_whose_result_waits_and_why(root):
    _two_agencies(root)
    _block(root)
    write_request(root / "workbooks" / "AA001" / "团X.xlsx", issue_fields(旅行团号="X1"), people(2))
    proc = run_watcher(root, "process", env=fake("2026-11-10T11:00:00+08:00"), check=False)
    assert proc.returncode == 1
    assert "另有 1 个文件已办理" in proc.stderr and "AA001/团X.xlsx：该位置已有同名的文件" in proc.stderr, proc.stderr
    assert "另有 1 个文件已办理" in proc.stdout, proc.stdout  # the summary line never says 0 files of a run that issued
    assert "磁盘已满" not in proc.stderr
    log = (root / "logs" / "watcher.log").read_text("utf-8")
    assert "回显表写出失败" not in log, "a folder refusing the result is no fault of the echoed cells"
    events = (root / "archive" / "_events" / "events.jsonl").read_text("utf-8")
    assert events.count('"file": "团X.xlsx"') == 1, "the outputs' retry is no second walk in the event log"
    _unblock(root)
    run_watcher(root, "process", env=fake("2026-11-10T11:05:00+08:00"))
    answer = json.loads((root / "outbox" / "AA001" / "团X_结果.json").read_text("utf-8"))
    assert answer["status"] == "success"


def test_a_folder_where_the_json_twin_belongs_is_no_twin(root):
    """The twin says "result complete": a folder made at its name while the request was in hand is not
    taken for it (the run said success and the twin was never written), nor is the policy's own page set
    aside as someone else's; once the folder is gone the twin is written."""
    import os
    import subprocess
    import sys
    import time

    write_request(root / "workbooks" / "GZ001" / "团B.xlsx", issue_fields(旅行团号="B1"), people(2))
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "process", "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUTF8": "1", "WATCHER_PAUSE_AT": "before_commit:2"},
    )
    time.sleep(1)
    twin = root / "outbox" / "GZ001" / "团B_结果.json"
    twin.mkdir(parents=True)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, output
    assert "另有 1 个文件已办理" in output and "Traceback" not in output, output
    assert "该位置是文件夹" in output and "watcher-tmp" not in output, output  # the output's own name
    log = (root / "logs" / "watcher.log").read_text("utf-8")
    assert "在本保单签发前已存在" not in log, log
    assert not list((root / "outbox" / "GZ001").glob(".*set-aside"))
    twin.rmdir()
    run_watcher(root, "process")
    assert json.loads(twin.read_text("utf-8"))["status"] == "success"
    assert len(list((root / "outbox" / "GZ001").glob("电子保单_*.html"))) == 1


def test_a_folder_at_one_month_end_file_keeps_back_only_that_file(root):
    _two_agencies(root)
    blocker = root / "outbox" / "GZ001" / "业务明细_2026-11.xlsx"
    blocker.mkdir(parents=True)
    done = month_end(root, "2026-11", NOV, check=False)
    assert done.returncode == 1
    number = {s[1]: s[0] for s in statements(root)}["GZ001"]
    assert (root / "outbox" / "GZ001" / f"对账单_{number}.json").is_file(), "its statement is written all the same"
    status = run_watcher(root, "status", env=fake("2026-12-01T03:05:00+08:00")).stdout
    assert "2026-11 GZ001（该位置是文件夹" in status and "业务明细_2026-11.xlsx" in status, status
    assert "watcher-tmp" not in status
    blocker.rmdir()
    month_end(root, "2026-11", "2026-12-01T03:10:00+08:00")
    assert openpyxl.load_workbook(blocker).sheetnames
    assert "月结文件未能写出" not in run_watcher(root, "status", env=fake("2026-12-01T03:15:00+08:00")).stdout


def test_serve_says_loudly_when_a_waiting_results_claim_record_is_deleted(root):
    """The record that a committed request's result still waits lives in the agency's hidden claim folder;
    deleted there, serve can no longer write it: the log says so and what to do (watcher recover writes it)."""
    (root / "watcher.toml").write_text(
        "settle_seconds = 0.2\ntext_settle_seconds = 0.2\nrescan_seconds = 1\n", encoding="utf-8"
    )
    _block(root, "GZ001")
    log = root / "logs" / "watcher.log"
    with serving(root):
        write_request(root / "workbooks" / "GZ001" / "团L.xlsx", issue_fields(旅行团号="L1"), people(2))
        wait_for(lambda: log.exists() and "结果暂时无法写出" in log.read_text("utf-8"), 30, "the result pending")
        shutil.rmtree(root / "workbooks" / "GZ001" / ".watcher-claimed")
        wait_for(lambda: "其受理记录已被删除" in log.read_text("utf-8"), 30, "the loss said")
    assert "watcher recover" in log.read_text("utf-8")
    # status keeps saying so (it said nothing: no claim record left to list), until recover writes it.
    status = run_watcher(root, "status", check=False).stdout
    assert "结果缺失：1 个文件" in status and "GZ001/团L.xlsx" in status and "watcher recover" in status
    _unblock(root, "GZ001")
    # The clerk drops the same bytes again: its 重复提交 writes the outputs the request lacked. status kept
    # telling the operator to stop the desk and run recover for what was already there.
    [copy] = (root / "archive" / "GZ001").rglob("*_团L.xlsx")
    shutil.copy(copy, root / "workbooks" / "GZ001" / "团L再交.xlsx")
    run_watcher(root, "process")
    assert json.loads((root / "outbox" / "GZ001" / "团L_结果.json").read_text("utf-8"))["status"] == "success"
    assert "结果缺失" not in run_watcher(root, "status", check=False).stdout
    run_watcher(root, "recover")
    assert json.loads((root / "outbox" / "GZ001" / "团L_结果.json").read_text("utf-8"))["status"] == "success"
    assert "结果缺失" not in run_watcher(root, "status", check=False).stdout


def test_serve_tries_a_stopped_run_again_however_the_clock_moved(root):
    """serve waits 5 minutes before trying a run staff's folder stopped; a clock moved back since (the mark
    then in the future) must not hold it back for as long as the clock moved."""
    from datetime import UTC, datetime, timedelta

    _two_agencies(root)
    _block(root, "_admin")
    month_end(root, "2026-11", NOV, check=False)
    [(run_id, text)] = ledger_query(root, "SELECT id, summary FROM month_end_runs")
    summary = json.loads(text)
    summary["tried_at"] = (datetime.now(UTC) + timedelta(hours=3)).isoformat()  # the clock since moved back
    ledger_query(root, "UPDATE month_end_runs SET summary = ? WHERE id = ?", (json.dumps(summary), run_id))
    _unblock(root, "_admin")
    (root / "watcher.toml").write_text("schedule_check_seconds = 0.5\nrescan_seconds = 1\n", encoding="utf-8")
    with serving(root, fake("2026-12-01T03:10:00+08:00")):
        wait_for(lambda: (root / "outbox/_admin/月结汇总_2026-11.xlsx").exists(), 30, "the stopped run finished")
    runs = ledger_query(root, "SELECT finished_at FROM month_end_runs")
    assert len(runs) == 1 and runs[0][0] is not None, "the stopped run finished, no other started"


def test_a_statement_workbook_an_agencys_folder_refuses_keeps_back_only_that_agency(root):
    """The statement workbook's writer (xlsxwriter) wraps the system's refusal (a full share, one read-only
    or immutable) in an error of its own: it escaped what keeps one agency's refusal to that agency, and the
    whole month-end stopped, said as the desk's disk, with no summary for staff and the run unfinished
    (attack X). A full disk mounted on the folder where this machine allows, else a file in its place."""
    _two_agencies(root)
    with unusable(root / "outbox" / "AA001"):
        done = month_end(root, "2026-11", NOV, check=False)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode == 1 and "2026-11 AA001" in done.stderr, (done.stdout, done.stderr)
        assert "新生成对账单 2 张" in done.stdout, done.stdout
        numbers = {s[1]: s[0] for s in statements(root)}
        gz = root / "outbox" / "GZ001"
        assert (gz / f"对账单_{numbers['GZ001']}.xlsx").exists() and (gz / "业务明细_2026-11.xlsx").exists()
        assert (root / "outbox" / "_admin" / "月结汇总_2026-11.xlsx").exists()
        assert ledger_query(root, "SELECT COUNT(*) FROM month_end_runs WHERE finished_at IS NULL") == [(0,)]
        status = run_watcher(root, "status", env=fake("2026-12-01T03:05:00+08:00")).stdout
        assert "月结文件未能写出" in status and "2026-11 AA001" in status, status
