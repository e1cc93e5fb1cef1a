"""A root works with one ledger: a worker pointed at another (a wrong WATCHER_LEDGER_URL, another desk's
file) is refused, and `recover` builds no second ledger elsewhere unless told to (--new-ledger)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


def _desk(path: Path) -> Path:
    """A demo desk (on the ledger WATCHER_LEDGER_URL names, else SQLite) taking files at once."""
    run_watcher(path, "init", "--demo")
    (path / "watcher.toml").write_text("settle_seconds = 0\n", encoding="utf-8")
    return path


def _two_desks(tmp_path: Path) -> tuple[Path, Path]:
    """This desk and another one."""
    return _desk(tmp_path / "desk"), _desk(tmp_path / "other")


def _record(root: Path) -> dict:
    return json.loads((root / "ledger.identity.json").read_text("utf-8"))


def test_a_worker_on_another_postgresql_database_is_refused_and_recover_builds_no_second_ledger(tmp_path, monkeypatch):
    with pg_schema() as right, pg_schema() as wrong, pg_schema() as other:
        monkeypatch.setenv("WATCHER_LEDGER_URL", right)
        root = _desk(tmp_path / "desk")
        first = _issue(root, "一", "T1")
        recorded = _record(root)
        assert recorded["ledger"] and recorded["where"].startswith("pg:")  # (as the server names it)
        assert recorded["at"].endswith("+08:00")  # (the desk's time, as status shows it)

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
        proc = run_watcher(root, "init", env=at_wrong, check=False)  # (nor init's advice to rebuild)
        assert proc.returncode == 1 and "指错了" in proc.stderr and not ledger_exists(wrong), proc.stderr

        # The wrong address names another desk's ledger, with business of its own.
        elsewhere = tmp_path / "other"
        run_watcher(elsewhere, "init", "--demo", env=at_wrong)
        proc = run_watcher(root, "process", env=at_wrong, check=False)
        assert proc.returncode == 1 and "不是此目录的账本" in proc.stderr and recorded["ledger"][:8] in proc.stderr
        assert (root / "workbooks/GZ001/二.xlsx").exists() and not (root / "outbox/GZ001/二_结果.json").exists()
        assert _record(root) == recorded
        assert "连上的不是此目录的账本" in run_watcher(root, "status", env=at_wrong).stdout
        proc = run_watcher(root, "check", env=at_wrong, check=False)  # (it said 一致 of the other ledger)
        assert proc.returncode == 1 and "不是此目录的账本" in proc.stderr, proc.stdout + proc.stderr
        # recover there (the refusal's way to take a ledger on purpose) asks for --new-ledger: that ledger has
        # no business the archive lacks, so the check against the archive alone would take it.
        proc = run_watcher(root, "recover", env=at_wrong, check=False)
        assert proc.returncode == 1 and "--new-ledger" in proc.stderr and "不是此目录的账本" in proc.stderr
        assert _record(root) == recorded

        # The right address: the desk goes on with the next number.
        second = _issue(root, "二", "T2", start=1)
        assert second > first

        # Rebuilt in a new database on purpose: the old one is no longer the root's ledger.
        at_other = {"WATCHER_LEDGER_URL": other}
        assert run_watcher(root, "recover", env=at_other, check=False).returncode == 1
        done = run_watcher(root, "recover", "--new-ledger", env=at_other, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert _record(root)["ledger"] != recorded["ledger"]
        assert _record(root)["where"].startswith("pg:") and _record(root)["where"] != recorded["where"]
        assert _issue(root, "三", "T3", env=at_other, start=2) > second
        write_request(root / "workbooks/GZ001/四.xlsx", issue_fields(旅行团号="T4"), people(4)[3:])
        proc = run_watcher(root, "process", check=False)  # a host still on the old database
        assert proc.returncode == 1 and "不是此目录的账本" in proc.stderr, proc.stderr


def test_another_desks_sqlite_ledger_copied_in_is_refused(tmp_path, ledger_backend):
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite ledger's file (the PostgreSQL case is above)")
    root, other = _two_desks(tmp_path)
    _issue(root, "一", "T1")
    for name in ("一", "二"):  # the other desk handed out more numbers: the mark does not stop it
        _issue(other, name, name)
    shutil.copy(other / "ledger.sqlite3", root / "ledger.sqlite3")
    for extra in ("-wal", "-shm"):
        Path(str(root / "ledger.sqlite3") + extra).unlink(missing_ok=True)
    write_request(root / "workbooks/GZ001/二.xlsx", issue_fields(旅行团号="T2"), people(2)[1:])
    proc = run_watcher(root, "process", check=False)
    # (the address is the recorded one: the file there was replaced, and no address is blamed; attack R)
    assert proc.returncode == 1 and "已被换成另一个账本" in proc.stderr and "指错了" not in proc.stderr, proc.stderr
    assert not (root / "outbox/GZ001/二_结果.json").exists()
    assert "连上的不是此目录的账本" in run_watcher(root, "status").stdout
    # recover checks a ledger found there against the archive: another desk's business is refused.
    recorded = _record(root)
    proc = run_watcher(root, "recover", check=False)  # (taken on purpose only with --new-ledger)
    assert proc.returncode == 1 and "--new-ledger" in proc.stderr, proc.stderr
    proc = run_watcher(root, "recover", "--new-ledger", check=False)  # then checked against the archive
    assert proc.returncode == 1 and "不是这台机器账本的备份" in proc.stderr, proc.stderr
    assert _record(root) == recorded  # the root still works with its own ledger, once it is put back


def test_a_root_moved_elsewhere_that_lost_its_ledger_is_rebuilt_by_recover(root, ledger_backend):
    """A root copied to a new path (a new server) without its SQLite ledger: the ledger inside the root is in
    the same place, so `recover` rebuilds it (no --new-ledger), keeping its id; not a wrong address."""
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite ledger inside the root")
    first = _issue(root, "一", "T1")
    held = _record(root)["ledger"]
    moved = root.parent / "new-server" / "desk"
    shutil.copytree(root, moved.parent / "desk", symlinks=True)
    for extra in ("", "-wal", "-shm"):
        Path(str(moved / "ledger.sqlite3") + extra).unlink(missing_ok=True)
    proc = run_watcher(moved, "process", check=False)
    assert proc.returncode == 1 and "指错了" not in proc.stderr and "recover" in proc.stderr, proc.stderr
    done = run_watcher(moved, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _record(moved)["ledger"] == held
    assert _issue(moved, "二", "T2", start=1) > first


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
    # A record naming the file by its full path (as a first version wrote it): the same place (review O).
    if ledger_backend == "sqlite":
        record = _record(root)
        (root / "ledger.identity.json").write_text(
            json.dumps({**record, "where": str((root / "ledger.sqlite3").resolve())}), encoding="utf-8"
        )
        assert run_watcher(root, "check").returncode == 0
    # A root from before this release (no record): its first start records the ledger it works with.
    (root / "ledger.identity.json").unlink()
    assert _issue(root, "三", "T3", start=2) > second > first
    assert _record(root)["ledger"] == held
    # A record that cannot be read stops the start; it does not pass for none.
    (root / "ledger.identity.json").write_text("{", encoding="utf-8")
    write_request(root / "workbooks/GZ001/四.xlsx", issue_fields(旅行团号="T4"), people(4)[3:])
    proc = run_watcher(root, "process", check=False)
    assert proc.returncode == 1 and "无法读出此目录使用的是哪个账本" in proc.stderr, proc.stderr
    shown = run_watcher(root, "status", check=False)  # status still shows the desk, and says it
    assert shown.returncode == 0 and "无法读出此目录使用的是哪个账本" in shown.stdout, shown.stdout + shown.stderr
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


def test_a_copy_of_the_ledger_is_refused_while_the_original_is_there_and_a_moved_one_is_taken(root, ledger_backend):
    """Another copy of the same ledger (a backup restored beside it, the file a migration left, a dump
    restored under a new name) has the same id: two copies each issuing hand the same numbers to two groups
    (attack M). A start on one is refused while the recorded one is there; a file moved (nothing left where
    it was) is the same ledger moved."""
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite file copied and moved (the PostgreSQL copy: test_workers' migrate)")
    _issue(root, "一", "T1")
    ledger, copy = root / "ledger.sqlite3", root.parent / "copy.sqlite3"
    run_watcher(root, "check")  # (the WAL checkpointed at its close: the file whole)
    shutil.copy(ledger, copy)
    (root / "watcher.toml").write_text(f'settle_seconds = 0\nledger = "{copy}"\n', encoding="utf-8")
    write_request(root / "workbooks/GZ001/二.xlsx", issue_fields(旅行团号="T2"), people(2)[1:])
    proc = run_watcher(root, "process", check=False)
    assert proc.returncode == 1 and "另一份副本" in proc.stderr, proc.stderr
    assert "另一份副本" in run_watcher(root, "status").stdout
    assert not (root / "outbox/GZ001/二_结果.json").exists()
    for extra in ("", "-wal", "-shm", ".numbers.json"):  # moved: the original and its mark go with it
        source = Path(str(ledger) + extra)
        if source.exists():
            shutil.move(source, Path(str(copy) + extra))
    run_watcher(root, "process")
    assert result(root, "GZ001", "二_结果")[0]["status"] == "success"
    assert _record(root)["where"] == str(copy.resolve())


def test_a_postgresql_copy_under_another_name_is_refused(tmp_path, monkeypatch):
    """A ledger copied into another database or schema (pg_dump and restore, `migrate`) keeps its id: the
    URL's text cannot tell them apart, what the server says of itself can. Once the root works with the
    copy, a worker still on the first one is refused, and the other way round (attack M)."""
    with pg_schema() as first, pg_schema() as second:
        monkeypatch.setenv("WATCHER_LEDGER_URL", first)
        root = _desk(tmp_path / "desk")
        number = _issue(root, "一", "T1")
        was = _record(root)
        done = run_watcher(root, "migrate", "--to", second, check=False)  # (a copy into another schema)
        assert done.returncode == 0, done.stdout + done.stderr
        now = _record(root)
        assert now["ledger"] == was["ledger"] and now["where"] != was["where"]
        write_request(root / "workbooks/GZ001/二.xlsx", issue_fields(旅行团号="T2"), people(2)[1:])
        proc = run_watcher(root, "process", check=False)  # a host still on the first
        assert proc.returncode == 1 and "另一份副本" in proc.stderr, proc.stderr
        with pg_schema() as third:  # nor is the copy migrated again, to become the root's (review O)
            again = run_watcher(root, "migrate", "--to", third, check=False)
            assert again.returncode == 1 and "另一份副本" in again.stderr, again.stdout + again.stderr
        assert _record(root) == now
        assert _issue(root, "二", "T2", env={"WATCHER_LEDGER_URL": second}, start=1) > number


def test_a_start_refused_for_another_reason_records_no_ledger(tmp_path, ledger_backend):
    """A root without a record (its first start after the upgrade) started on a wrong ledger that the other
    checks refuse (behind the mark) had recorded it all the same: the right ledger was then refused as
    another's, the operator told to change the right address (attack M)."""
    if ledger_backend != "sqlite":
        pytest.skip("another desk's SQLite file copied in")
    root, other = _two_desks(tmp_path)
    _issue(root, "一", "T1")
    _issue(root, "二", "T2", start=1)
    (root / "ledger.identity.json").unlink()
    own = tmp_path / "own.sqlite3"
    shutil.copy(root / "ledger.sqlite3", own)
    shutil.copy(other / "ledger.sqlite3", root / "ledger.sqlite3")  # behind this root's mark
    for extra in ("-wal", "-shm"):
        Path(str(root / "ledger.sqlite3") + extra).unlink(missing_ok=True)
    proc = run_watcher(root, "process", check=False)
    assert proc.returncode == 1 and "落后" in proc.stderr, proc.stderr
    assert not (root / "ledger.identity.json").exists()
    shutil.copy(own, root / "ledger.sqlite3")
    _issue(root, "三", "T3", start=2)
    assert _record(root)["ledger"] == ledger_query(root, "SELECT value FROM desk")[0][0]


