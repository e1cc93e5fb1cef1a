"""Blank request workbooks (`watcher template KIND`): what a clerk wants to receive.

Chinese headers, an instruction sheet (填写说明), dropdowns, ID columns formatted as text so Excel
cannot turn them into numbers, one example row marked 示例, widths set and the header frozen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..domain.idcard import ID_TYPES
from ..domain.plans import REGIONS
from ..settings import DEFAULT_CHANNELS
from .xlsx import PORTRAIT_WIDTH, new_workbook, print_setup, text_width

ROWS = 2000  # rows prepared with formats and dropdowns

POLICY_NO = ("保单号", "", "必填：本机构的保单号（在投保结果或电子保单上）", True, None)
# Lists on the hidden 选项 sheet that dropdowns read (Excel limits inline lists to 255 characters).
OPTION_RANGES = {"证件类型": f"=选项!$A$2:$A${len(ID_TYPES) + 1}"}


@dataclass(frozen=True)
class Col:
    name: str
    width: float
    example: object = ""
    text: bool = False  # formatted as text ('@'): IDs, codes, phone numbers
    choices: tuple[str, ...] | str = ()  # a list, or the name of a range on the 选项 sheet
    date: bool = False
    note: str = ""


SAMPLE_ID = "11010519491231002X"  # GB 11643's own example number, on the sample row: never a real traveller

ROSTER = (
    Col("序号", 6, "示例", note="示例行不会被处理，可保留；其他行可留空"),
    Col("姓名", 14, "王芳", note="必填"),
    Col("证件类型", 24, "身份证", choices="证件类型", note="必填，从下拉框选择"),
    Col("证件号码", 22, SAMPLE_ID, text=True, note="必填；本列为文本格式，请勿改成数字"),
    Col("性别", 6, "女", choices=("男", "女"), note="身份证可不填；其他证件必填"),
    Col("出生日期", 12, "1949-12-31", date=True, note="身份证可不填；其他证件必填，如 1980-01-31"),
    Col("联系电话", 15, "13800138000", text=True),
    Col("备注", 20, ""),
)


# The tables of the admin templates, each with its example row.
TABLES: dict[str, tuple[Col, ...]] = {
    "被保险人名单": ROSTER,
    "方案": (
        Col("序号", 6, "示例"),
        Col("方案代码", 12, "GN-A", text=True),
        Col("方案名称", 24, "境内旅游意外险A款"),
        Col("区域", 8, "境内", choices=REGIONS),
        Col("最低年龄", 9, 0),
        Col("最高年龄", 9, 80),
        Col("最长天数", 9, 30),
    ),
    "费率": (
        Col("序号", 6, "示例"),
        Col("方案代码", 12, "GN-A", text=True),
        Col("天数下限", 9, 1),
        Col("天数上限", 9, 3),
        Col("每人保费", 10, 5),
    ),
    "年龄系数": (
        Col("序号", 6, "示例"),
        Col("方案代码", 12, "GN-A", text=True),
        Col("年龄下限", 9, 66),
        Col("年龄上限", 9, 80),
        Col("系数", 8, 1.5),
    ),
    "保障": (
        Col("序号", 6, "示例"),
        Col("方案代码", 12, "GN-A", text=True),
        Col("保障项目", 24, "意外身故、残疾"),
        Col("保额", 12, 300000),
    ),
    "机构": (
        Col("序号", 6, "示例"),
        Col("机构代码", 10, "GZ001", text=True),
        Col("机构名称", 28, "广州示例国际旅行社有限公司"),
        Col("营业执照号", 22, "91440101MA5XXXXXXX", text=True),
        Col("协议编号", 16, "LY-2026-001", text=True),
        Col("可用方案", 20, "GN-A、GW-B", text=True),
        Col("状态", 8, "合作中", choices=("合作中", "已终止")),
    ),
    "对账确认": (
        Col("序号", 6, "示例"),
        Col("对账单号", 18, "DZ202611000001", text=True),
        Col("业务渠道", 14, DEFAULT_CHANNELS[0], choices=DEFAULT_CHANNELS, note="一经确认不能更改"),
        Col("确认人", 10, "张运营"),
    ),
    "收费": (
        Col("序号", 6, "示例"),
        Col("对账单号", 18, "DZ202611000001", text=True),
        Col("金额", 12, 1234.5, note="须等于对账单合计"),
        Col("缴费凭证号", 18, "PZ20261205001", text=True),
        Col("到账日期", 12, "2026-12-05", date=True),
    ),
    "发票": (
        Col("序号", 6, "示例"),
        Col("对账单号", 18, "DZ202611000001", text=True),
        Col("发票号", 16, "44001234", text=True),
        Col("开票日期", 12, "2026-12-06", date=True),
    ),
    "预交保费": (
        Col("序号", 6, "示例"),
        Col("机构代码", 10, "GZ001", text=True),
        Col("类型", 8, "收取", choices=("收取", "退还")),
        Col("金额", 12, 5000),
        Col("收据号", 16, "SJ2026001", text=True),
        Col("日期", 12, "2026-11-01", date=True),
    ),
}


def samples(table: str, channels: tuple[str, ...] = DEFAULT_CHANNELS) -> dict[str, object]:
    """The example row of a template's table: column → the value the template puts there (业务渠道: the
    first of the desk's channels). A row marked 示例 is skipped only while it holds nothing else."""
    values = {col.name: col.example for col in TABLES.get(table, ()) if col.name != "序号"}
    if "业务渠道" in values:
        values["业务渠道"] = channels[0]
    return values


