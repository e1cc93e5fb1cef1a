"""A void policy never looks valid: its electronic policy is rewritten at once when it is cancelled or
replaced, following the chain of replacements to the policy in force now; 补打保单 shows the same; pages
of policies voided before this release are brought up to date once."""

from __future__ import annotations

import re
from pathlib import Path

from helpers import (
    fake,
    future,
    issue,
    issue_fields,
    ledger_query,
    people,
    result,
    run_watcher,
    summary_values,
    write_request,
)


def _request(root: Path, name: str, fields: dict, roster=None) -> dict:
    write_request(root / "workbooks" / "GZ001" / name, fields, roster)
    run_watcher(root, "process")
    data, _ = result(root, "GZ001", name.removesuffix(".xlsx") + "_结果")
    assert data["status"] == "success", data["errors"]
    return data


def _page(root: Path, number: str) -> str:
    return (root / "outbox" / "GZ001" / f"电子保单_{number}.html").read_text(encoding="utf-8")


def _status(page: str) -> str:
    return re.search(r'<div class="status[^"]*">([^<]+)</div>', page).group(1)


def _replaced_by(page: str) -> str | None:
    found = re.search(r'<span id="replaced-by">([^<]+)</span>', page)
    return found.group(1) if found else None


def test_pages_follow_the_chain_of_replacements_to_the_policy_in_force(root):
    group = people(4)
    a = _request(root, "团.xlsx", issue_fields(), group[:3])["policies"][0]["policy_no"]
    assert _status(_page(root, a)) == "有效" and "本保单已撤单" not in _page(root, a)

    b = _request(root, "批改.xlsx", {"操作类型": "批改", "保单号": a, "天数": 5})["policies"][0]["policy_no"]
    assert _status(_page(root, a)) == "已撤单" and _replaced_by(_page(root, a)) == b
    assert f"{a}（批改" in _page(root, b) and _status(_page(root, b)) == "有效"  # the successor names it

    added = _request(root, "加人.xlsx", {"操作类型": "加人", "保单号": b}, [group[3]])["policies"][0]["policy_no"]
    assert _status(_page(root, b)) == "有效", "加人 replaces nothing"
    # and the added people's page does not call b its 原保单 (read as superseded): it stands beside it
    assert "原保单号" not in _page(root, added) and f"{b}（本保单承保加人时加入的人员" in _page(root, added)

    c = _request(root, "换人.xlsx", {"操作类型": "换人", "保单号": b}, group[:2])["policies"][0]["policy_no"]
    for void in (a, b):  # every page of the chain points to the policy in force now
        assert _status(_page(root, void)) == "已撤单" and _replaced_by(_page(root, void)) == c
    assert _status(_page(root, added)) == "有效"

    _request(root, "撤单.xlsx", {"操作类型": "撤单", "保单号": c})
    assert _status(_page(root, c)) == "已撤单" and _replaced_by(_page(root, c)) is None
    for void in (a, b):
        assert _replaced_by(_page(root, void)) == c and "该保单现也已撤单" in _page(root, void)


def _not_on(page: str) -> str | None:
    found = re.search(r'<div class="void-note" id="not-on-replacement">([^<]+)</div>', page)
    return found.group(1) if found else None


def test_a_void_page_names_who_its_replacement_does_not_cover(root):
    """减人 and 换人 leave people off the replacement: the old page listed them all under 请以新保单为准, and a
    traveller removed read it as still covered. Those people are named as not on it; one whose ID a 信息变更
    corrected is still on it (by name); a 换人 with nobody kept says so of everyone, without 请以新保单为准."""
    group = people(6)
    a = _request(root, "团.xlsx", issue_fields(), group[:3])["policies"][0]["policy_no"]
    b = _request(root, "批改.xlsx", {"操作类型": "批改", "保单号": a, "天数": 5})["policies"][0]["policy_no"]
    assert _not_on(_page(root, a)) is None  # a 批改 keeps everyone
    c = _request(root, "减人.xlsx", {"操作类型": "减人", "保单号": b}, group[:2])["policies"][0]["policy_no"]
    for void in (a, b):
        page = _page(root, void)
        assert _replaced_by(page) == c and "请以新保单为准" in page
        said = _not_on(page)
        assert said is not None and group[2][1] in said and c in said and "不再为其提供保障" in said
        assert group[0][1] not in said and group[1][1] not in said
    d = _request(root, "换人.xlsx", {"操作类型": "换人", "保单号": c}, group[3:5])["policies"][0]["policy_no"]
    page = _page(root, c)
    assert _replaced_by(page) == d and "请以新保单为准" not in page
    assert "本保单所列人员均不在保单" in (_not_on(page) or "")
    assert "本保单所列人员均不在保单" in (_not_on(_page(root, a)) or "")  # the chain's first page too