def test_recover_new_ledger_killed_midway_goes_on_when_run_again_and_sqlite_can_be_taken_back(tmp_path, monkeypatch):
    """A `recover --new-ledger` killed mid-way, run again as its message says (without the flag), was refused as
    another ledger (review O). And after a trial `migrate` to PostgreSQL that issued nothing, the SQLite file
    can be taken back with --new-ledger (it was refused for ever, review O)."""
    monkeypatch.delenv("WATCHER_LEDGER_URL", raising=False)  # (a SQLite desk, in either run of the suite)
    root = _desk(tmp_path / "desk")
    for n in range(3):
        _issue(root, f"团{n}", f"T{n}", start=n)
    moved = tmp_path / "elsewhere" / "ledger.sqlite3"
    moved.parent.mkdir()
    (root / "watcher.toml").write_text(f'settle_seconds = 0\nledger = "{moved}"\n', encoding="utf-8")
    killed = run_watcher(root, "recover", "--new-ledger", env={"WATCHER_CRASH_AT": "after_commit:1"}, check=False)
    assert killed.returncode == -9
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0 and "恢复完成" in done.stdout, done.stdout + done.stderr
    assert _record(root)["where"] == str(moved.resolve())
    with pg_schema() as url:
        done = run_watcher(root, "migrate", "--to", url, check=False)
        assert done.returncode == 0 and "recover --new-ledger" in done.stdout, done.stdout + done.stderr
        assert _record(root)["where"].startswith("pg:")
        refused = run_watcher(root, "process", env={"WATCHER_LEDGER_URL": ""}, check=False)
        assert refused.returncode == 1 and "迁移到 PostgreSQL" in refused.stderr, refused.stderr
        back = run_watcher(root, "recover", "--new-ledger", env={"WATCHER_LEDGER_URL": ""}, check=False)
        assert back.returncode == 0, back.stdout + back.stderr
        assert _record(root)["where"] == str(moved.resolve())
        assert _issue(root, "团3", "T3", env={"WATCHER_LEDGER_URL": ""}, start=3)


