"""`watcher status`: what is waiting, in hand, done and failed today, and whether a service runs."""

from __future__ import annotations

import fcntl
import json
import os
from collections import Counter
from datetime import datetime
from pathlib import Path

from ..domain.settlement import (
    month_of,
    month_text,
    parse_run_time,
    previous_month,
    retry_slot_after,
    scheduled_at,
)
from ..faults import ADVICE, AGAIN, DISK, FOLDER, LEDGER, DeskFault, classify, describe
from ..layout import ADMIN, Layout
from ..walk.names import SKIPPED_LIST, display_name
from . import scan
from .health import disk_places, folders_gone, halted_line, probe_disk
from .intake import LOOSE
from .schedule import due


def _cut_off(layout: Layout, seen: list[str] | None) -> str:
    """Workers whose beat file says they live but whom the database does not see (cut off from it); `seen`
    None: this command cannot reach the database itself, so whether they can is not known."""
    from .heartbeat import beating

    beats = [b for b in beating(layout.root, watch=False) if seen is None or b.worker not in seen]
    if not beats:
        return ""
    said = (
        "据根目录的心跳文件仍在运行（本机连不上账本数据库，无法确认它们是否连得上）"
        if seen is None
        else "仍在运行但连不上账本数据库"
    )
    return f"{len(beats)} 个工作进程{said}：" + "，".join(b.said() for b in beats)


def _silent(layout: Layout, worker: str) -> str:
    """What to add of a worker the database sees whose beat file has stopped changing: frozen (stopped by a
    signal, a debugger, a machine that hangs), it holds its files and its lock, and nobody takes them over."""
    from .heartbeat import BEAT_SECONDS, beat_age

    age = beat_age(layout.root, worker)
    if age is None or age <= 3 * BEAT_SECONDS + 1:
        return ""
    return f"；已 {int(age)} 秒没有心跳，可能已停止响应：它手上的文件不会被别的工作进程接手，请检查该进程"


def _stuck(held: tuple[str, int] | None) -> str:
    if held is None:
        return ""
    agency, seconds = held
    which = "管理文件夹 _admin" if agency == ADMIN else f"机构 {agency}"
    return (
        f"；占着{which} 的办理次序，已 {seconds} 秒没有动静：它可能已卡住（进程被暂停、虚拟机挂起），"
        f"{which} 的文件在各工作进程都办不了（等一会儿后放回原处，稍后再试），请检查它，必要时停止它"
        "（它手上的文件由其他工作进程接手）"
    )


def _service(layout: Layout, ledger, zone, said_after: float = 60.0) -> str:
    if ledger is not None and ledger.backend == "postgresql":
        # Several workers, on this host or others: those registered whose lock a live session holds, and
        # those whose beat file on the root says they live while the database cannot see them.
        workers = ledger.workers()
        cut_off = _cut_off(layout, [name for name, _, _ in workers])
        if not workers:
            return f"运行中（{cut_off}）" if cut_off else "未运行"
        # (a worker holding an agency's turn, idle longer than a lock is waited out: said)
        stuck = ledger.stuck_turns(said_after)
        named = {name for name, _, _ in workers}
        return (
            f"运行中（{len(workers)} 个工作进程："
            + "，".join(
                f"{name}（{command}，{started.astimezone(zone):%m-%d %H:%M} 起{_silent(layout, name)}"
                f"{_stuck(stuck.get(name))}）"
                for name, command, started in workers
            )
            + "".join(f"；另有会话 {name}{_stuck(held)}" for name, held in sorted(stuck.items()) if name not in named)
            + (f"；另有 {cut_off}" if cut_off else "")
            + "）"
        )
    if ledger is None and (cut_off := _cut_off(layout, None)):  # the database away: the workers still say so
        return f"运行中（{cut_off}）"
    path = layout.root / ".watcher.lock"
    if not path.exists():
        return "未运行"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return f"运行中（{handle.read().strip() or '另一个进程'}）"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return "未运行"


def _desk_time(moment: str, zone) -> str:
    """A recorded moment (ISO, any offset) as the desk's clock shows it: the halt was stamped in UTC, and an
    operator read that the intake had stopped eight hours ago."""
    try:
        return f"{datetime.fromisoformat(moment).astimezone(zone):%Y-%m-%d %H:%M:%S}"
    except (TypeError, ValueError):
        return str(moment)[:19].replace("T", " ")


