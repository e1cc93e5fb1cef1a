"""Request kinds by 操作类型; each implements kinds.base.Kind (parse, load, validate, decide)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..domain.text import label_key
from ..settings import Settings
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
    other name a clerk may write for it, and how to make the kind that parses, validates and decides it.
    The action lists, the synonyms and the registry below are derived from these declarations."""

    action: str
    admin: bool
    synonyms: tuple[str, ...]
    make: Callable[[Settings], Kind]


KINDS: tuple[KindSpec, ...] = (
    KindSpec("投保", False, ("新投保", "出单"), lambda s: IssueKind(s, quote=False)),
    KindSpec("试算", False, ("报价",), lambda s: IssueKind(s, quote=True)),
    KindSpec("撤单", False, ("退保",), CancelKind),
    KindSpec("批改", False, ("修改",), AmendKind),
    KindSpec("加人", False, ("增加被保险人",), AddPeopleKind),
    KindSpec("减人", False, ("减少被保险人",), lambda s: NewRosterKind(s, "减人")),
    KindSpec("换人", False, ("更换被保险人",), lambda s: NewRosterKind(s, "换人")),
    KindSpec("信息变更", False, ("被保险人信息变更",), lambda s: NewRosterKind(s, "信息变更")),
    KindSpec("保单查询", False, ("查询",), PolicyQueryKind),
    KindSpec("业务明细", False, ("业务明细表",), DetailKind),
    KindSpec("补打保单", False, ("补打", "重新打印保单"), ReprintKind),
    KindSpec("对账单查询", False, ("查询对账单",), StatementQueryKind),
    KindSpec("方案", True, ("方案上传",), PlanKind),
    KindSpec("机构", True, ("机构登记",), AgencyKind),
    KindSpec("结账", True, ("代理机构结账", "月结"), SettleKind),
    KindSpec("对账确认", True, ("对账单确认", "业务确认"), ConfirmKind),
    KindSpec("收费登记", True, ("收费", "缴费登记"), PaymentKind),
    KindSpec("发票登记", True, ("发票", "开票登记"), InvoiceKind),
    KindSpec("预交保费", True, ("押金",), DepositKind),
    KindSpec("业绩", True, ("业绩统计", "业绩查询"), PerformanceKind),
)

BY_ACTION = {spec.action: spec for spec in KINDS}
AGENCY_ACTIONS = tuple(spec.action for spec in KINDS if not spec.admin)
ADMIN_ACTIONS = tuple(spec.action for spec in KINDS if spec.admin)
SYNONYMS = {name: spec.action for spec in KINDS for name in (spec.action, *spec.synonyms)}


def normalise_action(value: object) -> str | None:
    return SYNONYMS.get(label_key(value))


def kind_for(action: str, settings: Settings) -> Kind:
    return BY_ACTION[action].make(settings)
