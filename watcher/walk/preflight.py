"""Preflight: before any parser sees the file, its type by content, its size, and its SHA-256."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..domain.problems import Problem, file_problem

if TYPE_CHECKING:
    from ..settings import Settings

ACCEPTED = (".xlsx", ".xlsm", ".xls", ".csv")
_OLE = bytes.fromhex("D0CF11E0A1B11AE1")


@dataclass(frozen=True)
class Preflight:
    sha256: str
    size: int
    format: str | None  # "xlsx", "xls" or "csv"; None when refused
    problem: Problem | None = None


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def preflight(path: Path, original: str, settings: Settings, known: tuple[str, int] | None = None) -> Preflight:
    """`known`: the file's SHA-256 and size when they were taken as it was copied (walk.archive.snapshot)."""
    sha, size = known or sha256_of(path)
    ext = Path(original).suffix.lower()
    if ext not in ACCEPTED:
        return Preflight(sha, size, None, file_problem("file.unsupported", ext=ext or "无扩展名"))
    if size == 0:
        return Preflight(sha, size, None, file_problem("file.empty"))
    if size > settings.max_file_mb * 2**20:
        return Preflight(
            sha, size, None, file_problem("file.too_large", size=f"{size / 2**20:.0f}", limit=settings.max_file_mb)
        )
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PK\x03\x04"):
        return _zip(path, sha, size, settings)
    if head == _OLE:
        if _ole_encrypted(path):
            return Preflight(sha, size, None, file_problem("file.encrypted"))
        return Preflight(sha, size, "xls")
    if ext == ".csv":
        return Preflight(sha, size, "csv")
    return Preflight(sha, size, None, file_problem("file.unreadable", detail="不是 Excel 工作簿"))


def _zip(path: Path, sha: str, size: int, settings: Settings) -> Preflight:
    """The central directory, before anything is inflated: entry count, declared size and ratio."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except Exception:  # noqa: BLE001 — BadZipFile, but also NotImplementedError (a flipped version byte),
        # OverflowError, ValueError, EOFError, struct.error: whatever damaged bytes make zipfile raise
        return Preflight(sha, size, None, file_problem("file.unreadable", detail="文件不完整或已损坏"))
    names = {info.filename for info in infos}
    if len(infos) > settings.max_zip_entries:
        return Preflight(sha, size, None, file_problem("file.zip_bomb", detail=f"{len(infos)} 个内部文件"))
    declared = sum(info.file_size for info in infos)
    if declared > settings.max_unzipped_mb * 2**20:
        return Preflight(sha, size, None, file_problem("file.zip_bomb", detail=f"解压后约 {declared / 2**20:,.0f} MB"))
    for info in infos:
        if info.file_size > 2**20 and info.file_size > settings.max_zip_ratio * max(info.compress_size, 1):
            return Preflight(
                sha,
                size,
                None,
                file_problem("file.zip_bomb", detail=f"压缩比 {info.file_size // max(info.compress_size, 1)}:1"),
            )
    if "xl/workbook.xml" in names:
        return Preflight(sha, size, "xlsx")
    if "xl/workbook.bin" in names:
        return Preflight(sha, size, None, file_problem("file.unsupported", ext=".xlsb"))
    if "content.xml" in names:
        return Preflight(sha, size, None, file_problem("file.unsupported", ext=".ods"))
    if "Index/Document.iwa" in names or any(n.startswith("Index/") for n in names):
        return Preflight(sha, size, None, file_problem("file.unsupported", ext=".numbers"))
    return Preflight(sha, size, None, file_problem("file.unreadable", detail="压缩包里没有 Excel 工作表"))


def _ole_encrypted(path: Path) -> bool:
    """An encrypted .xlsx is an OLE file with an EncryptionInfo stream (its name is UTF-16 in the directory)."""
    marker = "EncryptionInfo".encode("utf-16-le")
    with path.open("rb") as handle:
        return marker in handle.read(1 << 20)
