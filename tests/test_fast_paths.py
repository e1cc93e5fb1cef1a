"""The short cuts taken for speed give what the long way gives: a row of the echo written in one go, a
price worked out once an age, names and ID numbers checked without their regular expressions, a page's
rows escaped without Markup objects, a committed policy's people not read back; and the parse sandbox
started early is stopped whatever happens next."""

from __future__ import annotations

import json
import multiprocessing
import random
import zipfile
from dataclasses import fields, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import future, issue_fields, people, run_watcher, write_request
from markupsafe import escape

from watcher import clock, commands
from watcher.domain import idcard
from watcher.domain.person import _NAME_OK, CELL_COLUMNS, COLUMN_FIELDS, PersonCells, check_name
from watcher.domain.policy import Insured
from watcher.domain.text import _HAN_SPACE, _SPACES, fold, fold_name
from watcher.io.pages import people_rows
from watcher.io.reader import read_book
from watcher.io.xlsx import new_workbook, write_value
from watcher.layout import Layout

ROW = [
    "text",
    "",
    None,
    "bell\x07and\x01",
    "  spaced  ",
    "<r>abc</r>",
    "_x0041_",
    "中文 𠀀",
    3.0,
    7,
    1.5,
    -0.0,
    1e300,
    float("nan"),
    float("inf"),
    True,
    False,
    date(2026, 1, 2),
    datetime(2026, 1, 2, 3, 4, 5),
    Decimal("12.30"),
    "长" * 40000,
    "text",  # the same text again: one shared string, counted twice
]


def _sheet_parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n.startswith("xl/")}


def test_a_row_written_in_one_go_is_the_row_written_cell_by_cell(tmp_path):
    written = {}
    for how in ("row", "cells"):
        path = tmp_path / f"{how}.xlsx"
        wb = new_workbook(path, "result", lean=True)
        day, moment = wb.add_format({"num_format": "yyyy-mm-dd"}), wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        ws = wb.add_worksheet("名单")

        def other(r, c, value, ws=ws, day=day, moment=moment):
            write_value(ws, r, c, value, None, day, moment)

        # Rows as read: full ones, blank ones, one whose only value lies beyond Excel's last column.
        rows = [ROW, [None, "", None], ROW, [None] * 16384 + ["beyond the grid"], ROW, []]
        for r, values in enumerate(rows):
            if how == "row":
                ws.write_plain_row(r, values, other)
            else:
                for c, value in enumerate(values):
                    write_value(ws, r, c, value, None, day, moment)
        wide = wb.add_worksheet("只有越界")  # a sheet holding nothing Excel can show is still written
        if how == "row":
            wide.write_plain_row(0, [None] * 16384 + ["x"], other)
        else:
            write_value(wide, 0, 16384, "x")
        wb.close()
        written[how] = _sheet_parts(path)
    assert written["row"] == written["cells"]  # the same bytes: values, types, shared strings and their count
    assert b'<row r="2"' not in written["row"]["xl/worksheets/sheet1.xml"]  # a blank row is no row


def test_names_checked_without_the_pattern_are_checked_as_with_it():
    names = [
        "李雷",
        "李　雷",
        " 李 雷 ",
        "Mary-Jane O'Neil",
        "阿依·买买提",
        "阿依 • 买买提",
        "ＡＢＣ",
        "Zoë",
        "李1",
        "_",
        "·",
        "ǅ",
    ]
    rng = random.Random(7)
    alphabet = "李雷ab ·-'.1_\u3000•Ａ"
    names += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(2000)]
    for raw in names:
        # The long way, as before the short cut: every name through the regular expressions.
        slow = _HAN_SPACE.sub(
            "",
            _SPACES.sub(" ", fold(raw).translate(str.maketrans({c: "·" for c in "·•・‧∙⋅･·"})))
            .strip()
            .replace(" · ", "·")
            .replace(" ·", "·")
            .replace("· ", "·"),
        )
        assert fold_name(raw) == slow, raw
        name, error = check_name(raw)
        expected_ok = bool(slow) and len(slow) <= 60 and _NAME_OK.match(slow) is not None
        assert (error is None) == expected_ok, raw


def test_the_id_check_character_is_iso_7064():
    rng = random.Random(11)
    for _ in range(5000):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(body))
        assert idcard.mod11_2_check(body) == "10X98765432"[total % 11]
    assert idcard.mod11_2_check("11010519491231002") == "X"  # GB 11643's own example


def test_a_roster_row_fills_the_person_fields_of_its_columns():
    # The cells in the order of the columns (roster._rows fills them by position), then what the roster
    # works out once: the ID number read, and whether the birth column is headed 出生年月.
    assert [COLUMN_FIELDS[c] for c in CELL_COLUMNS] + ["id_read", "birth_month"] == [
        f.name for f in fields(PersonCells)
    ]


