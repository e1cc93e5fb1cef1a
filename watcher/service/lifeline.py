"""A helper process (a parser, a renderer, a web worker) must not outlive the process that started it,
even one killed with kill -9, which runs no cleanup and tells nobody."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """Linux: the kernel sends this process SIGKILL when its parent dies. Called first thing in the child;
    if the parent died before it took hold, the child goes at once."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)


def ignore_stop_signals() -> None:
    """In a helper: Ctrl-C (SIGINT) at a terminal and systemd's stop (SIGTERM to every process of the unit)
    reach the helpers as well as the service. The service finishes the file in hand, with its helpers, and
    then stops them itself; a helper that died of the signal would fail that file (a parse cut short
    reads as a file too big for the parser) or lose its outputs. If the service dies, SIGKILL follows
    (die_with_parent)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def watch_lifeline(lifeline) -> None:
    """Everywhere: a thread waits for the end of a pipe whose only writer is the parent; the kernel closes
    it when the parent dies, however it dies."""

    def wait() -> None:
        try:
            lifeline.recv()  # the parent never sends: this returns only when its end is closed
        except (EOFError, OSError):
            pass
        os._exit(1)

    threading.Thread(target=wait, name="lifeline", daemon=True).start()


def render_helper_start(parent: int) -> None:
    """In each render process of the pipeline: a stop signal sent to the whole group is the service's to
    act on (ignore_stop_signals); and it dies with the service, even a service killed with kill -9. Here,
    not in the pipeline's module: a render process imports only what it renders with."""
    from .. import crash

    die_with_parent(parent)
    crash.in_helper_of(parent)
    ignore_stop_signals()
