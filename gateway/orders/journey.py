"""The order's journey back to the buyer: which cXML document each marketplace event
sends to ``buyer.outbound.url``, queued in the outbox with the event's transaction."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cxml import fulfil, versions
from gateway.models import Buyer, Order, OutboxMessage, Supplier
from gateway.sessions.events import record
from gateway.xml import parse

# Marketplace event -> (document, confirmation type or invoice purpose)
DOCUMENTS = {
    "confirmed": ("ConfirmationRequest", "accept"),
    "rejected": ("ConfirmationRequest", "reject"),
    "cancelled": ("ConfirmationRequest", "reject"),
    "backordered": ("ConfirmationRequest", "backordered"),
    "detail": ("ConfirmationRequest", "detail"),
    "shipped": ("ShipNoticeRequest", None),
    "invoiced": ("InvoiceDetailRequest", "standard"),
    "refunded": ("InvoiceDetailRequest", "creditMemo"),
}


def _parties(db: Session, order: Order) -> fulfil.Parties:
    supplier = db.scalar(select(Supplier).limit(1))
    ours = tuple(supplier.credentials) if supplier else ()
    return fulfil.Parties(
        from_=tuple(order.details.get("to") or ours),
        to=tuple(order.details.get("from") or ()),
        sender=ours or tuple(order.details.get("to") or ()),
    )


def _lines(order: Order, numbers: list[int] | None = None) -> list[fulfil.Line]:
    chosen = [line for line in order.lines if not numbers or line.line_number in numbers]
    return [
        fulfil.Line(
            line.line_number,
            line.quantity,
            line.uom or "EA",
            line.sku,
            line.aux_id,
            line.unit_price,
            line.currency or order.currency or "USD",
            line.description,
        )
        for line in chosen
    ]


def enqueue(
    db: Session, order: Order, kind: str, event_id: str, details: dict, version: str
) -> OutboxMessage | None:
    """Queue the document a marketplace event owes the buyer (None when it owes none).

    ``version`` is the fallback: the buyer's configured cXML version wins, then
    the version of the buyer's own OrderRequest when the gateway emits it.
    """
    if kind not in DOCUMENTS:
        return None
    buyer = db.get(Buyer, order.buyer_id)
    url = (buyer.settings.get("outbound") or {}).get("url")
    document_name, variant = DOCUMENTS[kind]
    if order.details.get("on_behalf"):
        why = "a support agent placed it on behalf of the user; the buyer's system never saw it"
    elif not url:
        why = "the buyer has no [buyer.outbound] url"
    else:
        why = None
    if why:
        record(
            db,
            "outbound.skipped",
            f"{document_name} for order {order.order_id} not sent: {why}",
            buyer_id=order.buyer_id,
            session_id=order.session_id,
            level="warning",
            data={"order": order.id},
        )
        return None
    version = versions.answer_version(
        (buyer.settings.get("cxml") or {}).get("version"),
        order.details.get("cxml_version"),
        version,
        "InvoiceDetail.dtd" if document_name == "InvoiceDetailRequest" else "Fulfill.dtd",
    )
    parties = _parties(db, order)
    ref = fulfil.OrderRef(order.order_id, order.order_date, order.payload_id)
    numbers = details.get("lines")
    if document_name == "ConfirmationRequest":
        document = fulfil.confirmation(
            parties,
            ref,
            variant,
            _lines(order, numbers),
            confirm_id=f"{order.order_id}-{event_id}"[:100],
            version=version,
            comment=details.get("reason"),
        )
    elif document_name == "ShipNoticeRequest":
        document = fulfil.ship_notice(
            parties,
            ref,
            _lines(order, numbers),
            shipment_id=details.get("tracking_number") or event_id,
            carrier=details.get("carrier") or "unknown",
            tracking_number=details.get("tracking_number") or "",
            version=version,
        )
    else:
        document = fulfil.invoice(
            parties,
            ref,
            _lines(order, numbers),
            invoice_id=details.get("invoice_id") or event_id,
            version=version,
            currency=order.currency or "USD",
            credit_memo=variant == "creditMemo",
        )
    message = OutboxMessage(
        kind=f"cxml.{document_name}",
        idempotency_key=f"cxml-{order.id}-{event_id}"[:100],
        buyer_id=order.buyer_id,
        order_pk=order.id,
        payload=json.dumps({"url": url, "document": document.decode("utf-8")}),
        document_id=parse(document).root.get("payloadID"),
    )
    db.add(message)
    record(
        db,
        "outbound.queued",
        f"{document_name} ({variant or 'new'}) queued for {order.buyer_id}",
        buyer_id=order.buyer_id,
        session_id=order.session_id,
        data={"order": order.id, "document": document_name},
    )
    return message