def test_a_void_page_stops_calling_someone_uncovered_once_a_add_puts_them_back(root):
    """换人 left C off the replacement, then a 加人 on it put C back: the void page (and its 补打保单) still said
    「其中 C 不在保单 … 中，本保单撤单后不再为其提供保障」 while the lookup page told C they were covered."""
    group = people(4)
    a = _request(root, "团.xlsx", issue_fields(), group[:3])["policies"][0]["policy_no"]
    b = _request(root, "换人.xlsx", {"操作类型": "换人", "保单号": a}, [group[0], group[1], group[3]])
    b = b["policies"][0]["policy_no"]
    said = _not_on(_page(root, a)) or ""
    assert group[2][1] in said and b in said, said
    added = _request(root, "加人.xlsx", {"操作类型": "加人", "保单号": b}, [group[2]])
    assert added["status"] == "success", added["errors"]
    assert _not_on(_page(root, a)) is None, _not_on(_page(root, a))
    assert _status(_page(root, a)) == "已撤单" and _replaced_by(_page(root, a)) == b
    # And where C is now: the page named only b, which does not list C (attack J); the lookup page names c.
    c = added["policies"][0]["policy_no"]
    moved = re.search(r'<div class="void-note" id="moved-to">([^<]+)</div>', _page(root, a))
    assert moved is not None and moved.group(1) == f"其中 {group[2][1]} 现由保单 {c} 承保，请以该保单为准。", moved
    assert 'id="moved-to"' not in _page(root, b)  # (b is in force: no void note at all)


def test_void_pages_follow_people_through_a_policy_added_beside(root):
    """减人 took C off; a 加人 beside the replacement put C back; a 换人 of that 加人 policy took C off again:
    the first page, whose chain the 换人 does not end, still said nothing of C (the lookup page said C was
    left out). Then a 加人 on the replacement puts C back once more, and the page says so."""
    group = people(4)
    a = _request(root, "团.xlsx", issue_fields(), group[:3])["policies"][0]["policy_no"]
    b = _request(root, "减人.xlsx", {"操作类型": "减人", "保单号": a}, group[:2])["policies"][0]["policy_no"]
    assert group[2][1] in (_not_on(_page(root, a)) or "")
    c = _request(root, "加人.xlsx", {"操作类型": "加人", "保单号": b}, [group[2]])["policies"][0]["policy_no"]
    assert _not_on(_page(root, a)) is None
    swapped = _request(root, "换人.xlsx", {"操作类型": "换人", "保单号": c}, [group[3]])
    assert swapped["status"] == "success", swapped["errors"]
    assert group[2][1] in (_not_on(_page(root, a)) or ""), "C is on no policy again"
    # (another 序号: the same cells saved within the same second are the same bytes, a 重复提交)
    again = _request(root, "加人2.xlsx", {"操作类型": "加人", "保单号": b}, [[9, *group[2][1:]]])
    assert again["status"] == "success", again["errors"]
    assert _not_on(_page(root, a)) is None


def test_a_void_page_names_someone_swapped_for_a_namesake(root):
    """换人 took 年轻人 off and put on another 年轻人 (another ID): the void page matched by name and said
    nothing, while the lookup page told the first one they were not on the replacement."""
    group = people(3)
    twin = list(people(4)[3])
    twin[1] = group[2][1]  # the same name, another person
    a = _request(root, "团.xlsx", issue_fields(), group)["policies"][0]["policy_no"]
    b = _request(root, "换人.xlsx", {"操作类型": "换人", "保单号": a}, [group[0], group[1], twin])
    assert b["status"] == "success", b["errors"]
    said = _not_on(_page(root, a)) or ""
    assert group[2][1] in said and b["policies"][0]["policy_no"] in said, said


def test_reprint_of_a_replaced_policy_shows_the_pointer(root):
    a = _request(root, "团.xlsx", issue_fields(), people(2))["policies"][0]["policy_no"]
    b = _request(root, "批改.xlsx", {"操作类型": "批改", "保单号": a, "天数": 4})["policies"][0]["policy_no"]
    (root / "outbox" / "GZ001" / f"电子保单_{a}.html").unlink()
    write_request(root / "workbooks" / "GZ001" / "补打.xlsx", {"操作类型": "补打保单", "保单号": a})
    run_watcher(root, "process")
    data, wb = result(root, "GZ001", "补打_结果")
    assert data["status"] == "success"
    assert _replaced_by(_page(root, a)) == b
    assert summary_values(wb)["保单状态"] == f"已撤单（已被 {b} 替代）"
    assert data["replaced_by"] == b and data["replaced_by_status"] == "有效"


