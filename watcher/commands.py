"""One function per `watcher` command: open what it needs (the ledger, the root's lock), do it, say how
it went. `cli.py` parses the arguments and calls one of these."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import sys
from contextlib import contextmanager
from pathlib import Path

from . import clock
from .faults import LEDGER, NO_BACKUP, DeskFault, classify, os_words
from .faults import describe as describe_fault
from .layout import ADMIN, Layout
from .settings import TEMPLATE, load_settings


class Failure(Exception):
    """The command itself failed; the message says what to do."""


class StartFault(Failure):
    """The ledger cannot be opened because of the desk (disk full, locked, server away): `serve` waits;
    any other command stops, and its message says to run it again."""

    def __init__(self, fault, message: str | None = None):
        super().__init__(message or fault.line(running=False))
        self.fault = fault


_REFUSED_LOGIN = ("does not exist", "authentication failed", "no pg_hba.conf entry", "permission denied")


def _url_source() -> str:
    """Where this run took the ledger's address from, as messages say it."""
    return (
        "环境变量 WATCHER_LEDGER_URL" if os.environ.get("WATCHER_LEDGER_URL", "").strip() else "watcher.toml 的 ledger"
    )


def _ledger_found(target) -> bool:
    """Whether the ledger is there (ledger.db.ledger_exists); a database that cannot be reached now is no
    ledger lost: said as such, never 找不到账本 and its advice to rebuild one (`serve` waits for it)."""
    from .faults import AWAY
    from .ledger.db import describe, ledger_exists

    try:
        return ledger_exists(target)
    except Exception as exc:
        fault = classify(exc)
        where = f"账本数据库 {describe(target)}（地址来自{_url_source()}）"
        if fault == AWAY and any(w in str(exc) for w in _REFUSED_LOGIN):
            # The server answered and refused this login: the address is wrong, not the server away (serve
            # would wait for ever for a database that does not exist).
            raise Failure(
                f"{where}拒绝了连接：{describe_fault(exc)}。请核对地址中的用户、密码和数据库名；账本并没有丢失，不要重建"
            ) from exc
        if fault is None or fault == LEDGER:  # psycopg not installed, no permission on the database …
            raise Failure(f"无法打开{where}：{describe_fault(exc)}") from exc
        words = "无法连接" if fault == AWAY else "暂时无法使用"
        raise StartFault(
            DeskFault(fault, exc),
            f"{words}{where}：{describe_fault(exc)}。账本并没有丢失，不要重建或运行 watcher recover；"
            "请检查数据库服务器、网络和账号，恢复后再运行本命令",
        ) from exc


def _open(layout: Layout, settings, *, create: bool, guard: bool = False, back: bool = False):
    """The ledger, with the desk's mark of numbers handed out. `guard` (the commands that hand numbers
    out): a ledger behind that mark (restored from a backup, or made anew) is refused, and one whose file
    is damaged too."""
    from .ledger import Ledger, LedgerError
    from .ledger.db import describe, is_url, ledger_target
    from .ledger.issued import Issued, issued_path

    target = ledger_target(layout.root, settings.ledger)
    if not back:  # (`recover --new-ledger` taking back the SQLite file a migration left: checked by recover)
        _left_behind(layout, target)
    if not create and not _ledger_found(target):
        raise Failure(f"找不到账本 {describe(target)}。{_first_step(layout, target)}")
    try:
        ledger = Ledger(target, settings.zone, now=clock.now())
    except LedgerError as exc:
        raise Failure(str(exc)) from exc
    except Exception as exc:
        fault = classify(exc)
        if fault is not None and fault != LEDGER:
            raise StartFault(DeskFault(fault, exc)) from exc
        if is_url(target):
            raise Failure(f"无法连接账本数据库 {describe(target)}：{str(exc).strip()}。请检查地址、用户和权限") from exc
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
            raise Failure(f"无法打开账本 {target}：{exc}。账本须放在本机磁盘上，且当前用户可写") from exc
        if isinstance(exc, sqlite3.Error):
            raise Failure(
                f"账本文件已损坏或无法读取（{target}：{describe_fault(exc)}）。请停止所有 watcher，{_restore(target)}，"
                f"再运行 watcher recover 补上备份之后的业务{NO_BACKUP}"
            ) from exc
        raise
    ledger.issued = Issued(issued_path(layout.root, target))
    if guard:
        try:
            _unrecovered(layout)
            _guard(ledger, layout, settings.zone)
        except BaseException:
            ledger.close()
            raise
    return ledger


def _held(ledger) -> int:
    """The business a ledger holds: its requests and month-end runs."""
    return int(
        ledger.conn.execute(
            "SELECT (SELECT COUNT(*) FROM requests) + (SELECT COUNT(*) FROM month_end_runs)"
        ).fetchone()[0]
    )


def _restore(target) -> str:
    """How to put a backup back: beside a SQLite file, a -wal left from before is written into the copy at
    its first open (its pages over the backup's), so it goes first."""
    from .ledger.db import is_url

    if is_url(target):
        return "把账本恢复到最近的备份（见运维文档的备份与恢复）"
    name = Path(target).name
    return (
        f"把账本恢复到最近的备份（复制前先删除旁边的 {name}-wal 和 {name}-shm：留下的 -wal 会被写进复制回来的备份；"
        "见运维文档的备份与恢复）"
    )


def _unrecovered(layout: Layout) -> None:
    from .service.recovering import unfinished

    state = unfinished(layout.root)
    if state is not None:
        what = "发现不一致而停止" if state.get("state") == "mismatch" else "没有完成（可能被中断）"
        raise Failure(
            f"上一次 watcher recover {what}，账本尚未核实，不能开始工作。请运行 watcher recover --root {layout.root}"
            "（中断的会从停下处继续），按它的报告处理"
        )


def _recorded(layout: Layout):
    """The root's record of its ledger (ledger.identity), or None; one that cannot be read stops the command."""
    from .ledger.identity import read_record

    try:
        return read_record(layout.root)
    except (ValueError, OSError) as exc:
        raise Failure(
            f"无法读出此目录使用的是哪个账本：{exc}。请从备份恢复这个文件，或在确认账本地址无误后删除它再启动"
            "（启动时会重新记下）"
        ) from None


def _here(ledger, layout: Layout) -> str:
    """Where the open ledger lives (identity.location), asked of its own connection."""
    from .ledger.identity import location

    return location(ledger.target, layout.root, ledger.db if ledger.backend == "postgresql" else None)


def _refuse_foreign(layout: Layout, ledger, then: str, *, copy_of_root: bool = False) -> None:
    """A ledger not the root's (identity.verdict): refused, saying both and where the address came from.
    `then`: what to do once the address is right (再启动, 再运行). `copy_of_root`: a whole root's copy passes
    (a command that only reads)."""
    from .ledger.identity import ledger_id

    _refuse_other(layout, ledger.target, ledger_id(ledger), _here(ledger, layout), then, copy_of_root=copy_of_root)


def _refuse_other(
    layout: Layout, target, held: str | None, here: str, then: str, *, copy_of_root: bool = False
) -> None:
    """_refuse_foreign for a ledger at `target` with the id `held`, living at `here` (identity.location)."""
    from .ledger.db import describe
    from .ledger.identity import same_place, short, verdict

    record = _recorded(layout)
    found = verdict(record, held, here, layout.root)
    if found is None or (found == "root-copy" and copy_of_root):
        return
    assert record is not None
    take = (
        "请先停止所有主机上的 watcher，再运行 watcher recover --new-ledger "
        f"--root {layout.root}：它用 archive/ 核对并补齐这个账本，此后此目录改用它"
    )
    if found == "root-copy":
        then_root = Path(record.shown).parent
        raise Failure(
            f"此目录 {layout.root} 像是 {then_root} 的一份副本：那里的账本 {record.shown} 仍在，和这里的是同一个账本"
            f"（账本编号同为 {short(record.ledger)}）。两处都运行，会把同一个保单号发给两个团，只能用其中一处。"
            f"若此目录是搬过来的、原目录不再使用，请先停止原目录的 watcher，把原目录打包保存（如 tar）后删除"
            "（只改名的话，改名后的原目录仍能运行，照样重复发号），"
            f"{then}；若原目录仍在使用，请不要在这里运行 watcher"
        )
    if found == "other" and same_place(record.where, here, layout.root):
        # (the address is the recorded one: the file there was replaced, not the address mistyped)
        raise Failure(
            f"账本 {describe(target)} 已被换成另一个账本（账本编号 {short(held or '')}，此目录的账本编号是 "
            f"{short(record.ledger)}，记于 {record.at}）：多半是把别处的账本文件或别的目录的备份复制到了这里。"
            f"在它上面工作，会把已发出的保单号再次发给别的团。请换回此目录账本的备份，{then}（之后运行 watcher recover "
            f"补上备份之后的业务）。若确要改用这个账本，{take}"
        )
    if found == "copy":
        raise Failure(
            f"连上的账本 {describe(target)} 是此目录账本的另一份副本（账本编号同为 {short(record.ledger)}，位置不同）："
            f"此目录在用的是 {record.shown}（记于 {record.at}）。两份副本各自出单，会把同一个保单号发给两个团，只能用其中一份。"
            f"多半是{_url_source()}指错了（指向了备份恢复出的库、迁移前的旧账本或别的副本）：请改正后{then}。"
            f"若账本确已搬到这里、原处那份不再使用，{take}"
        )
    said = f"账本编号 {short(held)}" if held is not None else "较早版本建立、尚无账本编号"
    raise Failure(
        f"连上的账本 {describe(target)}（{said}）不是此目录的账本：此目录的账本是 {record.shown}"
        f"（账本编号 {short(record.ledger)}，记于 {record.at}）。多半是{_url_source()}指错了：请改正后{then}。"
        "在另一个账本上工作，会把已发出的保单号再次发给别的团。若确要改用这个账本（例如原账本已丢失，这是它恢复到"
        f"别处的备份），{take}"
    )


