"""OrderRequest: the purchase order after the buyer's approval."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from lxml import etree

from gateway.cxml.envelope import child, children, first_children, text
from gateway.cxml.errors import NotAcceptable
from gateway.cxml.values import (
    MAX_LINE_NUMBER,
    MAX_ORDER_ID,
    MAX_QUANTITY,
    MAX_VERSION,
    Problems,
    card_expiry,
    decimal,
    document_date,
    whole_number,
)

TYPES = ("new", "update", "delete")
# ItemOut lines per OrderRequest (PUNCHGATE_MAX_ORDER_LINES): counted before any line is read.
DEFAULT_MAX_ORDER_LINES = 50_000


@dataclass(frozen=True)
class PriceBasis:
    """PriceBasisQuantity: UnitPrice is for ``quantity`` units of ``uom``."""

    quantity: Decimal
    conversion_factor: Decimal
    uom: str

    def per_ordered_unit(self, unit_price: Decimal) -> Decimal:
        return unit_price * self.conversion_factor / self.quantity

    def public(self) -> dict:
        return {
            "quantity": str(self.quantity),
            "conversion_factor": str(self.conversion_factor),
            "uom": self.uom,
        }


# Not frozen: a frozen dataclass sets each of its 19 fields through object.__setattr__,
# about a fifth of the cost of reading a line. Nothing changes a line once it is read.
@dataclass(slots=True)
class OrderLineIn:
    line_number: int
    quantity: Decimal
    sku: str  # SupplierPartID; "" on non-catalog, service and free-text lines
    aux_id: str
    unit_price: Decimal | None
    currency: str | None
    description: str
    uom: str | None
    requested_delivery_date: str | None
    comments: str
    extrinsics: dict
    buyer_part_id: str = ""
    manufacturer_part_id: str = ""
    manufacturer_name: str = ""
    ad_hoc: bool = False
    item_type: str = "item"
    price_basis: PriceBasis | None = None
    max_amount: Decimal | None = None  # BlanketItemDetail lines carry no UnitPrice
    number_given: bool = True  # False: the buyer sent no lineNumber; one was assigned

    @property
    def effective_price(self) -> Decimal | None:
        """The price of one ordered unit, pack pricing applied."""
        if self.unit_price is None or self.price_basis is None:
            return self.unit_price
        return self.price_basis.per_ordered_unit(self.unit_price)

    @property
    def amount(self) -> Decimal:
        price = self.effective_price
        return Decimal(0) if price is None else self.quantity * price


@dataclass(frozen=True)
class OrderHeaderIn:
    order_id: str
    version: int | None
    type: str


@dataclass(frozen=True)
class OrderRequestIn:
    order_id: str
    version: int | None
    type: str
    order_date: str | None
    total: Decimal | None
    currency: str | None
    lines: tuple[OrderLineIn, ...]
    document_reference: str | None = None
    details: dict = field(default_factory=dict)  # addresses, shipping, tax, payment, comments
    attachment_refs: tuple[str, ...] = ()
    # Data the buyer's staff may want fixed, which do not stop the order.
    notes: tuple[dict, ...] = ()


def _money(
    el: etree._Element | None, where: str, problems: Problems, *, negative_ok: bool = False
) -> tuple[Decimal | None, str | None]:
    # first_children: the "{*}Money" lookup child() does costs more than a pass over
    # UnitPrice's one child, and every order line has a UnitPrice.
    money = first_children(el).get("Money") if el is not None and el.tag != "Money" else el
    if money is None:
        return None, None
    raw = text(money)
    if not raw:
        problems.add(f"{where}/Money is empty")
        return None, None
    value = decimal(raw, f"{where}/Money", problems, negative_ok=negative_ok)
    return value, (money.get("currency") or "").strip().upper()[:3] or None


def _extrinsics(el: etree._Element | None) -> dict[str, str]:
    if el is None:
        return {}
    return {e.get("name", ""): text(e) for e in children(el, "Extrinsic") if e.get("name")}


def _address(el: etree._Element | None) -> dict | None:
    if el is None:
        return None
    address = child(el, "Address")
    if address is None:
        return None
    postal = child(address, "PostalAddress")
    country = child(postal, "Country")
    return {
        "address_id": address.get("addressID", ""),
        "name": text(child(address, "Name")),
        "deliver_to": [text(d) for d in children(postal, "DeliverTo")]
        if postal is not None
        else [],
        "street": [text(s) for s in children(postal, "Street")] if postal is not None else [],
        "city": text(child(postal, "City")),
        "state": text(child(postal, "State")),
        "postal_code": text(child(postal, "PostalCode")),
        "country": country.get("isoCountryCode", "") if country is not None else "",
        "email": text(child(address, "Email")),
    }


def _payment(header: etree._Element, problems: Problems) -> dict | None:
    pcard = child(child(header, "Payment"), "PCard")
    if pcard is None:
        return None
    digits = "".join(ch for ch in pcard.get("number", "") if ch.isdigit())
    # The card number is never kept: the last four digits identify it for support.
    return {
        "type": "PCard",
        "last4": digits[-4:],
        "expiration": card_expiry(
            pcard.get("expiration"), "OrderRequestHeader/Payment/PCard/@expiration", problems
        ),
        "name": pcard.get("name", ""),
    }


def _charge(el: etree._Element | None, where: str, problems: Problems) -> dict | None:
    if el is None:
        return None
    amount, currency = _money(el, where, problems)
    return {
        "amount": None if amount is None else str(amount),
        "currency": currency,
        "description": text(child(el, "Description")),
    }


def _attachment_refs(el: etree._Element) -> list[str]:
    return [
        text(u)
        for u in el.iter("URL")
        if text(u).lower().startswith("cid:")
        and u.getparent() is not None
        and u.getparent().tag == "Attachment"
    ]


HEADER = "OrderRequestHeader"


def parse_order_header(body: etree._Element, problems: Problems | None = None) -> OrderHeaderIn:
    """What decides how the order is answered: orderID, type and version.

    Read before the lines, so that an update or delete of an order not known
    here is answered 409 whatever its lines contain.
    """
    header = child(body, HEADER)
    if header is None:
        raise NotAcceptable(f"OrderRequest/{HEADER} is missing")
    collect = problems is not None
    problems = problems if collect else Problems()
    order_id = header.get("orderID", "").strip()
    if not order_id:
        problems.add(f"{HEADER}/@orderID is missing or empty")
    elif len(order_id) > MAX_ORDER_ID:
        problems.add(f"{HEADER}/@orderID is longer than {MAX_ORDER_ID} characters")
    kind = header.get("type", "new").strip() or "new"
    if kind not in TYPES:
        problems.add(f"{HEADER}/@type {kind[:20]!r} must be new, update or delete")
    raw_version = header.get("orderVersion", "").strip()
    version = None
    if raw_version:
        version = whole_number(raw_version, f"{HEADER}/@orderVersion", problems, MAX_VERSION)
    if not collect:
        problems.raise_if_any()
    return OrderHeaderIn(order_id, version, kind)


def _line_label(item: etree._Element, index: int) -> str:
    """How the buyer's staff find the line: its lineNumber, else its position."""
    raw = item.get("lineNumber", "").strip()
    if raw:
        return f"line {raw[:20]}"
    return f"ItemOut {index} (no lineNumber)"


