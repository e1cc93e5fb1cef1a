"""Plain helpers the tests share (fixtures live in conftest.py, which imports from here): a desk driven
through the real thing, with workbooks written by openpyxl as a clerk would save them, `watcher` run
as a subprocess, results and the ledger read back; and `need`, the one way a test says what it cannot
run without."""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from watcher.domain.dates import cover_end
from watcher.domain.policy import Insured, Policy

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


PG_BASE = os.environ.get("WATCHER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


# --- what a test cannot run without ---


def need(available: object, what: str) -> None:
    """A test that cannot run without `what` (PostgreSQL, Chromium, LibreOffice …) and does not find it
    is skipped here, saying so; under CI (CI=true, which CI sets) it fails instead, since CI installs
    everything and a skip there would hide a test that never ran. Only for prerequisites: a test that
    does not apply by design (a SQLite-only fault on PostgreSQL) calls pytest.skip itself."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is not available, and CI=true: CI must run this test", pytrace=False)
    pytest.skip(f"{what} is not available here (CI installs it; under CI=true this fails)")


@functools.cache
def postgresql_answers() -> bool:
    """Whether the PostgreSQL of the tests ($WATCHER_TEST_PG) takes a connection (asked once a run)."""
    try:
        import psycopg

        with psycopg.connect(PG_BASE, connect_timeout=5):
            return True
    except Exception:
        return False


def need_postgresql() -> None:
    need(postgresql_answers(), f"PostgreSQL at {PG_BASE}")


@contextmanager
def pg_schema(prefix: str = "t_") -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped after: yields the ledger URL that names it. The one place a
    test's schema is made (conftest's pg_url fixture uses it)."""
    import psycopg

    need_postgresql()
    schema = prefix + uuid.uuid4().hex[:16]
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_BASE else "?"
    try:
        yield f"{PG_BASE}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def chromium() -> tuple[str, str] | None:
    """Chromium's binary and its driver, where both are installed."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None
    )
    return (binary, driver) if binary and driver else None


def soffice() -> str | None:
    """LibreOffice's command line, where it is installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


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
        # (None ending in 000: one Excel cut to 15 digits is warned of, id.trailing_zeros.)
        for region in ("440106", "440105", "440104"):
            body = f"{region}{1980 + i % 20}{(i % 12) + 1:02d}{(i % 28) + 1:02d}{(i % 999) + 1:03d}"
            if not (body + mod11_2_check(body)).endswith("000"):
                break
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
        if db.backend == "sqlite":
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


# --- the service (`watcher serve`) ---


def start_serve(root: Path, env: dict | None = None) -> subprocess.Popen:
    full_env = {**os.environ, "PYTHONUTF8": "1", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "watcher", "serve", "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
    )


@contextmanager
def serving(root: Path, env: dict | None = None):
    proc = start_serve(root, env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def results(root: Path, agency: str = "GZ001") -> list[dict]:
    out = root / "outbox" / agency
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(out.glob("*_结果*.json"))] if out.is_dir() else []


def request_bytes(i: int, valid: bool = True, size: int = 2) -> bytes:
    """A request workbook's bytes: people distinct across requests, some requests invalid on purpose."""
    buf = io.BytesIO()
    path = Path(f"/tmp/unused-{os.getpid()}.xlsx")
    roster = people(size + i * size)[i * size :]
    if not valid:
        roster[0][3] = "110105194912310021"  # wrong check digit
    write_request(path, issue_fields(旅行团号=f"T{i:03d}"), roster)
    buf.write(path.read_bytes())
    path.unlink()
    return buf.getvalue()


def drop_all(root: Path, files: dict[str, bytes], agency: str = "GZ001") -> None:
    """Write elsewhere, then rename in: a burst of complete files."""
    staging = root / "staging"
    staging.mkdir(exist_ok=True)
    for name, data in files.items():
        (staging / name).write_bytes(data)
    for name in files:
        os.rename(staging / name, root / "workbooks" / agency / name)


def assert_exactly_once(root: Path, files: dict[str, bytes], valid: set[str]) -> None:
    found = results(root)
    per_file = Counter(r["file"] for r in found)
    assert per_file == Counter({name: 1 for name in files}), per_file
    assert all(r["status"] != "duplicate" for r in found)
    statuses = {r["file"]: r["status"] for r in found}
    assert {n for n, s in statuses.items() if s == "success"} == valid
    rows = ledger_rows(root)
    issued = [r for r in rows["policies"]]
    assert len(issued) == len(valid) == len({p["policy_no"] for r in found for p in r["policies"]})
    assert len(rows["requests"]) == len(valid)
    # Every original archived once, nothing left in hand, no temporary files anywhere.
    archived = [p.name for p in (root / "archive" / "GZ001").rglob("*") if p.is_file()]
    assert sorted(n.split("_", 2)[2] for n in archived) == sorted(files)
    assert not [p for p in (root / "workbooks" / "GZ001").rglob("*") if p.is_file()]
    assert not list(root.rglob("*.watcher-tmp"))


# --- admin workbooks ---


def add_table(wb, name, head, rows):
    ws = wb.create_sheet(name)
    ws.append(head)
    for row in rows:
        ws.append(row)
    return ws


def plan_workbook(
    path: Path,
    code: str = "GN-A",
    name: str = "境内旅游意外险A款",
    region: str = "境内",
    max_age: int = 80,
    max_days: int = 30,
    bands=((1, 3, 5), (4, 30, 9)),
    factors=((66, 80, 1.5),),
    covers=(("意外身故、残疾", 300000),),
) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "申请"
    ws.append(["操作类型", "方案"])
    add_table(
        wb,
        "方案",
        ["序号", "方案代码", "方案名称", "区域", "最低年龄", "最高年龄", "最长天数"],
        [["示例", "GN-A", "境内旅游意外险A款", "境内", 0, 80, 30], [1, code, name, region, 0, max_age, max_days]],
    )
    add_table(
        wb,
        "费率",
        ["序号", "方案代码", "天数下限", "天数上限", "每人保费"],
        [[i, code, lo, hi, price] for i, (lo, hi, price) in enumerate(bands, 1)],
    )
    add_table(
        wb,
        "年龄系数",
        ["序号", "方案代码", "年龄下限", "年龄上限", "系数"],
        [[i, code, lo, hi, f] for i, (lo, hi, f) in enumerate(factors, 1)],
    )
    add_table(
        wb,
        "保障",
        ["序号", "方案代码", "保障项目", "保额"],
        [[i, code, item, s] for i, (item, s) in enumerate(covers, 1)],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def agency_workbook(path: Path, rows) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "申请"
    ws.append(["操作类型", "机构"])
    add_table(wb, "机构", ["序号", "机构代码", "机构名称", "营业执照号", "协议编号", "可用方案", "状态"], rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


# --- month-end under an injected clock ---

ISSUED = "2026-11-10T10:00:00+08:00"


def fake(moment: str) -> dict:
    return {"WATCHER_FAKE_NOW": moment}


def issue(
    root: Path,
    name: str,
    start: str,
    *,
    plan: str = "GN-A",
    n: int = 2,
    at: str = ISSUED,
    agency: str = "GZ001",
    group: str | None = None,
) -> dict:
    region = "境内" if plan == "GN-A" else "境外"
    write_request(
        root / "workbooks" / agency / f"{name}.xlsx",
        issue_fields(生效时间=start, 方案代码=plan, 区域=region, 旅行团号=group or name),
        people(n),
    )
    run_watcher(root, "process", env=fake(at))
    data, _ = result(root, agency, f"{name}_结果")
    assert data["status"] == "success", data["errors"]
    return data["policies"][0]


def month_end(root: Path, month: str, now: str, check: bool = True):
    return run_watcher(root, "month-end", "--month", month, env=fake(now), check=check)


def admin(
    root: Path,
    name: str,
    sheet: str | None,
    head: list[str] | None,
    rows: list[list],
    *,
    now: str,
    fields: dict | None = None,
    action: str | None = None,
) -> tuple[dict, openpyxl.Workbook]:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "申请"
    ws.append(["操作类型", action or name])
    for label, value in (fields or {}).items():
        ws.append([label, value])
    if sheet:
        table = wb.create_sheet(sheet)
        table.append(head)
        for row in rows:
            table.append(row)
    path = root / "workbooks" / "_admin" / f"{name}.xlsx"
    wb.save(path)
    run_watcher(root, "process", env=fake(now))
    stem = f"{name}_结果"
    n = 2
    while (root / "outbox" / "_admin" / f"{stem}_{n}.json").exists():
        stem, n = f"{name}_结果_{n}", n + 1
    return result(root, "_admin", stem)


def statements(root: Path) -> list[tuple]:
    return ledger_query(
        root,
        "SELECT statement_no, agency, plan_code, month, total_fen, policy_count, status"
        " FROM statements ORDER BY statement_no",
    )


# --- the lookup page ---


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(base: str, client: str | None = None, **fields) -> tuple[int, dict, str, float]:
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(base + "/", data=data, method="POST")
    if client:
        request.add_header("X-Forwarded-For", client)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body, status, headers = response.read().decode(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        body, status, headers = error.read().decode(), error.code, dict(error.headers)
    return status, headers, body, time.perf_counter() - started


# --- processes ---


def child_processes(pid: int) -> dict[int, str]:
    """Processes whose parent is `pid`, each with its start time (a reused pid is another process)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = proc_stat(int(entry.name))
            if fields and int(fields[1]) == pid:
                found[int(entry.name)] = fields[19]
    return found


def proc_stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from the state on (the command name may hold spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def alive(pid: int, started: str) -> bool:
    fields = proc_stat(pid)
    return bool(fields) and fields[0] not in ("Z", "X") and fields[19] == started


# --- the ledger in-process ---

ZONE = ZoneInfo("Asia/Shanghai")
LEDGER_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # the clock of ledgers built in-process


def ledger_policy(plan_version: int) -> Policy:
    """One GN-A policy (one person, 7.50) for a ledger built in-process."""
    start = datetime(2026, 12, 1, 8, tzinfo=ZONE)
    person = Insured("张三", "身份证", "11010519491231002X", "女", datetime(1949, 12, 31).date(), 76, 750)
    return Policy(
        "",
        "GZ001",
        "T1",
        "境内",
        "GN-A",
        "境内旅游意外险A款",
        plan_version,
        start,
        3,
        cover_end(start, 3, ZONE),
        "",
        "",
        "",
        "",
        750,
        (person,),
        LEDGER_NOW,
    )


# The business detail sheet's columns (业务明细), as the manual names them.
DETAIL_COLUMNS = [
    "保单号",
    "旅行团号",
    "产品",
    "区域",
    "投保时间",
    "生效时间",
    "终止时间",
    "人数",
    "天数",
    "保费",
    "保单状态",
    "结算状态",
    "经办人",
    "营销员",
    "对账单号",
]


def ask_app(app, path: str, policy_no: str, id_no: str = "", client: str = "10.60.0.1") -> tuple[str, str]:
    """One request to a LookupApp in this process (no server): GET `path`, or POST a 身份证 lookup of
    `policy_no` and `id_no` from `client`; its status code and page."""
    import io
    import urllib.parse

    body = urllib.parse.urlencode({"id_type": "身份证", "policy_no": policy_no, "id_no": id_no}).encode()
    environ = {"REQUEST_METHOD": "POST" if id_no else "GET", "PATH_INFO": path, "REMOTE_ADDR": client}
    environ |= {"CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body))}
    environ["wsgi.input"] = io.BytesIO(body)
    said: list[str] = []
    page = b"".join(app(environ, lambda status, headers: said.append(status)))
    return said[0][:3], page.decode("utf-8")


@contextmanager
def unusable(folder: Path):
    """The folder cannot take a file: a full tmpfs mounted on it where this machine allows, else a regular
    file where the folder was. Yields the kind, and gives the folder back (empty of the filler) after."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True).returncode
        == 0
    )
    try:
        if mounted:
            with open(folder / "filler", "wb") as handle:
                try:
                    handle.write(b"\0" * (1 << 20))
                except OSError:
                    pass
            yield "full"
        else:
            shutil.rmtree(folder)
            folder.write_text("not a folder")
            yield "file"
    finally:
        if mounted:
            (folder / "filler").unlink(missing_ok=True)
            keep = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
            subprocess.run(["umount", "-l", str(folder)], check=False)
            for name, data in keep.items():  # what got written meanwhile, kept on the real disk
                (folder / name).write_bytes(data)
        elif folder.is_file():
            folder.unlink()
            folder.mkdir()
