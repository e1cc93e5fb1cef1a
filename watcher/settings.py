"""Settings from `<root>/watcher.toml`; every setting has a working default."""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .domain.settlement import parse_run_time

DEFAULT_CHANNELS = ("团险直销", "个险渠道", "银保渠道", "经代渠道", "网销渠道")


class SettingsError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    timezone: str = "Asia/Shanghai"
    settle_seconds: float = 2.0  # a file is taken once unchanged this long
    # A text file (CSV) has no end marker: without word that its writer closed it (polling, shares, a file
    # found at start) it is taken only once unchanged this long.
    text_settle_seconds: float = 10.0
    # … and one a program on this machine still holds open for writing (a writer that paused mid-file) is
    # waited for until it closes it, or until it has been still this long.
    writer_wait_seconds: float = 300.0
    stall_seconds: float = 30.0  # a file that still cannot be opened fails after this much stillness
    lock_wait_seconds: float = 60.0  # a ledger locked by another program is waited out this long, then the
    # intake stops (files stay where they are) until it is free
    max_roster_rows: int = 20000  # people in one request
    insurer_name: str = "示例人寿保险股份有限公司"
    insurer_hotline: str = "95500"
    ledger: str = "ledger.sqlite3"  # relative to the root
    channels: tuple[str, ...] = field(default=DEFAULT_CHANNELS)
    max_file_mb: int = 100  # a dropped file larger than this is refused unread
    max_unzipped_mb: int = 200  # a workbook (zip) that declares more than this uncompressed is refused
    max_zip_entries: int = 2000
    max_zip_ratio: int = 500  # uncompressed : compressed, for entries over 1 MB (XML rarely passes 100)
    max_cells: int = 5_000_000  # a sheet spanning more cells (rows × columns) is refused before it is read
    parse_memory_mb: int = 256  # address-space limit of the process that parses workbooks
    parse_seconds: float = 20.0  # time limit for parsing one file
    watch: str = "events"  # events (inotify), polling (network shares), or both; folders are rescanned anyway
    rescan_seconds: float = 30.0  # every drop folder is rescanned this often, whatever notification says
    month_end_day: int = 1  # month-end for a month runs on this day of the next month …
    month_end_time: str = "02:00"  # … at this local time; months with waiting plans are retried daily then
    schedule_check_seconds: float = 30.0  # how often `serve` looks whether month-end is due
    web_host: str = "127.0.0.1"  # `watcher web` listens here unless --host says otherwise
    web_port: int = 8080
    web_threads: int = 16  # requests served at once by each web process
    web_workers: int = 4  # web processes sharing the port (one waitress process is latency-bound near 500/s)
    web_trusted_proxies: tuple[str, ...] = ()  # addresses/networks whose X-Forwarded-For is believed
    lookup_slow_after: int = 5  # failed lookups from one client within the window before answers are slowed
    lookup_lock_after: int = 10  # … and before it is refused for lookup_lock_minutes
    lookup_window_minutes: float = 10.0
    lookup_lock_minutes: float = 15.0
    lookup_state: str = "lookup-state.sqlite3"  # failed-lookup counts, shared by the web processes of this root

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


TEMPLATE = """# watcher settings. Every setting has a working default; uncomment to change.
# timezone = "Asia/Shanghai"      # the desk's local time (生效时间, month-end), never the server's TZ
# settle_seconds = 2              # a dropped file is taken once unchanged this long
# text_settle_seconds = 10        # … a CSV whose writer was not seen closing it, this long
# writer_wait_seconds = 300       # … one a program here still holds open for writing: until closed, at most this long
# stall_seconds = 30              # a file that still cannot be opened fails after this much stillness
# lock_wait_seconds = 60          # a ledger locked by another program is waited out this long, then the intake stops
# max_roster_rows = 20000         # people in one request
# insurer_name = "示例人寿保险股份有限公司"
# insurer_hotline = "95500"
# ledger = "ledger.sqlite3"       # keep it on a local disk, never on a share
# channels = ["团险直销", "个险渠道", "银保渠道", "经代渠道", "网销渠道"]
# max_file_mb = 100               # limits that keep a hostile file from hurting the desk
# max_unzipped_mb = 200
# max_zip_entries = 2000
# max_zip_ratio = 500
# max_cells = 5000000
# parse_memory_mb = 256           # the parsing process cannot use more memory than this
# parse_seconds = 20              # nor more time than this, per file
# watch = "events"                # events (inotify, local disks), polling (Samba/NFS shares), or both
# rescan_seconds = 30             # every drop folder is also rescanned this often
# month_end_day = 1               # month-end runs on this day of the following month (1-28) …
# month_end_time = "02:00"        # … at this local time; plans still waiting are retried daily at this time
# schedule_check_seconds = 30     # how often `serve` looks whether month-end is due
# web_host = "127.0.0.1"          # the lookup page (watcher web); --host and --port override
# web_port = 8080
# web_threads = 16
# web_workers = 4                 # processes of `watcher web` sharing the port; --workers overrides
# web_trusted_proxies = []        # e.g. ["10.0.0.5", "10.1.0.0/16"]: proxies whose X-Forwarded-For is believed
# lookup_slow_after = 5           # failed lookups (within lookup_window_minutes) before answers are slowed
# lookup_lock_after = 10          # … and before the client is refused for lookup_lock_minutes
# lookup_window_minutes = 10
# lookup_lock_minutes = 15
# lookup_state = "lookup-state.sqlite3"  # failed-lookup counts beside the ledger, shared by the web processes
"""


