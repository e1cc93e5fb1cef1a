"""What each request kind's blank workbook asks for, declared once: the 申请 sheet's fields (label, note,
format, dropdown), the tables with their columns and example rows, and the lines of 填写说明.

kinds.KINDS gives each kind its Form; `watcher template` (io/templates.py) writes the workbook from it,
the guides (watcher/guides.py) are generated from that workbook, and the parsers find their sample rows
here (`samples`). Pure data: nothing here writes a file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..domain.plans import REGIONS
from ..settings import DEFAULT_CHANNELS


@dataclass(frozen=True)
class FormField:
    """A line of the 申请 sheet: its label in column A, what column C tells the clerk, and how column B
    takes the value."""

    label: str
    note: str = ""
    text: bool = False  # formatted as text ('@'): codes, numbers that are not amounts
    format: str = "text"  # "text", "datetime" (yyyy-mm-dd hh:mm) or "date"
    # A dropdown: a list, or "plans" (the desk's plan codes, on the hidden 选项 sheet), or "plans_or_all"
    # (全部 and the plan codes, inline while they fit Excel's 255 characters).
    choices: tuple[str, ...] | str = ()
    also: tuple[str, ...] = ()  # other labels a clerk may write for it (read as this one)


@dataclass(frozen=True)
class Form:
    """A kind's blank workbook: the 申请 fields after 操作类型, its tables (names in TABLES), 填写说明."""

    fields: tuple[FormField, ...] = ()
    tables: tuple[str, ...] = ()
    help: tuple[str, ...] = ()
    # 操作类型's dropdown, when the form serves more than one action (投保 and 试算).
    actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Col:
    name: str
    width: float
    example: object = ""
    text: bool = False  # formatted as text ('@'): IDs, codes, phone numbers
    choices: tuple[str, ...] | str = ()  # a list, or the name of a range on the 选项 sheet
    date: bool = False
    note: str = ""
    also: tuple[str, ...] = ()  # other headers a clerk may write for it (read as this column)
    # A list the desk sets (a setting's name, e.g. "channels"): its choices, and its first value the example.
    desk_list: str = ""


def for_desk(cols: tuple[Col, ...], lists: dict[str, tuple[str, ...]]) -> tuple[Col, ...]:
    """The columns with the desk's own lists filled in (业务渠道 from the setting `channels`)."""
    return tuple(
        replace(col, example=lists[col.desk_list][0], choices=tuple(lists[col.desk_list])) if col.desk_list else col
        for col in cols
    )


SAMPLE_ID = "11010519491231002X"  # GB 11643's own example number, on the sample row: never a real traveller

ROSTER = (
    Col("序号", 6, "示例", note="示例行不会被处理，可保留；其他行可留空", also=("编号", "No", "NO.")),
    Col(
        "姓名",
        14,
        "王芳",
        note="必填",
        also=("被保险人姓名", "被保险人", "名字", "客人姓名", "旅客姓名", "游客姓名", "团员姓名"),
    ),
    Col(
        "证件类型",
        24,
        "身份证",
        choices="证件类型",
        note="必填，从下拉框选择",
        also=("证件种类", "证件类别", "证件", "证件名称"),
    ),
    Col(
        "证件号码",
        22,
        SAMPLE_ID,
        text=True,
        note="必填；本列为文本格式，请勿改成数字",
        also=("证件号", "身份证号码", "身份证号", "证件编号", "护照号码"),
    ),
    Col("性别", 6, "女", choices=("男", "女"), note="身份证可不填；其他证件必填"),
    Col(
        "出生日期",
        12,
        "1949-12-31",
        date=True,
        note="身份证可不填；其他证件必填，如 1980-01-31",
        also=("出生年月", "出生年月日", "生日"),
    ),
    Col("联系电话", 15, "13800138000", text=True, also=("电话", "手机", "手机号", "手机号码", "联系方式")),
    Col("备注", 20, "", also=("说明",)),
)