def _line(item: etree._Element, index: int, currency: str | None, problems: Problems):
    # Each element's children are indexed once (first_children) and read from the
    # index: a 10,000-line order reads about 170,000 children.
    label = _line_label(item, index)
    kids = first_children(item)
    item_id = kids.get("ItemID")
    if item_id is None:
        problems.add(f"{label}: ItemID is missing")
    detail = kids.get("ItemDetail")
    blanket = kids.get("BlanketItemDetail")
    described = detail if detail is not None else blanket
    ids = first_children(item_id)
    details = first_children(detail)
    about = details if described is detail else first_children(described)
    quantity = decimal(
        item.get("quantity"), f"{label}: @quantity", problems, maximum=MAX_QUANTITY, positive=True
    )
    raw_number = item.get("lineNumber", "").strip()
    number = None
    if raw_number:
        number = whole_number(raw_number, f"{label}: @lineNumber", problems, MAX_LINE_NUMBER)
    price, line_currency = _money(details.get("UnitPrice"), f"{label}: UnitPrice", problems)
    max_amount, blanket_currency = (
        (None, None)
        if blanket is None
        else _money(child(blanket, "MaxAmount"), f"{label}: MaxAmount", problems)
    )
    basis = None
    basis_el = details.get("PriceBasisQuantity")
    if basis_el is not None:
        basis_qty, factor = (
            decimal(
                basis_el.get(name),
                f"{label}: PriceBasisQuantity/@{name}",
                problems,
                maximum=MAX_QUANTITY,
                positive=True,
            )
            for name in ("quantity", "conversionFactor")
        )
        if basis_qty is not None and factor is not None:
            basis = PriceBasis(basis_qty, factor, text(child(basis_el, "UnitOfMeasure")))
    requested = document_date(
        item.get("requestedDeliveryDate"), f"{label}: @requestedDeliveryDate", problems
    )
    sku = text(ids.get("SupplierPartID"))
    aux_id = text(ids.get("SupplierPartAuxiliaryID"))
    uom = text(about.get("UnitOfMeasure"))
    for name, value, limit in (
        ("ItemID/SupplierPartID", sku, 100),
        ("ItemID/SupplierPartAuxiliaryID", aux_id, 255),
        ("UnitOfMeasure", uom, 10),
    ):
        if len(value) > limit:
            problems.add(f"{label}: {name} is longer than {limit} characters")
    if quantity is None or (raw_number and number is None):
        return None
    return OrderLineIn(
        line_number=number or 0,
        number_given=number is not None,
        quantity=quantity,
        sku=sku,
        aux_id=aux_id,
        buyer_part_id=text(ids.get("BuyerPartID")),
        manufacturer_part_id=text(about.get("ManufacturerPartID")),
        manufacturer_name=text(about.get("ManufacturerName")),
        ad_hoc=item.get("isAdHoc", "").strip().lower() == "yes",
        item_type=item.get("itemType", "item").strip() or "item",
        unit_price=price,
        price_basis=basis,
        max_amount=max_amount,
        currency=line_currency or blanket_currency or currency,
        description=text(about.get("Description")),
        uom=uom or None,
        requested_delivery_date=requested,
        comments=" ".join(text(c) for c in children(item, "Comments") if text(c))
        if "Comments" in kids
        else "",
        extrinsics={
            **(_extrinsics(described) if "Extrinsic" in about else {}),
            **(_extrinsics(item) if "Extrinsic" in kids else {}),
        },
    )


