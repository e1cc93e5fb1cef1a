"""Dates as clerks type them, the period of cover, money to the fen, and rating."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.domain.dates import (
    DateError,
    age_on,
    cover_end,
    names_an_hour,
    parse_date,
    parse_int,
    parse_local_datetime,
    show_end,
)
from watcher.domain.money import MoneyError, parse_fen, yuan_text
from watcher.domain.plans import AgeFactor, Plan, RateBand, band_gaps
from watcher.domain.rating import person_premium

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    "raw",
    [
        "2026-12-01 08:00",
        "2026/12/1 8时",
        "2026年12月1日8时",
        "2026年12月1日 08:00",
        "2026-12-01T08:00:00",
        "2026.12.01 8点",
        "２０２６－１２－０１ ０８:００",
        datetime(2026, 12, 1, 8, 0),
        "2026/12/01 08:00:00",
    ],
)
def test_effective_time_forms(raw):
    assert parse_local_datetime(raw) == datetime(2026, 12, 1, 8, 0)


def test_midnight_date_from_calamine_is_midnight_and_serials_are_read():
    assert parse_local_datetime(date(2026, 12, 1)) == datetime(2026, 12, 1, 0, 0)
    assert parse_local_datetime(46357.0 + 1 / 3) == datetime(2026, 12, 1, 8, 0)


@pytest.mark.parametrize("raw", ["明天", "2026-13-01 08:00", "2026-02-30", "08:00", ""])
def test_unreadable_times_raise(raw):
    with pytest.raises(DateError):
        parse_local_datetime(raw)


def test_birth_dates():
    assert parse_date("1980-01-31") == date(1980, 1, 31)
    assert parse_date("1980年1月31日") == date(1980, 1, 31)
    assert parse_date(19800131.0) == date(1980, 1, 31)
    assert parse_date(datetime(1980, 1, 31)) == date(1980, 1, 31)


def test_a_compact_date_typed_into_a_number_cell_is_a_date_for_a_start_time_too():
    """20261201 typed in Calc or Excel is a number: a birth date read it, 生效时间 said 无法识别 (while the
    same digits typed as text, and a query's date, were read). No Excel serial day is that large."""
    assert parse_local_datetime(20261201) == datetime(2026, 12, 1)
    assert parse_local_datetime(20261201.0) == datetime(2026, 12, 1)
    assert not names_an_hour(20261201), "a date alone: warned as 00:00 like any other"
    assert parse_local_datetime(46357) == datetime(2026, 12, 1), "a serial day is still one"
    with pytest.raises(DateError):
        parse_local_datetime(20261301)


def test_cover_runs_to_midnight_after_the_last_day_shown_as_24_00():
    start = datetime(2026, 12, 1, 8, tzinfo=ZONE)
    end = cover_end(start, 3, ZONE)
    assert end == datetime(2026, 12, 4, 0, tzinfo=ZONE)
    assert show_end(end, ZONE) == "2026-12-03 24:00"
    # The ledger hands times back in UTC: the days are still counted in the desk's zone.
    early = datetime(2026, 12, 10, 2, tzinfo=ZONE).astimezone(UTC)  # 2026-12-09 18:00 UTC
    assert cover_end(early, 4, ZONE) == datetime(2026, 12, 14, 0, tzinfo=ZONE)
    assert cover_end(datetime(2026, 12, 10, 8, tzinfo=ZONE).astimezone(UTC), 3, ZONE) == datetime(
        2026, 12, 13, 0, tzinfo=ZONE
    )


def test_age_in_completed_years():
    assert age_on(date(2000, 12, 2), date(2026, 12, 1)) == 25
    assert age_on(date(2000, 12, 1), date(2026, 12, 1)) == 26
    assert age_on(date(2000, 2, 29), date(2026, 2, 28)) == 25


def test_whole_numbers():
    assert parse_int(5.0) == 5 and parse_int("５") == 5 and parse_int("5天") == 5
    with pytest.raises(ValueError):
        parse_int(2.5)


@pytest.mark.parametrize(
    "raw, fen",
    [
        (50, 5000),
        (12.3, 1230),
        ("1,234.50", 123450),
        ("1，234.50", 123450),
        ("1,234,567", 123456700),
        ("1 234.50", 123450),
        ("¥8", 800),
        ("￥ 120.00", 12000),
        ("8元", 800),
        ("¥8元", 800),
        ("RMB 100", 10000),
        ("100 CNY", 10000),
        (" 50 ", 5000),
        ("120,000", 12000000),
        (".5", 50),
        (39.7 + 0.1 + 0.2, 4000),  # a sum Excel cached as 40.00000000000001: shown, and meant, 40.00
        (0.1 + 0.2, 30),
    ],
)
def test_money_is_read_to_the_fen(raw, fen):
    assert parse_fen(raw) == fen


# A decimal comma, a comma out of place, an exponent: typing errors, refused (never 12,000 or 120 yuan).
@pytest.mark.parametrize(
    "raw",
    [
        "1.234",
        "abc",
        None,
        0.001,
        40.0001,  # typed so: a fourth decimal, not binary noise
        "40.00000000000001",  # typed as text: not a float Excel worked out
        "120,00",
        "1,20.00",
        "12,0.00",
        "1,2345",
        "1 20",
        "1e2",
        "1E2",
        "NaN",
        "Infinity",
        "12.3.4",
        "1,234 567",
    ],
)
def test_money_with_more_than_two_decimals_or_no_number_is_refused(raw):
    with pytest.raises(MoneyError):
        parse_fen(raw)


PLAN = Plan(
    "P",
    "测试",
    "境内",
    0,
    80,
    30,
    (RateBand(1, 3, 333), RateBand(4, 30, 1001)),
    (AgeFactor(66, 80, Decimal("1.5")), AgeFactor(0, 17, Decimal("0.35"))),
)


def test_rating_picks_the_band_containing_the_days_and_applies_the_age_factor_half_up():
    assert person_premium(PLAN, 3, 30) == 333
    assert person_premium(PLAN, 4, 30) == 1001
    assert person_premium(PLAN, 3, 70) == 500  # 499.5 → 500, half-up
    assert person_premium(PLAN, 4, 10) == 350  # 350.35 → 350
    assert yuan_text(person_premium(PLAN, 30, 80)) == "15.02"  # 1501.5 → 1502


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=80))
def test_premium_is_the_band_price_times_factor_rounded_half_up(days, age):
    price = 333 if days <= 3 else 1001
    factor = Decimal("1.5") if age >= 66 else Decimal("0.35") if age <= 17 else Decimal(1)
    exact = Decimal(price) * factor
    premium = person_premium(PLAN, days, age)
    assert abs(Decimal(premium) - exact) <= Decimal("0.5")
    assert Decimal(premium) - exact != Decimal("-0.5")


