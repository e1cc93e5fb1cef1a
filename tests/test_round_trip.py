"""Every one of the 20 request kinds, round trip, as a clerk or staff member does it: `watcher template
KIND` (a real subprocess) writes the blank, openpyxl types into it what a person would (申请 values beside
their labels, rows below the headers, the 示例 row left, cleared or typed over), the workbook is saved
into the agency's or staff's drop folder, `watcher process` runs, and the result (its JSON twin and its
workbook) says 成功 with the right content for that kind.

One desk is prepared per module, through the real thing under an injected clock: agencies registered,
policies issued in October, November and December, `watcher month-end --month 2026-11` run, statements
taken through confirmation, payment and invoicing. Each kind then works on objects of its own (its own
policy, statement, agency or plan), so the tests do not depend on one another or on their order; they
all run at the same desk time, 2027-01-05 10:00."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from helpers import (
    admin,
    agency_workbook,
    fake,
    ledger_query,
    people,
    pg_schema,
    result,
    run_watcher,
    summary_values,
    write_request,
)

from watcher.kinds import ADMIN_ACTIONS, AGENCY_ACTIONS

pytestmark = pytest.mark.slow

NOW = "2027-01-05T10:00:00+08:00"  # when every kind below is processed
START = datetime(2027, 1, 20, 8)  # cover that starts after NOW: endorsements are still allowed
AGENCY = "GZ001"
ALL_KINDS = AGENCY_ACTIONS + ADMIN_ACTIONS
PEOPLE = people(60)  # distinct valid residents; each policy below takes its own


@dataclass
class Prepared:
    root: Path
    ledger_url: str | None  # the module's PostgreSQL schema (None on SQLite)
    policies: dict[str, dict] = field(default_factory=dict)  # by tour group: the JSON twin's policy
    rosters: dict[str, list[list]] = field(default_factory=dict)  # by tour group: the rows it was issued with
    statements: dict[tuple[str, str, str], tuple[str, int]] = field(default_factory=dict)  # → (number, fen)


def _people(first: int, n: int) -> list[list]:
    return [list(row) for row in PEOPLE[first : first + n]]


def _issue(desk: Prepared, agency: str, group: str, plan: str, start: str, roster: list[list], at: str) -> dict:
    region = "境内" if plan == "GN-A" else "境外"
    fields = {
        "操作类型": "投保",
        "旅行团号": group,
        "区域": region,
        "方案代码": plan,
        "生效时间": start,
        "天数": 3,
        "行程路线": "广州—桂林—阳朔" if region == "境内" else "广州—曼谷",
        "经办人": "李经办",
        "营销员工号": "S001",
        "营销员姓名": "赵营销",
    }
    write_request(desk.root / "workbooks" / agency / f"备_{group}.xlsx", fields, roster)
    run_watcher(desk.root, "process", env=fake(at))
    data, _ = result(desk.root, agency, f"备_{group}_结果")
    assert data["status"] == "success", data["errors"]
    desk.policies[group], desk.rosters[group] = data["policies"][0], roster
    return data["policies"][0]


def _admin_rows(desk: Prepared, name: str, action: str, sheet: str, head: list[str], rows: list[list], at: str):
    data, _ = admin(desk.root, name, sheet, head, rows, action=action, now=at)
    assert data["status"] == "success", data["errors"]


def _prepare(desk: Prepared) -> None:
    root = desk.root
    run_watcher(root, "init", "--demo")
    (root / "watcher.toml").write_text("settle_seconds = 0\ntext_settle_seconds = 0\n", encoding="utf-8")
    agency_workbook(
        root / "workbooks" / "_admin" / "备_机构.xlsx",
        [
            [1, "SZ002", "深圳往返旅行社", "", "", "GN-A、GW-B", "合作中"],
            [2, "FS003", "佛山往返旅行社", "", "", "GN-A、GW-B", "合作中"],
        ],
    )
    run_watcher(root, "process", env=fake("2026-09-01T10:00:00+08:00"))
    # October: SZ002's business no month-end settles here, left for 结账.
    _issue(desk, "SZ002", "十月团", "GW-B", "2026-10-20 08:00", _people(0, 1), "2026-10-10T10:00:00+08:00")
    # November: one policy per agency and plan, settled by month-end into six statements.
    november = "2026-11-10T10:00:00+08:00"
    _issue(desk, AGENCY, "团A", "GN-A", "2026-11-20 08:00", _people(1, 2), november)
    _issue(desk, AGENCY, "团B", "GW-B", "2026-11-20 08:00", _people(3, 1), november)
    _issue(desk, "SZ002", "深A", "GN-A", "2026-11-20 08:00", _people(4, 1), november)
    _issue(desk, "SZ002", "深B", "GW-B", "2026-11-20 08:00", _people(5, 1), november)
    _issue(desk, "FS003", "佛A", "GN-A", "2026-11-20 08:00", _people(6, 1), november)
    _issue(desk, "FS003", "佛B", "GW-B", "2026-11-20 08:00", _people(7, 2), november)
    run_watcher(root, "month-end", "--month", "2026-11", env=fake("2026-12-01T02:00:00+08:00"))
    for number, agency, plan, month, fen in ledger_query(
        root, "SELECT statement_no, agency, plan_code, month, total_fen FROM statements"
    ):
        desk.statements[(agency, plan, str(month)[:7])] = (number, fen)
    assert sorted(desk.statements) == sorted(
        (a, p, "2026-11") for a in (AGENCY, "SZ002", "FS003") for p in ("GN-A", "GW-B")
    ), desk.statements
    # Statements in every state a kind below starts from: GZ001 GW-B, SZ002 GW-B 已确认; FS003 GN-A 已缴费;
    # FS003 GW-B 已开票 (December's 业绩); GZ001 GN-A and SZ002 GN-A stay 待确认.
    no = {key[:2]: number for key, (number, _) in desk.statements.items()}
    fen = {key[:2]: total for key, (_, total) in desk.statements.items()}
    confirm = [(AGENCY, "GW-B"), ("SZ002", "GW-B"), ("FS003", "GN-A"), ("FS003", "GW-B")]
    _admin_rows(
        desk,
        "备_确认",
        "对账确认",
        "对账确认",
        ["序号", "对账单号", "业务渠道", "确认人"],
        [[i, no[k], "团险直销", "张运营"] for i, k in enumerate(confirm, 1)],
        "2026-12-02T10:00:00+08:00",
    )
    paid = [("FS003", "GN-A"), ("FS003", "GW-B")]
    _admin_rows(
        desk,
        "备_收费",
        "收费登记",
        "收费",
        ["序号", "对账单号", "金额", "缴费凭证号", "到账日期"],
        [[i, no[k], fen[k] / 100, f"PZ-{i}", "2026-12-03"] for i, k in enumerate(paid, 1)],
        "2026-12-03T10:00:00+08:00",
    )
    _admin_rows(
        desk,
        "备_发票",
        "发票登记",
        "发票",
        ["序号", "对账单号", "发票号", "开票日期"],
        [[1, no[("FS003", "GW-B")], "F-备1", "2026-12-04"]],
        "2026-12-04T10:00:00+08:00",
    )
    # December: GZ001 policies starting 2027-01-20, one for each endorsement below.
    december = "2026-12-05T10:00:00+08:00"
    start = START.strftime("%Y-%m-%d %H:%M")
    for i, (group, n) in enumerate((("撤团", 1), ("批团", 2), ("加团", 2), ("减团", 3), ("换团", 2), ("变团", 2))):
        _issue(desk, AGENCY, group, "GN-A", start, _people(10 + 4 * i, n), december)


@pytest.fixture(scope="module")
def prepared_desk(request, tmp_path_factory):
    """The module's desk, on the ledger of the run (a PostgreSQL schema of the module's own with
    --ledger=postgresql: each test's own schema would not hold it)."""
    root = tmp_path_factory.mktemp("round_trip") / "desk"
    with pytest.MonkeyPatch.context() as mp:
        if request.config.getoption("--ledger") == "postgresql":
            with pg_schema("rt_") as url:
                mp.setenv("WATCHER_LEDGER_URL", url)
                desk = Prepared(root, url)
                _prepare(desk)
                yield desk
        else:
            mp.delenv("WATCHER_LEDGER_URL", raising=False)
            desk = Prepared(root, None)
            _prepare(desk)
            yield desk