def status_text(layout: Layout, settings, now: datetime) -> str:
    zone = settings.zone
    today = now.astimezone(zone).date()
    ledger, why = _open_ledger(layout, settings, now)
    try:
        try:
            service = _service(layout, ledger, zone, max(settings.lock_wait_seconds, 10.0))
        except Exception as exc:  # a broken ledger: said in the desk's line, never a traceback
            if classify(exc) is None:
                raise
            service = _service(layout, None, zone)
        # With no service running, nothing goes on by itself: the desk's line says what to run.
        running = not service.startswith("未运行")
        live = None
        if ledger is not None and ledger.backend == "postgresql" and running:
            try:
                live = [name for name, _, _ in ledger.workers()]
            except Exception as exc:  # said in the desk's line below
                if classify(exc) is None:
                    raise
                live = []
        elif ledger is None and running and "心跳文件" in service:  # each says what stops it
            from .heartbeat import beating

            live = [b.worker for b in beating(layout.root, watch=False)]
        halted = halted_line(layout.root, live) if running else None
        # What status's own probe meets is what the service stopped on only if the service says it stopped
        # (it may be waiting out a short lock, with a file in hand).
        desk = _desk_line(ledger, why, layout, running=running, stopped=halted is not None or not running)
        if halted is not None and desk.endswith("正常"):
            # The service stopped its intake on something this process's own probes do not meet (an outbox on
            # another disk that is full or read-only, a lock since released): it says so until it goes on.
            line, since = halted
            desk = f"受理已暂停（服务自 {_desk_time(since, zone)} 起）：{line}"
        if ledger is not None and desk.endswith("正常"):
            desk = _behind_line(ledger, layout, zone, running=running) or desk
        try:
            month_end = (
                next_run_text(ledger, settings, now, running)
                if ledger is not None
                else "月结时间无法读取（账本打不开）"
            )
            registered = {a.code for a in ledger.agencies()} | {ADMIN} if ledger is not None else None
        except Exception as exc:  # a broken ledger: said once above, never a traceback
            if classify(exc) is None:
                raise
            month_end, registered = "月结时间无法读取（账本出错）", None
    finally:
        if ledger is not None:
            ledger.close()
    lines = [f"watcher 状态  {now.astimezone(zone):%Y-%m-%d %H:%M:%S}  根目录 {layout.root}", f"服务：{service}", desk]
    from .recovering import unfinished

    recovery = unfinished(layout.root)
    if recovery is not None:
        # (a fault's advice says to run process or start serve: neither starts before recover is done)
        lines[2] = lines[2].replace(AGAIN, "再运行 watcher recover 即可继续（它从停下处接着做）")
        lines.append(
            "恢复：watcher recover "
            + ("发现不一致而停止" if recovery.get("state") == "mismatch" else "没有完成")
            + "，serve / process 在恢复完成前不会启动；请运行 watcher recover 查看报告"
        )
    waiting: Counter[str] = Counter()
    in_hand: Counter[str] = Counter()
    stuck: Counter[str] = Counter()  # waiting in a folder the claim's rename cannot take them from
    refused: Counter[str] = Counter()  # in no registered agency's folder, or loose in workbooks/: never taken
    untold: list[str] = []  # refused files whose notice no run has written yet
    told = _told(layout)
    for who in scan.folders(layout):
        files = scan.waiting_in(layout, who)[0]
        shown = display_name(who)  # a folder name that is not UTF-8 (a GBK name) shown as readable text
        if registered is None or who in registered:
            waiting[shown] = len(files)
            if files and not os.access(layout.drop(who), os.W_OK | os.X_OK):
                stuck[shown] = len(files)
        else:
            refused[shown] = len(files)
            untold += [f for a in files if (f := f"{shown}/{display_name(a.path.name)}") not in told]
        in_hand[shown] = len(scan.claimed_in(layout, who, every=True))
    loose = scan.loose_files(layout)
    refused["workbooks/"] = len(loose)
    untold += [f for p in loose if (f := f"{LOOSE}/{display_name(p.name)}") not in told]
    lines.append(f"等待处理：{sum(waiting.values())} 个文件" + _by(waiting))
    for who, count in sorted(stuck.items()):
        # The service logs each refused claim and leaves the file; status said 正常 with the file waiting for
        # ever and nothing to say why.
        lines.append(
            f"  其中 {who} 的 {count} 个无法受理：投递文件夹不允许 watcher 移走文件（权限、chattr +i 或只读挂载）。"
            f"{ADVICE[FOLDER].split('，之后')[0]}，之后服务在下次扫描时受理"
        )
    held = f"处理中：{sum(in_hand.values())} 个文件" + _by(in_hand)
    if sum(in_hand.values()) and service.startswith("未运行"):  # a run that was stopped or killed with them
        held += "；上次运行没有处理完，下次运行 watcher process 或启动 watcher serve 时会先完成它们"
    lines.append(held)
    pending = _pending(layout)
    if pending:
        retry = (
            "下次运行 watcher process 或启动 watcher serve 时写出"
            if service.startswith("未运行")
            else "服务每次扫描时重试"
        )
        lines.append(f"待写出结果：{len(pending)} 个文件已办理，结果暂时无法写出，{retry}：")
        lines += [f"  {line}" for line in pending[:20]]
    from .recovering import lost_outputs

    lost = lost_outputs(layout.root)
    if lost:
        lines.append(
            f"结果缺失：{len(lost)} 个文件已办理（已生效），结果未写出，且受理记录已被删除，服务不会再重试："
            "请停止服务后运行 watcher recover 补写"
        )
        lines += [f"  {line}" for line in lost[:20]]
    if sum(refused.values()):
        lines.append(
            f"不予处理：{sum(refused.values())} 个文件不在已登记机构的文件夹中"
            + _by(refused)
            # The notice is written by the run that meets the file (serve: at its next rescan), not by status.
            + "，不会被处理；未受理通知写在 outbox/_admin/未受理_…"
            + (f"（其中 {len(untold)} 个的通知尚未写出，服务在下次扫描时写出）" if untold else "")
        )
    aside = _set_aside(layout)
    if aside:
        lines.append(
            f"电子保单：{len(aside)} 份在同号保单签发前已存在于 outbox，已改名保留（{'、'.join(aside[:3])}"
            f"{' 等' if len(aside) > 3 else ''}）：若不是旅行社自己放进去的，说明这个保单号此前已发出过（账本、编号记录和"
            "归档可能一起恢复到了较早的备份）：请停止 watcher，对照两份保单核查（见运维文档的备份与恢复）；核查后删除这些文件"
        )
    skipped = skipped_numbers(layout)
    if skipped:
        lines.append(
            f"编号：{len(skipped)} 个未使用，因为同一流水号的文件（电子保单、对账单）已在 outbox 中（{'、'.join(skipped[:3])}"
            f"{' 等' if len(skipped) > 3 else ''}）：若不是旅行社自己放进去的，说明这些号此前已发出过，账本、编号记录和归档"
            "一起恢复到了较早的备份而 outbox 没有，账本缺少此后办理的业务：请停止 watcher，找回更新的账本备份（或最新的 "
            f"archive/）后运行 watcher recover（见运维文档的备份与恢复）；核查后删除 {layout.root / SKIPPED_LIST}"
        )
    done: Counter[str] = Counter()
    failed: list[str] = []
    # A failure whose file name was dropped again later today and issued: listed still (an agency may reuse a
    # name for another request), with what came of the later one, so nobody chases what was fixed.
    later: dict[tuple[str, str], str] = {}
    log = layout.root / "logs" / f"processed-{today:%Y-%m-%d}.jsonl"
    if log.exists():
        entries = []
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            entries.append(entry)
        for entry in reversed(entries):
            key = (str(entry["agency"]), str(entry["file"]))
            if entry["status"] == "success":
                later[key] = str(entry["result"])
            elif entry["status"] == "failed":
                fixed_by = later.get(key)
                note = f"（之后同名文件已办理成功：outbox/{key[0]}/{fixed_by}）" if fixed_by else ""
                failed.append(f"  {key[0]}/{key[1]} → outbox/{key[0]}/{entry['result']}{note}")
        failed.reverse()
        for entry in entries:
            done[entry["status"]] += 1
    labels = {"success": "成功", "quote": "试算", "duplicate": "重复提交", "failed": "失败"}
    lines.append(
        f"今日完成：{sum(done.values())} 个文件（" + "，".join(f"{labels[k]} {done[k]}" for k in labels) + "）"
    )
    lines.append(f"今日失败：{done['failed']} 个文件" + ("（列出最近 20 个）" if len(failed) > 20 else ""))
    if len(failed) > 20:
        lines.append(f"  ……另有 {len(failed) - 20} 个较早的失败文件，见 logs/processed-{today:%Y-%m-%d}.jsonl")
    lines += failed[-20:]
    lines.append(f"下次定时任务：每 {settings.rescan_seconds:g} 秒扫描一次投递文件夹；{month_end}")
    return "\n".join(lines)


