"""Request kinds by 操作类型; each implements kinds.base.Kind (parse, load, validate, decide)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..domain.text import label_key
from ..settings import Settings
from . import forms
from .agencies import AgencyKind
from .base import Kind
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


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One request kind, declared once: its 操作类型, who may drop it (staff in _admin, or an agency), every
    other name a clerk may write for it, how to make the kind that parses, validates and decides it, and
    its blank workbook (fields, tables, 填写说明: kinds/forms.py). The action lists, the synonyms, the
    registry below, the templates (io/templates.py) and the guides' tables are derived from these."""

    action: str
    admin: bool
    synonyms: tuple[str, ...]
    make: Callable[[Settings], Kind]
    form: forms.Form


KINDS: tuple[KindSpec, ...] = (
    KindSpec("投保", False, ("新投保", "出单"), lambda s: IssueKind(s, quote=False), forms.ISSUE),
    KindSpec("试算", False, ("报价",), lambda s: IssueKind(s, quote=True), forms.ISSUE),
    KindSpec("撤单", False, ("退保",), CancelKind, forms.CANCEL),
    KindSpec("批改", False, ("修改",), AmendKind, forms.AMEND),
    KindSpec("加人", False, ("增加被保险人",), AddPeopleKind, forms.roster_change("加人")),
    KindSpec("减人", False, ("减少被保险人",), lambda s: NewRosterKind(s, "减人"), forms.roster_change("减人")),
    KindSpec("换人", False, ("更换被保险人",), lambda s: NewRosterKind(s, "换人"), forms.roster_change("换人")),
    KindSpec(
        "信息变更",
        False,
        ("被保险人信息变更",),
        lambda s: NewRosterKind(s, "信息变更"),
        forms.roster_change("信息变更"),
    ),
    KindSpec("保单查询", False, ("查询",), PolicyQueryKind, forms.POLICY_QUERY),
    KindSpec("业务明细", False, ("业务明细表",), DetailKind, forms.DETAIL),
    KindSpec("补打保单", False, ("补打", "重新打印保单"), ReprintKind, forms.REPRINT),
    KindSpec("对账单查询", False, ("查询对账单",), StatementQueryKind, forms.STATEMENT_QUERY),
    KindSpec("方案", True, ("方案上传",), PlanKind, forms.PLAN),
    KindSpec("机构", True, ("机构登记",), AgencyKind, forms.AGENCY),
    KindSpec("结账", True, ("代理机构结账", "月结"), SettleKind, forms.SETTLE),
    KindSpec("对账确认", True, ("对账单确认", "业务确认"), ConfirmKind, forms.CONFIRM),
    KindSpec("收费登记", True, ("收费", "缴费登记"), PaymentKind, forms.PAYMENT),
    KindSpec("发票登记", True, ("发票", "开票登记"), InvoiceKind, forms.INVOICE),
    KindSpec("预交保费", True, ("押金",), DepositKind, forms.DEPOSIT),
    KindSpec("业绩", True, ("业绩统计", "业绩查询"), PerformanceKind, forms.PERFORMANCE),
)

BY_ACTION = {spec.action: spec for spec in KINDS}
AGENCY_ACTIONS = tuple(spec.action for spec in KINDS if not spec.admin)
ADMIN_ACTIONS = tuple(spec.action for spec in KINDS if spec.admin)
SYNONYMS = {name: spec.action for spec in KINDS for name in (spec.action, *spec.synonyms)}


def normalise_action(value: object) -> str | None:
    return SYNONYMS.get(label_key(value))


def kind_for(action: str, settings: Settings) -> Kind:
    return BY_ACTION[action].make(settings)
