"""SIGTERM and SIGINT: finish the file in hand, then stop."""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger("watcher")


def install_signal_handlers(stop: threading.Event) -> None:
    def handler(signum, frame):
        log.info("收到信号 %s：处理完手头的文件后退出", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
