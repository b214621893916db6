"""Alerts, before the buyer calls: what support should look at now.

- a buyer whose punchouts started failing (N refused requests in M minutes);
- a replaced secret still in use that stops working within a few days;
- deliveries dead-lettered by the outbox;
- orders held for approval or rejected;
- carts transferred but not ordered past the buyer's usual lag (leakage);
- carts the buyer's system probably dropped: the same user punched out again within
  minutes of the transfer, and no order came (Coupa and D365 drop carts silently).

Computed on demand from indexed queries (the dashboard strip, the alerts page,
``punchgate alerts --json``); ``notify`` queues each new alert once for the optional
webhook, through the outbox like everything else the gateway sends.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from gateway.models import Buyer, InboundRequest, Order, OutboxMessage, PunchoutSession, utcnow
from gateway.support.requests import first_id_at
from provisioning.rotation import credential_report

WEBHOOK_KIND = "alert.webhook"
# Every kind ``current`` reports (the CLI's ``alerts show KIND``; a test keeps it complete).
KINDS = (
    "punchouts_failing",
    "deliveries_dead",
    "secret_expiring",
    "orders_held",
    "orders_rejected",
    "carts_leaking",
    "carts_dropped",
)
LEAK_WINDOW = timedelta(days=30)
DEFAULT_LAG = timedelta(days=2)


@dataclass(frozen=True)
class Thresholds:
    failures: int = 5  # refused requests of one buyer ...
    window_minutes: int = 15  # ... within this many minutes
    secret_days: int = 7
    webhook_url: str | None = None
    # Leaked carts are counted over a month of sessions: from the reports snapshot
    # (``punchgate reports refresh``) when it is at most this old; 0 counts now.
    report_max_age: int = 0

    @classmethod
    def from_settings(cls, settings) -> Thresholds:
        return cls(
            failures=settings.alert_failures,
            window_minutes=settings.alert_window_minutes,
            secret_days=settings.alert_secret_days,
            webhook_url=settings.alert_webhook_url,
            report_max_age=settings.report_max_age,
        )


@dataclass(frozen=True)
class Alert:
    kind: str
    severity: str  # critical | warning
    buyer: str | None
    count: int
    message: str
    link: str  # the console page that shows the detail
    key: str  # stable for one occurrence: the webhook sends each key once

    def public(self) -> dict:
        return asdict(self)


def _failing(db: Session, t: Thresholds, now: datetime) -> list[Alert]:
    since = now - timedelta(minutes=t.window_minutes)
    first = first_id_at(db, since)
    if first is None:
        return []
    rows = db.execute(
        select(InboundRequest.buyer_id, func.count())
        .where(
            InboundRequest.failed.is_(True),
            InboundRequest.id >= first,
            InboundRequest.buyer_id.is_not(None),
            InboundRequest.channel.in_(("cxml", "oci")),
        )
        .group_by(InboundRequest.buyer_id)
        .having(func.count() >= t.failures)
    ).all()
    slot = int(now.timestamp() // (t.window_minutes * 60))
    return [
        Alert(
            "punchouts_failing",
            "critical",
            buyer,
            count,
            f"{count} refused requests from {buyer} in the last {t.window_minutes} minutes",
            f"/support/requests?buyer={buyer}&failed=1&since={t.window_minutes}m",
            f"punchouts_failing:{buyer}:{slot}",
        )
        for buyer, count in rows
    ]


def _secrets(db: Session, t: Thresholds, now: datetime) -> list[Alert]:
    horizon = now + timedelta(days=t.secret_days)
    found = []
    for row in credential_report(db, stale_only=True):
        until = datetime.fromisoformat(row["valid_until"])
        if until <= horizon:
            found.append(
                Alert(
                    "secret_expiring",
                    "warning",
                    row["buyer"],
                    1,
                    f"{row['buyer']} still uses the replaced {row['kind']} secret of "
                    f"{row['identity']}; it stops working {until:%Y-%m-%d %H:%M} UTC",
                    f"/support/buyers/{row['buyer']}#credentials",
                    f"secret_expiring:{row['buyer']}:{row['identity']}:{row['valid_until']}",
                )
            )
    return found


def _dead(db: Session) -> list[Alert]:
    rows = db.execute(
        select(OutboxMessage.buyer_id, func.count(), func.max(OutboxMessage.id))
        .where(OutboxMessage.status == "dead")
        .group_by(OutboxMessage.buyer_id)
    ).all()
    return [
        Alert(
            "deliveries_dead",
            "critical",
            buyer,
            count,
            f"{count} deliveries dead-lettered" + (f" for {buyer}" if buyer else ""),
            "/support/outbox",
            f"deliveries_dead:{buyer}:{last}",
        )
        for buyer, count, last in rows
    ]


def _held(db: Session, now: datetime) -> list[Alert]:
    rows = db.execute(
        select(Order.buyer_id, Order.status, func.count(), func.max(Order.id))
        .where(
            Order.flagged == true(),  # indexable, unlike IS true
            (Order.status == "pending")
            | ((Order.status == "rejected") & (Order.created_at >= now - timedelta(days=7))),
        )
        .group_by(Order.buyer_id, Order.status)
    ).all()
    return [
        Alert(
            f"orders_{'held' if status == 'pending' else 'rejected'}",
            "warning",
            buyer,
            count,
            f"{count} orders from {buyer} "
            + ("held for approval" if status == "pending" else "rejected in the last 7 days"),
            f"/support/orders?buyer={buyer}&status={status}",
            f"orders_{status}:{buyer}:{last}",
        )
        for buyer, status, count, last in rows
    ]


def usual_lag(db: Session, buyer: Buyer) -> timedelta:
    """How long this buyer's carts usually take to become orders: the profile's
    ``order_lag_hours`` when set, else twice the median of the last 50 orders."""
    from gateway.profiles.service import rules_of

    configured = rules_of(buyer).order_lag_hours
    if configured:
        return timedelta(hours=configured)
    buyer_id = buyer.id
    # The orders first, then their sessions by key: a join here lets the planner walk
    # every session of a large buyer.
    recent = db.execute(
        select(Order.session_id, Order.created_at)
        .where(Order.buyer_id == buyer_id, Order.session_id.is_not(None))
        .order_by(Order.id.desc())
        .limit(50)
    ).all()
    transferred = (
        dict(
            db.execute(
                select(PunchoutSession.id, PunchoutSession.transferred_at).where(
                    PunchoutSession.id.in_([session_id for session_id, _ in recent]),
                    PunchoutSession.transferred_at.is_not(None),
                )
            ).all()
        )
        if recent
        else {}
    )
    lags = [
        (at - transferred[sid]).total_seconds()
        for sid, at in recent
        if sid in transferred and at >= transferred[sid]
    ]
    if len(lags) < 5:
        return DEFAULT_LAG
    return max(timedelta(seconds=statistics.median(lags) * 2), timedelta(hours=1))


def leak_counts(db: Session, now: datetime) -> list[list]:
    """[buyer id, carts transferred past its usual lag and never ordered, lag in hours]."""
    counts = []
    for buyer in db.scalars(select(Buyer).order_by(Buyer.id)):
        buyer_id = buyer.id
        lag = usual_lag(db, buyer)
        count = db.scalar(
            select(func.count()).select_from(
                select(PunchoutSession.id)
                .where(
                    PunchoutSession.buyer_id == buyer_id,
                    PunchoutSession.status == "transferred",
                    PunchoutSession.transferred_at < now - lag,
                    PunchoutSession.transferred_at >= now - LEAK_WINDOW,
                )
                .limit(10_000)
                .subquery()
            )
        )
        counts.append([buyer_id, count or 0, int(lag.total_seconds() // 3600)])
    return counts


def _leaking(db: Session, t: Thresholds, now: datetime) -> list[Alert]:
    from gateway.support.reports import snapshot

    rows, _ = snapshot(db, "leaks", "all", lambda: leak_counts(db, now), t.report_max_age)
    found = []
    for buyer_id, count, hours in rows:
        if count:
            found.append(
                Alert(
                    "carts_leaking",
                    "warning",
                    buyer_id,
                    count,
                    f"{count} carts from {buyer_id} transferred more than {hours} h ago "
                    "(its usual lag) and never ordered",
                    f"/support/?buyer={buyer_id}&status=transferred",
                    f"carts_leaking:{buyer_id}:{now:%Y-%m-%d}",
                )
            )
    return found


REPUNCH_WINDOW = timedelta(days=1)


def _repunched(db: Session, now: datetime) -> list[Alert]:
    from gateway.sessions.lost_carts import lost_carts

    carts = [
        c
        for c in lost_carts(db, now=now, lookback_days=REPUNCH_WINDOW.days)
        if c.reason == "repunchout"
    ]
    by_buyer: dict[str, list] = {}
    for cart in carts:
        by_buyer.setdefault(cart.buyer_id, []).append(cart)
    return [
        Alert(
            "carts_dropped",
            "warning",
            buyer_id,
            len(found),
            f"{len(found)} carts from {buyer_id} in the last 24 h were followed by a new "
            "punchout of the same user within minutes and no order: the buyer's system "
            "probably dropped them (the session page has the exact document for their admin)",
            f"/support/sessions/{found[0].session_id}",
            f"carts_dropped:{buyer_id}:{found[0].session_id}",
        )
        for buyer_id, found in sorted(by_buyer.items())
    ]


def current(db: Session, thresholds: Thresholds, now: datetime | None = None) -> list[Alert]:
    """Every alert in force, critical ones first."""
    now = now or utcnow()
    found = [
        *_failing(db, thresholds, now),
        *_dead(db),
        *_secrets(db, thresholds, now),
        *_held(db, now),
        *_leaking(db, thresholds, now),
        *_repunched(db, now),
    ]
    return sorted(found, key=lambda a: (a.severity != "critical", a.kind, a.buyer or ""))


STRIP_SECONDS = 60.0


def strip(db: Session, thresholds: Thresholds, cache: dict) -> list[Alert]:
    """The dashboard strip: ``current`` at most once a minute per worker, kept in ``cache``
    (the alerts page and the CLI always compute afresh)."""
    import time

    if cache and time.monotonic() - cache["at"] < STRIP_SECONDS:
        return cache["alerts"]
    found = current(db, thresholds)
    cache.update(at=time.monotonic(), alerts=found)
    return found


def notify(db: Session, thresholds: Thresholds, now: datetime | None = None) -> list[Alert]:
    """Queue each alert not sent before for the webhook; return the ones queued."""
    if not thresholds.webhook_url:
        return []
    queued = []
    for alert in current(db, thresholds, now):
        key = f"alert:{alert.key}"[:100]
        if db.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)):
            continue
        db.add(
            OutboxMessage(
                kind=WEBHOOK_KIND,
                idempotency_key=key,
                buyer_id=alert.buyer,
                payload=json.dumps({"url": thresholds.webhook_url, "alert": alert.public()}),
            )
        )
        queued.append(alert)
    return queued