@pytest.fixture
def round_trip_desk(prepared_desk: Prepared, monkeypatch) -> Prepared:
    """The prepared desk, its ledger named for this test's `watcher` runs and ledger reads."""
    if prepared_desk.ledger_url:
        monkeypatch.setenv("WATCHER_LEDGER_URL", prepared_desk.ledger_url)
    return prepared_desk


# --- what a clerk does -------------------------------------------------------------------------------


def template(desk: Prepared, kind: str, tmp_path: Path) -> openpyxl.Workbook:
    path = tmp_path / f"{kind}_模板.xlsx"
    run_watcher(desk.root, "template", kind, "-o", str(path))
    return openpyxl.load_workbook(path)


def type_fields(wb: openpyxl.Workbook, **values) -> None:
    """Type each value into column B beside its label in 申请 (the label must be there)."""
    ws = wb["申请"]
    rows = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
    for label, value in values.items():
        assert label in rows, f"{label} is not in the template's 申请 sheet"
        ws.cell(rows[label], 2, value)


def type_rows(wb: openpyxl.Workbook, sheet: str, rows: list[list], sample: str = "keep") -> None:
    """Type rows below the header as a clerk does: the 示例 row kept ("keep"), its cells cleared
    ("clear"), or typed over by the first row ("over")."""
    ws = wb[sheet]
    assert ws.cell(2, 1).value == "示例", "the template's example row"
    width = ws.max_column
    if sample == "clear":
        for c in range(1, width + 1):
            ws.cell(2, c).value = None
    at = 2 if sample == "over" else 3
    for r, row in enumerate(rows, start=at):
        for c, value in enumerate(row, start=1):
            ws.cell(r, c).value = value


