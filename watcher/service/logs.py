"""Operator logs: one line a file to stdout and to a rotating file under the root."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from datetime import datetime
from pathlib import Path

FORMAT = logging.Formatter("%(asctime)s\t%(levelname)s\t%(message)s", "%Y-%m-%d %H:%M:%S")


def configure(root: Path, zone, *, to_stdout: bool = True) -> logging.Logger:
    """Times in the log are the desk's local time (the server usually runs in UTC)."""
    logger = logging.getLogger("watcher")
    if logger.handlers:
        return logger
    FORMAT.converter = lambda seconds: datetime.fromtimestamp(seconds, zone).timetuple()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if to_stdout:
        out = logging.StreamHandler(sys.stdout)
        out.setFormatter(FORMAT)
        logger.addHandler(out)
    folder = root / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    rotating = logging.handlers.RotatingFileHandler(folder / "watcher.log", maxBytes=10 * 1024 * 1024,
                                                    backupCount=10, encoding="utf-8")
    rotating.setFormatter(FORMAT)
    logger.addHandler(rotating)
    return logger
