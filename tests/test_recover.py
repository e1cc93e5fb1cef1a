"""`watcher recover` through the real thing: a day of mixed business on a root (issues, an endorsement, a
cancellation, a failed file, a deposit, a month-end, the statement confirmed, paid and invoiced), a backup
taken in the middle (SQLite's online backup; `pg_dump` of the test's schema), the ledger replaced by the
backup or lost outright, `recover`, and the rebuilt ledger compared with the original table by table."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest
from helpers import (
    PG_BASE,
    admin,
    fake,
    issue,
    issue_fields,
    ledger_query,
    ledger_rows,
    month_end,
    people,
    post,
    result,
    run_watcher,
    statements,
    write_request,
)

from watcher import events

# Bookkeeping of the processes that ran, not business: which migrations ran when, which workers lived,
# result names held while a file was in hand, one-off chores done at a start.
NOT_BUSINESS = {"schema_migrations", "workers", "result_names", "chores", "desk"}


def business(root: Path) -> dict[str, list[tuple]]:
    return {t: rows for t, rows in ledger_rows(root).items() if t not in NOT_BUSINESS}


def outbox(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in (root / "outbox").rglob("*") if p.is_file()}


def _members(xlsx: bytes) -> dict[str, bytes]:
    """A workbook's parts but docProps/core.xml (when it was written)."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def _schema() -> str:
    url = os.environ["WATCHER_LEDGER_URL"]
    return unquote(url.rsplit("search_path", 1)[1]).lstrip("=")


def backup(root: Path, backend: str) -> Path:
    target = root.parent / ("backup.sqlite3" if backend == "sqlite" else "backup.sql")
    if backend == "sqlite":
        source, copy = sqlite3.connect(root / "ledger.sqlite3"), sqlite3.connect(target)
        source.backup(copy)  # what `sqlite3 ledger.sqlite3 ".backup …"` does, while the service runs
        copy.close()
        source.close()
    else:
        subprocess.run(["pg_dump", "--dbname", PG_BASE, "-n", _schema(), "-f", str(target)], check=True)
    return target


def _drop_pg_schema(create: bool) -> None:
    import psycopg

    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {_schema()} CASCADE")
        if create:
            conn.execute(f"CREATE SCHEMA {_schema()}")


def restore(root: Path, backend: str, saved: Path | None) -> None:
    """The ledger as the backup has it (`saved`), or lost outright (None): a new, empty one."""
    if backend == "sqlite":
        ledger = root / "ledger.sqlite3"
        for extra in ("", "-wal", "-shm"):
            Path(str(ledger) + extra).unlink(missing_ok=True)
        if saved is not None:
            shutil.copy(saved, ledger)
    else:
        _drop_pg_schema(create=saved is None)
        if saved is not None:
            subprocess.run(["psql", "--dbname", PG_BASE, "-q", "-f", str(saved)], check=True, capture_output=True)


def a_day(root: Path, backend: str) -> Path:
    """The business of a day or two, a backup taken in the middle: returns the backup."""
    a = issue(root, "团A", "2026-11-20 08:00", n=3, at="2026-11-10T10:00:00+08:00")
    issue(root, "团B", "2026-11-21 08:00", n=2, at="2026-11-10T10:00:00+08:00")  # the same moment as 团A
    c = issue(root, "团C", "2026-11-22 08:00", n=2, at="2026-11-10T11:00:00+08:00")
    head = ["序号", "机构代码", "类型", "金额", "收据号", "日期"]
    data, _ = admin(
        root,
        "押金",
        "预交保费",
        head,
        [[1, "GZ001", "收取", 5000, "SJ001", "2026-11-10"]],
        now="2026-11-10T12:00:00+08:00",
    )
    assert data["status"] == "success", data["errors"]
    saved = backup(root, backend)
    # After the backup: an endorsement, a cancellation, a failure, a quote, a month-end and its money.
    write_request(root / "workbooks/GZ001/换人A.xlsx", {"操作类型": "换人", "保单号": a["policy_no"]}, people(4)[1:])
    write_request(root / "workbooks/GZ001/撤C.xlsx", {"操作类型": "撤单", "保单号": c["policy_no"]})
    write_request(root / "workbooks/GZ001/坏.xlsx", issue_fields(生效时间="2026-11-01 08:00"), people(1))
    write_request(root / "workbooks/GZ001/试算.xlsx", issue_fields(操作类型="试算"), people(2))
    run_watcher(root, "process", env=fake("2026-11-12T09:00:00+08:00"))
    assert result(root, "GZ001", "换人A_结果")[0]["status"] == "success"
    assert result(root, "GZ001", "坏_结果")[0]["status"] == "failed"
    issue(root, "团D", "2026-11-25 08:00", n=2, at="2026-11-12T09:30:00+08:00")
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    number, total = statements(root)[0][0], statements(root)[0][4]
    steps = [
        (
            "确认",
            "对账确认",
            ["序号", "对账单号", "业务渠道", "确认人"],
            [1, number, "团险直销", "张运营"],
            "2026-12-02",
        ),
        (
            "收费",
            "收费",
            ["序号", "对账单号", "金额", "缴费凭证号", "到账日期"],
            [1, number, total / 100, "PZ1", "2026-12-03"],
            "2026-12-04",
        ),
        (
            "发票",
            "发票",
            ["序号", "对账单号", "发票号", "开票日期"],
            [1, number, "44001234", "2026-12-05"],
            "2026-12-05",
        ),
    ]
    for name, sheet, columns, row, day in steps:
        action = {"确认": "对账确认", "收费": "收费登记", "发票": "发票登记"}[name]
        data, _ = admin(root, name, sheet, columns, [row], action=action, now=f"{day}T10:00:00+08:00")
        assert data["status"] == "success", data["errors"]
    assert statements(root)[0][6] == "已开票"
    return saved


