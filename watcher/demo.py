"""`watcher init --demo`: a sample agency and two plans, loaded straight into the ledger (no files dropped)."""

from __future__ import annotations

from decimal import Decimal

from .domain.plans import AgeFactor, Coverage, Plan, RateBand
from .domain.policy import Agency

DEMO_PLANS = (
    Plan(
        "GN-A",
        "境内旅游意外险A款",
        "境内",
        0,
        80,
        30,
        (RateBand(1, 3, 500), RateBand(4, 7, 800), RateBand(8, 15, 1500), RateBand(16, 30, 2500)),
        (AgeFactor(66, 80, Decimal("1.5")),),
        (Coverage("意外身故、残疾", 30000000), Coverage("意外医疗", 3000000), Coverage("住院津贴（每日）", 10000)),
    ),
    Plan(
        "GW-B",
        "境外旅游意外险B款",
        "境外",
        0,
        75,
        90,
        (RateBand(1, 7, 4000), RateBand(8, 15, 7000), RateBand(16, 30, 12000), RateBand(31, 90, 26000)),
        (AgeFactor(0, 17, Decimal("0.8")), AgeFactor(66, 75, Decimal("2"))),
        (
            Coverage("意外身故、残疾", 50000000),
            Coverage("意外及急性病医疗", 20000000),
            Coverage("紧急救援及转运", 50000000),
        ),
    ),
)
DEMO_AGENCY = Agency("GZ001", "广州示例国际旅行社有限公司", "91440101MA59DEMO01", "LY-2026-001", ("GN-A", "GW-B"))


def load_demo(ledger, layout, now) -> bool:
    """Load the demo agency and plans once; False when the demo agency is already there."""
    if ledger.agency(DEMO_AGENCY.code) is not None:
        return False
    with ledger.atomic():
        for plan in DEMO_PLANS:
            ledger.add_plan_version(plan, request_id=None, at=now)
        ledger.save_agency(DEMO_AGENCY, request_id=None, at=now)
    layout.create_agency(DEMO_AGENCY.code)
    return True
