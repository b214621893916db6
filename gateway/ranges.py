"""The documented ranges of numbers read from buyers' documents and calls.

Pure constants, so that protocol cores check a number where they parse it
(and name the field) instead of the database failing on it later.
"""

from __future__ import annotations

from decimal import Decimal

# Quantities on a cart line (three decimals); order lines: gateway/cxml/values.py.
MAX_QUANTITY = Decimal("1000000")
# Amounts: NUMERIC(18, 4) keeps 14 digits before the point.
MONEY_MAX = Decimal(10) ** 14
# Line numbers, order versions, ids in URLs: INTEGER on PostgreSQL.
INT_MAX = 2**31 - 1
