"""A statement (对账单) as the three files an agency gets: a workbook set up to print on A4, its
JSON twin, and a print-ready HTML view. Written from values alone (no ledger): safe in a worker."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from pathlib import Path

from ..domain.dates import show_end, show_hour, show_second
from ..domain.money import Amount, yuan, yuan_display, yuan_text
from ..domain.settlement import Statement, capitals, month_text
from .atomic import replacing, write_bytes
from .xlsx import MONEY, new_workbook

COPIES = ("旅行社留存", "财务留存", "团险留存")
HEADERS = ["序号", "保单号", "旅行团号", "投保时间", "生效时间", "终止时间", "人数", "天数", "保费", "经办人"]
WIDTHS = [5, 19, 13, 19, 16, 16, 6, 6, 12, 10]


def statement_names(statement_no: str) -> tuple[str, str, str]:
    base = f"对账单_{statement_no}"
    return base + ".xlsx", base + ".json", base + ".html"


def write_statement(
    out_dir: Path,
    statement: Statement,
    policies: list,
    agency_name: str,
    insurer: str,
    zone: tzinfo,
    now: datetime,
    env=None,
) -> list[Path]:
    """All three files, each whole (temporary name, then rename); the JSON twin last. The agency is named as
    the statement keeps it (`agency_name`: for a statement made before names were kept)."""
    agency_name = statement.agency_name or agency_name
    book, twin, page = (out_dir / n for n in statement_names(statement.statement_no))
    with replacing(book) as tmp:
        _workbook(tmp, statement, policies, agency_name, insurer, zone, now)
    if env is not None:
        write_bytes(page, render_statement(env, statement, policies, agency_name, insurer, zone, now))
    write_bytes(twin, statement_json(statement, policies, agency_name, zone, now))
    return [book, page, twin] if env is not None else [book, twin]


def _info(s: Statement, agency_name: str, zone: tzinfo) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [
        ("对账单号", s.statement_no),
        ("结账月份", month_text(s.month)),
        ("机构", f"{s.agency} {agency_name}"),
        ("保险方案", f"{s.plan_code} {s.plan_name}"),
        ("生成时间", show_second(s.created_at, zone)),
        ("对账状态", s.status),
    ]
    if s.supplements:
        rows.append(("补充", f"本月已结账后补录的业务（首张对账单 {s.supplements}），单独结算"))
    if s.channel:
        rows += [
            ("业务渠道", s.channel),
            ("确认人", s.confirmed_by),
            ("确认时间", show_second(s.confirmed_at, zone) if s.confirmed_at else ""),
        ]
    if s.paid_fen is not None:
        rows += [
            ("缴费金额", Amount(s.paid_fen)),
            ("缴费凭证号", s.payment_ref),
            ("到账日期", s.paid_on.isoformat() if s.paid_on else ""),
        ]
    if s.invoice_no:
        rows += [("发票号", s.invoice_no), ("开票日期", s.invoiced_on.isoformat() if s.invoiced_on else "")]
    return rows


def _policy_cells(i: int, p, zone: tzinfo) -> list:
    return [
        i,
        p.policy_no,
        p.tour_group,
        show_second(p.issued_at, zone),
        show_hour(p.start, zone),
        show_end(p.end, zone),
        p.insured_count,
        p.days,
        p.premium_fen,
        p.handler,
    ]


def _workbook(
    path: Path, s: Statement, policies: list, agency_name: str, insurer: str, zone: tzinfo, now: datetime
) -> None:
    wb = new_workbook(path, "statement", statement=s.statement_no)
    f = {
        "title": wb.add_format({"bold": True, "font_size": 16, "align": "center"}),
        "sub": wb.add_format({"align": "center", "font_color": "#404040"}),
        "label": wb.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1}),
        "value": wb.add_format({"border": 1}),
        "value_money": wb.add_format({"border": 1, "num_format": MONEY, "align": "left"}),
        "head": wb.add_format(
            {
                "bold": True,
                "bg_color": "#DDEBF7",
                "border": 1,
                "align": "center",
                "text_wrap": True,
                "valign": "vcenter",
            }
        ),
        "cell": wb.add_format({"border": 1, "font_size": 9}),
        "int": wb.add_format({"border": 1, "font_size": 9, "align": "center"}),
        "money": wb.add_format({"border": 1, "font_size": 9, "num_format": MONEY}),
        "total": wb.add_format({"bold": True, "border": 1}),
        "total_money": wb.add_format({"bold": True, "border": 1, "num_format": MONEY}),
        "capitals": wb.add_format({"bold": True, "font_size": 11}),
        "copy": wb.add_format({"bold": True, "align": "center", "border": 1, "bg_color": "#F2F2F2"}),
        "sign": wb.add_format({"left": 1, "right": 1, "valign": "bottom"}),
        "sign_end": wb.add_format({"left": 1, "right": 1, "bottom": 1, "valign": "bottom"}),
    }
    ws = wb.add_worksheet("对账单")
    last_col = len(HEADERS) - 1
    for c, w in enumerate(WIDTHS):
        ws.set_column(c, c, w)
    ws.merge_range(0, 0, 0, last_col, f"{insurer} 旅游险保费{s.title}", f["title"])
    ws.merge_range(1, 0, 1, last_col, "（本对账单一式三份：旅行社留存、财务留存、团险留存）", f["sub"])
    r = 3
    info = _info(s, agency_name, zone)
    for i in range(0, len(info), 2):  # two label/value pairs a row
        for j, (label, value) in enumerate(info[i : i + 2]):
            c = j * 5
            ws.merge_range(r, c, r, c + 1, label, f["label"])
            if isinstance(value, Amount):
                ws.merge_range(r, c + 2, r, c + 4, "", f["value_money"])
                ws.write_number(r, c + 2, yuan(value.fen), f["value_money"])
            else:
                ws.merge_range(r, c + 2, r, c + 4, value, f["value"])
        r += 1
    r += 1
    header_row = r
    for c, h in enumerate(HEADERS):
        ws.write_string(r, c, h, f["head"])
    for i, p in enumerate(policies, 1):
        r += 1
        for c, v in enumerate(_policy_cells(i, p, zone)):
            if c == 8:
                ws.write_number(r, c, yuan(v), f["money"])
            elif isinstance(v, int):
                ws.write_number(r, c, v, f["int"])
            else:
                ws.write_string(r, c, v, f["cell"])
    r += 1
    ws.merge_range(r, 0, r, 5, f"合计（{s.policy_count} 张保单）", f["total"])
    ws.write_number(r, 6, s.insured_count, f["total"])
    ws.write_blank(r, 7, None, f["total"])
    ws.write_number(r, 8, yuan(s.total_fen), f["total_money"])
    ws.write_blank(r, 9, None, f["total"])
    r += 2
    ws.write_string(r, 0, f"合计金额（大写）：人民币{capitals(s.total_fen)}", f["capitals"])
    r += 1
    ws.write_string(r, 0, f"合计金额（小写）：¥{yuan_display(s.total_fen)}", f["capitals"])
    r += 2
    ws.write_string(
        r, 0, "以上保单均已生效，双方核对无误后签字确认；旅行社按本对账单金额全额缴纳保费，保险公司据此开具保费发票。"
    )
    r += 2
    spans = ((0, 2), (3, 6), (7, 9))
    lines = ("旅行社经办人（签字）：", "保险公司经办人（签字）：", "日期：    年    月    日")
    for (c1, c2), copy in zip(spans, COPIES, strict=False):
        ws.merge_range(r, c1, r, c2, copy, f["copy"])
        for k, line in enumerate(lines, 1):
            ws.set_row(r + k, 30)
            ws.merge_range(r + k, c1, r + k, c2, line, f["sign_end"] if k == len(lines) else f["sign"])
    end_row = r + len(lines)
    ws.set_paper(9)  # A4
    ws.set_portrait()
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.fit_to_pages(1, 0)  # fit to width, as many pages down as needed
    ws.repeat_rows(header_row)
    ws.center_horizontally()
    ws.print_area(0, 0, end_row, last_col)
    ws.set_header(f"&L{s.statement_no}&R{insurer}")
    ws.set_footer("&C第 &P 页，共 &N 页")
    ws.freeze_panes(header_row + 1, 0)
    wb.close()


def statement_json(s: Statement, policies: list, agency_name: str, zone: tzinfo, now: datetime) -> bytes:
    data = {
        "statement_no": s.statement_no,
        "title": s.title,
        "supplements": s.supplements or None,
        "agency": s.agency,
        "agency_name": agency_name,
        "plan": s.plan_code,
        "plan_name": s.plan_name,
        "month": month_text(s.month),
        "created_at": s.created_at.astimezone(zone).isoformat(),
        "status": s.status,
        "total": yuan_text(s.total_fen),
        "total_in_words": "人民币" + capitals(s.total_fen),
        "policy_count": s.policy_count,
        "insured_count": s.insured_count,
        "channel": s.channel or None,
        "confirmed_by": s.confirmed_by or None,
        "confirmed_at": s.confirmed_at.astimezone(zone).isoformat() if s.confirmed_at else None,
        "paid": yuan_text(s.paid_fen) if s.paid_fen is not None else None,
        "payment_ref": s.payment_ref or None,
        "paid_on": s.paid_on.isoformat() if s.paid_on else None,
        "invoice_no": s.invoice_no or None,
        "invoiced_on": s.invoiced_on.isoformat() if s.invoiced_on else None,
        "policies": [
            {
                "policy_no": p.policy_no,
                "tour_group": p.tour_group,
                "issued_at": p.issued_at.astimezone(zone).isoformat(),
                "start": p.start.astimezone(zone).isoformat(),
                "end": p.end.astimezone(zone).isoformat(),
                "insured_count": p.insured_count,
                "days": p.days,
                "premium": yuan_text(p.premium_fen),
                "handler": p.handler,
            }
            for p in policies
        ],
        "written_at": now.astimezone(zone).isoformat(timespec="seconds"),
    }
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def render_statement(
    env, s: Statement, policies: list, agency_name: str, insurer: str, zone: tzinfo, now: datetime
) -> bytes:
    rows = [_policy_cells(i, p, zone) for i, p in enumerate(policies, 1)]
    info = [(label, yuan_display(v.fen) if isinstance(v, Amount) else v) for label, v in _info(s, agency_name, zone)]
    return (
        env.get_template("statement.html.j2")
        .render(
            s=s,
            info=info,
            headers=HEADERS,
            rows=rows,
            insurer=insurer,
            total=yuan_display(s.total_fen),
            in_words=capitals(s.total_fen),
            copies=COPIES,
            printed=show_second(now, zone),
        )
        .encode("utf-8")
    )
