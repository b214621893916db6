"""Numbers, dates and identifiers read from documents, checked where they are read.

Every value is checked against a documented range as it is parsed, so nothing
fails later while a payload is built or a row is written (both databases then
answer alike). Problems are collected, not raised one by one, so that a buyer's
staff see every problem of a document in one Status.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from gateway.cxml.errors import NotAcceptable
from gateway.cxml.timestamps import parse_timestamp
from gateway.ranges import INT_MAX, MONEY_MAX

# Stored as NUMERIC(18, 4): 14 digits before the point.
MAX_AMOUNT = MONEY_MAX - 1
MAX_QUANTITY = Decimal("999999999999")
MAX_DECIMALS = 10
MAX_LINE_NUMBER = INT_MAX  # a 32-bit INTEGER column on both databases
MAX_VERSION = INT_MAX
MAX_ORDER_ID = 100  # orders.order_id
MAX_STATUS_TEXT = 1000  # characters of problems in a Status text attribute
_DIGITS = re.compile(r"^\d{1,10}$")
# A number every check of ``decimal`` but the range and sign ones passes: finite, not
# negative, at most MAX_DECIMALS places, far below 10 ** 30. Nearly every quantity and
# price a document holds; it skips the checks' calls (20,000 on a 10,000-line order).
_PLAIN_NUMBER = re.compile(rf"[0-9]{{1,20}}(?:\.[0-9]{{1,{MAX_DECIMALS}}})?")
_EXPIRY = re.compile(r"^(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?:[T ].*)?$")
_EXPIRY_SLASHED = re.compile(r"^(\d{1,2})/(\d{2}|\d{4})$")  # MM/YY as printed on cards


class Problems:
    """Every problem of one document; each named once, by what the buyer can look up."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        if message not in self.items:
            self.items.append(message)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise NotAcceptableProblems(self.items)


class NotAcceptableProblems(NotAcceptable):
    """406 with every problem of the document; the text attribute stays bounded."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        shown: list[str] = []
        length = 0
        for problem in self.problems:
            if shown and length + len(problem) > MAX_STATUS_TEXT:
                break
            shown.append(problem)
            length += len(problem) + 2
        rest = len(self.problems) - len(shown)
        detail = "; ".join(shown) + (f"; and {rest} more" if rest else "")
        if len(self.problems) > 1:
            detail = f"{len(self.problems)} problems: {detail}"
        super().__init__(detail)


def decimal(
    raw: str | None,
    where: str,
    problems: Problems,
    *,
    maximum: Decimal = MAX_AMOUNT,
    positive: bool = False,
    negative_ok: bool = False,
) -> Decimal | None:
    """A finite decimal within ±maximum, or None after recording why not."""
    value = (raw or "").strip()
    if _PLAIN_NUMBER.fullmatch(value):
        number = Decimal(value)
        if number <= maximum and (number > 0 or not positive):
            return number
        # Out of range: the checks below name the problem.
    if not value:
        problems.add(f"{where} is missing")
        return None
    if len(value) > 40:
        problems.add(f"{where} {value[:20]!r}… is not a number in range")
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        problems.add(f"{where} {value!r} is not a number")
        return None
    # copy_abs and adjusted need no context: 1E+999999999 must not overflow here.
    if not number.is_finite() or number.adjusted() > 30 or number.copy_abs() > maximum:
        problems.add(f"{where} {value!r} is out of range (at most {maximum})")
        return None
    if number.as_tuple().exponent < -MAX_DECIMALS:
        problems.add(f"{where} {value!r} has more than {MAX_DECIMALS} decimal places")
        return None
    if positive and number <= 0:
        problems.add(f"{where} {value!r} must be more than 0")
        return None
    if not negative_ok and number < 0:
        problems.add(f"{where} {value!r} must not be negative")
        return None
    return number


def whole_number(raw: str | None, where: str, problems: Problems, maximum: int) -> int | None:
    """A whole number from 1 to maximum, or None after recording why not."""
    value = (raw or "").strip()
    if not _DIGITS.match(value) or not 1 <= int(value) <= maximum:
        shown = value if len(value) <= 20 else value[:20] + "…"
        problems.add(f"{where} {shown!r} is not a whole number from 1 to {maximum}")
        return None
    return int(value)


def document_date(raw: str | None, where: str, problems: Problems) -> str | None:
    """A date or date-time a buyer's staff would recognise; kept as sent."""
    value = (raw or "").strip()
    if not value:
        return None
    if len(value) > 60 or parse_timestamp(value) is None:
        shown = value if len(value) <= 30 else value[:30] + "…"
        problems.add(f"{where} {shown!r} is not a date")
        return None
    return value


def card_expiry(raw: str | None, where: str, problems: Problems) -> str:
    """A PCard expiration (YYYY-MM[-DD] as the DTD asks, or MM/YY as cards print it)."""
    value = (raw or "").strip()
    if not value:
        return ""
    try:
        if match := _EXPIRY.match(value):
            year, month, day = match.groups()
        elif match := _EXPIRY_SLASHED.match(value):
            month, year = match.groups()
            year, day = (f"20{year}" if len(year) == 2 else year), None
        else:
            raise ValueError
        date(int(year), int(month), int(day or 1))
    except ValueError:
        problems.add(f"{where} {value[:30]!r} is not a card expiry date")
        return ""
    return value
