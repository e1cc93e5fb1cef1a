"""The smaller things a new user trips on: usage errors in Chinese, an empty old value shown as （空）, one
word for the deposit (押金 accepted as a synonym), every setting in the watcher.toml that init writes, and
no empty 业务明细 for a month before a desk's first business."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from helpers import ID_M_1980, issue_fields, result, run_watcher, write_request

from watcher.settings import Settings


def test_usage_errors_are_in_chinese(root):
    for args in ((), ("frobnicate",), ("web", "--port", "abc"), ("template",), ("month-end", "--nonsense")):
        proc = run_watcher(root, *args, check=False)
        assert proc.returncode == 2, args
        assert "用法" in proc.stderr and "用法错误" in proc.stderr, (args, proc.stderr)
        assert not re.search(r"\b(usage|error|required|invalid|unrecognized|arguments)\b", proc.stderr), (
            args,
            proc.stderr,
        )


def test_init_writes_every_setting(tmp_path):
    run_watcher(tmp_path / "desk", "init")
    text = (tmp_path / "desk" / "watcher.toml").read_text(encoding="utf-8")
    listed = set(re.findall(r"^# (\w+) = ", text, re.M))
    assert listed == {f.name for f in fields(Settings)}


def test_init_run_again_says_it_changed_nothing(tmp_path, ledger_backend):
    """init on a desk already made printed 已初始化 … 设置文件、账本 as if it had made them anew."""
    first = run_watcher(tmp_path / "desk", "init").stdout
    assert first.startswith("已初始化") and "watcher.toml" in first
    settings = (tmp_path / "desk" / "watcher.toml").read_bytes()
    again = run_watcher(tmp_path / "desk", "init").stdout
    assert "已初始化过" in again and "沿用" in again and not again.startswith("已初始化 ")
    assert (tmp_path / "desk" / "watcher.toml").read_bytes() == settings


def test_a_changed_value_that_was_empty_shows_as_empty(root):
    write_request(
        root / "workbooks" / "GZ001" / "团.xlsx",
        issue_fields(),
        [[1, "张三", "身份证", ID_M_1980, None, None, None, None]],
    )
    run_watcher(root, "process")
    number = result(root, "GZ001", "团_结果")[0]["policies"][0]["policy_no"]
    write_request(
        root / "workbooks" / "GZ001" / "改电话.xlsx",
        {"操作类型": "信息变更", "保单号": number},
        [[1, "张三", "身份证", ID_M_1980, None, None, "13900001111", None]],
    )
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "改电话_结果")
    assert data["status"] == "success", data["errors"]
    [change] = data["changes"]
    assert change["说明"] == "联系电话：（空） → 13900001111"


def test_the_deposit_is_called_one_thing_and_ya_jin_is_understood(root):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "申请"
    ws.append(["操作类型", "押金"])
    table = wb.create_sheet("押金")
    table.append(["序号", "机构代码", "类型", "押金金额", "收据号", "日期"])
    table.append([1, "GZ001", "收取", 3000, "SJ-1", "2026-11-01"])
    wb.save(root / "workbooks" / "_admin" / "押金.xlsx")
    run_watcher(root, "process")
    data, _ = result(root, "_admin", "押金_结果")
    assert data["status"] == "success" and data["action"] == "预交保费", data["errors"]
    from watcher.kinds.forms import DEPOSIT_HELP
    from watcher.messages import MESSAGES

    assert not [text for text in (*MESSAGES.values(), *DEPOSIT_HELP) if "押金" in text]


def test_a_new_desk_writes_no_empty_detail_sheet_for_a_month_before_its_first_business(root):
    env = {"WATCHER_FAKE_NOW": "2026-12-05T10:00:00+08:00"}
    status = run_watcher(root, "status", env=env).stdout
    assert "现在待运行" not in status  # nothing to settle on a desk with no business
    run_watcher(root, "month-end", "--month", "2026-11", env=env)
    assert not list((root / "outbox" / "GZ001").glob("业务明细_*"))
    write_request(
        root / "workbooks" / "GZ001" / "团.xlsx",
        issue_fields(生效时间="2026-12-10 08:00"),
        [[1, "张三", "身份证", ID_M_1980, None, None, None, None]],
    )
    run_watcher(root, "process", env=env)
    later = {"WATCHER_FAKE_NOW": "2027-01-02T10:00:00+08:00"}
    run_watcher(root, "month-end", "--month", "2026-10", env=later)
    run_watcher(root, "month-end", "--month", "2026-12", env=later)
    assert sorted(p.name for p in (root / "outbox" / "GZ001").glob("业务明细_*")) == ["业务明细_2026-12.xlsx"]


def test_every_problem_code_is_documented():
    from watcher.messages import codes_doc

    docs = Path(__file__).resolve().parents[1] / "docs" / "problem-codes.md"
    assert docs.read_text(encoding="utf-8") == codes_doc(), "regenerate docs/problem-codes.md (see its head)"


def test_usage_is_said_by_the_command_that_was_misused(root):
    proc = run_watcher(root, "process", "--bogus", check=False)
    assert proc.returncode == 2 and "用法：watcher process" in proc.stderr and "--bogus" in proc.stderr
    proc = run_watcher(root, "frobnicate", check=False)
    assert "init、process、serve" in proc.stderr and "'init'" not in proc.stderr
    # --root before the command works as well as after it.
    done = subprocess.run(
        [sys.executable, "-m", "watcher", "--root", str(root), "status"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUTF8": "1"},
    )
    assert done.returncode == 0 and str(root) in done.stdout


def test_a_wrong_port_host_or_template_folder_is_said_not_a_traceback(root, tmp_path):
    """An operator's typos: a port past 65535 ended in a Python traceback, an address this machine does not
    have was blamed on a busy port, and a template written into a mistyped folder made that folder (where
    no scan looks) without a word."""
    for args, words in (
        (("--port", "99999"), "端口“99999”无效"),
        (("--port", "80a"), "端口“80a”无效"),
        (("--workers", "0"), "进程数“0”无效"),
    ):
        proc = run_watcher(root, "web", *args, check=False)
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    proc = run_watcher(root, "web", "--host", "10.255.255.254", "--port", "18231", check=False)
    assert proc.returncode == 1 and "没有这个地址" in proc.stderr and "占用" not in proc.stderr, proc.stderr
    (root / "watcher.toml").write_text("web_port = 99999\nweb_workers = 100\n", encoding="utf-8")
    proc = run_watcher(root, "web", check=False)
    assert proc.returncode == 1 and "web_port" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert run_watcher(root, "process", check=False).returncode == 0, "a page's setting never stops the desk"
    (root / "watcher.toml").write_text("", encoding="utf-8")
    typo = tmp_path / "workbook" / "GZ001" / "团A.xlsx"
    proc = run_watcher(root, "template", "投保", "-o", str(typo), check=False)
    assert proc.returncode == 1 and "不存在" in proc.stderr and not typo.parent.parent.exists(), proc.stderr
    # -o an existing folder: the template goes inside it (it was written beside it, as folder.xlsx).
    folder = root / "workbooks" / "GZ001"
    proc = run_watcher(root, "template", "撤单", "-o", str(folder), check=False)
    assert proc.returncode == 0 and (folder / "撤单.xlsx").is_file(), proc.stdout + proc.stderr
    assert not (root / "workbooks" / "GZ001.xlsx").exists()


def test_a_clerk_without_a_template_is_sent_to_the_insurer_not_to_a_command(root):
    """An agency clerk has a folder, not watcher's command line: "请用 watcher template 生成的模板填写" sent
    them to a tool only the insurer's staff run."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "名单"
    wb.active.append(["姓名", "证件号码"])
    wb.save(root / "workbooks" / "GZ001" / "无申请.xlsx")
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "无申请_结果")
    [error] = data["errors"]
    assert error["code"] == "file.no_apply_sheet" and "保险公司提供的申请模板" in error["message"]