# The tables of the admin templates, each with its example row.
TABLES: dict[str, tuple[Col, ...]] = {
    "被保险人名单": ROSTER,
    "方案": (
        Col("序号", 6, "示例", also=("编号",)),
        Col("方案代码", 12, "GN-A", text=True, also=("代码",)),
        Col("方案名称", 24, "境内旅游意外险A款", also=("名称",)),
        Col("区域", 8, "境内", choices=REGIONS),
        Col("最低年龄", 9, 0, also=("最小年龄",)),
        Col("最高年龄", 9, 80, also=("最大年龄",)),
        Col("最长天数", 9, 30, also=("最大天数",)),
    ),
    "费率": (
        Col("序号", 6, "示例", also=("编号",)),
        Col("方案代码", 12, "GN-A", text=True, also=("代码",)),
        Col("天数下限", 9, 1, also=("最少天数",)),
        Col("天数上限", 9, 3, also=("最多天数",)),
        Col("每人保费", 10, 5, also=("保费", "单价")),
    ),
    "年龄系数": (
        Col("序号", 6, "示例", also=("编号",)),
        Col("方案代码", 12, "GN-A", text=True, also=("代码",)),
        Col("年龄下限", 9, 66),
        Col("年龄上限", 9, 80),
        Col("系数", 8, 1.5, also=("年龄系数",)),
    ),
    "保障": (
        Col("序号", 6, "示例", also=("编号",)),
        Col("方案代码", 12, "GN-A", text=True, also=("代码",)),
        Col("保障项目", 24, "意外身故、残疾", also=("责任", "保险责任")),
        Col("保额", 12, 300000, also=("保险金额",)),
    ),
    "机构": (
        Col("序号", 6, "示例", also=("编号",)),
        Col("机构代码", 10, "GZ001", text=True, also=("代码", "旅行社代码")),
        Col("机构名称", 28, "广州示例国际旅行社有限公司", also=("名称", "旅行社名称")),
        Col("营业执照号", 22, "91440101MA5XXXXXXX", text=True, also=("营业执照号码", "统一社会信用代码")),
        Col("协议编号", 16, "LY-2026-001", text=True, also=("协议号",)),
        Col("可用方案", 20, "GN-A、GW-B", text=True, also=("方案代码", "方案")),
        Col("状态", 8, "合作中", choices=("合作中", "已终止"), also=("合作状态",)),
    ),
    "对账确认": (
        Col("序号", 6, "示例", also=("编号",)),
        Col("对账单号", 18, "DZ000000000001", text=True, also=("对账单编号", "对账单")),
        Col(
            "业务渠道",
            14,
            DEFAULT_CHANNELS[0],
            choices=DEFAULT_CHANNELS,
            note="一经确认不能更改",
            also=("渠道",),
            desk_list="channels",
        ),
        Col("确认人", 10, "张运营", also=("确认人员", "经办人")),
    ),
    "收费": (
        Col("序号", 6, "示例", also=("编号",)),
        Col("对账单号", 18, "DZ000000000001", text=True, also=("对账单编号", "对账单")),
        Col("金额", 12, 1234.5, note="须等于对账单合计", also=("缴费金额", "收费金额")),
        Col("缴费凭证号", 18, "PZ20261205001", text=True, also=("凭证号", "缴费凭证")),
        Col("到账日期", 12, "2026-12-05", date=True, also=("缴费日期", "收费日期")),
    ),
    "发票": (
        Col("序号", 6, "示例", also=("编号",)),
        Col("对账单号", 18, "DZ000000000001", text=True, also=("对账单编号", "对账单")),
        Col("发票号", 16, "44001234", text=True, also=("发票号码",)),
        Col("开票日期", 12, "2026-12-06", date=True, also=("发票日期",)),
    ),
    "预交保费": (
        Col("序号", 6, "示例", also=("编号",)),
        Col("机构代码", 10, "GZ001", text=True, also=("代码", "旅行社代码")),
        Col("类型", 8, "收取", choices=("收取", "退还"), also=("收退类型", "操作")),
        Col("金额", 12, 5000, also=("押金金额",)),
        Col("收据号", 16, "SJ2026001", text=True, also=("收据号码", "收据编号")),
        Col("日期", 12, "2026-11-01", date=True, also=("收取日期", "退还日期")),
    ),
}


def samples(table: str, channels: tuple[str, ...] = DEFAULT_CHANNELS) -> dict[str, object]:
    """The example row of a template's table: column → the value the template puts there (a desk list's
    column: the first of the desk's values). A row marked 示例 is skipped only while it holds nothing else."""
    cols = TABLES.get(table, ())
    made = {"channels": channels}
    # A desk list's example is its first value when the template was made: a blank kept from before the
    # setting changed still holds the default's.
    return {
        col.name: tuple(dict.fromkeys((made[col.desk_list][0], DEFAULT_CHANNELS[0]))) if col.desk_list else col.example
        for col in cols
        if col.name != "序号"
    }


