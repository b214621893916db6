"""Sending the cart back: the PunchOutOrderMessage and the form that carries it."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from gateway import money
from gateway.cxml import documents
from gateway.models import PunchoutSession
from gateway.oci.items import LIMITS, FormatOptions, OciItem, OciValueError, new_item_fields
from gateway.sessions.events import record, redact_document
from gateway.sessions.service import SessionError, mark_transferred


@dataclass(frozen=True)
class TransferForm:
    """An HTML form the browser posts to the buyer's return URL."""

    action: str
    target: str
    fields: tuple[tuple[str, str], ...]


def cxml_order_message(session: PunchoutSession, settings_version: str) -> bytes:
    details = session.details
    cxml_settings = session.buyer.settings.get("cxml", {})
    items = tuple(
        documents.ItemIn(
            sku=line.sku,
            aux_id=line.aux_id,
            quantity=line.quantity,
            unit_price=line.unit_price,
            currency=line.currency,
            description=line.description,
            uom=line.uom,
            unspsc=line.unspsc,
            manufacturer_part_id=line.manufacturer_part_id,
            manufacturer=line.manufacturer,
            lead_time_days=line.lead_time_days,
        )
        for line in session.lines
    )
    currency = items[0].currency if items else _default_currency(session)
    message = documents.OrderMessage(
        buyer_cookie=session.buyer_cookie or "",
        # Mirrored: the buyer addressed us in To, we answer from it.
        from_=tuple(details.get("to") or details.get("supplier") or ()),
        to=tuple(details.get("from") or ()),
        sender=tuple(details.get("supplier") or details.get("to") or ()),
        operation_allowed=cxml_settings.get("operation_allowed", "edit"),
        currency=currency,
        items=items,
        version=session.cxml_version or settings_version,
        deployment_mode=details.get("deployment_mode", "production"),
    )
    return documents.order_message(message)


def _default_currency(session: PunchoutSession) -> str:
    return session.buyer.settings.get("currency", "USD")


CUSTOM_FIELD_SOURCES = (
    "sku",
    "manufacturer",
    "manufacturer_part_id",
    "unspsc",
    "uom",
    "aux_id",
    "list_price",
    "contract_price",
)


def oci_items(session: PunchoutSession) -> list[OciItem]:
    oci = session.buyer.settings.get("oci", {})
    custom = {int(k): v for k, v in (oci.get("custom_fields") or {}).items()}
    items = []
    for line in session.lines:
        values = {}
        for index, source in custom.items():
            value = getattr(line, source, None)
            values[index] = (
                ""
                if value is None
                else (money.amount(value) if isinstance(value, Decimal) else str(value))
            )
        items.append(
            OciItem(
                description=line.description,
                quantity=line.quantity,
                unit=line.uom,
                price=line.unit_price,
                currency=line.currency,
                vendormat=line.sku,
                # The line identity orders are matched by later.
                ext_product_id=line.aux_id,
                leadtime=line.lead_time_days,
                vendor=oci.get("vendor_number", ""),
                manufactmat=line.manufacturer_part_id or "",
                matgroup=line.unspsc or "",
                contract=oci.get("contract", "") if line.contract_price is not None else "",
                ext_quote_id=f"PG-{session.id}",
                ext_quote_item=str(line.position),
                longtext=line.description if len(line.description) > LIMITS["DESCRIPTION"] else "",
                custom=values,
            )
        )
    return items


def oci_form(db: Session, session: PunchoutSession) -> TransferForm:
    oci = session.buyer.settings.get("oci", {})
    options = FormatOptions(
        decimals=int(oci.get("decimals", 3)),
        index_base=int(oci.get("index_base", 1)),
        unit_map=oci.get("unit_map") or {},
    )
    try:
        fields, cuts = new_item_fields(oci_items(session), options)
    except OciValueError as exc:
        raise SessionError(f"the cart cannot be sent over OCI: {exc}", 409) from None
    for cut in cuts:
        record(
            db,
            "transfer.cut",
            f"line {cut.line}: {cut.field} cut from {len(cut.original)} to "
            f"{len(cut.sent)} characters (OCI limit {LIMITS[cut.field]})",
            buyer_id=session.buyer_id,
            session_id=session.id,
            level="warning",
            data={"line": cut.line, "field": cut.field, "original": cut.original, "sent": cut.sent},
        )
    echo = tuple((name, value) for name, value in session.details.get("echo", []))
    return TransferForm(
        action=session.return_url,
        target=session.details.get("target") or "_top",
        fields=echo + tuple(fields),
    )


def cxml_form(session: PunchoutSession, default_version: str) -> tuple[TransferForm, str, str]:
    document = cxml_order_message(session, default_version)
    encoding = session.buyer.settings.get("cxml", {}).get("form_encoding", "cxml-base64")
    if encoding == "cxml-urlencoded":
        fields = (("cxml-urlencoded", document.decode("utf-8")),)
    else:
        fields = (("cxml-base64", base64.b64encode(document).decode("ascii")),)
    target = session.details.get("extrinsics", {}).get("returnframe") or "_top"
    form = TransferForm(action=session.return_url, target=target, fields=fields)
    return form, encoding, redact_document(document)


def transfer(db: Session, session: PunchoutSession, default_version: str) -> TransferForm:
    """Close the session and build the form that returns its cart."""
    if session.protocol == "support":
        raise SessionError(
            "This cart was built by a support agent for the user and has no procurement "
            "system to return to: save it for the user, or place the order, from the cart page.",
            409,
        )
    if not session.return_url:
        # Nothing the user can do in this session gets the cart back.
        session.status = "failed"
        record(
            db,
            "transfer.failed",
            "no return URL: the setup request had no BrowserFormPost",
            buyer_id=session.buyer_id,
            session_id=session.id,
            level="error",
        )
        raise SessionError(
            "Your procurement system did not say where to send the cart back "
            "(no BrowserFormPost in the setup request). Please contact the supplier.",
            409,
        )
    mark_transferred(db, session)
    if session.protocol == "oci":
        form = oci_form(db, session)
        encoding = "OCI NEW_ITEM form"
        document = "\n".join(f"{name}={value}" for name, value in form.fields)
    else:
        form, encoding, document = cxml_form(session, default_version)
    record(
        db,
        "transfer",
        f"cart of {len(session.lines)} line(s) sent to the buyer as {encoding}",
        buyer_id=session.buyer_id,
        session_id=session.id,
        data={"lines": len(session.lines), "encoding": encoding, "return_url": session.return_url},
        document=document,
    )
    return form
