"""The desk a walk works on: the folders, the settings, the ledger, the clock, the reader, opened once per run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .. import clock
from ..io.reader import limits_of, read_book
from ..io.sandbox import Sandbox
from ..layout import Layout
from ..ledger.policies import Ledger
from ..settings import Settings


@dataclass
class Desk:
    """Everything the walk needs, opened once per run."""

    layout: Layout
    settings: Settings
    ledger: Ledger
    now: Callable[[], datetime] = clock.now
    reserved: set = field(default_factory=set)  # (who, result stem) of files in hand, not yet archived
    reader: Callable | None = None  # (path, format) → Book; the sandbox when the service runs
    parser: Sandbox | None = None  # the sandbox, when the service runs: files are sent to it ahead
    worker: str | None = None  # with several workers (PostgreSQL): this one's name; its claims live apart
    busy_turns: dict = field(default_factory=dict)  # turn name → when it was last found held past the wait

    def __post_init__(self):
        self.zone = self.settings.zone
        if self.reader is None and self.parser is not None:
            self.reader = self.parser.read
        if self.reader is None:
            limits = limits_of(self.settings)
            self.reader = lambda path, fmt: read_book(path, fmt, limits)