def drop_and_process(desk: Prepared, wb: openpyxl.Workbook, folder: str, kind: str) -> tuple[dict, openpyxl.Workbook]:
    wb.save(desk.root / "workbooks" / folder / f"{kind}.xlsx")
    run_watcher(desk.root, "process", env=fake(NOW))
    data, book = result(desk.root, folder, f"{kind}_结果")
    assert data["action"] == kind and data["agency"] == folder
    assert data["errors"] == [], data["errors"]
    return data, book


def succeeded(data: dict, book: openpyxl.Workbook, status: str = "success", word: str = "成功") -> dict:
    assert data["status"] == status, data["errors"]
    assert summary_values(book)["状态"] == word
    return summary_values(book)


def page(desk: Prepared, number: str) -> str:
    return (desk.root / "outbox" / AGENCY / f"电子保单_{number}.html").read_text(encoding="utf-8")


def status_of(number: str, desk: Prepared) -> str:
    [(status,)] = ledger_query(desk.root, "SELECT status FROM policies WHERE policy_no = ?", (number,))
    return status


def sheet_rows(book: openpyxl.Workbook, name: str) -> list[tuple]:
    return [r for r in book[name].iter_rows(values_only=True) if any(v is not None for v in r)]


# --- each kind -----------------------------------------------------------------------------------------


def issue_or_quote(desk: Prepared, tmp_path: Path, kind: str) -> None:
    wb = template(desk, kind, tmp_path)
    type_fields(
        wb,
        旅行团号=f"RT-{kind}",
        区域="境内",
        方案代码="GN-A",
        生效时间=START,  # a real date-time, as Excel keeps a typed one
        天数=3,
        行程路线="广州—桂林—阳朔",
        经办人="李经办",
        营销员工号="S001",
        营销员姓名="赵营销",
    )
    roster = _people(40 if kind == "投保" else 44, 3)
    type_rows(wb, "被保险人名单", [[i, *row[1:]] for i, row in enumerate(roster, 1)])
    data, book = drop_and_process(desk, wb, AGENCY, kind)
    found = ledger_query(desk.root, "SELECT policy_no FROM policies WHERE tour_group = ?", (f"RT-{kind}",))
    if kind == "试算":
        succeeded(data, book, "quote", "试算")
        [quoted] = data["quote"]
        assert data["policies"] == [] and quoted["policy_no"] is None and quoted["insured_count"] == 3
        assert quoted["premium"] == data["premium_total"] == "15.00"
        assert found == [], "a quote issues nothing"
        return
    summary = succeeded(data, book)
    [policy] = data["policies"]
    assert policy["tour_group"] == "RT-投保" and policy["plan"] == "GN-A" and policy["status"] == "有效"
    assert policy["insured_count"] == 3 and policy["premium"] == data["premium_total"] == "15.00"
    assert policy["start"] == "2027-01-20T08:00:00+08:00" and policy["end"] == "2027-01-23T00:00:00+08:00"
    assert found == [(policy["policy_no"],)]
    assert summary["人数"] == 3 and summary["保费合计"] == 15
    echoed = sheet_rows(book, "被保险人名单")
    assert echoed[1][0] == "示例" and [r[3] for r in echoed[2:]] == [r[3] for r in roster]  # the clerk's rows
    assert policy["policy_no"] in page(desk, policy["policy_no"])