def _desk_line(ledger, why, layout: Layout, *, running: bool = True, stopped: bool = True) -> str:
    """One line on whether the desk can work: the ledger (locked, broken, away) and the root's disk."""
    if ledger is None:
        fault = classify(why) if isinstance(why, BaseException) else None
        return "账本：" + (
            DeskFault(fault, why).line(running=running, stopped=stopped) if fault else f"无法打开（{describe(why)}）"
        )
    if ledger.backend == "sqlite":
        ledger.conn.execute("PRAGMA busy_timeout = 1000")  # status answers at once, whoever holds a lock
    try:
        damaged = ledger.integrity()
        if damaged:
            return f"账本：{DeskFault(LEDGER, None).line(running=running, stopped=stopped)}（{damaged[0]}）"
        ledger.probe()
    except Exception as exc:
        return "账本：" + DeskFault(classify(exc) or LEDGER, exc).line(running=running, stopped=stopped)
    try:
        for place in disk_places(layout, ledger):
            probe_disk(place)
    except OSError as exc:
        return "磁盘：" + DeskFault(DISK, exc).line(running=running, stopped=stopped)
    gone = folders_gone(layout)
    if gone is not None:  # a share away: nothing dropped into it is seen, and nothing is waiting here
        return "文件夹：" + gone.line(running=running, stopped=stopped)
    return "账本与磁盘：正常"


