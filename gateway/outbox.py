"""Reliable delivery of everything the gateway sends (transactional outbox).

Messages are written in the transaction that causes them. The worker claims
due messages with a lease, delivers outside any transaction, then records the
outcome: sent, retried later (exponential back-off with jitter) or dead after
the last attempt. A worker killed mid-delivery leaves its lease to expire and
the message is delivered again with the same Idempotency-Key, so the receiver
can drop the duplicate; the embedded marketplace records delivery in the same
transaction that marks the message sent, so it never sees one.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from lxml import etree
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.cxml.signing import sign
from gateway.marketplace.adapters import ORDER_STATES, Delivery, HttpMarketplace, post_json
from gateway.models import Buyer, BuyerCredential, MarketplaceOrder, Order, OutboxMessage, utcnow
from gateway.sessions.events import record
from gateway.state import Gateway
from gateway.xml import MalformedXML, UnsafeXML, parse

log = logging.getLogger(__name__)
MAX_DELAY = 3600.0


def backoff(attempts: int, base: float) -> float:
    """Seconds before the next attempt: doubling, capped, with ±50% jitter."""
    delay = min(base * 2 ** max(attempts - 1, 0), MAX_DELAY)
    return delay * random.uniform(0.5, 1.5)


@dataclass(frozen=True)
class RunStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0


def claim(gateway: Gateway, limit: int = 20) -> list[int]:
    """Lease due messages to this worker; return their ids."""
    now = utcnow()
    with gateway.db.transaction() as db:
        stmt = (
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        if gateway.db.engine.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(db.scalars(stmt))
        for row in rows:
            row.lease_until = now + timedelta(seconds=gateway.settings.outbox_lease_seconds)
            row.attempts += 1
        return [row.id for row in rows]


def _session_of(db: Session, message: OutboxMessage) -> int | None:
    if message.order_pk is None:
        return None
    order = db.get(Order, message.order_pk)
    return order.session_id if order else None


def _finish(gateway: Gateway, message_id: int, result: Delivery, on_success=None) -> str:
    """Record an attempt's outcome; return sent, retry or dead."""
    settings = gateway.settings
    with gateway.db.transaction() as db:
        message = db.get(OutboxMessage, message_id)
        session_id = _session_of(db, message)
        now = utcnow()
        message.last_status = result.http_status
        message.lease_until = None
        if result.ok:
            if on_success:
                on_success(db, message, result)
            message.status, message.sent_at, message.last_error = "sent", now, None
            outcome = "sent"
        elif result.permanent or message.attempts >= settings.outbox_max_attempts:
            message.status, message.last_error = "dead", result.detail
            outcome = "dead"
        else:
            delay = backoff(message.attempts, settings.outbox_base_delay)
            message.next_attempt_at = now + timedelta(seconds=delay)
            message.last_error = result.detail
            outcome = "retry"
        level = {"sent": "info", "retry": "warning", "dead": "error"}[outcome]
        text = {
            "sent": "delivered",
            "retry": "failed; will retry",
            "dead": "failed for good (dead-lettered)",
        }[outcome]
        record(
            db,
            f"outbox.{outcome}",
            f"{message.kind} attempt {message.attempts} {text}: {result.detail}",
            buyer_id=message.buyer_id,
            session_id=session_id,
            level=level,
            data={
                "outbox": message.id,
                "attempt": message.attempts,
                "key": message.idempotency_key,
                "http_status": result.http_status,
            },
        )
        return outcome


def _order_accepted(state: str, reason: str | None):
    def apply(db: Session, message: OutboxMessage, result: Delivery) -> None:
        # Messages not about an order (an alert webhook) have no order_pk.
        order = db.get(Order, message.order_pk) if message.order_pk is not None else None
        if order is None or order.status not in ("received",):
            return
        order.status = state
        order.status_reason = reason
        record(
            db,
            f"order.{state}",
            f"marketplace {state} order {order.order_id}" + (f": {reason}" if reason else ""),
            buyer_id=order.buyer_id,
            session_id=order.session_id,
            data={"order": order.id},
        )

    return apply


def _embedded_delivery(db: Session, message: OutboxMessage, result: Delivery) -> None:
    exists = db.scalar(
        select(MarketplaceOrder.id).where(
            MarketplaceOrder.idempotency_key == message.idempotency_key
        )
    )
    if exists is None:
        db.add(
            MarketplaceOrder(
                idempotency_key=message.idempotency_key,
                order_pk=message.order_pk,
                status="accepted",
            )
        )
    _order_accepted("accepted", None)(db, message, result)


