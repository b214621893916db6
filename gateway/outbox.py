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

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.marketplace.adapters import ORDER_STATES, Delivery, HttpMarketplace
from gateway.models import MarketplaceOrder, Order, OutboxMessage, utcnow
from gateway.sessions.events import record
from gateway.state import Gateway

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
        order = db.get(Order, message.order_pk)
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
    return _finish(
        gateway, message_id, Delivery(False, True, detail=f"no delivery route for {kind!r}")
    )


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


def pending_summary(db: Session) -> dict:
    rows = db.execute(select(OutboxMessage.status, OutboxMessage.id)).all()
    summary: dict[str, int] = {}
    for status, _ in rows:
        summary[status] = summary.get(status, 0) + 1
    return summary


def as_dict(message: OutboxMessage) -> dict:
    return {
        "id": message.id,
        "kind": message.kind,
        "status": message.status,
        "attempts": message.attempts,
        "key": message.idempotency_key,
        "last_status": message.last_status,
        "last_error": message.last_error,
        "payload": json.loads(message.payload) if message.kind.startswith("marketplace") else None,
    }
