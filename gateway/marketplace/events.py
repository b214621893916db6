"""Events from the marketplace about orders: signed webhook calls, applied once each.

Signature: ``X-Punchgate-Timestamp: <unix seconds>`` and
``X-Punchgate-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` keyed
with ``PUNCHGATE_MARKETPLACE_SECRET``. Calls older than five minutes, or with an
``event_id`` already applied, change nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.models import MarketplaceEvent, MarketplaceOrder, Order
from gateway.orders import journey
from gateway.sessions.events import record

WINDOW_SECONDS = 300
# Event type -> the order status it leads to.
TRANSITIONS = {
    "accepted": "accepted",
    "pending": "pending",
    "rejected": "rejected",
    "confirmed": "confirmed",
    "backordered": "backordered",
    "shipped": "shipped",
    "delivered": "delivered",
    "invoiced": "invoiced",
    "cancelled": "cancelled",
    "detail": "confirmed",
    "refunded": "refunded",
}


class WebhookError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float | None = None,
) -> None:
    if not secret:
        raise WebhookError(
            503, "marketplace webhook is not configured (PUNCHGATE_MARKETPLACE_SECRET)"
        )
    if not timestamp or not signature:
        raise WebhookError(401, "X-Punchgate-Timestamp and X-Punchgate-Signature are required")
    try:
        sent = int(timestamp)
    except ValueError:
        raise WebhookError(401, "X-Punchgate-Timestamp is not a unix time") from None
    if abs((now or time.time()) - sent) > WINDOW_SECONDS:
        raise WebhookError(401, "the signed timestamp is outside the five-minute window")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode()):
        raise WebhookError(401, "signature does not match")


def apply(db: Session, event: dict, version: str = "1.2.069") -> tuple[bool, Order]:
    """Apply one event; return (applied, order). Replays return applied=False."""
    event_id = str(event.get("event_id") or "").strip()
    kind = str(event.get("type") or "")
    if not event_id:
        raise WebhookError(400, "event_id is required")
    if kind not in TRANSITIONS:
        raise WebhookError(400, f"type must be one of {', '.join(TRANSITIONS)}")
    order = None
    if event.get("order_id") is not None:
        order = db.get(Order, event["order_id"])
    elif event.get("idempotency_key"):
        order = db.scalar(
            select(Order)
            .join(MarketplaceOrder, MarketplaceOrder.order_pk == Order.id)
            .where(MarketplaceOrder.idempotency_key == event["idempotency_key"])
        )
        if order is None:
            key = str(event["idempotency_key"])
            if key.startswith("order-") and key[6:].isdigit():
                order = db.get(Order, int(key[6:]))
    if order is None:
        raise WebhookError(404, "no such order")
    try:
        with db.begin_nested():
            db.add(MarketplaceEvent(event_id=event_id))
    except IntegrityError:
        return False, order
    order.status = TRANSITIONS[kind]
    details = {
        k: event[k]
        for k in ("carrier", "tracking_number", "invoice_id", "reason", "lines")
        if k in event
    }
    order.details = {
        **order.details,
        "marketplace": {**order.details.get("marketplace", {}), kind: details},
    }
    record(
        db,
        f"order.{kind}",
        f"marketplace: order {order.order_id} {kind}" + (f" ({details})" if details else ""),
        buyer_id=order.buyer_id,
        session_id=order.session_id,
        data={"order": order.id, "event_id": event_id, **details},
    )
    journey.enqueue(db, order, kind, event_id, details, version)
    return True, order
