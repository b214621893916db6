"""One catalog row, whatever the format: checked field by field into a product and prices.

Readers (csv, cif, bmecat) turn their files into ``RawRow``s with our field
names; everything a row may get wrong is found here, all of it at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from gateway.catalog import codes

FIELDS = (
    "sku",
    "description",
    "unit_price",
    "currency",
    "uom",
    "unspsc",
    "eclass",
    "manufacturer",
    "manufacturer_part_id",
    "lead_time_days",
    "category",
    "image_url",
    "long_description",
    "keywords",
    "min_quantity",
    "quantity_step",
    "price_unit",
    "buyer_id",
    "contract_price",
)
# Longest accepted text per field (the columns' sizes, and sane limits for free text).
LIMITS = {
    "sku": 100,
    "description": 2000,
    "currency": 3,
    "uom": 10,
    "unspsc": 20,
    "eclass": 20,
    "manufacturer": 200,
    "manufacturer_part_id": 100,
    "category": 100,
    "image_url": 1000,
    "long_description": 20000,
    "keywords": 2000,
    "buyer_id": 64,
}
MAX_PRICE = Decimal("1e12")
# Characters XML cannot carry (a cart or a CIF file built from the text would fail),
# and DEL.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class LoadError:
    """What is wrong, and where: line and column, or element path."""

    where: str
    field: str
    value: str
    problem: str

    def __str__(self) -> str:
        shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        value = f" {shown!r}" if self.value else ""
        column = f", {self.field}" if self.field else ""
        return f"{self.where}{column}:{value} {self.problem}"


@dataclass
class RawRow:
    where: str
    values: dict[str, str]
    # The product is marked deleted in the file (CIF Delete column, BMEcat delete mode).
    delete: bool = False
    # How the file names our fields (BMEcat element paths), for error messages.
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class ProductRecord:
    where: str
    values: dict


@dataclass
class ContractRecord:
    where: str
    buyer_id: str
    sku: str
    price: Decimal
    currency: str | None


@dataclass
class Checked:
    products: dict[str, ProductRecord] = field(default_factory=dict)
    contracts: list[ContractRecord] = field(default_factory=list)
    deletes: set[str] = field(default_factory=set)
    errors: list[LoadError] = field(default_factory=list)
    bad_rows: int = 0


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value.replace(" ", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


class _Row:
    """Collects one row's errors while its fields are read."""

    def __init__(self, row: RawRow):
        self.row = row
        self.errors: list[LoadError] = []

    def label(self, name: str) -> str:
        return self.row.labels.get(name, name)

    def fail(self, name: str, problem: str) -> None:
        self.errors.append(
            LoadError(self.row.where, self.label(name), self.row.values.get(name, ""), problem)
        )

    def text(self, name: str, required: bool = False) -> str | None:
        value = (self.row.values.get(name) or "").strip()
        if not value:
            if required:
                self.fail(name, "is empty; it is required")
            return None
        limit = LIMITS.get(name)
        if limit and len(value) > limit:
            self.errors.append(
                LoadError(
                    self.row.where,
                    self.label(name),
                    value[:40],
                    f"is {len(value)} characters long; at most {limit} are allowed",
                )
            )
            return None
        if _CONTROL.search(value):
            self.fail(name, "contains control characters")
            return None
        return value

    def money(self, name: str, required: bool = False) -> Decimal | None:
        value = self.text(name, required)
        if value is None:
            return None
        number = _decimal(value)
        if number is None:
            self.fail(name, "is not a number (write an amount like 12.50)")
        elif number < 0:
            self.fail(name, "is negative; prices must be 0 or more")
        elif number >= MAX_PRICE:
            self.fail(name, f"is too large (below {MAX_PRICE:,.0f})")
        elif number != number.quantize(Decimal("0.0001")):
            self.fail(name, "has more than four decimals")
        else:
            return number
        return None

    def quantity(self, name: str) -> Decimal | None:
        value = self.text(name)
        if value is None:
            return None
        number = _decimal(value)
        if number is None or number <= 0 or number != number.quantize(Decimal("0.001")):
            self.fail(name, "must be a quantity above 0 with at most three decimals")
            return None
        return number