def test_a_postgresql_database_restored_in_place_is_brought_forward_by_plain_recover(tmp_path, monkeypatch):
    """dropdb, createdb and a restore under the same name: the same place (the database's oid changed; review
    O). A plain `recover`, as the manual says, brings it forward, keeping the ledger's id."""
    import psycopg
    from helpers import PG_BASE, need_postgresql

    need_postgresql()
    name = f"t_place_{os.getpid()}"
    url = PG_BASE.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(PG_BASE, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        monkeypatch.setenv("WATCHER_LEDGER_URL", url)
        root = _desk(tmp_path / "desk")
        first = _issue(root, "一", "T1")
        held = _record(root)["ledger"]
        with psycopg.connect(PG_BASE, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {name}")
        done = run_watcher(root, "recover", check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert _record(root)["ledger"] == held and _issue(root, "二", "T2", start=1) > first
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _web_refused(root: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`watcher web` on a free port, which must stop at once (a page that started would serve until killed)."""
    from helpers import free_port

    full = {**os.environ, "PYTHONUTF8": "1", **(env or {})}
    try:
        return subprocess.run(
            [sys.executable, "-m", "watcher", "web", "--root", str(root), "--port", str(free_port())],
            capture_output=True,
            text=True,
            env=full,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("watcher web started on a ledger that is not the root's") from None


def test_the_lookup_page_serves_only_the_roots_sqlite_ledger(tmp_path, ledger_backend, caplog):
    """`watcher web` pointed at another desk's ledger served that desk's policies: this desk's travellers,
    covered, were told 未查到. Refused at start; a page already running answers 维护 while another ledger
    lies under it, and the policy again once the desk's own is back."""
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite ledger's file (the PostgreSQL address is the test below)")
    from helpers import ask_app

    from watcher.settings import load_settings
    from watcher.web.app import VERIFY_SECONDS, LookupApp

    root, other = _two_desks(tmp_path)
    policy = _issue(root, "一", "T1")
    _issue(other, "一", "O1")
    traveller = str(people(1)[0][3])
    settings = (root / "watcher.toml").read_text("utf-8")
    (root / "watcher.toml").write_text(settings + f'ledger = "{other / "ledger.sqlite3"}"\n', encoding="utf-8")
    proc = _web_refused(root)
    assert proc.returncode == 1 and "不是此目录的账本" in proc.stderr, proc.stdout + proc.stderr
    (root / "watcher.toml").write_text(settings, encoding="utf-8")

    moment = [1_000_000.0]
    app = LookupApp(root, load_settings(root), clock=lambda: moment[0])
    status, page = ask_app(app, "/", policy, traveller)
    assert status == "200" and 'id="result"' in page
    ledger, kept = root / "ledger.sqlite3", tmp_path / "kept.sqlite3"
    shutil.copy(ledger, kept)
    ledger.write_bytes((other / "ledger.sqlite3").read_bytes())  # the wrong file copied in under the page
    for extra in ("-wal", "-shm"):
        Path(f"{ledger}{extra}").unlink(missing_ok=True)
    moment[0] += VERIFY_SECONDS + 1  # (the page looks again every few seconds)
    status, page = ask_app(app, "/", policy, traveller, client="10.70.0.2")
    assert status == "503" and "维护" in page and "未查到" not in page, page
    assert "查询页面：连上的不是此目录的账本" in caplog.text, caplog.text  # (said in Chinese, once)
    ledger.write_bytes(kept.read_bytes())  # the desk's own again
    for extra in ("-wal", "-shm"):
        Path(f"{ledger}{extra}").unlink(missing_ok=True)
    moment[0] += VERIFY_SECONDS + 1
    status, page = ask_app(app, "/", policy, traveller, client="10.70.0.3")
    assert status == "200" and 'id="result"' in page
    assert "已连上此目录的账本，恢复查询" in caplog.text


def test_the_lookup_page_refuses_another_postgresql_database(tmp_path, monkeypatch):
    with pg_schema() as right, pg_schema() as wrong:
        monkeypatch.setenv("WATCHER_LEDGER_URL", right)
        root = _desk(tmp_path / "desk")
        _issue(root, "一", "T1")
        proc = _web_refused(root, {"WATCHER_LEDGER_URL": wrong})  # (an empty database: 找不到账本, as before)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        run_watcher(tmp_path / "other", "init", "--demo", env={"WATCHER_LEDGER_URL": wrong})
        proc = _web_refused(root, {"WATCHER_LEDGER_URL": wrong})
        assert proc.returncode == 1 and "不是此目录的账本" in proc.stderr, proc.stdout + proc.stderr


def test_a_copy_of_the_whole_root_run_beside_it_is_refused_and_a_root_moved_works(tmp_path, ledger_backend):
    """`cp -a` of the whole desk, run beside the original: the ledger inside the root is recorded from the
    root, so the copy passed every check and both handed out the same policy numbers to two groups (attack
    R). The copy is refused while the original still holds the ledger; once the original is moved away the
    copy is the desk (a root moved), and its record names its own file from then on."""
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite ledger inside the root (a PostgreSQL one is recorded by the server's name)")
    root = _desk(tmp_path / "desk")
    first = _issue(root, "一", "T1")
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, symlinks=True)
    write_request(copy / "workbooks/GZ001/二.xlsx", issue_fields(旅行团号="T2"), people(2)[1:])
    proc = run_watcher(copy, "process", check=False)
    assert proc.returncode == 1 and "一份副本" in proc.stderr and str(root) in proc.stderr, proc.stderr
    assert "指错了" not in proc.stderr and not (copy / "outbox/GZ001/二_结果.json").exists()
    assert "一份副本" in run_watcher(copy, "status").stdout
    assert run_watcher(copy, "check").returncode == 0  # (a backup unpacked beside the desk, only read: attack S)
    second = _issue(root, "三", "T3", start=2)  # the original goes on
    assert second > first

    root.rename(tmp_path / "old")  # the original moved away: the copy is the desk now
    run_watcher(copy, "process")
    assert result(copy, "GZ001", "二_结果")[0]["status"] == "success"
    assert _record(copy)["shown"] == str(copy / "ledger.sqlite3")
    assert _record(copy)["at"] == _record(tmp_path / "old")["at"]  # (记于: when the ledger was recorded)


def test_recover_new_ledger_refuses_an_unreadable_record_before_it_replays_anything(root, ledger_backend):
    """With ledger.identity.json damaged, `recover --new-ledger` replayed the whole archive and failed only at
    the end, leaving a recovery marked unfinished: every start refused until another recover, even after the
    record was restored as advised (attack R)."""
    _issue(root, "一", "T1")
    record = root / "ledger.identity.json"
    good = record.read_bytes()
    record.write_text("garbage", encoding="utf-8")
    proc = run_watcher(root, "recover", "--new-ledger", check=False)
    assert proc.returncode == 1 and "无法读出此目录使用的是哪个账本" in proc.stderr, proc.stdout + proc.stderr
    assert not (root / ".watcher-recover").exists()
    record.write_bytes(good)
    _issue(root, "二", "T2", start=1)


def test_the_lookup_page_refuses_a_folder_that_holds_only_a_copy_of_a_ledger(root, tmp_path, ledger_backend):
    """`watcher web --root` at a folder holding only a ledger copied there served it as current: a policy
    cancelled since said 有效, and /healthz said ok (attack P)."""
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite ledger's file")
    _issue(root, "一", "T1")
    elsewhere = tmp_path / "loose"
    elsewhere.mkdir()
    shutil.copy(root / "ledger.sqlite3", elsewhere / "ledger.sqlite3")
    proc = _web_refused(elsewhere)
    assert proc.returncode == 1 and "不像 watcher 的根目录" in proc.stderr, proc.stdout + proc.stderr