def cancel(desk: Prepared, tmp_path: Path, kind: str) -> None:
    number = desk.policies["撤团"]["policy_no"]
    wb = template(desk, kind, tmp_path)
    type_fields(wb, 保单号=number)
    data, book = drop_and_process(desk, wb, AGENCY, kind)
    succeeded(data, book)
    assert data["cancelled"] == [number] and data["premium_total"] == "0.00"
    assert status_of(number, desk) == "已撤单" and "已撤单" in page(desk, number)


def amend(desk: Prepared, tmp_path: Path, kind: str) -> None:
    old = desk.policies["批团"]
    wb = template(desk, kind, tmp_path)
    type_fields(wb, 保单号=old["policy_no"], 天数=5, 行程路线="广州—桂林—阳朔—北海")
    data, book = drop_and_process(desk, wb, AGENCY, kind)
    succeeded(data, book)
    [new] = data["policies"]
    assert data["cancelled"] == [old["policy_no"]] and new["policy_no"] != old["policy_no"]
    assert new["replaces"] == old["policy_no"] and new["tour_group"] == "批团" and new["days"] == 5
    assert new["start"] == old["start"] and new["end"] == "2027-01-25T00:00:00+08:00"
    assert new["insured_count"] == 2 and new["premium"] == "16.00"  # 4-7 days: 8.00 a person
    assert status_of(old["policy_no"], desk) == "已撤单" and status_of(new["policy_no"], desk) == "有效"
    assert new["policy_no"] in page(desk, old["policy_no"])  # the old page names its replacement


def add_people(desk: Prepared, tmp_path: Path, kind: str) -> None:
    old = desk.policies["加团"]
    added = _people(50, 1)
    wb = template(desk, kind, tmp_path)
    type_fields(wb, 保单号=old["policy_no"])
    type_rows(wb, "被保险人名单", [[1, *added[0][1:]]], sample="over")
    data, book = drop_and_process(desk, wb, AGENCY, kind)
    succeeded(data, book)
    [new] = data["policies"]
    assert data["cancelled"] == [] and new["policy_no"] != old["policy_no"]
    assert new["tour_group"] == "加团" and new["insured_count"] == 1 and new["premium"] == "5.00"
    assert status_of(old["policy_no"], desk) == "有效", "加人 replaces nothing"
    [(who,)] = ledger_query(desk.root, "SELECT id_no FROM insured WHERE policy_no = ?", (new["policy_no"],))
    assert who == added[0][3]


def new_roster(desk: Prepared, tmp_path: Path, kind: str, group: str, roster: list[list]) -> dict:
    """减人, 换人, 信息变更: the complete new roster replaces the policy."""
    old = desk.policies[group]
    wb = template(desk, kind, tmp_path)
    type_fields(wb, 保单号=old["policy_no"])
    type_rows(wb, "被保险人名单", [[i, *row[1:]] for i, row in enumerate(roster, 1)], sample="clear")
    data, book = drop_and_process(desk, wb, AGENCY, kind)
    succeeded(data, book)
    [new] = data["policies"]
    assert data["cancelled"] == [old["policy_no"]] and new["replaces"] == old["policy_no"]
    assert new["tour_group"] == group and new["insured_count"] == len(roster)
    assert new["premium"] == f"{5 * len(roster)}.00" and data["premium_before"] == old["premium"]
    assert status_of(old["policy_no"], desk) == "已撤单" and status_of(new["policy_no"], desk) == "有效"
    ids = ledger_query(
        desk.root, "SELECT id_no, name FROM insured WHERE policy_no = ? ORDER BY id_no", (new["policy_no"],)
    )
    assert ids == sorted((row[3], row[1]) for row in roster)
    return data


