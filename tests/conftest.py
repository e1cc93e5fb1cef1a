"""Fixtures, options and hooks only; the helpers the tests share are plain functions in helpers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import issue_fields, people, pg_schema, result, run_watcher, write_request


def pytest_addoption(parser):
    parser.addoption(
        "--ledger",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("WATCHER_TEST_LEDGER", "sqlite"),
        help="run the suite with the ledger on SQLite (default) or PostgreSQL ($WATCHER_TEST_PG)",
    )


@pytest.fixture
def pg_url(monkeypatch) -> str:
    """WATCHER_LEDGER_URL naming a PostgreSQL schema of the test's own, which every `watcher` the test
    starts inherits (with --ledger=postgresql, the one the run gave the test). Skipped where no
    PostgreSQL answers (a failure under CI=true)."""
    with pg_schema() as url:
        monkeypatch.setenv("WATCHER_LEDGER_URL", url)
        yield url


@pytest.fixture(autouse=True)
def ledger_backend(request, monkeypatch) -> str:
    """The ledger of the run: with --ledger=postgresql every test gets a schema of its own (pg_url)."""
    if request.config.getoption("--ledger") != "postgresql":
        monkeypatch.delenv("WATCHER_LEDGER_URL", raising=False)
        return "sqlite"
    request.getfixturevalue("pg_url")
    return "postgresql"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A desk made by `watcher init --demo`: agency GZ001 with plans GN-A (境内) and GW-B (境外)."""
    path = tmp_path / "desk"
    run_watcher(path, "init", "--demo")
    # A file is taken at once only when older than the settle time; tests write and process at once.
    (path / "watcher.toml").write_text("settle_seconds = 0\ntext_settle_seconds = 0\n", encoding="utf-8")
    return path


@pytest.fixture
def desk(root: Path) -> dict:
    """A desk with a live policy (3 people), a cancelled one, a policy replaced by 换人, and settings for
    fast lock-out tests of the lookup page."""
    roster = people(3)
    write_request(root / "workbooks/GZ001/团A.xlsx", issue_fields(), roster)
    write_request(root / "workbooks/GZ001/团B.xlsx", issue_fields(旅行团号="GZ-T002"), people(5)[3:])
    run_watcher(root, "process")
    live = result(root, "GZ001", "团A_结果")[0]["policies"][0]
    other = result(root, "GZ001", "团B_结果")[0]["policies"][0]
    write_request(root / "workbooks/GZ001/撤B.xlsx", {"操作类型": "撤单", "保单号": other["policy_no"]})
    # A group whose policy was replaced by 换人: one traveller kept, one left out, one new.
    group = people(10)
    write_request(root / "workbooks/GZ001/团R.xlsx", issue_fields(旅行团号="GZ-T009"), group[6:8])
    run_watcher(root, "process")
    replaced = result(root, "GZ001", "团R_结果")[0]["policies"][0]["policy_no"]
    write_request(root / "workbooks/GZ001/换人R.xlsx", {"操作类型": "换人", "保单号": replaced}, [group[7], group[9]])
    run_watcher(root, "process")
    replacement = result(root, "GZ001", "换人R_结果")[0]["policies"][0]["policy_no"]
    (root / "watcher.toml").write_text(
        'settle_seconds = 0\nweb_trusted_proxies = ["127.0.0.1"]\nlookup_slow_after = 2\nlookup_lock_after = 4\n',
        encoding="utf-8",
    )
    return {
        "root": root,
        "live": live["policy_no"],
        "cancelled": other["policy_no"],
        "id": roster[0][3],
        "other_id": people(5)[3][3],
        "replaced": replaced,
        "replacement": replacement,
        "kept_id": group[7][3],
        "removed_id": group[6][3],
    }