# What each number of the desk may be (least, most, whole numbers only): 0 for a wait that may be none; a
# rescan, a month-end look or a parse needs some time (0 spun the service at full CPU and stopped nothing).
# The lookup page's own numbers are judged by `watcher web` (a page's setting never stops the desk).
DAY = 86400
RANGES: dict[str, tuple[float, float, bool]] = {
    "settle_seconds": (0, 3600, False),
    "text_settle_seconds": (0, 3600, False),
    "writer_wait_seconds": (0, DAY, False),
    "stall_seconds": (0, DAY, False),
    "lock_wait_seconds": (0, DAY, False),
    "max_roster_rows": (1, 1_000_000, True),
    "max_file_mb": (1, 100_000, True),
    "max_unzipped_mb": (1, 100_000, True),
    "max_zip_entries": (1, 10_000_000, True),
    "max_zip_ratio": (1, 10_000_000, True),
    "max_cells": (1, 10_000_000_000, True),
    "parse_memory_mb": (64, 1_000_000, True),
    "parse_seconds": (0.1, DAY, False),
    "rescan_seconds": (1, DAY, False),
    "schedule_check_seconds": (0.5, 3600, False),
}
WEB_RANGES: dict[str, tuple[float, float, bool]] = {
    "web_threads": (1, 1000, True),
    "lookup_slow_after": (1, 1_000_000, True),
    "lookup_lock_after": (1, 1_000_000, True),
    "lookup_window_minutes": (0.1, 525_600, False),
    "lookup_lock_minutes": (0.1, 525_600, False),
}


def _shown(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"  # 1000000, not 1e+06


def out_of_range(settings: Settings, ranges: dict[str, tuple[float, float, bool]]) -> str | None:
    """The message for the first number outside what it may be, or None."""
    for name, (least, most, whole) in ranges.items():
        value = getattr(settings, name)
        if not least <= value <= most or (whole and isinstance(value, float) and not value.is_integer()):
            kind = "整数" if whole else "数"
            return f"设置 {name} = {value!r} 无效，请填 {_shown(least)} 到 {_shown(most)} 的{kind}"
    return None


def load_settings(root: Path) -> Settings:
    path = root / "watcher.toml"
    if not path.exists():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"设置文件 {path} 格式有误：{exc}。请改正或删除该文件（删除后全部使用默认值）") from exc
    known = {f.name: f for f in fields(Settings)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise SettingsError(f"设置文件 {path} 中有未知的设置：{', '.join(unknown)}。可用的设置：{', '.join(known)}")
    values = {}
    for name, value in data.items():
        default = known[name].default
        if name in ("channels", "web_trusted_proxies"):
            if not isinstance(value, list):
                raise SettingsError(f'设置 {name} 应为列表，例如 ["…", "…"]')
            value = tuple(str(v) for v in value)
        elif isinstance(default, (int, float)) and not isinstance(value, (int, float)) or isinstance(value, bool):
            raise SettingsError(f"设置 {name} 应为数字，现在是 {value!r}")
        values[name] = value
    settings = Settings(**values)
    wrong = out_of_range(settings, RANGES)
    if wrong:
        raise SettingsError(wrong)
    if settings.watch not in ("events", "polling", "both"):
        raise SettingsError(f'设置 watch = {settings.watch!r} 无效，可选 "events"、"polling" 或 "both"')
    if not 1 <= settings.month_end_day <= 28 or isinstance(settings.month_end_day, float):
        raise SettingsError(f"设置 month_end_day = {settings.month_end_day!r} 无效，请填 1 到 28 的整数")
    try:
        parse_run_time(str(settings.month_end_time))
    except ValueError:
        raise SettingsError(
            f'设置 month_end_time = {settings.month_end_time!r} 无效，请写成 "02:00" 这样的时:分'
        ) from None
    if not settings.channels or any(not c.strip() for c in settings.channels):
        raise SettingsError('设置 channels 须列出至少一个业务渠道，例如 ["团险直销", "个险渠道"]')
    for proxy in settings.web_trusted_proxies:
        try:
            network = ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SettingsError(
                f'设置 web_trusted_proxies 中的“{proxy}”不是有效的地址或网段，例如 "10.0.0.5" 或 "10.1.0.0/16"'
            ) from None
        # Every client (or a great part of them) believed: each names its own address, no limit holds.
        everyone = network.prefixlen < (8 if network.version == 4 else 16) or (
            isinstance(network, ipaddress.IPv6Network) and network.supernet_of(ipaddress.IPv6Network("::ffff:0:0/96"))
        )
        if everyone:
            raise SettingsError(
                f"设置 web_trusted_proxies 中的“{proxy}”信任的地址太多（几乎所有地址）：任何访问者都能在 X-Forwarded-For 中"
                '自报来源地址，绕过查询失败的限制。请只列出代理服务器的地址或网段，例如 "10.0.0.5"'
            )
    try:
        _ = settings.zone
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f'设置 timezone = {settings.timezone!r} 不是有效的时区名，例如 "Asia/Shanghai"') from exc
    return settings
