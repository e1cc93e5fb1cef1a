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


def editor_lock(folder: Path, name: str) -> str | None:
    """The lock file Excel or WPS (`~$团A.xlsx`) or LibreOffice (`.~lock.团A.xlsx#`) keeps beside a workbook
    while it is open, where one lies in `folder`: a workbook saved into the drop folder while still being
    filled in is taken at its first save (SPEC: taken once stable), and its result must say so."""
    for lock in (f"~${name}", f".~lock.{name}#"):
        try:
            if (folder / lock).is_file():
                return lock
        except OSError:
            continue
    return None


SKIPPED_LIST = ".watcher-skipped-numbers.txt"  # in the root: numbers skipped for a file already there


class Printed:
    """Where a number's file already lies in the outbox (else None), for Ledger._unprinted: a policy's page, a
    statement's workbook, page, JSON twin or exchange file. Its own agency's folder by name (one stat); every
    folder by serial, listed once at the first number asked (numbers are the desk's, not an agency's: after a
    whole root restored with the outbox kept, the next numbers' files lie in whichever agency's folder they
    went to). By serial, not by name: the serial never repeats whatever the date before it, and a root
    restored on another day drew LY<today>0000042 beside the page of LY<that day>0000042 the restored ledger
    lacks (attack S). Only serials from the first asked on are kept: the ledger never draws one below it
    again. Looking in every folder for every number cost 11 ms a policy with 500 agencies; the listing, once,
    about 1 ms a thousand files."""

    _POLICY = re.compile(r"电子保单_LY\d{8}(\d{7,})\.html", re.ASCII)
    _STATEMENT = re.compile(r"对账单_DZ\d{6}(\d{6,})\.(?:xlsx|json|html)|SETTLE_DZ\d{6}(\d{6,})\.csv", re.ASCII)

    def __init__(self, layout: Layout):
        self.layout = layout
        # pattern → (serial → a file of that serial), listed at the first number asked of its kind
        self._listings: dict[re.Pattern[str], dict[int, Path]] = {}

    def __call__(self, number: str, agency: str) -> Path | None:
        own = self.layout.out(agency) / policy_page_name(number)
        return own if own.exists() else self._by_serial(self._POLICY, int(number[10:]))

    def statement(self, number: str, agency: str) -> Path | None:
        from ..io.statement_book import statement_names

        own = self.layout.out(agency)
        found = next((own / name for name in statement_names(number) if (own / name).exists()), None)
        return found or self._by_serial(self._STATEMENT, int(number[8:]))

    def _by_serial(self, pattern: re.Pattern[str], serial: int) -> Path | None:
        listing = self._listings.get(pattern)
        if listing is None:
            listing, whole = self._listed(pattern, serial)
            if whole:  # (a folder unread: listed again at the next number, never kept so)
                self._listings[pattern] = listing
        return listing.get(serial)

    def _listed(self, pattern: re.Pattern[str], lowest: int) -> tuple[dict[int, Path], bool]:
        """serial → the first file found of each serial from `lowest` on whose name `pattern` matches, in every
        folder of the outbox (`_core`'s exchange files too); and whether every folder was read (an outbox not
        yet mounted when serve started: a listing kept empty would have let a restore go unseen for weeks)."""
        found: dict[int, Path] = {}
        try:
            with os.scandir(self.layout.outbox) as entries:
                folders = [e.path for e in entries if e.is_dir()]
        except OSError:
            return found, False  # (an outbox away: the outputs wait for it; a page found then is set aside)
        whole = True
        for folder in folders:
            try:
                with os.scandir(folder) as entries:
                    names = [e.name for e in entries]
            except OSError:
                whole = False
                continue
            for name in names:
                if (match := pattern.fullmatch(name)) is not None:
                    serial = int(match.group(match.lastindex or 1))
                    if serial >= lowest:
                        found.setdefault(serial, Path(folder) / name)
        return found, whole
