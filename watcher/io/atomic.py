"""Outputs appear whole: written under a temporary name in the same folder, then renamed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_SUFFIX = ".watcher-tmp"


def temp_name(path: Path) -> Path:
    """`.<name>.<writer>.watcher-tmp`: the writer is the worker (WATCHER_WORKER, inherited by its helper
    processes) or the process, so the temporary files of a worker that died can be told apart."""
    return path.with_name(f".{path.name}.{os.environ.get('WATCHER_WORKER') or os.getpid()}{TEMP_SUFFIX}")


@contextmanager
def replacing(path: Path, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is synced (if `durable`) and renamed to `path`."""
    tmp = temp_name(path)
    try:
        yield tmp
        if durable:
            with tmp.open("rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError:
        raise
    except Exception as exc:
        # A writer that wraps the system's refusal (xlsxwriter's FileCreateError around EROFS, EPERM, ENOSPC)
        # raises it as what it is: the callers that keep one folder's refusal to that folder (month-end:
        # one agency's outbox) catch OSError, and a read-only share stopped the whole month-end (attack X).
        refused = next((a for a in (*exc.args, exc.__cause__) if isinstance(a, OSError)), None)
        if refused is None:
            raise
        raise refused from exc
    finally:
        if tmp.exists():  # (never unlinked blind: on a read-only mount that says EROFS, not ENOENT)
            tmp.unlink()


def fsync_path(path: Path) -> None:
    """fsync a file, or a folder (its entries: a file just created or renamed in it), by its path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    with replacing(path, durable) as tmp:
        tmp.write_bytes(data)