def test_rate_bands_must_cover_every_day_without_overlap():
    assert band_gaps([(1, 3), (4, 30)], 30) == ([], [], [])
    assert band_gaps([(1, 3), (6, 30)], 30)[1] == [(4, 5)]
    assert band_gaps([(1, 5), (4, 30)], 30)[0] == [((1, 5), (4, 30))]
    assert band_gaps([(1, 3)], 30)[1] == [(4, 30)]
    assert band_gaps([(1, 40)], 30)[2] == [(1, 40)]


@pytest.mark.parametrize(
    "value, hour",
    [
        ("2026-12-05", False),
        ("2026年12月5日", False),
        ("20261205", False),
        (date(2026, 12, 5), False),
        (46361.0, False),
        ("2026-12-05 08:00", True),
        ("2026/12/5 8时", True),
        ("2026-12-05 0:00", True),
        (datetime(2026, 12, 5, 0, 0), True),
        (46361.333333333, True),
    ],
)
def test_a_start_written_as_a_day_alone_is_told_apart_from_one_with_its_hour(value, hour):
    assert names_an_hour(value) is hour


def test_excel_serials_before_its_phantom_leap_day_count_from_1900_01_01():
    """Excel's serial 1 is 1900-01-01 and 60 its 1900-02-29 that never was: serial 1 was read as 1899-12-31
    (a deposit dated 1 became a receipt of 1899)."""
    from watcher.domain.dates import DateError, excel_serial

    assert excel_serial(Decimal(1)) == datetime(1900, 1, 1)
    assert excel_serial(Decimal(59)) == datetime(1900, 2, 28)
    assert excel_serial(Decimal(61)) == datetime(1900, 3, 1)
    assert excel_serial(Decimal(46357)) == datetime(2026, 12, 1)
    with pytest.raises(DateError):
        excel_serial(Decimal(60))
