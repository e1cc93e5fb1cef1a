"""One insured person from a roster row: names, ID, gender and birth date checked together. Pure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from . import idcard
from .dates import DateError, parse_date
from .text import clean, fold, fold_name, label_key

NAME_LIMIT = 60
GENDERS = {"男": "男", "女": "女", "M": "男", "F": "女", "男性": "男", "女性": "女", "MALE": "男", "FEMALE": "女"}
_NAME_OK = re.compile(r"^(?:[^\W\d_]|[ ·.'’\-])*[^\W\d_](?:[^\W\d_]|[ ·.'’\-])*$")


@dataclass(frozen=True, slots=True)
class PersonCells:
    """One roster row's cells as typed (None: the column is absent or the cell empty)."""

    name: object = None
    id_type: object = None
    id_no: object = None
    gender: object = None
    birth: object = None
    phone: object = None
    note: object = None
    id_read: tuple[str, bool] | None = None  # idcard.id_text(id_no), when the roster worked it out already
    # Its column is headed 出生年月: a date on the 1st is Excel's reading of a year and month typed there
    # (1985-05 becomes 1985-05-01, shown 1985年5月), not a day.
    birth_month: bool = False

    @classmethod
    def of(cls, cells: Mapping[str, object]) -> PersonCells:
        """From the roster's canonical column names (姓名, 证件类型 …) to their cells."""
        values = {COLUMN_FIELDS[name]: value for name, value in cells.items() if name in COLUMN_FIELDS}
        return cls(**values)  # type: ignore[arg-type]  # the cells of the columns: id_read is not among them


COLUMN_FIELDS = {
    "姓名": "name",
    "证件类型": "id_type",
    "证件号码": "id_no",
    "性别": "gender",
    "出生日期": "birth",
    "联系电话": "phone",
    "备注": "note",
}
CELL_COLUMNS = tuple(COLUMN_FIELDS)  # the column of each of PersonCells' fields, in their order


@dataclass(frozen=True, slots=True)
class PersonFacts:
    name: str
    id_type: str
    id_no: str
    gender: str
    birth: date
    phone: str
    note: str


@dataclass(frozen=True, slots=True)
class CellError:
    column: str  # canonical column name: 姓名, 证件类型 …
    code: str
    values: dict[str, Any]


def check_name(raw: object) -> tuple[str, CellError | None]:
    name = fold_name(clean(raw))
    if not name:
        return "", CellError("姓名", "name.required", {})
    if len(name) > NAME_LIMIT:
        return name, CellError("姓名", "name.too_long", {"length": len(name), "limit": NAME_LIMIT})
    # Letters of any script, spaces, the middle dot, . ' -; at least one letter (letters only: no need to look).
    if not (name.isalpha() or _NAME_OK.match(name)):
        bad = sorted({ch for ch in name if not (ch.isalpha() or ch in " ·.'’-") or ch.isdigit() or ch == "_"})
        shown = "、".join(f"“{ch}”" if ch.isprintable() else f"U+{ord(ch):04X}" for ch in bad) or "无字母或汉字"
        return name, CellError("姓名", "name.invalid", {"value": name, "chars": shown})
    return name, None


def check_gender(raw: object) -> tuple[str | None, CellError | None]:
    text = label_key(raw).upper()
    if not text:
        return None, None
    gender = GENDERS.get(text)
    if gender is None:
        return None, CellError("性别", "gender.invalid", {"value": clean(raw)})
    return gender, None


_YEAR_MONTH = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?")


def _year_month(raw: object) -> tuple[int, int] | None:
    """A birth 'date' of a year and month only (1990-01, 1990年1月, or 1990.01 typed as a number), as a
    column named 出生年月 invites; (year, 0) for a year alone typed as a number. A number from 1900 to 2099
    is never Excel's date serial (that would be a birth in 1905): it was taken for one, and the clerk who
    typed 1990.01 was told 1905-06-12 does not match the ID."""
    if type(raw) in (int, float) and 1900 <= raw < 2100:  # type: ignore[operator]
        typed = Decimal(repr(raw))  # the digits as typed (1990.12), not the float's binary approximation
        year = int(typed)
        month = round((typed - year) * 100)
        return (year, month) if 0 <= month <= 12 else None
    m = _YEAR_MONTH.fullmatch(fold(clean(raw))) if isinstance(raw, str) else None
    return (int(m.group(1)), int(m.group(2))) if m and 1 <= int(m.group(2)) <= 12 else None


def _month_cell(raw: object) -> tuple[int, int] | None:
    """A date cell on the 1st of a month at midnight: (year, month)."""
    if isinstance(raw, datetime):
        return (raw.year, raw.month) if raw.day == 1 and raw.time() == time() else None
    return (raw.year, raw.month) if isinstance(raw, date) and raw.day == 1 else None