def _behind_line(ledger, layout: Layout, zone, *, running: bool = True) -> str | None:
    """A ledger behind the numbers the desk handed out, or without its latest business (restored from an
    older backup, or new): the commands that hand numbers out refuse it; status says so, and what to do."""
    from ..ledger.identity import FOUND_WORDS, ledger_id, location, read_record, verdict
    from ..ledger.issued import issued_path
    from ..ledger.policies import SWAPPED_SUFFIX
    from .recovering import issued_unheld, lags

    note = Path(str(ledger.path) + SWAPPED_SUFFIX) if ledger.path is not None else None
    if note is not None and note.exists():
        try:
            what = str(json.loads(note.read_text("utf-8")).get("what", ""))
        except (OSError, ValueError, AttributeError):
            what = ""
        return (
            f"账本：上次运行的服务因账本出错而停止（{what or '账本被其他程序改写或恢复'}）：serve / process 启动时会先"
            "全面核对账本文件，核对不过时按提示恢复备份，再运行 watcher recover"
        )
    try:
        record = read_record(layout.root)
    except (ValueError, OSError) as exc:
        return f"账本：无法读出此目录使用的是哪个账本（{exc}）：serve / process 不会启动"
    try:
        here = location(ledger.target, layout.root, ledger.db if ledger.backend == "postgresql" else None)
        found = verdict(record, ledger_id(ledger), here, layout.root)
        if found == "root-copy":
            assert record is not None
            return (
                f"账本：此目录像是 {Path(record.shown).parent} 的一份副本（那里的同一个账本仍在）：两处都运行会把同一个"
                "保单号发给两个团；serve / process 不会启动。原目录不再使用时，把它打包保存后删除，再启动"
            )
        if found is not None:
            assert record is not None
            return (
                f"账本：连上的{FOUND_WORDS[found]}（此目录在用的是 {record.shown}）：环境变量 WATCHER_LEDGER_URL 或 watcher.toml 的 "
                "ledger 多半指错了；serve / process 不会启动"
            )
        if not lags(layout.root, issued_path(layout.root, ledger.target), ledger, zone) and not issued_unheld(
            layout, ledger, zone
        ):
            return None
    except Exception as exc:  # a ledger that fails here is said as such, never a traceback
        fault = classify(exc)
        if fault is None:
            raise
        return "账本：" + DeskFault(fault, exc).line(running=running)
    return (
        "账本：落后于本机已发出的编号或已办理的业务（很可能是从较早的备份恢复的，或是新建的）："
        "serve / process 不会启动；请运行 watcher recover（见运维文档的备份与恢复）"
    )


def _set_aside(layout: Layout) -> list[str]:
    """Electronic policies kept under a hidden name because a page of that number was there when it was issued
    (walk.render.set_aside): an agency's own file, or a number handed out twice. Those still there: staff
    delete them once they have looked."""
    from ..walk.render import SET_ASIDE_LIST

    try:
        listed = (layout.root / SET_ASIDE_LIST).read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for line in dict.fromkeys(listed):
        path = Path(line)
        if line and path.exists():
            found.append(f"{display_name(path.parent.name)}/{display_name(path.name)}")
    return found


