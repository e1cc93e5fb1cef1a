"""The result workbook: a summary sheet, then each input sheet echoed in its own layout.

Echoed sheets keep every row and column where the clerk had it, so row numbers match their file;
the roster gains 保费 and 错误说明 columns; each wrong cell is filled red with a comment.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, tzinfo
from pathlib import Path

from ..domain.dates import show_end, show_hour, show_second
from ..domain.money import yuan
from ..domain.problems import Problem
from ..messages import STATUS_LABEL
from .book import Sheet
from .xlsx import MONEY, new_workbook, text_width, write_value

SUMMARY = "结果汇总"
SKIP_ECHO = {"填写说明", "说明"}


def write_result_book(path: Path, outcome, zone: tzinfo) -> None:
    wb = new_workbook(path)
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
        for sheet in outcome.book.sheets.values():
            if sheet.name in SKIP_ECHO or (sheet.hidden and sheet.name not in by_sheet):
                continue
            name = _sheet_name(sheet.name, used)
            _echo(wb, f, name, sheet, by_sheet.get(sheet.name, []), outcome)
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
        "warn": wb.add_format({"bg_color": "#FFEB9C"}),
        "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": wb.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top", "font_color": "#9C0006"}),
        "note": wb.add_format({"italic": True, "font_color": "#595959"}),
        "total_label": wb.add_format({"bold": True, "top": 1}),
        "total_money": wb.add_format({"bold": True, "top": 1, "num_format": MONEY}),
    }


def _summary(wb, f, outcome, zone) -> None:
    ws = wb.add_worksheet(SUMMARY)
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 48)
    ws.set_column(2, 7, 16)
    ws.write_string(0, 0, "处理结果", f["title"])
    rows: list[tuple[str, object]] = [
        ("状态", STATUS_LABEL[outcome.status]),
        ("操作类型", outcome.action or "（无法识别）"),
        ("保单号", "、".join(p.policy_no for p in outcome.policies if p.policy_no) or "—"),
    ]
    if outcome.cancelled:
        rows.append(("撤销的保单", "、".join(outcome.cancelled)))
    for label in ("旅行团号", "方案", "保险期间", "人数"):
        value = outcome.summary.get(label) or _from_policies(outcome, label, zone)
        rows.append((label, int(value) if label == "人数" and str(value).isdigit() else value))
    if outcome.premium_before is not None:
        rows.append(("原保单保费", yuan(outcome.premium_before)))
    rows.append(("保费合计", yuan(premium_total(outcome))))
    for label, value in outcome.summary.items():
        if label not in {"旅行团号", "方案", "保险期间", "人数", "保费合计"}:
            rows.append((label, value))
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
    r = 2
    for label, value in rows:
        ws.write_string(r, 0, label, f["label"])
        fmt = f["value"]
        if label == "状态":
            fmt = f["ok"] if outcome.status in ("success", "quote", "duplicate") else f["bad"]
        if isinstance(value, str):
            ws.write_string(r, 1, value or "—", fmt)
        else:
            ws.write_number(r, 1, value, f["money_left"] if "保费" in label else f["num_left"])
        r += 1
    if outcome.status == "duplicate":
        ws.write_string(r, 0, "说明", f["label"])
        ws.write_string(r, 1, "同一文件已处理过，本次未做任何变更；以下为首次处理的结果", f["value"])
        r += 1
    for note in outcome.notes:
        ws.write_string(r, 1, note)
        r += 1

    if outcome.policies and not outcome.tables:
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
            ws.write_string(r, 7, p.status if p.policy_no else "试算", f["value"])

    if outcome.problems:
        r += 2
        heads = ["类型", "工作表", "行", "列", "说明"]
        for c, h in enumerate(heads):
            ws.write_string(r, c, h, f["head"])
        for p in outcome.errors + outcome.warnings:
            r += 1
            ws.write_string(r, 0, "提示" if p.warning else "错误", f["warn"] if p.warning else f["red"])
            ws.write_string(r, 1, p.sheet or "—")
            if p.row is not None:
                ws.write_number(r, 2, p.row)
            ws.write_string(r, 3, p.column or "—")
            ws.write_string(r, 4, p.message)
        ws.set_column(4, 4, 90)


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
            kind = table.kinds[c]
            if value is None or value == "":
                continue
            if kind == "money":
                ws.write_number(i, c, yuan(value), f["money_plain"])
            elif kind == "int":
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
            if table.kinds[c] == "money":
                ws.write_number(last, c, yuan(value), f["total_money"])
            elif isinstance(value, int):
                ws.write_number(last, c, value, f["total_label"])
            else:
                ws.write_string(last, c, str(value), f["total_label"])
    for c, w in enumerate(widths):
        ws.set_column(c, c, max(w, 12 if table.kinds[c] == "money" else 6), cell[table.kinds[c]])
    ws.freeze_panes(top + 1, 0)
    ws.autofilter(top, 0, top + len(table.rows), len(table.headers) - 1)


def _from_policies(outcome, label: str, zone) -> str:
    if not outcome.policies:
        return "—"
    p = outcome.policies[0]
    return {
        "旅行团号": p.tour_group,
        "方案": f"{p.plan_code} {p.plan_name}",
        "保险期间": f"{show_hour(p.start, zone)} 至 {show_end(p.end, zone)}",
        "人数": sum(x.insured_count for x in outcome.policies),
    }[label]


def premium_total(outcome) -> int:
    """Σ premium of the policies not cancelled (the quoted amount for 试算)."""
    return sum(p.premium_fen for p in outcome.policies if p.status != "已撤单")


def _echo(wb, f, name: str, sheet: Sheet, problems: list[Problem], outcome) -> None:
    ws = wb.add_worksheet(name)
    is_roster = sheet.name == outcome.roster_sheet
    width = sheet.width
    cell_problems: dict[tuple[int, int], list[Problem]] = defaultdict(list)
    row_messages: dict[int, list[str]] = defaultdict(list)
    for p in problems:
        if p.row is None:
            continue
        if p.col_index is not None:
            cell_problems[(p.row - 1, p.col_index)].append(p)
        prefix = "提示：" if p.warning else ""
        row_messages[p.row - 1].append(f"{prefix}{p.column}：{p.message}" if p.column else prefix + p.message)

    widths = [8.0] * width
    for r, row in enumerate(sheet.rows):
        for c, value in enumerate(row):
            found = cell_problems.get((r, c))
            fmt = None
            if found:
                fmt = f["warn"] if all(p.warning for p in found) else f["red"]
                if isinstance(value, date):
                    fmt = f["red_date"]
            write_value(ws, r, c, value, fmt, f["date"], f["datetime"])
            if found:
                ws.write_comment(r, c, "\n".join(p.message for p in found), {"x_scale": 2.5, "y_scale": 2})
            if r < 60 and isinstance(value, str) and c < width:
                widths[c] = max(widths[c], min(text_width(value), 40))
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)

    if is_roster and outcome.roster_header is not None:
        header = outcome.roster_header
        premium_col, error_col = _extra_columns(sheet, header, width)
        ws.write_string(header, premium_col, "保费", f["head"])
        ws.write_string(header, error_col, "错误说明", f["head"])
        ws.set_column(premium_col, premium_col, 12)
        ws.set_column(error_col, error_col, 60)
        for r, fen in outcome.row_premiums.items():
            ws.write_number(r, premium_col, yuan(fen), f["money_plain"])
        for r, messages in row_messages.items():
            if r > header:
                ws.write_string(r, error_col, "；".join(messages), f["wrap"])
        ws.freeze_panes(header + 1, 0)
    elif row_messages:
        error_col = width
        ws.write_string(0, error_col, "错误说明", f["head"])
        ws.set_column(error_col, error_col, 60)
        for r, messages in row_messages.items():
            ws.write_string(r, error_col, "；".join(messages), f["wrap"])


def _extra_columns(sheet: Sheet, header: int, width: int) -> tuple[int, int]:
    """Reuse the roster's own 保费 / 错误说明 columns if it has them, else add them on the right."""
    heads = {str(v).strip(): c for c, v in enumerate(sheet.rows[header]) if isinstance(v, str)}
    premium_col = heads.get("保费")
    error_col = heads.get("错误说明")
    nxt = width
    if premium_col is None:
        premium_col, nxt = nxt, nxt + 1
    if error_col is None:
        error_col = nxt
    return premium_col, error_col


def write_tables(path: Path, tables: list) -> None:
    """A workbook of tables only (业务明细_<YYYY-MM>.xlsx): each on its own sheet, header frozen,
    filters on, money as numbers, a totals row."""
    wb = new_workbook(path)
    f = _formats(wb)
    used: set[str] = set()
    for table in tables:
        _table(wb, f, _sheet_name(table.name, used), table)
    wb.close()
