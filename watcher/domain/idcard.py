"""Identity document numbers, checked by the rules of each 证件类型 (docs/requests.md).

Pure: `check_id(id_type, raw, today)` folds the number and returns what it encodes
(birth date, gender) or the problem with it. Standards: GB 11643-1999 (resident ID, ISO 7064
MOD 11-2 check character), GB/T 2260 province codes, the 2023 foreign permanent residence card.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from datetime import date

from .text import fold_id, label_key

RESIDENT = "身份证"
PASSPORT = "护照"
HK_MO_PERMIT = "港澳居民来往内地通行证"
TW_PERMIT = "台湾居民来往大陆通行证"
FOREIGN_PR = "外国人永久居留身份证"
HMT_RESIDENCE = "港澳台居民居住证"
OTHER = "其他"

ID_TYPES = (RESIDENT, PASSPORT, HK_MO_PERMIT, TW_PERMIT, FOREIGN_PR, HMT_RESIDENCE, OTHER)
# Types whose 18-character number ends in an ISO 7064 check character.
CHECKED = frozenset({RESIDENT, HMT_RESIDENCE, FOREIGN_PR})
# Types whose number says neither gender nor birth date: both are asked for whatever the number is.
SAYS_NOTHING = frozenset({PASSPORT, HK_MO_PERMIT, TW_PERMIT, OTHER})
ID_TYPE_SYNONYMS = {
    "居民身份证": RESIDENT,
    "身份证": RESIDENT,
    "二代身份证": RESIDENT,
    "护照": PASSPORT,
    "因私护照": PASSPORT,
    "港澳通行证": HK_MO_PERMIT,
    "回乡证": HK_MO_PERMIT,
    "港澳居民来往内地通行证": HK_MO_PERMIT,
    "台胞证": TW_PERMIT,
    "台湾通行证": TW_PERMIT,
    "台湾居民来往大陆通行证": TW_PERMIT,
    "外国人永久居留身份证": FOREIGN_PR,
    "外国人永久居留证": FOREIGN_PR,
    "永居证": FOREIGN_PR,
    "港澳台居民居住证": HMT_RESIDENCE,
    "居住证": HMT_RESIDENCE,
    "其他": OTHER,
    "其它": OTHER,
}

# GB/T 2260 province-level codes. Districts are not checked: old district codes stay valid on old cards.
PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71".split()
)
HMT_PREFIXES = ("810000", "820000", "830000")

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_ZEROS = ord("0") * sum(_WEIGHTS)  # what the digits' character codes add beyond their values
_CHECK_CHARS = "10X98765432"

_EXCEL_FLOAT_TEXT = re.compile(r"^\d+(\.\d+)?E\+?\d+$")
_FLOAT_EXACT_LIMIT = 2**53


@dataclass(frozen=True, slots=True)
class IdCheck:
    number: str  # the folded number ('' when missing)
    birth: date | None = None  # what the number encodes
    gender: str | None = None
    error: str | None = None  # a message code, see messages.py
    values: dict[str, object] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def mod11_2_check(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits (ASCII)."""
    total = sum(map(operator.mul, first17.encode("ascii"), _WEIGHTS)) - _ZEROS  # codes, not int() per digit
    return _CHECK_CHARS[total % 11]


def normalise_id_type(value: object) -> str | None:
    return ID_TYPE_SYNONYMS.get(label_key(value))


def id_text(raw: object) -> tuple[str, bool]:
    """The number as text, and whether Excel already turned it into a float and lost digits."""
    if raw is None:
        return "", False
    if isinstance(raw, bool):
        return str(raw), False
    if isinstance(raw, int):
        return str(raw), False
    if isinstance(raw, float):
        if raw != raw or raw.is_integer() is False or abs(raw) >= _FLOAT_EXACT_LIMIT:
            return repr(raw).upper(), True
        return str(int(raw)), False
    text = fold_id(str(raw))
    return text, bool(_EXCEL_FLOAT_TEXT.match(text))


def _fail(number: str, code: str, **values: object) -> IdCheck:
    return IdCheck(number, error=code, values=values)