def deliver(gateway: Gateway, message_id: int) -> str:
    with gateway.db.transaction() as db:
        message = db.get(OutboxMessage, message_id)
        kind, payload, key = message.kind, message.payload, message.idempotency_key
    if kind == "marketplace.order":
        if gateway.settings.marketplace_url is None:
            return _finish(
                gateway,
                message_id,
                Delivery(True, detail="embedded marketplace"),
                _embedded_delivery,
            )
        adapter = HttpMarketplace(
            gateway.settings.marketplace_url, gateway.settings.marketplace_timeout
        )
        result = adapter.deliver_order(payload, key)
        state = (result.answer or {}).get("status", "accepted")
        if state not in ORDER_STATES:
            state = "accepted"
        return _finish(
            gateway, message_id, result, _order_accepted(state, (result.answer or {}).get("reason"))
        )
    if kind.startswith("cxml."):
        with gateway.db.transaction() as db:
            message = db.get(OutboxMessage, message_id)
            secret = outbound_secret(db, gateway, message.buyer_id)
            buyer = db.get(Buyer, message.buyer_id)
            wants_signature = bool((buyer.settings.get("signing") or {}).get("sign_outbound"))
        data = json.loads(payload)
        document = with_shared_secret(data["document"], secret)
        if wants_signature:
            key, cert = gateway.settings.signing_key_file, gateway.settings.signing_cert_file
            if not (key and cert):
                return _finish(
                    gateway,
                    message_id,
                    Delivery(
                        False,
                        True,
                        detail="the buyer requires signed documents but "
                        "PUNCHGATE_SIGNING_KEY / PUNCHGATE_SIGNING_CERT are not set",
                    ),
                )
            document = sign(document, Path(key).read_bytes(), Path(cert).read_bytes())
        result = send_cxml(data["url"], document, gateway.settings.marketplace_timeout)
        return _finish(gateway, message_id, result)
    if kind == "alert.webhook":
        return _finish(gateway, message_id, send_alert(gateway, payload, key))
    return _finish(
        gateway, message_id, Delivery(False, True, detail=f"no delivery route for {kind!r}")
    )


def send_alert(gateway: Gateway, payload: str, key: str) -> Delivery:
    """POST one alert to the operator's webhook, signed like the marketplace's events
    (``X-Punchgate-Signature: sha256=<HMAC of "<timestamp>.<body>">``) when a secret is set."""
    from gateway.marketplace.events import sign

    data = json.loads(payload)
    body = json.dumps(data["alert"])
    headers = {"Idempotency-Key": key}
    secret = gateway.settings.alert_webhook_secret
    if secret:
        timestamp = str(int(time.time()))
        headers["X-Punchgate-Timestamp"] = timestamp
        headers["X-Punchgate-Signature"] = sign(secret, timestamp, body.encode())
    return post_json(data["url"], body, headers, gateway.settings.marketplace_timeout)


def outbound_secret(db: Session, gateway: Gateway, buyer_id: str | None) -> str | None:
    row = db.scalar(
        select(BuyerCredential).where(
            BuyerCredential.buyer_id == buyer_id, BuyerCredential.kind == "outbound"
        )
    )
    if row is None or not row.secret_encrypted:
        return None
    return gateway.box.decrypt(row.secret_encrypted)


def with_shared_secret(document: str, secret: str | None) -> bytes:
    """The stored document with the buyer's SharedSecret in its Sender credential.

    The secret is added only on the way out, so it never sits in the outbox,
    the event log or a support page.
    """
    raw = document.encode("utf-8")
    if not secret:
        return raw
    parsed = parse(raw)
    credential = parsed.root.find("Header/Sender/Credential")
    shared = etree.Element("SharedSecret")
    shared.text = secret
    credential.find("Identity").addnext(shared)
    head = raw[: raw.index(b"<cXML")]
    return head + etree.tostring(parsed.root, encoding="UTF-8")


def send_cxml(url: str, document: bytes, timeout: float) -> Delivery:
    """POST a cXML request; the buyer's Status decides: 2xx sent, 4xx final, 5xx retried."""
    result = post_json(
        url,
        document.decode("utf-8"),
        {},
        timeout,
        content_type="text/xml; charset=utf-8",
        raw_answer=True,
    )
    if not result.ok:
        return result
    try:
        status_el = parse(result.answer["raw"]).root.find("Response/Status")
    except (MalformedXML, UnsafeXML):
        status_el = None
    if status_el is None or not status_el.get("code", "").isdigit():
        return Delivery(
            False,
            False,
            result.http_status,
            "the buyer's answer is not a cXML Response with a Status",
        )
    code = int(status_el.get("code"))
    detail = f"buyer Status {code} {status_el.get('text', '')}".strip()
    if 200 <= code < 300:
        return Delivery(True, http_status=result.http_status, detail=detail, answer={"code": code})
    return Delivery(False, 400 <= code < 500, result.http_status, detail, {"code": code})


def run_once(gateway: Gateway, limit: int = 20) -> RunStats:
    counts = {"sent": 0, "retry": 0, "dead": 0}
    for message_id in claim(gateway, limit):
        try:
            counts[deliver(gateway, message_id)] += 1
        except Exception:  # one bad message must not stop the others
            log.exception("outbox message %s failed unexpectedly", message_id)
            counts["retry"] += 1
    return RunStats(counts["sent"], counts["retry"], counts["dead"])


def run_forever(gateway: Gateway, idle: float = 1.0) -> None:
    while True:
        stats = run_once(gateway)
        if not (stats.sent or stats.retried or stats.dead):
            time.sleep(idle)
