"""Money is integer fen inside watcher; Decimal yuan only at the edges (cells, JSON strings)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .text import fold

FEN = Decimal("0.01")
NOISE = Decimal("0.000001")  # how far a float may sit from the fen it shows, by binary arithmetic alone
# No amount on this desk comes near 10 billion yuan; one past it is a typing error (and its sums would not fit
# the ledger's integers).
MAX_YUAN = Decimal(10) ** 10


class MoneyError(ValueError):
    pass


def to_fen(amount: Decimal) -> int:
    """Yuan as Decimal to fen, rounded half-up."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


_MARKS = re.compile(r"^(?:[¥￥]|RMB|CNY)\s*|\s*(?:元|RMB|CNY)$", re.IGNORECASE)  # ¥50, 50元, RMB 50
_AMOUNT = re.compile(r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+|\d+)(?:\.\d+)?|\.\d+)")


def parse_yuan(value: object) -> Decimal:
    """An amount in yuan from a cell: 50, 50.5, '1,234.50', '1 234.50', '¥50', '50元'. At most two decimals;
    thousands grouped by threes or not at all."""
    if isinstance(value, bool) or value is None:
        raise MoneyError(value)
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value))  # the shortest repr is what the clerk typed
        near = amount.quantize(FEN) if amount.is_finite() else amount
        if amount != near and abs(amount - near) < NOISE:
            amount = near  # a sum Excel worked out in binary (=39.7+0.1+0.2 is 40.00000000000001), shown 40.00
    else:
        text = _MARKS.sub("", fold(str(value)).strip()).strip()
        # Digits grouped by thousands or not grouped at all: '120,00' (a decimal comma) or '1,20.00' is a
        # typing error, never 12,000 or 120; nor is '1e2' an amount anyone types.
        if not _AMOUNT.fullmatch(text):
            raise MoneyError(value)
        try:
            amount = Decimal(text.replace(",", "").replace(" ", ""))
        except InvalidOperation as exc:
            raise MoneyError(value) from exc
    if not amount.is_finite() or abs(amount) >= MAX_YUAN or amount != amount.quantize(FEN):
        raise MoneyError(value)
    return amount


def parse_fen(value: object) -> int:
    return to_fen(parse_yuan(value))


def yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


def yuan_text(fen: int) -> str:
    """'1234.50': money in JSON."""
    return str(yuan(fen))


def yuan_display(fen: int) -> str:
    """'1,234.50': money on pages."""
    return f"{yuan(fen):,}"


@dataclass(frozen=True, slots=True)
class Amount:
    """An amount a summary shows: a number formatted #,##0.00 in a workbook, never text."""

    fen: int
