"""The `watcher` command: it parses arguments and calls one function of `commands` per command; exit 0
done, 1 failed, 2 bad usage."""

from __future__ import annotations

import argparse
import os
import re
import sys
from contextlib import contextmanager

from . import commands
from .commands import Failure
from .faults import os_words, shown_path
from .layout import Layout
from .settings import SettingsError


class _Parser(argparse.ArgumentParser):
    """argparse, its usage errors in the words of ARGPARSE_WORDS and its lists of choices as a clerk
    writes them (a、b、c, not 'a', 'b', 'c')."""

    def error(self, message: str):
        message = re.sub(
            r"（可选：([^）]*)）",
            lambda m: "（可选：" + "、".join(part.strip().strip("'") for part in m.group(1).split(",")) + "）",
            message,
        )
        super().error(message)


def _port(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", text.strip()) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"端口“{text}”无效，请填 1 到 65535 的整数")
    return int(text)


def _workers(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,3}", text.strip()) or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"进程数“{text}”无效，请填 1 到 64 的整数")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="watcher", description="旅行社旅游险共享文件夹出单台")
    parser.add_argument("--root", help="工作目录（默认 $WATCHER_ROOT，否则当前目录）")
    common = _Parser(add_help=False)
    # SUPPRESS: given after the command it is read here, before it it is the main parser's; either way one
    # value (a plain default here would undo `watcher --root DIR process`).
    common.add_argument("--root", default=argparse.SUPPRESS, help="工作目录（默认 $WATCHER_ROOT，否则当前目录）")
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令", parser_class=_Parser)
    p = sub.add_parser("init", parents=[common], help="建立文件夹、设置和账本")
    p.add_argument("--demo", action="store_true", help="同时载入一个演示机构和两个方案")
    p.set_defaults(func=commands.cmd_init)
    p = sub.add_parser("process", parents=[common], help="处理当前等待的所有文件，然后退出")
    p.set_defaults(func=commands.cmd_process)
    p = sub.add_parser("serve", parents=[common], help="监视文件夹并持续处理，直到收到停止信号")
    p.set_defaults(func=commands.cmd_serve)
    p = sub.add_parser("status", parents=[common], help="等待、处理中、今日完成和失败的文件")
    p.set_defaults(func=commands.cmd_status)
    p = sub.add_parser("month-end", parents=[common], help="立即运行月结（默认上个月）")
    p.add_argument("--month", metavar="YYYY-MM", help="结账月份，如 2026-11（默认上个月）")
    p.set_defaults(func=commands.cmd_month_end)
    p = sub.add_parser("check", parents=[common], help="核对账本的金额和编号（有不一致时退出码为 1）")
    p.add_argument("--json", action="store_true", help="以 JSON 输出（每处不一致带代码、记录、应为、实为）")
    p.set_defaults(func=commands.cmd_check)
    p = sub.add_parser("recover", parents=[common], help="从 archive/ 重放，把恢复的备份或新账本追到最新")
    p.add_argument(
        "--accept-outbox",
        action="store_true",
        help="outbox 中的 JSON 与重放结果不一致时，核实后仍完成恢复（outbox 不会被改写）",
    )
    p.add_argument(
        "--new-ledger",
        action="store_true",
        help="原账本确已丢失时，在与此目录记录不同的位置（另一个数据库或文件）新建账本并重建",
    )
    p.set_defaults(func=commands.cmd_recover)
    p = sub.add_parser("migrate", parents=[common], help="把账本复制到 PostgreSQL 并核对")
    p.add_argument("--to", required=True, metavar="URL", help="postgresql://用户@主机/数据库（须为空库）")
    p.set_defaults(func=commands.cmd_migrate)
    p = sub.add_parser("web", parents=[common], help="客户自助查询页面")
    p.add_argument("--host", help="监听地址（默认 127.0.0.1）")
    p.add_argument("--port", type=_port, help="端口（默认 8080）")
    p.add_argument("--workers", type=_workers, help="进程数（默认 4，见设置 web_workers；多个进程共用一个端口）")
    p.set_defaults(func=commands.cmd_web)
    p = sub.add_parser("template", parents=[common], help="生成空白申请模板")
    p.add_argument(
        "kind",
        metavar="KIND",
        help="申请种类，如 投保、撤单、对账单查询、结账、对账确认、收费登记（不认识的种类会列出全部）",
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="输出文件，如 团A.xlsx")
    p.add_argument(
        "--agency", metavar="CODE", help="机构代码：“方案代码”下拉列表只列该机构可用的方案（默认列出全部现行方案）"
    )
    p.set_defaults(func=commands.cmd_template)
    return parser


# argparse's own words (usage errors, help headings), in Chinese like every other message; anything not
# listed stays as argparse says it.
ARGPARSE_WORDS = {
    "usage: ": "用法：",
    "%(prog)s: error: %(message)s\n": "%(prog)s：用法错误：%(message)s。运行 %(prog)s --help 查看用法\n",
    "the following arguments are required: %s": "缺少必需的参数：%s",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "invalid choice: %(value)r (choose from %(choices)s)": "没有“%(value)s”这个选项（可选：%(choices)s）",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "expected one argument": "后面须跟一个值",
    "expected at most one argument": "后面最多跟一个值",
    "expected at least one argument": "后面至少跟一个值",
    "invalid %(type)s value: %(value)r": "“%(value)s”不是有效的值",
    "ambiguous option: %(option)s could match %(matches)s": "选项 %(option)s 不明确，可能是：%(matches)s",
    "ignored explicit argument %r": "多余的值 %r",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "one of the arguments %s is required": "须提供以下参数之一：%s",
    "unexpected option string: %s": "意外的选项：%s",
    "show this help message and exit": "显示本帮助并退出",
    "positional arguments": "参数",
    "options": "选项",
}


@contextmanager
def _argparse_in_chinese():
    """argparse looks its words up through gettext at the moment it speaks: swap in ours meanwhile."""
    saved = argparse._
    argparse._ = lambda text: ARGPARSE_WORDS.get(text, text)
    try:
        yield
    finally:
        argparse._ = saved


# multiprocessing's resource tracker outlives a service killed with kill -9 by a moment and warns, in
# English, of the semaphores it then cleans up: into the operator's log. It is started with this process's
# environment, so it inherits this filter (and so do the parser and render processes: nothing else).
QUIET_TRACKER = "ignore:resource_tracker:UserWarning"


def _unraisable(unraisable) -> None:
    """A workbook writer that met a full disk leaves its zip file open, and closing it when it is collected
    meets the full disk again: Python printed that as a traceback after the one line that said the disk was
    full. That one is dropped; anything else is printed as Python would."""
    if isinstance(unraisable.exc_value, OSError) and "ZipFile" in repr(unraisable.object):
        return
    sys.__unraisablehook__(unraisable)


def main(argv: list[str] | None = None) -> int:
    sys.unraisablehook = _unraisable
    if QUIET_TRACKER not in os.environ.get("PYTHONWARNINGS", ""):
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (os.environ.get("PYTHONWARNINGS"), QUIET_TRACKER)))
    with _argparse_in_chinese():
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:  # said by the command's own parser, with its own usage line
            subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            subcommands.choices[args.command].error(ARGPARSE_WORDS["unrecognized arguments: %s"] % " ".join(extra))
    layout = Layout.find(args.root)
    try:
        code = args.func(layout, args)
        sys.stdout.flush()  # a reader that went away (watcher status | head) is met here, not at exit
        return code
    except (Failure, SettingsError) as exc:
        print(f"watcher {args.command}: {_run_again(str(exc), args.command)}", file=sys.stderr)
        if args.command in ("serve", "process", "web"):
            _log_refusal(layout, f"watcher {args.command} 未能启动：{exc}")
        return 1
    except OSError as exc:  # a folder that cannot be read or written: say which, no traceback
        if isinstance(exc, BrokenPipeError) and _reader_gone():
            return 1
        print(
            f"watcher {args.command}: 无法访问 {shown_path(str(exc.filename2 or exc.filename or layout.root))}"
            f"（{os_words(exc)}）。请检查路径和权限",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from .faults import ADVICE_IDLE, DeskFault, classify

        fault = classify(exc)  # the desk's fault met inside a library (a full disk under a workbook writer)
        if fault is None:
            raise
        advice = _run_again(ADVICE_IDLE[fault], args.command)
        print(f"watcher {args.command}: {DeskFault(fault, exc).short()}。{advice}", file=sys.stderr)
        return 1


def _run_again(text: str, command: str) -> str:
    """The advice to run again names the command that stopped (a month-end on a full disk was told to run
    watcher process, which runs no month-end)."""
    if command in ("process", "serve"):
        return text
    return text.replace("重新运行命令（如 watcher process），或启动 watcher serve", f"重新运行 watcher {command}")


def _log_refusal(layout: Layout, line: str) -> None:
    """A service that refused to start says why in the desk's log too (an operator reading the logs saw a
    service that had simply stopped): only where the desk's logs folder is, never made here."""
    from datetime import UTC, tzinfo

    from . import clock

    folder = layout.root / "logs"
    if not folder.is_dir():
        return
    try:
        from .settings import load_settings

        zone: tzinfo = load_settings(layout.root).zone  # the log's times are the desk's
    except Exception:  # the settings are what was refused
        zone = UTC
    try:
        stamp = f"{clock.now().astimezone(zone):%Y-%m-%d %H:%M:%S}"
        with open(folder / "watcher.log", "a", encoding="utf-8", errors="backslashreplace") as log:
            log.write(f"{stamp}\tERROR\t{' '.join(line.split())}\n")
    except (OSError, ValueError):  # the log's disk is the trouble (or the clock setting): said on stderr already
        pass


def _reader_gone() -> bool:
    """Whether our standard output is a pipe whose reader has gone (`watcher status | head`): then there
    is nothing to say and nowhere to say it, and what is left of the output goes nowhere instead of
    failing again at exit."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        gone = any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll here, or no real standard output
        return False
    if gone:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return gone


if __name__ == "__main__":
    sys.exit(main())
