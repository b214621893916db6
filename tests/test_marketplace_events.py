"""Marketplace events: the signed webhook and the embedded marketplace's CLI."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gateway import create_app, outbox
from gateway.cli import main
from gateway.config import Settings
from gateway.marketplace.events import sign
from gateway.models import Event, Order
from tests.conftest import SECRET_KEY
from tests.documents import order_request, status

HOOK_SECRET = "marketplace-webhook-secret-0123456789"


@pytest.fixture
def hook_app(settings):
    app = create_app(Settings(**{**settings.__dict__, "marketplace_secret": HOOK_SECRET}))
    yield app
    app.extensions["punchgate"].db.dispose()


@pytest.fixture
def order_pk(client, demo) -> int:
    body = order_request([{"sku": "NW-1001", "qty": "2", "price": "12.90"}])
    assert status(client.post("/cxml", data=body).data)[0] == 200
    outbox.run_once(demo)
    with demo.db.transaction() as db:
        return db.scalars(select(Order)).one().id


def send(app, event: dict, secret: str = HOOK_SECRET, timestamp: str | None = None):
    body = json.dumps(event).encode()
    ts = timestamp or str(int(time.time()))
    return app.test_client().post(
        "/api/v1/marketplace/events",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Punchgate-Timestamp": ts,
            "X-Punchgate-Signature": sign(secret, ts, body),
        },
    )


def order_of(gateway, pk) -> Order:
    with gateway.db.transaction() as db:
        return db.get(Order, pk)


def test_shipped_event_moves_the_order(hook_app, demo, order_pk):
    event = {
        "event_id": "ev-1",
        "type": "shipped",
        "order_id": order_pk,
        "carrier": "UPS",
        "tracking_number": "1Z999",
    }
    r = send(hook_app, event)
    assert r.status_code == 200 and r.json == {
        "applied": True,
        "order": order_pk,
        "status": "shipped",
    }
    order = order_of(demo, order_pk)
    assert order.status == "shipped"
    assert order.details["marketplace"]["shipped"] == {"carrier": "UPS", "tracking_number": "1Z999"}
    again = send(hook_app, event)  # a replayed call changes nothing
    assert again.json["applied"] is False


def test_event_by_idempotency_key(hook_app, demo, order_pk):
    r = send(
        hook_app, {"event_id": "ev-2", "type": "confirmed", "idempotency_key": f"order-{order_pk}"}
    )
    assert r.status_code == 200 and order_of(demo, order_pk).status == "confirmed"


@pytest.mark.parametrize(
    "kwargs, code, words",
    [
        ({"secret": "wrong"}, 401, "signature does not match"),
        ({"timestamp": str(int(time.time()) - 3600)}, 401, "five-minute window"),
        ({"timestamp": "yesterday"}, 400, "unix seconds"),
        ({"timestamp": "9" * 400}, 400, "unix seconds"),
    ],
)
def test_bad_signatures_are_refused(hook_app, demo, order_pk, kwargs, code, words):
    r = send(hook_app, {"event_id": "ev-x", "type": "shipped", "order_id": order_pk}, **kwargs)
    assert r.status_code == code and words in r.json["error"]
    assert order_of(demo, order_pk).status == "accepted"


@pytest.mark.parametrize(
    "event, code, words",
    [
        ({"type": "shipped"}, 400, "event_id is required"),
        ({"event_id": "e", "type": "teleported"}, 400, "type must be one of"),
        ({"event_id": "e", "type": "shipped", "order_id": 999999}, 404, "no such order"),
        ({"event_id": "e", "type": "shipped", "order_id": int("9" * 400)}, 404, "no such order"),
        ({"event_id": "e", "type": "shipped", "order_id": [1]}, 400, "order_id must be"),
        ({"event_id": "e", "type": "shipped", "order_id": True}, 400, "order_id must be"),
        ({"event_id": ["e"], "type": "shipped"}, 400, "event_id must be"),
        ({"event_id": "e", "type": ["shipped"]}, 400, "type must be one of"),
        ({"event_id": "e", "type": "shipped", "carrier": {"x": 1}}, 400, "carrier must be"),
        ({"event_id": "e", "type": "shipped", "tracking_number": 7}, 400, "tracking_number"),
        ({"event_id": "e", "type": "shipped", "lines": "1"}, 400, "lines must be"),
        ({"event_id": "e", "type": "shipped", "lines": [True]}, 400, "lines must be"),
        ({"event_id": "e", "type": "invoiced", "invoice_id": "I" * 101}, 400, "invoice_id"),
        ({"event_id": "e", "type": "rejected", "reason": None, "x": 1}, 200, "applied"),
    ],
)
def test_bad_events(hook_app, demo, order_pk, event, code, words):
    if "order_id" not in event and code != 404:
        event = {**event, "order_id": order_pk}
    r = send(hook_app, event)
    assert r.status_code == code and words in (r.json.get("error") or "applied")
    if code != 200:
        assert order_of(demo, order_pk).status == "accepted"


def test_impossible_transitions_are_409_and_recorded(hook_app, demo, order_pk):
    def event(n, kind):
        return send(hook_app, {"event_id": f"sm-{n}", "type": kind, "order_id": order_pk})

    assert event(1, "confirmed").status_code == 200
    assert event(2, "cancelled").status_code == 200
    for n, kind in enumerate(["shipped", "invoiced", "refunded", "delivered"], start=3):
        r = event(n, kind)
        assert r.status_code == 409 and "is cancelled" in r.json["error"]
    assert order_of(demo, order_pk).status == "cancelled"
    with demo.db.transaction() as db:
        refused = db.scalars(select(Event).where(Event.kind == "order.transition_refused")).all()
    assert len(refused) == 4


def test_unsigned_webhook_when_not_configured(client, demo):
    r = client.post("/api/v1/marketplace/events", json={"event_id": "e", "type": "shipped"})
    assert r.status_code == 503


def test_embedded_marketplace_cli_journey(demo, order_pk, monkeypatch, database_url):
    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", SECRET_KEY)
    runner = CliRunner()
    assert (
        "is now confirmed" in runner.invoke(main, ["marketplace", "confirm", str(order_pk)]).output
    )
    r = runner.invoke(
        main, ["marketplace", "ship", str(order_pk), "--carrier", "DHL", "--tracking", "JD0146"]
    )
    assert "is now shipped" in r.output
    assert (
        "is now invoiced"
        in runner.invoke(
            main, ["marketplace", "invoice", str(order_pk), "--invoice-id", "INV-7"]
        ).output
    )
    listing = json.loads(runner.invoke(main, ["orders", "list", "--json"]).output)
    assert listing[0]["status"] == "invoiced" and listing[0]["delivery"] == "sent"
    assert "no such order" in runner.invoke(main, ["marketplace", "confirm", "424242"]).output
    with demo.db.transaction() as db:
        kinds = [e.kind for e in db.scalars(select(Event).order_by(Event.id))]
    order_kinds = [k for k in kinds if k.startswith("order.")]
    assert order_kinds[-3:] == ["order.confirmed", "order.shipped", "order.invoiced"]
    assert kinds.count("outbound.skipped") == 3  # the demo buyers have no outbound URL
    assert "order.accepted" in kinds
