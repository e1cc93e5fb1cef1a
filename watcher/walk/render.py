"""Render: the result workbook, each issued policy's page and the JSON twin, from the outcome alone
(what it shows from the ledger was gathered into it first: walk/shows.py).

Rendering is planned as jobs that carry everything they need (no ledger, no desk), so they can run
in worker processes on the other cores while the next file is walked. Each file is written under a
temporary name and renamed; the JSON twin is written last, once the others are in place.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import crash
from ..faults import classify
from ..io.atomic import replacing, write_bytes
from ..layout import CORE, Layout
from .names import policy_page_name
from .outcome import Outcome

if TYPE_CHECKING:
    from ..settings import Settings
    from .shows import PageShown

# The writers are imported where they write: a render process loads the result workbook's and the page's
# writers, not the month-end's, and `process` of one big file loads no page renderer before it is needed.

log = logging.getLogger("watcher")


@dataclass(frozen=True)
class Job:
    path: Path
    output: str  # "book", "page" (an issued policy's), "state_page" (a page showing the policy's state now:
    # void, replaced, reprinted; written whenever asked), "statement", "detail", "exchange", "bytes" or
    # "twin" (the result's JSON, last)
    args: tuple[Any, ...]


@dataclass(frozen=True)
class RenderPlan:
    jobs: list[Job]
    json_path: Path
    json_bytes: bytes | None  # None: already written before a stop


def plan(outcome: Outcome, out_dir: Path, layout: Layout, settings: Settings) -> RenderPlan:
    """The jobs that write what `outcome` shows (its result workbook, pages, statements, exchange files and
    detail sheets, from `outcome.shows`), and its JSON twin, written last. Reads nothing but the outcome."""
    from ..io.result_json import dumps  # loaded with the writers (load_writers), not before a file is taken
    from .shows import Shows

    zone = settings.zone
    jobs = []
    if outcome.repair is not None:  # an earlier request of the same bytes: its missing outputs first, whole
        earlier = plan(outcome.repair, out_dir, layout, settings)
        jobs += earlier.jobs
        if earlier.json_bytes is not None:
            jobs.append(Job(earlier.json_path, "bytes", (earlier.json_bytes,)))
    jobs.append(Job(out_dir / f"{outcome.result_stem}.xlsx", "book", (outcome, zone)))
    shows = outcome.shows or Shows()
    jobs += [page_job(layout, settings, shown, outcome.processed_at) for shown in shows.pages]
    if shows.statements or shows.details:
        from ..domain.settlement import parse_month
        from ..io.core_exchange import core_name
        from ..io.month_summary import detail_name
        from ..io.statement_book import statement_names
    for item in shows.statements:
        s = item.statement
        out = layout.out(s.agency)
        args = (layout.root, out, s, item.members, item.agency_name, settings.insurer_name, zone, outcome.processed_at)
        jobs.append(Job(out / statement_names(s.statement_no)[0], "statement", args))
        if item.core:
            exchange = (s, item.members, item.agency_name, zone)
            jobs.append(Job(layout.out(CORE) / core_name(s.statement_no), "exchange", exchange))
    for detail in shows.details:
        jobs.append(
            Job(layout.out(detail.agency) / detail_name(parse_month(detail.month_label)), "detail", (detail.table,))
        )
    json_path = out_dir / f"{outcome.result_stem}.json"
    if outcome.recovered:  # outputs appear whole (temporary name, then rename): a file there is complete
        # (statement files, exchange files and detail sheets show current state: always written again; a
        # folder where an output belongs is no output: it is written once the folder is gone)
        jobs = [job for job in jobs if job.output not in ("book", "page") or not job.path.is_file()]
        if json_path.is_file():
            return RenderPlan(jobs, json_path, None)
    return RenderPlan(jobs, json_path, dumps(outcome, zone))


def page_job(layout: Layout, settings: Settings, shown: PageShown, at: datetime) -> Job:
    """A policy's page; a void one says which policy replaces it now."""
    policy = shown.policy
    args = (
        layout.root,
        policy,
        shown.plan,
        shown.agency,
        settings,
        settings.zone,
        at,
        shown.replacement,
        shown.not_on_replacement,
        shown.moved,
    )
    output = "page" if shown.issued else "state_page"
    return Job(layout.out(policy.agency) / policy_page_name(policy.policy_no), output, args)