def test_pages_voided_before_this_release_are_brought_up_to_date_once(root):
    a = _request(root, "团.xlsx", issue_fields(), people(2))["policies"][0]["policy_no"]
    b = _request(root, "批改.xlsx", {"操作类型": "批改", "保单号": a, "天数": 4})["policies"][0]["policy_no"]
    path = root / "outbox" / "GZ001" / f"电子保单_{a}.html"
    # As the release before wrote it: the page of the replaced policy still said 有效.
    path.write_text(_page(root, a).replace("已撤单", "有效").replace("void-note", "x"), encoding="utf-8")
    ledger_query(root, "DELETE FROM chores")
    run_watcher(root, "process")
    assert _status(_page(root, a)) == "已撤单" and _replaced_by(_page(root, a)) == b
    # Once: a second start leaves the pages alone.
    path.write_text("left alone", encoding="utf-8")
    run_watcher(root, "process")
    assert path.read_text(encoding="utf-8") == "left alone"


def test_a_new_desk_has_no_chore_to_do(root):
    assert ledger_query(root, "SELECT name FROM chores") == [("void-pages",)]
    assert future()  # the fixture's desk is new: nothing was voided before this release


def test_reprint_after_cover_ended_says_expired_everywhere(root):
    """A policy reprinted after its cover ended is 已到期 on its page, in its result's policy table, in its
    JSON and on the lookup page's terms: never a page printed today that says 有效."""
    policy = issue(root, "团", "2026-11-12 08:00", at="2026-11-10T10:00:00+08:00")
    number = policy["policy_no"]
    assert _status(_page(root, number)) == "有效"  # printed at issue, cover not yet begun
    write_request(root / "workbooks" / "GZ001" / "补打.xlsx", {"操作类型": "补打保单", "保单号": number})
    run_watcher(root, "process", env=fake("2026-11-30T10:00:00+08:00"))
    data, wb = result(root, "GZ001", "补打_结果")
    assert data["status"] == "success" and data["policies"][0]["status"] == "已到期"
    page = _page(root, number)
    assert _status(page) == "已到期" and "本保单已撤单" not in page
    assert 'class="status ended"' in page
    ws = wb["结果汇总"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    head = next(i for i, row in enumerate(rows) if row[0] == "保单号" and row[7] == "状态")
    assert rows[head + 1][0] == number and rows[head + 1][7] == "已到期"


def test_reprint_of_a_replaced_policy_after_the_replacement_ended_says_so(root):
    """The policy that replaced it has ended too: the reprint's JSON, its 保单状态 and the page say so (its
    stored status, 有效, was given: 保单查询 of the same moment said 已到期)."""
    a = issue(root, "团", "2026-11-12 08:00", at="2026-11-10T10:00:00+08:00")["policy_no"]
    write_request(root / "workbooks" / "GZ001" / "批改.xlsx", {"操作类型": "批改", "保单号": a, "天数": 6})
    run_watcher(root, "process", env=fake("2026-11-10T11:00:00+08:00"))
    amended, _ = result(root, "GZ001", "批改_结果")
    assert amended["status"] == "success", amended["errors"]
    b = amended["policies"][0]["policy_no"]
    write_request(root / "workbooks" / "GZ001" / "补打.xlsx", {"操作类型": "补打保单", "保单号": a})
    run_watcher(root, "process", env=fake("2026-11-30T10:00:00+08:00"))
    data, wb = result(root, "GZ001", "补打_结果")
    assert data["replaced_by"] == b and data["replaced_by_status"] == "已到期"
    assert summary_values(wb)["保单状态"] == f"已撤单（已被 {b} 替代，该保单保险期间也已结束）"
    page = _page(root, a)
    assert _status(page) == "已撤单" and _replaced_by(page) == b and "该保单保险期间也已结束" in page
    assert "请以新保单为准" not in page


def _found(root: Path, policy_no: str, id_type: str, id_no: str):
    """What the lookup page reads for this traveller (the page's own query, on the test's ledger)."""
    import os

    from watcher.ledger.lookup import LookupLedger

    lookup = LookupLedger(os.environ.get("WATCHER_LEDGER_URL") or root / "ledger.sqlite3")
    try:
        return lookup.find(policy_no, id_type, id_no)
    finally:
        lookup.connections._drop()


def test_a_namesake_born_the_same_day_does_not_keep_the_one_dropped_by_an_information_change(root):
    """信息变更 left out one of two 张伟 born the same day: the lookup page told the one dropped 「您在新保单中，
    您的证件信息已由旅行社更正」 (matched to the other, on the old policy all along), and the void page named nobody."""
    from watcher.domain.idcard import mod11_2_check

    def resident(body: str) -> str:
        return body + mod11_2_check(body)

    one, other = resident("44010619900101303"), resident("11010119900101305")
    zhang = [[1, "张伟", "身份证", one, None, None, None, None], [2, "张伟", "身份证", other, None, None, None, None]]
    third = people(1)[0]
    a = _request(root, "团.xlsx", issue_fields(), [*zhang, third])["policies"][0]["policy_no"]
    b = _request(root, "信息变更.xlsx", {"操作类型": "信息变更", "保单号": a}, [zhang[1], third])
    b = b["policies"][0]["policy_no"]
    dropped = _found(root, a, "身份证", one)
    assert dropped is not None and dropped.replacement is not None and dropped.replacement.policy_no == b
    assert not dropped.on_replacement and not dropped.unsure, dropped
    kept = _found(root, a, "身份证", other)
    assert kept is not None and kept.on_replacement and not kept.id_corrected
    assert "张伟" in (_not_on(_page(root, a)) or "")


def test_a_namesake_under_a_number_nothing_like_theirs_is_not_taken_for_a_corrected_id(root):
    """信息变更 put another 张伟 (another region, birth date and sex) in the place of the first: matched by name
    alone, the one dropped was told 「您在新保单中，您的证件信息已由旅行社更正」 while nobody covered them. A number
    typed wrong differs in a few characters; theirs differs in almost all. A real correction is still
    followed (tests/test_web.py: the birth digits typed wrong)."""
    from watcher.domain.idcard import mod11_2_check, typed_alike

    first = "11010119900101011" + mod11_2_check("11010119900101011")
    second = "31010119750606022" + mod11_2_check("31010119750606022")
    third = people(1)[0]
    a = _request(root, "团.xlsx", issue_fields(), [[1, "张伟", "身份证", first, None, None, None, None], third])
    a = a["policies"][0]["policy_no"]
    swapped = [[1, "张伟", "身份证", second, None, None, None, None], third]
    b = _request(root, "信息变更.xlsx", {"操作类型": "信息变更", "保单号": a}, swapped)["policies"][0]["policy_no"]
    dropped = _found(root, a, "身份证", first)
    assert dropped is not None and dropped.replacement is not None and dropped.replacement.policy_no == b
    assert not dropped.on_replacement and not dropped.id_corrected, dropped
    typo = first[:10] + "0110" + first[14:17]  # 01-01 typed as 01-10
    assert typed_alike(first, typo + mod11_2_check(typo)) and not typed_alike(first, second)


def test_someone_added_back_under_a_corrected_id_is_followed_from_the_first_policy(root):
    """信息变更 corrected 马一's document (护照 to 身份证), a 减人 took him off, a 加人 put him back under the
    身份证: the first policy's page said he was no longer covered, and the lookup by his 护照 said so too."""
    ma_passport = [1, "马一", "护照", "E87654321", "男", "1988-09-09", None, None]
    ma_resident = [1, "马一", "身份证", "440106198809097719", None, None, None, None]
    other = people(1)[0]
    a = _request(root, "团.xlsx", issue_fields(), [ma_passport, other])["policies"][0]["policy_no"]
    b = _request(root, "信息变更.xlsx", {"操作类型": "信息变更", "保单号": a}, [ma_resident, other])
    b = b["policies"][0]["policy_no"]
    c = _request(root, "减人.xlsx", {"操作类型": "减人", "保单号": b}, [other])["policies"][0]["policy_no"]
    assert "马一" in (_not_on(_page(root, a)) or "")
    d = _request(root, "加人.xlsx", {"操作类型": "加人", "保单号": c}, [ma_resident])["policies"][0]["policy_no"]
    found = _found(root, a, "护照", "E87654321")
    assert found is not None and found.on_replacement and found.id_corrected, found
    assert found.replacement is not None and found.replacement.policy_no == d
    assert _not_on(_page(root, a)) is None, _not_on(_page(root, a))
