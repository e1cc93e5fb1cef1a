"""`watcher web`: the lookup application served by waitress, in one process or several sharing one port.

waitress is a production WSGI server in pure Python (no compiler, runs wherever Python does) with a
thread pool; with --workers N, N processes each bind the port with SO_REUSEPORT and the kernel
spreads connections between them. Their lock-out counts are shared through the root's lookup-state
database, so any load balancer can sit in front of any number of them.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
from pathlib import Path

log = logging.getLogger("watcher")


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

    from .app import LookupApp

    app = LookupApp(root, settings)
    sock = _socket(host, port, reuse_port)
    # X-Forwarded-For is judged by the app itself against web_trusted_proxies, so waitress keeps it.
    serve(app, sockets=[sock], threads=settings.web_threads, ident="watcher", clear_untrusted_proxy_headers=False,
          _quiet=True)


def _child(root: str, settings, host: str, port: int) -> None:
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
    _socket(host, port, True).close()  # the port is free (else say so now, not in every child)
    context = multiprocessing.get_context("spawn")

    def start(i: int):
        child = context.Process(target=_child, args=(str(root), settings, host, port), daemon=True,
                                name=f"watcher-web-{i}")
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
