"""Helpers for tests through the real thing: a root made by `watcher init`, workbooks written with
openpyxl, `watcher` run as a subprocess, results and the ledger read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

SHANGHAI = timezone(timedelta(hours=8))
ROSTER_HEAD = ["序号", "姓名", "证件类型", "证件号码", "性别", "出生日期", "联系电话", "备注"]

# Valid numbers (GB 11643-1999 check characters) used across the tests.
ID_F_1949 = "110105194912310046"  # female, 1949-12-31 (the standard's own example, …002X, is the template's sample)
SAMPLE_ID = "11010519491231002X"
ID_M_1980 = "440524198001010013"
ID_M_1990 = "110101199003070011"
ID_F_2000 = "310101200001010026"


def run_watcher(root: Path, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONUTF8": "1"}
    full_env.pop("WATCHER_ROOT", None)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "watcher", *args, "--root", str(root)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"watcher {args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def pytest_addoption(parser):
    parser.addoption(
        "--ledger",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("WATCHER_TEST_LEDGER", "sqlite"),
        help="run the suite with the ledger on SQLite (default) or PostgreSQL ($WATCHER_TEST_PG)",
    )


PG_BASE = os.environ.get("WATCHER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def ledger_backend(request, monkeypatch):
    """With --ledger=postgresql every test gets a schema of its own, named in WATCHER_LEDGER_URL, which
    every `watcher` the test starts inherits."""
    if request.config.getoption("--ledger") != "postgresql":
        monkeypatch.delenv("WATCHER_LEDGER_URL", raising=False)
        yield "sqlite"
        return
    import uuid

    import psycopg

    schema = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_BASE else "?"
    monkeypatch.setenv("WATCHER_LEDGER_URL", f"{PG_BASE}{sep}options=-csearch_path%3D{schema}")
    try:
        yield "postgresql"
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A desk made by `watcher init --demo`: agency GZ001 with plans GN-A (境内) and GW-B (境外)."""
    path = tmp_path / "desk"
    run_watcher(path, "init", "--demo")
    # A file is taken at once only when older than the settle time; tests write and process at once.
    (path / "watcher.toml").write_text("settle_seconds = 0\ntext_settle_seconds = 0\n", encoding="utf-8")
    return path


def future(days: int = 10, hour: int = 8) -> datetime:
    """A whole hour some days ahead, desk time."""
    now = datetime.now(SHANGHAI)
    return (now + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0, tzinfo=None)


def write_request(
    path: Path,
    fields: dict[str, object],
    roster: list[list[object]] | None = None,
    head: list[str] | None = None,
    *,
    roster_sheet: str = "被保险人名单",
    header_row: int = 1,
) -> Path:
    """A request workbook as a clerk would save it: 申请 label/value rows, roster with text ID cells."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "申请"
    for i, (label, value) in enumerate(fields.items(), start=1):
        ws.cell(i, 1, label)
        cell = ws.cell(i, 2, value)
        if isinstance(value, str) and value.startswith("="):
            cell.data_type = "s"  # text that merely starts with "=" (openpyxl would store a formula)
    if roster is not None:
        rs = wb.create_sheet(roster_sheet)
        head = head or ROSTER_HEAD
        for c, name in enumerate(head, start=1):
            rs.cell(header_row, c, name)
        for r, row in enumerate(roster, start=header_row + 1):
            for c, value in enumerate(row, start=1):
                if value is None:
                    continue
                cell = rs.cell(r, c, value)
                if isinstance(value, str):
                    cell.number_format = "@"
                    if value.startswith("="):
                        cell.data_type = "s"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def issue_fields(**overrides) -> dict[str, object]:
    fields = {
        "操作类型": "投保",
        "旅行团号": "GZ-T001",
        "区域": "境内",
        "方案代码": "GN-A",
        "生效时间": future().strftime("%Y-%m-%d %H:%M"),
        "天数": 3,
        "行程路线": "广州—桂林—阳朔",
        "经办人": "李经办",
        "营销员工号": "S001",
        "营销员姓名": "赵营销",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def people(n: int) -> list[list[object]]:
    """n distinct valid residents (1980s births, both genders)."""
    from watcher.domain.idcard import mod11_2_check

    rows = []
    for i in range(n):
        body = f"440106{1980 + i % 20}{(i % 12) + 1:02d}{(i % 28) + 1:02d}{(i % 1000):03d}"
        name = "赵钱孙李周吴郑王冯陈"[i % 10] + "一二三四五六七八九十"[i // 10 % 10] + "甲乙丙丁"[i // 100 % 4]
        rows.append([i + 1, name, "身份证", body + mod11_2_check(body), None, None, None, None])
    return rows


def result(root: Path, agency: str, stem: str) -> tuple[dict, openpyxl.Workbook]:
    out = root / "outbox" / agency
    data = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
    return data, openpyxl.load_workbook(out / f"{stem}.xlsx")


def ledger_db(root: Path):
    """The test's ledger, whichever database it is on (the same connection interface the ledger uses)."""
    from watcher.ledger.db import open_database

    return open_database(os.environ.get("WATCHER_LEDGER_URL") or root / "ledger.sqlite3")


def ledger_query(root: Path, sql: str, args: tuple = ()) -> list[tuple]:
    """Rows of one query (`?` parameters) on the test's ledger; a change is committed."""
    db = ledger_db(root)
    try:
        cursor = db.execute(sql, args)
        try:
            return [tuple(r) for r in cursor.fetchall()]
        except Exception:  # a statement that returns no rows
            return []
    finally:
        db.close()


def ledger_rows(root: Path) -> dict[str, list[tuple]]:
    """Every row of every table: compare before and after to prove a refusal changed nothing."""
    db = ledger_db(root)
    try:
        if db.kind == "sqlite":
            tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        else:
            tables = [
                t
                for (t,) in db.execute(
                    "SELECT table_name FROM information_schema.tables WHERE"
                    " table_schema = current_schema() ORDER BY table_name"
                )
            ]
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    finally:
        db.close()


def summary_values(wb: openpyxl.Workbook) -> dict[str, object]:
    ws = wb["结果汇总"]
    values = {}
    for row in ws.iter_rows(min_row=1, max_row=40, max_col=2, values_only=True):
        if row[0] and row[0] not in values:
            values[row[0]] = row[1]
    return values
