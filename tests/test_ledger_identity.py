"""A root works with one ledger: a worker pointed at another (a wrong WATCHER_LEDGER_URL, another desk's
file) is refused, and `recover` builds no second ledger elsewhere unless told to (--new-ledger)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest
from helpers import issue_fields, ledger_query, people, pg_schema, result, run_watcher, write_request

from watcher.ledger.db import ledger_exists


def _issue(root: Path, name: str, group: str, env: dict | None = None, start: int = 0) -> str:
    write_request(
        root / "workbooks" / "GZ001" / f"{name}.xlsx", issue_fields(旅行团号=group), people(start + 1)[start:]
    )
    run_watcher(root, "process", env=env)
    data, _ = result(root, "GZ001", f"{name}_结果")
    assert data["status"] == "success", data["errors"]
    return data["policies"][0]["policy_no"]


def _empty(root: Path, ledger_backend: str) -> None:
    """The ledger gone: its SQLite file deleted, its PostgreSQL schema emptied."""
    if ledger_backend == "sqlite":
        for extra in ("", "-wal", "-shm"):
            Path(str(root / "ledger.sqlite3") + extra).unlink(missing_ok=True)
        return
    schema = unquote(os.environ["WATCHER_LEDGER_URL"].rsplit("search_path", 1)[1]).lstrip("=")
    ledger_query(root, f"DROP SCHEMA {schema} CASCADE")
    ledger_query(root, f"CREATE SCHEMA {schema}")


def _record(root: Path) -> dict:
    return json.loads((root / "ledger.identity.json").read_text("utf-8"))


def test_a_worker_on_another_postgresql_database_is_refused_and_recover_builds_no_second_ledger(tmp_path, monkeypatch):
    with pg_schema() as right, pg_schema() as wrong, pg_schema() as other:
        monkeypatch.setenv("WATCHER_LEDGER_URL", right)
        root = tmp_path / "desk"
        run_watcher(root, "init", "--demo")
        (root / "watcher.toml").write_text("settle_seconds = 0\n", encoding="utf-8")
        first = _issue(root, "一", "T1")
        recorded = _record(root)
        assert recorded["ledger"] and "search_path" in recorded["where"]

        # A host restarted with the address mistyped, naming an empty database.
        at_wrong = {"WATCHER_LEDGER_URL": wrong}
        write_request(root / "workbooks/GZ001/二.xlsx", issue_fields(旅行团号="T2"), people(2)[1:])
        proc = run_watcher(root, "process", env=at_wrong, check=False)
        assert proc.returncode == 1 and "此目录的账本在" in proc.stderr and "指错了" in proc.stderr, proc.stderr
        assert "重建账本" not in proc.stderr.replace("不要在这里新建账本或从 archive/ 重建", "")
        # recover, as the old advice said, would build a second whole ledger there.
        proc = run_watcher(root, "recover", env=at_wrong, check=False)
        assert proc.returncode == 1 and "--new-ledger" in proc.stderr and "指错了" in proc.stderr, proc.stderr
        assert not ledger_exists(wrong)
        assert (root / "workbooks/GZ001/二.xlsx").exists()

        # The wrong address names another desk's ledger, with business of its own.
        elsewhere = tmp_path / "other"
        run_watcher(elsewhere, "init", "--demo", env=at_wrong)
        proc = run_watcher(root, "process", env=at_wrong, check=False)
        assert proc.returncode == 1 and "不是此目录的账本" in proc.stderr and recorded["ledger"][:8] in proc.stderr
        assert (root / "workbooks/GZ001/二.xlsx").exists() and not (root / "outbox/GZ001/二_结果.json").exists()
        assert _record(root) == recorded
        assert "连上的不是此目录的账本" in run_watcher(root, "status", env=at_wrong).stdout

        # The right address: the desk goes on with the next number.
        second = _issue(root, "二", "T2", start=1)
        assert second > first

        # Rebuilt in a new database on purpose: the old one is no longer the root's ledger.
        at_other = {"WATCHER_LEDGER_URL": other}
        assert run_watcher(root, "recover", env=at_other, check=False).returncode == 1
        done = run_watcher(root, "recover", "--new-ledger", env=at_other, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert _record(root)["ledger"] != recorded["ledger"]
        assert "search_path" in _record(root)["where"] and _record(root)["where"] != recorded["where"]
        assert _issue(root, "三", "T3", env=at_other, start=2) > second
        write_request(root / "workbooks/GZ001/四.xlsx", issue_fields(旅行团号="T4"), people(4)[3:])
        proc = run_watcher(root, "process", check=False)  # a host still on the old database
        assert proc.returncode == 1 and "不是此目录的账本" in proc.stderr, proc.stderr


def test_another_desks_sqlite_ledger_copied_in_is_refused(tmp_path, ledger_backend):
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite ledger's file (the PostgreSQL case is above)")
    root, other = tmp_path / "desk", tmp_path / "other"
    for path in (root, other):
        run_watcher(path, "init", "--demo")
        (path / "watcher.toml").write_text("settle_seconds = 0\n", encoding="utf-8")
    _issue(root, "一", "T1")
    for name in ("一", "二"):  # the other desk handed out more numbers: the mark does not stop it
        _issue(other, name, name)
    shutil.copy(other / "ledger.sqlite3", root / "ledger.sqlite3")
    for extra in ("-wal", "-shm"):
        Path(str(root / "ledger.sqlite3") + extra).unlink(missing_ok=True)
    write_request(root / "workbooks/GZ001/二.xlsx", issue_fields(旅行团号="T2"), people(2)[1:])
    proc = run_watcher(root, "process", check=False)
    assert proc.returncode == 1 and "不是此目录的账本" in proc.stderr, proc.stderr
    assert not (root / "outbox/GZ001/二_结果.json").exists()
    assert "连上的不是此目录的账本" in run_watcher(root, "status").stdout
    # recover checks a ledger found there against the archive: another desk's business is refused.
    recorded = _record(root)
    proc = run_watcher(root, "recover", check=False)
    assert proc.returncode == 1 and "不是这台机器账本的备份" in proc.stderr, proc.stderr
    assert _record(root) == recorded  # the root still works with its own ledger, once it is put back


def test_a_sqlite_ledger_moved_to_a_path_with_no_file_is_not_rebuilt_there(root, ledger_backend):
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite ledger's path (a PostgreSQL root run without its address is refused as such)")
    _issue(root, "一", "T1")
    moved = root.parent / "elsewhere" / "ledger.sqlite3"
    moved.parent.mkdir()
    (root / "watcher.toml").write_text(f'settle_seconds = 0\nledger = "{moved}"\n', encoding="utf-8")
    proc = run_watcher(root, "process", check=False)
    assert proc.returncode == 1 and "指错了" in proc.stderr and "watcher.toml 的 ledger" in proc.stderr, proc.stderr
    proc = run_watcher(root, "recover", check=False)
    assert proc.returncode == 1 and "--new-ledger" in proc.stderr, proc.stderr
    assert not moved.exists()


def test_a_ledger_from_before_ids_takes_the_roots_and_a_root_from_before_records_its_ledger(root, ledger_backend):
    first = _issue(root, "一", "T1")
    held = _record(root)["ledger"]
    # A backup from before this release (no id yet) restored where the ledger lives: it takes the root's id.
    ledger_query(root, "DELETE FROM desk")
    second = _issue(root, "二", "T2", start=1)
    assert ledger_query(root, "SELECT value FROM desk") == [(held,)]
    # A root from before this release (no record): its first start records the ledger it works with.
    (root / "ledger.identity.json").unlink()
    assert _issue(root, "三", "T3", start=2) > second > first
    assert _record(root)["ledger"] == held
    # A record that cannot be read stops the start; it does not pass for none.
    (root / "ledger.identity.json").write_text("{", encoding="utf-8")
    write_request(root / "workbooks/GZ001/四.xlsx", issue_fields(旅行团号="T4"), people(4)[3:])
    proc = run_watcher(root, "process", check=False)
    assert proc.returncode == 1 and "无法读出此目录使用的是哪个账本" in proc.stderr, proc.stderr
    assert not (root / "outbox/GZ001/四_结果.json").exists()


def test_init_on_a_root_that_never_issued_makes_a_new_ledger_and_records_it(tmp_path, ledger_backend):
    root = tmp_path / "desk"
    run_watcher(root, "init", "--demo")
    before = _record(root)["ledger"]
    _empty(root, ledger_backend)
    shutil.rmtree(root / "archive")  # (init's own line in the event log: the desk never did business)
    if ledger_backend == "sqlite":  # and made anew somewhere else
        (root / "watcher.toml").write_text(f'ledger = "{tmp_path / "new.sqlite3"}"\n', encoding="utf-8")
    assert run_watcher(root, "init").returncode == 0
    assert _record(root)["ledger"] != before
    assert run_watcher(root, "process").returncode == 0


def test_recover_into_the_same_place_keeps_the_ledgers_id(root, ledger_backend):
    _issue(root, "一", "T1")
    held = _record(root)["ledger"]
    _empty(root, ledger_backend)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _record(root)["ledger"] == held
    assert ledger_query(root, "SELECT value FROM desk") == [(held,)]
