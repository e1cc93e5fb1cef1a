"""Two sorts of error: a file's own (its data: it fails that file, with a result) and the desk's (the
ledger locked, broken or away; the disk full or failing). A desk fault never turns into a 失败 result:
it stops the intake, leaves every file where it is, and is told to the operator in one Chinese line.
"""

from __future__ import annotations

import errno
import sqlite3
import sys
from typing import Any

LOCKED, LEDGER, AWAY, DISK, SWAPPED, FOLDER, GONE = "locked", "ledger", "away", "disk", "swapped", "folder", "gone"

WORDS = {
    LOCKED: "账本被其他程序锁定",
    LEDGER: "账本出错（可能已损坏）",
    AWAY: "无法连接账本数据库",
    DISK: "磁盘已满或读写出错",
    SWAPPED: "账本在服务运行时被删除、替换或恢复成了较早的备份",
    FOLDER: "watcher 自己的文件夹不允许写入",
    GONE: "投递或输出文件夹不见了",
}
# A root without its _admin folder is taken for an empty mount point; one removed by hand is made again by init.
_ADMIN_AGAIN = "；若共享盘就在原处（里面有各机构的文件夹）、只是其中的 _admin 文件夹被删了，运行 watcher init 重建"
# Nothing a running service can wait out: the ledger it has open is not the desk's any more.
_RESTART = (
    "已停止受理，不会把已发出的号码再发一次。请停止所有 watcher 再启动：启动时会核对账本，账本落后于已发出的编号时"
    "按提示运行 watcher recover 从 archive/ 重放，或恢复更新的备份（见运维文档的备份与恢复）"
)
# Where there is no backup to restore (or it is older than the archive): the archive rebuilds the ledger.
NO_BACKUP = "；没有可用的备份时，把损坏的账本文件移到别处，再运行 watcher recover，从 archive/ 重放重建"
ADVICE = {
    LOCKED: "等锁定解除后自动继续；若持续，请找出占用账本的程序（如正在打开账本的 sqlite3 或备份工具）",
    LEDGER: "请运行 watcher check 查看；如账本已损坏，请停止 watcher，从最近的备份恢复账本（SQLite 账本：先删除账本旁的 -wal 和 -shm 文件，再复制备份；见运维文档的备份与恢复），再运行 watcher recover 补上备份之后的业务"
    + NO_BACKUP,
    AWAY: "恢复连接后自动继续；请检查数据库服务器和网络",
    DISK: "腾出磁盘空间（或修复磁盘）后自动继续（检查时根目录所在磁盘须能写入 1 MB，其他输出文件夹 64 KB）；"
    "说的是“只读”时，请检查该文件的权限、chattr +i 或只读挂载",
    SWAPPED: _RESTART,
    FOLDER: "请恢复运行 watcher 的用户对该文件夹的写入权限（chmod/chown，或 chattr -i），之后自动继续",
    GONE: "多半是共享盘掉线、未挂载或目录被改名：请把它挂载或改回原处（不要另建空文件夹），之后自动继续" + _ADMIN_AGAIN,
}
# The same, said where nothing will go on by itself: a `process` run that stopped, `status` with no service
# running.
AGAIN = "重新运行命令（如 watcher process），或启动 watcher serve，即可继续"
ADVICE_IDLE = {
    LOCKED: f"锁定解除后{AGAIN}；若持续，请找出占用账本的程序（如正在打开账本的 sqlite3 或备份工具）",
    LEDGER: ADVICE[LEDGER],
    AWAY: f"恢复连接后{AGAIN}；请检查数据库服务器和网络",
    DISK: f"腾出磁盘空间（至少 1 MB，或修复磁盘）后{AGAIN}；说的是“只读”时，请检查该文件的权限、chattr +i 或只读挂载",
    SWAPPED: _RESTART,
    FOLDER: f"恢复运行 watcher 的用户对该文件夹的写入权限（chmod/chown，或 chattr -i）后{AGAIN}",
    GONE: f"多半是共享盘掉线、未挂载或目录被改名：请把它挂载或改回原处（不要另建空文件夹）后{AGAIN}" + _ADMIN_AGAIN,
}
# What the operator reads once a fault is gone ("{WORDS}已恢复" read 无法连接账本数据库已恢复).
CLEARED = {
    LOCKED: "账本的锁定已解除",
    LEDGER: "账本已恢复正常",
    AWAY: "与账本数据库的连接已恢复",
    DISK: "磁盘已恢复可写",
    SWAPPED: "账本已恢复",
    FOLDER: "文件夹已恢复可写",
    GONE: "投递和输出文件夹已恢复",
}
WEB_ADVICE = {
    LOCKED: "若持续，请找出占用账本的程序（如正在打开账本的 sqlite3 或备份工具）",
    LEDGER: "账本文件被移走或正在替换时也会这样，放回原处即可；若持续，请运行 watcher check 查看",
    AWAY: "请检查数据库服务器和网络",
    DISK: "请腾出磁盘空间（或修复磁盘）",
    SWAPPED: "请运行 watcher status 查看",
    FOLDER: "请恢复文件夹的写入权限",
    GONE: "请检查共享盘是否已挂载",
}
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS}


