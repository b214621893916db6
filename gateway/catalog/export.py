"""Catalog files for buyers who host our catalog: Ariba CIF 3.0 and Jaggaer CSV.

Prices are the buyer's (contract price where there is one), with the list
price as CIF's Market Price. ``level2`` adds each item's punchout URL (Ariba
Level 2: PunchOut Enabled, the setup URL in Supplier URL; Ariba then sends a
PunchOutSetupRequest with the item as SelectedItem). ``test`` writes the
supplier's test identity (Ariba: the ANID with ``-T``).

Each row is shaped by the buyer's profile as its carts are (``gateway.profiles``):
units through its unit map, UNSPSC codes from its category map or default code,
fields cut where its profile cuts them. Rows its system would refuse (no UNSPSC
code, a unit it has not enabled) are written and reported in ``warnings``.
"""

from __future__ import annotations

import csv as stdcsv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import money
from gateway.catalog.products import PricedProduct, priced
from gateway.models import Buyer, Product, Supplier
from gateway.profiles import codes
from gateway.profiles.preflight import Line, check

CIF_FIELDS = (
    "Supplier ID",
    "Supplier Part ID",
    "Manufacturer Part ID",
    "Item Description",
    "SPSC Code",
    "Unit Price",
    "Unit of Measure",
    "Lead Time",
    "Manufacturer Name",
    "Supplier URL",
    "Market Price",
    "Currency",
    "Short Name",
    "Image",
    "Keywords",
)
LEVEL2_FIELDS = ("PunchOut Enabled", "PunchOut Level")
JAGGAER_FIELDS = (
    "Supplier Part Number",
    "Product Description",
    "Manufacturer Name",
    "Manufacturer Part Number",
    "Price",
    "List Price",
    "Currency",
    "Packaging UOM",
    "UNSPSC",
    "Image URL",
    "Keywords",
    "Lead Time",
)


class ExportError(ValueError):
    """The export cannot be written (unknown buyer, no supplier identity)."""


@dataclass(frozen=True)
class Row:
    """A product at the buyer's price, shaped by the buyer's profile."""

    item: PricedProduct
    description: str
    uom: str
    unspsc: str


def _items(db: Session, buyer_id: str, warnings: list[str] | None) -> list[Row]:
    from gateway.profiles.service import rules_of

    buyer = db.get(Buyer, buyer_id)
    if buyer is None:
        raise ExportError(f"buyer {buyer_id!r} is not loaded")
    products = list(
        db.scalars(select(Product).where(Product.retired_at.is_(None)).order_by(Product.sku))
    )
    items: list[PricedProduct] = []
    for start in range(0, len(products), 1000):
        items += priced(db, buyer_id, products[start : start + 1000])
    rules = rules_of(buyer)
    outcome = check(
        [
            Line(
                position=n,
                sku=i.product.sku,
                description=i.product.description,
                quantity=Decimal(1),
                unit_price=i.price,
                currency=i.product.currency,
                uom=i.product.uom,
                unspsc=i.product.unspsc,
                category=i.product.category,
                manufacturer=i.product.manufacturer,
                manufacturer_part_id=i.product.manufacturer_part_id,
                lead_time_days=i.product.lead_time_days,
                list_price=i.list_price,
                contract_price=i.contract_price,
            )
            for n, i in enumerate(items, start=1)
        ],
        rules,
        buyer.name,
    )
    rows = [
        # The catalog's own unit through the buyer's map: a pack price stays per pack here.
        Row(
            item,
            shaped.line.description,
            rules.unit_map.get(item.product.uom, item.product.uom),
            shaped.code(codes.UNSPSC),
        )
        for item, shaped in zip(items, outcome.lines, strict=True)
    ]
    if warnings is not None:
        uncoded = [r.item.product.sku for r in rows if not r.unspsc]
        if uncoded:
            warnings.append(
                f"{len(uncoded)} row(s) have no UNSPSC code, which Ariba and Jaggaer need: "
                f"{', '.join(uncoded[:10])}{' …' if len(uncoded) > 10 else ''} (give the products "
                "one, or map their categories in [buyer.cart] category_codes / default_codes)"
            )
        warnings += [f"{p.sku}: {p.message}" for p in outcome.problems if p.rule != "schemes"]
    return rows


