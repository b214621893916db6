"""The embedded marketplace's catalog: products, buyer contract prices, search."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gateway.models import Buyer, ContractPrice, Product

REQUIRED = (
    "sku",
    "description",
    "unit_price",
    "currency",
    "uom",
    "unspsc",
    "manufacturer",
    "manufacturer_part_id",
    "lead_time_days",
)
OPTIONAL = ("buyer_id", "contract_price", "category")


class CatalogError(ValueError):
    """The CSV is wrong; the message names the line and the column."""


@dataclass(frozen=True)
class PricedProduct:
    product: Product
    list_price: Decimal
    contract_price: Decimal | None

    @property
    def price(self) -> Decimal:
        return self.contract_price if self.contract_price is not None else self.list_price


def _money(value: str, line: int, column: str) -> Decimal:
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise CatalogError(f"line {line}: {column} {value!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise CatalogError(f"line {line}: {column} must be a non-negative amount")
    return amount


def load_catalog(db: Session, path: Path) -> tuple[int, int]:
    """Upsert products and contract prices; return (products, contract prices)."""
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise CatalogError(f"missing column(s): {', '.join(missing)}")
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise CatalogError(f"unknown column(s): {', '.join(unknown)}")
    products, prices = 0, 0
    buyers = set(db.scalars(select(Buyer.id)))
    pending_prices = []
    for line, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        sku = row["sku"]
        if not sku:
            raise CatalogError(f"line {line}: sku is empty")
        buyer_id = row.get("buyer_id", "")
        if buyer_id:
            if buyer_id not in buyers:
                raise CatalogError(f"line {line}: buyer_id {buyer_id!r} is not a loaded buyer")
            if not row.get("contract_price"):
                raise CatalogError(f"line {line}: contract_price is empty for buyer {buyer_id!r}")
            pending_prices.append((line, sku, buyer_id, row))
            continue
        for column in ("description", "unit_price", "currency", "uom"):
            if not row[column]:
                raise CatalogError(f"line {line}: {column} is empty")
        lead = row["lead_time_days"]
        if lead and not lead.isdigit():
            raise CatalogError(f"line {line}: lead_time_days {lead!r} is not a whole number")
        product = db.get(Product, sku) or Product(sku=sku)
        product.description = row["description"]
        product.unit_price = _money(row["unit_price"], line, "unit_price")
        product.currency = row["currency"].upper()
        product.uom = row["uom"].upper()
        product.unspsc = row["unspsc"] or None
        product.manufacturer = row["manufacturer"] or None
        product.manufacturer_part_id = row["manufacturer_part_id"] or None
        product.lead_time_days = int(lead) if lead else None
        product.category = row.get("category") or None
        db.add(product)
        products += 1
    db.flush()
    for line, sku, buyer_id, row in pending_prices:
        product = db.get(Product, sku)
        if product is None:
            raise CatalogError(f"line {line}: contract price for unknown sku {sku!r}")
        currency = (row.get("currency") or product.currency).upper()
        if currency != product.currency:
            raise CatalogError(
                f"line {line}: contract price currency {currency} differs from the "
                f"product's {product.currency}"
            )
        contract = db.get(ContractPrice, (buyer_id, sku)) or ContractPrice(
            buyer_id=buyer_id, sku=sku
        )
        contract.price = _money(row["contract_price"], line, "contract_price")
        contract.currency = currency
        db.add(contract)
        prices += 1
    return products, prices


def priced(db: Session, buyer_id: str, products: list[Product]) -> list[PricedProduct]:
    if not products:
        return []
    contracts = dict(
        db.execute(
            select(ContractPrice.sku, ContractPrice.price).where(
                ContractPrice.buyer_id == buyer_id,
                ContractPrice.sku.in_([p.sku for p in products]),
            )
        ).all()
    )
    return [PricedProduct(p, p.unit_price, contracts.get(p.sku)) for p in products]


def product_for(db: Session, buyer_id: str, sku: str) -> PricedProduct | None:
    product = db.get(Product, sku)
    if product is None:
        return None
    return priced(db, buyer_id, [product])[0]


def search(
    db: Session,
    buyer_id: str,
    query: str = "",
    category: str | None = None,
    limit: int = 48,
    offset: int = 0,
    allowed: frozenset[str] | None = None,
) -> tuple[list[PricedProduct], int]:
    stmt = select(Product)
    if allowed is not None:
        stmt = stmt.where(Product.category.in_(sorted(allowed)))
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Product.description).like(like),
                func.lower(Product.sku).like(like),
                func.lower(Product.manufacturer_part_id).like(like),
                func.lower(Product.manufacturer).like(like),
            )
        )
    if category:
        stmt = stmt.where(Product.category == category)
    total = db.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = list(db.scalars(stmt.order_by(Product.description).limit(limit).offset(offset)))
    return priced(db, buyer_id, rows), total or 0


def categories(db: Session, allowed: frozenset[str] | None = None) -> list[str]:
    names = db.scalars(select(Product.category).distinct().order_by(Product.category))
    return [c for c in names if c and (allowed is None or c in allowed)]