@pytest.mark.parametrize("lost", [False, True], ids=["from-backup", "from-empty"])
def test_recover_rebuilds_the_ledger_from_the_archive_and_rewrites_no_output(root, ledger_backend, lost):
    saved = a_day(root, ledger_backend)
    original, printed = business(root), outbox(root)
    kinds = [e.kind for e in events.read(root / "archive")]
    assert kinds[0] == "init" and "month-end" in kinds and kinds.count("file") >= 12

    restore(root, ledger_backend, None if lost else saved)
    refused = run_watcher(root, "process", check=False)
    assert refused.returncode == 1, "a ledger behind the mark is refused"
    assert "watcher recover" in refused.stderr

    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "恢复完成" in done.stdout
    # Its per-agency line counts as month-end's summary does, cancelled policies apart (it said 5 张 with
    # their premium in the total, where the summary said 3).
    [(live, fen)] = ledger_query(root, "SELECT COUNT(*), SUM(premium_fen) FROM policies WHERE status = '有效'")
    assert live == 3 and f"GZ001：3 张，{fen / 100:,.2f} 元（另有已撤单 2 张）" in done.stdout, done.stdout
    assert business(root) == original, "the rebuilt ledger equals the original, table by table"
    assert outbox(root) == printed, "no output written again, none rewritten"
    assert run_watcher(root, "check", check=False).returncode == 0
    assert not (root / ".watcher-recover").exists()

    # On an up-to-date ledger it changes nothing; and the desk starts again.
    again = run_watcher(root, "recover", check=False)
    assert again.returncode == 0 and business(root) == original and outbox(root) == printed
    issue(root, "团E", "2026-12-20 08:00", n=1, at="2026-12-06T10:00:00+08:00")


