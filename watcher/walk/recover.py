"""Recovery: a file left in the claim area by a run that was stopped is finished with the result name it was
given; a request already committed is shown again (rebuild), and the same bytes dropped again get the
first result (duplicate), with that request's own outputs written if they went missing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..domain.policy import ACTIVE, CANCELLED, REPLACEMENT_NOW, Policy
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


def rebuild(desk: Desk, frame: Outcome, earlier, archived: Path, fmt: str) -> Outcome:
    """A request committed before the run was stopped: the committed result shown again, built from its
    record."""
    ledger = desk.ledger
    book, _ = read(desk.reader, archived, fmt)
    return frame.from_json(
        earlier.result,
        status="success",
        action=earlier.action,
        processed_at=earlier.processed_at,
        # The result (and its JSON twin) as the request left them: what it issued was in force and unsettled
        # then. Written from the ledger as it is now (已撤单, 保费合计 0.00, 已结), a result lost with the outbox
        # told another story, and a later rebuild from the archive found it differing from its replay. Its
        # electronic policies say what they are now (shows.gather reads them again).
        policies=[as_issued(p) for n in earlier.policies if (p := ledger.policy(n)) is not None],
        cancelled=list(earlier.cancelled),
        outputs=list(earlier.outputs),
        book=recognise(book, frame.who, ledger, desk.zone)[0] if book is not None else None,
        committed=True,
        recovered=True,
        numbers=ledger.numbers_of(earlier),
    )


def as_issued(policy: Policy) -> Policy:
    """A policy as the request that issued it left it: in force, in no statement."""
    return replace(policy, status=ACTIVE, cancelled_at=None, statement_no="", settled_at=None)


def duplicate(desk: Desk, frame: Outcome, earlier, archived: Path, fmt: str) -> Outcome:
    """Same bytes again after a request that changed the ledger: nothing changes, the first result again.
    If that request's own outputs are missing (lost with a claim record, or deleted), they are written too,
    under the names it recorded."""
    out = desk.layout.out(frame.who)
    repair = None
    if any(not (out / name).exists() for name in earlier.outputs):
        first = Outcome(
            frame.who,
            earlier.file_name,
            earlier.sha256,
            earlier.processed_at,
            result_stem=earlier.outputs[0].removesuffix(".xlsx"),
        )
        repair = rebuild(desk, first, earlier, archived, fmt)
    # The first result given again: its warnings (an overlap with another group, say), and the request's
    # sheets echoed with each person's premium as the first result showed them (the bytes are the same).
    first_shown = frame.from_json(earlier.result) if isinstance(earlier.result, dict) else frame
    said = first_shown.warnings if isinstance(earlier.result, dict) else []
    book, _ = read(desk.reader, archived, fmt)
    policies = [p for n in earlier.policies if (p := desk.ledger.policy(n)) is not None]
    notes, heads = since(desk, policies, frame.processed_at)
    if isinstance(earlier.result, dict):
        notes += superseded(desk, first_shown.content.get("plans"))
    return replace(
        frame,
        status="duplicate",
        book=recognise(book, frame.who, desk.ledger, desk.zone)[0] if book is not None else None,
        row_premiums=first_shown.row_premiums,
        roster_sheet=first_shown.roster_sheet,
        roster_header=first_shown.roster_header,
        roster_columns=first_shown.roster_columns,
        premium_before=first_shown.premium_before,  # a reissue's 原保单保费, as its first result said
        problems=[*frame.problems, *said],
        action=earlier.action,
        policies=policies,
        cancelled=list(earlier.cancelled),
        first_processed_at=earlier.processed_at,
        repair=repair,
        notes=[*frame.notes, *notes],
        # What the first result carried besides the envelope (an admin request's agencies, plans …), as then;
        # and for agencies' systems what the notes say, each policy's number in force now (or null).
        content={**(dict(first_shown.content) if isinstance(earlier.result, dict) else {}), "heads": heads},
    )


def superseded(desk: Desk, plans) -> list[str]:
    """A 方案 file dropped again to go back to its rates: the same bytes bring back nothing, and the result
    given again said only 已启用新版本 as it did then. Each plan of it a later upload has replaced is named."""
    notes = []
    for plan in plans if isinstance(plans, list) else []:
        if not isinstance(plan, dict) or not plan.get("version_id"):
            continue
        current = desk.ledger.plan(str(plan.get("code")))
        if current is not None and current.version != plan["version_id"]:
            notes.append(
                f"方案 {plan.get('code')} 现行的已不是本文件上传的版本（本文件为第 {plan.get('version')} 版，之后又上传过新版本）："
                "重复提交不会恢复本文件的费率。如要按本文件的内容重新启用，请在 Excel 中打开本文件另存一次后再放入，"
                "它将作为新版本上传"
            )
    return notes


def since(desk: Desk, policies: list, now) -> tuple[list[str], dict[str, str | None]]:
    """What became of the policies a request issued, for its result given again: each one void since names
    the policy that covers its group now (a clerk reading 人数 0 must not think the group was never
    insured, nor issue it again). Also, for each void one, the policy that replaces it (None: none does)."""
    notes = []
    heads: dict[str, str | None] = {}
    for policy in policies:
        if policy.status != CANCELLED:
            continue
        heads[policy.policy_no] = None
        head = desk.ledger.replacement(policy.policy_no)
        if head is None:
            notes.append(f"保单 {policy.policy_no} 已于首次处理后撤单")
        else:
            heads[policy.policy_no] = head.policy_no
            now_words = REPLACEMENT_NOW.get(head.shown_status(now), "请以该保单为准")
            notes.append(f"保单 {policy.policy_no} 已被 {head.policy_no} 替代，{now_words}")
    return notes, heads