def _supplier_identity(db: Session) -> tuple[str, str]:
    supplier = db.scalar(select(Supplier).limit(1))
    credentials = list(supplier.credentials or []) if supplier else []
    if not credentials:
        raise ExportError("no supplier credential is loaded (buyers file [[supplier.credential]])")
    chosen = next((c for c in credentials if c.get("domain") == "NetworkID"), credentials[0])
    return chosen["domain"], chosen["identity"]


def _cif_value(value) -> str:
    text = "" if value is None else str(value)
    return text.replace("\r", " ").replace("\n", " ")


def cif(
    db: Session,
    buyer_id: str,
    *,
    test: bool = False,
    level2: bool = False,
    punchout_url: str = "",
    now: datetime | None = None,
    warnings: list[str] | None = None,
) -> str:
    """A CIF 3.0 file of the live catalog at this buyer's prices (problems in ``warnings``)."""
    domain, identity = _supplier_identity(db)
    if test and not identity.endswith("-T"):
        identity += "-T"
    items = _items(db, buyer_id, warnings)
    currencies = sorted({i.item.product.currency for i in items}) or ["USD"]
    fields = CIF_FIELDS + (LEVEL2_FIELDS if level2 else ())
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S")
    out = io.StringIO(newline="")
    out.write(
        "CIF_I_V3.0\r\n"
        "CHARSET: UTF-8\r\n"
        "LOADMODE: F\r\n"
        "CODEFORMAT: UNSPSC\r\n"
        f"CURRENCY: {currencies[0]}\r\n"
        f"SUPPLIERID_DOMAIN: {domain}\r\n"
        f"ITEMCOUNT: {len(items)}\r\n"
        f"TIMESTAMP: {moment}\r\n"
        "UNUOM: TRUE\r\n"
        f"COMMENTS: Punchgate export for buyer {buyer_id}{' (test)' if test else ''}\r\n"
        f"FIELDNAMES: {','.join(fields)}\r\n"
        "DATA\r\n"
    )
    writer = stdcsv.writer(out, lineterminator="\r\n", quoting=stdcsv.QUOTE_MINIMAL)
    for shaped in items:
        item, p = shaped.item, shaped.item.product
        row = [
            identity,
            p.sku,
            p.manufacturer_part_id,
            shaped.description,
            shaped.unspsc,
            money.amount(item.price),
            shaped.uom,
            p.lead_time_days,
            p.manufacturer,
            punchout_url if level2 else "",
            money.amount(item.list_price),
            p.currency,
            shaped.description[:50],
            p.image_url,
            p.keywords,
        ]
        if level2:
            row += ["TRUE", "product"]
        writer.writerow([_cif_value(v) for v in row])
    out.write("ENDOFDATA\r\n")
    return out.getvalue()


def jaggaer_csv(
    db: Session,
    buyer_id: str,
    *,
    level2: bool = False,
    punchout_url: str = "",
    warnings: list[str] | None = None,
) -> str:
    """The CSV product file for Jaggaer (Level 2 adds the punchout URL per item)."""
    fields = JAGGAER_FIELDS + (("Level 2 PunchOut URL",) if level2 else ())
    out = io.StringIO(newline="")
    writer = stdcsv.writer(out, lineterminator="\r\n")
    writer.writerow(fields)
    for shaped in _items(db, buyer_id, warnings):
        item, p = shaped.item, shaped.item.product
        row = [
            p.sku,
            shaped.description,
            p.manufacturer,
            p.manufacturer_part_id,
            money.amount(item.price),
            money.amount(item.list_price),
            p.currency,
            shaped.uom,
            shaped.unspsc,
            p.image_url,
            p.keywords,
            p.lead_time_days,
        ]
        if level2:
            row.append(punchout_url)
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()