def test_a_page_escapes_every_value_as_markupsafe_does():
    odd = ["<script>alert(1)</script>", "a & b", "\"quoted\" and 'single'", "李雷", "&amp;"]
    policy = type("P", (), {})()
    policy.people = [
        Insured(name, odd[(i + 1) % 5], odd[(i + 2) % 5], odd[(i + 3) % 5], date(1990, 1, 1), 36, 1234, "", "", i)
        for i, name in enumerate(odd)
    ]
    rows = str(people_rows(policy))
    for p in policy.people:
        for value in (p.name, p.gender, p.id_type, p.id_no):
            assert f"<td>{escape(value)}</td>" in rows
    assert "<script>" not in rows


def test_each_age_pays_its_own_price_when_prices_are_worked_out_once(root):
    from watcher.domain.rating import person_premium
    from watcher.kinds.roster import check_roster
    from watcher.settings import load_settings
    from watcher.walk.parse import parse

    # Travellers of several ages in one roster, seniors among them (GN-A: 66–80 pay 1.5 times).
    years = [1990, 1955, 1991, 1956, 1990, 1958]
    roster = []
    for i, year in enumerate(years):
        body = f"440106{year}0{i + 1}0{i + 1}{i:03d}"
        roster.append([i + 1, "赵钱孙李周吴"[i] + "甲", "身份证", body + idcard.mod11_2_check(body)])
    path = write_request(root / "团.xlsx", issue_fields(), roster)
    settings = load_settings(root)
    _, request = parse(read_book(path, "xlsx"), "GZ001", settings)
    ledger = commands._open(Layout(root), settings, create=False)
    try:
        plan = ledger.plan("GN-A")
    finally:
        ledger.close()
    problems: list = []
    checked = check_roster(
        request,
        plan=plan,
        start=future(),
        days=5,
        today=date.today(),
        zone=settings.zone,
        overlaps=[],
        problems=problems,
    )
    assert not problems and len(checked.people) == len(years)
    for person in checked.people:
        assert person.premium_fen == person_premium(plan, 5, person.age)
        assert checked.premiums[person.row - 1] == person.premium_fen
    assert len({p.premium_fen for p in checked.people}) == 2  # seniors pay more


def test_a_committed_policy_shows_the_people_the_ledger_holds(root):
    """The issued policy in the outcome (its page, its JSON, its result workbook) carries the people just
    stored, not read back: they must be what the ledger holds, field by field."""
    from watcher.settings import load_settings
    from watcher.walk.commit import commit
    from watcher.walk.decide import decide
    from watcher.walk.outcome import Outcome
    from watcher.walk.parse import parse
    from watcher.walk.recognise import recognise
    from watcher.walk.validate import validate

    path = root / "团.xlsx"
    roster = people(4)
    roster[1][1] = "  王　五 "  # folded on the way in
    write_request(path, issue_fields(), roster)
    settings = load_settings(root)
    ledger = commands._open(Layout(root), settings, create=False)
    try:
        now = clock.now()
        book, trouble = recognise(read_book(path, "xlsx"), "GZ001", ledger, settings.zone)
        assert trouble is None
        kind, request = parse(book, "GZ001", settings)
        frame = Outcome("GZ001", path.name, "ab" * 32, now, result_stem="团_结果", book=book, action=request.action)
        checked = validate(kind, request, ledger, now)
        outcome = commit(ledger, replace(frame, problems=checked.problems), decide(kind, checked, now))
        assert outcome.committed and len(outcome.policies) == 1
        shown = outcome.policies[0]
        assert shown == ledger.policy(shown.policy_no)
        assert [p.name for p in shown.people][1] == "王五"
    finally:
        ledger.close()


def test_the_sandbox_started_before_the_ledger_is_stopped_when_the_ledger_cannot_be_opened(root, monkeypatch):
    def refuse(*args, **kwargs):
        raise commands.Failure("账本无法打开（测试）")

    monkeypatch.setattr(commands, "_open", refuse)
    with pytest.raises(commands.Failure):
        with commands._running(Layout(root), "process"):
            pass
    assert not multiprocessing.active_children()  # the parser started with the desk is gone


def test_a_broken_page_template_of_the_desk_fails_no_file_and_stops_no_run(root):
    """`process` loads its writers, the page's template compiled, while the sandbox reads the first file. A
    desk's own template that does not compile must cost what it cost before: the pages wait (pending, said
    on stderr) and every file is walked, not a traceback that ends the run after one file."""
    (root / "templates").mkdir()
    (root / "templates" / "policy.html.j2").write_text("{% if %}坏模板", encoding="utf-8")
    write_request(root / "workbooks" / "GZ001" / "好.xlsx", issue_fields(), people(2))
    write_request(root / "workbooks" / "GZ001" / "坏.xlsx", issue_fields(天数="三天"), people(2))
    done = run_watcher(root, "process", check=False)
    output = done.stdout + done.stderr
    assert "处理完成：1 个文件（成功 0，试算 0，失败 1" in done.stdout and "Traceback" not in output, output
    assert "另有 1 个文件已办理" in done.stderr
    assert not list((root / "workbooks" / "GZ001").glob("*.xlsx"))  # both taken
    failed = json.loads((root / "outbox" / "GZ001" / "坏_结果.json").read_text("utf-8"))
    assert failed["status"] == "failed"
    assert "好.xlsx" in done.stderr  # issued, its outputs waiting for a template that compiles
