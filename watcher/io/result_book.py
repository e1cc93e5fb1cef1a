"""The result workbook: a summary sheet, then each input sheet echoed in its own layout.

Echoed sheets keep every row and column where the clerk had it, so row numbers match their file;
the roster gains 保费 and 错误说明 columns; each wrong cell is filled red with a comment.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from pathlib import Path

from ..domain.dates import show_end, show_hour, show_second
from ..domain.idcard import ID_TYPES
from ..domain.money import Amount, yuan
from ..domain.plans import REGIONS
from ..domain.policy import CANCELLED
from ..domain.problems import Problem
from ..domain.text import clean, label_key
from ..messages import STATUS_LABEL
from .book import Book, Sheet
from .sheet_table import ENDORSED
from .tables import EXAMPLE_MARKS, label_fields
from .xlsx import (
    MARK,
    MONEY,
    PORTRAIT_WIDTH,
    TEMPLATE_ROWS,
    fit_row,
    new_workbook,
    print_setup,
    text_width,
    write_value,
)

SUMMARY = "结果汇总"
APPLY_SHEET = "申请"
SKIP_ECHO = {"填写说明", "说明"}
ERRORS_COLUMN = "错误说明"
PREMIUM_COLUMN = "保费"
OUR_PREMIUM = "核定保费"  # our premium column's header when the clerk's roster has a 保费 column of its own
OUR_ERRORS = "错误说明（本次）"  # and our errors column's, when it has an 错误说明 of its own


@dataclass(frozen=True)
class ResultMark:
    """What a result workbook says about itself when it is dropped back into a drop folder."""

    sha256: str  # of the original request ('' when the mark was damaged)
    status: str  # success, failed, quote, duplicate ('' when unknown)
    file_name: str  # the original's name
    total: object = None  # its summary's 保费合计 as read (a quote's: the premium the clerk told the customer)


def result_mark(book: Book) -> ResultMark | None:
    """The mark of a result watcher wrote (its document property, else its 结果汇总 sheet), or None."""
    props = book.properties
    sheet = book.sheet(SUMMARY)
    labels: dict[str, object] = {}
    if sheet is not None:
        for row in sheet.rows[:60]:
            if len(row) > 1 and isinstance(row[0], str):
                labels.setdefault(row[0].strip(), row[1])
    sha = str(props.get(f"{MARK}_sha256") or labels.get("SHA-256") or "").strip().lower()
    if props.get(MARK) != "result" and not (sheet is not None and "SHA-256" in labels):
        return None
    statuses = {label: status for status, label in STATUS_LABEL.items()}
    status = props.get(f"{MARK}_status") or statuses.get(str(labels.get("状态") or "").strip(), "")
    return ResultMark(
        sha if re.fullmatch(r"[0-9a-f]{64}", sha) else "",
        status,
        str(props.get(f"{MARK}_file") or labels.get("原文件名") or ""),
        labels.get("保费合计"),
    )


def strip_result(book: Book) -> Book:
    """A failed or quoted result dropped back, as the corrected request it now is: its own sheets, the
    values as the clerk left them, without the summary sheet and with the columns the result added
    (保费, 错误说明) emptied. The result names those columns in its document property (else its 错误说明
    header says where they are); they keep their headers, so the new result writes into the same places."""
    added = _added_columns(book)
    sheets = {}
    for name, sheet in book.sheets.items():
        if name == SUMMARY:
            continue
        where = added.get(name)
        if where is None or not _still_there(sheet.rows, where):
            # No record (a result saved as .xls), or columns or rows inserted or deleted since (the record
            # is by position): found by the headers the result wrote, never a clerk's column emptied by a
            # stale position, nor the clerk's own 错误说明 taken for ours once ours was deleted.
            where = _found_columns(sheet.rows, where[3:] if where and len(where) == 5 else None)
        rows = sheet.rows
        if where:
            header, premium, error = where[0], where[1], where[2]
            emptied = {c for c in (premium, error) if c is not None}
            rows = rows[: header + 1] + [
                [None if c in emptied else v for c, v in enumerate(row)] for row in rows[header + 1 :]
            ]
            added[name] = where
        else:
            added.pop(name, None)  # its columns are gone: the new result adds its own, the clerk's untouched
        sheets[name] = replace(sheet, rows=rows)
    return Book(sheets, book.format, {f"{MARK}_columns": json.dumps(added, ensure_ascii=False)})


def _added_columns(book: Book) -> dict[str, list]:
    """Sheet → [header row, 保费 column or None, 错误说明 column, and their headers], as the result recorded them
    (a result written before the headers were recorded: the first three)."""
    try:
        found = json.loads(book.properties.get(f"{MARK}_columns", "") or "{}")
        return {str(k): list(v) for k, v in found.items() if isinstance(v, list) and len(v) in (3, 5)}
    except (ValueError, TypeError, AttributeError):
        return {}


def _header_text(rows: list[list], r: int, c: int | None) -> str | None:
    value = rows[r][c] if c is not None and 0 <= r < len(rows) and 0 <= c < len(rows[r]) else None
    return value.strip() if isinstance(value, str) else None


def _still_there(rows: list[list], where: list) -> bool:
    """The recorded columns still carry the headers the result wrote there."""
    try:
        header, premium, error = int(where[0]), where[1], int(where[2])
    except (TypeError, ValueError, IndexError):
        return False
    premium_name, error_name = where[3:5] if len(where) == 5 else (None, None)
    if _header_text(rows, header, error) not in ((error_name,) if error_name else (ERRORS_COLUMN, OUR_ERRORS)):
        return False
    if premium is None:
        return True
    return _header_text(rows, header, premium) in ((premium_name,) if premium_name else (PREMIUM_COLUMN, OUR_PREMIUM))


def _found_columns(rows: list[list], names: list | None = None) -> list | None:
    """By their headers. `names`: the headers the result wrote (保费 or 核定保费, 错误说明 or 错误说明（本次）),
    and only those are taken. Without them: 错误说明（本次）, else 错误说明, with 保费 just before it, or
    核定保费 wherever it is."""
    premium_name, error_name = names if names else (None, None)
    for h, row in enumerate(rows[:50]):
        heads: dict[str, int] = {}
        for c, v in enumerate(row):
            if isinstance(v, str):
                heads.setdefault(v.strip(), c)
        for name in (error_name,) if error_name else (OUR_ERRORS, ERRORS_COLUMN):
            if name in heads:
                error = heads[name]
                before = row[error - 1] if error > 0 else None
                if premium_name:
                    premium = heads.get(premium_name)
                else:
                    adjacent = isinstance(before, str) and before.strip() in (PREMIUM_COLUMN, OUR_PREMIUM)
                    premium = heads.get(OUR_PREMIUM, error - 1 if adjacent else None)
                return [h, premium, error, premium_name, error_name] if names else [h, premium, error]
    return None


def write_result_book(path: Path, outcome, zone: tzinfo) -> None:
    wb = new_workbook(
        path,
        "result",
        lean=True,
        sha256=outcome.sha256,
        status=outcome.status,
        agency=outcome.who,
        file=outcome.file_name,
    )
    f = _formats(wb)
    _summary(wb, f, outcome, zone)
    used = {SUMMARY}
    for table in outcome.tables:
        _table(wb, f, _sheet_name(table.name, used), table)
    by_sheet: dict[str, list[Problem]] = defaultdict(list)
    for p in outcome.problems:
        if p.sheet:
            by_sheet[p.sheet].append(p)
    if outcome.book is not None:
        f["options"] = _sheet_name("选项", used)  # the lists the echoed roster's dropdowns read
        f["added"] = {}  # sheet → [header row, 保费 column, 错误说明 column] this result adds
        for sheet in outcome.book.sheets.values():
            if sheet.name in SKIP_ECHO or (sheet.hidden and sheet.name not in by_sheet):
                continue
            name = _sheet_name(sheet.name, used)
            _echo(wb, f, name, sheet, by_sheet.get(sheet.name, []), outcome)
        if outcome.roster_sheet in outcome.book.sheets:
            _options(wb, f["options"])
        # Where the added columns are, so a result fixed in place and dropped back sheds exactly them.
        wb.set_custom_property(f"{MARK}_columns", json.dumps(f["added"], ensure_ascii=False))
    wb.close()


def _sheet_name(name: str, used: set[str]) -> str:
    base = "".join(ch for ch in name if ch not in "[]:*?/\\")[:31] or "Sheet"
    if base == SUMMARY:
        base = "原" + base
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base[:28]}_{n}"
    used.add(candidate)
    return candidate


def _formats(wb) -> dict:
    return {
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "label": wb.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1}),
        "value": wb.add_format({"border": 1, "text_wrap": True, "valign": "top"}),
        "head": wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1}),
        "money": wb.add_format({"num_format": MONEY, "border": 1}),
        "money_plain": wb.add_format({"num_format": MONEY}),
        "money_left": wb.add_format({"num_format": MONEY, "border": 1, "align": "left"}),
        "num_left": wb.add_format({"border": 1, "align": "left"}),
        "ok": wb.add_format({"bold": True, "font_color": "#006100", "bg_color": "#C6EFCE", "border": 1}),
        "bad": wb.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE", "border": 1}),
        "red": wb.add_format({"bg_color": "#FF9999"}),
        "red_date": wb.add_format({"bg_color": "#FF9999", "num_format": "yyyy-mm-dd"}),
        "red_datetime": wb.add_format({"bg_color": "#FF9999", "num_format": "yyyy-mm-dd hh:mm"}),
        "text_col": wb.add_format({"num_format": "@"}),
        "red_text": wb.add_format({"bg_color": "#FF9999", "num_format": "@"}),
        "warn_text": wb.add_format({"bg_color": "#FFEB9C", "num_format": "@"}),
        "warn": wb.add_format({"bg_color": "#FFEB9C"}),
        "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": wb.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top", "font_color": "#9C0006"}),
        "note": wb.add_format({"italic": True, "font_color": "#595959"}),
        "wrap_plain": wb.add_format({"text_wrap": True, "valign": "top"}),
        "value_small": wb.add_format({"border": 1, "font_size": 8, "valign": "vcenter"}),
        "total_label": wb.add_format({"bold": True, "top": 1}),
        "total_money": wb.add_format({"bold": True, "top": 1, "num_format": MONEY}),
    }


# The actions whose result is about policies: its summary shows them, with 人数 and 保费合计 over the
# live ones. Admin actions and 对账单查询 show their own figures instead.
POLICY_ACTIONS = (
    "投保",
    "试算",
    "撤单",
    "批改",
    "加人",
    "减人",
    "换人",
    "信息变更",
    "保单查询",
    "业务明细",
    "补打保单",
)
SHOWN = ("旅行团号", "方案", "保险期间")
VALUE_WIDTH = 46  # the summary's value column, where long text wraps


def _summary(wb, f, outcome, zone) -> None:
    ws = wb.add_worksheet(SUMMARY)
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, VALUE_WIDTH)
    ws.set_column(2, 2, 16)
    ws.set_column(3, 3, 8)
    ws.set_column(4, 4, 12)
    ws.set_column(5, 6, 17)
    ws.set_column(7, 7, 9)
    ws.write_string(0, 0, "处理结果", f["title"])
    rows: list[tuple[str, object]] = [
        ("状态", STATUS_LABEL[outcome.status]),
        ("操作类型", outcome.action or "（无法识别）"),
    ]
    if outcome.action in POLICY_ACTIONS:
        rows.append(("保单号", _numbers([p.policy_no for p in outcome.policies if p.policy_no])))
        if outcome.cancelled:
            rows.append(("撤销的保单", "、".join(outcome.cancelled)))
        rows += [(label, outcome.summary.get(label) or _common(outcome, label, zone)) for label in SHOWN]
        if outcome.premium_before is not None:
            rows.append(("原保单保费", Amount(outcome.premium_before)))
        live = [p for p in outcome.policies if p.status != CANCELLED]
        rows += [("人数", sum(p.insured_count for p in live)), ("保费合计", Amount(premium_total(outcome)))]
    rows += [(label, value) for label, value in outcome.summary.items() if label not in SHOWN]
    rows += [
        ("错误数", len(outcome.errors)),
        ("提示数", len(outcome.warnings)),
        ("机构", outcome.who),
        ("原文件名", outcome.file_name),
        ("SHA-256", outcome.sha256),
        ("处理时间", show_second(outcome.processed_at, zone)),
    ]
    if outcome.first_processed_at is not None:
        rows.append(("首次处理时间", show_second(outcome.first_processed_at, zone)))
    if outcome.status == "duplicate":
        rows.append(
            (
                "说明",
                "同一文件已处理过，本次未做任何变更；"
                + (
                    "以下为首次处理所出的保单及其当前状态"
                    if outcome.policies
                    else f"首次处理于 {show_second(outcome.first_processed_at, zone)} 完成"
                    if outcome.first_processed_at is not None
                    else "首次处理已完成"
                ),
            )
        )
    how = _how_to_resubmit(outcome)
    if how:
        rows.append(("改正方法" if outcome.status == "failed" else "如需出单", how))
    if outcome.action in POLICY_ACTIONS:
        rows.append(("计数说明", "人数、保费合计只计本结果中的有效保单（已撤单的不计）"))
    r = 2
    for label, value in rows:
        ws.write_string(r, 0, label, f["label"])
        if isinstance(value, Amount):
            ws.write_number(r, 1, yuan(value.fen), f["money_left"])
        elif isinstance(value, int):
            ws.write_number(r, 1, value, f["num_left"])
        else:
            fmt = f["value"]
            if label == "状态":
                fmt = f["ok"] if outcome.status in ("success", "quote", "duplicate") else f["bad"]
            elif label == "SHA-256":
                fmt = f["value_small"]
            else:
                fit_row(ws, r, [(str(value), VALUE_WIDTH)])
            ws.write_string(r, 1, str(value) or "—", fmt)
        r += 1
    for note in outcome.notes:
        ws.write_string(r, 1, note, f["wrap_plain"])
        fit_row(ws, r, [(note, VALUE_WIDTH)])
        r += 1

    policy_table = bool(outcome.policies) and all(t.name in ENDORSED for t in outcome.tables)
    if policy_table:
        r += 1
        heads = ["保单号", "旅行团号", "方案", "人数", "保费", "生效时间", "终止时间", "状态"]
        for c, h in enumerate(heads):
            ws.write_string(r, c, h, f["head"])
        for p in outcome.policies:
            r += 1
            for c, v in enumerate([p.policy_no or "（试算，未出单）", p.tour_group, f"{p.plan_code} {p.plan_name}"]):
                ws.write_string(r, c, v, f["value"])
            ws.write_number(r, 3, p.insured_count, f["value"])
            ws.write_number(r, 4, yuan(p.premium_fen), f["money"])
            ws.write_string(r, 5, show_hour(p.start, zone), f["value"])
            ws.write_string(r, 6, show_end(p.end, zone), f["value"])
            # As the JSON twin and the lookup page show it at the moment processed (有效 ended: 已到期).
            ws.write_string(r, 7, p.shown_status(outcome.processed_at) if p.policy_no else "试算", f["value"])

    if outcome.problems:
        r += 2
        # 说明 in the wide column, wrapped: the sheet stays one A4 page wide however long the messages.
        heads = ["类型", "说明", "工作表", "行", "列"]
        for c, h in enumerate(heads):
            ws.write_string(r, c, h, f["head"])
        for p in outcome.errors + outcome.warnings:
            r += 1
            ws.write_string(r, 0, "提示" if p.warning else "错误", f["warn"] if p.warning else f["red"])
            ws.write_string(r, 1, p.message, f["wrap_plain"])
            fit_row(ws, r, [(p.message, VALUE_WIDTH)])
            ws.write_string(r, 2, p.sheet or "—")
            if p.row is not None:
                ws.write_number(r, 3, p.row)
            ws.write_string(r, 4, p.column or "—")
    print_setup(ws, landscape=policy_table)  # the policies' table is the widest thing on the sheet


def _numbers(numbers: list[str], shown: int = 20) -> str:
    """A cell of policy numbers that stays readable (and under Excel's 32,767 characters) however many."""
    if len(numbers) <= shown:
        return "、".join(numbers) or "—"
    return "、".join(numbers[:shown]) + f" 等 {len(numbers)} 张（全部见下方的表）"


def _common(outcome, label: str, zone) -> str:
    """What every policy of the result shares; several that differ are never shown as the first one's."""
    values = {
        {
            "旅行团号": p.tour_group,
            "方案": f"{p.plan_code} {p.plan_name}",
            "保险期间": f"{show_hour(p.start, zone)} 至 {show_end(p.end, zone)}",
        }[label]
        for p in outcome.policies
    }
    if not values:
        return _as_written(outcome, label)
    return values.pop() if len(values) == 1 else f"（{len(outcome.policies)} 张保单不尽相同，见下表）"


def _as_written(outcome, label: str) -> str:
    """A request that issued nothing (failed): its 旅行团号 and 方案代码 as the 申请 sheet has them, so the clerk
    sees which group the result is about."""
    wanted = {"旅行团号": "旅行团号", "方案": "方案代码"}.get(label)
    sheet = outcome.book.sheet(APPLY_SHEET) if wanted and outcome.book is not None else None
    if wanted is None or sheet is None:
        return "—"
    found = label_fields(sheet, {label_key(wanted): wanted})[0].get(wanted)
    return (clean(found.value) if found else "") or "—"


def _how_to_resubmit(outcome) -> str:
    """A failed result (or a quote) is the clerk's fastest way back: fixed in place and dropped back."""
    if outcome.book is None or outcome.status not in ("failed", "quote"):
        return ""
    folder = f"workbooks/{outcome.who}/"
    if outcome.status == "quote":
        return (
            f"把“申请”表中的操作类型改为“投保”，保存后把本文件放回 {folder} 即可出单（本汇总表和本结果添加的保费列"
            "会被忽略，原有各列照常读取）；也可用投保模板重新填写"
        )
    # The columns this result adds, by what they hold: a roster's own 保费 or 错误说明 column (the added ones
    # are then 核定保费, 错误说明（本次）) is read as the clerk's, and an admin table gets no premium column.
    added = "保费、错误说明列" if outcome.roster_header is not None else "错误说明列"
    return (
        f"直接在本文件中改正标红的单元格（批注写明了原因），保存后把本文件放回 {folder} 即可重新提交；"
        f"本汇总表和本结果在表格右侧添加的{added}会被忽略，原有各列照常读取"
    )


def _table(wb, f, name: str, table) -> None:
    """A query export or detail sheet: header frozen, filters on, money as numbers, a totals row."""
    ws = wb.add_worksheet(name)
    top = 0
    if table.note:
        ws.write_string(0, 0, table.note, f["note"])
        top = 1
    for c, head in enumerate(table.headers):
        ws.write_string(top, c, head, f["head"])
    widths = [text_width(h) for h in table.headers]
    cell = {"money": f["money_plain"], "int": None, "text": None, "datetime": None}
    for i, row in enumerate(table.rows, start=top + 1):
        for c, value in enumerate(row):
            type_ = table.types[c]
            if value is None or value == "":
                continue
            if type_ == "money":
                ws.write_number(i, c, yuan(value), f["money_plain"])
            elif type_ == "int":
                ws.write_number(i, c, value)
            else:
                text = str(value)
                ws.write_string(i, c, text)
                if i < top + 200:
                    widths[c] = max(widths[c], min(text_width(text), 40))
    last = top + len(table.rows)
    if table.totals:
        last += 1
        ws.write_string(last, 0, "合计", f["total_label"])
        for c, value in table.totals.items():
            if table.types[c] == "money":
                ws.write_number(last, c, yuan(value), f["total_money"])
            elif isinstance(value, int):
                ws.write_number(last, c, value, f["total_label"])
            else:
                ws.write_string(last, c, str(value), f["total_label"])
    widths = [max(w, 12 if table.types[c] == "money" else 6) for c, w in enumerate(widths)]
    for c, w in enumerate(widths):
        ws.set_column(c, c, w, cell[table.types[c]])
    ws.freeze_panes(top + 1, 0)
    print_setup(ws, landscape=sum(widths) > PORTRAIT_WIDTH, header_row=top)
    ws.autofilter(top, 0, top + len(table.rows), len(table.headers) - 1)


def premium_total(outcome) -> int:
    """Σ premium of the policies not cancelled (the quoted amount for 试算)."""
    return sum(p.premium_fen for p in outcome.policies if p.status != "已撤单")


def _header_row(sheet: Sheet, problems: list[Problem]) -> int:
    """A table's header row (0-based), for its 错误说明 heading: the first row above the problems' rows that
    names one of their columns (an admin table under a title row, a CSV's table under its 申请 rows); else
    the first row (the 申请 sheet, labels in column A)."""
    if sheet.name == APPLY_SHEET:
        return 0
    columns = {label_key(p.column) for p in problems if p.column and p.row is not None}
    below = min((p.row - 1 for p in problems if p.row is not None), default=0)
    for r, row in enumerate(sheet.rows[: min(below, 50)]):
        if any(isinstance(v, str) and label_key(v) in columns for v in row):
            return r
    return 0


def _echo(wb, f, name: str, sheet: Sheet, problems: list[Problem], outcome) -> None:
    """The sheet as the clerk had it, wrong cells red with a comment and each row's problems beside it.
    The roster keeps the template's text ID column and dropdowns: a failed result is fixed in place
    and dropped back, the same way the first entry was made."""
    ws = wb.add_worksheet(name)
    is_roster = sheet.name == outcome.roster_sheet
    width = sheet.width
    cell_problems: dict[tuple[int, int], list[Problem]] = defaultdict(list)
    row_messages: dict[int, list[str]] = defaultdict(list)
    # A row's errors before its warnings: a tip listed first made the refusing error after it read as part
    # of the 提示 (the row failed, and its 错误说明 began 「提示：」).
    for p in sorted(problems, key=lambda p: p.warning):
        if p.row is None:
            continue
        if p.col_index is not None:
            cell_problems[(p.row - 1, p.col_index)].append(p)
        prefix = "提示：" if p.warning else ""
        row_messages[p.row - 1].append(f"{prefix}{p.column}：{p.message}" if p.column else prefix + p.message)

    columns = outcome.roster_columns if is_roster else {}
    id_col = columns.get("证件号码")
    # The columns the template formats as text (a phone's leading 0, an ID's 18 digits), kept so in the
    # result the clerk fixes in place.
    text_cols = {c for c in (id_col, columns.get("联系电话")) if c is not None}
    widths = [8.0] * width
    marked = {r for r, _ in cell_problems}
    plain = getattr(ws, "write_plain_row", None)  # watcher's own writer: a row without marks in one go
    money = _money_cells(sheet)  # calamine reads values only: the money format is given again by the header

    def other(r: int, c: int, value: object) -> None:
        write_value(ws, r, c, value, None, f["date"], f["datetime"])

    for r, row in enumerate(sheet.rows):
        if plain is not None and r not in marked:
            plain(r, row, other)
            for c in money(r, row):
                ws.write_number(r, c, row[c], f["money_plain"])
            if r < 200:
                for c, value in enumerate(row[:width]):
                    widths[c] = max(widths[c], _shown_width(value))
            continue
        in_money = set(money(r, row))
        for c, value in enumerate(row):
            found = cell_problems.get((r, c))
            fmt = f["money_plain"] if c in in_money else None
            if found:
                warn = all(p.warning for p in found)
                fmt = f["warn"] if warn else f["red"]
                if isinstance(value, datetime):
                    fmt = f["red_datetime"]
                elif isinstance(value, date):
                    fmt = f["red_date"]
                elif c in text_cols and r > (outcome.roster_header or 0):
                    # The cell the clerk retypes: text, or Excel turns an 18-digit number into 4.4E+17.
                    fmt = f["warn_text"] if warn else f["red_text"]
            write_value(ws, r, c, value, fmt, f["date"], f["datetime"])
            if found:
                ws.write_comment(r, c, "\n".join(p.message for p in found), {"x_scale": 2.5, "y_scale": 2})
            if r < 200 and c < width:
                widths[c] = max(widths[c], _shown_width(value))

    for c, w in enumerate(widths):
        ws.set_column(c, c, w, f["text_col"] if c in text_cols else None)
    if sheet.name == APPLY_SHEET:  # the same choice the template gives, for the clerk who fixes it in place
        for r, row in enumerate(sheet.rows):
            label = label_key(row[0]) if row else ""
            if label == "区域":
                ws.data_validation(r, 1, r, 1, {"validate": "list", "source": list(REGIONS), "error_type": "warning"})
            elif label == "方案代码" and outcome.plan_choices:  # the agency's plans, as its template lists the desk's
                choices = list(outcome.plan_choices)
                ws.data_validation(r, 1, r, 1, {"validate": "list", "source": choices, "error_type": "warning"})
            elif label == "操作类型" and outcome.action in ISSUE_ACTIONS:
                # A 试算 (or a failed 投保) is issued by changing this to 投保 and dropping the result back.
                choices = list(ISSUE_ACTIONS)
                ws.data_validation(r, 1, r, 1, {"validate": "list", "source": choices, "error_type": "warning"})
    print_setup(
        ws,
        landscape=sum(widths) + (72 if row_messages or is_roster else 0) > PORTRAIT_WIDTH,
        header_row=outcome.roster_header if is_roster else None,
    )

    added = _added_columns(outcome.book).get(sheet.name)  # a result fixed in place: the same columns again
    if is_roster and outcome.roster_header is not None:
        header = int(outcome.roster_header)
        premium_col, error_col, names = _extra_columns(sheet, header, width, added)
        ws.write_string(header, premium_col, names[0], f["head"])
        ws.write_string(header, error_col, names[1], f["head"])
        f["added"][sheet.name] = [header, premium_col, error_col, names[0], names[1]]
        ws.set_column(premium_col, premium_col, 12)
        ws.set_column(error_col, error_col, 60)
        for r, fen in outcome.row_premiums.items():
            ws.write_number(r, premium_col, yuan(fen), f["money_plain"])
        if outcome.status == "failed" and outcome.action in NEW_COVER:
            # Nobody on it was insured: the rows without an error looked like rows issued (保费 and 错误说明
            # both empty), and a clerk sent the one red row again alone, leaving the others without cover.
            # (A failed 减人, 换人 or 信息变更 leaves the policy as it was: its people are still covered.)
            serial = columns.get("序号")
            for r in range(header + 1, len(sheet.rows)):
                row = sheet.rows[r]
                if r in outcome.row_premiums or not _a_person(row, serial):
                    continue
                ws.write_string(r, premium_col, "未投保", f["note"])
        for r, messages in row_messages.items():
            if r > header:
                ws.write_string(r, error_col, "；".join(messages), f["wrap"])
                fit_row(ws, r, [("；".join(messages), 60)])
        last = max(len(sheet.rows) + 200, TEMPLATE_ROWS + 1)  # as far as the template's, or 200 rows past the last
        for column, source in (("证件类型", f"='{f['options']}'!$A$2:$A${len(ID_TYPES) + 1}"), ("性别", ["男", "女"])):
            at = columns.get(column)
            if at is not None:
                ws.data_validation(
                    header + 1, at, last, at, {"validate": "list", "source": source, "error_type": "warning"}
                )
        ws.freeze_panes(header + 1, 0)
    elif row_messages or added:
        header = added[0] if added else _header_row(sheet, problems)
        if added:
            error_col, name = added[2], str(sheet.value(header, added[2]) or ERRORS_COLUMN)
        else:
            heads = {clean(v) for v in (sheet.rows[header] if len(sheet.rows) > header else []) if isinstance(v, str)}
            error_col, name = width, OUR_ERRORS if ERRORS_COLUMN in heads else ERRORS_COLUMN
        ws.write_string(header, error_col, name, f["head"])
        f["added"][sheet.name] = [header, None, error_col, None, name]
        ws.set_column(error_col, error_col, 60)
        for r, messages in row_messages.items():
            if r == header:  # about the table (no row filled): beside its heading, which stays the heading
                ws.write_comment(r, error_col, "；".join(messages), {"x_scale": 2.5, "y_scale": 2})
                continue
            ws.write_string(r, error_col, "；".join(messages), f["wrap"])
            fit_row(ws, r, [("；".join(messages), 60)])


NEW_COVER = ("投保", "试算", "加人")  # the actions whose roster is people not yet covered by them


def _a_person(row: list, serial: int | None) -> bool:
    """A roster row that holds someone: anything besides its 序号, and no 示例 mark in it."""
    mark = row[serial] if serial is not None and serial < len(row) else None
    if isinstance(mark, str) and label_key(mark) in EXAMPLE_MARKS:
        return False
    return any(v is not None and (not isinstance(v, str) or v.strip()) for c, v in enumerate(row) if c != serial)


ISSUE_ACTIONS = ("投保", "试算")  # the 操作类型 dropdown of the 投保 template (forms.ISSUE.actions)


# A header or label naming money (保费, 每人保费, 保费合计, 金额, 本次生成金额, 保额, …, with a trailing （元）):
# the numbers under it (or beside it, for a label in column A) are money, shown #,##0.00 as everywhere.
_MONEY_NAME = re.compile(r"(保费|金额|保额)(合计)?(（元）|\(元\))?[:：]?$")
_HEAD_ROWS = 20  # headers are looked for this far down (a title and a note above a table's header)


def _money_cells(sheet: Sheet):
    """`cells(r, row)`: the columns of row `r` holding money: finite numbers under a money header found in the
    sheet's first rows, or beside a money label in column A (the 汇总 sheet's 保费合计)."""
    columns: set[int] = set()

    def cells(r: int, row: list) -> list[int]:
        if r < _HEAD_ROWS:
            named = {c for c, v in enumerate(row) if type(v) is str and _MONEY_NAME.search(v.strip())}
            if named == {0} and len(row) > 1 and _is_money_number(row[1]):
                return [1]  # a label and its value, not a header
            if named and sum(1 for v in row if type(v) is str and v.strip()) > 1:
                columns.update(named)  # a header row (a title alone above, 团队保费 in A1, is none)
                return []
        return [c for c in columns if c < len(row) and _is_money_number(row[c])] if columns else []

    return cells


def _is_money_number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def _shown_width(value: object) -> float:
    """A column wide enough for what Excel shows of the value (no ###): dates, times and numbers too."""
    if isinstance(value, str):
        return min(text_width(value), 40)
    if isinstance(value, datetime):
        return 17
    if isinstance(value, date):
        return 11
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return min(len(f"{value:,}") + 2, 24)
    return 8


def _options(wb, name: str) -> None:
    """The hidden list the echoed roster's 证件类型 dropdown reads (as in the template)."""
    ws = wb.add_worksheet(name)
    ws.write_string(0, 0, "证件类型")
    for r, value in enumerate(ID_TYPES, start=1):
        ws.write_string(r, 0, value)
    ws.hide()


def _extra_columns(sheet: Sheet, header: int, width: int, added: list | None) -> tuple[int, int, tuple[str, str]]:
    """The roster's 保费 and 错误说明 columns: those an earlier result added (fixed in place and dropped
    back), else two new ones on the right. The clerk's own columns are never written over: where the
    roster has a 保费 (or 错误说明) of its own, ours is called 核定保费 (错误说明（本次）)."""
    heads = {clean(v) for v in sheet.rows[header] if isinstance(v, str)} if header < len(sheet.rows) else set()
    if added and added[0] == header and added[1] is not None:
        return (
            added[1],
            added[2],
            (str(sheet.value(header, added[1]) or PREMIUM_COLUMN), str(sheet.value(header, added[2]) or ERRORS_COLUMN)),
        )
    return (
        width,
        width + 1,
        (
            OUR_PREMIUM if PREMIUM_COLUMN in heads else PREMIUM_COLUMN,
            OUR_ERRORS if ERRORS_COLUMN in heads else ERRORS_COLUMN,
        ),
    )


def write_tables(path: Path, tables: list) -> None:
    """A workbook of tables only (业务明细_<YYYY-MM>.xlsx): each on its own sheet, header frozen,
    filters on, money as numbers, a totals row."""
    wb = new_workbook(path, "detail", lean=True)
    f = _formats(wb)
    used: set[str] = set()
    for table in tables:
        _table(wb, f, _sheet_name(table.name, used), table)
    wb.close()
