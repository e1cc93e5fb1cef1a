"""The month-end summary for insurer staff (outbox/_admin/月结汇总_<YYYY-MM>.xlsx).

It is also their next request: its 申请 sheet says 操作类型 对账确认 and its 对账确认 sheet lists every
statement awaiting confirmation with a 业务渠道 dropdown and an empty 确认人 column. Staff fill those
two columns in Excel and drop the same workbook into workbooks/_admin/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path

from ..domain.dates import show_second
from ..domain.money import yuan
from ..domain.settlement import Receipt, Statement, month_text
from .xlsx import MONEY, PORTRAIT_WIDTH, fit_row, new_workbook, print_setup, text_width

CONFIRM_SHEET = "对账确认"
CONFIRM_HEADERS = [
    "序号",
    "对账单号",
    "机构代码",
    "机构名称",
    "方案",
    "结账月份",
    "保单数",
    "金额",
    "业务渠道",
    "确认人",
]


@dataclass
class Line:
    code: str
    name: str
    policies: int = 0
    insured: int = 0
    premium_fen: int = 0
    cancelled: int = 0


@dataclass
class WaitingPlan:
    agency: str
    agency_name: str
    plan: str
    count: int
    reason: str


@dataclass
class MonthSummary:
    month: date
    run_at: datetime
    trigger: str
    by_agency: list[Line] = field(default_factory=list)
    by_plan: list[Line] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)  # of this month
    created: set[str] = field(default_factory=set)  # numbers made by this run
    waiting: list[WaitingPlan] = field(default_factory=list)
    to_confirm: list[Statement] = field(default_factory=list)  # every statement 待确认, any month
    names: dict[str, str] = field(default_factory=dict)  # agency code → name
    receipts: list[tuple[Receipt, str]] = field(default_factory=list)  # receipts to look at, and why
    performance: list = field(default_factory=list)  # ledger.settlement.Performance rows
    problems: list[str] = field(default_factory=list)  # what `watcher check` found
    kept_aside: str = ""  # the name the earlier summary, filled in by staff, was kept under (not overwritten)


def detail_name(month: date) -> str:
    """An agency's monthly business detail sheet."""
    return f"业务明细_{month_text(month)}.xlsx"


def summary_name(month: date) -> str:
    return f"月结汇总_{month_text(month)}.xlsx"