def run_job(job: Job) -> Path:
    """Write one output file. Runs inline or in a worker process."""
    if job.output == "book":
        from ..io.result_book import write_result_book

        outcome, zone = job.args
        try:
            with replacing(job.path) as tmp:
                write_result_book(tmp, outcome, zone)
        except Exception as exc:
            if outcome.book is None or classify(exc) is not None or isinstance(exc, OSError):
                raise  # a fault of the desk (a full disk) or of the folder is not the echoed cells' fault
            # Something in the echoed cells could not be written: the result still appears, without the echo.
            log.exception("%s 的回显表写出失败，结果改为不带回显表写出", outcome.file_name)
            with replacing(job.path) as tmp:
                write_result_book(tmp, replace(outcome, book=None), zone)
    elif job.output in ("page", "state_page"):
        from ..io.pages import environment, render_policy

        root, policy, plan_, agency, settings, zone, at, replacement, missing, moved = job.args
        job.path.parent.mkdir(parents=True, exist_ok=True)
        if job.output == "page" and job.path.exists():
            set_aside(job.path, root)
        page = render_policy(environment(root), policy, plan_, agency, settings, zone, at, replacement, missing, moved)
        write_bytes(job.path, page)
    elif job.output == "statement":
        from ..io.settlement_files import write_statement_files

        write_statement_files(*job.args)
    elif job.output == "detail":
        from ..io.settlement_files import write_detail_file

        write_detail_file(job.path, job.args[0])
    elif job.output == "exchange":
        from ..io.settlement_files import write_exchange_file

        write_exchange_file(job.path, *job.args)
    elif job.output == "twin":  # the JSON twin, written last
        crash.point("mid_outputs")
        write_bytes(job.path, job.args[0])
        crash.point("after_outputs")
    else:
        job.path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(job.path, job.args[0])
    return job.path


def load_writers(root: Path) -> None:
    """Load what renders a result (its JSON, its workbook, the policy page) and compile the page's template:
    what the first file rendered here would do. `process` does it while the sandbox reads its first file."""
    from ..io import result_book, result_json  # noqa: F401 — loaded now, used by plan and run_job
    from ..io.pages import environment

    environment(root).get_template("policy.html.j2")


SET_ASIDE_LIST = ".watcher-set-aside.txt"  # in the root: the pages set aside, one path a line (status lists them)


def set_aside(path: Path, root: Path | None = None) -> None:
    """A newly issued policy's page is never written over another's: a file already there (one an agency
    put in its outbox, say) is kept under a hidden name, the log says so, and so does `status` (the root's
    list of them: status reads it, never the outboxes, which hold every result ever written)."""
    aside = path.with_name(f".{path.name}.{time.time_ns()}.set-aside")
    os.replace(path, aside)
    if root is not None:
        try:
            with open(Path(root) / SET_ASIDE_LIST, "a", encoding="utf-8") as listed:
                listed.write(f"{aside}\n")
        except OSError:  # (the log line below still says it)
            pass
    # An error, not a warning: either an agency put a page there, or this number was handed out before (the
    # ledger, its mark and the archive all restored from one backup, the outbox not): then two groups hold
    # a policy of this number, and only a person can tell which.
    log.error(
        "%s 在本保单签发前已存在（%s）：原文件已改名为 %s 保留。若它不是旅行社自己放进去的，说明这个保单号此前已发出过"
        "（账本、编号记录和归档可能一起恢复到了较早的备份）：请立即停止 watcher，对照两份保单核查，见运维文档的备份与恢复",
        path.name,
        path.parent,
        aside.name,
    )


def twin(rendering: RenderPlan) -> Job | None:
    """The job that writes the JSON twin, after every other output is in place: agencies' systems take it
    as 'result complete'. None when it was written before a stop."""
    if rendering.json_bytes is None:
        return None
    return Job(rendering.json_path, "twin", (rendering.json_bytes,))


def finish(rendering: RenderPlan) -> None:
    """Write the JSON twin, once everything else `rendering` writes is in place."""
    job = twin(rendering)
    if job is not None:
        run_job(job)
    else:
        crash.point("mid_outputs")
        crash.point("after_outputs")


def run_jobs(jobs: list[Job]) -> None:
    """Every job, in order; one that fails (one agency's outbox that takes nothing) does not keep the others
    back (another agency's statement, the core exchange file): the first error is raised once the rest are
    written, and the JSON twin, which says the result is complete, is not written then."""
    failed: Exception | None = None
    for job in jobs:
        if failed is not None and job.output == "twin":
            break
        try:
            run_job(job)
        except Exception as exc:  # noqa: BLE001 — raised below, after the others
            failed = failed or exc
    if failed is not None:
        raise failed


def render(outcome: Outcome, out_dir: Path, layout: Layout, settings: Settings) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    rendering = plan(outcome, out_dir, layout, settings)
    run_jobs(rendering.jobs)
    finish(rendering)
