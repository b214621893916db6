"""Reliable delivery of everything the gateway sends (transactional outbox).

Messages are written in the transaction that causes them. The worker claims
a batch of due messages with a lease in one transaction, delivers each outside
any transaction (over a kept-alive connection per receiver), then records every
outcome of the batch in one transaction: sent, retried later (exponential
back-off with jitter) or dead after the last attempt. A worker killed
mid-batch leaves its lease to expire and the messages are delivered again with
the same Idempotency-Key, so the receiver can drop the duplicate; the embedded
marketplace records delivery in the same transaction that marks the message
sent, so it never sees one.
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
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from gateway.cxml.signing import sign
from gateway.marketplace.adapters import ORDER_STATES, Delivery, HttpMarketplace, KeepAlive
from gateway.models import Buyer, BuyerCredential, MarketplaceOrder, Order, OutboxMessage, utcnow
from gateway.sessions.events import record, storable
from gateway.state import Gateway
from gateway.xml import MalformedXML, UnsafeXML, parse

log = logging.getLogger(__name__)
MAX_DELAY = 3600.0
# Messages claimed, delivered and recorded together: two short transactions per batch
# instead of three per message. A worker that dies mid-batch delivers up to this many
# again (same keys) after the lease.
BATCH = 100


def backoff(attempts: int, base: float) -> float:
    """Seconds before the next attempt: doubling, capped, with ±50% jitter."""
    delay = min(base * 2 ** max(attempts - 1, 0), MAX_DELAY)
    return delay * random.uniform(0.5, 1.5)


@dataclass(frozen=True)
class RunStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    # Claimed but not attempted: the batch ran past half its lease (see run_batch).
    released: int = 0

    def __add__(self, other: RunStats) -> RunStats:
        return RunStats(
            self.sent + other.sent,
            self.retried + other.retried,
            self.dead + other.dead,
            self.released + other.released,
        )

    @property
    def claimed(self) -> int:
        return self.sent + self.retried + self.dead + self.released


@dataclass(frozen=True)
class Claimed:
    """A leased message, as the worker needs it to deliver and record it."""

    id: int
    kind: str
    idempotency_key: str
    buyer_id: str | None
    order_pk: int | None
    payload: str
    attempts: int  # this attempt included


@dataclass
class Attempt:
    message: Claimed
    result: Delivery
    # A marketplace order's answer: the state (and reason) the order takes if it was
    # still "received"; None for other messages.
    order_state: tuple[str, str | None] | None = None
    embedded: bool = False  # recorded by the embedded marketplace when it is marked sent


_OUTBOX = OutboxMessage.__table__
# One kept-alive connection per receiver and thread (see KeepAlive).
connections = KeepAlive()


def claim(gateway: Gateway, limit: int = BATCH) -> list[Claimed]:
    """Lease up to ``limit`` due messages to this worker, in one short transaction.

    PostgreSQL skips rows another worker has locked (``FOR UPDATE SKIP LOCKED``), so
    two workers never take the same message; SQLite's single writer (``BEGIN
    IMMEDIATE``) serialises the claims.
    """
    now = utcnow()
    t = _OUTBOX
    stmt = (
        select(
            t.c.id,
            t.c.kind,
            t.c.idempotency_key,
            t.c.buyer_id,
            t.c.order_pk,
            t.c.payload,
            t.c.attempts,
        )
        .where(
            t.c.status == "pending",
            t.c.next_attempt_at <= now,
            or_(t.c.lease_until.is_(None), t.c.lease_until < now),
        )
        .order_by(t.c.id)
        .limit(limit)
    )
    if gateway.db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    with gateway.db.engine.begin() as conn:
        rows = conn.execute(stmt).all()
        if rows:
            conn.execute(
                update(t)
                .where(t.c.id.in_([row.id for row in rows]))
                .values(
                    lease_until=now + timedelta(seconds=gateway.settings.outbox_lease_seconds),
                    attempts=t.c.attempts + 1,
                )
            )
    return [Claimed(*row[:-1], attempts=row.attempts + 1) for row in rows]


def attempt(gateway: Gateway, message: Claimed) -> Attempt:
    """Deliver one message (outside any transaction); the outcome is recorded later."""
    kind, payload, key = message.kind, message.payload, message.idempotency_key
    settings = gateway.settings
    if kind == "marketplace.order":
        if settings.marketplace_url is None:
            ok = Delivery(True, detail="embedded marketplace")
            return Attempt(message, ok, ("accepted", None), embedded=True)
        url, timeout = settings.marketplace_url, settings.marketplace_timeout
        adapter = HttpMarketplace(url, timeout, connections)
        result = adapter.deliver_order(payload, key)
        answer = result.answer or {}
        state = answer.get("status", "accepted")
        if state not in ORDER_STATES:
            state = "accepted"
        return Attempt(message, result, (state, answer.get("reason")))
    if kind.startswith("cxml."):
        with gateway.db.transaction() as db:
            secret = outbound_secret(db, gateway, message.buyer_id)
            buyer = db.get(Buyer, message.buyer_id)
            wants_signature = bool((buyer.settings.get("signing") or {}).get("sign_outbound"))
        data = json.loads(payload)
        document = with_shared_secret(data["document"], secret)
        if wants_signature:
            key, cert = settings.signing_key_file, settings.signing_cert_file
            if not (key and cert):
                refused = Delivery(
                    False,
                    True,
                    detail="the buyer requires signed documents but "
                    "PUNCHGATE_SIGNING_KEY / PUNCHGATE_SIGNING_CERT are not set",
                )
                return Attempt(message, refused)
            document = sign(document, Path(key).read_bytes(), Path(cert).read_bytes())
        return Attempt(message, send_cxml(data["url"], document, settings.marketplace_timeout))
    if kind == "alert.webhook":
        return Attempt(message, send_alert(gateway, payload, key))
    return Attempt(message, Delivery(False, True, detail=f"no delivery route for {kind!r}"))


_LEVEL = {"sent": "info", "retry": "warning", "dead": "error"}
_TEXT = {
    "sent": "delivered",
    "retry": "failed; will retry",
    "dead": "failed for good (dead-lettered)",
}


def finish(gateway: Gateway, attempts: list[Attempt], released: list[Claimed] = ()) -> list[str]:
    """Record the outcomes of a batch in one transaction; return sent, retry or dead each.

    A message is marked sent only here, after its receiver answered 2xx; a worker that
    dies before this commit leaves the batch leased, and it is delivered again (same
    Idempotency-Key) once the lease has run out. ``released`` messages were claimed but
    not attempted: they are due again at once, their attempt not counted.
    """
    settings = gateway.settings
    outcomes: list[str] = []
    if not (attempts or released):
        return outcomes
    with gateway.db.transaction() as db:
        now = utcnow()
        pks = {a.message.order_pk for a in attempts if a.message.order_pk is not None}
        orders = {}
        if pks:
            orders = {o.id: o for o in db.scalars(select(Order).where(Order.id.in_(pks)))}
        embedded = [a.message.idempotency_key for a in attempts if a.embedded and a.result.ok]
        known = (
            set(
                db.scalars(
                    select(MarketplaceOrder.idempotency_key).where(
                        MarketplaceOrder.idempotency_key.in_(embedded)
                    )
                )
            )
            if embedded
            else set()
        )
        sent: dict[int | None, list[int]] = {}  # by HTTP status: one UPDATE each
        retried, dead = [], []
        for a in attempts:
            message, result = a.message, a.result
            order = orders.get(message.order_pk)
            if result.ok:
                if a.embedded and message.idempotency_key not in known:
                    known.add(message.idempotency_key)
                    db.add(
                        MarketplaceOrder(
                            idempotency_key=message.idempotency_key,
                            order_pk=message.order_pk,
                            status="accepted",
                        )
                    )
                if a.order_state and order is not None and order.status == "received":
                    _order_answered(db, order, *a.order_state)
                sent.setdefault(result.http_status, []).append(message.id)
                outcome = "sent"
            else:
                row = {
                    "b_id": message.id,
                    "last_status": result.http_status,
                    # A receiver's error page may hold anything, a NUL too.
                    "last_error": storable(result.detail),
                }
                if result.permanent or message.attempts >= settings.outbox_max_attempts:
                    dead.append({**row, "status": "dead"})
                    outcome = "dead"
                else:
                    delay = backoff(message.attempts, settings.outbox_base_delay)
                    retried.append({**row, "next_attempt_at": now + timedelta(seconds=delay)})
                    outcome = "retry"
            outcomes.append(outcome)
            record(
                db,
                f"outbox.{outcome}",
                f"{message.kind} attempt {message.attempts} {_TEXT[outcome]}: {result.detail}",
                buyer_id=message.buyer_id,
                session_id=order.session_id if order else None,
                level=_LEVEL[outcome],
                data={
                    "outbox": message.id,
                    "attempt": message.attempts,
                    "key": message.idempotency_key,
                    "http_status": result.http_status,
                },
            )
        t = _OUTBOX
        for http_status, ids in sent.items():
            db.execute(
                update(t)
                .where(t.c.id.in_(ids))
                .values(
                    status="sent",
                    sent_at=now,
                    last_status=http_status,
                    last_error=None,
                    lease_until=None,
                )
            )
        by_id = update(t).where(t.c.id == bindparam("b_id")).values(lease_until=None)
        for rows in (retried, dead):  # each with its own error, and back-off
            if rows:
                db.execute(by_id, rows)
        if released:
            db.execute(
                update(t)
                .where(t.c.id.in_([m.id for m in released]))
                .values(lease_until=None, attempts=t.c.attempts - 1)
            )
    return outcomes


def _order_answered(db: Session, order: Order, state: str, reason: str | None) -> None:
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
    return connections.post(data["url"], body, headers, gateway.settings.marketplace_timeout)


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
    result = connections.post(
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


def run_batch(gateway: Gateway, limit: int = BATCH) -> RunStats:
    """Claim a batch, deliver each message, record every outcome in one transaction.

    One failed, refused or timed-out delivery is that message's outcome and does not
    stop the others. No delivery starts after half the lease has gone (a batch of
    timeouts): the messages not attempted go back to the queue at once, so that no
    other worker can take them while this one might still deliver them.
    """
    messages = claim(gateway, limit)
    if not messages:
        return RunStats()
    deadline = time.monotonic() + gateway.settings.outbox_lease_seconds / 2
    attempts: list[Attempt] = []
    released: list[Claimed] = []
    failed = 0
    for i, message in enumerate(messages):
        if i and time.monotonic() > deadline:
            released = messages[i:]
            break
        try:
            attempts.append(attempt(gateway, message))
        except Exception:  # one bad message must not stop the others
            # Left leased: it is tried again once the lease has run out.
            log.exception("outbox message %s failed unexpectedly", message.id)
            failed += 1
    try:
        outcomes = finish(gateway, attempts, released)
    except Exception:
        # Something in one message's record (or the database) failed: record each on
        # its own, so that the others are not delivered again for it.
        log.exception("outbox: recording a batch of %d failed; one by one", len(attempts))
        outcomes = []
        for n, one in enumerate(attempts):
            try:
                outcomes += finish(gateway, [one])
            except (OperationalError, InterfaceError):
                # The database is away: the whole batch waits for its lease.
                log.exception("outbox: database unavailable; %d left leased", len(attempts) - n)
                failed += len(attempts) - n
                break
            except Exception:
                log.exception("outbox message %s failed unexpectedly", one.message.id)
                failed += 1
        if released:
            try:
                finish(gateway, [], released)
            except Exception:
                log.exception("outbox: releasing %d messages failed", len(released))
    retried = outcomes.count("retry") + failed
    return RunStats(outcomes.count("sent"), retried, outcomes.count("dead"), len(released))


def run_once(gateway: Gateway, limit: int = BATCH) -> RunStats:
    """Deliver up to ``limit`` due messages, in batches of at most BATCH."""
    total = RunStats()
    while total.claimed < limit:
        size = min(BATCH, limit - total.claimed)
        stats = run_batch(gateway, size)
        total += stats
        if stats.claimed < size:
            break
    return total


def run_forever(gateway: Gateway, idle: float = 1.0) -> None:
    while True:
        # A full batch means more are waiting: claim the next at once.
        if run_batch(gateway).claimed < BATCH:
            time.sleep(idle)