def _date8(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _check_18(number: str, id_type: str, today: date) -> IdCheck:
    """The shared rules of the 18-character resident-style numbers."""
    if len(number) != 18:
        return _fail(number, "id.length", id_type=id_type, expected="18 位", length=len(number))
    if not (number[:17].isdigit() and number[:17].isascii()) or not (number[17].isdigit() or number[17] == "X"):
        return _fail(number, "id.chars", id_type=id_type, expected="前 17 位须为数字，最后一位为数字或 X")
    birth = _date8(number[6:14])
    if birth is None or birth.year < 1800:
        return _fail(number, "id.birth", value=number[6:14])
    if birth > today:
        return _fail(number, "id.birth_future", value=birth.isoformat())
    if number[17] != mod11_2_check(number[:17]):
        # Never say which character would pass: a clerk would type it, and a mistyped number would pass.
        if number.endswith("000"):  # Excel kept 15 digits of a number cell, the column since made text
            return _fail(number, "id.excel_zeros", value=number)
        return _fail(number, "id.checksum", id_type=id_type)
    gender = "男" if int(number[16]) % 2 == 1 else "女"
    return IdCheck(number, birth, gender)


def _resident(number: str, today: date) -> IdCheck:
    if len(number) == 15 and number.isdigit():
        return _fail(number, "id.old15")
    if len(number) == 18 and number[:6] in HMT_PREFIXES:
        return _fail(number, "id.region_is_permit", prefix=number[:6])
    if len(number) == 18 and number[:6].isdigit() and number[:2] not in PROVINCES:
        return _fail(number, "id.region", value=number[:6])
    return _check_18(number, RESIDENT, today)


def _hmt_residence(number: str, today: date) -> IdCheck:
    result = _check_18(number, HMT_RESIDENCE, today)
    if result.ok and number[:6] not in HMT_PREFIXES:
        return _fail(number, "id.region_permit")
    return result


_OLD_PR = re.compile(r"^[A-Z]{3}\d{12}$")


def _foreign_pr(number: str, today: date) -> IdCheck:
    if len(number) == 18:
        if not number.startswith("9"):
            return _fail(
                number,
                "id.format",
                id_type=FOREIGN_PR,
                expected="2023 版为 9 开头的 18 位；旧版为 3 个字母加 12 位数字",
            )
        return _check_18(number, FOREIGN_PR, today)
    if not _OLD_PR.match(number):
        return _fail(
            number, "id.format", id_type=FOREIGN_PR, expected="2023 版为 9 开头的 18 位；旧版为 3 个字母加 12 位数字"
        )
    # Old card: 3-letter nationality, 2-digit office, YYMMDD birth date, sequence and check.
    yy, mm, dd = int(number[5:7]), int(number[7:9]), int(number[9:11])
    for century in (2000, 1900):
        try:
            birth = date(century + yy, mm, dd)
        except ValueError:
            return _fail(number, "id.birth", value=number[5:11])
        if birth <= today:
            return IdCheck(number, birth, None)
    return _fail(number, "id.birth", value=number[5:11])


_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    PASSPORT: (
        re.compile(r"^(E\d{8}|E[A-Z]\d{7}|(DE|SE|PE)\d{7}|[A-Z0-9]{5,17})$"),
        "中国护照为 E 加 8 位数字、E 加 1 个字母和 7 位数字，或 DE/SE/PE 加 7 位数字；外国护照为 5–17 位字母和数字",
    ),
    HK_MO_PERMIT: (re.compile(r"^[HM](\d{8}|\d{10})$"), "应为 H 或 M 开头，后接 8 位或 10 位数字"),
    TW_PERMIT: (re.compile(r"^(\d{8}|[A-Z0-9]{10})$"), "应为 8 位数字（一次性通行证为 10 位字母和数字）"),
    OTHER: (re.compile(r"^[A-Z0-9-]{4,30}$"), "应为 4–30 位字母、数字或“-”"),
}


def check_id(id_type: str, raw: object, today: date, read: tuple[str, bool] | None = None) -> IdCheck:
    """Check one number of a known 证件类型 (already normalised) against today's date (`read`: id_text(raw),
    when the caller has it)."""
    number, excel_float = read if read is not None else id_text(raw)
    if not number:
        return _fail("", "id.required")
    if excel_float:
        return _fail(number, "id.excel_float", value=number)
    if id_type == RESIDENT:
        return _resident(number, today)
    if id_type == HMT_RESIDENCE:
        return _hmt_residence(number, today)
    if id_type == FOREIGN_PR:
        return _foreign_pr(number, today)
    pattern, expected = _PATTERNS[id_type]
    if id_type == OTHER and len(number) == 18:
        # A number that passes as a checked type's is that document: under 其他 the same traveller read as
        # another person, so a second policy for the same group and period, and a duplicate row, went unseen.
        for checked, check in ((RESIDENT, _resident), (HMT_RESIDENCE, _hmt_residence), (FOREIGN_PR, _foreign_pr)):
            if check(number, today).ok:
                return _fail(number, "id.other_is_checked", value=number, id_type=checked)
    if not pattern.match(number):
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and number.isdigit():
            # A number cell: Excel dropped the leading zeros (01234567 became 1234567). Said as such; what
            # the number should be is never said.
            if any(pattern.match("0" * k + number) for k in range(1, 4)):  # a zero or three lost, not a stub
                return _fail(number, "id.excel_number", value=number)
        return _fail(number, "id.format", id_type=id_type, expected=expected)
    return IdCheck(number)


def mask_id(number: str) -> str:
    """Show the first 3 and last 4 characters only (1 and 2 for short numbers)."""
    if len(number) >= 10:
        return number[:3] + "*" * (len(number) - 7) + number[-4:]
    if len(number) >= 4:
        return number[:1] + "*" * (len(number) - 3) + number[-2:]
    return "*" * len(number)


def typed_alike(a: str, b: str, most: int = 4) -> bool:
    """Whether ID number `b` could be `a` typed wrong: at most `most` characters put in, left out or changed
    (a slip in the birth digits changes the check character too; two digits swapped are two). Another
    person's number differs in far more: region, birth date, sequence and check all at once."""
    a, b = a.upper(), b.upper()
    if abs(len(a) - len(b)) > most:
        return False
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
        if min(row) > most:
            return False
    return row[-1] <= most


def same_document(type_a: str, number_a: str, type_b: str, number_b: str) -> bool:
    """Whether two (证件类型, 证件号码) are one traveller's: the same number under one type, or under 其他
    and any type (a passport typed once as 其他 was insured twice for the same group)."""
    return number_a == number_b and (type_a == type_b or OTHER in (type_a, type_b))