def _take_ledger(ledger, layout: Layout) -> None:
    """The ledger is the root's from now on: a start that passed every check, or `recover` done. One from
    before ids takes the root's id where it lives where the root's did (a new one built there keeps the old
    id: the same ledger rebuilt), else a new one; the record says where it lives now."""
    from .ledger.identity import give_id, ledger_id, record_path, same_place, shown, write_record

    record = _recorded(layout)
    held = ledger_id(ledger)
    here = _here(ledger, layout)
    if held is None:
        held = give_id(
            ledger, record.ledger if record is not None and same_place(record.where, here, layout.root) else None
        )
    if record is not None and (record.ledger, record.where, record.shown) == (held, here, shown(ledger.target)):
        return  # (the path shown refreshed too: a root moved, then copied, is told apart by it: identity.verdict)
    try:
        at = clock.now().astimezone(ledger.zone).isoformat(timespec="seconds")
        if record is not None and (record.ledger, record.where) == (held, here):
            at = record.at  # (only the path shown changed: 记于 still says when this ledger was recorded)
        write_record(layout.root, held, ledger.target, at, here)
    except OSError as exc:
        raise Failure(
            f"无法在根目录记下此目录使用的账本（{record_path(layout.root)}：{os_words(exc)}）：请检查根目录的磁盘空间"
            "和权限，再运行本命令"
        ) from None


def _recorded_elsewhere(layout: Layout, target):
    """The root's record where the ledger it names lives somewhere other than `target` (else None)."""
    from .ledger.identity import location, same_place

    record = _recorded(layout)
    if record is None or same_place(record.where, location(target, layout.root), layout.root):
        return None
    return record


def _new_ledger_elsewhere(layout: Layout, target, asked: bool) -> None:
    """`recover` building a ledger anew somewhere other than where the root's ledger lives: most likely a
    wrong address (an empty database); a second ledger would hand the same numbers out twice."""
    from .ledger.identity import shown

    record = None if asked or _ledger_found(target) else _recorded_elsewhere(layout, target)
    if record is None:
        return
    raise Failure(
        f"此目录的账本在 {record.shown}（记于 {record.at}），而这次要在 {shown(target)} 新建账本并从 archive/ 重建："
        f"多半是{_url_source()}指错了，请改正后再运行。若原账本确已丢失、要在这个新位置重建，请先停止所有主机上的 "
        "watcher（它们连的仍是原账本），再加 --new-ledger 运行 watcher recover；之后所有主机都要改用新地址"
    )


