"""Pricing: the day band that contains 天数, times the age factor, half-up to the fen per person."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .plans import Plan


class NoRate(LookupError):
    pass


def band_price(plan: Plan, days: int) -> int:
    for band in plan.rates:
        if band.low <= days <= band.high:
            return band.price_fen
    raise NoRate(days)


def age_factor(plan: Plan, age: int) -> Decimal:
    """The plan's factor for this age; ages no band names pay the plain price."""
    for band in plan.factors:
        if band.low <= age <= band.high:
            return band.factor
    return Decimal(1)


def person_premium(plan: Plan, days: int, age: int) -> int:
    """One person's premium in fen."""
    price = Decimal(band_price(plan, days)) * age_factor(plan, age)
    return int(price.quantize(Decimal(1), rounding=ROUND_HALF_UP))
