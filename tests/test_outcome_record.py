"""The outcome's record for crash recovery: one to_json/from_json pair, through real JSON, so a result
shown again after a stop is the result first shown; a record of the release before is still read."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from watcher.domain.money import Amount
from watcher.domain.problems import Problem
from watcher.io.sheet_table import SheetTable
from watcher.walk.outcome import Outcome

AT = datetime(2026, 11, 30, 10, 0, tzinfo=timezone(timedelta(hours=8)))


def _rich() -> Outcome:
    return Outcome(
        "GZ001",
        "团A.xlsx",
        "ab" * 32,
        AT,
        action="批改",
        status="success",
        problems=[
            Problem("roster.other_group", "张三 已在保单 LY… 中", "被保险人名单", 4, "证件号码", 3, True),
            Problem("file.changed_after", "文件在办理之后又被修改了", None, None, None, None, True),
        ],
        summary={"保单号": "LY202611300000001", "保费合计": Amount(123450), "人数": 30},
        notes=["一条说明"],
        row_premiums={5: 4000, 6: 4150},
        roster_sheet="被保险人名单",
        roster_header=3,
        roster_columns={"姓名": 1, "证件号码": 3},
        tables=[SheetTable("人员变更", ["变更", "姓名"], ["text", "text"], [["加人", "李四"]], {1: 1}, "说明")],
        premium_before=120000,
        statements=["S202611000001"],
        core=["S202611000001"],
        details=[("GZ001", "2026-11")],
        content={"plans": [{"code": "GN-A", "version": 3}]},
    )


def test_what_a_result_shows_comes_back_whole_through_json():
    first = _rich()
    record = json.loads(json.dumps(first.to_json(), ensure_ascii=False))
    frame = Outcome("GZ001", "团A.xlsx", "ab" * 32, AT)
    again = frame.from_json(record, status="success")
    assert (again.status, again.file_name, frame.summary) == ("success", "团A.xlsx", {}), "a new outcome, built once"
    for name in (
        "warnings",
        "summary",
        "notes",
        "row_premiums",
        "roster_sheet",
        "roster_header",
        "roster_columns",
        "tables",
        "premium_before",
        "statements",
        "core",
        "details",
        "content",
    ):
        assert getattr(again, name) == getattr(first, name), name
    assert isinstance(again.summary["保费合计"], Amount), "money stays money, not a float or text"
    assert again.to_json() == first.to_json()


def test_a_record_of_the_release_before_is_still_read():
    """Its summary was a dict of text and it had no tables, details or content: a file it left half-way
    is finished by this release."""
    old = {
        "warnings": [["file.changed_after", "文件在办理之后又被修改了", None, None, None, None]],
        "summary": {"保单号": "LY202611300000001", "保费合计": "1,234.50"},
        "row_premiums": {"5": 4000},
        "roster_sheet": "被保险人名单",
        "roster_header": 3,
    }
    outcome = Outcome("GZ001", "团A.xlsx", "ab" * 32, AT).from_json(old)
    assert outcome.summary == {"保单号": "LY202611300000001", "保费合计": "1,234.50"}
    assert [p.code for p in outcome.warnings] == ["file.changed_after"]
    assert outcome.row_premiums == {5: 4000} and outcome.tables == [] and outcome.content == {}


def test_an_outcome_once_built_is_not_changed_in_place():
    """The outcome is a frozen value: a stage that adds to it (the gathering after the commit) makes a new
    one, so what the renderers get is never changed under them."""
    from dataclasses import FrozenInstanceError, replace

    import pytest

    built = Outcome("GZ001", "团A.xlsx", "ab" * 32, AT, status="success")
    with pytest.raises(FrozenInstanceError):
        built.status = "failed"  # type: ignore[misc]
    copy = replace(built, result_stem="团A_结果")
    assert (copy.status, copy.result_stem, built.result_stem) == ("success", "团A_结果", "")
    with pytest.raises(FrozenInstanceError):
        copy.shows = None  # type: ignore[misc]
    refused = built.refused(Problem("file.internal", "内部错误", None, None, None, None, False))
    assert (refused.status, built.status, built.problems) == ("failed", "success", [])
