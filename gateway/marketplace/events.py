"""Events from the marketplace about orders: signed webhook calls, applied once each.

Signature: ``X-Punchgate-Timestamp: <unix seconds>`` and
``X-Punchgate-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` keyed
with ``PUNCHGATE_MARKETPLACE_SECRET``. Calls older than five minutes, or with an
``event_id`` already applied, change nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
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


# Event type -> the order statuses it may follow. Anything else is an impossible
# transition (409): a cancelled order is not shipped, an unshipped one not delivered.
OPEN = frozenset({"received", "accepted", "pending", "confirmed", "backordered"})
ALLOWED_FROM = {
    "accepted": frozenset({"received", "accepted", "pending"}),
    "pending": frozenset({"received", "accepted", "pending"}),
    "rejected": frozenset({"received", "accepted", "pending"}),
    "confirmed": OPEN,
    "detail": OPEN,
    "backordered": OPEN,
    "cancelled": OPEN,
    "shipped": OPEN | {"shipped"},
    "delivered": frozenset({"shipped", "delivered"}),
    "invoiced": (OPEN - {"received"}) | {"shipped", "delivered", "invoiced"},
    "refunded": frozenset({"invoiced", "refunded"}),
}
# Optional details: name -> longest text (stored in VARCHAR(100) or shown to buyers).
TEXT_FIELDS = {"carrier": 100, "tracking_number": 100, "invoice_id": 100, "reason": 1000}
MAX_ORDER_PK = 2**31 - 1
MAX_LINES = 10_000


class WebhookError(Exception):
    def __init__(self, status: int, message: str, order: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.order = order  # id, buyer_id, session_id of the order it was about


# Characters an XML document cannot carry (the details go into cXML sent to the buyer).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(event: dict, name: str, limit: int, required: bool = False) -> str | None:
    value = event.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value or len(value) > limit:
        raise WebhookError(400, f"{name} must be a non-empty string of at most {limit} characters")
    if _NOT_XML.search(value):
        raise WebhookError(400, f"{name} contains a control character XML cannot carry")
    return value.strip()


def _details(event: dict) -> dict:
    """The optional details, each checked for type and size (they reach buyers' documents)."""
    details = {}
    for name, limit in TEXT_FIELDS.items():
        value = _text(event, name, limit)
        if value is not None:
            details[name] = value
    if event.get("lines") is not None:
        lines = event["lines"]
        if (
            not isinstance(lines, list)
            or len(lines) > MAX_LINES
            or not all(
                isinstance(n, int) and not isinstance(n, bool) and 0 < n <= MAX_ORDER_PK
                for n in lines
            )
        ):
            raise WebhookError(400, "lines must be a list of line numbers (positive integers)")
        details["lines"] = lines
    return details


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
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise WebhookError(400, "X-Punchgate-Timestamp must be unix seconds (at most 12 digits)")
    sent = int(timestamp)
    if abs((now or time.time()) - sent) > WINDOW_SECONDS:
        raise WebhookError(401, "the signed timestamp is outside the five-minute window")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode()):
        raise WebhookError(401, "signature does not match")


def apply(db: Session, event: dict, version: str = "1.2.069") -> tuple[bool, Order]:
    """Apply one event; return (applied, order). Replays return applied=False."""
    if event.get("event_id") in (None, ""):
        raise WebhookError(400, "event_id is required")
    event_id = _text(event, "event_id", 100, required=True)
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in TRANSITIONS:
        raise WebhookError(400, f"type must be one of {', '.join(TRANSITIONS)}")
    details = _details(event)
    order = None
    if event.get("order_id") is not None:
        order_pk = event["order_id"]
        if not isinstance(order_pk, int) or isinstance(order_pk, bool):
            raise WebhookError(400, "order_id must be an integer")
        order = db.get(Order, order_pk) if 0 < order_pk <= MAX_ORDER_PK else None
    elif event.get("idempotency_key") is not None:
        _text(event, "idempotency_key", 100, required=True)
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
    if order.status not in ALLOWED_FROM[kind]:
        raise WebhookError(
            409,
            f"order {order.order_id} is {order.status}: a {kind} event cannot follow that",
            {"id": order.id, "buyer_id": order.buyer_id, "session_id": order.session_id},
        )
    try:
        with db.begin_nested():
            db.add(MarketplaceEvent(event_id=event_id))
    except IntegrityError:
        return False, order
    order.status = TRANSITIONS[kind]
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
