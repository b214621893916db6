"""Canonical text for amounts and quantities, the same on every database backend."""

from __future__ import annotations

from decimal import Context, Decimal

# Enough digits for any value the gateway computes: an order line's amount (quantity up to
# 10^12 times a price under 10^14) and totals over many such lines. The default context's
# 28 digits made quantize() raise InvalidOperation for a line over 10^24.
_WIDE = Context(prec=60)


def amount(value: Decimal) -> str:
    """At least two decimals, up to four, never an exponent: 12.9000 -> '12.90'."""
    rendered = format(Decimal(value).quantize(Decimal("0.0001"), context=_WIDE), "f")
    whole, _, frac = rendered.partition(".")
    return f"{whole}.{frac.rstrip('0').ljust(2, '0')}"


def quantity(value: Decimal) -> str:
    """No trailing zeros, never an exponent: 3.000 -> '3', 1.500 -> '1.5'."""
    rendered = format(Decimal(value).quantize(Decimal("0.001"), context=_WIDE), "f")
    return rendered.rstrip("0").rstrip(".") if "." in rendered else rendered