def remove_people(desk: Prepared, tmp_path: Path, kind: str) -> None:
    kept = desk.rosters["减团"][:2]
    data = new_roster(desk, tmp_path, kind, "减团", kept)
    assert json.dumps(data["changes"], ensure_ascii=False).count(desk.rosters["减团"][2][3][-4:]) >= 1


def swap_people(desk: Prepared, tmp_path: Path, kind: str) -> None:
    new_roster(desk, tmp_path, kind, "换团", [desk.rosters["换团"][0], _people(51, 1)[0]])


def change_info(desk: Prepared, tmp_path: Path, kind: str) -> None:
    roster = [list(row) for row in desk.rosters["变团"]]
    roster[0][1] = "欧阳" + roster[0][1][1:]  # the name corrected
    roster[1][6] = "13900139000"  # a phone added
    data = new_roster(desk, tmp_path, kind, "变团", roster)
    assert "欧阳" in json.dumps(data["changes"], ensure_ascii=False)


def policy_query(desk: Prepared, tmp_path: Path, kind: str) -> None:
    wanted = desk.policies["团A"]
    wb = template(desk, kind, tmp_path)
    type_fields(wb, 旅行团号="团A", 保单状态="全部")
    data, book = drop_and_process(desk, wb, AGENCY, kind)
    summary = succeeded(data, book)
    assert [p["policy_no"] for p in data["policies"]] == [wanted["policy_no"]]
    assert summary["查到保单"] == 1 and data["premium_total"] == wanted["premium"]
    listed = [r for r in sheet_rows(book, "保单") if wanted["policy_no"] in r]
    assert listed and "团A" in listed[0]
    insured = [r[4] for r in sheet_rows(book, "被保险人") if r[0] == wanted["policy_no"]]
    assert insured == [row[3] for row in desk.rosters["团A"]]


def detail(desk: Prepared, tmp_path: Path, kind: str) -> None:
    wb = template(desk, kind, tmp_path)
    type_fields(
        wb, 投保起期=date(2026, 11, 1), 投保止期="2026-11-30", 方案代码="全部", 保单状态="全部", 结算状态="全部"
    )
    data, book = drop_and_process(desk, wb, AGENCY, kind)
    succeeded(data, book)
    a, b = desk.policies["团A"]["policy_no"], desk.policies["团B"]["policy_no"]
    assert sorted(p["policy_no"] for p in data["policies"]) == sorted([a, b])  # November's, this agency's only
    rows = sheet_rows(book, "业务明细")
    header = next(r for r in rows if r and r[0] == "保单号")
    by_no = {r[0]: dict(zip(header, r, strict=False)) for r in rows if r[0] in (a, b)}
    assert by_no[a]["结算状态"] == "未结" and by_no[b]["结算状态"] == "已结"  # GW-B's statement is confirmed
    assert by_no[a]["对账单号"] == desk.statements[(AGENCY, "GN-A", "2026-11")][0]
    assert by_no[a]["人数"] == 2 and by_no[a]["产品"]
    # The JSON twin says the same as the workbook's 结算状态 and 对账单号 columns.
    shown = {p["policy_no"]: p for p in data["policies"]}
    for number in (a, b):
        assert shown[number]["settlement"] == by_no[number]["结算状态"]
        assert shown[number]["statement_no"] == by_no[number]["对账单号"]


def reprint(desk: Prepared, tmp_path: Path, kind: str) -> None:
    number = desk.policies["团A"]["policy_no"]
    written = desk.root / "outbox" / AGENCY / f"电子保单_{number}.html"
    written.unlink()  # lost by the agency
    wb = template(desk, kind, tmp_path)
    type_fields(wb, 保单号=number)
    data, book = drop_and_process(desk, wb, AGENCY, kind)
    succeeded(data, book)
    assert [p["policy_no"] for p in data["policies"]] == [number] and data["replaced_by"] is None
    assert number in written.read_text(encoding="utf-8")