def check_birth(raw: object, today: date) -> tuple[date | None, CellError | None]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    try:
        birth = parse_date(raw)
    except (DateError, ValueError):
        return None, CellError("出生日期", "birth.invalid", {"value": clean(raw)})
    if birth > today:
        return None, CellError("出生日期", "birth.future", {"value": birth.isoformat()})
    return birth, None


def _born_otherwise(raw: object, number: str, today: date) -> bool:
    """Whether a birth date is typed, readable, and not the one an 18-character number encodes."""
    birth, err = check_birth(raw, today)
    return birth is not None and err is None and birth.strftime("%Y%m%d") != number[6:14]


def check_person(cells: PersonCells, today: date) -> tuple[PersonFacts | None, list[CellError]]:
    """Every problem of one row (not only the first)."""
    errors: list[CellError] = []
    name, err = check_name(cells.name)
    if err:
        errors.append(err)

    raw_type = cells.id_type
    typed = clean(raw_type)
    id_type = idcard.normalise_id_type(raw_type) if typed else None
    if not typed:
        errors.append(CellError("证件类型", "id_type.required", {}))
    elif id_type is None:
        errors.append(CellError("证件类型", "id_type.invalid", {"value": typed, "allowed": "、".join(idcard.ID_TYPES)}))

    id_check = None
    if id_type:
        id_check = idcard.check_id(id_type, cells.id_no, today, cells.id_read)
        if id_check.error == "id.other_is_checked" and _born_otherwise(cells.birth, id_check.number, today):
            # The birth date typed is not the one the number encodes: another document's number that happens
            # to pass the check, not this traveller's 身份证.
            id_check = idcard.IdCheck(id_check.number)
        if not id_check.ok:
            errors.append(CellError("证件号码", id_check.error or "id.invalid", id_check.values or {}))
    elif not clean(cells.id_no):
        errors.append(CellError("证件号码", "id.required", {}))

    gender, err = check_gender(cells.gender)
    if err:
        errors.append(err)
    encoded = id_check.birth if id_check is not None and id_check.ok else None
    month, shown = _year_month(cells.birth), clean(cells.birth)
    if month is None and cells.birth_month and encoded is not None:
        # A date cell under 出生年月 shown as a year and month: the number gives the day. (Without a number that
        # encodes one, the 1st stands as typed: it may be the birthday.)
        month = _month_cell(cells.birth)
        shown = f"{month[0]}-{month[1]:02d}" if month else shown
    if month is None:
        birth, err = check_birth(cells.birth, today)
    else:  # 出生年月 as a column's name says: a year and month (or a year alone), no day
        birth = None
        if encoded is None:
            err = CellError("出生日期", "birth.month_only", {"value": shown})
        elif encoded.year != month[0] or (month[1] and encoded.month != month[1]):
            err = CellError("出生日期", "birth.mismatch", {"value": shown})
        else:
            err = None  # it agrees with the number, which gives the day
    if err:
        errors.append(err)

    if id_check is not None and id_check.ok:
        if id_check.gender is None and gender is None and "性别" not in {e.column for e in errors}:
            errors.append(CellError("性别", "gender.required", {"id_type": id_type}))
        elif id_check.gender and gender and gender != id_check.gender:
            errors.append(CellError("性别", "gender.mismatch", {"value": gender}))
        if id_check.birth is None and birth is None and "出生日期" not in {e.column for e in errors}:
            errors.append(CellError("出生日期", "birth.required", {"id_type": id_type}))
        elif id_check.birth and birth and birth != id_check.birth:
            errors.append(CellError("出生日期", "birth.mismatch", {"value": birth.isoformat()}))
    elif id_type in idcard.SAYS_NOTHING:  # its number is wrong, but 性别 and 出生日期 are needed all the same
        said = {e.column for e in errors}
        if gender is None and "性别" not in said:
            errors.append(CellError("性别", "gender.required", {"id_type": id_type}))
        if birth is None and "出生日期" not in said:
            errors.append(CellError("出生日期", "birth.required", {"id_type": id_type}))

    if errors:
        return None, errors
    # Without errors the type was given, its number checked, and gender and birth known (the checks above).
    assert id_type and id_check is not None
    known_gender, known_birth = id_check.gender or gender, id_check.birth or birth
    assert known_gender is not None and known_birth is not None
    return PersonFacts(
        name=name,
        id_type=id_type,
        id_no=id_check.number,
        gender=known_gender,
        birth=known_birth,
        phone=clean(fold(clean(cells.phone))) if cells.phone is not None else "",
        note=unicodedata.normalize("NFC", clean(cells.note)),
    ), []
