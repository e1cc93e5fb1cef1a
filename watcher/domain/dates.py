"""Dates and times as clerks write them, the period of cover, and ages. Pure; zone passed in."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation

from .text import fold

_EXCEL_EPOCH = datetime(1899, 12, 30)

_DT = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*[T ]?\s*(?P<h>\d{1,2})\s*"
    r"(?:[:：]\s*(?P<mi>\d{1,2})(?:\s*[:：]\s*(?P<s>\d{1,2}))?|[时點点]\s*(?:(?P<mi2>\d{1,2})\s*分)?\s*整?)?)?$"
)
_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")


class DateError(ValueError):
    pass


def excel_serial(value: Decimal) -> datetime:
    """An Excel serial day number (1900 date system) as a naive datetime."""
    if not (Decimal(1) <= value < Decimal(2958466)) or Decimal(60) <= value < Decimal(61):
        raise DateError(str(value))  # 60 is Excel's 1900-02-29, a day that never was
    seconds = int((value * 86400).to_integral_value())
    if value < 60:  # before Excel's phantom leap day its serials count from 1899-12-31: 1 is 1900-01-01
        seconds += 86400
    return _EXCEL_EPOCH + timedelta(seconds=seconds)


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return None


def parse_local_datetime(value: object) -> datetime:
    """A naive local date-time from an Excel cell value or any text form a clerk types (docs/requests.md)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, date):
        return datetime.combine(value, time())
    number = _number(value)
    if number is not None:
        if number == number.to_integral_value() and 19000101 <= number <= 29991231:
            value = str(int(number))  # 20261201 typed into a number cell (no serial day is that large)
        else:
            return excel_serial(number).replace(microsecond=0)
    text = fold(str(value or "")).strip()
    m = _DT.match(text) or _COMPACT.match(text)
    if not m:
        raise DateError(text)
    parts = m.groupdict()
    hour = int(parts.get("h") or 0)
    minute = int(parts.get("mi") or parts.get("mi2") or 0)
    second = int(parts.get("s") or 0)
    try:
        if hour == 24 and minute == 0 and second == 0:  # "24:00" is the next day's 00:00
            return datetime(int(parts["y"]), int(parts["m"]), int(parts["d"])) + timedelta(days=1)
        return datetime(int(parts["y"]), int(parts["m"]), int(parts["d"]), hour, minute, second)
    except ValueError as exc:
        raise DateError(text) from exc


def names_an_hour(value: object) -> bool:
    """Whether a 生效时间 as written says an hour, not only a day: a date cell, a whole serial day number or
    a text date alone (`2026-12-05`) does not (it reads as 00:00). The reader gives a date-time cell at
    00:00 as a date: such a 00:00 is warned too, with a message that says it may be meant."""
    if isinstance(value, datetime):
        return True  # a date-time whose 00:00 may be meant
    if isinstance(value, date):
        return False
    number = _number(value)
    if number is not None:
        return number != number.to_integral_value()
    m = _DT.match(fold(str(value or "")).strip())
    return bool(m and m.group("h") is not None)


def says_24(value: object) -> bool:
    """Whether a date-time as typed says 24 时 (`2026-12-21 24:00`): read as the next day's 00:00."""
    if not isinstance(value, str):
        return False
    m = _DT.match(fold(value).strip())
    return bool(m and m.group("h") is not None and int(m.group("h")) == 24)


def parse_date(value: object) -> date:
    """A calendar date (birth dates) from a cell value or text; a time part must be midnight."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    number = _number(value)
    if number is not None and number != number.to_integral_value():
        return excel_serial(number).date()
    return parse_local_datetime(value).date()


def parse_int(value: object) -> int:
    """Whole numbers: 5, 5.0, '5', '５', '5天'."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    text = fold(str(value or "")).strip().removesuffix("天").removesuffix("岁").strip()
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    if number != number.to_integral_value():
        raise ValueError(text)
    return int(number)


def cover_end(start: datetime, days: int, zone: tzinfo) -> datetime:
    """Cover runs from the effective time to 24:00 of the `days`-th day (the next midnight), counted in the
    desk's zone whatever zone `start` is expressed in (the ledger hands times back in UTC)."""
    local = start.astimezone(zone)
    return datetime.combine(local.date() + timedelta(days=days), time(), tzinfo=zone)


def show_hour(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:00")


def show_end(moment: datetime, zone: tzinfo) -> str:
    """The end of cover as the manual writes it: midnight is 24:00 of the day before."""
    local = moment.astimezone(zone)
    if local.time() == time():
        return (local.date() - timedelta(days=1)).isoformat() + " 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


def show_second(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def age_on(birth: date, day: date) -> int:
    """Completed years on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