def write_summary(path: Path, s: MonthSummary, channels: tuple[str, ...], zone: tzinfo) -> None:
    wb = new_workbook(path, "summary", month=month_text(s.month))
    f = {
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "label": wb.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1}),
        "value": wb.add_format({"border": 1}),
        "money_v": wb.add_format({"border": 1, "num_format": MONEY, "align": "left"}),
        "head": wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1}),
        "money": wb.add_format({"num_format": MONEY}),
        "total": wb.add_format({"bold": True, "top": 1}),
        "total_money": wb.add_format({"bold": True, "top": 1, "num_format": MONEY}),
        "alarm": wb.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE", "border": 1}),
        "alarm_wrap": wb.add_format({"font_color": "#9C0006", "bg_color": "#FFC7CE", "border": 1, "text_wrap": True}),
        "ok": wb.add_format({"bold": True, "font_color": "#006100", "bg_color": "#C6EFCE", "border": 1}),
        "input": wb.add_format({"bg_color": "#FFFFE0", "border": 1}),
        "note": wb.add_format({"italic": True, "font_color": "#595959"}),
        "wrap": wb.add_format({"border": 1, "text_wrap": True, "valign": "top"}),
    }
    overview = wb.add_worksheet("汇总")
    confirm = wb.add_worksheet(CONFIRM_SHEET)
    agencies = _lines(wb, f, "按机构", ["机构代码", "机构名称", "保单数", "人数", "保费", "已撤单"], s.by_agency)
    _lines(wb, f, "按方案", ["方案代码", "方案名称", "保单数", "人数", "保费", "已撤单"], s.by_plan)
    _grid(
        wb,
        f,
        "对账单",
        [
            "对账单号",
            "类型",
            "机构代码",
            "机构名称",
            "方案",
            "保单数",
            "人数",
            "金额",
            "对账状态",
            "本次生成",
            "业务渠道",
            "确认人",
        ],
        [
            [
                x.statement_no,
                x.title + (f"（补 {x.supplements}）" if x.supplements else ""),
                x.agency,
                x.agency_name or s.names.get(x.agency, ""),  # as on the statement itself
                f"{x.plan_code} {x.plan_name}",
                x.policy_count,
                x.insured_count,
                ("money", x.total_fen),
                x.status,
                "是" if x.statement_no in s.created else "",
                x.channel,
                x.confirmed_by,
            ]
            for x in s.statements
        ],
    )
    _grid(
        wb,
        f,
        "等待结账",
        ["机构代码", "机构名称", "方案", "未生效保单数", "原因"],
        [[w.agency, w.agency_name, w.plan, w.count, w.reason] for w in s.waiting],
    )
    _grid(
        wb,
        f,
        "预交保费",
        ["收据号", "机构代码", "机构名称", "金额", "收取日期", "有效期至", "提醒"],
        [
            [
                r.receipt_no,
                r.agency,
                s.names.get(r.agency, ""),
                ("money", r.amount_fen),
                r.received_on.isoformat(),
                r.valid_until.isoformat(),
                why,
            ]
            for r, why in s.receipts
        ],
    )
    _grid(
        wb,
        f,
        "业绩",
        ["业绩月份", "营销员工号", "营销员姓名", "机构代码", "方案代码", "对账单数", "保单数", "人数", "保费"],
        [
            [
                p.month,
                p.sales_id,
                p.sales_name,
                p.agency,
                p.plan_code,
                p.statements,
                p.policies,
                p.insured,
                ("money", p.premium_fen),
            ]
            for p in s.performance
        ],
        note="按开票日期所在月份统计，只计已开票的对账单",
    )
    _overview(wb, overview, f, s, zone, agencies)
    _confirm(wb, confirm, f, s, channels)
    apply = wb.add_worksheet("申请")
    apply.set_column(0, 0, 14)
    apply.set_column(1, 1, 70)
    for r, (label, value) in enumerate(
        (
            ("操作类型", "对账确认"),
            ("结账月份", month_text(s.month)),
            (
                "说明",
                "在“对账确认”表中为要确认的对账单选择业务渠道、填写确认人，"
                "保存后把本文件放入 workbooks/_admin/；两列都空着的行不处理。"
                "业务渠道一经确认不能更改。"
                f"表中是月结运行时（{show_second(s.run_at, zone)}）待确认的对账单，此后确认的不会从本表消失："
                "可在本文件中接着填写其余的再次放入，已确认且业务渠道相同的行会跳过",
            ),
        )
    ):
        apply.write_string(r, 0, label, f["label"])
        apply.write_string(r, 1, value, f["wrap"])
        fit_row(apply, r, [(value, 70)])
    print_setup(apply)
    overview.activate()
    wb.close()


def _overview(wb, ws, f, s: MonthSummary, zone: tzinfo, agencies: int) -> None:
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 60)
    ws.write_string(0, 0, f"{month_text(s.month)} 月结汇总", f["title"])
    total_fen = sum(x.premium_fen for x in s.by_agency)
    issued = [x for x in s.statements if x.statement_no in s.created]
    rows: list[tuple[str, object]] = [
        ("结账月份", month_text(s.month)),
        ("运行时间", show_second(s.run_at, zone)),
        ("触发方式", s.trigger),
        ("机构数", len(s.by_agency)),
        ("有效保单数", sum(x.policies for x in s.by_agency)),
        ("被保险人数", sum(x.insured for x in s.by_agency)),
        ("保费合计", ("money", total_fen)),
        ("本月对账单数", len(s.statements)),
        ("本次生成对账单", len(issued)),
        ("其中补充对账单", sum(1 for x in issued if x.supplements)),
        ("本次生成金额", ("money", sum(x.total_fen for x in issued))),
        ("等待结账（机构×方案）", len(s.waiting)),
        ("待确认对账单（全部月份）", len(s.to_confirm)),
        ("预交保费提醒", len(s.receipts)),
    ]
    if s.kept_aside:
        rows.append(("上次汇总的填写", f"已另存为 {s.kept_aside}，未被本次覆盖：未提交的行请在其中或本表中填写后放入"))
    r = 2
    for label, value in rows:
        ws.write_string(r, 0, label, f["label"])
        if isinstance(value, tuple):
            ws.write_number(r, 1, yuan(value[1]), f["money_v"])
        elif isinstance(value, int):
            ws.write_number(r, 1, value, f["value"])
        else:
            ws.write_string(r, 1, value, f["value"])
        r += 1
    ws.write_string(r, 0, "账本核对", f["label"])
    if s.problems:
        ws.write_string(r, 1, f"发现 {len(s.problems)} 处不一致，请立即处理（watcher check 可重新核对）", f["alarm"])
        for line in s.problems[:200]:
            r += 1
            ws.write_string(r, 1, line, f["alarm_wrap"])
            fit_row(ws, r, [(line, 60)])
    else:
        ws.write_string(r, 1, "一致：对账单金额、保单归属、缴费金额与流水重放全部相符", f["ok"])
    r += 2
    for w in s.waiting[:50]:
        ws.write_string(r, 0, f"等待：{w.agency} {w.plan}", f["label"])
        ws.write_string(r, 1, w.reason, f["wrap"])
        fit_row(ws, r, [(w.reason, 60)])
        r += 1
    if agencies:
        # Below the figures, as wide as them: labels, values and the chart print on one page, in that order.
        chart = wb.add_chart({"type": "column"})
        chart.add_series(
            {
                "name": "保费（元）",
                "categories": ["按机构", 1, 0, agencies, 0],
                "values": ["按机构", 1, 4, agencies, 4],
                "fill": {"color": "#1F4E79"},
            }
        )
        chart.set_title({"name": f"{month_text(s.month)} 各机构保费"})
        chart.set_legend({"none": True})
        chart.set_y_axis({"num_format": "#,##0"})
        chart.set_size({"width": 580, "height": 300})
        ws.insert_chart(r + 1, 0, chart)
    print_setup(ws)