def test_a_number_setting_outside_what_it_may_be_is_refused_at_start(root):
    """schedule_check_seconds = 0 spun `serve` at full CPU, took no file and ignored SIGTERM; web_threads = 0
    started a lookup page that never answered; negative settle and stall times, max_file_mb = 0 and a rescan
    every 0 s were taken in silence. Each is refused with its name and what it may be; a page's setting
    still never stops the desk's own commands."""
    from watcher.settings import RANGES, Settings, out_of_range

    defaults = Settings()
    assert out_of_range(defaults, RANGES) is None, "every default is within its range"
    assert "1 到 1000000 的整数" in out_of_range(Settings(max_roster_rows=0), RANGES)
    for line, name in (
        ("schedule_check_seconds = 0", "schedule_check_seconds"),
        ("rescan_seconds = 0", "rescan_seconds"),
        ("settle_seconds = -1", "settle_seconds"),
        ("stall_seconds = -5", "stall_seconds"),
        ("max_file_mb = 0", "max_file_mb"),
        ("max_roster_rows = 10.5", "max_roster_rows"),
    ):
        (root / "watcher.toml").write_text(line + "\n", encoding="utf-8")
        for command in ("process", "status"):
            proc = run_watcher(root, command, check=False)
            assert proc.returncode == 1 and f"设置 {name}" in proc.stderr and "无效" in proc.stderr, (line, proc.stderr)
            assert "Traceback" not in proc.stderr
    (root / "watcher.toml").write_text("web_threads = 0\nlookup_lock_after = 0\n", encoding="utf-8")
    proc = run_watcher(root, "web", "--port", "18232", check=False)
    assert proc.returncode == 1 and "设置 web_threads = 0 无效" in proc.stderr, proc.stderr
    assert run_watcher(root, "process", check=False).returncode == 0, "a page's setting never stops the desk"


