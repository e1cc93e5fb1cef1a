"""Read: the workbook's cells, or the problem that stops it being read.

The desk's reader is the sandbox (a worker process under memory and time limits) when the service
runs, or read_book itself in tests of the walk.
"""

from __future__ import annotations

from pathlib import Path

from ..domain.problems import Problem, file_problem
from ..io.book import Book
from ..io.reader import ReadError


def read(reader, path: Path, fmt: str) -> tuple[Book | None, Problem | None]:
    try:
        return reader(path, fmt), None
    except ReadError as exc:
        values = dict(exc.values)
        if exc.code == "file.unreadable":
            values.setdefault("detail", "格式错误")
        return None, file_problem(exc.code, **values)