def _number_lines(lines: list[OrderLineIn]) -> tuple[list[OrderLineIn], list[dict]]:
    """Give lines without a lineNumber the next free number; note repeated numbers."""
    notes = []
    taken = [line.line_number for line in lines if line.number_given]
    next_free = max(taken, default=0) + 1
    numbered = []
    for position, line in enumerate(lines, start=1):
        if not line.number_given:
            notes.append(
                {
                    "line": next_free,
                    "kind": "line_number_missing",
                    "message": f"ItemOut {position} has no lineNumber; numbered {next_free}",
                }
            )
            line = replace(line, line_number=next_free)
            next_free += 1
        numbered.append(line)
    counts: dict[int, int] = {}
    for number in taken:
        counts[number] = counts.get(number, 0) + 1
    for number, count in counts.items():
        if count > 1:
            notes.append(
                {
                    "line": number,
                    "kind": "line_number_repeated",
                    "message": f"lineNumber {number} is used by {count} lines",
                }
            )
    return numbered, notes


def parse_order_request(
    body: etree._Element, *, max_lines: int = DEFAULT_MAX_ORDER_LINES
) -> OrderRequestIn:
    """Read an OrderRequest; raises NotAcceptable naming every problem found."""
    items = children(body, "ItemOut")
    if len(items) > max_lines:
        raise NotAcceptable(
            f"OrderRequest has {len(items)} ItemOut lines, over the limit of {max_lines} "
            "lines per order"
        )
    problems = Problems()
    head = parse_order_header(body, problems)
    header = child(body, HEADER)
    total, currency = _money(child(header, "Total"), f"{HEADER}/Total", problems)
    order_date = document_date(header.get("orderDate"), f"{HEADER}/@orderDate", problems)
    if not items:
        raise NotAcceptable("OrderRequest has no ItemOut: an order needs at least one line")
    parsed = [_line(item, index, currency, problems) for index, item in enumerate(items, 1)]
    details = {
        "ship_to": _address(child(header, "ShipTo")),
        "bill_to": _address(child(header, "BillTo")),
        "shipping": _charge(child(header, "Shipping"), f"{HEADER}/Shipping", problems),
        "tax": _charge(child(header, "Tax"), f"{HEADER}/Tax", problems),
        "payment": _payment(header, problems),
        "comments": " ".join(text(c) for c in children(header, "Comments") if text(c)),
        "extrinsics": _extrinsics(header),
        "order_type": header.get("orderType", "regular"),
        "requisition_id": header.get("requisitionID"),
    }
    problems.raise_if_any()
    lines, notes = _number_lines([line for line in parsed if line is not None])
    reference = child(header, "DocumentReference")
    return OrderRequestIn(
        order_id=head.order_id,
        version=head.version,
        type=head.type,
        order_date=order_date,
        total=total,
        currency=currency,
        lines=tuple(lines),
        document_reference=reference.get("payloadID") if reference is not None else None,
        details=details,
        attachment_refs=tuple(_attachment_refs(body)),
        notes=tuple(notes),
    )