def _after_a_swap(ledger) -> None:
    """A SQLite ledger written over under the last process that ran on it (ledger.policies.note_swapped):
    its close checkpointed what it had committed into the file copied in, and SQLite's quick check does
    not read the indexes' entries. The whole file is checked, and the ledger's own rules, before anything
    is taken; the note goes once both pass."""
    from .ledger.check import check_ledger
    from .ledger.policies import SWAPPED_SUFFIX

    if ledger.path is None:
        return
    note = Path(str(ledger.path) + SWAPPED_SUFFIX)
    try:
        data = json.loads(note.read_text("utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError):
        data = {}
    try:
        found = [str(r[0]) for r in ledger.conn.execute("PRAGMA integrity_check").fetchall()]
        problems = [] if found == ["ok"] else found[:3]
        problems = problems or [d.message for d in check_ledger(ledger)[:3]]
    except sqlite3.DatabaseError as exc:
        problems = [describe_fault(exc)]
    if problems:
        what = "，".join(str(data[k]) for k in ("what", "at") if data.get(k))
        raise Failure(
            f"上次运行时账本文件被其他程序改写（{what or note}），现在的账本不完整：{'；'.join(problems)}。"
            f"请停止所有 watcher，{_restore(ledger.target)}，再运行 watcher recover 补上备份之后的业务{NO_BACKUP}"
        )
    note.unlink(missing_ok=True)


def _guard(ledger, layout: Layout, zone) -> None:
    from .ledger.issued import behind
    from .service.recovering import issued_unheld, unheld

    _left_behind(layout, ledger.target)
    damaged = ledger.integrity()
    if damaged:
        raise Failure(
            f"账本文件已损坏（{'；'.join(damaged[:3])}）。请停止所有 watcher，{_restore(ledger.target)}，"
            f"再运行 watcher recover 补上备份之后的业务{NO_BACKUP}"
        )
    _after_a_swap(ledger)
    _refuse_foreign(layout, ledger, "再启动")
    used = ledger.numbers_used()
    issued, at = ledger.issued.read(zone)
    late = behind(used, issued)
    if late:
        from .ledger.schema import NUMBER_WORDS as words

        which = "，".join(f"{words.get(n, n)}流水号账本只到 {u}，本机已发出到 {t}" for n, u, t in late)
        raise Failure(
            f"账本落后于本机已发出的编号：{which}（{ledger.issued.path} 记于 {at}）。账本很可能是从较早的备份"
            "恢复的，或是新建的：继续使用会把已印在电子保单上的号码再次发给别的团。请停止所有 watcher，"
            "运行 watcher recover 从 archive/ 重放备份之后的业务，或恢复更新的备份（见运维文档的备份与恢复）"
        )
    missing = unheld(layout.archive, ledger, zone)
    if missing:
        raise Failure(
            f"账本中没有事件记录（archive/_events/）里最近已办理的 {len(missing)} 项业务："
            f"{'、'.join(missing[:3])}{' 等' if len(missing) > 3 else ''}。账本很可能是从较早的备份恢复的，或是新建的"
            "（本机的编号记录也随之丢失）：继续使用会把已印在电子保单上的号码再次发给别的团。请停止所有 watcher，"
            "运行 watcher recover 从 archive/ 重放备份之后的业务（见运维文档的备份与恢复）"
        )
    lost = issued_unheld(layout, ledger, zone)
    if lost:
        raise Failure(
            f"archive/ 中有 {len(lost)} 个已办理成功的文件，账本和事件记录里都没有：{'、'.join(lost[:3])}"
            f"{' 等' if len(lost) > 3 else ''}。账本很可能连同编号记录和事件记录一起被恢复成了较早的备份（编号记录和"
            "事件记录不应随账本恢复）：继续使用会把已印在电子保单上的号码再次发给别的团。请停止所有 watcher，运行 "
            "watcher recover 从 archive/ 重放备份之后的业务（见运维文档的备份与恢复）"
        )
    if any(u > issued.get(n, 0) for n, u in used.items()):
        # A mark behind the ledger (a crash between a commit and the mark) catches up with what the ledger
        # holds; not with where the sequences stand, past numbers drawn by transactions rolled back (no
        # output shows them, and `recover` never draws them again).
        ledger.issued.raise_to(ledger.numbers_held())
    # What the running process compares each number it draws with (a number at or below it was handed out).
    known = ledger.issued.known
    ledger.issued.known = {n: max(known.get(n, 0), issued.get(n, 0)) for n in {*known, *issued}}
    ledger.watch_numbers = True  # level with the mark: it must stay so while this process runs
    _take_ledger(ledger, layout)  # (recorded only once every check passed: a refused start claims nothing)


def cmd_init(layout: Layout, args) -> int:
    layout.root.mkdir(parents=True, exist_ok=True)
    settings_file = layout.root / "watcher.toml"
    settings = load_settings(layout.root)
    _refuse_a_new_ledger_on_an_old_desk(layout, settings)
    from .ledger.db import ledger_target

    fresh = not _ledger_found(ledger_target(layout.root, settings.ledger))
    if fresh:
        from .ledger.identity import record_path

        # Nothing was handed out here (refused above otherwise): a record of a ledger gone goes with it.
        record_path(layout.root).unlink(missing_ok=True)
    if not fresh:
        for base in (layout.workbooks, layout.outbox):
            # A share gone (unmounted, renamed away) on a desk that has worked: made again here, the results
            # written into it meanwhile would be hidden once the share is back (the outbox was made anew,
            # whole, by the init the halt's advice sent the operator to for an _admin folder removed).
            if not base.exists():
                raise Failure(
                    f"{base} 不见了，而这里已有账本：多半是共享盘没有挂载或被改名，未建立任何文件夹（在这里新建，"
                    "共享盘回来后会盖住写进新文件夹的结果）。请先把共享盘挂载回来；确实要在这里重新开始，请先手工建立 "
                    f"{base / ADMIN} 文件夹，再运行 watcher init"
                )
            # An empty mount point on a desk that has worked: made again here, the desk's folders would be
            # hidden once the share is mounted back, with what was written into them meanwhile.
            if base.is_dir() and not any(True for _ in base.iterdir()):
                raise Failure(
                    f"{base} 是空的，而这里已有账本：多半是共享盘没有挂载，只剩挂载点，未在其中建立任何文件夹。"
                    f"请先挂载共享盘；确实要在这里重新开始，请先手工建立 {base / ADMIN} 文件夹，再运行 watcher init"
                )
    layout.create_base()
    wrote_settings = not settings_file.exists()
    if wrote_settings:
        settings_file.write_text(TEMPLATE, encoding="utf-8")
    ledger = _open(layout, settings, create=True, guard=True)
    try:
        from .ledger.db import describe

        if fresh or wrote_settings:
            made = ["文件夹"] + (["设置文件 watcher.toml"] if wrote_settings else [])
            made += [f"账本 {describe(ledger.target)}"] if fresh else []
            print(f"已初始化 {layout.root}：" + "、".join(made))
            if not fresh:
                print(f"账本 {describe(ledger.target)} 已存在，沿用")
        else:  # run again on a desk: nothing of it is made anew (a missing folder is; --demo may load below)
            print(f"{layout.root} 已初始化过：设置文件 watcher.toml 和账本 {describe(ledger.target)} 已存在，沿用")
        loaded = False
        if args.demo:
            from .demo import DEMO_AGENCY, DEMO_PLANS, load_demo

            at = clock.now()
            loaded = load_demo(ledger, layout, at)
            if loaded:
                _event(layout, "init", at, demo=True)
                print(
                    f"已载入演示数据：机构 {DEMO_AGENCY.code} {DEMO_AGENCY.name}，方案 "
                    + "、".join(f"{p.code} {p.name}" for p in DEMO_PLANS)
                )
            else:
                print(f"演示机构 {DEMO_AGENCY.code} 已存在，未重复载入")
            print(
                f"试一试：watcher template 投保 -o 团A.xlsx --root {layout.root}，填好后放进 "
                f"{layout.drop(DEMO_AGENCY.code)}/，再运行 watcher process --root {layout.root}"
            )
        if fresh and not loaded:
            _event(layout, "init", clock.now(), demo=False)
    finally:
        ledger.close()
    return 0


def _event(layout: Layout, kind: str, at, **data) -> None:
    """A change of the ledger that no dropped file tells of, in the desk's event log (synced): `watcher
    recover` repeats it."""
    from . import events

    try:
        events.append(layout.archive, kind, at, sync=True, **data)
    except OSError as exc:
        print(f"注意：未能写入事件记录 {events.log_path(layout.archive)}（{os_words(exc)}）", file=sys.stderr)


SHARED_ELSEWHERE = (
    "此目录的编号记录（ledger.numbers.json）表明它的账本在 PostgreSQL 上（多个 worker 共用）：请设置环境变量 "
    'WATCHER_LEDGER_URL，或在 watcher.toml 中写 ledger = "postgresql://…"，再运行。不要在此新建账本或从 archive/ 重建：'
    "那会把已发出的保单号再次发出"
)


def _shared_elsewhere(layout: Layout, target, issued_only: bool = False) -> bool:
    """A root whose PostgreSQL ledger handed out numbers, run without its URL (the variable not set in this
    shell): it looks for a SQLite file that never was."""
    from .ledger.db import is_url
    from .ledger.issued import Issued, issued_path

    shared = issued_path(layout.root, "postgresql://")
    if is_url(target):
        return False
    from .ledger.identity import read_record

    try:
        record = read_record(layout.root)
    except (ValueError, OSError):  # (said where the ledger is opened; status still shows the rest)
        record = None
    if not issued_only and record is not None and record.where.startswith("pg:"):  # (migrate recorded it)
        return True
    if issued_path(layout.root, target) == shared:  # (a SQLite ledger named `ledger`)
        return False
    issued, _ = Issued(shared).read()
    return any(issued.values())


def _left_behind(layout: Layout, target) -> None:
    """Refuse a SQLite ledger on a root whose ledger moved to PostgreSQL (`migrate`, then run without the
    URL): it lacks what the workers did since, and would hand their numbers out again; `recover` onto it
    would fork the ledger in two."""
    if _shared_elsewhere(layout, target) and Path(target).exists():  # (none there: 找不到账本, said where asked)
        raise Failure(f"账本 {target} 是此目录迁移到 PostgreSQL 之前的 SQLite 账本，不再使用。{SHARED_ELSEWHERE}")


def _first_step(layout: Layout, target=None) -> str:
    """What to run where the ledger is missing: init on a new root, recover where one has been, the URL
    where the root's ledger is on PostgreSQL."""
    if target is not None and _shared_elsewhere(layout, target):
        return SHARED_ELSEWHERE
    record = _recorded_elsewhere(layout, target) if target is not None else None
    if record is not None:
        return (
            f"此目录的账本在 {record.shown}（记于 {record.at}），不在这里：多半是{_url_source()}指错了，"
            "请改正后再运行。不要在这里新建账本或从 archive/ 重建：那会有两个账本，把已发出的保单号再次发出"
        )
    if _had_a_ledger(layout):
        return (
            f"此目录曾有账本（archive/ 中有它的归档文件或事件记录）：请把账本备份恢复到原处后运行 watcher recover --root {layout.root}，"
            "或直接运行它从 archive/ 重建账本（见运维文档的备份与恢复）"
        )
    return f"请先运行：watcher init --root {layout.root}"


def _had_a_ledger(layout: Layout) -> bool:
    return layout.archive.is_dir() and any(
        p.is_file() and not p.name.startswith(".") for p in layout.archive.rglob("*")
    )


def _refuse_a_new_ledger_on_an_old_desk(layout: Layout, settings) -> None:
    """A root whose archive holds processed originals (or whose mark says numbers were handed out) has had
    a ledger: a new one would hand its numbers out again. init keeps working where the ledger exists."""
    from .ledger.db import describe, ledger_target
    from .ledger.issued import Issued, issued_path

    target = ledger_target(layout.root, settings.ledger)
    if _ledger_found(target):
        return
    if _shared_elsewhere(layout, target):
        raise Failure(f"找不到账本 {describe(target)}。{SHARED_ELSEWHERE}")
    archived = _had_a_ledger(layout)
    issued, _ = Issued(issued_path(layout.root, target)).read()
    if archived or any(issued.values()):
        if _recorded_elsewhere(layout, target) is not None:  # (a wrong address: said so)
            raise Failure(f"找不到账本 {describe(target)}。{_first_step(layout, target)}")
        raise Failure(
            f"找不到账本 {describe(target)}，但此目录{'的 archive/ 中有归档文件或事件记录' if archived else '已发出过编号'}："
            "这里曾有账本。新建账本可能把已发出的保单号再次发出，所以不予新建。请把账本备份恢复到原处后运行 "
            "watcher recover，或直接运行 watcher recover 从 archive/ 重建账本（见运维文档的备份与恢复）；"
            "确需在此重新开始，请换一个新目录"
        )


def _locked_desk(layout: Layout, settings):
    """XML protections checked, the root's lock, then the ledger (refused on a network filesystem)."""
    from .security import UnsafeSetup, assert_safe_xml
    from .service.fscheck import network_filesystem

    try:
        assert_safe_xml()
    except UnsafeSetup as exc:
        raise Failure(str(exc)) from None

    from .ledger.db import is_url, ledger_target

    ledger_path = ledger_target(layout.root, settings.ledger)
    if is_url(ledger_path):
        return None  # PostgreSQL: several workers may share the root; the database keeps them apart
    if not ledger_path.exists():
        raise Failure(f"在 {layout.root} 找不到账本 {settings.ledger}。{_first_step(layout, ledger_path)}")
    fs = network_filesystem(ledger_path.parent)
    if fs:
        raise Failure(
            f"账本 {ledger_path} 位于网络文件系统（{fs}）上。SQLite 的 WAL 模式只能在本机磁盘上使用："
            f'请把账本放在本机磁盘（例如 /var/lib/watcher），并在 watcher.toml 中设置 ledger = "/var/lib/watcher/ledger.sqlite3"；'
            "投递文件夹可以留在共享盘上"
        )
    lock = _hold_root(layout, "同一目录只能运行一个 serve 或 process，请等它结束（或先停止 watcher serve）后再试")
    return lock


def _hold_root(layout: Layout, advice: str):
    """The root's lock (one serve, process or recover per root on SQLite), or a Failure saying who holds it."""
    from .service.lock import RootBusy, RootLock

    lock = RootLock(layout.root)
    try:
        lock.__enter__()
    except RootBusy as busy:
        raise Failure(f"{layout.root} 正由另一个 watcher 使用（{busy}）。{advice}") from None
    return lock


@contextmanager
def _running(layout: Layout, command: str, held=None):
    """For serve and process: settings, the root's lock, logs, the ledger, and a stop flag for signals.
    `held`: the root's lock, already held by the caller (serve waiting to start), kept after."""
    import threading

    from .io.sandbox import Sandbox

    settings = load_settings(layout.root)
    # The parse sandbox starts first, a copy of this process as it is now: it holds no lock, no ledger, no
    # log and no thread yet, and is ready at once (a new interpreter takes 50–100 ms to start). Where the
    # lock is held already, a new interpreter: a copy would hold the lock too.
    parser = Sandbox.for_settings(settings)
    parser.warm(fork=held is None)
    try:
        lock = held if held is not None else _locked_desk(layout, settings)
    except BaseException:
        parser.close()
        raise
    from .service.health import say_going_on

    try:
        from .service.logs import configure
        from .service.signals import install_signal_handlers
        from .walk.desk import Desk

        say_going_on(layout.root)  # what a service killed while its intake was stopped said is not this run's
        configure(layout.root, settings.zone, to_stdout=True)
        ledger = _open(layout, settings, create=False, guard=True)
        worker, beat = None, None
        if ledger.backend == "postgresql":  # several workers may share this root: each keeps its claims apart
            import os
            import socket

            from .service.intake import worker_name

            worker = worker_name(socket.gethostname(), os.getpid())
            # Held while this worker lives: others see it is alive. A session lock dies with its connection:
            # taken again on each new one (a database restarted), the desk halted until it is.
            ledger.keep_lock(f"worker:{worker}")
            ledger.register_worker(worker, command, clock.now())
            os.environ["WATCHER_WORKER"] = worker  # its helper processes name their temporary files after it
            from .service.heartbeat import Heartbeat

            # Said on the shared root too, whatever the database does: recover sees a worker cut off from it.
            beat = Heartbeat(layout.root, worker, command).start()
        stop = threading.Event()
        install_signal_handlers(stop)
        _look_for_printed(ledger, layout)
        try:
            yield Desk(layout, settings, ledger, worker=worker, parser=parser), stop
        finally:
            if beat is not None:
                beat.close()
            if worker:
                say_going_on(layout.root, worker)
                try:
                    ledger.unregister_worker(worker)
                except ledger.db.Error:  # the database went away: the next worker to start clears the row
                    pass
            # A backup copied over the file since the last rescan (a stop soon after): the close checkpoints this
            # process's commits into it, and nothing said so (the start after found the file 正常 and issued on
            # one damaged). Noted beside it, the next start checks the whole file first.
            try:
                if ledger.note_if_written():
                    logging.getLogger("watcher").error(
                        "账本文件在服务停止前被其他程序改写或替换：已记下，下次启动时会先全面核对账本文件"
                    )
            except OSError:  # (only a look before closing: the close goes on)
                pass
            ledger.close()
    finally:
        parser.close()
        say_going_on(layout.root)
        if lock is not None and held is None:
            lock.__exit__(None, None, None)


def _look_for_printed(ledger, layout: Layout) -> None:
    """Numbers whose file is already in the outbox (a policy's page, a statement's workbook) are skipped, never
    handed out again (Ledger._unprinted): the commands that hand numbers out."""
    from .walk.names import SKIPPED_LIST, Printed

    ledger.printed = Printed(layout)
    ledger.skip_list = layout.root / SKIPPED_LIST


def cmd_process(layout: Layout, args) -> int:
    with _running(layout, "process") as (desk, stop):
        from .service.process import process_all  # loaded while the parse sandbox, started already, waits

        report = process_all(desk, progress=sys.stderr.isatty(), stop=stop)
    n = report.total
    print(
        f"处理完成：{n} 个文件（成功 {report.count('success')}，试算 {report.count('quote')}，"
        f"失败 {report.count('failed')}，重复提交 {report.count('duplicate')}）"
        + (
            f"；{len(report.refused_folders)} 个文件不在已登记机构的文件夹中，未处理，详见 outbox/_admin/"
            if report.refused_folders
            else ""
        )
        # Done in the ledger, results not yet out: counted here too, so stdout never says 0 files of a run
        # that issued policies (only stderr said so).
        + (f"；另有 {len(report.pending)} 个文件已办理（已生效），结果暂时无法写出" if report.pending else "")
    )
    if report.pending:
        from .walk.claim import read_record

        print(
            f"watcher process：另有 {len(report.pending)} 个文件已办理（已生效），但结果暂时无法写出；"
            "原因消除后，下次运行 process 或 serve 时写出：",
            file=sys.stderr,
        )
        for path, who in report.pending[:20]:
            record = read_record(path, who)
            name = record.original if record is not None else path.name
            why = record.pending if record is not None and record.pending else "无法写入"
            print(f"  {who}/{name}：{why}", file=sys.stderr)
    if report.held:
        print(
            f"watcher process：另有 {len(report.held)} 个文件尚未办理，因账本暂时无法访问留在处理中（保留原结果文件名），"
            "下次运行 process 或 serve 时继续处理",
            file=sys.stderr,
        )
    if report.halted is not None:
        print(f"watcher process：{report.halted.line(running=False)}", file=sys.stderr)
    return 1 if report.pending or report.held or report.halted is not None else 0


def cmd_serve(layout: Layout, args) -> int:
    """On a full disk, a locked ledger or a database away, it logs and waits instead of exiting."""
    import time

    from .service.health import say_halted
    from .service.serve import Service

    held = None  # the root's lock, kept while waiting to start: status says a service is there (and why it
    # waits), and a second serve is refused instead of waiting beside it
    try:
        while True:
            try:
                with _running(layout, "serve", held=held) as (desk, stop):
                    Service(desk, stop=stop).run()
                return 0
            except StartFault as exc:
                settings = load_settings(layout.root)
                if held is None:
                    held = _locked_desk(layout, settings)
                say_halted(layout.root, exc.fault, clock.now())
                print(
                    f"watcher serve：启动时{exc.fault.line()}（{settings.rescan_seconds:g} 秒后重试；Ctrl-C 停止）",
                    file=sys.stderr,
                    flush=True,
                )
                time.sleep(settings.rescan_seconds)
    finally:
        if held is not None:
            held.__exit__(None, None, None)


def cmd_status(layout: Layout, args) -> int:
    from .ledger.db import describe, ledger_target
    from .service.status import status_text

    settings = load_settings(layout.root)
    target = ledger_target(layout.root, settings.ledger)
    _left_behind(layout, target)
    if not _ledger_found(target):
        if _had_a_ledger(layout) or _shared_elsewhere(layout, target):
            raise Failure(f"在 {layout.root} 找不到账本 {describe(target)}。{_first_step(layout, target)}")
        raise Failure(
            f"在 {layout.root} 找不到账本 {describe(target)}：这里还不是 watcher 的根目录。"
            f"请用 --root 指定根目录，或先运行 watcher init --root {layout.root}"
        )
    print(status_text(layout, settings, clock.now()))
    return 0


def cmd_template(layout: Layout, args) -> int:
    from xlsxwriter.exceptions import FileCreateError

    from .io.templates import write_template
    from .kinds import BY_ACTION as KINDS  # every request kind, in the order they are declared
    from .kinds import normalise_action

    args.kind = normalise_action(args.kind) or args.kind  # 出单 for 投保, as a workbook's 操作类型 may say it
    if args.kind not in KINDS:
        print(f"watcher template: 不认识的种类“{args.kind}”。可用：{'、'.join(KINDS)}", file=sys.stderr)
        return 2
    plans = []
    from .ledger.db import ledger_target

    settings = load_settings(layout.root)
    _left_behind(layout, ledger_target(layout.root, settings.ledger))  # (its plans are not the desk's now)
    try:
        found = _ledger_found(ledger_target(layout.root, settings.ledger))
    except StartFault as away:  # the database away: the blank is still written, without the plans' list
        if args.agency:
            raise
        print(f"注意：{away}。模板照常写出，但“方案代码”没有下拉列表", file=sys.stderr)
        found = False
        args.agency = None
    if found:
        ledger = _open(layout, settings, create=False)
        try:
            plans = [(p.code, p.name, p.region) for p in ledger.plans()]
            if args.agency:
                from .domain.text import code_text

                agency = ledger.agency(code_text(args.agency))  # ＧＺ００３ as the 机构 upload folds it
                if agency is None:
                    known = "、".join(a.code for a in ledger.agencies()) or "无"
                    raise Failure(f"机构“{args.agency}”没有登记（已登记：{known}）。请检查 --agency 的机构代码")
                if not agency.active:
                    print(
                        f"注意：机构 {agency.code} 已终止合作，它提交的投保和批改都会被拒绝（仍可办理查询和补打）",
                        file=sys.stderr,
                    )
                plans = [p for p in plans if p[0] in agency.plans]
        except Exception as exc:  # a damaged or locked ledger: the blank is still written, without the list
            fault = classify(exc)
            if fault is None:
                raise
            print(
                f"注意：{DeskFault(fault, exc).line(running=False)}。模板照常写出，但“方案代码”没有下拉列表",
                file=sys.stderr,
            )
        finally:
            ledger.close()
    elif args.agency:
        raise Failure(
            f"{layout.root} 还没有账本，无法按机构“{args.agency}”列出方案。请检查 --root，或先运行 watcher init"
        )
    out = Path(args.output)
    if out.is_dir():  # -o a folder (t/): the template inside it, as cp would put it, not t.xlsx beside it
        out = out / f"{args.kind}.xlsx"
    asked = out
    if out.suffix.lower() != ".xlsx":
        out = out.with_suffix(out.suffix + ".xlsx") if out.suffix else out.with_suffix(".xlsx")
    from .io.atomic import replacing

    if not out.resolve().parent.is_dir():
        # Never made: a typo in the folder (workbook/ for workbooks/) would leave the clerk's file where no
        # scan looks.
        raise Failure(f"文件夹 {out.parent} 不存在。请检查 -o 的路径，或先建好这个文件夹")
    kept = None
    try:
        with replacing(out.resolve()) as tmp:
            write_template(args.kind, tmp, plans, settings.channels)
            if out.is_file() and out.read_bytes() != Path(tmp).read_bytes():
                # A file of that name (a roster filled in it?) is kept under another name, never lost.
                kept = _aside(out)
    except (OSError, FileCreateError) as exc:
        raise Failure(f"无法写入 {out}（{exc}）。请换一个可写的位置") from None
    if kept is not None:
        print(f"注意：{out} 已存在，原文件改名保留为 {kept.name}")
    print(f"已生成 {args.kind} 模板：{out}")
    if asked.suffix and asked.suffix.lower() != ".xlsx":  # .xls, .csv: only .xlsx is written (with dropdowns)
        print(f"注意：模板只生成 .xlsx 格式（带下拉列表和填写说明），所以文件名是 {out.name}，不是 {asked.name}")
    return 0


def _aside(path: Path) -> Path:
    """A second name for an existing file (hard link, else a copy): `<stem>_原文件_<n><suffix>` beside it."""
    n = 1
    while (aside := path.with_name(f"{path.stem}_原文件_{n}{path.suffix}")).exists():
        n += 1
    try:
        os.link(path, aside)
    except OSError:
        shutil.copy2(path, aside)
    return aside


def _folders_there(layout: Layout) -> None:
    """Statements and results are not written where the outbox share should be but is not (unmounted: an
    empty mount point, or no folder at all): made there, they would be hidden once it is mounted back, and
    the ledger would say they were sent."""
    from .service.health import folders_gone

    gone = folders_gone(layout)
    if gone is not None:
        raise gone


def cmd_month_end(layout: Layout, args) -> int:
    from .domain.settlement import MonthError, month_of, parse_month, previous_month
    from .service.logs import configure
    from .service.month_end import COMMAND, LOCK, MonthNotEnded, run_or_resume, write_unwritten

    settings = load_settings(layout.root)
    now = clock.now()
    if args.month:
        try:
            month = parse_month(args.month)
        except MonthError:
            shape = re.fullmatch(r"\s*\d{4}\s*[-/.年]\s*\d{1,2}\s*月?\s*", args.month)
            why = "超出范围（年份须在 2000 至 2999 之间，月份 1 至 12）" if shape else "无效，请写成 YYYY-MM"
            print(f"watcher month-end: 月份“{args.month}”{why}，例如 --month 2026-11", file=sys.stderr)
            return 2
    else:
        month = previous_month(month_of(now, settings.zone))
    _folders_there(layout)
    ledger = _open(layout, settings, create=False, guard=True)
    _look_for_printed(ledger, layout)
    try:
        configure(layout.root, settings.zone, to_stdout=False)
        first = ledger.first_issued_at()
        if first is None or month < month_of(first, settings.zone):
            # No business that month: no statement, no detail sheet, no empty summary to mislead anyone.
            since = f"本机第一笔保单投保于 {month_of(first, settings.zone):%Y-%m}" if first else "本机还没有任何保单"
            print(f"月结 {month:%Y-%m}：该月没有业务（{since}），无需月结，未写出任何文件")
            return 0
        if not ledger.try_lock(LOCK):
            raise Failure("另一个 watcher 正在运行月结。请等它结束后再试（watcher status 可查看）")
        try:
            report = run_or_resume(ledger, layout, settings, month, now, COMMAND)
            assert report is not None  # without wait, always a run
            waiting = write_unwritten(ledger, layout, settings, now)  # this month's, and earlier runs'
        except MonthNotEnded as exc:
            raise Failure(str(exc)) from None
        finally:
            ledger.unlock(LOCK)
    finally:
        ledger.close()
    print(
        f"月结 {month:%Y-%m} 完成：新生成对账单 {len(report.created)} 张"
        + (
            f"（{'、'.join(s.statement_no for s in report.created[:10])}{'…' if len(report.created) > 10 else ''}）"
            if report.created
            else ""
        )
        + f"，等待结账 {len(report.waiting)} 个（机构×方案），写出 {len(report.files)} 个文件；"
        f"汇总见 outbox/_admin/月结汇总_{month:%Y-%m}.xlsx"
    )
    for w in report.waiting[:20]:
        print(f"  等待：{w.agency} {w.plan}：{w.reason}")
    if waiting:
        print(
            "以下机构的月结文件未能写出，其他机构的已写出；该文件夹恢复后，watcher serve 会自动补写"
            "（或再运行一次 watcher month-end）：",
            file=sys.stderr,
        )
        for month_label, agencies in waiting.items():
            for agency in agencies:
                why = report.unwritten.get(agency, "") if month_label == f"{month:%Y-%m}" else ""
                print(f"  {month_label} {agency}" + (f"：{why}" if why else ""), file=sys.stderr)
    if report.problems:
        print(f"账本核对发现 {len(report.problems)} 处不一致：", file=sys.stderr)
        for line in report.problems:
            print("  " + line, file=sys.stderr)
        return 1
    return 1 if waiting else 0


UNHELD_SHOWN = 20  # missing business named one by one by `check`; the rest counted


def cmd_check(layout: Layout, args) -> int:
    from .domain.settlement import parse_run_time
    from .ledger.check import Discrepancy, check_ledger
    from .ledger.issued import behind

    settings = load_settings(layout.root)
    ledger = _open(layout, settings, create=False)
    try:
        # (another ledger's money said 一致 of this desk's; a copy of the whole root is this desk's ledger, and
        # checking a backup unpacked beside the desk only reads it)
        _refuse_foreign(layout, ledger, "再运行", copy_of_root=True)
        try:
            damaged = ledger.integrity()
            shown = f"{'；'.join(damaged[:3])}{f' 等共 {len(damaged)} 处' if len(damaged) > 3 else ''}"
            found = (  # one line however many the check found
                [
                    Discrepancy(
                        "ledger.damaged",
                        str(ledger.target),
                        "ok",
                        "；".join(damaged),
                        f"账本文件已损坏（SQLite 的检查：{shown}）。请停止所有 watcher，{_restore(ledger.target)}，"
                        f"再运行 watcher recover{NO_BACKUP}",
                    )
                ]
                if damaged
                else []
            )
            # A damaged file is not read any further: what its pages say cannot be believed (or read).
            found = found or check_ledger(ledger, clock.now(), parse_run_time(settings.month_end_time))
            counts = {} if damaged else ledger.counts()
            statements = 0 if damaged else len(ledger.statements())
        except Exception as exc:  # locked by another program, broken, away: one line, never a traceback
            fault = classify(exc)
            if fault is None:
                raise
            raise Failure(f"无法核对：{DeskFault(fault, exc).line(running=False)}") from None
        from .ledger.schema import NUMBER_WORDS as words

        issued, at = ledger.issued.read(settings.zone)
        found += [
            Discrepancy(
                "numbers.behind",
                name,
                str(top),
                str(used),
                f"{words.get(name, name)}流水号：账本只到 {used}，本机已发出到 {top}（{at}）：账本落后，可能是从较早的备份恢复的",
            )
            for name, used, top in ([] if damaged else behind(ledger.numbers_used(), issued))
        ]
        from .service.recovering import unfinished, unheld

        missing = [] if damaged else unheld(layout.archive, ledger, settings.zone, last=None)  # the whole log
        found += [
            Discrepancy(
                "events.unheld",
                line,
                "in the ledger",
                "missing",
                f"事件记录（archive/_events/）中已办理的业务不在账本中：{line}：账本落后，可能是从较早的备份恢复的，"
                "请运行 watcher recover",
            )
            for line in missing[:UNHELD_SHOWN]
        ]
        if len(missing) > UNHELD_SHOWN:
            more = len(missing) - UNHELD_SHOWN
            found.append(
                Discrepancy(
                    "events.unheld",
                    "",
                    "in the ledger",
                    f"{more} more",
                    f"……事件记录中另有 {more} 项已办理的业务不在账本中（共 {len(missing)} 项）：请运行 watcher recover",
                )
            )
        state = unfinished(layout.root)
        if state is not None:  # serve and process refuse to start on it: check does not call it consistent
            stopped = state.get("state") == "mismatch"
            found.append(
                Discrepancy(
                    "recover.unfinished",
                    str(state.get("ledger") or ledger.target),
                    "finished",
                    str(state.get("state") or "unfinished"),
                    f"上一次 watcher recover {'发现不一致而停止' if stopped else '没有完成（可能被中断）'}，"
                    "账本尚未核实，serve 和 process 不会启动："
                    + ("；".join(str(m) for m in (state.get("mismatches") or [])[:3]) + "。" if stopped else "")
                    + f"请按 watcher recover --root {layout.root} 的报告处理",
                )
            )
    finally:
        ledger.close()
    problems = [d.message for d in found]
    if args.json:
        print(
            json.dumps(
                {
                    "consistent": not found,
                    "discrepancies": [
                        {
                            "code": d.code,
                            "record": d.record,
                            "expected": d.expected,
                            "found": d.found,
                            "message": d.message,
                        }
                        for d in found
                    ],
                    "counts": {**counts, "statements": statements},
                },
                ensure_ascii=False,
                indent=1,
            )
        )
        return 1 if found else 0
    if problems:
        print(f"账本核对：发现 {len(problems)} 处不一致！请立即处理，并把本输出转交技术人员：", file=sys.stderr)
        for line in problems:
            print("  " + line, file=sys.stderr)
        return 1
    print(
        f"账本核对：一致。保单 {counts['policies']} 张、对账单 {statements} 张、流水 {counts['journal']} 条；"
        "对账单金额、保单归属、缴费金额、编号与流水重放全部相符"
    )
    from .service.status import skipped_numbers

    skipped = skipped_numbers(layout)
    if skipped:  # (the ledger agrees with itself; whether it lacks business done before a restore, it cannot say)
        print(
            f"注意：另有 {len(skipped)} 个编号因 outbox 中已有同一流水号的文件而未使用（{'、'.join(skipped[:3])}"
            f"{' 等' if len(skipped) > 3 else ''}）：若不是旅行社自己放进去的，账本可能恢复到了较早的备份而缺少此后办理的"
            "业务，本核对看不出来。见 watcher status 和运维文档的备份与恢复"
        )
    return 0


def cmd_web(layout: Layout, args) -> int:
    from .ledger.db import describe, is_url, ledger_target
    from .service.logs import configure
    from .web.server import serve_web

    settings = load_settings(layout.root)
    target = ledger_target(layout.root, settings.ledger)
    _left_behind(layout, target)
    if not _ledger_found(target):
        raise Failure(f"在 {layout.root} 找不到账本 {describe(target)}。{_first_step(layout, target)}")
    if not is_url(target):  # (a web-only host of a PostgreSQL ledger may hold only watcher.toml)
        _web_root_is_a_desk(layout)
    _web_ledger_is_ours(layout, target)
    configure(layout.root, settings.zone, to_stdout=True)
    host = args.host or settings.web_host
    port = args.port if args.port is not None else settings.web_port
    # Judged here, not when settings load: a page's setting never stops the desk's own commands.
    if not 1 <= port <= 65535 or isinstance(port, float):
        raise Failure(f"设置 web_port = {port!r} 无效，请填 1 到 65535 的整数（或用 --port）")
    workers = args.workers or settings.web_workers
    if not 1 <= workers <= 64 or isinstance(workers, float):
        raise Failure(f"设置 web_workers = {workers!r} 无效，请填 1 到 64 的整数（或用 --workers）")
    from .settings import WEB_RANGES, out_of_range

    wrong = out_of_range(settings, WEB_RANGES)  # web_threads = 0 started a page that never answered
    if wrong:
        raise Failure(wrong)
    try:
        serve_web(layout.root, settings, host, port, workers)
    except OSError as exc:
        import errno
        import socket

        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            why = "这台机器没有这个地址，请用 --host 填本机的地址（如 127.0.0.1 或 0.0.0.0）"
        elif exc.errno == errno.EACCES:
            why = "1024 以下的端口需要管理员权限，请用 --port 换一个（如 8080），或放在反向代理后面"
        elif exc.errno == errno.EADDRINUSE:
            why = "端口已被占用，请用 --port 换一个"
        else:
            why = "请检查 --host 和 --port"
        raise Failure(f"无法在 {host}:{port} 上提供服务（{os_words(exc)}）。{why}") from None
    return 0


def _web_root_is_a_desk(layout: Layout) -> None:
    """The page tells whether its ledger may be trusted from the root (the record of its ledger, the archive's
    event log, the mark of numbers handed out): a folder holding only a copy of a ledger has none of them,
    and its policies were served as current (a 撤单 made since said 有效), /healthz ok."""
    from .ledger.identity import RECORD_NAME, record_path

    if layout.archive.is_dir() or record_path(layout.root).exists():
        return
    raise Failure(
        f"{layout.root} 不像 watcher 的根目录（没有 archive/，也没有 {RECORD_NAME}）：查询页面须在服务的根目录上运行"
        "（--root 指向它），否则回答的是一份不知新旧的账本。请用 --root 指定根目录"
    )


def _web_ledger_is_ours(layout: Layout, target) -> None:
    """The page serves the root's ledger only: another desk's (a mistyped WATCHER_LEDGER_URL) or a copy
    behind it would tell travellers with valid policies 未查到. Read-only, as the page reads it."""
    from .ledger.lookup import LookupLedger

    lookup = LookupLedger(target)
    try:
        held, here = lookup.whose(layout.root)
    except Exception as exc:
        if classify(exc) is None:
            raise
        return  # (the ledger unreachable now: the page says 维护 until it answers, as for any lookup)
    finally:
        lookup.close()
    _refuse_other(layout, target, held, here, "再启动")


def cmd_migrate(layout: Layout, args) -> int:
    from .ledger.db import is_url

    if not is_url(args.to):
        print(
            "watcher migrate: --to 须为 PostgreSQL 地址，例如 postgresql://watcher@db.example/watcher", file=sys.stderr
        )
        return 2
    settings = load_settings(layout.root)
    from .ledger.db import ledger_target

    # A service still working on the SQLite ledger would commit after the copy: what it did would be in the
    # old ledger only. Refused while one runs (its root lock), held while copying.
    lock = (
        None
        if is_url(ledger_target(layout.root, settings.ledger))
        else _hold_root(layout, "复制账本前请先停止 watcher serve / process，复制完成并改用新账本后再启动")
    )
    try:
        _unrecovered(layout)  # a ledger a stopped recover left holds replays never verified: not carried on
        _copy_ledger(layout, settings, args)
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)
    return 0


def _copy_ledger(layout: Layout, settings, args) -> None:
    from .ledger import Ledger
    from .ledger.copy import CopyRefused, copy_ledger
    from .ledger.db import describe, is_url

    source = _open(layout, settings, create=False)
    try:
        damaged = source.integrity()
        if damaged:
            raise Failure(
                f"账本文件已损坏（{'；'.join(damaged[:3])}），不能复制。请先把账本恢复到最近的备份"
                "（见运维文档的备份与恢复），运行 watcher recover，再复制"
            )
        _refuse_foreign(layout, source, "再运行")  # (another desk's ledger or a copy would become this root's)
        from .ledger.identity import give_id, ledger_id, same_place

        if ledger_id(source) is None:  # (the copy carries the id: the same ledger, moved)
            record = _recorded(layout)
            same = record is not None and same_place(record.where, _here(source, layout), layout.root)
            give_id(source, record.ledger if same and record is not None else None)
        try:
            target = Ledger(args.to, settings.zone, now=clock.now())
        except Exception as exc:
            raise Failure(f"无法连接 {describe(args.to)}：{str(exc).strip()}") from None
        try:
            copied = copy_ledger(source, target)
            # The root works with the copy from now on: a service started on the file left behind (the old
            # unit, run without the URL) is refused as another copy, before the new ledger has issued.
            _take_ledger(target, layout)
        except CopyRefused as exc:
            raise Failure(str(exc)) from None
        finally:
            target.close()
    finally:
        source.close()
    _event(layout, "migrate", clock.now(), to=describe(args.to))
    print(
        f"已把账本 {describe(source.target)} 复制到 {describe(args.to)}，两边 watcher check 核对一致："
        + "，".join(f"{t} {n}" for t, n in copied.items() if n)
    )
    print(
        f'今后使用它：在 watcher.toml 中写 ledger = "{describe(args.to)}"（或设置 WATCHER_LEDGER_URL），'
        + (
            "原 SQLite 账本保留不动，但此目录不再使用它（要退回，停止所有 watcher 后用它运行 watcher recover --new-ledger）"
            if not is_url(source.target)
            else "原账本保留不动，但此目录不再使用它"
        )
    )


def cmd_recover(layout: Layout, args) -> int:
    """Replay the archive onto the ledger as it is (restored from a backup, or new): see service/replay.py."""
    from . import events
    from .domain.settlement import parse_run_time
    from .ledger.check import check_ledger
    from .ledger.db import describe, is_url, ledger_target
    from .ledger.issued import behind
    from .security import UnsafeSetup, assert_safe_xml
    from .service.intake import sandboxed
    from .service.logs import configure
    from .service.month_end import LOCK
    from .service.recovering import clear, clear_lost, clear_outputs, save_state, unfinished
    from .service.replay import RecoverReport, Replay, plan_replay, printed_beyond, reconcile, strangers, tally
    from .walk.desk import Desk

    try:
        assert_safe_xml()
    except UnsafeSetup as exc:
        raise Failure(str(exc)) from None
    settings = load_settings(layout.root)
    target = ledger_target(layout.root, settings.ledger)
    from .ledger.issued import Issued, issued_path

    asked = getattr(args, "new_ledger", False)
    _recorded(layout)  # (a record that cannot be read stopped --new-ledger only after the whole replay, which it
    # left marked unfinished: every start then refused, the record put back or not)
    if not _ledger_found(target) and _shared_elsewhere(layout, target, asked):
        raise Failure(f"找不到账本 {describe(target)}。{SHARED_ELSEWHERE}")
    if not asked:  # (--new-ledger: back to the SQLite file a migration left, once nothing was issued there)
        _left_behind(layout, target)
    elif _shared_elsewhere(layout, target, True) and Path(target).exists():
        raise Failure(
            f"账本 {target} 是此目录迁移到 PostgreSQL 之前的 SQLite 账本，PostgreSQL 上的账本已经出过单，不能退回。{SHARED_ELSEWHERE}"
        )
    _new_ledger_elsewhere(layout, target, asked=asked)
    if (
        not _ledger_found(target)
        and not _had_a_ledger(layout)
        and not any(Issued(issued_path(layout.root, target)).read()[0].values())
    ):
        raise Failure(
            f"{layout.root} 没有账本，也没有处理过的文件（archive/）：这里没有可以恢复的东西。请检查 --root 是否写对；"
            "新的目录请用 watcher init"
        )
    _folders_there(layout)
    lock = None
    if not is_url(target):
        lock = _hold_root(layout, "恢复前请先停止 watcher serve / process")
    try:
        configure(layout.root, settings.zone, to_stdout=False)
        ledger = _open(layout, settings, create=True, back=asked)
        try:
            damaged = ledger.integrity()
            if damaged:
                raise Failure(
                    f"账本文件已损坏（{'；'.join(damaged[:3])}）：请先{_restore(ledger.target)}（或移走它，从空账本重放），"
                    "再运行 watcher recover"
                )
            _after_a_swap(ledger)  # (a file written over under serve: checked whole, not only quickly)
            # (another desk's ledger, a test database, a copy; a run killed mid-way is taken up on its ledger)
            if not getattr(args, "new_ledger", False) and (unfinished(layout.root) or {}).get("state") != "replaying":
                _refuse_foreign(layout, ledger, "再运行")
            if not ledger.try_lock("recover") or not ledger.try_lock(LOCK):
                raise Failure("另一个 watcher 正在使用这个账本（恢复或月结）。请停止所有 watcher 后再试")
            live = ledger.workers() if ledger.backend == "postgresql" else []
            if live:  # (SQLite: the root's lock, taken above, keeps serve and process out)
                raise Failure(
                    f"还有 {len(live)} 个 watcher 工作进程在使用这个账本（{'、'.join(n for n, _, _ in live[:5])}）："
                    "重放时它们会同时受理文件、发出编号。请先停止所有主机上的 watcher serve / process，再运行 watcher recover"
                )
            if ledger.backend == "postgresql":
                from .service.heartbeat import beating

                # A worker cut off from the database has no session to be seen by, yet it lives: once back it
                # would take files beside the replay. Its beat file on this root still changes.
                cut_off = beating(layout.root)
                if cut_off:
                    raise Failure(
                        f"还有 {len(cut_off)} 个 watcher 工作进程仍在运行，但暂时连不上账本数据库（"
                        + "、".join(b.said() for b in cut_off[:5])
                        + "）：连上后它们会与重放同时受理文件、发出编号。请先停止这些主机上的 watcher serve / process，"
                        "再运行 watcher recover"
                    )
            # The mark as it was before any replay (a rerun after a kill takes the first run's: the replay
            # raises the mark as it hands numbers out again, so only the mark before it can tell a ledger
            # that hands out more than the desk ever did).
            before = unfinished(layout.root) or {}
            resumed = before.get("state") == "replaying"  # killed: taken up where it stopped
            if before.get("state") == "mismatch":
                clear_outputs(layout.root)  # a killed run is taken up where it stopped; a stopped one starts over
            if isinstance(before.get("mark"), dict):
                issued, at = {str(k): int(v) for k, v in before["mark"].items()}, str(before.get("mark_at", ""))
            else:
                issued, at = ledger.issued.read(settings.zone)
            held = _held(ledger)
            # After a stop on a mismatch, a ledger that is not the one that run left (restored again, as its
            # report asks) starts over: what it holds is its own, not the stopped run's replays. Before, a
            # restored backup fuller than the first one was taken for those replays, and refused for ever.
            left = before.get("left") if before.get("state") == "mismatch" else None
            again = isinstance(left, str) and not ledger.chore_done(left)
            if again:
                before = {k: v for k, v in before.items() if k not in ("at_start", "held_at_start")}
            # Likewise the ledger's own numbers before the first run: a rerun's ledger holds that run's replays,
            # which must not pass for business the restored ledger already had.
            if isinstance(before.get("at_start"), dict):
                at_start = {str(k): int(v) for k, v in before["at_start"].items()}
            else:
                at_start = ledger.numbers_used()
            # A killed run's replays are in the ledger already (and their outputs in the scratch outbox, which
            # is kept): they count as this run's own, as a stopped run's never do.
            earlier = resumed and any(u > at_start.get(n, 0) for n, u in ledger.numbers_used().items())
            # What the ledger held before the first run (requests and month-end runs): more on a rerun after a
            # mismatch is that run's replays, never verified (the backup not restored again, as it asked).
            held_start = before.get("held_at_start")
            held_start = int(held_start) if isinstance(held_start, int) else int(held)
            stale = before.get("state") == "mismatch" and int(held) > held_start
            save_state(
                layout.root,
                "replaying",
                ledger=describe(target),
                mark=issued,
                mark_at=at,
                at_start=at_start,
                held_at_start=held_start,
            )
            from .ledger.schema import NUMBER_WORDS as words

            ahead = [(n, u) for n, u in sorted(at_start.items()) if u > issued.get(n, 0)]
            strange = strangers(layout, ledger) if any(issued.values()) and ahead else []
            if strange:
                save_state(
                    layout.root, "mismatch", mark=issued, mark_at=at, at_start=at_start, held_at_start=held_start
                )
                which = "，".join(
                    f"{words.get(n, n)}流水号账本已到 {u}，本机只发出到 {issued.get(n, 0)}" for n, u in ahead
                )
                raise Failure(
                    f"恢复前的账本已超过本机发出过的编号（{which}，{ledger.issued.path} 记于 {at}），且其中有本机归档里没有的业务："
                    f"{'、'.join(strange[:3])}{' 等' if len(strange) > 3 else ''}。它不是这台机器账本的备份。未做任何重放。"
                    "请换上本机的备份（或移走它，从空账本重放），再运行 watcher recover"
                )
            # A ledger a crash left a commit ahead of its mark (its numbers on no output yet) is this desk's own.
            top = {n: max(issued.get(n, 0), at_start.get(n, 0)) for n in set(issued) | set(at_start)}
            desk = Desk(layout, settings, ledger)
            sandbox = sandboxed(desk)
            report = RecoverReport()
            try:
                planned = plan_replay(layout, ledger, settings.zone)
                report.unlogged, report.skipped = planned.unlogged, planned.held
                log_file = events.log_path(layout.archive)
                print(
                    f"恢复 {describe(target)}：需重放 {len(planned.items)} 项（事件记录 {log_file}，共 {planned.logged} 条）"
                )
                if not planned.logged:
                    print(
                        f"注意：找不到事件记录 {log_file}（或其中没有可读的记录）：只能按归档文件名中的时间重放",
                        file=sys.stderr,
                    )
                if planned.damaged:
                    lines = "、".join(map(str, planned.damaged[:10]))
                    print(
                        f"注意：事件记录中第 {lines} 行无法读取，已跳过（重放后的核对会发现缺了什么）", file=sys.stderr
                    )
                items = planned.items
                Replay(desk, report).run(items)
            finally:
                sandbox.close()
            stale_mark = False  # the mark restored with the ledger, older than the business replayed
            if not report.mismatches:
                report.problems = [
                    d.message for d in check_ledger(ledger, clock.now(), parse_run_time(settings.month_end_time))
                ]
                report.mismatches += [
                    f"{words.get(n, n)}流水号：重放后账本只到 {u}，本机已发出到 {t}（{at}）：有事件未能重放"
                    for n, u, t in behind(ledger.numbers_used(), issued)
                ]
                used = ledger.numbers_used()
                reconcile(layout, report, write=False)
                over = [
                    f"{words.get(n, n)}流水号：重放后账本到了 {u}，本机只发出到 {top.get(n, 0)}（{at}）"
                    for n, u in sorted(used.items())
                    if u > top.get(n, 0)
                ]
                # The mark no further than the ledger it was found with: restored with it (a backup of
                # `ledger.sqlite3*` takes the mark beside it), as old as the backup, so it cannot vouch for
                # (or against) what the desk did after it.
                with_ledger = all(t <= at_start.get(n, 0) for n, t in issued.items())
                if any(issued.values()) and over:  # ahead of the mark: a number the desk never handed out?
                    vouched = report.unlogged_committed or (with_ledger and (report.committed or earlier))
                    printed = printed_beyond(layout, used) if vouched else []
                    if vouched and not report.differs and not report.unmatched and not printed:
                        # Unless the mark was restored with the ledger (and perhaps the log): every result this
                        # run wrote is the one the outbox has (a rerun after a stop replays nothing new: its
                        # ledger past the mark is not believed, at_start and the mark being the first run's).
                        where = (
                            f"事件记录中没有的 {report.unlogged_committed} 个归档原件"
                            if report.unlogged_committed
                            else "备份之后办理的业务（恢复前本机的编号记录与账本一样旧）"
                        )
                        stale_mark = True
                        print(
                            f"注意：{'；'.join(over)}。多出的编号来自{where}，"
                            "重放的结果与 outbox 中的结果逐一相同：本机的编号记录应是随账本一起从备份恢复的旧记录，"
                            "已按重放后的账本更新",
                            file=sys.stderr,
                        )
                    elif printed:  # the replay fell short of what the desk printed, not past it
                        report.mismatches.append(
                            f"outbox 中有比重放后的账本更大的编号：{'、'.join(printed[:3])}"
                            f"{' 等' if len(printed) > 3 else ''}：有已办理的业务没有重放（其归档原件和事件记录都不在了），"
                            "按重放后的账本继续会把这些编号再发一次。请找回它们的归档原件，把账本恢复到备份，"
                            "再运行 watcher recover"
                        )
                    else:
                        report.mismatches += [f"{line}：重放办理了当初没有办理的业务" for line in over]
                        source = "事件记录中没有的归档原件" if report.unlogged_committed else "备份之后办理的业务"
                        if vouched and report.unmatched:
                            # The outbox lacks what would vouch for them (an agency's system took its results).
                            report.mismatches.append(
                                f"这些编号来自{source}，但重放写出的 {len(report.unmatched)} 个结果在 outbox "
                                f"中没有（{'、'.join(report.unmatched[:3])}{' 等' if len(report.unmatched) > 3 else ''}），"
                                "无法核实：把这些结果文件放回 outbox（或核实后把本机编号记录改为重放后的编号），"
                                "把账本恢复到备份，再运行 watcher recover"
                            )
                if report.renumbered:
                    # Another number than the one printed (an original whose log line, and so its numbers, was
                    # lost, after a gap): no verifying of the outbox makes the ledger hold the printed one.
                    report.mismatches.append(
                        f"重放发出的编号与 outbox 中已印出的不同：{'、'.join(report.renumbered[:3])}"
                        f"{' 等' if len(report.renumbered) > 3 else ''}（其事件记录丢失，重放按顺序重新编号）。"
                        "不能用 --accept-outbox 接受：请找回 archive/_events/events.jsonl 中这些文件的记录（备份），"
                        "把账本恢复到备份，再运行 watcher recover；或交给技术人员"
                    )
                elif report.differs and not args.accept_outbox:
                    report.mismatches.append(
                        f"重放写出的 JSON 与 outbox 中的 {len(report.differs)} 个文件不一致（见上）。outbox 可被机构改写，"
                        "不作为凭据：核实后可用 --accept-outbox 完成恢复（outbox 中的文件不会被改写）"
                    )
            if stale:
                # Run again as it was: what the stopped run replayed is in the ledger and found nothing new to
                # compare, so the rerun called it 恢复完成 and let the desk start on what was never verified.
                previous = [str(x) for x in before.get("mismatches") or []]
                if not (args.accept_outbox and before.get("differs_only")):
                    report.mismatches.insert(
                        0,
                        "上一次 watcher recover 发现不一致而停止，它重放进账本的业务未经核实"
                        f"（{'；'.join(previous[:2]) or '见上次的报告'}）：请把账本恢复到备份，再运行 watcher recover"
                        + (
                            "；只是 outbox 中的文件不一致时，核实后也可用 --accept-outbox 完成恢复"
                            if before.get("differs_only")
                            else ""
                        ),
                    )
            report.agencies = tally(ledger)
            _print_recovery(report)
            if not report.ok:
                # The ledger as this run leaves it, marked: a rerun on another (a backup restored) starts over.
                import uuid

                left = f"recover-stopped {uuid.uuid4().hex}"
                with ledger.atomic():
                    ledger.finish_chore(left, clock.now())
                save_state(
                    layout.root,
                    "mismatch",
                    mismatches=report.mismatches,
                    problems=report.problems,
                    mark=issued,
                    mark_at=at,
                    at_start=at_start,
                    held_at_start=held_start,
                    left=left,
                    # Only the outbox's twins differed (nothing else): --accept-outbox may finish it.
                    differs_only=len(report.mismatches) == 1
                    and not report.problems
                    and not report.renumbered
                    and (bool(report.differs) or bool(stale and before.get("differs_only"))),
                )
                print(
                    "恢复未完成：以上不一致须先查明。在此之前 serve 和 process 不会启动；查明后可把账本恢复到备份，"
                    "再运行 watcher recover",
                    file=sys.stderr,
                )
                return 1
            reconcile(layout, report, write=True)
            ledger.issued.raise_to(ledger.numbers_used())
            _take_ledger(ledger, layout)
            clear(layout.root)
            clear_lost(layout.root)  # every output the outbox lacked is written
            numbers = (
                "本机的编号记录比账本旧（见上面的注意），已按重放后的账本更新"
                if stale_mark
                else "编号与本机记录相符"
                if any(issued.values())
                else f"本机没有编号记录（{ledger.issued.path}）可对照，编号按事件记录重放"
            )
            print(f"恢复完成：账本核对一致，{numbers}；补写 outbox 中缺少的文件 {len(report.written)} 个")
            return 0
        finally:
            ledger.close()
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)