class DeskFault(Exception):
    """Work stopped by the desk itself, not by the file in hand."""

    where: Any  # the folder it hit, when known: looked at again before the desk goes on

    def __init__(self, reason: str, cause: BaseException | None = None, where: Any = None):
        super().__init__(reason, cause)
        root = _root(cause)
        if isinstance(root, DeskFault):  # a fault met inside other work: its own cause and place, not its repr
            inner: DeskFault = root
            root, where = inner.cause, where if where is not None else inner.where
        self.reason = reason  # LOCKED, CORRUPT, … (WORDS)
        self.cause: BaseException | None = root
        self.where = where

    def line(self, *, running: bool = True, stopped: bool = True) -> str:
        """The one Chinese line an operator reads (logs, watcher status, watcher check). `running`: a
        service goes on by itself once the fault is gone; else (a `process` run that stopped, `status`
        with no service running) the line says what to run. `stopped` False: `status` met it, and the
        running service has not said it stopped (it may be waiting out a short lock)."""
        detail = f"（{describe(self.cause)}）" if self.cause is not None else ""
        if self.where is not None and str(self.where) not in detail:
            # The folder it hit, where the error itself names no file (a full disk): an operator who looks at
            # the root's disk finds room, and needs to know which disk is full.
            detail += f"（{shown_path(str(self.where))}）"
        if running and not stopped:
            return (
                f"{WORDS[self.reason]}{detail}（watcher status 检查时发现）：服务遇到时先等待重试，持续则暂停受理，"
                f"文件都留在原处。{ADVICE[self.reason]}"
            )
        if not running:
            return f"{WORDS[self.reason]}{detail}：未受理新文件，文件都留在原处。{ADVICE_IDLE[self.reason]}"
        return f"{WORDS[self.reason]}{detail}：已暂停受理新文件，文件都留在原处。{ADVICE[self.reason]}"

    def short(self) -> str:
        """What it is, in a line without the intake's words: for work that is not a file's (month-end)."""
        detail = f"（{describe(self.cause)}）" if self.cause is not None else ""
        where = f"（{shown_path(str(self.where))}）" if self.where is not None and str(self.where) not in detail else ""
        return f"{WORDS[self.reason]}{detail}{where}"

    def web_line(self) -> str:
        """The line the lookup page logs (it takes no files: the intake's words would mislead)."""
        detail = f"（{describe(self.cause)}）" if self.cause is not None else ""
        return f"{WORDS[self.reason]}{detail}：查询暂时回答“正在维护”，原因消除后自动恢复，无需重启。{WEB_ADVICE[self.reason]}"


def _root(exc: BaseException | None) -> BaseException | None:
    """The error a library wrapped (xlsxwriter's FileCreateError around ENOSPC), when there is one."""
    todo, seen = [exc], 0
    while todo and seen < 10:
        found = todo.pop(0)
        seen += 1
        if found is None:
            continue
        if isinstance(found, DeskFault) or _classify(found) is not None:
            return found
        # Wrapped: as the cause or context, or as an argument (an error pickled back from a worker keeps
        # only its arguments).
        todo += [found.__cause__, found.__context__, *(a for a in found.args if isinstance(a, BaseException))]
    return exc


