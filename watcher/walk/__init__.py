"""The way through watcher, one stage a module:
claim → preflight → read → parse → validate → decide → commit → render → archive."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from .. import clock
from ..domain.problems import file_problem
from ..layout import Layout
from ..settings import Settings
from .archive import archive
from .claim import claim, original_name
from .commit import commit
from .decide import decide
from .outcome import Outcome
from .parse import parse
from .preflight import preflight
from .read import read
from .render import render
from .validate import validate

log = logging.getLogger("watcher")


@dataclass
class Desk:
    """Everything the walk needs, opened once per run."""
    layout: Layout
    settings: Settings
    ledger: object
    now: Callable[[], datetime] = clock.now

    def __post_init__(self):
        self.zone = self.settings.zone


def process_file(desk: Desk, path: Path, who: str) -> Outcome:
    """The whole walk for one file, inline."""
    claimed = claim(path, desk.layout.claimed(who))
    outcome = walk_claimed(desk, claimed, who)
    render(outcome, desk.layout.out(who), desk)
    archive_claimed(desk, claimed, outcome)
    return outcome


def take(desk: Desk, path: Path, who: str) -> tuple[Path, Outcome]:
    """Claim and walk up to the commit; the caller renders and archives (possibly in parallel)."""
    claimed = claim(path, desk.layout.claimed(who))
    return claimed, walk_claimed(desk, claimed, who)


def archive_claimed(desk: Desk, claimed: Path, outcome: Outcome) -> Path:
    return archive(claimed, desk.layout.archived(outcome.who), outcome.file_name, outcome.sha256,
                   outcome.processed_at, desk.zone)


def walk_claimed(desk: Desk, claimed: Path, who: str) -> Outcome:
    """preflight → read → parse → validate → decide → commit, inside the error trap."""
    original = original_name(claimed)
    checked = preflight(claimed, original)
    outcome = Outcome(who, original, checked.sha256, desk.now())
    outcome.result_stem = result_stem(desk, who, original)
    try:
        if checked.problem is not None:
            outcome.problems = [checked.problem]
        else:
            earlier = desk.ledger.effective_request(who, checked.sha256)
            if earlier is not None:
                _duplicate(desk, outcome, earlier)
            else:
                _walk(desk, outcome, claimed, checked.kind)
    except Exception as exc:  # the trap: this file fails with a result, the run goes on
        log.exception("unexpected error in %s/%s", who, original)
        outcome.status = "failed"
        outcome.policies, outcome.cancelled = [], []
        outcome.problems = [file_problem("file.internal", detail=type(exc).__name__)]
    return outcome


def _walk(desk: Desk, outcome: Outcome, claimed: Path, kind_name: str) -> None:
    book, trouble = read(claimed, kind_name)
    if trouble is not None:
        outcome.problems = [trouble]
        return
    outcome.book = book
    kind, request = parse(book, outcome.who, desk.settings)
    if kind is None:
        outcome.problems = [request]
        return
    outcome.action = request.action
    if request.roster is not None:
        outcome.roster_sheet = request.roster.sheet.name
        outcome.roster_header = request.roster.header_row
    checked = validate(kind, request, desk.ledger, outcome.processed_at)
    outcome.problems = checked.problems
    decision = decide(kind, checked, outcome.processed_at)
    outcome.status = decision.status
    outcome.cancelled = decision.cancelled
    outcome.summary = decision.summary
    outcome.notes = decision.notes
    outcome.row_premiums = decision.row_premiums
    commit(desk.ledger, desk.layout, outcome, decision)


def _duplicate(desk: Desk, outcome: Outcome, earlier) -> None:
    """Same bytes again after a request that changed the ledger: nothing changes, the first result again."""
    outcome.status = "duplicate"
    outcome.action = earlier.action
    outcome.policies = [desk.ledger.policy(n) for n in earlier.policies]
    outcome.cancelled = list(earlier.cancelled)
    outcome.first_processed_at = earlier.processed_at


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


def result_stem(desk: Desk, who: str, original: str) -> str:
    """团A.xlsx → 团A_结果; a later file of the same name → 团A_结果_2. Nothing is ever overwritten."""
    stem = _UNSAFE.sub("_", Path(original).stem).strip(" .") or "文件"
    stem = stem[:80]
    out = desk.layout.out(who)
    n = 1
    while True:
        candidate = f"{stem}_结果" if n == 1 else f"{stem}_结果_{n}"
        names = (candidate + ".xlsx", candidate + ".json")
        if not any((out / name).exists() or desk.ledger.output_taken(who, name) for name in names):
            return candidate
        n += 1