def _print_recovery(report) -> None:
    words = {"file": "文件", "repair": "补写结果的文件", "month-end": "月结", "init": "初始化", "migrate": "迁移"}
    done = "，".join(f"{words.get(k, k)} {n}" for k, n in sorted(report.replayed.items()))
    print(f"已重放：{done or '无'}；账本中已有而跳过：{report.skipped}")
    if report.unlogged:
        print(f"事件记录中没有、按归档文件名时间排序重放的原件 {len(report.unlogged)} 个：")
        for line in report.unlogged[:20]:
            print("  " + line)
    for line in report.missing[:50]:
        print(f"注意：{line}（当初未改变账本，未重放）", file=sys.stderr)
    if report.repaired:
        print(
            "账本中已有、outbox 中缺少的结果按账本现状补写（此后已批改或撤单的保单如实显示为已撤单）："
            f"{len([r for r in report.repaired if r.endswith('.json')])} 个请求"
        )
    for line in report.differs[:50]:
        print(f"  与 outbox 不一致（未改写）：{line}", file=sys.stderr)
    from .domain.money import yuan_display

    print("各机构（重放后的账本）：保单数、保费（均不含已撤单）、对账单数、已缴金额")
    for code, t in report.agencies.items():
        cancelled = f"（另有已撤单 {t['cancelled']} 张）" if t.get("cancelled") else ""
        print(
            f"  {code}：{t['policies']} 张，{yuan_display(t['premium_fen'])} 元{cancelled}，{t['statements']} 张对账单，"
            f"已缴 {yuan_display(t['paid_fen'])} 元"
        )
    for line in report.mismatches:
        print("不一致：" + line, file=sys.stderr)
    for line in report.problems:
        print("账本核对：" + line, file=sys.stderr)
