"""Request kinds by 操作类型; each implements kinds.base.Kind (parse, load, validate, decide)."""

from __future__ import annotations

from ..domain.text import label_key
from ..settings import Settings
from .agencies import AgencyKind
from .cancel import CancelKind
from .endorse import AddPeopleKind, AmendKind, NewRosterKind
from .issue import IssueKind
from .plans import PlanKind
from .queries import DetailKind, PolicyQueryKind, ReprintKind
from .settlement import (
    ConfirmKind,
    DepositKind,
    InvoiceKind,
    PaymentKind,
    PerformanceKind,
    SettleKind,
    StatementQueryKind,
)

AGENCY_ACTIONS = (
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
    "对账单查询",
)
ADMIN_ACTIONS = ("方案", "机构", "结账", "对账确认", "收费登记", "发票登记", "预交保费", "业绩")
SYNONYMS = {
    "投保": "投保",
    "新投保": "投保",
    "出单": "投保",
    "试算": "试算",
    "报价": "试算",
    "撤单": "撤单",
    "退保": "撤单",
    "方案": "方案",
    "方案上传": "方案",
    "机构": "机构",
    "机构登记": "机构",
    "批改": "批改",
    "修改": "批改",
    "加人": "加人",
    "增加被保险人": "加人",
    "减人": "减人",
    "减少被保险人": "减人",
    "换人": "换人",
    "更换被保险人": "换人",
    "信息变更": "信息变更",
    "被保险人信息变更": "信息变更",
    "保单查询": "保单查询",
    "查询": "保单查询",
    "业务明细": "业务明细",
    "业务明细表": "业务明细",
    "补打保单": "补打保单",
    "补打": "补打保单",
    "重新打印保单": "补打保单",
    "对账单查询": "对账单查询",
    "查询对账单": "对账单查询",
    "结账": "结账",
    "代理机构结账": "结账",
    "月结": "结账",
    "对账确认": "对账确认",
    "对账单确认": "对账确认",
    "业务确认": "对账确认",
    "收费登记": "收费登记",
    "收费": "收费登记",
    "缴费登记": "收费登记",
    "发票登记": "发票登记",
    "发票": "发票登记",
    "开票登记": "发票登记",
    "预交保费": "预交保费",
    "押金": "预交保费",
    "业绩": "业绩",
    "业绩统计": "业绩",
    "业绩查询": "业绩",
}


def normalise_action(value: object) -> str | None:
    return SYNONYMS.get(label_key(value))


def kind_for(action: str, settings: Settings):
    return {
        "投保": lambda: IssueKind(settings, quote=False),
        "试算": lambda: IssueKind(settings, quote=True),
        "撤单": lambda: CancelKind(settings),
        "方案": lambda: PlanKind(settings),
        "机构": lambda: AgencyKind(settings),
        "批改": lambda: AmendKind(settings),
        "加人": lambda: AddPeopleKind(settings),
        "减人": lambda: NewRosterKind(settings, "减人"),
        "换人": lambda: NewRosterKind(settings, "换人"),
        "信息变更": lambda: NewRosterKind(settings, "信息变更"),
        "保单查询": lambda: PolicyQueryKind(settings),
        "业务明细": lambda: DetailKind(settings),
        "补打保单": lambda: ReprintKind(settings),
        "对账单查询": lambda: StatementQueryKind(settings),
        "结账": lambda: SettleKind(settings),
        "对账确认": lambda: ConfirmKind(settings),
        "收费登记": lambda: PaymentKind(settings),
        "发票登记": lambda: InvoiceKind(settings),
        "预交保费": lambda: DepositKind(settings),
        "业绩": lambda: PerformanceKind(settings),
    }[action]()