def test_an_action_left_blank_is_said_as_blank_not_as_missing(root):
    """The 撤单 template with its 操作类型 cleared (the label still in A2): told 没有“操作类型”,请在 A 列写… though
    the label was there. Said as a value left blank, on its cell, with what it may be; a sheet without the
    label at all is still told to add it."""
    write_request(root / "workbooks" / "GZ001" / "空类型.xlsx", {"操作类型": None, "保单号": "LY202612010000001"})
    write_request(root / "workbooks" / "GZ001" / "无类型.xlsx", {"保单号": "LY202612010000001"})
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", "空类型_结果")
    [error] = data["errors"]
    assert (error["code"], error["row"], error["column"]) == ("file.action_empty", 1, "操作类型")
    assert "没有填写" in error["message"] and "撤单" in error["message"] and "结账" not in error["message"]
    data, _ = result(root, "GZ001", "无类型_结果")
    assert [e["code"] for e in data["errors"]] == ["file.no_action"] and "A 列" in data["errors"][0]["message"]


def test_a_sqlite_file_named_in_watcher_ledger_url_is_a_path_like_the_setting(root, ledger_backend):
    """WATCHER_LEDGER_URL=ledger.sqlite3 (the variable "wins" over the setting, settings.md): `process` crashed
    with a traceback on the text, and `check` said there was no ledger beside the file."""
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite file named in the variable")
    from helpers import people

    write_request(root / "workbooks" / "GZ001" / "变量.xlsx", issue_fields(旅行团号="ENV-1"), people(1))
    proc = run_watcher(root, "process", env={"WATCHER_LEDGER_URL": "ledger.sqlite3"}, check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert result(root, "GZ001", "变量_结果")[0]["status"] == "success"
    assert run_watcher(root, "check", env={"WATCHER_LEDGER_URL": "ledger.sqlite3"}, check=False).returncode == 0


def test_an_agencys_turn_found_held_is_waited_for_less_then_only_tried():
    """A worker frozen on an agency's turn: the first file waits lock_wait_seconds (at least 10 s: 0 would
    put a file back whenever two workers meet), later ones 5 s, and those of the same pass are only tried
    (one wait a file held every other agency up in proportion to the frozen agency's backlog; attack S)."""
    import time
    from types import SimpleNamespace

    from watcher.walk.flow import _turn_wait

    desk = SimpleNamespace(settings=SimpleNamespace(lock_wait_seconds=0), busy_turns={})
    assert _turn_wait(desk, ["agency:GZ001"]) == 10.0
    desk.settings.lock_wait_seconds = 60
    assert _turn_wait(desk, ["agency:GZ001"]) == 60
    desk.busy_turns["agency:GZ001"] = time.monotonic()
    assert _turn_wait(desk, ["agency:GZ001"]) == 0.0
    assert _turn_wait(desk, ["agency:SZ002"]) == 60
    desk.busy_turns["agency:GZ001"] = time.monotonic() - 60
    assert _turn_wait(desk, ["agency:GZ001"]) == 5.0
    desk.busy_turns["agency:GZ001"] = time.monotonic() - 600
    assert _turn_wait(desk, ["agency:GZ001"]) == 60
