"""Sending the cart back: the PunchOutOrderMessage and the form that carries it."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.cxml import documents
from gateway.models import PunchoutSession
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


def transfer(db: Session, session: PunchoutSession, default_version: str) -> TransferForm:
    """Close the session and build the form that returns its cart."""
    if not session.return_url:
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
    if session.protocol != "cxml":
        raise SessionError(f"transfer for protocol {session.protocol!r} is not available", 409)
    document = cxml_order_message(session, default_version)
    encoding = session.buyer.settings.get("cxml", {}).get("form_encoding", "cxml-base64")
    if encoding == "cxml-urlencoded":
        fields = (("cxml-urlencoded", document.decode("utf-8")),)
    else:
        fields = (("cxml-base64", base64.b64encode(document).decode("ascii")),)
    record(
        db,
        "transfer",
        f"cart of {len(session.lines)} line(s) sent to the buyer as {encoding}",
        buyer_id=session.buyer_id,
        session_id=session.id,
        data={"lines": len(session.lines), "encoding": encoding, "return_url": session.return_url},
        document=redact_document(document),
    )
    target = session.details.get("extrinsics", {}).get("returnframe") or "_top"
    return TransferForm(action=session.return_url, target=target, fields=fields)