def write_template(
    kind: str, path: Path, plans: list[tuple[str, str, str]], channels: tuple[str, ...] = DEFAULT_CHANNELS
) -> None:
    """`plans`: (code, name, region) of the plans in force, for the 方案代码 dropdown; `channels`: 业务渠道."""
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
    if kind in ("投保", "试算"):
        _apply(wb, f, kind, _issue_fields(kind), plans)
        _table(wb, f, "被保险人名单", ROSTER)
        _instructions(wb, f, kind, ISSUE_HELP)
    elif kind == "撤单":
        _apply(wb, f, kind, [("保单号", "", "必填：要撤销的保单号（本机构的保单，生效前才可撤单）", True, None)], plans)
        _instructions(wb, f, kind, CANCEL_HELP)
    elif kind == "批改":
        _apply(
            wb,
            f,
            kind,
            [
                POLICY_NO,
                ("生效时间", None, "只填要修改的项目；新的生效时间须为整点且晚于提交时间", False, "datetime"),
                ("天数", "", "新的保险天数", False, None),
                ("行程路线", "", "新的行程路线", False, None),
                ("经办人", "", "新的经办人", False, None),
            ],
            plans,
        )
        _instructions(wb, f, kind, AMEND_HELP)
    elif kind in ("加人", "减人", "换人", "信息变更"):
        _apply(wb, f, kind, [POLICY_NO], plans)
        _table(wb, f, "被保险人名单", ROSTER)
        _instructions(wb, f, kind, ROSTER_HELP[kind] + ENDORSE_HELP)
    elif kind == "保单查询":
        _apply(
            wb,
            f,
            kind,
            [
                ("保单号", "", "以下条件可任选，都不填则列出本机构全部保单", True, None),
                ("旅行团号", "", "", True, None),
                ("投保起期", None, "投保时间的日期，含当天，如 2026-12-01", False, "date"),
                ("投保止期", None, "含当天", False, "date"),
                ("保单状态", "", "全部、有效、已撤单或已到期", False, ("全部", "有效", "已撤单", "已到期")),
            ],
            plans,
        )
        _instructions(wb, f, kind, QUERY_HELP)
    elif kind == "业务明细":
        codes = ("全部", *(p[0] for p in plans))
        _apply(
            wb,
            f,
            kind,
            [
                ("投保起期", None, "必填：投保时间的日期，含当天；通常为一个整月", False, "date"),
                ("投保止期", None, "必填：含当天", False, "date"),
                ("方案代码", "", "全部或某个方案", True, codes if len(",".join(codes)) < 250 else None),
                ("保单状态", "", "全部、有效或已撤单", False, ("全部", "有效", "已撤单")),
                ("结算状态", "", "全部、未结或已结", False, ("全部", "未结", "已结")),
            ],
            plans,
        )
        _instructions(wb, f, kind, DETAIL_HELP)
    elif kind == "补打保单":
        _apply(wb, f, kind, [POLICY_NO], plans)
        _instructions(wb, f, kind, REPRINT_HELP)
    elif kind == "方案":
        _apply(wb, f, kind, [], plans)
        for name in ("方案", "费率", "年龄系数", "保障"):
            _table(wb, f, name, TABLES[name])
        _instructions(wb, f, kind, PLAN_HELP)
    elif kind == "机构":
        _apply(wb, f, kind, [], plans)
        _table(wb, f, "机构", TABLES["机构"])
        _instructions(wb, f, kind, AGENCY_HELP)
    elif kind == "对账单查询":
        _apply(
            wb,
            f,
            kind,
            [
                ("生成起期", None, "对账单生成日期，含当天；不填则不限", False, "date"),
                ("生成止期", None, "含当天；不填则不限", False, "date"),
                (
                    "对账状态",
                    "",
                    "全部、待确认、已确认、已缴费或已开票",
                    False,
                    ("全部", "待确认", "已确认", "已缴费", "已开票"),
                ),
            ],
            plans,
        )
        _instructions(wb, f, kind, STATEMENT_QUERY_HELP)
    elif kind == "结账":
        codes = ("全部", *(p[0] for p in plans))
        _apply(
            wb,
            f,
            kind,
            [
                ("结账月份", "", "必填：YYYY-MM，例如 2026-11；月份结束后才能结账", True, None),
                ("机构代码", "", "某个机构的代码，或“全部”", True, None),
                ("方案代码", "", "某个方案，或“全部”", True, codes if len(",".join(codes)) < 250 else None),
            ],
            plans,
        )
        _instructions(wb, f, kind, SETTLE_HELP)
    elif kind == "对账确认":
        _apply(wb, f, kind, [], plans)
        _table(
            wb,
            f,
            "对账确认",
            (
                *TABLES["对账确认"][:2],
                Col("业务渠道", 14, channels[0], choices=tuple(channels), note="一经确认不能更改"),
                TABLES["对账确认"][3],
            ),
        )
        _instructions(wb, f, kind, CONFIRM_HELP)
    elif kind == "收费登记":
        _apply(wb, f, kind, [], plans)
        _table(wb, f, "收费", TABLES["收费"])
        _instructions(wb, f, kind, PAYMENT_HELP)
    elif kind == "发票登记":
        _apply(wb, f, kind, [], plans)
        _table(wb, f, "发票", TABLES["发票"])
        _instructions(wb, f, kind, INVOICE_HELP)
    elif kind == "预交保费":
        _apply(wb, f, kind, [], plans)
        _table(wb, f, "预交保费", TABLES["预交保费"])
        _instructions(wb, f, kind, DEPOSIT_HELP)
    elif kind == "业绩":
        _apply(wb, f, kind, [("业绩月份", "", "YYYY-MM，例如 2026-12；填“全部”或不填列出所有月份", True, None)], plans)
        _instructions(wb, f, kind, PERFORMANCE_HELP)
    else:
        raise ValueError(kind)
    _options(wb, plans)
    wb.close()