COMMON_HELP = [
    "提交：把填好的文件放进本机构的文件夹（workbooks/机构代码/），处理结果会出现在 outbox/机构代码/ 中，文件名为“原文件名_结果.xlsx”。",
    "接受的文件：.xlsx、.xlsm、.xls、.csv。文件复制完整后才会被处理；处理后原文件移走归档。",
    "同一个文件再次提交不会重复出单，会得到“重复提交”的结果。",
    "任何一处有错，整个申请都不生效；结果文件会列出所有错误，出错的单元格标红并附批注。",
]
ISSUE_HELP = [
    "“申请”表：A 列是项目名称，B 列填写内容。操作类型选“投保”出单，选“试算”只计算保费、不出单。",
    "生效时间必须是整点，并且晚于提交处理的时间（不能倒签）。保险期间从生效时间到第“天数”天的 24:00。",
    "“被保险人名单”表：含“姓名”的那一行是表头（上面可以有标题行），每人一行。标“示例”的行不会被处理。",
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
        "减人只能减少人员，留下的人按原保单填写（姓名、电话等改了会被退回）；如需更换人员请用“换人”，修改信息请用“信息变更”。",
    ],
    "换人": ["换人：在“被保险人名单”中填写更换后的完整名单。原保单撤单，按新名单重新出单。"],
    "信息变更": [
        "信息变更：在“被保险人名单”中填写改正后的完整名单（如姓名、出生日期、联系电话）；联系电话留空的人沿用原保单上的电话。原保单撤单，按新名单重新出单。"
    ],
}
QUERY_HELP = [
    "保单查询：按保单号、旅行团号、投保时间（投保起期至投保止期，含首尾两天）和保单状态查询本机构的保单"
    "（“有效”列出未撤单的全部保单，其中保险期间已结束的显示为“已到期”；只看已结束的选“已到期”）。",
    "结果文件含“保单”和“被保险人”两张表，可在 Excel 中筛选；原保单号、后续保单号列出批改等产生的保单链（加人时另出的保单标“（加人）”：它与原保单并存，不替代原保单）。",
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
    "已有方案的区域不能在新版本中改变（已出的保单按原区域出具）；区域不同的方案请用新的方案代码。",
    "标“示例”的行不会被处理。",
]
AGENCY_HELP = [
    "机构登记（保险公司运营人员使用，放入 workbooks/_admin/）。",
    "机构代码用字母、数字、“-”和“_”，例如 GZ001；登记后自动建立 workbooks/机构代码/ 和 outbox/机构代码/ 文件夹。",
    "可用方案：协议约定的方案代码，多个用“、”或逗号分隔；方案须已上传。",
    "状态：合作中 或 已终止。已终止的机构仍可查询（保单查询、业务明细、补打保单、对账单查询），其他申请一律回复失败结果并说明原因。",
    "修改已登记的机构时，营业执照号、协议编号、状态留空表示保持原值；结果中列出每个机构改了什么。已终止的机构改回合作中时结果会提醒。",
    "标“示例”的行不会被处理；示例的营业执照号（91440101MA5XXXXXXX）不能登记，即使改了序号。",
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


POLICY_NO = FormField("保单号", "必填：本机构的保单号（在投保结果或电子保单上）", text=True, also=("保单号码",))
ISSUE_FIELDS = (
    FormField("旅行团号", "必填：本团的团号，查询或修改保单时要用", text=True, also=("团号", "旅游团号", "团队编号")),
    FormField("区域", "境内或境外，须与方案一致", choices=REGIONS, also=("投保区域", "旅游区域")),
    FormField(
        "方案代码", "必填：从下拉框选择保险方案", text=True, choices="plans", also=("方案", "产品代码", "保险方案代码")
    ),
    FormField(
        "生效时间",
        "必填：整点，例如 2026-12-01 08:00；须晚于提交时间",
        format="datetime",
        also=("起保时间", "保险起期", "生效日期"),
    ),
    FormField("天数", "必填：保险天数（含首尾两天），例如 3", also=("保险天数", "旅游天数", "行程天数")),
    FormField("行程路线", "例如 广州—桂林—阳朔", also=("行程", "旅游路线", "路线")),
    FormField("经办人", "旅行社经办人姓名", also=("旅行社经办人",)),
    FormField("营销员工号", "", text=True, also=("业务员工号", "营销员代码")),
    FormField("营销员姓名", "", also=("业务员姓名", "营销员")),
)
ROSTER_SHEET = ("被保险人名单",)

ISSUE = Form(ISSUE_FIELDS, ROSTER_SHEET, tuple(ISSUE_HELP), actions=("投保", "试算"))
CANCEL = Form(
    (FormField("保单号", "必填：要撤销的保单号（本机构的保单，生效前才可撤单）", text=True),), (), tuple(CANCEL_HELP)
)
AMEND = Form(
    (
        POLICY_NO,
        FormField("生效时间", "只填要修改的项目；新的生效时间须为整点且晚于提交时间", format="datetime"),
        FormField("天数", "新的保险天数"),
        FormField("行程路线", "新的行程路线"),
        FormField("经办人", "新的经办人"),
    ),
    (),
    tuple(AMEND_HELP),
)


def roster_change(action: str) -> Form:
    return Form((POLICY_NO,), ROSTER_SHEET, (*ROSTER_HELP[action], *ENDORSE_HELP))


POLICY_QUERY = Form(
    (
        FormField("保单号", "以下条件可任选，都不填则列出本机构全部保单", text=True),
        FormField("旅行团号", "", text=True),
        FormField("投保起期", "投保时间的日期，含当天，如 2026-12-01", format="date"),
        FormField("投保止期", "含当天", format="date"),
        FormField("保单状态", "全部、有效、已撤单或已到期", choices=("全部", "有效", "已撤单", "已到期")),
    ),
    (),
    tuple(QUERY_HELP),
)
DETAIL = Form(
    (
        FormField(
            "投保起期",
            "必填：投保时间的日期，含当天；通常为一个整月",
            format="date",
            also=("起期", "开始日期", "投保开始日期"),
        ),
        FormField("投保止期", "必填：含当天", format="date", also=("止期", "结束日期", "投保结束日期")),
        FormField("方案代码", "全部或某个方案", text=True, choices="plans_or_all"),
        FormField("保单状态", "全部、有效或已撤单", choices=("全部", "有效", "已撤单"), also=("状态",)),
        FormField("结算状态", "全部、未结或已结", choices=("全部", "未结", "已结")),
    ),
    (),
    tuple(DETAIL_HELP),
)
REPRINT = Form((POLICY_NO,), (), tuple(REPRINT_HELP))
STATEMENT_QUERY = Form(
    (
        FormField("生成起期", "对账单生成日期，含当天；不填则不限", format="date", also=("对账单生成起期",)),
        FormField("生成止期", "含当天；不填则不限", format="date", also=("对账单生成止期",)),
        FormField(
            "对账状态",
            "全部、待确认、已确认、已缴费或已开票",
            choices=("全部", "待确认", "已确认", "已缴费", "已开票"),
        ),
    ),
    (),
    tuple(STATEMENT_QUERY_HELP),
)
PLAN = Form((), ("方案", "费率", "年龄系数", "保障"), tuple(PLAN_HELP))
AGENCY = Form((), ("机构",), tuple(AGENCY_HELP))
SETTLE = Form(
    (
        FormField("结账月份", "必填：YYYY-MM，例如 2026-11；月份结束后才能结账", text=True, also=("月份",)),
        FormField("机构代码", "某个机构的代码，或“全部”", text=True),
        FormField("方案代码", "某个方案，或“全部”", text=True, choices="plans_or_all"),
    ),
    (),
    tuple(SETTLE_HELP),
)
CONFIRM = Form((), ("对账确认",), tuple(CONFIRM_HELP))
PAYMENT = Form((), ("收费",), tuple(PAYMENT_HELP))
INVOICE = Form((), ("发票",), tuple(INVOICE_HELP))
DEPOSIT = Form((), ("预交保费",), tuple(DEPOSIT_HELP))
PERFORMANCE = Form(
    (FormField("业绩月份", "YYYY-MM，例如 2026-12；填“全部”或不填列出所有月份", text=True),),
    (),
    tuple(PERFORMANCE_HELP),
)

FORMS = (
    ISSUE,
    CANCEL,
    AMEND,
    *(roster_change(action) for action in ROSTER_HELP),
    POLICY_QUERY,
    DETAIL,
    REPRINT,
    STATEMENT_QUERY,
    PLAN,
    AGENCY,
    SETTLE,
    CONFIRM,
    PAYMENT,
    INVOICE,
    DEPOSIT,
    PERFORMANCE,
)
ACTION_ALSO = ("操作", "业务类型", "申请类型")  # other labels for 操作类型, the first line of every 申请 sheet


def apply_labels() -> dict[str, tuple[str, ...]]:
    """Every label of a 申请 sheet, with the other labels read as it (what the parsers look up): 操作类型
    and the fields the forms declare, their other names gathered wherever a form gives them."""
    labels: dict[str, tuple[str, ...]] = {"操作类型": ACTION_ALSO}
    for form in FORMS:
        for field in form.fields:
            labels[field.label] = tuple(dict.fromkeys((*labels.get(field.label, ()), *field.also)))
    return labels


def columns(table: str) -> dict[str, tuple[str, ...]]:
    """A table's columns as the parsers look them up: each name with the other headers read as it."""
    return {col.name: col.also for col in TABLES[table]}
