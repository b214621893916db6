"""Canonical text of amounts and quantities: the same whatever was written before."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway import money

CASES = [
    (Decimal("12.9"), "12.90", "12.9"),
    (Decimal("12.90000"), "12.90", "12.9"),
    (Decimal("1E+3"), "1000.00", "1000"),
    (Decimal("1.00005"), "1.00", "1"),
    (1.00005, "1.0001", "1"),  # a float is taken at its exact binary value
    (3, "3.00", "3"),
    ("4.5", "4.50", "4.5"),
    (Decimal("0"), "0.00", "0"),
    (Decimal("-0"), "-0.00", "-0"),
    (Decimal("-0.00001"), "-0.00", "-0"),
]


@pytest.mark.parametrize(("value", "amount", "quantity"), CASES)
def test_text_of_each_value(value, amount, quantity):
    assert (money.amount(value), money.quantity(value)) == (amount, quantity)


def test_equal_values_written_differently_keep_their_own_text():
    # Formatting is kept per process: 0 and -0 are equal (and hash alike), 1.00005 the
    # float and the decimal differ only past the last kept digit.
    for order in (CASES, CASES[::-1]):
        money._amount.cache_clear()
        money._quantity.cache_clear()
        assert [(money.amount(v), money.quantity(v)) for v, *_ in order] == [
            (a, q) for _, a, q in order
        ]
