"""Documents the supplier sends the buyer after an order: ConfirmationRequest,
ShipNoticeRequest (Fulfill.dtd) and InvoiceDetailRequest (InvoiceDetail.dtd)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from gateway.cxml.documents import XML_LANG, envelope, serialize
from gateway.cxml.timestamps import format_timestamp
from gateway.money import amount, quantity

CONFIRMATION_TYPES = ("accept", "reject", "detail", "backordered")


@dataclass(frozen=True)
class OrderRef:
    order_id: str
    order_date: str | None
    payload_id: str


@dataclass(frozen=True)
class Line:
    line_number: int
    quantity: Decimal
    uom: str
    sku: str
    aux_id: str | None
    unit_price: Decimal | None
    currency: str
    description: str = ""


@dataclass(frozen=True)
class Parties:
    from_: tuple[dict, ...]  # supplier
    to: tuple[dict, ...]  # buyer
    sender: tuple[dict, ...]  # supplier; the SharedSecret is added when sending


def _envelope(
    parties: Parties, version: str, payload_id: str | None
) -> tuple[etree._Element, etree._Element]:
    return envelope(version, payload_id, parties.from_, parties.to, parties.sender, "Request")


def _order_reference(parent: etree._Element, ref: OrderRef) -> None:
    el = etree.SubElement(parent, "OrderReference")
    el.set("orderID", ref.order_id)
    if ref.order_date:
        el.set("orderDate", ref.order_date)
    etree.SubElement(el, "DocumentReference").set("payloadID", ref.payload_id)


def _money(parent: etree._Element, name: str | None, value: Decimal, currency: str) -> None:
    holder = etree.SubElement(parent, name) if name else parent
    money = etree.SubElement(holder, "Money")
    money.set("currency", currency)
    money.text = amount(value)


def confirmation(
    parties: Parties,
    ref: OrderRef,
    kind: str,
    lines: Iterable[Line],
    *,
    confirm_id: str,
    version: str,
    payload_id: str | None = None,
    line_status: dict[int, str] | None = None,
    comment: str | None = None,
) -> bytes:
    """A ConfirmationRequest: ``accept`` and ``reject`` need no lines; ``detail`` and
    ``backordered`` list each line with its status (``line_status`` overrides it per line)."""
    if kind not in CONFIRMATION_TYPES:
        raise ValueError(f"confirmation type must be one of {CONFIRMATION_TYPES}")
    root, request = _envelope(parties, version, payload_id)
    body = etree.SubElement(request, "ConfirmationRequest")
    header = etree.SubElement(body, "ConfirmationHeader")
    header.set("confirmID", confirm_id)
    header.set("type", kind)
    header.set("noticeDate", format_timestamp())
    if comment:
        comments = etree.SubElement(header, "Comments")
        comments.set(XML_LANG, "en-US")
        comments.text = comment
    _order_reference(body, ref)
    if kind in ("detail", "backordered"):
        for line in lines:
            item = etree.SubElement(body, "ConfirmationItem")
            item.set("quantity", quantity(line.quantity))
            item.set("lineNumber", str(line.line_number))
            etree.SubElement(item, "UnitOfMeasure").text = line.uom
            status = etree.SubElement(item, "ConfirmationStatus")
            status.set("quantity", quantity(line.quantity))
            status.set("type", (line_status or {}).get(line.line_number, kind))
            etree.SubElement(status, "UnitOfMeasure").text = line.uom
            if line.unit_price is not None:
                _money(status, "UnitPrice", line.unit_price, line.currency)
    return serialize(root, version, "Fulfill.dtd")


def ship_notice(
    parties: Parties,
    ref: OrderRef,
    lines: Iterable[Line],
    *,
    shipment_id: str,
    carrier: str,
    tracking_number: str,
    version: str,
    payload_id: str | None = None,
    service_level: str = "standard",
) -> bytes:
    root, request = _envelope(parties, version, payload_id)
    body = etree.SubElement(request, "ShipNoticeRequest")
    header = etree.SubElement(body, "ShipNoticeHeader")
    header.set("shipmentID", shipment_id)
    header.set("operation", "new")
    now = format_timestamp()
    header.set("noticeDate", now)
    header.set("shipmentDate", now)
    header.set("shipmentType", "actual")
    header.set("fulfillmentType", "complete")
    level = etree.SubElement(header, "ServiceLevel")
    level.set(XML_LANG, "en-US")
    level.text = service_level
    control = etree.SubElement(body, "ShipControl")
    ident = etree.SubElement(control, "CarrierIdentifier")
    ident.set("domain", "companyName")
    ident.text = carrier
    etree.SubElement(control, "ShipmentIdentifier").text = tracking_number
    portion = etree.SubElement(body, "ShipNoticePortion")
    _order_reference(portion, ref)
    for line in lines:
        item = etree.SubElement(portion, "ShipNoticeItem")
        item.set("quantity", quantity(line.quantity))
        item.set("lineNumber", str(line.line_number))
        item_id = etree.SubElement(item, "ItemID")
        etree.SubElement(item_id, "SupplierPartID").text = line.sku
        if line.aux_id:
            etree.SubElement(item_id, "SupplierPartAuxiliaryID").text = line.aux_id
        etree.SubElement(item, "UnitOfMeasure").text = line.uom
    return serialize(root, version, "Fulfill.dtd")


def invoice(
    parties: Parties,
    ref: OrderRef,
    lines: list[Line],
    *,
    invoice_id: str,
    version: str,
    currency: str,
    credit_memo: bool = False,
    payload_id: str | None = None,
    tax: Decimal = Decimal(0),
) -> bytes:
    """An InvoiceDetailRequest backed by the order; a credit memo refunds with negative amounts."""
    sign = Decimal(-1) if credit_memo else Decimal(1)
    root, request = _envelope(parties, version, payload_id)
    body = etree.SubElement(request, "InvoiceDetailRequest")
    header = etree.SubElement(body, "InvoiceDetailRequestHeader")
    header.set("invoiceID", invoice_id)
    header.set("purpose", "creditMemo" if credit_memo else "standard")
    header.set("operation", "new")
    header.set("invoiceDate", format_timestamp())
    etree.SubElement(header, "InvoiceDetailHeaderIndicator")
    etree.SubElement(header, "InvoiceDetailLineIndicator")
    order = etree.SubElement(body, "InvoiceDetailOrder")
    info = etree.SubElement(order, "InvoiceDetailOrderInfo")
    _order_reference(info, ref)
    subtotal = Decimal(0)
    for number, line in enumerate(lines, start=1):
        price = line.unit_price or Decimal(0)
        line_total = price * line.quantity * sign
        subtotal += line_total
        item = etree.SubElement(order, "InvoiceDetailItem")
        item.set("invoiceLineNumber", str(number))
        item.set("quantity", quantity(line.quantity))
        etree.SubElement(item, "UnitOfMeasure").text = line.uom
        _money(item, "UnitPrice", price * sign, currency)
        reference = etree.SubElement(item, "InvoiceDetailItemReference")
        reference.set("lineNumber", str(line.line_number))
        item_id = etree.SubElement(reference, "ItemID")
        etree.SubElement(item_id, "SupplierPartID").text = line.sku
        if line.aux_id:
            etree.SubElement(item_id, "SupplierPartAuxiliaryID").text = line.aux_id
        if line.description:
            desc = etree.SubElement(reference, "Description")
            desc.set(XML_LANG, "en-US")
            desc.text = line.description
        _money(item, "SubtotalAmount", line_total, currency)
    tax_amount = tax * sign
    summary = etree.SubElement(body, "InvoiceDetailSummary")
    _money(summary, "SubtotalAmount", subtotal, currency)
    tax_el = etree.SubElement(summary, "Tax")
    _money(tax_el, None, tax_amount, currency)
    desc = etree.SubElement(tax_el, "Description")
    desc.set(XML_LANG, "en-US")
    desc.text = "Total tax"
    _money(summary, "GrossAmount", subtotal + tax_amount, currency)
    _money(summary, "NetAmount", subtotal + tax_amount, currency)
    _money(summary, "DueAmount", subtotal + tax_amount, currency)
    return serialize(root, version, "InvoiceDetail.dtd")