def test_missing_outputs_are_written_and_a_forged_twin_is_reported_not_rewritten(root, ledger_backend):
    saved = a_day(root, ledger_backend)
    original = business(root)
    lost_page = root / "outbox/GZ001/换人A_结果.xlsx"
    lost_page.unlink()
    forged = root / "outbox/GZ001/团D_结果.json"
    data = json.loads(forged.read_text("utf-8"))
    data["status"] = "failed"
    forged.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    restore(root, ledger_backend, saved)

    stopped = run_watcher(root, "recover", check=False)
    assert stopped.returncode == 1 and "团D_结果.json" in stopped.stderr and "--accept-outbox" in stopped.stderr
    assert json.loads(forged.read_text("utf-8"))["status"] == "failed", "never rewritten"
    assert not lost_page.exists(), "nothing moved in before the operator decides"
    blocked = run_watcher(root, "process", check=False)
    assert blocked.returncode == 1 and "recover" in blocked.stderr, "the desk does not start meanwhile"
    # Simply run again, it found nothing new to compare and said 恢复完成 over what it never verified.
    again = run_watcher(root, "recover", check=False)
    assert again.returncode == 1 and "上一次 watcher recover 发现不一致而停止" in again.stderr, again.stdout
    assert "--accept-outbox" in again.stderr and "恢复完成" not in again.stdout

    done = run_watcher(root, "recover", "--accept-outbox", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert business(root) == original
    assert lost_page.exists(), "an output missing from the outbox is written"
    assert json.loads(forged.read_text("utf-8"))["status"] == "failed", "the forged twin is left for staff to see"


def test_a_tampered_original_stops_the_replay(root, ledger_backend):
    saved = backup(root, ledger_backend)
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-10T10:00:00+08:00")
    [copy] = [p for p in (root / "archive/GZ001").rglob("*团A.xlsx")]
    copy.write_bytes(copy.read_bytes() + b"\0")
    restore(root, ledger_backend, saved)
    stopped = run_watcher(root, "recover", check=False)
    assert stopped.returncode == 1 and "内容与记录的不符" in stopped.stderr
    assert run_watcher(root, "process", check=False).returncode == 1


def test_a_recovery_killed_half_way_runs_again_from_where_it_stopped(root, ledger_backend):
    saved = a_day(root, ledger_backend)
    original, printed = business(root), outbox(root)
    restore(root, ledger_backend, saved)
    killed = run_watcher(root, "recover", env={"WATCHER_CRASH_AT": "after_commit:3"}, check=False)
    assert killed.returncode == -9, killed.stderr
    assert business(root) != original, "killed half-way"
    blocked = run_watcher(root, "process", check=False)
    assert blocked.returncode == 1 and "没有完成" in blocked.stderr, (
        "the desk does not start on a half-recovered ledger"
    )
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert business(root) == original and outbox(root) == printed


def test_originals_whose_log_lines_were_lost_are_replayed_in_their_archive_names_order(root, ledger_backend):
    saved = backup(root, ledger_backend)
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-10T10:00:00+08:00")
    issue(root, "团B", "2026-11-20 08:00", n=3, at="2026-11-10T10:00:05+08:00")
    original, printed = business(root), outbox(root)
    log = events.log_path(root / "archive")
    kept = [line for line in log.read_text("utf-8").splitlines(keepends=True) if '"kind": "file"' not in line]
    log.write_text("".join(kept), encoding="utf-8")  # a power cut took the files' lines (never synced)
    restore(root, ledger_backend, saved)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "按归档文件名时间排序" in done.stdout and "团A.xlsx" in done.stdout and "团B.xlsx" in done.stdout
    assert business(root) == original and outbox(root) == printed, "the same numbers, the same result names"


BACKUP_MID_RUN = """
import subprocess, sys
import watcher.ledger.settlement as settlement
from watcher.cli import main
command = sys.argv[1]
owner = next(c for c in vars(settlement).values() if isinstance(c, type) and "finish_run" in c.__dict__)
finish = owner.finish_run
def backup_first(self, *args, **kwargs):  # the nightly backup lands between the settlement and the finish
    subprocess.run(command, shell=True, check=True)
    return finish(self, *args, **kwargs)
owner.finish_run = backup_first
sys.exit(main(sys.argv[2:]))
"""


def test_a_month_end_the_backup_caught_half_way_is_finished_not_run_again(root, ledger_backend):
    """A nightly backup taken during the 02:00 run holds its start and settlement but not its finish."""
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-10T10:00:00+08:00")
    saved = root.parent / ("mid.sqlite3" if ledger_backend == "sqlite" else "mid.sql")
    if ledger_backend == "sqlite":
        command = f"{sys.executable} -c \"import sqlite3; s = sqlite3.connect('{root}/ledger.sqlite3'); c = sqlite3.connect('{saved}'); s.backup(c)\""
    else:
        command = f"pg_dump --dbname '{PG_BASE}' -n {_schema()} -f '{saved}'"
    args = ["month-end", "--month", "2026-11", "--root", str(root)]
    env = {**os.environ, "PYTHONUTF8": "1", **fake("2026-12-01T02:00:00+08:00")}
    subprocess.run([sys.executable, "-c", BACKUP_MID_RUN, command, *args], check=True, env=env, capture_output=True)
    issue(root, "团B", "2026-12-20 08:00", n=1, at="2026-12-01T10:00:00+08:00")
    original, printed = business(root), outbox(root)
    restore(root, ledger_backend, saved)
    assert ledger_query(root, "SELECT COUNT(*) FROM month_end_runs WHERE finished_at IS NULL") == [(1,)]
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert business(root) == original and outbox(root) == printed
    assert ledger_query(root, "SELECT COUNT(*) FROM month_end_runs WHERE finished_at IS NOT NULL") == [(1,)]


def test_a_log_line_cut_short_by_a_power_cut_does_not_swallow_the_next_event(root, ledger_backend):
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-10T10:00:00+08:00")
    saved = backup(root, ledger_backend)
    log = events.log_path(root / "archive")
    with log.open("ab") as f:
        f.write(b'{"action": "\xe6\x8a\x95\xe4\xbf\x9d", "agency": "GZ0')  # the power went mid-line
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")  # the next line, synced
    original, printed = business(root), outbox(root)
    restore(root, ledger_backend, saved)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "无法读取" in done.stderr, "the damaged line is named"
    assert business(root) == original and outbox(root) == printed


def test_bytes_changed_after_processing_are_kept_but_never_replayed(root, ledger_backend):
    """archive_claim keeps a file's bytes changed after its commit beside the processed copy
    (`…_办理后修改_<name>`): never processed, so never replayed, whoever put them there."""
    saved = backup(root, ledger_backend)
    issue(root, "团B", "2026-11-21 08:00", n=2, at="2026-11-10T11:00:00+08:00")
    [copy] = list((root / "archive/GZ001").rglob("*_团B.xlsx"))
    other = write_request(root.parent / "改.xlsx", issue_fields(旅行团号="团B改"), people(6)[4:]).read_bytes()
    sha = hashlib.sha256(other).hexdigest()
    (copy.parent / f"{copy.name[:6]}_{sha[:8]}_办理后修改_团B.xlsx").write_bytes(other)
    original, printed = business(root), outbox(root)
    restore(root, ledger_backend, saved)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert business(root) == original and outbox(root) == printed, "no policy the desk never issued"


def test_outputs_missing_from_the_outbox_are_written_for_what_the_ledger_holds_and_what_changed_nothing(
    root, ledger_backend
):
    saved = a_day(root, ledger_backend)
    original, printed = business(root), outbox(root)
    gone = ["团A_结果.xlsx", "团A_结果.json", "坏_结果.json", "试算_结果.xlsx"]  # before the backup; after it
    for name in gone:
        (root / "outbox/GZ001" / name).unlink()
    restore(root, ledger_backend, saved)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert business(root) == original
    again = outbox(root)
    assert set(again) == set(printed), "each written again"
    for name, data in printed.items():
        if name.rsplit("/", 1)[-1] in gone and name.endswith(".xlsx"):  # the same but when it was written
            assert _members(again[name]) == _members(data), name
        else:
            assert again[name] == data, name
    assert "补写结果的文件 1" in done.stdout


def test_recover_refuses_a_folder_that_is_no_desk(tmp_path):
    typo = tmp_path / "srv" / "watchr"
    typo.mkdir(parents=True)
    proc = run_watcher(typo, "recover", check=False)
    assert proc.returncode == 1 and "没有可以恢复的东西" in proc.stderr and "--root" in proc.stderr
    assert list(typo.iterdir()) == [], "nothing made there"


def _marks(root: Path) -> list[Path]:
    """The desk's mark of numbers handed out (beside a SQLite ledger; in the root for PostgreSQL)."""
    return list(root.glob("*.numbers.json"))


def _next_is_new(root: Path, b: dict) -> None:
    """The next 投保 after the recovery gets a number of its own, never 团B's."""
    write_request(root / "workbooks/GZ001/团C.xlsx", issue_fields(旅行团号="团C"), people(2))
    run_watcher(root, "process", env=fake("2026-11-03T11:00:00+08:00"))
    c = result(root, "GZ001", "团C_结果")[0]["policies"][0]
    assert c["policy_no"] != b["policy_no"], "团B's number is never handed out again"


def test_a_ledger_restored_with_its_mark_lost_too_is_refused_by_the_event_log(root, ledger_backend):
    """The ledger's disk died and took the mark beside it: the event log beside the archive still says what
    the desk did, so nothing starts on the backup and its numbers are never handed out again."""
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    saved = backup(root, ledger_backend)
    b = issue(root, "团B", "2026-11-20 08:00", n=3, at="2026-11-03T10:00:00+08:00")
    original, printed = business(root), outbox(root)
    restore(root, ledger_backend, saved)
    [mark] = _marks(root)
    mark.unlink()
    waiting = write_request(root / "workbooks/GZ001/团C.xlsx", issue_fields(旅行团号="团C"), people(2))

    refused = run_watcher(root, "process", env=fake("2026-11-03T11:00:00+08:00"), check=False)
    assert refused.returncode == 1 and "团B.xlsx" in refused.stderr and "watcher recover" in refused.stderr
    assert waiting.exists() and business(root) != original, "nothing taken, nothing issued"
    status = run_watcher(root, "status", check=False)
    assert "落后" in status.stdout and "watcher recover" in status.stdout
    checked = run_watcher(root, "check", check=False)
    assert checked.returncode == 1 and "团B.xlsx" in checked.stderr

    waiting.rename(root.parent / "团C.xlsx")  # the clerk's file waits while the operator recovers
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "本机没有编号记录" in done.stdout and "编号与本机记录相符" not in done.stdout
    assert business(root) == original and outbox(root) == printed
    (root.parent / "团C.xlsx").rename(waiting)
    run_watcher(root, "process", env=fake("2026-11-03T11:00:00+08:00"))
    c = result(root, "GZ001", "团C_结果")[0]["policies"][0]
    assert c["policy_no"] != b["policy_no"], "团B's number is never handed out again"


def test_a_whole_root_restored_with_its_mark_and_its_event_log_is_brought_forward_by_recover(root, ledger_backend):
    """The whole root restored from last night (`rsync` without --delete): the ledger, the mark of numbers
    and the event log all older than the originals still in the archive (the operations manual says never
    to restore the mark; this operator did). `recover` replays the archive-only originals; their numbers are
    past the restored mark, and are accepted only because every result the replay wrote is the outbox's own.
    Before, it stopped ("重放办理了当初没有办理的业务") and then passed when simply run again, its own replays
    counted as the backup's; a recover stopped on a mismatch now stops again when rerun."""
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    saved = backup(root, ledger_backend)
    [mark] = _marks(root)
    log = events.log_path(root / "archive")
    mark_then, log_then = mark.read_bytes(), log.read_bytes()
    b = issue(root, "团B", "2026-11-20 08:00", n=3, at="2026-11-03T10:00:00+08:00")
    original, printed = business(root), outbox(root)
    restore(root, ledger_backend, saved)
    mark.write_bytes(mark_then)
    log.write_bytes(log_then)

    twin = root / "outbox/GZ001/团B_结果.json"
    aside = root.parent / "团B_结果.json"
    twin.rename(aside)  # the replay's result for 团B cannot be matched: its numbers are not believed
    for _ in range(2):
        stopped = run_watcher(root, "recover", check=False)
        assert stopped.returncode == 1 and "重放办理了当初没有办理的业务" in stopped.stderr, stopped.stderr
    assert run_watcher(root, "process", check=False).returncode == 1
    aside.rename(twin)
    restore(root, ledger_backend, saved)  # as the report says: the backup again, then recover
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "随账本一起从备份恢复的旧记录" in done.stderr
    assert business(root) == original and outbox(root) == printed
    _next_is_new(root, b)


def test_a_ledger_restored_with_the_mark_beside_it_is_brought_forward_by_recover(root, ledger_backend):
    """`cp backup/ledger.sqlite3* .` brings the mark of numbers back with the ledger, both as old as the
    backup, while the archive and its event log are today's. Before, `recover` replayed the day exactly as it
    was and then stopped ("重放办理了当初没有办理的业务"), leaving the desk unable to start. Numbers past such a
    mark are believed only where every result the replay wrote is the outbox's own, and never on a rerun."""
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    saved = backup(root, ledger_backend)
    [mark] = _marks(root)
    mark_then = mark.read_bytes()
    b = issue(root, "团B", "2026-11-20 08:00", n=3, at="2026-11-03T10:00:00+08:00")
    original, printed = business(root), outbox(root)

    twin = root / "outbox/GZ001/团B_结果.json"
    aside = root.parent / "团B_结果.json"
    twin.rename(aside)  # nothing vouches for 团B's number: stopped, and stopped again when simply rerun
    restore(root, ledger_backend, saved)
    mark.write_bytes(mark_then)
    for _ in range(2):
        stopped = run_watcher(root, "recover", check=False)
        assert stopped.returncode == 1 and "重放办理了当初没有办理的业务" in stopped.stderr, stopped.stderr
        assert "+00:00" not in stopped.stderr, "the mark's time in desk time, as every other line"
    checked = run_watcher(root, "check", check=False)  # the desk will not start: check does not call it sound
    assert checked.returncode == 1 and "上一次 watcher recover 发现不一致而停止" in checked.stderr, checked.stdout
    aside.rename(twin)

    restore(root, ledger_backend, saved)
    mark.write_bytes(mark_then)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "备份之后办理的业务" in done.stderr and "随账本一起从备份恢复的旧记录" in done.stderr
    # Its last line said 编号与本机记录相符, of numbers that had not matched.
    assert "编号与本机记录相符" not in done.stdout and "本机的编号记录比账本旧" in done.stdout, done.stdout
    assert business(root) == original and outbox(root) == printed
    _next_is_new(root, b)


def test_a_recover_killed_after_its_last_replay_is_finished_by_the_next(root, ledger_backend):
    """The ledger and its mark restored together, `recover` killed right after committing the day's one
    replay: the rerun found nothing left to replay, counted nothing as its own, and stopped on
    "重放办理了当初没有办理的业务", the desk shut until the backup was restored again."""
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    saved = backup(root, ledger_backend)
    [mark] = _marks(root)
    mark_then = mark.read_bytes()
    issue(root, "团B", "2026-11-20 08:00", n=3, at="2026-11-03T10:00:00+08:00")
    original, printed = business(root), outbox(root)
    restore(root, ledger_backend, saved)
    mark.write_bytes(mark_then)
    killed = run_watcher(root, "recover", env={"WATCHER_CRASH_AT": "after_commit:1"}, check=False)
    assert killed.returncode != 0
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert business(root) == original and outbox(root) == printed


def test_a_number_the_outbox_shows_past_the_replayed_ledger_is_never_handed_out_again(root, ledger_backend):
    """Ledger and mark restored together, and the last file's archived original and event line both lost:
    the replay stops short of it, past the old mark all the same. Its result in the outbox still shows its
    number: recover stops rather than raise the mark below it (the next 投保 would get that number)."""
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    saved = backup(root, ledger_backend)
    [mark] = _marks(root)
    mark_then = mark.read_bytes()
    issue(root, "团B", "2026-11-20 08:00", n=3, at="2026-11-03T10:00:00+08:00")
    c = issue(root, "团C", "2026-11-20 08:00", n=2, at="2026-11-03T11:00:00+08:00")
    restore(root, ledger_backend, saved)
    mark.write_bytes(mark_then)
    for copy in (root / "archive/GZ001").rglob("*_团C.xlsx"):
        copy.unlink()
    log = events.log_path(root / "archive")
    log.write_text(
        "".join(line for line in log.read_text("utf-8").splitlines(keepends=True) if "团C.xlsx" not in line), "utf-8"
    )
    stopped = run_watcher(root, "recover", check=False)
    assert stopped.returncode == 1 and "outbox 中有比重放后的账本更大的编号" in stopped.stderr, stopped.stderr
    assert "团C_结果.json" in stopped.stderr
    assert run_watcher(root, "process", check=False).returncode == 1, "the desk does not start on it"
    assert c["policy_no"] not in json.dumps(business(root), ensure_ascii=False, default=str)


def test_a_backup_of_another_desk_ahead_of_the_mark_is_refused_before_anything_is_replayed(root, ledger_backend):
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    [mark] = _marks(root)
    before = mark.read_bytes()  # this desk has handed out one number
    issue(root, "团B", "2026-11-20 08:00", n=2, at="2026-11-03T10:00:00+08:00")
    saved = backup(root, ledger_backend)
    # The other desk's ledger: two policies, from business this desk's archive never saw.
    shas = [sha for (sha,) in ledger_query(root, "SELECT sha256 FROM requests")]
    if ledger_backend == "sqlite":
        with sqlite3.connect(saved) as other:
            other.execute("UPDATE requests SET sha256 = 'ffffffff' || substr(sha256, 9)")
        other.close()
    else:
        text = saved.read_text("utf-8")
        for sha in shas:
            text = text.replace(sha, "ffffffff" + sha[8:])
        saved.write_text(text, encoding="utf-8")
    mark.write_bytes(before)
    restore(root, ledger_backend, saved)
    ledger_before = business(root)
    for accept in ([], ["--accept-outbox"]):
        stopped = run_watcher(root, "recover", *accept, check=False)
        assert stopped.returncode == 1 and "不是这台机器账本的备份" in stopped.stderr, stopped.stderr
        assert "未做任何重放" in stopped.stderr
        assert business(root) == ledger_before, "nothing replayed onto it"
    assert run_watcher(root, "process", check=False).returncode == 1, "the desk does not start on it"


def test_a_ledger_a_crash_left_ahead_of_its_mark_is_its_own(root, ledger_backend):
    """Killed between a commit and its mark (no output carries the number yet): recover on that ledger
    finds nothing foreign, replays nothing and lets the desk go on."""
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    [mark] = _marks(root)
    before = mark.read_bytes()
    issue(root, "团B", "2026-11-20 08:00", n=2, at="2026-11-03T10:00:00+08:00")
    mark.write_bytes(before)
    original = business(root)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert business(root) == original


def test_same_second_originals_whose_log_lines_were_lost_keep_the_order_they_were_taken_in(root, ledger_backend):
    saved = backup(root, ledger_backend)
    for i in range(5):  # one second: the archive names tie on the time; taken 0.1 s apart
        write_request(root / f"workbooks/GZ001/团{i}.xlsx", issue_fields(旅行团号=f"团{i}"), people(2))
        run_watcher(root, "process", env=fake(f"2026-11-03T10:00:00.{i}00000+08:00"))
    assert len({p.name[:6] for p in (root / "archive/GZ001").rglob("*.xlsx")}) == 1
    numbers = {i: result(root, "GZ001", f"团{i}_结果")[0]["policies"][0]["policy_no"] for i in range(5)}
    original, printed = business(root), outbox(root)
    log = events.log_path(root / "archive")
    kept = [line for line in log.read_text("utf-8").splitlines(keepends=True) if '"kind": "file"' not in line]
    log.write_text("".join(kept), encoding="utf-8")
    for name in [n for n in printed if n.endswith("_结果.json") or n.endswith("_结果.xlsx")]:
        (root / name).unlink()  # and the agency cleared its results away: nothing to compare with
    restore(root, ledger_backend, saved)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert business(root) == original, "each group its own number again"
    assert {i: result(root, "GZ001", f"团{i}_结果")[0]["policies"][0]["policy_no"] for i in range(5)} == numbers


def test_outputs_of_a_policy_since_replaced_are_written_as_the_ledger_has_it_and_recover_succeeds(root, ledger_backend):
    a = issue(root, "团A", "2026-11-20 08:00", n=3, at="2026-11-03T09:00:00+08:00")
    write_request(root / "workbooks/GZ001/批改A.xlsx", {"操作类型": "批改", "保单号": a["policy_no"], "天数": 5})
    run_watcher(root, "process", env=fake("2026-11-04T09:00:00+08:00"))
    assert result(root, "GZ001", "批改A_结果")[0]["status"] == "success"
    for name in ("团A_结果.xlsx", f"电子保单_{a['policy_no']}.html", "批改A_结果.json"):
        (root / "outbox/GZ001" / name).unlink()  # the agency tidied its outbox
    original = business(root)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "按账本现状补写" in done.stdout
    assert business(root) == original
    for name in ("团A_结果.xlsx", f"电子保单_{a['policy_no']}.html", "批改A_结果.json"):
        assert (root / "outbox/GZ001" / name).exists(), name
    assert run_watcher(root, "process", check=False).returncode == 0, "the desk goes on"


def test_a_lost_original_that_changed_nothing_is_named(root, ledger_backend):
    saved = backup(root, ledger_backend)
    write_request(root / "workbooks/GZ001/坏.xlsx", issue_fields(生效时间="2026-11-01 08:00"), people(1))
    run_watcher(root, "process", env=fake("2026-11-03T09:00:00+08:00"))
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T10:00:00+08:00")
    [copy] = list((root / "archive/GZ001").rglob("*_坏.xlsx"))
    copy.unlink()
    original = business(root)
    restore(root, ledger_backend, saved)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert copy.name in done.stderr and "不见了" in done.stderr
    assert business(root) == original


def test_status_on_a_root_whose_ledger_is_lost_points_to_recover(root, ledger_backend):
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    restore(root, ledger_backend, None)  # lost outright
    status = run_watcher(root, "status", check=False)
    assert status.returncode == 1 and "watcher recover" in status.stderr and "watcher init" not in status.stderr


@pytest.mark.parametrize("mark_lost", [False, True], ids=["behind-the-mark", "mark-lost-too"])
def test_the_lookup_page_says_it_is_under_maintenance_while_the_ledger_is_behind(root, ledger_backend, mark_lost):
    """A traveller whose policy was issued after the backup is never told it does not exist (the mark lost
    with the ledger's disk: the event log says it)."""
    from test_web import web

    from watcher.web.app import VERIFY_SECONDS

    saved = backup(root, ledger_backend)
    a = issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    typed = {"id_type": "身份证", "policy_no": a["policy_no"], "id_no": people(2)[0][3]}
    restore(root, ledger_backend, saved)
    if mark_lost:
        for mark in _marks(root):
            mark.unlink()
    with web(root) as base:
        status, headers, body, _ = post(base, **typed)
        assert status == 503 and "维护" in body and "未查到" not in body and headers.get("Retry-After")
        done = run_watcher(root, "recover", check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        time.sleep(VERIFY_SECONDS + 0.5)
        status, _, body, _ = post(base, **typed)
        assert status == 200 and 'id="result"' in body and a["policy_no"] in body and "维护" not in body


def test_an_original_with_a_long_name_whose_log_line_was_lost_comes_back_under_its_own_name(root, ledger_backend):
    """The archive keeps a name made safe and cut short; the outbox twin of the same bytes gives the whole
    one (only when it makes the archive's name: a forged twin cannot rename anything)."""
    saved = backup(root, ledger_backend)
    long_name = "广州出发桂林阳朔漓江精华五日游" * 4 + "团A.xlsx"
    write_request(root / "workbooks/GZ001" / long_name, issue_fields(旅行团号="长名团"), people(2))
    run_watcher(root, "process", env=fake("2026-11-03T10:00:00+08:00"))
    original, printed = business(root), outbox(root)
    [copy] = list((root / "archive/GZ001").rglob("*.xlsx"))
    assert long_name not in copy.name, "the archive cut it"
    log = events.log_path(root / "archive")
    kept = [line for line in log.read_text("utf-8").splitlines(keepends=True) if '"kind": "file"' not in line]
    log.write_text("".join(kept), encoding="utf-8")
    restore(root, ledger_backend, saved)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert business(root) == original and outbox(root) == printed


def test_a_month_end_stopped_by_staffs_folder_is_finished_at_its_own_moment_and_replays(root, ledger_backend):
    """Resumed later, the stopped run settles nothing more under its number (a plan that took effect since
    is the daily retry's, in a run of its own): the archive's one event for it replays to the same ledger."""
    issue(root, "团A", "2026-11-20 08:00")
    issue(root, "团B", "2026-12-01 08:00", plan="GW-B")  # takes effect after the 02:00 run
    admin_out = root / "outbox" / "_admin"
    shutil.move(admin_out, root / "admin_saved")
    admin_out.write_text("not a folder", encoding="utf-8")
    stopped = month_end(root, "2026-11", "2026-12-01T02:00:00+08:00", check=False)
    assert stopped.returncode == 1 and len(statements(root)) == 1
    admin_out.unlink()
    shutil.move(root / "admin_saved", admin_out)
    month_end(root, "2026-11", "2026-12-01T09:00:00+08:00")  # GW-B is in effect by now
    assert len(statements(root)) == 1, "the resumed run settles at its own moment: GW-B still waits"
    month_end(root, "2026-11", "2026-12-02T02:00:00+08:00")  # the daily retry, a run of its own
    assert len(statements(root)) == 2
    original = business(root)
    restore(root, ledger_backend, None)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert business(root) == original


def test_a_restore_before_a_supplement_replays_without_calling_the_statements_changed(root, ledger_backend):
    """Statement files the replayed month-end writes again carry the moment they were written: only that
    differed from the outbox, and recover stopped the desk saying the outbox said otherwise."""
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-05T10:00:00+08:00")
    month_end(root, "2026-11", "2026-12-01T09:00:00+08:00")
    [first] = statements(root)
    data, _ = admin(
        root,
        "确认",
        "对账确认",
        ["序号", "对账单号", "业务渠道", "确认人"],
        [[1, first[0], "团险直销", "李运营"]],
        action="对账确认",
        now="2026-12-01T10:00:00+08:00",
    )
    assert data["status"] == "success", data["errors"]
    saved = backup(root, ledger_backend)
    # A clock moved back: a November policy recorded after November was settled, then a 补充对账单.
    issue(root, "团B", "2026-12-01 08:00", n=1, at="2026-11-30T20:00:00+08:00")
    month_end(root, "2026-11", "2026-12-01T11:00:00+08:00")
    assert len(statements(root)) == 2
    original, printed = business(root), outbox(root)
    restore(root, ledger_backend, saved)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "不一致" not in done.stdout + done.stderr
    assert business(root) == original and outbox(root) == printed


def test_twins_written_by_an_earlier_release_are_not_called_different(root, ledger_backend):
    """The replay runs today's code: a 保单查询 twin an earlier release wrote has no `successors`, a refused
    file's had `action` null and other words in its errors. Those are no business of the ledger: recover
    finished; a twin that says another status is still reported."""
    saved = backup(root, ledger_backend)
    a = issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    write_request(root / "workbooks/GZ001/查.xlsx", {"操作类型": "保单查询", "保单号": a["policy_no"]})
    write_request(root / "workbooks/GZ001/错.xlsx", issue_fields(方案代码="NOPE", 旅行团号="T-X"), people(1))
    run_watcher(root, "process", env=fake("2026-11-04T09:00:00+08:00"))
    query = root / "outbox/GZ001/查_结果.json"
    older = json.loads(query.read_text("utf-8"))
    for policy in older["policies"]:
        del policy["successors"]
    query.write_text(json.dumps(older, ensure_ascii=False), encoding="utf-8")
    refused = root / "outbox/GZ001/错_结果.json"
    older = json.loads(refused.read_text("utf-8"))
    older["action"] = None
    older["errors"][0]["message"] = "（上一版的措辞）"
    refused.write_text(json.dumps(older, ensure_ascii=False), encoding="utf-8")
    original = business(root)
    restore(root, ledger_backend, saved)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "不一致" not in done.stdout + done.stderr and business(root) == original


def test_a_sqlite_ledger_named_ledger_is_not_taken_for_a_shared_one(root, ledger_backend):
    """Its mark is ledger.numbers.json, the name a PostgreSQL ledger's mark has in the root: recover of it,
    lost, was refused as 'the ledger is on PostgreSQL'."""
    if ledger_backend != "sqlite":
        pytest.skip("a SQLite ledger's own name")
    (root / "watcher.toml").write_text('settle_seconds = 0\nledger = "ledger"\n', encoding="utf-8")
    (root / "ledger.sqlite3").rename(root / "ledger")
    issue(root, "团A", "2026-11-20 08:00", n=1, at="2026-11-03T09:00:00+08:00")
    assert (root / "ledger.numbers.json").exists()
    original = business(root)
    (root / "ledger").unlink()
    for extra in ("-wal", "-shm"):
        (root / f"ledger{extra}").unlink(missing_ok=True)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0 and "WATCHER_LEDGER_URL" not in done.stderr, done.stdout + done.stderr
    assert business(root) == original


def test_check_names_every_missing_piece_of_business_once_and_counts_what_it_does_not_list(root, ledger_backend):
    """A ledger restored from an older backup, the mark lost too: `check` reads the whole event log, not the
    last twenty events a start looks at; it lists twenty, each once, and counts the rest, so the operator
    knows how much `recover` has to bring back (before: about twenty lines, some twice, no count)."""
    issue(root, "团A", "2026-11-20 08:00", n=1, at="2026-11-03T09:00:00+08:00")
    saved = backup(root, ledger_backend)
    for i in range(23):
        write_request(
            root / f"workbooks/GZ001/后{i:02d}.xlsx",
            issue_fields(生效时间="2026-11-20 08:00", 旅行团号=f"后{i:02d}"),
            people(i + 1)[i:],
        )
    run_watcher(root, "process", env=fake("2026-11-03T10:00:00+08:00"))
    assert all(result(root, "GZ001", f"后{i:02d}_结果")[0]["status"] == "success" for i in range(23))
    restore(root, ledger_backend, saved)
    [mark] = _marks(root)
    mark.unlink()

    checked = run_watcher(root, "check", "--json", check=False)
    assert checked.returncode == 1
    unheld = [d for d in json.loads(checked.stdout)["discrepancies"] if d["code"] == "events.unheld"]
    named = [d["record"] for d in unheld if d["record"]]
    assert len(named) == 20 and len(set(named)) == 20, named
    assert all(n.startswith("GZ001/后") for n in named)
    [more] = [d for d in unheld if not d["record"]]
    assert "另有 3 项" in more["message"] and "共 23 项" in more["message"] and "watcher recover" in more["message"]


def test_a_backup_moved_into_place_under_the_page_is_never_answered_not_found(root, ledger_backend):
    """The page looked again whether the ledger was behind only every few seconds: a backup moved into place
    under a running page answered the first travellers whose policies it lacks "未查到保单信息" (and counted
    it against them). Another file under the ledger's name is looked at at once."""
    if ledger_backend != "sqlite":
        pytest.skip("on PostgreSQL a restore moves no file into place")
    from helpers import ask_app

    from watcher.settings import load_settings
    from watcher.web.app import LookupApp

    saved = backup(root, ledger_backend)
    a = issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    app = LookupApp(root, load_settings(root))

    def ask() -> tuple[str, str]:
        return ask_app(app, "/", a["policy_no"], people(2)[0][3], "10.62.0.1")

    status, page = ask()
    assert status == "200" and 'id="result"' in page
    ledger = root / "ledger.sqlite3"
    shutil.copy(saved, root / "ledger.restored")
    for extra in ("-wal", "-shm"):
        Path(f"{ledger}{extra}").unlink(missing_ok=True)
    (root / "ledger.restored").replace(ledger)  # the backup moved into place, the page still running
    status, page = ask()
    assert status == "503" and "维护" in page and "未查到" not in page


def test_a_result_lost_with_the_outbox_is_written_again_as_issued_and_a_later_rebuild_agrees(root, ledger_backend):
    """The outbox lost, the ledger intact: `recover` wrote 团A's result again from the ledger as it was then
    (its policy since cancelled: 已撤单, 保费合计 0.00), a story its result never told, and a later rebuild of
    the ledger from the archive found that twin differing from its replay and stopped, asking for
    --accept-outbox. Written as issued now; the electronic policy still says what it is today."""
    saved = backup(root, ledger_backend)
    a = issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    first = json.loads((root / "outbox/GZ001/团A_结果.json").read_text("utf-8"))
    write_request(root / "workbooks/GZ001/撤A.xlsx", {"操作类型": "撤单", "保单号": a["policy_no"]})
    run_watcher(root, "process", env=fake("2026-11-04T09:00:00+08:00"))
    assert result(root, "GZ001", "撤A_结果")[0]["status"] == "success"
    for lost in (root / "outbox/GZ001").glob("团A_结果.*"):
        lost.unlink()

    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    again = json.loads((root / "outbox/GZ001/团A_结果.json").read_text("utf-8"))
    assert again["policies"][0]["status"] == "有效" and again["premium_total"] == first["premium_total"]
    assert {k: v for k, v in again.items() if k != "written_at"} == {
        k: v for k, v in first.items() if k != "written_at"
    }
    page = (root / f"outbox/GZ001/电子保单_{a['policy_no']}.html").read_text("utf-8")
    assert "已撤单" in page, "the page says what the policy is now"

    restore(root, ledger_backend, saved)  # later: the ledger lost, rebuilt from the archive
    rebuilt = run_watcher(root, "recover", check=False)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "--accept-outbox" not in rebuilt.stderr


def _skip_a_number(root: Path, backend: str) -> None:
    """A transaction that drew a policy and a statement number and was rolled back (a crash, a lost
    connection, two workers): PostgreSQL's sequences never give them back. SQLite's numbers roll back with
    their transaction; moved on by hand, they make the same gap."""
    if backend == "postgresql":
        ledger_query(root, "SELECT nextval('number_policy'), nextval('number_statement')")
    else:
        for name in ("policy", "statement"):
            ledger_query(
                root,
                "INSERT INTO sequences VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = sequences.value + 1",
                (name,),
            )


def test_numbers_a_rolled_back_transaction_skipped_are_skipped_again_by_the_replay(root, ledger_backend):
    """A gap in the numbers (a draw rolled back) before 团B, and before the month-end's statement: the replay
    drew each number afresh, gave 团B the number after 团A's, found its twin differing from the outbox and
    the ledger short of the mark, and could not finish. Each is handed out again as it was issued."""
    saved = backup(root, ledger_backend)
    a = issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    _skip_a_number(root, ledger_backend)
    b = issue(root, "团B", "2026-11-21 08:00", n=3, at="2026-11-03T10:00:00+08:00")
    assert int(b["policy_no"][10:]) == int(a["policy_no"][10:]) + 2, "a gap between them"
    _skip_a_number(root, ledger_backend)
    month_end(root, "2026-11", "2026-12-01T02:00:00+08:00")
    original, printed = business(root), outbox(root)

    restore(root, ledger_backend, saved)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # (SQLite's `sequences` row stops at the last number a policy holds: the draw rolled back after it is no
    # number any output shows.)
    rebuilt = business(root)
    assert rebuilt.pop("sequences", None) in (None, [("policy", 3), ("statement", 3)])
    original.pop("sequences", None)
    assert rebuilt == original, "every policy and statement under the number it was issued with"
    assert outbox(root) == printed
    c = issue(root, "团C", "2026-12-20 08:00", n=1, at="2026-12-02T10:00:00+08:00")
    assert c["policy_no"] not in json.dumps(original, ensure_ascii=False, default=str), "never handed out twice"
    assert int(c["policy_no"][10:]) > int(b["policy_no"][10:])


def _edit_log(root: Path, edit) -> None:
    log = events.log_path(root / "archive")
    lines = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    log.write_text("".join(json.dumps(edit(e), ensure_ascii=False) + "\n" for e in lines), "utf-8")


def test_a_log_from_before_numbers_were_recorded_replays_and_one_naming_a_number_in_use_stops(root, ledger_backend):
    saved = backup(root, ledger_backend)
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    b = issue(root, "团B", "2026-11-21 08:00", n=1, at="2026-11-03T10:00:00+08:00")
    logged = [e for e in events.read(root / "archive") if e.kind == "file"]
    assert [e.data["numbers"] for e in logged] == [{"policy": [1]}, {"policy": [2]}], "each file's numbers logged"
    original = business(root)

    # An earlier release's log names no numbers: the sequence hands them out (no gap, the same ones).
    _edit_log(root, lambda e: {k: v for k, v in e.items() if k != "numbers"})
    restore(root, ledger_backend, saved)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert business(root) == original

    # A log whose 团B names the number 团A holds: stopped, not issued twice.
    _edit_log(root, lambda e: {**e, "numbers": {"policy": [1]}} if e.get("file") == "团B.xlsx" else e)
    restore(root, ledger_backend, saved)
    ledger_query(root, "SELECT 1")  # (the restored ledger)
    stopped = run_watcher(root, "recover", check=False)
    assert stopped.returncode == 1, stopped.stdout
    assert "团B.xlsx" in stopped.stderr and "已有别的业务使用（保单 1）" in stopped.stderr, stopped.stderr
    assert b["policy_no"] not in json.dumps(business(root), ensure_ascii=False, default=str)


def test_outputs_missing_from_an_outbox_on_another_disk_are_written_and_recover_finishes(root, ledger_backend):
    """An agency's outbox folder on a disk of its own (a share mounted there, a link to another disk):
    recover moved the missing outputs in with one rename, which fails across disks (EXDEV); it stopped
    with 「无法访问…请检查路径和权限」 every time, and serve and process stayed refused behind it."""
    import tempfile

    from helpers import need

    shm = Path("/dev/shm")
    need(shm.is_dir() and os.stat(shm).st_dev != os.stat(root).st_dev, "a second filesystem at /dev/shm")
    other = Path(tempfile.mkdtemp(dir=shm, prefix="watcher-outbox-"))
    try:
        shutil.move(root / "outbox/GZ001", other)
        (root / "outbox/GZ001").symlink_to(other / "GZ001")
        issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
        original = business(root)
        lost = root / "outbox/GZ001/团A_结果.xlsx"
        kept = lost.read_bytes()
        lost.unlink()
        done = run_watcher(root, "recover", check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert lost.exists() and _members(lost.read_bytes()).keys() == _members(kept).keys()
        assert business(root) == original
        assert not list((other / "GZ001").glob(".*watcher-tmp")), "no temporary file left behind"
        run_watcher(root, "process")  # the desk starts again
    finally:
        shutil.rmtree(other, ignore_errors=True)


def test_a_file_taken_up_again_after_a_kill_while_writing_its_outputs_replays_once(root, ledger_backend):
    """Killed while writing its outputs, the file is taken up at the next run and its walk logged again:
    two lines of one request, the same numbers on both. recover replayed the first, then called the second's
    number 「已有别的业务使用」 (another machine's ledger) and stopped, the desk shut behind it."""
    saved = backup(root, ledger_backend)
    write_request(root / "workbooks/GZ001/团A.xlsx", issue_fields(生效时间="2026-11-20 08:00"), people(2))
    env = fake("2026-11-03T09:00:00+08:00")
    killed = run_watcher(root, "process", env={**env, "WATCHER_CRASH_AT": "mid_outputs"}, check=False)
    assert killed.returncode == -9, killed.stderr
    run_watcher(root, "process", env=env)
    assert result(root, "GZ001", "团A_结果")[0]["status"] == "success"
    lines = [e.data for e in events.read(root / "archive") if e.kind == "file"]
    assert len(lines) == 2 and lines[0]["numbers"] == lines[1]["numbers"], lines
    original, printed = business(root), outbox(root)
    restore(root, ledger_backend, saved)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert business(root) == original and outbox(root) == printed


def test_a_number_the_replay_gives_otherwise_than_printed_is_never_accepted_from_the_outbox(root, ledger_backend):
    """A gap before 团B, and 团B's log line lost (a power cut: lines are not synced one by one): its original,
    placed by its archive name, drew the number after 团A's, not the one printed. recover stopped and offered
    --accept-outbox, which finished it with the ledger holding a number no output shows."""
    saved = backup(root, ledger_backend)
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    _skip_a_number(root, ledger_backend)
    b = issue(root, "团B", "2026-11-21 08:00", n=3, at="2026-11-03T10:00:00+08:00")
    log = events.log_path(root / "archive")
    log.write_text("".join(x for x in log.read_text("utf-8").splitlines(keepends=True) if "团B.xlsx" not in x), "utf-8")
    restore(root, ledger_backend, saved)
    for accept in ([], ["--accept-outbox"]):
        stopped = run_watcher(root, "recover", *accept, check=False)
        assert stopped.returncode == 1, stopped.stdout
        assert "重放发出的编号与 outbox 中已印出的不同" in stopped.stderr and "团B_结果.json" in stopped.stderr
        assert "可用 --accept-outbox" not in stopped.stderr, stopped.stderr
        restore(root, ledger_backend, saved)
    assert b["policy_no"] not in json.dumps(business(root), ensure_ascii=False, default=str)


def test_a_backup_restored_after_a_stop_on_a_mismatch_is_taken_as_it_is(root, ledger_backend):
    """recover from an empty ledger stopped on a mismatch; the operator then found a full backup and restored
    it, as the report asks. Every run after counted the backup's business as the stopped run's unverified
    replays (it held more than the empty ledger the first run started from) and refused for ever."""
    issue(root, "团A", "2026-11-20 08:00", n=2, at="2026-11-03T09:00:00+08:00")
    issue(root, "团B", "2026-11-21 08:00", n=3, at="2026-11-03T10:00:00+08:00")
    full = backup(root, ledger_backend)
    original = business(root)
    twin = root / "outbox/GZ001/团B_结果.json"
    said = twin.read_text("utf-8")
    twin.write_text(said.replace('"premium_total": "', '"premium_total": "9'), "utf-8")  # an agency's edit
    restore(root, ledger_backend, None)
    stopped = run_watcher(root, "recover", check=False)
    assert stopped.returncode == 1 and "不一致" in stopped.stderr, stopped.stdout + stopped.stderr
    again = run_watcher(root, "recover", check=False)
    assert again.returncode == 1, "the same ledger, rerun as it was: still stopped"
    restore(root, ledger_backend, full)
    done = run_watcher(root, "recover", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert business(root) == original
    assert run_watcher(root, "process", check=False).returncode == 0


def test_migrate_refuses_a_ledger_a_stopped_recover_left(root):
    """The replays a stopped recover left in the ledger were never verified: copied to PostgreSQL (whose new
    ledger lacks the stopped run's mark), a rerun there took them for a restored backup's and finished."""
    from watcher.service.recovering import save_state

    save_state(root, "mismatch", mismatches=["重放办理了当初没有办理的业务"])
    refused = run_watcher(root, "migrate", "--to", "postgresql://watcher@127.0.0.1:5432/nowhere", check=False)
    assert refused.returncode == 1 and "上一次 watcher recover 发现不一致而停止" in refused.stderr, refused.stderr