def statement_query(desk: Prepared, tmp_path: Path, kind: str) -> None:
    gn, gw = desk.statements[(AGENCY, "GN-A", "2026-11")], desk.statements[(AGENCY, "GW-B", "2026-11")]
    (desk.root / "outbox" / AGENCY / f"对账单_{gn[0]}.xlsx").unlink()  # written again by the query
    wb = template(desk, kind, tmp_path)
    type_fields(wb, 生成起期="2026-12-01", 生成止期=date(2026, 12, 31), 对账状态="全部")
    data, book = drop_and_process(desk, wb, AGENCY, kind)
    succeeded(data, book)
    found = {s["statement_no"]: (s["plan"], s["status"], s["total"]) for s in data["statements"]}
    assert found == {
        gn[0]: ("GN-A", "待确认", f"{gn[1] / 100:.2f}"),
        gw[0]: ("GW-B", "已确认", f"{gw[1] / 100:.2f}"),
    }
    assert (desk.root / "outbox" / AGENCY / f"对账单_{gn[0]}.xlsx").exists()


def plans(desk: Prepared, tmp_path: Path, kind: str) -> None:
    wb = template(desk, kind, tmp_path)
    type_rows(wb, "方案", [[1, "GN-RT", "境内往返测试款", "境内", 0, 75, 15]])
    type_rows(wb, "费率", [[1, "GN-RT", 1, 5, 6], [2, "GN-RT", 6, 15, 11.5]], sample="over")
    type_rows(wb, "年龄系数", [], sample="clear")  # optional: no age factors
    type_rows(wb, "保障", [[1, "GN-RT", "意外身故、残疾", 200000], [2, "GN-RT", "意外医疗", 20000]], sample="clear")
    data, book = drop_and_process(desk, wb, "_admin", kind)
    succeeded(data, book)
    [plan] = data["plans"]
    assert (plan["code"], plan["name"], plan["region"], plan["min_age"], plan["max_age"], plan["max_days"]) == (
        "GN-RT",
        "境内往返测试款",
        "境内",
        0,
        75,
        15,
    )
    assert plan["rates"] == [
        {"days_from": 1, "days_to": 5, "premium": "6.00"},
        {"days_from": 6, "days_to": 15, "premium": "11.50"},
    ]
    assert plan["age_factors"] == []
    assert plan["coverages"] == [
        {"item": "意外身故、残疾", "sum_insured": "200000.00"},
        {"item": "意外医疗", "sum_insured": "20000.00"},
    ]
    assert ledger_query(desk.root, "SELECT COUNT(*) FROM plans WHERE code = ?", ("GN-RT",)) == [(1,)]


def agencies(desk: Prepared, tmp_path: Path, kind: str) -> None:
    wb = template(desk, kind, tmp_path)
    type_rows(wb, "机构", [[1, "RT009", "往返测试旅行社", "91440101RT0000009", "LY-RT-009", "GN-A，GW-B", "合作中"]])
    data, book = drop_and_process(desk, wb, "_admin", kind)
    succeeded(data, book)
    assert data["agencies"] == [
        {
            "code": "RT009",
            "name": "往返测试旅行社",
            "license_no": "91440101RT0000009",
            "agreement_no": "LY-RT-009",
            "plans": ["GN-A", "GW-B"],
            "status": "合作中",
        }
    ]
    assert (desk.root / "workbooks" / "RT009").is_dir() and (desk.root / "outbox" / "RT009").is_dir()


def settle(desk: Prepared, tmp_path: Path, kind: str) -> None:
    october = desk.policies["十月团"]
    wb = template(desk, kind, tmp_path)
    type_fields(wb, 结账月份="2026-10", 机构代码="SZ002", 方案代码="GW-B")
    data, book = drop_and_process(desk, wb, "_admin", kind)
    succeeded(data, book)
    [made] = data["statements"]
    assert (made["agency"], made["plan"], made["month"], made["status"]) == ("SZ002", "GW-B", "2026-10", "待确认")
    assert made["total"] == october["premium"] and made["policy_count"] == 1 and data["waiting"] == []
    assert made["statement_no"] not in {number for number, _ in desk.statements.values()}
    assert (desk.root / "outbox" / "SZ002" / f"对账单_{made['statement_no']}.xlsx").exists()