# What the system's own words (English on a server) mean to the operator, for the errors a desk meets.
OS_WORDS = {
    errno.ENOSPC: "磁盘已满",
    errno.EDQUOT: "磁盘配额已用完",
    errno.EIO: "磁盘读写出错",
    errno.EROFS: "磁盘是只读的",
    errno.EACCES: "没有权限",
    errno.EPERM: "没有权限",
    errno.EEXIST: "该位置已有同名的文件",
    errno.ENOTDIR: "路径中有一段是文件而不是文件夹",
    errno.EISDIR: "该位置是文件夹",
    errno.ENOENT: "路径不存在",
    errno.EBUSY: "文件正被占用",
    errno.ENAMETOOLONG: "文件名太长",
}


def os_words(exc: OSError) -> str:
    """An OSError in Chinese (the system's words where there is no translation)."""
    return OS_WORDS.get(exc.errno or 0) or exc.strerror or str(exc) or type(exc).__name__


# SQLite's own words (English on a server) for the ledger troubles an operator meets.
SQLITE_WORDS = {
    "database disk image is malformed": "数据库文件已损坏",
    "file is not a database": "不是 SQLite 数据库文件",
    "disk I/O error": "磁盘读写出错",
    "database is locked": "数据库被锁定",
    "unable to open database file": "无法打开数据库文件",
    "attempt to write a readonly database": "数据库是只读的",
    "database or disk is full": "数据库所在磁盘已满",
}


def describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename2 or exc.filename  # a rename's trouble is where it puts the file
        return f"{os_words(exc)}{'：' + shown_path(str(where)) if where else ''}"
    if isinstance(exc, sqlite3.Error) and str(exc).strip() in SQLITE_WORDS:
        return SQLITE_WORDS[str(exc).strip()]
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


def shown_path(path: str) -> str:
    """The output a temporary file stands for (io/atomic writes `.<name>.<pid>.watcher-tmp` first)."""
    folder, _, name = path.rpartition("/")
    if name.startswith(".") and name.endswith(".watcher-tmp") and name.count(".") >= 3:
        name = name[1:].rsplit(".", 2)[0]
    return f"{folder}/{name}" if folder else name


def refused(exc: BaseException) -> str | None:
    """FOLDER for a write the system refused for want of permission (EACCES, EPERM), else None: said as the
    desk's fault only where the folder is the desk's own (the archive, a probe), never a dropped file's."""
    return FOLDER if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM) else None


def classify(exc: BaseException) -> str | None:
    """Which fault of the desk this exception means, or None when it is about the file in hand. A library
    that wraps the error (xlsxwriter's FileCreateError around ENOSPC) is looked through."""
    found = _root(exc)
    return _classify(found) if found is not None else None


def _classify(exc: BaseException) -> str | None:
    if isinstance(exc, DeskFault):
        return exc.reason
    if isinstance(exc, sqlite3.IntegrityError):
        return None  # a constraint: another worker got there first (the walk checks again), not a fault
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return LOCKED
        if "full" in text or "disk i/o" in text or "readonly" in text:
            return DISK  # "attempt to write a readonly database": a read-only disk or file, not a damaged one
        return LEDGER
    if isinstance(exc, sqlite3.DatabaseError):
        return LEDGER  # "database disk image is malformed", "file is not a database" …
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.Error):
        errors = psycopg.errors
        if isinstance(exc, (errors.LockNotAvailable, errors.TransactionRollback, errors.QueryCanceled)):
            return LOCKED
        if isinstance(exc, (errors.DiskFull, errors.OutOfMemory, errors.IoError, errors.ReadOnlySqlTransaction)):
            return DISK  # (read-only: a hot standby, default_transaction_read_only: the advice says 只读)
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return AWAY  # the connection is gone, the server shuts down, cannot connect now …
        return None
    if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
        return DISK
    return None