def check_row(
    row: RawRow, known_buyers: set[str], buyer_id: str | None
) -> tuple[ProductRecord | None, ContractRecord | None, list[LoadError]]:
    r = _Row(row)
    sku = r.text("sku", required=True)
    row_buyer = r.text("buyer_id") or buyer_id
    contract_price = r.money("contract_price")
    if row_buyer and row_buyer not in known_buyers:
        r.fail("buyer_id", "is not a loaded buyer (load it with `punchgate buyers load`)")
    contract_only = bool(r.row.values.get("buyer_id")) and not (
        r.row.values.get("description") or r.row.values.get("unit_price")
    )
    product = None
    if not contract_only and not row.delete:
        values = {
            "sku": sku,
            "description": r.text("description", required=True),
            "unit_price": r.money("unit_price", required=True),
            "currency": None,
            "uom": None,
            "unspsc": r.text("unspsc"),
            "eclass": r.text("eclass"),
            "manufacturer": r.text("manufacturer"),
            "manufacturer_part_id": r.text("manufacturer_part_id"),
            "lead_time_days": None,
            "category": r.text("category"),
            "image_url": r.text("image_url"),
            "long_description": r.text("long_description"),
            "keywords": r.text("keywords"),
            "min_quantity": r.quantity("min_quantity"),
            "quantity_step": r.quantity("quantity_step"),
            "price_unit": r.quantity("price_unit"),
        }
        currency = r.text("currency", required=True)
        if currency:
            if currency.upper() not in codes.CURRENCIES:
                r.fail("currency", "is not an ISO 4217 currency code (like EUR, USD, GBP)")
            values["currency"] = currency.upper()
        uom = r.text("uom", required=True)
        if uom:
            if uom.upper() not in codes.UNITS:
                r.fail("uom", "is not a UN/CEFACT unit code (like EA, C62, BX, PK, KGM, MTR)")
            values["uom"] = uom.upper()
        if values["unspsc"] and not re.fullmatch(r"\d{8}(\d{2})?", values["unspsc"]):
            r.fail("unspsc", "is not a UNSPSC code (8 or 10 digits)")
        lead = r.text("lead_time_days")
        if lead is not None:
            if not lead.isdigit() or int(lead) > 3650:
                r.fail("lead_time_days", "is not a whole number of days (0 to 3650)")
            else:
                values["lead_time_days"] = int(lead)
        url = values["image_url"]
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
            r.fail("image_url", "is not an http(s) URL")
        product = ProductRecord(row.where, values)
    elif contract_only and not contract_price and not r.errors:
        r.fail("contract_price", f"is empty for buyer {row_buyer!r}")
    contract = None
    if contract_price is not None:
        if not row_buyer:
            r.fail("contract_price", "needs a buyer_id column value or --buyer")
        else:
            currency = (r.row.values.get("currency") or "").strip().upper() or None
            contract = ContractRecord(row.where, row_buyer, sku or "", contract_price, currency)
    if r.errors:
        return None, None, r.errors
    return product, contract, []


def check_rows(rows, known_buyers: set[str], buyer_id: str | None = None, progress=None) -> Checked:
    checked = Checked()
    first_line: dict[str, str] = {}
    for n, row in enumerate(rows, start=1):
        if progress and n % 1000 == 0:
            progress(1000)
        product, contract, errors = check_row(row, known_buyers, buyer_id)
        sku = (row.values.get("sku") or "").strip()
        if not errors and product and sku in first_line:
            errors = [
                LoadError(row.where, "sku", sku, f"appears again (first at {first_line[sku]})")
            ]
        if errors:
            checked.errors.extend(errors)
            checked.bad_rows += 1
            continue
        if row.delete:
            checked.deletes.add(sku)
            continue
        if product:
            first_line[sku] = row.where
            checked.products[sku] = product
        if contract:
            checked.contracts.append(contract)
    return checked


@dataclass
class Parsed:
    """What a reader made of a file: rows, the errors of the file itself, and its mode."""

    rows: list[RawRow] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    full: bool = False  # the file is the whole catalog (CIF LOADMODE F, BMEcat T_NEW_CATALOG)
    encoding: str = "utf-8"
    # Prices in the file are the --buyer's contract prices; list_price carries the list price.
    buyer_prices: bool = False
    # Our fields the format carries (None: all); the others keep their stored values.
    fields: set[str] | None = None
