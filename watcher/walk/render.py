"""Render: the result workbook, its JSON twin and each issued policy's page, from the outcome alone.

Each file is written under a temporary name and renamed, so a clerk never opens half a file.
"""

from __future__ import annotations

from pathlib import Path

from ..io.atomic import replacing, write_bytes
from ..io.pages import render_policy
from ..io.result_book import write_result_book
from ..io.result_json import dumps
from .commit import policy_page_name
from .outcome import Outcome


def render(outcome: Outcome, out_dir: Path, desk) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    zone = desk.zone
    written = []
    book_path = out_dir / f"{outcome.result_stem}.xlsx"
    with replacing(book_path) as tmp:
        write_result_book(tmp, outcome, zone)
    written.append(book_path)
    for policy in outcome.policies:
        if not policy.policy_no:
            continue
        plan = desk.ledger.plan_version(policy.plan_version)
        agency = desk.ledger.agency(policy.agency)
        page = render_policy(desk.pages, policy, plan, agency, desk.settings, zone, outcome.processed_at)
        path = out_dir / policy_page_name(policy.policy_no)
        write_bytes(path, page)
        written.append(path)
    json_path = out_dir / f"{outcome.result_stem}.json"
    write_bytes(json_path, dumps(outcome, zone))  # last: agencies' systems take the JSON as "result complete"
    written.append(json_path)
    return written
