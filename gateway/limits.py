"""Storage limits, checked before anything is written.

SQLite stores a 10,000-character payloadID in a VARCHAR(300), a 30-digit
integer and a NUL byte without complaint; PostgreSQL refuses all three with a
database error. So that both answer the same, every value an ORM flush is
about to write is checked here first, and a value the database could not
store raises :class:`StorageLimit` naming the field in the sender's words
(``BuyerCookie``, ``payloadID``...). The edges turn it into a 4xx; only a real
outage is ever a 500.

The documented ranges themselves are in :mod:`gateway.ranges`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from itertools import repeat
from operator import is_not

from sqlalchemy import JSON, Integer, String, Text, event, inspect
from sqlalchemy.orm import Session

from gateway.models import Money
from gateway.ranges import INT_MAX, MONEY_MAX

# The names buyers and operators know the stored fields by.
FIELD_NAMES = {
    ("punchout_sessions", "buyer_cookie"): "BuyerCookie",
    ("punchout_sessions", "payload_id"): "payloadID",
    ("punchout_sessions", "selected_sku"): "SelectedItem/SupplierPartID",
    ("punchout_sessions", "cxml_version"): "cXML version",
    ("orders", "order_id"): "OrderRequestHeader/@orderID",
    ("orders", "payload_id"): "payloadID",
    ("orders", "order_date"): "OrderRequestHeader/@orderDate",
    ("orders", "version"): "OrderRequestHeader/@orderVersion",
    ("orders", "total"): "OrderRequestHeader/Total",
    ("orders", "currency"): "Money/@currency",
    ("order_lines", "line_number"): "ItemOut/@lineNumber",
    ("order_lines", "sku"): "ItemOut/ItemID/SupplierPartID",
    ("order_lines", "aux_id"): "ItemOut/ItemID/SupplierPartAuxiliaryID",
    ("order_lines", "quantity"): "ItemOut/@quantity",
    ("order_lines", "unit_price"): "ItemOut/ItemDetail/UnitPrice",
    ("order_lines", "uom"): "ItemOut/ItemDetail/UnitOfMeasure",
    ("order_lines", "currency"): "Money/@currency",
    ("order_lines", "requested_delivery_date"): "ItemOut/@requestedDeliveryDate",
    ("users", "email"): "UserEmail",
    ("users", "unique_name"): "UniqueName",
    ("users", "name"): "user name",
    ("cart_lines", "sku"): "SupplierPartID",
    ("cart_lines", "quantity"): "quantity",
    ("attachments", "content_id"): "attachment Content-ID",
    ("attachments", "content_type"): "attachment Content-Type",
    ("attachments", "filename"): "attachment file name",
}


class StorageLimit(ValueError):
    """A value the database cannot store; ``field`` names it as the sender knows it."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def field_name(table: str, column: str) -> str:
    return FIELD_NAMES.get((table, column), f"{table}.{column}")


def check_text(field: str, value: str, max_length: int | None = None) -> str:
    """``value`` unchanged, or StorageLimit when it has a NUL or is too long."""
    if "\x00" in value:
        raise StorageLimit(field, "contains a NUL character")
    if max_length is not None and len(value) > max_length:
        raise StorageLimit(field, f"is {len(value)} characters long; at most {max_length}")
    return value


def check_amount(field: str, value: Decimal) -> Decimal:
    """``value`` unchanged, or StorageLimit when NUMERIC(18, 4) cannot hold it."""
    if not value.is_finite() or abs(value) >= MONEY_MAX:
        raise StorageLimit(field, f"is out of range (at most {MONEY_MAX - 1} in magnitude)")
    return value


def check_integer(field: str, value: int, low: int = -INT_MAX - 1) -> int:
    if value < low or value > INT_MAX:
        raise StorageLimit(field, f"is out of range ({low} to {INT_MAX})")
    return value


def _json_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_json_nul(k) or _json_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_json_nul(v) for v in value)
    return False