def skipped_numbers(layout: Layout) -> list[str]:
    """Numbers (policies, statements) skipped because their file was already in the outbox (Ledger._unprinted)."""
    try:
        listed = (layout.root / SKIPPED_LIST).read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return list(dict.fromkeys(line.split("\t", 1)[0] for line in listed if line.strip()))


def _pending(layout: Layout) -> list[str]:
    """Files in hand whose request was done but whose outputs wait for a disk that takes them."""
    from ..walk.claim import read_record

    found = []
    for who in scan.folders(layout):
        for claimed in scan.claimed_in(layout, who, every=True):
            record = read_record(claimed, who)
            if record is not None and record.pending:
                found.append(f"{who}/{record.original} → outbox/{who}/{record.stem}.xlsx（{record.pending}）")
    return found


def _open_ledger(layout: Layout, settings, now: datetime):
    """(ledger, None), or (None, why it could not be opened)."""
    from ..ledger import Ledger
    from ..ledger.db import ledger_target

    try:
        return Ledger(ledger_target(layout.root, settings.ledger), settings.zone, now=now), None
    except Exception as exc:
        return None, exc


def _told(layout: Layout) -> set[str]:
    """The files (`<folder>/<name>`) staff have been told of in outbox/_admin/未受理_*.json."""
    told = set()
    for path in layout.out(ADMIN).glob("未受理_*.json"):
        try:
            told.add(str(json.loads(path.read_bytes())["file"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return told


def _by(counts: Counter) -> str:
    busy = [f"{who} {n}" for who, n in counts.items() if n]
    return f"（{'，'.join(busy)}）" if busy else ""


def _month_end_busy(ledger, running: bool) -> bool:
    """Whether a month-end may be under way now: a worker holds its lock (PostgreSQL), or a process holds the
    root (SQLite: serve or month-end)."""
    if ledger.backend != "postgresql":
        return running
    from .month_end import LOCK

    if ledger.try_lock(LOCK):
        ledger.unlock(LOCK)
        return False
    return True


def next_run_text(ledger, settings, now: datetime, running: bool = False) -> str:
    """For `watcher status`: when month-end runs next, and what waits."""
    zone = settings.zone
    at = parse_run_time(settings.month_end_time)
    month = previous_month(month_of(now, zone))
    when = scheduled_at(month, settings.month_end_day, at, zone)
    if when <= now:
        month = month_of(now, zone)
        when = scheduled_at(month, settings.month_end_day, at, zone)
    pending = due(ledger, settings, now)
    runs = ledger.runs()
    text = f"月结 {month_text(month)}：{when.astimezone(zone):%Y-%m-%d %H:%M}"
    # A run begun and never finished (killed, or stopped by an error before it could say why) is no 补跑 of a
    # month that never ran: it may have settled statements already (attack X: read as never run).
    last_run = {r.month: r for r in sorted(runs, key=lambda r: r.id)}
    broken = {m for m, r in last_run.items() if r.finished_at is None and not r.summary.get("error")}
    if broken and _month_end_busy(ledger, running):
        said = "正在运行（或中断后等服务重跑）"  # (a long month-end under way is no interrupted one: review Z)
    else:
        said = "上次运行中断，未完成"
    if pending:
        text += "；现在待运行：" + "、".join(f"{month_text(m)}（{said if m in broken else t}）" for m, t in pending)
    # Months whose plans wait (or late business): retried every day at the run time, not only next month.
    last_finished = {r.month: r for r in runs if r.finished_at is not None}
    late = ledger.unsettled_months(now)
    waiting = sorted(
        m for m, r in last_finished.items() if (r.waiting or m in late) and m not in {m2 for m2, _ in pending}
    )
    if waiting:
        slot = retry_slot_after(now, zone, at)
        text += f"；每日重试 {'、'.join(month_text(m) for m in waiting)}（有等待结账的保单）：{slot:%Y-%m-%d %H:%M}"
    stopped = [r for r in runs if r.finished_at is None and r.summary.get("error")]
    if stopped:
        text += "；" + "、".join(
            f"月结 {month_text(r.month)} 未完成（{r.summary['error']}），服务会自动重试" for r in stopped
        )
    latest = {r.month: r for r in runs if r.finished_at is not None}
    unwritten = []
    for m, r in sorted(latest.items()):
        for agency, why in (r.summary.get("unwritten") or {}).items():
            unwritten.append(f"{month_text(m)} {agency}（{why}）")
    if unwritten:
        text += "；月结文件未能写出（原因消除后 watcher serve 自动补写，或再运行 watcher month-end）：" + "、".join(
            unwritten
        )
    return text
