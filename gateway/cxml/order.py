"""OrderRequest: the purchase order after the buyer's approval."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from lxml import etree

from gateway.cxml.envelope import child, children, text
from gateway.cxml.errors import NotAcceptable

TYPES = ("new", "update", "delete")


@dataclass(frozen=True)
class OrderLineIn:
    line_number: int
    quantity: Decimal
    sku: str
    aux_id: str
    unit_price: Decimal | None
    currency: str | None
    description: str
    uom: str | None
    requested_delivery_date: str | None
    comments: str
    extrinsics: dict


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


def _money(el: etree._Element | None, where: str) -> tuple[Decimal | None, str | None]:
    money = child(el, "Money") if el is not None and el.tag != "Money" else el
    if money is None:
        return None, None
    raw = text(money)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise NotAcceptable(f"{where}/Money {raw!r} is not an amount") from None
    if not value.is_finite():
        raise NotAcceptable(f"{where}/Money {raw!r} is not an amount")
    return value, (money.get("currency") or "").strip().upper() or None


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


def _payment(header: etree._Element) -> dict | None:
    pcard = child(child(header, "Payment"), "PCard")
    if pcard is None:
        return None
    digits = "".join(ch for ch in pcard.get("number", "") if ch.isdigit())
    # The card number is never kept: the last four digits identify it for support.
    return {
        "type": "PCard",
        "last4": digits[-4:],
        "expiration": pcard.get("expiration", ""),
        "name": pcard.get("name", ""),
    }


def _charge(el: etree._Element | None, where: str) -> dict | None:
    if el is None:
        return None
    amount, currency = _money(el, where)
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


def parse_order_request(body: etree._Element) -> OrderRequestIn:
    """Read an OrderRequest; raises NotAcceptable naming the element at fault."""
    where = "OrderRequest/OrderRequestHeader"
    header = child(body, "OrderRequestHeader")
    if header is None:
        raise NotAcceptable(f"{where} is missing")
    order_id = header.get("orderID", "").strip()
    if not order_id:
        raise NotAcceptable(f"{where}/@orderID is missing")
    kind = header.get("type", "new").strip() or "new"
    if kind not in TYPES:
        raise NotAcceptable(f"{where}/@type must be new, update or delete (got {kind!r})")
    raw_version = header.get("orderVersion", "").strip()
    version = None
    if raw_version:
        if not raw_version.isdigit() or int(raw_version) < 1:
            raise NotAcceptable(f"{where}/@orderVersion must be a whole number from 1")
        version = int(raw_version)
    total, currency = _money(child(header, "Total"), f"{where}/Total")
    items = children(body, "ItemOut")
    if not items:
        raise NotAcceptable("OrderRequest has no ItemOut: an order needs at least one line")
    lines = []
    for index, item in enumerate(items, start=1):
        at = f"OrderRequest/ItemOut[{index}]"
        item_id = child(item, "ItemID")
        sku = text(child(item_id, "SupplierPartID"))
        if not sku:
            raise NotAcceptable(f"{at}/ItemID/SupplierPartID is missing")
        raw_qty = item.get("quantity", "").strip()
        try:
            quantity = Decimal(raw_qty)
        except InvalidOperation:
            raise NotAcceptable(f"{at}/@quantity {raw_qty!r} is not a number") from None
        if not quantity.is_finite() or quantity < 0:
            raise NotAcceptable(f"{at}/@quantity must be a non-negative number")
        raw_line = item.get("lineNumber", "").strip()
        line_number = int(raw_line) if raw_line.isdigit() else index
        detail = child(item, "ItemDetail")
        price, line_currency = _money(child(detail, "UnitPrice"), f"{at}/ItemDetail/UnitPrice")
        lines.append(
            OrderLineIn(
                line_number=line_number,
                quantity=quantity,
                sku=sku,
                aux_id=text(child(item_id, "SupplierPartAuxiliaryID")),
                unit_price=price,
                currency=line_currency or currency,
                description=text(child(detail, "Description")),
                uom=text(child(detail, "UnitOfMeasure")) or None,
                requested_delivery_date=item.get("requestedDeliveryDate"),
                comments=" ".join(text(c) for c in children(item, "Comments") if text(c)),
                extrinsics={**_extrinsics(detail), **_extrinsics(item)},
            )
        )
    numbers = [line.line_number for line in lines]
    if len(set(numbers)) != len(numbers):
        raise NotAcceptable("OrderRequest/ItemOut lineNumber values repeat")
    reference = child(header, "DocumentReference")
    details = {
        "ship_to": _address(child(header, "ShipTo")),
        "bill_to": _address(child(header, "BillTo")),
        "shipping": _charge(child(header, "Shipping"), f"{where}/Shipping"),
        "tax": _charge(child(header, "Tax"), f"{where}/Tax"),
        "payment": _payment(header),
        "comments": " ".join(text(c) for c in children(header, "Comments") if text(c)),
        "extrinsics": _extrinsics(header),
        "order_type": header.get("orderType", "regular"),
        "requisition_id": header.get("requisitionID"),
    }
    return OrderRequestIn(
        order_id=order_id,
        version=version,
        type=kind,
        order_date=header.get("orderDate"),
        total=total,
        currency=currency,
        lines=tuple(lines),
        document_reference=reference.get("payloadID") if reference is not None else None,
        details=details,
        attachment_refs=tuple(_attachment_refs(body)),
    )
