"""Preflight: before any parser sees the file, its type by content, its size, and its SHA-256."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..domain.problems import Problem, file_problem

ACCEPTED = (".xlsx", ".xlsm", ".xls", ".csv")
_OLE = bytes.fromhex("D0CF11E0A1B11AE1")


@dataclass(frozen=True)
class Checked:
    sha256: str
    size: int
    kind: str | None  # "xlsx", "xls" or "csv"; None when refused
    problem: Problem | None = None


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def preflight(path: Path, original: str) -> Checked:
    sha, size = sha256_of(path)
    ext = Path(original).suffix.lower()
    if ext not in ACCEPTED:
        return Checked(sha, size, None, file_problem("file.unsupported", ext=ext or "无扩展名"))
    if size == 0:
        return Checked(sha, size, None, file_problem("file.empty"))
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PK\x03\x04"):
        return _zip(path, sha, size)
    if head == _OLE:
        if _ole_encrypted(path):
            return Checked(sha, size, None, file_problem("file.encrypted"))
        return Checked(sha, size, "xls")
    if ext == ".csv":
        return Checked(sha, size, "csv")
    return Checked(sha, size, None, file_problem("file.unreadable", detail="不是 Excel 工作簿"))


def _zip(path: Path, sha: str, size: int) -> Checked:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return Checked(sha, size, None, file_problem("file.unreadable", detail="文件不完整或已损坏"))
    if "xl/workbook.xml" in names:
        return Checked(sha, size, "xlsx")
    if "xl/workbook.bin" in names:
        return Checked(sha, size, None, file_problem("file.unsupported", ext=".xlsb"))
    if "content.xml" in names:
        return Checked(sha, size, None, file_problem("file.unsupported", ext=".ods"))
    return Checked(sha, size, None, file_problem("file.unreadable", detail="压缩包里没有 Excel 工作表"))


def _ole_encrypted(path: Path) -> bool:
    """An encrypted .xlsx is an OLE file with an EncryptionInfo stream (its name is UTF-16 in the directory)."""
    marker = "EncryptionInfo".encode("utf-16-le")
    with path.open("rb") as handle:
        return marker in handle.read(1 << 20)
