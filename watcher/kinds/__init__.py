"""Request kinds by 操作类型; each implements kinds.base.Kind (parse, load, validate, decide)."""

from __future__ import annotations

from ..domain.text import label_key
from ..settings import Settings
from .agencies import AgencyKind
from .cancel import CancelKind
from .issue import IssueKind
from .plans import PlanKind

AGENCY_ACTIONS = ("投保", "试算", "撤单")
ADMIN_ACTIONS = ("方案", "机构")
SYNONYMS = {"投保": "投保", "新投保": "投保", "出单": "投保", "试算": "试算", "报价": "试算", "撤单": "撤单",
            "退保": "撤单", "方案": "方案", "方案上传": "方案", "机构": "机构", "机构登记": "机构"}


def normalise_action(value: object) -> str | None:
    return SYNONYMS.get(label_key(value))


def kind_for(action: str, settings: Settings):
    return {
        "投保": lambda: IssueKind(settings, quote=False),
        "试算": lambda: IssueKind(settings, quote=True),
        "撤单": lambda: CancelKind(settings),
        "方案": lambda: PlanKind(settings),
        "机构": lambda: AgencyKind(settings),
    }[action]()
