"""Blank request workbooks (`watcher template KIND`): what a clerk wants to receive.

Chinese headers, an instruction sheet (填写说明), dropdowns, ID columns formatted as text so Excel
cannot turn them into numbers, one example row marked 示例, widths set and the header frozen.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..domain.idcard import ID_TYPES
from ..domain.plans import REGIONS
from ..kinds import BY_ACTION
from ..kinds.forms import TABLES, Col, Form, for_desk
from ..settings import DEFAULT_CHANNELS
from .xlsx import PORTRAIT_WIDTH, TEMPLATE_ROWS, new_workbook, print_setup, text_width

ROWS = TEMPLATE_ROWS  # rows prepared with formats and dropdowns

# Lists on the hidden 选项 sheet that dropdowns read (Excel limits inline lists to 255 characters).
OPTION_RANGES = {"证件类型": f"=选项!$A$2:$A${len(ID_TYPES) + 1}"}


def write_template(
    kind: str, path: Path, plans: list[tuple[str, str, str]], channels: tuple[str, ...] = DEFAULT_CHANNELS
) -> None:
    """The blank workbook of `kind`, as its declaration (kinds.KINDS, kinds/forms.py) says. `plans`: (code,
    name, region) of the plans in force, for the 方案代码 dropdowns; `channels`: 业务渠道."""
    if kind not in BY_ACTION:
        raise ValueError(kind)
    form = BY_ACTION[kind].form
    wb = new_workbook(path, "template", kind=kind)
    f = {
        "head": wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center"}),
        "label": wb.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1}),
        "input": wb.add_format({"border": 1, "bg_color": "#FFFFE0", "num_format": "@"}),
        "input_dt": wb.add_format({"border": 1, "bg_color": "#FFFFE0", "num_format": "yyyy-mm-dd hh:mm"}),
        "input_date": wb.add_format({"border": 1, "bg_color": "#FFFFE0", "num_format": "yyyy-mm-dd"}),
        "note": wb.add_format({"font_color": "#595959", "text_wrap": True}),
        "text": wb.add_format({"num_format": "@"}),
        "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
        "example": wb.add_format({"font_color": "#808080", "italic": True, "num_format": "@"}),
        "example_date": wb.add_format({"font_color": "#808080", "italic": True, "num_format": "yyyy-mm-dd"}),
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
    }
    _apply(wb, f, kind, form, plans)
    for name in form.tables:
        _table(wb, f, name, for_desk(TABLES[name], {"channels": channels}))
    _instructions(wb, f, kind, form.help)
    _options(wb, plans)
    wb.close()


def _apply(wb, f, kind: str, form: Form, plans) -> None:
    ws = wb.add_worksheet("申请")
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 30)
    ws.set_column(2, 2, 50)
    ws.write_string(0, 0, "项目", f["head"])
    ws.write_string(0, 1, "内容", f["head"])
    ws.write_string(0, 2, "说明", f["head"])
    ws.write_string(1, 0, "操作类型", f["label"])
    ws.write_string(1, 1, kind, f["input"])
    actions = list(form.actions) if kind in form.actions else [kind]
    ws.data_validation(1, 1, 1, 1, {"validate": "list", "source": actions})
    ws.write_string(1, 2, "不要修改" if len(actions) == 1 else "投保：出单；试算：只算保费，不出单", f["note"])
    for i, field in enumerate(form.fields, start=2):
        ws.write_string(i, 0, field.label, f["label"])
        ws.write_blank(i, 1, None, f[{"datetime": "input_dt", "date": "input_date"}.get(field.format, "input")])
        ws.write_string(i, 2, field.note, f["note"])
        choices = field.choices
        if choices == "plans_or_all":
            codes = ("全部", *(p[0] for p in plans))
            choices = codes if len(",".join(codes)) < 250 else ()
        if isinstance(choices, tuple) and choices:
            ws.data_validation(i, 1, i, 1, {"validate": "list", "source": list(choices)})
        elif choices == "plans":
            if plans:
                ws.data_validation(i, 1, i, 1, {"validate": "list", "source": f"=选项!$D$2:$D${len(plans) + 1}"})
            else:
                ws.data_validation(
                    i,
                    1,
                    i,
                    1,
                    {"validate": "any", "input_title": "方案代码", "input_message": "填写保险公司提供的方案代码"},
                )
    ws.freeze_panes(1, 0)
    print_setup(ws)
    ws.activate()


def _table(wb, f, name: str, cols: tuple[Col, ...]) -> None:
    ws = wb.add_worksheet(name)
    for c, col in enumerate(cols):
        ws.write_string(0, c, col.name, f["head"])
        cell_fmt = f["text"] if col.text else f["date"] if col.date else None
        ws.set_column(c, c, max(col.width, text_width(col.name)), cell_fmt)
        if col.note:
            ws.write_comment(0, c, col.note)
        example = col.example
        if col.date and isinstance(example, str) and example:
            ws.write_datetime(1, c, datetime.fromisoformat(example), f["example_date"])
        elif isinstance(example, str):
            ws.write_string(1, c, example, f["example"])
        else:
            ws.write_number(1, c, example, f["example"])
        if col.choices:
            source = OPTION_RANGES[col.choices] if isinstance(col.choices, str) else list(col.choices)
            ws.data_validation(
                1,
                c,
                ROWS,
                c,
                {
                    "validate": "list",
                    "source": source,
                    "error_title": col.name,
                    "error_message": f"请从下拉框选择{col.name}",
                },
            )
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, 0, len(cols) - 1)
    print_setup(ws, landscape=sum(max(col.width, text_width(col.name)) for col in cols) > PORTRAIT_WIDTH, header_row=0)


def _options(wb, plans) -> None:
    """The lists the dropdowns read; hidden, so clerks are not confused by it."""
    ws = wb.add_worksheet("选项")
    for c, (head, values) in enumerate(
        (
            ("证件类型", ID_TYPES),
            ("性别", ("男", "女")),
            ("区域", REGIONS),
            ("方案代码", [p[0] for p in plans]),
            ("方案名称", [p[1] for p in plans]),
            ("方案区域", [p[2] for p in plans]),
        )
    ):
        ws.write_string(0, c, head)
        for r, value in enumerate(values, start=1):
            ws.write_string(r, c, value)
        ws.set_column(c, c, 20)
    ws.hide()


def _instructions(wb, f, kind: str, lines: tuple[str, ...]) -> None:
    ws = wb.add_worksheet("填写说明")
    ws.set_column(0, 0, 110, f["wrap"])
    ws.write_string(0, 0, f"{kind} 申请填写说明", f["title"])
    for r, line in enumerate(lines, start=2):
        ws.write_string(r, 0, line)
    print_setup(ws)
