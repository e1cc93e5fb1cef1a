"""Folding the text clerks type: full-width forms, stray spaces, the many middle dots of names."""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Context, Decimal
from functools import lru_cache

_SPACES = re.compile(r"\s+")
# The middle dots found in minority and foreign names, typed on different keyboards.
_DOTS = str.maketrans({c: "·" for c in "·•・‧∙⋅･·"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Characters nobody sees in a cell: zero-width spaces and joiners, direction marks (phones wrap a copied
# number in U+202D … U+202C), the byte-order mark, the soft hyphen. Dropped from IDs and names.
_INVISIBLE = dict.fromkeys(
    [0x00AD, 0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2065), *range(0x2066, 0x206A)]
    + [0xFEFF]
)


def fold(text: str) -> str:
    """Full-width Latin letters, digits and spaces to their ASCII forms (NFKC)."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)  # ASCII is its own NFKC form


def code_text(text: str) -> str:
    """A code as typed (方案代码, 机构代码): full-width folded, spaces removed, upper case (ＧＮ－Ａ, gn-a and
    ' GN-A ' are GN-A, as the 方案 upload already took them)."""
    return "".join(fold(text).split()).upper()


def group_key(text: str) -> str:
    """A tour group's code as compared: full-width folded, spaces removed, case ignored (GZ-T1, gz-t1 and
    ＧＺ－Ｔ１ are one group, as 投保 already took them)."""
    return "".join(fold(text).split()).casefold()


def clean(value: object) -> str:
    """A cell value as trimmed text with inner runs of space collapsed; None is ''."""
    if type(value) is str:  # most cells: no conversion to make
        text = value.strip()
        if "  " in text or "\u3000" in text or "\t" in text or "\n" in text or "\r" in text:
            text = _SPACES.sub(" ", text.replace("\u3000", " ")).strip()
        return text
    if value is None:
        return ""
    if type(value) is bool:  # a logical cell, as Excel shows it
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # calamine reads every number as a float: 13800138000.0
    if not isinstance(value, str):
        value = str(value)
    text = value.strip()
    if "  " in text or "\u3000" in text or "\t" in text or "\n" in text or "\r" in text:
        text = _SPACES.sub(" ", text.replace("\u3000", " ")).strip()
    return text


def label_key(text: object) -> str:
    """The key a label or header is matched by: folded, no spaces, no trailing colon or required-mark."""
    if isinstance(text, str):
        return _label_key(text)  # the same few labels and choices recur on every row
    return _label_key(clean(text))


@lru_cache(maxsize=4096)
def _label_key(text: str) -> str:
    key = fold(clean(text))
    key = re.sub(r"[（(][^）)]*[）)]$", "", key)  # "姓名（必填）"
    key = key.replace(" ", "").rstrip(":：").strip("*＊")
    return key


_GLOSS = re.compile(r"[\s/|]*[A-Za-z][A-Za-z0-9 .,'/#&\-]*")


def header_key(text: str) -> str:
    """A table header with its English gloss taken off (`姓名 Name`, `证件号码\nID No.`, `性别/Sex`: a
    bilingual roster's), for a header whose own key names no column. The gloss is what follows the last
    Chinese character, when it is Latin only; a short header only (a long text is no header)."""
    text = clean(text)
    if len(text) > 60 or text.isascii():
        return ""
    last = max((i for i, ch in enumerate(text) if "\u3400" <= ch <= "\u9fff"), default=-1)
    if last < 0 or not _GLOSS.fullmatch(text, last + 1):
        return ""
    return label_key(text[: last + 1])


# A space (half- or full-width, folded first) between two Chinese characters: 李　雷 is 李雷. Latin names
# keep theirs (one each).
_HAN_SPACE = re.compile(r"(?<=[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]) (?=[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")


def fold_name(text: str) -> str:
    name = fold(text).translate(_DOTS)
    if name.isalpha():  # letters only (most names): no space or dot to tidy
        return name
    name = name.translate(_INVISIBLE)
    name = _SPACES.sub(" ", name).strip().replace(" · ", "·").replace(" ·", "·").replace("· ", "·")
    return _HAN_SPACE.sub("", name)


def fold_id(text: str) -> str:
    """ID numbers: full-width folded, every space and invisible character removed, letters upper-case (`x`
    read as `X`), and the apostrophe Excel users type to keep a number as text (a CSV keeps it) dropped."""
    text = fold(text)
    if text.isalnum():  # most IDs
        return text.upper()
    text = _SPACES.sub("", text.translate(_INVISIBLE)).lstrip("'‘’`")
    return text.upper()


def digits_lost(value: object) -> bool:
    """A number where an identifier belongs (旅行团号, 营业执照号, 收据号 …) of 16 digits or more: Excel keeps
    15 significant digits, so the digits after them are already zeros and the number the clerk typed is gone."""
    return type(value) in (int, float) and math.isfinite(value) and abs(value) >= 1e15  # type: ignore[arg-type]


_SHOWN_DIGITS = Context(prec=15)  # Excel's 15 significant digits (the value as stored, exact, then rounded)


def excel_shown(value: int | float) -> str:
    """A long number as Excel shows it, 15 significant digits and zeros after (20261205000012345 is
    20261205000012300): the digits a clerk sees in the cell, not the float's binary tail (…12349440)."""
    return str(int(_SHOWN_DIGITS.plus(Decimal(value))))


def strip_control(text: str) -> str:
    """Control characters cannot live in a workbook's XML; show them as U+FFFD instead."""
    return _CONTROL.sub("\ufffd", text)