def _issue_fields(kind: str) -> list[tuple]:
    # (label, default, note, text format?, choices)
    return [
        ("旅行团号", "", "必填：本团的团号，查询或修改保单时要用", True, None),
        ("区域", "", "境内或境外，须与方案一致", False, REGIONS),
        ("方案代码", "", "必填：从下拉框选择保险方案", True, "方案代码"),
        ("生效时间", None, "必填：整点，例如 2026-12-01 08:00；须晚于提交时间", False, "datetime"),
        ("天数", "", "必填：保险天数（含首尾两天），例如 3", False, None),
        ("行程路线", "", "例如 广州—桂林—阳朔", False, None),
        ("经办人", "", "旅行社经办人姓名", False, None),
        ("营销员工号", "", "", True, None),
        ("营销员姓名", "", "", False, None),
    ]


def _apply(wb, f, kind: str, fields: list[tuple], plans) -> None:
    ws = wb.add_worksheet("申请")
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 30)
    ws.set_column(2, 2, 50)
    ws.write_string(0, 0, "项目", f["head"])
    ws.write_string(0, 1, "内容", f["head"])
    ws.write_string(0, 2, "说明", f["head"])
    ws.write_string(1, 0, "操作类型", f["label"])
    ws.write_string(1, 1, kind, f["input"])
    actions = ["投保", "试算"] if kind in ("投保", "试算") else [kind]
    ws.data_validation(1, 1, 1, 1, {"validate": "list", "source": actions})
    ws.write_string(1, 2, "不要修改" if len(actions) == 1 else "投保：出单；试算：只算保费，不出单", f["note"])
    for i, (label, _default, note, _text, choices) in enumerate(fields, start=2):
        ws.write_string(i, 0, label, f["label"])
        if choices == "datetime":
            ws.write_blank(i, 1, None, f["input_dt"])
        elif choices == "date":
            ws.write_blank(i, 1, None, f["input_date"])
        else:
            ws.write_blank(i, 1, None, f["input"])
        ws.write_string(i, 2, note, f["note"])
        if isinstance(choices, tuple):
            ws.data_validation(i, 1, i, 1, {"validate": "list", "source": list(choices)})
        elif choices == "方案代码":
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


