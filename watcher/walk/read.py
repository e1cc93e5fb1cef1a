"""Read: the workbook's cells, or the problem that stops it being read."""

from __future__ import annotations

from pathlib import Path

from ..domain.problems import Problem, file_problem
from ..io.book import Book
from ..io.reader import ReadError, read_book


def read(path: Path, kind: str) -> tuple[Book | None, Problem | None]:
    try:
        return read_book(path, kind), None
    except ReadError as exc:
        if exc.code == "file.unreadable":
            return None, file_problem(exc.code, detail=exc.detail or "格式错误")
        return None, file_problem(exc.code)
