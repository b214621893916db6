"""Numbers read from documents: the shortcut for plain numbers decides as the full checks do."""

from __future__ import annotations

import re

import pytest

from gateway.cxml import values
from gateway.cxml.values import MAX_QUANTITY, Problems, decimal

NUMBERS = [
    "0",
    "1",
    "12.90",
    "0012.9000000000",
    "0.0000000001",
    "0.00000000001",  # 11 decimal places
    "999999999999",
    "1000000000000",
    "99999999999999",
    "100000000000000",
    "99999999999999999999",
    "123456789012345678901",
    "00000000000000000000000000000000000001",
    "1.",
    ".5",
    "1e3",
    "-1",
    "-0",
    "+1",
    " 7 ",
    "",
    "NaN",
    "Infinity",
    "\u0663",  # ARABIC-INDIC DIGIT THREE
    "1_000",
]
OPTIONS = [
    {},
    {"positive": True},
    {"maximum": MAX_QUANTITY, "positive": True},
    {"negative_ok": True},
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("raw", NUMBERS)
def test_plain_numbers_read_as_the_full_checks_read_them(raw, options, monkeypatch):
    quick_problems = Problems()
    quick = decimal(raw, "Money", quick_problems, **options)
    monkeypatch.setattr(values, "_PLAIN_NUMBER", re.compile(r"(?!)"))  # never a shortcut
    full_problems = Problems()
    full = decimal(raw, "Money", full_problems, **options)
    assert quick_problems.items == full_problems.items
    # The same value, written alike (12.90 keeps its two places).
    assert str(quick) == str(full)
