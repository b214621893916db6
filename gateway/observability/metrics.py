"""Prometheus metrics: requests, punchout and order outcomes, authentication, outbox.

Counters are kept per process; under gunicorn ``PROMETHEUS_MULTIPROC_DIR`` is set
(gunicorn.conf.py does it) and a scrape adds up every worker's files. The outbox
figures are read from the database at scrape time, so every instance reports
the same, database-wide values: aggregate them with max(), not sum().
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

# The labels take only values from a closed set (routes, configured buyers,
# the cXML requests the gateway knows), whatever a caller sends.
DOCUMENT_TYPES = frozenset(
    {"PunchOutSetupRequest", "OrderRequest", "ProfileRequest", "StatusUpdateRequest", "OCI"}
)
NO_BUYER = "none"

REQUESTS = Counter(
    "punchgate_requests",
    "HTTP requests answered, by route, cXML document type, buyer and outcome.",
    ["endpoint", "doc_type", "buyer", "cxml_status", "http_status"],
)
LATENCY = Histogram(
    "punchgate_request_duration_seconds",
    "Time to answer an HTTP request, by route and cXML document type.",
    ["endpoint", "doc_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SESSIONS_STARTED = Counter(
    "punchgate_sessions_started", "Punchout sessions opened.", ["buyer", "protocol"]
)
SESSIONS_TRANSFERRED = Counter(
    "punchgate_sessions_transferred", "Carts transferred back to the buyer.", ["buyer"]
)
ORDERS = Counter(
    "punchgate_orders",
    "Orders by outcome: received, flagged (a line does not match the cart), rejected.",
    ["buyer", "outcome"],
)
AUTH_FAILURES = Counter(
    "punchgate_auth_failures",
    "Failed authentications (cXML shared secret or OCI login).",
    ["buyer", "protocol"],
)
AUTH_BACKOFFS = Counter(
    "punchgate_auth_backoffs",
    "Requests refused or senders locked because of repeated authentication failures.",
    ["buyer", "protocol"],
)

# Session-log event kind -> what it counts.
_SESSION_OPENED = {"session.created": "cxml", "oci.call": "oci"}
_AUTH_FAILED = {"auth.failed": "cxml", "oci.auth_failed": "oci"}
_AUTH_BACKOFF = {
    "auth.locked": "cxml",
    "auth.throttled": "cxml",
    "oci.locked": "oci",
    "oci.rate_limited": "oci",
}
_ORDER_OUTCOMES = {
    "order.received": "received",
    "order.mismatch": "flagged",
    "order.held": "flagged",
    "order.rejected": "rejected",
}


def doc_type_label(doc_type: str | None) -> str:
    if not doc_type:
        return ""
    return doc_type if doc_type in DOCUMENT_TYPES else "other"


def count_events(rows: list[dict]) -> None:
    """Count what the committed session-log rows say happened."""
    flagged: set = set()
    for row in rows:
        kind, buyer = row["kind"], row.get("buyer_id") or NO_BUYER
        if kind in _SESSION_OPENED:
            SESSIONS_STARTED.labels(buyer, _SESSION_OPENED[kind]).inc()
        elif kind == "transfer":
            SESSIONS_TRANSFERRED.labels(buyer).inc()
        elif kind in _ORDER_OUTCOMES:
            outcome = _ORDER_OUTCOMES[kind]
            if outcome == "flagged":
                # One event per mismatching line; the order is counted once.
                order = (row.get("data") or {}).get("order")
                if order in flagged:
                    continue
                flagged.add(order)
            ORDERS.labels(buyer, outcome).inc()
        elif kind in _AUTH_FAILED:
            AUTH_FAILURES.labels(buyer, _AUTH_FAILED[kind]).inc()
        elif kind in _AUTH_BACKOFF:
            AUTH_BACKOFFS.labels(buyer, _AUTH_BACKOFF[kind]).inc()


def observe_request(
    endpoint: str,
    doc_type: str | None,
    buyer: str | None,
    cxml_status: int | None,
    http_status: int,
    seconds: float,
) -> None:
    label = doc_type_label(doc_type)
    REQUESTS.labels(
        endpoint, label, buyer or NO_BUYER, str(cxml_status or ""), str(http_status)
    ).inc()
    LATENCY.labels(endpoint, label).observe(seconds)


class OutboxCollector:
    """Outbox depth, age of the oldest pending message and dead letters, read at scrape."""

    def __init__(self, gateway):
        self.gateway = gateway

    def collect(self):
        from gateway.models import OutboxMessage

        up = GaugeMetricFamily("punchgate_database_up", "1 if the database answered the scrape.")
        try:
            with self.gateway.db.transaction() as db:
                counts = dict(
                    db.execute(
                        select(OutboxMessage.status, func.count())
                        .where(OutboxMessage.status.in_(("pending", "dead")))
                        .group_by(OutboxMessage.status)
                    ).all()
                )
                oldest = db.scalar(
                    select(func.min(OutboxMessage.created_at)).where(
                        OutboxMessage.status == "pending"
                    )
                )
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "punchgate_outbox_pending", "Messages waiting for delivery.", counts.get("pending", 0)
        )
        yield GaugeMetricFamily(
            "punchgate_outbox_dead_letters",
            "Messages that failed for good and wait for an operator.",
            counts.get("dead", 0),
        )
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0
        yield GaugeMetricFamily(
            "punchgate_outbox_oldest_pending_age_seconds",
            "Age of the oldest message still waiting for delivery (0 when none is).",
            max(age, 0),
        )


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def exposition(gateway) -> tuple[bytes, str]:
    """The Prometheus text page: this process (or every gunicorn worker) and the outbox."""
    if multiprocess():
        processes = CollectorRegistry()
        MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    database = CollectorRegistry()
    database.register(OutboxCollector(gateway))
    return generate_latest(processes) + generate_latest(database), CONTENT_TYPE_LATEST