def _checker(table: str, column) -> Callable[[object], object] | None:
    """The check for one column's values, or None when any value fits."""
    name = field_name(table, column.key)
    kind = column.type
    if isinstance(kind, Money):
        return lambda value: check_amount(name, Decimal(value))
    if isinstance(kind, String | Text):
        length = getattr(kind, "length", None)
        return lambda value: isinstance(value, str) and check_text(name, value, length)
    if isinstance(kind, Integer):
        return lambda value: (
            isinstance(value, int) and not isinstance(value, bool) and check_integer(name, value)
        )
    if isinstance(kind, JSON):

        def check_json(value):
            # repr shows a NUL anywhere in the value as \x00, in C; only then walk it.
            if "\\x00" in repr(value) and _json_nul(value):
                raise StorageLimit(name, "contains a NUL character")

        return check_json
    return None


@functools.cache
def _checks(mapper) -> tuple[tuple[str, Callable[[object], object]], ...]:
    table = mapper.local_table.name
    found = ((attr.key, _checker(table, attr.columns[0])) for attr in mapper.column_attrs)
    return tuple((key, check) for key, check in found if check is not None)


@event.listens_for(Session, "before_flush")
def _check_before_flush(db: Session, _context, _instances) -> None:
    # Read straight from each object's state: attribute history costs ten times
    # more, and a 10,000-line order flushes 10,000 new rows at once.
    for obj in db.new:
        state = inspect(obj)
        values = state.dict
        for key, check in _checks(state.mapper):
            value = values.get(key)
            if value is not None:
                check(value)
    for obj in db.dirty:
        state = inspect(obj)
        changed, values = state.committed_state, state.dict
        for key, check in _checks(state.mapper):
            if key in changed and values.get(key) is not None:
                check(values[key])


def _fits(column) -> Callable[[list], bool] | None:
    """A test of all of a column's values at once: True only when no check can fail.

    Runs in builtins over the whole column (a 10,000-line order has 10,000 values
    a column); anything it is not sure of is left to the per-value checks.
    """
    kind = column.type
    if isinstance(kind, Money):

        def amounts(values: list) -> bool:
            if not set(map(type, values)) <= {Decimal}:
                return False
            if not all(map(Decimal.is_finite, values)):
                return False
            return max(map(abs, values)) < MONEY_MAX

        return amounts
    if isinstance(kind, String | Text):
        length = getattr(kind, "length", None)

        def texts(values: list) -> bool:
            if not set(map(type, values)) <= {str}:
                return False
            if "\x00" in "".join(values):
                return False
            return length is None or max(map(len, values)) <= length

        return texts
    if isinstance(kind, Integer):

        def integers(values: list) -> bool:
            if not set(map(type, values)) <= {int}:
                return False
            return min(values) >= -INT_MAX - 1 and max(values) <= INT_MAX

        return integers
    if isinstance(kind, JSON):
        # repr shows a NUL in any string as \x00, in keys and nested values alike;
        # the text "\x00" itself only sends the column to the per-value checks.
        return lambda values: "\\x00" not in repr(values)
    return None


@functools.cache
def _column_fits(mapper) -> dict[str, Callable[[list], bool]]:
    found = ((attr.key, _fits(attr.columns[0])) for attr in mapper.column_attrs)
    return {key: fits for key, fits in found if fits is not None}


def check_rows(model, rows) -> None:
    """The same checks for rows written by a Core INSERT, which no flush sees.

    Each column is first tested as a whole; only the columns that do not plainly
    fit are checked value by value, row by row, so the first value refused is the
    one the per-value checks alone would have named.
    """
    mapper = inspect(model)
    checks = _checks(mapper)
    if len(rows) > 1:
        fits = _column_fits(mapper)
        unsure = []
        for key, check in checks:
            values = list(filter(partial(is_not, None), map(dict.get, rows, repeat(key))))
            test = fits.get(key)
            if values and (test is None or not _sure(test, values)):
                unsure.append((key, check))
        checks = tuple(unsure)
    if not checks:
        return
    for values in rows:
        for key, check in checks:
            value = values.get(key)
            if value is not None:
                check(value)


def _sure(test: Callable[[list], bool], values: list) -> bool:
    try:
        return test(values)
    except (ArithmeticError, TypeError, ValueError, RecursionError):
        return False
