"""Safe names for the files watcher writes, whatever name the clerk's file had.

Control characters, path separators and the characters Windows refuses become `_`; leading and
trailing dots and spaces go (no hidden files, no `..`); reserved Windows names (CON, NUL, COM1 …)
get a leading `_`; the name is cut to a length every filesystem takes. What is left still lets the
clerk recognise their file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..layout import Layout
    from .desk import Desk

import os
import re
import unicodedata

# Control characters, the characters Windows refuses, and the bidirectional controls that can make
# 团‮xslx.exe look like 团exe.xlsx (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C).
_UNSAFE = re.compile('[\x00-\x1f\x7f<>:"/\\\\|?*\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029]')
RESERVED_NAME = re.compile(r"^(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³])$", re.IGNORECASE)
STEM_BYTES = 120  # leaves room for _结果_NN.xlsx and archive prefixes within 255 bytes


def display_name(name: str) -> str:
    """A file name as the person who dropped it meant it. Python hands a name that is not UTF-8 (a GBK
    name from an old Samba share) over with lone surrogates; its bytes are decoded as GB18030 where
    they can be, else what cannot be decoded becomes U+FFFD. The result always encodes as UTF-8."""
    raw = os.fsencode(name)
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


def cut(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8, never splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def safe_stem(stem: str) -> str:
    text = unicodedata.normalize("NFC", stem)
    text = _UNSAFE.sub("_", text)
    text = text.strip(" .\u3000")
    if RESERVED_NAME.match(text.split(".")[0]):
        text = "_" + text
    text = cut(text, STEM_BYTES).rstrip(" .")
    return text or "文件"


def safe_name(name: str) -> str:
    """A whole file name: safe stem, and an extension of letters and digits only."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not re.fullmatch(r"[A-Za-z0-9]{1,8}", ext):
        return safe_stem(name)
    return f"{safe_stem(stem)}.{ext.lower()}"


def result_stem(desk: Desk, who: str, original: str) -> str:
    """团A.xlsx → 团A_结果; a later file of the same name → 团A_结果_2. Nothing is ever overwritten."""
    stem = safe_stem(Path(original).stem if "." in original else original)
    out = desk.layout.out(who)
    n = 1
    while True:
        candidate = f"{stem}_结果" if n == 1 else f"{stem}_结果_{n}"
        names = (candidate + ".xlsx", candidate + ".json")
        if (
            (who, candidate) not in desk.reserved
            and not any((out / name).exists() for name in names)
            and not desk.ledger.output_taken(who, *names)
            and desk.ledger.reserve_stem(who, candidate, desk.now())
        ):  # the final word, across workers
            return candidate
        n += 1


def policy_page_name(policy_no: str) -> str:
    return f"电子保单_{policy_no}.html"


SKIPPED_LIST = ".watcher-skipped-numbers.txt"  # in the root: numbers skipped for a file already there


class Printed:
    """Where a policy number's page already lies in the outbox (else None), for Ledger.issue_policy. Its own
    agency's folder always (one stat); every agency's folder for the first numbers after a start and after
    any found (numbers are the desk's, not an agency's: after a whole root restored with the outbox kept, the
    next numbers' pages lie in whichever agency's folder they went to). Looking in every folder for every
    number cost 11 ms a policy with 500 agencies."""

    WIDE = 20

    def __init__(self, layout: Layout):
        self.layout = layout
        self.wide = self.WIDE

    def __call__(self, number: str, agency: str) -> Path | None:
        name = policy_page_name(number)
        own = self.layout.out(agency) / name
        if own.exists():
            found: Path | None = own
        else:
            found = self._everywhere(name) if self.wide > 0 else None
            self.wide = max(0, self.wide - 1)
        if found is not None:
            self.wide = self.WIDE
        return found

    def statement(self, number: str, agency: str) -> Path | None:
        """Where a file of this statement number already lies: its workbook, page or JSON twin in any agency's
        outbox (numbers are the desk's: the next ones after a restore may be another agency's statements), or
        its exchange file for the core system. Statements are few: every folder, every time."""
        from ..io.core_exchange import core_name
        from ..io.statement_book import statement_names
        from ..layout import CORE

        found = self._everywhere(*statement_names(number))
        core = self.layout.out(CORE) / core_name(number)
        return found or (core if core.exists() else None)

    def _everywhere(self, *names: str) -> Path | None:
        """The first of these names found in any folder of the outbox (the folders listed once)."""
        try:
            with os.scandir(self.layout.outbox) as entries:
                folders = [Path(e.path) for e in entries if e.is_dir()]
        except OSError:
            return None  # (an outbox away: the outputs wait for it; a page found then is set aside)
        return next((folder / n for folder in folders for n in names if (folder / n).exists()), None)
