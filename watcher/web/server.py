"""`watcher web`: the lookup application served by waitress, in one process or several sharing one port.

waitress is a production WSGI server in pure Python (no compiler, runs wherever Python does) with a
thread pool; with --workers N, N processes each bind the port with SO_REUSEPORT and the kernel
spreads connections between them. Their lock-out counts are shared through the root's lookup-state
database, so any load balancer can sit in front of any number of them.

The page stays up for everyone (docs/lookup-page.md): idle and slow connections are cut after CHANNEL_TIMEOUT, the
connection limit is far above any real crowd (so idle sockets cannot fill it), a body over the app's
MAX_BODY is refused (413) before it is read, and a worker dies with the parent that started it, even
one killed with kill -9.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from pathlib import Path

from ..service.lifeline import die_with_parent, watch_lifeline

log = logging.getLogger("watcher")

# Candidates for settings (docs/lookup-page.md); constants until they are wired into watcher.toml.
CHANNEL_TIMEOUT = 10  # seconds a connection may stay silent (idle keep-alive, slowloris) before it is cut
CLEANUP_INTERVAL = 2  # seconds between waitress's sweeps for silent connections
CONNECTION_LIMIT = 1000  # open connections per process; waitress's default (100) is filled by 100 idle sockets
MAX_HEADER = 16 * 1024  # bytes of request line and headers (waitress's default is 256 KB)


def _socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def _serve(root: Path, settings, host: str, port: int, reuse_port: bool) -> None:
    from waitress import serve

    from .app import MAX_BODY, LookupApp

    _enough_files(CONNECTION_LIMIT + 64)
    _waitress_logs()
    app = LookupApp(root, settings)
    sock = _socket(host, port, reuse_port)
    # X-Forwarded-For is judged by the app itself against web_trusted_proxies, so waitress keeps it.
    # waitress refuses a body at MAX_BODY + 1 bytes as soon as the headers say so, before reading it.
    serve(
        app,
        sockets=[sock],
        threads=settings.web_threads,
        ident="watcher",
        clear_untrusted_proxy_headers=False,
        channel_timeout=CHANNEL_TIMEOUT,
        cleanup_interval=CLEANUP_INTERVAL,
        connection_limit=CONNECTION_LIMIT,
        max_request_body_size=MAX_BODY + 1,
        max_request_header_size=MAX_HEADER,
        asyncore_use_poll=True,  # select() cannot watch a descriptor above 1023
        _quiet=True,
        _server=_server,
    )


def _server(app, **kw):
    """waitress's server, its connections made by `_Channel`."""
    from waitress.server import create_server

    server = create_server(app, **kw)
    for each in (server, *getattr(server, "map", {}).values()):
        if hasattr(each, "channel_class"):
            each.channel_class = _channel_class()
    return server


_CHANNEL: list[type] = []


def _channel_class() -> type:
    """waitress's connection, except that a request it already refuses (a body over the limit, headers it
    cannot parse) is not answered "100 Continue" first: that invites a client sending `Expect:
    100-continue` to upload the body the refusal is about (megabytes into the socket before the 413)."""
    if not _CHANNEL:
        from waitress.channel import HTTPChannel

        class _Channel(HTTPChannel):
            def send_continue(self):
                if self.request is not None and self.request.error is not None:
                    self.request.expect_continue = False  # the refusal goes out alone
                    return
                super().send_continue()

        _CHANNEL.append(_Channel)
    return _CHANNEL[0]


def _enough_files(wanted: int) -> None:
    """Raise the soft limit on open files (often 1024) towards the hard one: each connection is one."""
    try:
        import resource
    except ImportError:  # Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class _OncePerMinute(logging.Filter):
    """One "task queue depth" warning a minute: under a flood waitress would write one per request."""

    def __init__(self, every: float = 60.0):
        super().__init__()
        self.every, self.last = every, 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self.last < self.every:
            return False
        self.last = now
        return True


# waitress's own words for what the operator must act on, in the log's language.
_WAITRESS_WORDS = {
    "total open connections reached the connection limit, no longer accepting new connections": (
        f"查询页面同时打开的连接已达上限（{CONNECTION_LIMIT} 个），暂不接受新连接，查询的人会等到超时：多半是有客户端"
        "占着大量慢连接。请在反向代理上限制每个地址的连接数（见 docs/lookup-page.md）"
    ),
    "total open connections dropped below the connection limit, listening again": (
        "查询页面打开的连接已降到上限以下，重新接受新连接"
    ),
    "Task queue depth is %d": "查询页面的处理线程全忙，另有 %d 个请求在排队",
}


class _InChinese(logging.Filter):
    """waitress's lines the operator acts on, said in Chinese (its connection limit reached and left, its
    threads all busy); its other INFO lines (a client gone mid-answer, one a request) are not logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        words = _WAITRESS_WORDS.get(str(record.msg))
        if words is not None:
            record.msg = words
            return True
        return record.levelno >= logging.WARNING


def _waitress_logs() -> None:
    """waitress's own warnings (connection limit reached, threads all busy) into the watcher log,
    not bare to stderr."""
    ours = logging.getLogger("watcher")
    theirs = logging.getLogger("waitress")
    theirs.setLevel(logging.INFO)  # (its line that the limit was left is INFO: _InChinese lets only that by)
    theirs.propagate = False
    for handler in ours.handlers:
        if handler not in theirs.handlers:
            theirs.addHandler(handler)
    if not any(isinstance(f, _InChinese) for f in theirs.filters):
        theirs.addFilter(_InChinese())
    queue = logging.getLogger("waitress.queue")
    if not queue.filters:
        queue.addFilter(_OncePerMinute())
        queue.addFilter(_InChinese())


def _die_with(parent: int, lifeline) -> None:
    """A worker must not outlive `watcher web`, even one killed with kill -9 (which runs no cleanup)."""
    die_with_parent(parent)
    watch_lifeline(lifeline)


def _child(root: str, settings, host: str, port: int, parent: int, lifeline) -> None:
    _die_with(parent, lifeline)
    from ..service.logs import configure

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its children
    configure(Path(root), settings.zone, to_stdout=True)
    _serve(Path(root), settings, host, port, True)


def serve_web(root: Path, settings, host: str, port: int, workers: int = 1) -> None:
    """Serve until SIGTERM or Ctrl-C. Several workers share the port (SO_REUSEPORT); one that dies is
    started again."""
    print(f"客户自助查询页面：http://{host}:{port}/（{workers} 个进程；Ctrl-C 停止）", flush=True)
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        _serve(root, settings, host, port, False)
        return
    # The port is free (else say so now, not in every child): probed without SO_REUSEPORT, which would share
    # it with another `watcher web` still running (another root, old settings) and split lookups between them.
    _socket(host, port, False).close()
    context = multiprocessing.get_context("spawn")
    # Kept open (never written) for as long as this process lives: its end is the workers' signal to go.
    lifeline, keep = context.Pipe(duplex=False)

    def start(i: int):
        child = context.Process(
            target=_child,
            args=(str(root), settings, host, port, os.getpid(), lifeline),
            daemon=True,
            name=f"watcher-web-{i}",
        )
        child.start()
        return child

    children = [start(i) for i in range(workers)]
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    try:
        while not stopping.wait(1):
            for i, child in enumerate(children):
                if not child.is_alive():
                    log.warning("查询页面进程 %s 已退出（%s），正在重启", child.name, child.exitcode)
                    children[i] = start(i)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.join(5)
        keep.close()
