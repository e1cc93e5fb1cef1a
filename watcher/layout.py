"""The folders under the root (README.md, the folder tree) and the rules for agency folder names."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ADMIN = "_admin"
CORE = "_core"
AGENCY_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
CLAIMED = ".watcher-claimed"  # inside each drop folder: same filesystem, so the claim is one rename


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def find(cls, root: str | None) -> Layout:
        return cls(Path(root or os.environ.get("WATCHER_ROOT") or os.getcwd()).resolve())

    @property
    def workbooks(self) -> Path:
        return self.root / "workbooks"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    def drop(self, who: str) -> Path:
        return self.workbooks / who

    def out(self, who: str) -> Path:
        return self.outbox / who

    def archived(self, who: str) -> Path:
        return self.archive / who

    def claimed(self, who: str) -> Path:
        return self.drop(who) / CLAIMED

    def create_base(self) -> None:
        for path in (self.drop(ADMIN), self.out(ADMIN), self.out(CORE), self.archived(ADMIN)):
            path.mkdir(parents=True, exist_ok=True)

    def create_agency(self, code: str) -> None:
        for path in (self.drop(code), self.out(code)):
            path.mkdir(parents=True, exist_ok=True)