def _confirm(wb, ws, f, s: MonthSummary, channels: tuple[str, ...]) -> None:
    widths = [6, 18, 10, 28, 22, 9, 7, 13, 12, 10]
    for c, h in enumerate(CONFIRM_HEADERS):
        ws.write_string(0, c, h, f["head"])
        ws.set_column(c, c, widths[c])
    for i, x in enumerate(s.to_confirm, 1):
        values = [
            i,
            x.statement_no,
            x.agency,
            x.agency_name or s.names.get(x.agency, ""),
            f"{x.plan_code} {x.plan_name}",
            month_text(x.month),
            x.policy_count,
        ]
        for c, v in enumerate(values):
            if isinstance(v, int):
                ws.write_number(i, c, v)
            else:
                ws.write_string(i, c, v)
        ws.write_number(i, 7, yuan(x.total_fen), f["money"])
        ws.write_blank(i, 8, None, f["input"])
        ws.write_blank(i, 9, None, f["input"])
    last = max(len(s.to_confirm), 1)
    ws.data_validation(
        1,
        8,
        last,
        8,
        {
            "validate": "list",
            "source": list(channels),
            "error_title": "业务渠道",
            "error_message": "请从下拉框选择业务渠道",
            "input_title": "业务渠道",
            "input_message": "一经确认不能更改",
        },
    )
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, last, len(CONFIRM_HEADERS) - 1)
    print_setup(ws, landscape=sum(widths) > PORTRAIT_WIDTH, header_row=0)


def _lines(wb, f, name: str, headers: list[str], lines: list[Line]) -> int:
    rows = [[x.code, x.name, x.policies, x.insured, ("money", x.premium_fen), x.cancelled] for x in lines]
    totals = {
        2: sum(x.policies for x in lines),
        3: sum(x.insured for x in lines),
        4: ("money", sum(x.premium_fen for x in lines)),
        5: sum(x.cancelled for x in lines),
    }
    _grid(wb, f, name, headers, rows, totals=totals, note="按投保时间统计；保单数、人数、保费不含已撤单")
    return len(lines)


def _grid(
    wb, f, name: str, headers: list[str], rows: list[list], *, totals: dict | None = None, note: str = ""
) -> None:
    ws = wb.add_worksheet(name)
    widths = [text_width(h) for h in headers]
    for c, h in enumerate(headers):
        ws.write_string(0, c, h, f["head"])
    for r, row in enumerate(rows, 1):
        for c, v in enumerate(row):
            if isinstance(v, tuple):
                ws.write_number(r, c, yuan(v[1]), f["money"])
                widths[c] = max(widths[c], 12)
            elif isinstance(v, int):
                ws.write_number(r, c, v)
            elif v:
                ws.write_string(r, c, str(v))
                if r < 200:
                    widths[c] = max(widths[c], min(text_width(str(v)), 60))
    last = len(rows)
    if totals:
        last += 1
        ws.write_string(last, 0, "合计", f["total"])
        for c, v in totals.items():
            if isinstance(v, tuple):
                ws.write_number(last, c, yuan(v[1]), f["total_money"])
            else:
                ws.write_number(last, c, v, f["total"])
    if note:
        ws.write_string(last + 2, 0, note, f["note"])
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(rows), 1), len(headers) - 1)
    print_setup(ws, landscape=sum(widths) > PORTRAIT_WIDTH, header_row=0)
