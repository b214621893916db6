"""Canonical text for amounts and quantities, the same on every database backend."""

from __future__ import annotations

from decimal import Decimal


def amount(value: Decimal) -> str:
    """At least two decimals, up to four, never an exponent: 12.9000 -> '12.90'."""
    rendered = format(Decimal(value).quantize(Decimal("0.0001")), "f")
    whole, _, frac = rendered.partition(".")
    return f"{whole}.{frac.rstrip('0').ljust(2, '0')}"


def quantity(value: Decimal) -> str:
    """No trailing zeros, never an exponent: 3.000 -> '3', 1.500 -> '1.5'."""
    rendered = format(Decimal(value).quantize(Decimal("0.001")), "f")
    return rendered.rstrip("0").rstrip(".") if "." in rendered else rendered
