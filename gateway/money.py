"""Canonical text for amounts and quantities, the same on every database backend."""

from __future__ import annotations

from decimal import Context, Decimal
from functools import lru_cache

# Enough digits for any value the gateway computes: an order line's amount (quantity up to
# 10^12 times a price under 10^14) and totals over many such lines. The default context's
# 28 digits made quantize() raise InvalidOperation for a line over 10^24.
_WIDE = Context(prec=60)
_FOUR = Decimal("0.0001")
_THREE = Decimal("0.001")
# The same amounts come back again and again (a cart's prices on every change of it):
# each is written once per process. Decimals are cached by their text, not by value:
# 0 and -0 are equal but written differently.
_CACHED = 8192


def amount(value: Decimal) -> str:
    """At least two decimals, up to four, never an exponent: 12.9000 -> '12.90'."""
    if type(value) is Decimal:
        return _amount(str(value))
    return _amount(value)


def quantity(value: Decimal) -> str:
    """No trailing zeros, never an exponent: 3.000 -> '3', 1.500 -> '1.5'."""
    if type(value) is Decimal:
        return _quantity(str(value))
    return _quantity(value)


@lru_cache(maxsize=_CACHED, typed=True)
def _amount(value) -> str:
    rendered = format(Decimal(value).quantize(_FOUR, context=_WIDE), "f")
    whole, _, frac = rendered.partition(".")
    return f"{whole}.{frac.rstrip('0').ljust(2, '0')}"


@lru_cache(maxsize=_CACHED, typed=True)
def _quantity(value) -> str:
    rendered = format(Decimal(value).quantize(_THREE, context=_WIDE), "f")
    return rendered.rstrip("0").rstrip(".") if "." in rendered else rendered
