"""`watcher status`: what is waiting, in hand, done and failed today, and whether a service runs."""

from __future__ import annotations

import fcntl
import json
from collections import Counter
from datetime import datetime

from ..layout import Layout
from . import scan


def _service(layout: Layout) -> str:
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


def status_text(layout: Layout, settings, now: datetime) -> str:
    zone = settings.zone
    today = now.astimezone(zone).date()
    lines = [f"watcher 状态  {now.astimezone(zone):%Y-%m-%d %H:%M:%S}  根目录 {layout.root}",
             f"服务：{_service(layout)}"]
    waiting: Counter[str] = Counter()
    in_hand: Counter[str] = Counter()
    for who in scan.folders(layout):
        waiting[who] = len(scan.waiting_in(layout, who)[0])
        in_hand[who] = len(scan.claimed_in(layout, who, every=True))
    lines.append(f"等待处理：{sum(waiting.values())} 个文件" + _by(waiting))
    lines.append(f"处理中：{sum(in_hand.values())} 个文件" + _by(in_hand))
    done: Counter[str] = Counter()
    failed: list[str] = []
    log = layout.root / "logs" / f"processed-{today:%Y-%m-%d}.jsonl"
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            done[entry["status"]] += 1
            if entry["status"] == "failed":
                failed.append(f"  {entry['agency']}/{entry['file']} → outbox/{entry['agency']}/{entry['result']}")
    labels = {"success": "成功", "quote": "试算", "duplicate": "重复提交", "failed": "失败"}
    lines.append(f"今日完成：{sum(done.values())} 个文件（" +
                 "，".join(f"{labels[k]} {done[k]}" for k in labels) + "）")
    lines.append(f"今日失败：{done['failed']} 个文件")
    lines += failed[-20:]
    lines.append("下次定时任务：每 %g 秒扫描一次投递文件夹；%s" % (settings.rescan_seconds, _month_end(layout, settings, now)))
    return "\n".join(lines)


def _month_end(layout: Layout, settings, now: datetime) -> str:
    from ..ledger import Ledger
    from ..ledger.db import ledger_target
    from .month_end import next_run_text

    try:
        ledger = Ledger(ledger_target(layout.root, settings.ledger), settings.zone, now=now)
    except Exception as exc:
        return f"月结时间无法读取（账本：{exc}）"
    try:
        return next_run_text(ledger, settings, now)
    finally:
        ledger.close()


def _by(counts: Counter) -> str:
    busy = [f"{who} {n}" for who, n in counts.items() if n]
    return f"（{'，'.join(busy)}）" if busy else ""
