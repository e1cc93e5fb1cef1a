"""Operator logs: one line a file to stdout and to a rotating file under the root."""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from datetime import datetime
from pathlib import Path

FORMAT = logging.Formatter("%(asctime)s\t%(levelname)s\t%(message)s", "%Y-%m-%d %H:%M:%S")
# In what a log line quotes (file names, agency folders …): a newline or another control character would
# split the line or forge one; a lone surrogate (a name that is not UTF-8) cannot be written at all.
_UNSAFE = re.compile("[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _harmless(text: str) -> str:
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class QuotedText(logging.Filter):
    """Arguments of a log line are quoted harmlessly; the line's own tabs stay (its fields' separators)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_harmless(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _harmless(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


class _LogFile(logging.handlers.RotatingFileHandler):
    """The log file on a disk that is full: the line still goes to stdout (journald); no traceback a line."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def configure(root: Path, zone, *, to_stdout: bool = True) -> logging.Logger:
    """Times in the log are the desk's local time (the server usually runs in UTC)."""
    logger = logging.getLogger("watcher")
    if logger.handlers:
        return logger
    FORMAT.converter = lambda seconds: datetime.fromtimestamp(seconds or 0, zone).timetuple()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if to_stdout:
        out = logging.StreamHandler(sys.stdout)
        out.setFormatter(FORMAT)
        out.addFilter(QuotedText())
        logger.addHandler(out)
    folder = root / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    rotating = _LogFile(folder / "watcher.log", maxBytes=10 * 1024 * 1024, backupCount=10, encoding="utf-8")
    rotating.setFormatter(FORMAT)
    rotating.addFilter(QuotedText())
    logger.addHandler(rotating)
    return logger
