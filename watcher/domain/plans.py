"""Plans (方案): rate bands by days, age factors, coverages; and the rules an uploaded plan must meet."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

REGIONS = ("境内", "境外")


@dataclass(frozen=True, slots=True)
class RateBand:
    low: int  # days, inclusive
    high: int
    price_fen: int  # per person


@dataclass(frozen=True, slots=True)
class AgeFactor:
    low: int  # age, inclusive
    high: int
    factor: Decimal


@dataclass(frozen=True, slots=True)
class Coverage:
    item: str
    sum_fen: int


@dataclass(frozen=True, slots=True)
class Plan:
    code: str
    name: str
    region: str
    min_age: int
    max_age: int
    max_days: int
    rates: tuple[RateBand, ...]
    factors: tuple[AgeFactor, ...] = ()
    coverages: tuple[Coverage, ...] = ()
    version: int = 0  # the ledger's plan-version id; 0 before it is stored


def band_gaps(
    bands: list[tuple[int, int]], max_days: int
) -> tuple[list[tuple[tuple[int, int], tuple[int, int]]], list[tuple[int, int]], list[tuple[int, int]]]:
    """Check day bands against 1..max_days: (overlapping pairs, uncovered ranges, bands past max_days)."""
    overlaps: list[tuple[tuple[int, int], tuple[int, int]]] = []
    gaps: list[tuple[int, int]] = []
    covered = 0
    last_band: tuple[int, int] | None = None
    for low, high in sorted(bands):
        if last_band is not None and low <= covered:
            overlaps.append((last_band, (low, high)))
        elif low > covered + 1 and covered < max_days:
            gaps.append((covered + 1, min(low - 1, max_days)))
        covered, last_band = max(covered, high), (low, high)
    if covered < max_days:
        gaps.append((covered + 1, max_days))
    beyond = [(low, high) for low, high in bands if high > max_days]
    return overlaps, gaps, beyond


def factor_overlaps(bands: list[tuple[int, int]]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    ordered = sorted(bands)
    return [(a, b) for a, b in zip(ordered, ordered[1:], strict=False) if b[0] <= a[1]]
