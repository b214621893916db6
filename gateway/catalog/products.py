"""Products as a buyer sees them: list price, the buyer's contract price, quantity rules."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import money
from gateway.models import ContractPrice, Product


@dataclass(frozen=True)
class PricedProduct:
    # A Product, or a search result's row with the same attributes.
    product: Product
    list_price: Decimal
    contract_price: Decimal | None

    @property
    def price(self) -> Decimal:
        return self.contract_price if self.contract_price is not None else self.list_price

    @property
    def saving(self) -> Decimal | None:
        """How much the contract price is below the list price, if it is."""
        if self.contract_price is None or self.contract_price >= self.list_price:
            return None
        return self.list_price - self.contract_price


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


def product_for(
    db: Session, buyer_id: str, sku: str, *, include_retired: bool = False
) -> PricedProduct | None:
    """The product with this buyer's price; a retired product only when asked for."""
    product = db.get(Product, sku)
    if product is None or (product.retired_at is not None and not include_retired):
        return None
    return priced(db, buyer_id, [product])[0]


def quantity_problem(product: Product, quantity: Decimal) -> str | None:
    """Why a cart quantity breaks the product's rules (minimum, step), or None."""
    if quantity == 0:
        return None
    minimum = product.min_quantity
    if minimum is not None and quantity < minimum:
        return (
            f"{product.sku} is sold in a minimum quantity of {money.quantity(minimum)} "
            f"{product.uom}"
        )
    step = product.quantity_step
    if step and step > 0:
        base = minimum or Decimal(0)
        if (quantity - base) % step != 0:
            return f"{product.sku} is sold in steps of {money.quantity(step)} {product.uom}" + (
                f" from {money.quantity(minimum)}" if minimum else ""
            )
    return None


def categories(db: Session, allowed: frozenset[str] | None = None) -> list[str]:
    """The live catalog's categories (those ``allowed`` when given), from the per-process
    counts (``gateway.catalog.aggregates``)."""
    from gateway.catalog import aggregates

    return [c for c in aggregates.counts(db).categories(allowed) if c]


def product_view(item: PricedProduct, show_prices: bool = True) -> dict:
    """A product as the session API shows it (prices left out where the role may not see them)."""
    p = item.product

    def qty(value):
        return None if value is None else money.quantity(value)

    view = {
        "sku": p.sku,
        "description": p.description,
        "manufacturer": p.manufacturer,
        "manufacturer_part_id": p.manufacturer_part_id,
        "category": p.category,
        "unspsc": p.unspsc,
        "uom": p.uom,
        "currency": p.currency,
        "image_url": p.image_url,
        "lead_time_days": p.lead_time_days,
        "min_quantity": qty(p.min_quantity),
        "quantity_step": qty(p.quantity_step),
        "price_unit": qty(p.price_unit),
        "price": money.amount(item.price),
        "list_price": money.amount(item.list_price),
        "contract_price": None
        if item.contract_price is None
        else money.amount(item.contract_price),
    }
    if not show_prices:
        view.update(price=None, list_price=None, contract_price=None)
    return view