def _instructions(wb, f, kind: str, lines: list[str]) -> None:
    ws = wb.add_worksheet("填写说明")
    ws.set_column(0, 0, 110, f["wrap"])
    ws.write_string(0, 0, f"{kind} 申请填写说明", f["title"])
    for r, line in enumerate(lines, start=2):
        ws.write_string(r, 0, line)
    print_setup(ws)


COMMON_HELP = [
    "提交：把填好的文件放进本机构的文件夹（workbooks/机构代码/），处理结果会出现在 outbox/机构代码/ 中，文件名为“原文件名_结果.xlsx”。",
    "接受的文件：.xlsx、.xlsm、.xls、.csv。文件复制完整后才会被处理；处理后原文件移走归档。",
    "同一个文件再次提交不会重复出单，会得到“重复提交”的结果。",
    "任何一处有错，整个申请都不生效；结果文件会列出所有错误，出错的单元格标红并附批注。",
]
ISSUE_HELP = [
    "“申请”表：A 列是项目名称，B 列填写内容。操作类型选“投保”出单，选“试算”只计算保费、不出单。",
    "生效时间必须是整点，并且晚于提交处理的时间（不能倒签）。保险期间从生效时间到第“天数”天的 24:00。",
    "“被保险人名单”表：第一行是表头，每人一行。标“示例”的行不会被处理。",
    "证件类型：身份证、护照、港澳居民来往内地通行证、台湾居民来往大陆通行证、外国人永久居留身份证、港澳台居民居住证、其他。",
    "身份证须为 18 位（15 位旧号码不接受）；性别和出生日期可以不填，填了须与号码一致。",
    "其他证件（护照、通行证、其他）必须填写性别和出生日期。",
    "证件号码列已设为文本格式。请不要把号码粘贴成数字，否则 Excel 会把 18 位号码变成 4.40106E+17，后几位丢失。",
    "同一人不能在名单中出现两次；年龄按生效日计算，须在方案的投保年龄之内。",
    *COMMON_HELP,
]
CANCEL_HELP = [
    "撤单：填写要撤销的保单号。只能撤销本机构的保单，且必须在保单生效之前。",
    "已撤单、已列入对账单的保单不能撤单。",
    *COMMON_HELP,
]
ENDORSE_HELP = [
    "保全须在保单生效之前办理；保单一旦生效，不能再办理任何保全。已撤单、已列入对账单的保单不能修改。",
    "新出的保单按提交处理时有效的方案价格重新计算保费。结果中列出新保单号、原保单号和保费变化。",
    *COMMON_HELP,
]
AMEND_HELP = [
    "批改：修改保险期间（生效时间、天数）、行程路线或旅行社经办人。只填写要修改的项目。",
    "批改后生成新的保单号，原保单状态变为“已撤单”；被保险人不变，保费按新的天数和年龄重新计算。",
    *ENDORSE_HELP,
]
ROSTER_HELP = {
    "加人": [
        "加人：在“被保险人名单”中只填写新增的人员。系统为新增人员另出一张保单（同一旅行团、同一保险期间），原保单不变。",
        "已在原保单中的人员不能重复加入。",
    ],
    "减人": [
        "减人：在“被保险人名单”中填写减人后的完整名单（删去要减少的人员）。原保单撤单，按新名单重新出单。",
        "减人只能减少人员；如需更换人员请用“换人”。",
    ],
    "换人": ["换人：在“被保险人名单”中填写更换后的完整名单。原保单撤单，按新名单重新出单。"],
    "信息变更": [
        "信息变更：在“被保险人名单”中填写改正后的完整名单（如姓名、出生日期、联系电话）。原保单撤单，按新名单重新出单。"
    ],
}
QUERY_HELP = [
    "保单查询：按保单号、旅行团号、投保时间（投保起期至投保止期，含首尾两天）和保单状态查询本机构的保单。",
    "结果文件含“保单”和“被保险人”两张表，可在 Excel 中筛选；原保单号、后续保单号列出批改等产生的保单链。",
    *COMMON_HELP,
]
DETAIL_HELP = [
    "业务明细：按投保时间列出本机构的保单，方案代码、保单状态、结算状态均选“全部”可查看整月业务。",
    "“投保时间”精确到秒，“生效时间”精确到小时；合计行不计已撤单保单。",
    *COMMON_HELP,
]
REPRINT_HELP = [
    "补打保单：重新生成该保单的电子保单（电子保单_保单号.html），显示保单当前状态。",
    *COMMON_HELP,
]
PLAN_HELP = [
    "方案上传（保险公司运营人员使用，放入 workbooks/_admin/）。",
    "“方案”表：每个方案一行。区域为境内或境外；年龄为周岁，按保单生效日计算。",
    "“费率”表：每个方案若干天数段，须无缝覆盖 1 到最长天数，不能重叠；每人保费单位为元，最多两位小数。",
    "“年龄系数”表（可不填）：该年龄段的保费乘以系数；未列出的年龄系数为 1。",
    "“保障”表：每个方案至少一个保障项目及保额（元）。",
    "每次上传都会为表中的每个方案生成新版本；已出的保单保持原版本的价格。",
    "标“示例”的行不会被处理。",
]
AGENCY_HELP = [
    "机构登记（保险公司运营人员使用，放入 workbooks/_admin/）。",
    "机构代码用字母、数字、“-”和“_”，例如 GZ001；登记后自动建立 workbooks/机构代码/ 和 outbox/机构代码/ 文件夹。",
    "可用方案：协议约定的方案代码，多个用“、”或逗号分隔；方案须已上传。",
    "状态：合作中 或 已终止。已终止机构的文件夹中的文件不再处理。",
    "标“示例”的行不会被处理。",
]
ADMIN_HELP = (
    "保险公司运营人员使用：填好后放入 workbooks/_admin/，结果在 outbox/_admin/。任何一处有错，整个申请都不生效。"
)
STATEMENT_QUERY_HELP = [
    "对账单查询：列出本机构的对账单及其状态（待确认、已确认、已缴费、已开票），并重新写出每张对账单。",
    "生成起期、生成止期指对账单生成的日期；都不填则列出全部。",
    "每张对账单有三个文件：对账单_对账单号.xlsx（可直接打印，A4）、.html（打印版）和 .json。",
    *COMMON_HELP,
]
SETTLE_HELP = [
    ADMIN_HELP,
    "结账：为该月投保（按投保时间）的保单生成对账单。每个机构的每个方案分开结账，一张对账单只含一个方案。",
    "只有月份已经结束、且该机构该方案当月所有未撤单的保单都已生效时才结账；否则该方案等待，结果中写明在等哪些保单。",
    "已在对账单中的保单不会再次结账；重复提交不会产生重复的对账单。",
    "月结每月自动运行（默认每月 1 日 02:00）；本申请用于立即结账。",
]
CONFIRM_HELP = [
    ADMIN_HELP,
    "对账确认：为每张要确认的对账单选择业务渠道、填写确认人。业务渠道一经确认不能更改。",
    "月结汇总文件（outbox/_admin/月结汇总_YYYY-MM.xlsx）本身就是对账确认申请：在其“对账确认”表中填写后，直接放入 workbooks/_admin/ 即可。",
    "业务渠道和确认人都空着的行不处理；只填了一项的行会报错。确认后该对账单的保单结算状态变为“已结”，并生成交给核心系统的交换文件。",
]
PAYMENT_HELP = [
    ADMIN_HELP,
    "收费登记：旅行社按对账单金额缴费后登记。金额必须等于对账单合计，多缴或少缴都不接受。",
    "只能为已确认的对账单登记缴费，每张只能登记一次。",
]
INVOICE_HELP = [
    ADMIN_HELP,
    "发票登记：为已缴费的对账单登记保费发票号和开票日期；开票后该对账单的业务计入营销员业绩。",
]
DEPOSIT_HELP = [
    ADMIN_HELP,
    "预交保费：类型填“收取”或“退还”。收取时登记收据号，收据有效期三年，到期前 30 天在月结汇总中提醒。",
    "退还须填写当初收取时的收据号，金额等于收据金额；只有状态为“已终止”且没有未结清保费的机构才能退还。",
]
PERFORMANCE_HELP = [
    ADMIN_HELP,
    "业绩：按营销员统计已开票对账单的保费，月份按开票日期计。未开票的对账单不计入业绩。",
]
