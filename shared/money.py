"""Money and rates: half-up rounding to the cent, and one written form for every rate."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_CENT = Decimal(1)


def round_cents(amount: Decimal) -> int:
    """A Decimal amount of cents rounded to a whole cent, half up (a half cent goes away from zero)."""
    return int(amount.quantize(_CENT, rounding=ROUND_HALF_UP))


def canonical_decimal(value: Decimal) -> str:
    """A rate or share as every API and event writes it: no padding zeros, no exponent (0.035000 → "0.035")."""
    normal = value.normalize()
    return format(normal, "f") if normal != 0 else "0"
