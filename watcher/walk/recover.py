"""Recovery: a file left in the claim area by a run that was stopped is finished with the result name it was
given; a request already committed is shown again (rebuild), and the same bytes dropped again get the
first result (duplicate), with that request's own outputs written if they went missing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .claim import Claim, read_record, record_claim, write_record
from .outcome import Outcome
from .preflight import sha256_of
from .read import read
from .recognise import recognise

if TYPE_CHECKING:
    from .desk import Desk


def reclaim(desk: Desk, claimed: Path, who: str) -> Claim:
    """A file left in the claim area by a run that was stopped: keep the result name it was given. A record
    lost to a power cut (written without fsync) loses nothing: a request already committed from these
    bytes whose outputs are not all written keeps the result name it recorded, so its own outputs are
    written, not a 重复提交; where they all are, the file is the same bytes dropped again and is answered
    as such (a record lost after the outputs, before the original was archived, costs one 重复提交)."""
    record = read_record(claimed, who)
    if record is None:
        sha, _ = sha256_of(claimed)
        earlier = desk.ledger.effective_request(who, sha)
        out = desk.layout.out(who)
        # Its outputs all written: this is the same bytes dropped again (killed just after its claim), not
        # that request left half-way; it gets a result of its own (重复提交), never none.
        if earlier is not None and not all((out / name).exists() for name in earlier.outputs):
            stem = earlier.outputs[0].removesuffix(".xlsx")
            desk.reserved.add((who, stem))
            return write_record(claimed, who, stem, earlier.file_name)
        return record_claim(desk, claimed, who)
    desk.reserved.add((who, record.stem))
    return record


def rebuild(desk: Desk, outcome: Outcome, earlier, archived: Path, fmt: str) -> None:
    """A request committed before the run was stopped: show the committed result again."""
    ledger = desk.ledger
    shown = earlier.result
    outcome.status, outcome.action = "success", earlier.action
    outcome.processed_at = earlier.processed_at
    outcome.policies = [p for n in earlier.policies if (p := ledger.policy(n)) is not None]
    outcome.cancelled = list(earlier.cancelled)
    outcome.outputs = list(earlier.outputs)
    outcome.from_json(shown)
    book, _ = read(desk.reader, archived, fmt)
    outcome.book = recognise(book, outcome.who, ledger, desk.zone)[0] if book is not None else None
    outcome.recovered = True


def duplicate(desk: Desk, outcome: Outcome, earlier, archived: Path, fmt: str) -> None:
    """Same bytes again after a request that changed the ledger: nothing changes, the first result again.
    If that request's own outputs are missing (lost with a claim record, or deleted), they are written too,
    under the names it recorded."""
    outcome.status = "duplicate"
    outcome.action = earlier.action
    outcome.policies = [p for n in earlier.policies if (p := desk.ledger.policy(n)) is not None]
    outcome.cancelled = list(earlier.cancelled)
    outcome.first_processed_at = earlier.processed_at
    out = desk.layout.out(outcome.who)
    if any(not (out / name).exists() for name in earlier.outputs):
        repair = Outcome(outcome.who, earlier.file_name, earlier.sha256, earlier.processed_at)
        repair.result_stem = earlier.outputs[0].removesuffix(".xlsx")
        rebuild(desk, repair, earlier, archived, fmt)
        outcome.repair = repair.seal()
