"""Agencies, policies and insured people as values; policy numbers and states."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

ACTIVE = "有效"
CANCELLED = "已撤单"
EXPIRED = "已到期"

AGENCY_ACTIVE = "合作中"
AGENCY_ENDED = "已终止"
AGENCY_STATUSES = (AGENCY_ACTIVE, AGENCY_ENDED)


@dataclass(frozen=True, slots=True)
class Agency:
    code: str
    name: str
    license_no: str = ""
    agreement_no: str = ""
    plans: tuple[str, ...] = ()
    status: str = AGENCY_ACTIVE

    @property
    def active(self) -> bool:
        return self.status == AGENCY_ACTIVE


@dataclass(frozen=True, slots=True)
class Insured:
    name: str
    id_type: str
    id_no: str
    gender: str
    birth: date
    age: int
    premium_fen: int
    phone: str = ""
    note: str = ""
    row: int = 0  # the Excel row in the request that brought this person


@dataclass(frozen=True, slots=True)
class Policy:
    policy_no: str  # '' until the ledger numbers it
    agency: str
    tour_group: str
    region: str
    plan_code: str
    plan_name: str
    plan_version: int
    start: datetime  # aware
    days: int
    end: datetime  # aware: 24:00 of the last day, i.e. the next midnight
    route: str
    handler: str  # 经办人
    sales_id: str
    sales_name: str
    premium_fen: int
    people: tuple[Insured, ...]
    issued_at: datetime
    status: str = ACTIVE
    cancelled_at: datetime | None = None
    replaces: str = ""  # the number of the policy this one replaces (批改, 减人 …)
    replace_reason: str = ""
    statement_no: str = ""
    settled_at: datetime | None = None  # when its statement was confirmed (对账确认): 已结 from then on
    headcount: int = 0  # people on the policy, when they were not loaded with it

    @property
    def settled(self) -> bool:
        return self.settled_at is not None

    @property
    def insured_count(self) -> int:
        return len(self.people) if self.people else self.headcount

    def shown_status(self, now: datetime) -> str:
        return status_at(self.status, self.end, now)


def status_at(status: str, end: datetime | None, now: datetime) -> str:
    """A policy's status as shown at `now`: 有效 becomes 已到期 once cover has ended."""
    if status == ACTIVE and end is not None and now >= end:
        return EXPIRED
    return status


# What a void policy's page, reprint and duplicate say of the policy that replaced it, by that one's status now.
REPLACEMENT_NOW = {CANCELLED: "该保单现也已撤单", EXPIRED: "该保单保险期间也已结束"}


ADD_PEOPLE = "加人"  # the one endorsement that issues a policy beside the old one instead of replacing it


def reissues(replace_reason: str) -> bool:
    """Whether a policy issued from another one replaced it (批改, 减人, 换人, 信息变更), not 加人."""
    return bool(replace_reason) and replace_reason != ADD_PEOPLE


@dataclass(frozen=True, slots=True)
class Replacement:
    """Where a void policy's chain of replacements ends: the policy that covers its group now."""

    policy_no: str
    status: str  # 有效, or 已撤单 when that one was cancelled too
    end: datetime | None = None  # when its cover ends
    start: datetime | None = None  # when its cover starts (after it, no endorsement of it)
    statement_no: str = ""  # the statement it is on (on one, no endorsement of it)

    def shown_status(self, now: datetime) -> str:
        return status_at(self.status, self.end, now)

    def changeable(self, now: datetime) -> bool:
        """Whether an endorsement of it could be accepted now: 有效, not yet in force, in no statement."""
        return self.status == ACTIVE and self.start is not None and now < self.start and not self.statement_no


def policy_number(issued_at: datetime, sequence: int, zone: tzinfo) -> str:
    """LY + issue date (desk time) + a 7-digit ledger-wide sequence that never repeats: LY202612010000042."""
    return f"LY{issued_at.astimezone(zone):%Y%m%d}{sequence:07d}"


POLICY_NO_PATTERN = r"^LY\d{8}\d{7,}$"