def confirm(desk: Prepared, tmp_path: Path, kind: str) -> None:
    number, _ = desk.statements[("SZ002", "GN-A", "2026-11")]
    wb = template(desk, kind, tmp_path)
    type_rows(wb, "对账确认", [[1, number, "个险渠道", "王运营"]])
    data, book = drop_and_process(desk, wb, "_admin", kind)
    succeeded(data, book)
    [done] = data["confirmed"]
    assert (done["statement_no"], done["channel"], done["confirmed_by"], done["status"]) == (
        number,
        "个险渠道",
        "王运营",
        "已确认",
    )
    assert any(number in p.name for p in (desk.root / "outbox" / "_core").iterdir()), "the exchange file"
    settled = ledger_query(
        desk.root,
        "SELECT COUNT(*) FROM policies WHERE policy_no = ? AND settled_at IS NOT NULL",
        (desk.policies["深A"]["policy_no"],),
    )
    assert settled == [(1,)]


def payment(desk: Prepared, tmp_path: Path, kind: str) -> None:
    number, fen = desk.statements[("SZ002", "GW-B", "2026-11")]
    wb = template(desk, kind, tmp_path)
    type_rows(wb, "收费", [[1, number, fen / 100, "PZ-RT-1", datetime(2027, 1, 4)]], sample="clear")
    data, book = drop_and_process(desk, wb, "_admin", kind)
    summary = succeeded(data, book)
    assert data["payments"] == [
        {"statement_no": number, "amount": f"{fen / 100:.2f}", "ref": "PZ-RT-1", "paid_on": "2027-01-04"}
    ]
    assert summary["登记缴费"] == 1 and summary["缴费合计"] == fen / 100


def invoice(desk: Prepared, tmp_path: Path, kind: str) -> None:
    number, _ = desk.statements[("FS003", "GN-A", "2026-11")]
    wb = template(desk, kind, tmp_path)
    type_rows(wb, "发票", [[1, number, "44009999", "2027-01-05"]], sample="over")
    data, book = drop_and_process(desk, wb, "_admin", kind)
    succeeded(data, book)
    assert data["invoices"] == [{"statement_no": number, "invoice_no": "44009999", "invoiced_on": "2027-01-05"}]
    [(status,)] = ledger_query(desk.root, "SELECT status FROM statements WHERE statement_no = ?", (number,))
    assert status == "已开票"


def deposit(desk: Prepared, tmp_path: Path, kind: str) -> None:
    wb = template(desk, kind, tmp_path)
    type_rows(wb, "预交保费", [[1, "FS003", "收取", 3000, "SJ-RT-1", datetime(2027, 1, 4)]])
    data, book = drop_and_process(desk, wb, "_admin", kind)
    succeeded(data, book)
    assert data["deposits"] == [
        {
            "type": "收取",
            "receipt_no": "SJ-RT-1",
            "agency": "FS003",
            "amount": "3000.00",
            "date": "2027-01-04",
            "valid_until": "2030-01-03",
        }
    ]


def performance(desk: Prepared, tmp_path: Path, kind: str) -> None:
    invoiced = desk.policies["佛B"]
    wb = template(desk, kind, tmp_path)
    type_fields(wb, 业绩月份="2026-12")
    data, book = drop_and_process(desk, wb, "_admin", kind)
    succeeded(data, book)
    assert data["performance_month"] == "2026-12"
    rows = [
        (r["month"], r["sales_id"], r["agency"], r["plan"], r["statements"], r["policies"], r["insured"], r["premium"])
        for r in data["performance"]
    ]
    assert rows == [("2026-12", "S001", "FS003", "GW-B", 1, 1, 2, invoiced["premium"])]


KINDS = {
    "投保": issue_or_quote,
    "试算": issue_or_quote,
    "撤单": cancel,
    "批改": amend,
    "加人": add_people,
    "减人": remove_people,
    "换人": swap_people,
    "信息变更": change_info,
    "保单查询": policy_query,
    "业务明细": detail,
    "补打保单": reprint,
    "对账单查询": statement_query,
    "方案": plans,
    "机构": agencies,
    "结账": settle,
    "对账确认": confirm,
    "收费登记": payment,
    "发票登记": invoice,
    "预交保费": deposit,
    "业绩": performance,
}


def test_every_kind_has_its_round_trip():
    assert len(ALL_KINDS) == 20 and set(KINDS) == set(ALL_KINDS)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_filled_template_goes_through(round_trip_desk, tmp_path, kind):
    KINDS[kind](round_trip_desk, tmp_path, kind)
