"""Documents the gateway emits: Response/Status, ProfileResponse,
PunchOutSetupResponse and PunchOutOrderMessage, in the DTD's element order."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape as xml_escape

from lxml import etree

from gateway.cxml.errors import STATUS_TEXT
from gateway.cxml.timestamps import format_timestamp
from gateway.money import amount as money
from gateway.money import quantity

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
USER_AGENT = "Punchgate 0.1"


def new_payload_id(host: str = "punchgate") -> str:
    """``<epoch millis>.<pid>.<random>@<host>``, the form the cXML guide recommends."""
    return f"{int(time.time() * 1000)}.{os.getpid()}.{secrets.token_hex(8)}@{host}"


def doctype(version: str, dtd: str = "cXML.dtd") -> str:
    return f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{version}/{dtd}">'


def serialize(root: etree._Element, version: str, dtd: str = "cXML.dtd") -> bytes:
    """UTF-8 with an explicit declaration and no BOM (Oracle double-decodes otherwise)."""
    # Written by hand: lxml's declaration uses single quotes, which some
    # buyer-side parsers refuse.
    body = etree.tostring(root, encoding="UTF-8")
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype(version, dtd)}\n'
    return head.encode("ascii") + body


def _root(version: str, payload_id: str | None, lang: str = "en-US") -> etree._Element:
    root = etree.Element("cXML")
    root.set("payloadID", payload_id or new_payload_id())
    root.set("timestamp", format_timestamp())
    root.set("version", version)
    root.set(XML_LANG, lang)
    return root


def _status(parent: etree._Element, code: int, text: str | None, detail: str | None) -> None:
    status = etree.SubElement(parent, "Status")
    status.set("code", str(code))
    status.set("text", text or STATUS_TEXT.get(code, "Unknown"))
    status.set(XML_LANG, "en-US")
    if detail:
        status.text = detail


def response(
    code: int,
    text: str | None = None,
    detail: str | None = None,
    *,
    version: str,
    body: etree._Element | None = None,
) -> bytes:
    """A cXML Response: always a Status, optionally one response element."""
    root = _root(version, None)
    resp = etree.SubElement(root, "Response")
    _status(resp, code, text, detail)
    if body is not None:
        resp.append(body)
    return serialize(root, version)


def profile_response(transactions: Iterable[tuple[str, str]]) -> etree._Element:
    body = etree.Element("ProfileResponse")
    body.set("effectiveDate", format_timestamp())
    for name, url in transactions:
        tx = etree.SubElement(body, "Transaction")
        tx.set("requestName", name)
        etree.SubElement(tx, "URL").text = url
    return body


def setup_response(start_url: str) -> etree._Element:
    body = etree.Element("PunchOutSetupResponse")
    page = etree.SubElement(body, "StartPage")
    etree.SubElement(page, "URL").text = start_url
    return body


# The PunchOutSetupResponse precompiled: every setup request answers with it, and
# formatting a template costs a fraction of building and serialising a tree. Only
# the payloadID, timestamp, version and the (escaped) StartPage URL vary; a test
# holds it byte for byte to what response(200, body=setup_response(url)) writes.
_SETUP_ANSWER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n'
    '<cXML payloadID="{payload_id}" timestamp="{timestamp}" version="{version}" '
    'xml:lang="en-US"><Response><Status code="200" text="OK" xml:lang="en-US"/>'
    "<PunchOutSetupResponse><StartPage><URL>{url}</URL></StartPage>"
    "</PunchOutSetupResponse></Response></cXML>"
)


def setup_answer(start_url: str, *, version: str, payload_id: str | None = None) -> bytes:
    """``response(200, version=version, body=setup_response(start_url))``, from a template."""
    return _SETUP_ANSWER.format(
        doctype=doctype(version),
        payload_id=xml_escape(payload_id or new_payload_id(), {'"': "&quot;"}),
        timestamp=format_timestamp(),
        version=xml_escape(version, {'"': "&quot;"}),
        url=xml_escape(start_url),
    ).encode("utf-8")


@dataclass(frozen=True)
class ItemIn:
    sku: str
    aux_id: str
    quantity: Decimal
    unit_price: Decimal
    currency: str
    description: str
    uom: str
    unspsc: str | None = None
    manufacturer_part_id: str | None = None
    manufacturer: str | None = None
    lead_time_days: int | None = None
    lang: str = "en-US"
    # (domain, code); none: one empty UNSPSC Classification, as the DTD needs one.
    classifications: tuple[tuple[str, str], ...] = ()
    price_basis: PriceBasis | None = None
    extrinsics: tuple[tuple[str, str], ...] = ()

    @property
    def total(self) -> Decimal:
        if self.price_basis is None:
            return self.unit_price * self.quantity
        basis = self.price_basis
        return self.unit_price * self.quantity * basis.conversion_factor / basis.quantity


@dataclass(frozen=True)
class PriceBasis:
    """The unit price is for ``quantity`` of ``uom`` (PriceBasisQuantity, cXML 1.2.036+)."""

    quantity: Decimal
    uom: str
    conversion_factor: Decimal = Decimal(1)


# The oldest DTD of our catalog with PriceBasisQuantity in ItemDetail.
PRICE_BASIS_SINCE = (1, 2, 36)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


@dataclass(frozen=True)
class Charge:
    """Tax or shipping in the PunchOutOrderMessageHeader."""

    amount: Decimal
    description: str


@dataclass(frozen=True)
class OrderMessage:
    """A PunchOutOrderMessage: the cart going back to the procurement system."""

    buyer_cookie: str
    from_: tuple[dict, ...]  # supplier credentials (domain, identity)
    to: tuple[dict, ...]  # buyer credentials
    sender: tuple[dict, ...]
    operation_allowed: str
    currency: str
    items: tuple[ItemIn, ...]
    version: str
    payload_id: str | None = None
    deployment_mode: str = "production"
    shipping: Charge | None = None
    tax: Charge | None = None

    @property
    def total(self) -> Decimal:
        return sum((i.total for i in self.items), Decimal("0"))


def _party(parent: etree._Element, name: str, credentials: Iterable[dict]) -> etree._Element:
    party = etree.SubElement(parent, name)
    for cred in credentials:
        el = etree.SubElement(party, "Credential")
        el.set("domain", cred["domain"])
        # Never a SharedSecret: the message travels through the user's browser.
        etree.SubElement(el, "Identity").text = cred["identity"]
    return party


def envelope(
    version: str,
    payload_id: str | None,
    from_: Iterable[dict],
    to: Iterable[dict],
    sender: Iterable[dict],
    container: str,
) -> tuple[etree._Element, etree._Element]:
    """A cXML root with its Header, and the empty Request or Message to fill."""
    root = _root(version, payload_id)
    header = etree.SubElement(root, "Header")
    _party(header, "From", from_)
    _party(header, "To", to)
    sender_el = _party(header, "Sender", sender)
    etree.SubElement(sender_el, "UserAgent").text = USER_AGENT
    return root, etree.SubElement(root, container)


def order_message(msg: OrderMessage) -> bytes:
    root, message = envelope(msg.version, msg.payload_id, msg.from_, msg.to, msg.sender, "Message")
    if msg.deployment_mode == "test":
        message.set("deploymentMode", "test")
    poom = etree.SubElement(message, "PunchOutOrderMessage")
    etree.SubElement(poom, "BuyerCookie").text = msg.buyer_cookie
    head = etree.SubElement(poom, "PunchOutOrderMessageHeader")
    head.set("operationAllowed", msg.operation_allowed)
    total = etree.SubElement(head, "Total")
    m = etree.SubElement(total, "Money")
    m.set("currency", msg.currency)
    m.text = money(msg.total)
    for name, charge in (("Shipping", msg.shipping), ("Tax", msg.tax)):
        if charge is not None:
            el = etree.SubElement(head, name)
            amount = etree.SubElement(el, "Money")
            amount.set("currency", msg.currency)
            amount.text = money(charge.amount)
            desc = etree.SubElement(el, "Description")
            desc.set(XML_LANG, "en-US")
            desc.text = charge.description
    for number, item in enumerate(msg.items, start=1):
        _item_in(poom, item, number)
    return serialize(root, msg.version)


def _item_in(parent: etree._Element, item: ItemIn, number: int) -> None:
    el = etree.SubElement(parent, "ItemIn")
    el.set("quantity", quantity(item.quantity))
    el.set("lineNumber", str(number))
    item_id = etree.SubElement(el, "ItemID")
    etree.SubElement(item_id, "SupplierPartID").text = item.sku
    etree.SubElement(item_id, "SupplierPartAuxiliaryID").text = item.aux_id
    detail = etree.SubElement(el, "ItemDetail")
    price = etree.SubElement(etree.SubElement(detail, "UnitPrice"), "Money")
    price.set("currency", item.currency)
    price.text = money(item.unit_price)
    desc = etree.SubElement(detail, "Description")
    desc.set(XML_LANG, item.lang)
    desc.text = item.description
    etree.SubElement(detail, "UnitOfMeasure").text = item.uom
    if item.price_basis is not None:
        basis = etree.SubElement(detail, "PriceBasisQuantity")
        basis.set("quantity", quantity(item.price_basis.quantity))
        basis.set("conversionFactor", quantity(item.price_basis.conversion_factor))
        etree.SubElement(basis, "UnitOfMeasure").text = item.price_basis.uom
    for domain, code in item.classifications or (("UNSPSC", item.unspsc or ""),):
        classification = etree.SubElement(detail, "Classification")
        classification.set("domain", domain)
        classification.text = code
    if item.manufacturer_part_id:
        etree.SubElement(detail, "ManufacturerPartID").text = item.manufacturer_part_id
    if item.manufacturer:
        name = etree.SubElement(detail, "ManufacturerName")
        name.set(XML_LANG, item.lang)
        name.text = item.manufacturer
    if item.lead_time_days is not None:
        etree.SubElement(detail, "LeadTime").text = str(item.lead_time_days)
    for name, value in item.extrinsics:
        extrinsic = etree.SubElement(detail, "Extrinsic")
        extrinsic.set("name", name)
        extrinsic.text = value
