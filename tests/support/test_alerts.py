"""Alerts before the buyer calls: each kind, the console page and strip, the signed webhook."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select

from gateway import outbox
from gateway.marketplace.events import verify
from gateway.models import BuyerCredential, Order, OutboxMessage, PunchoutSession, utcnow
from gateway.state import Gateway
from gateway.support import alerts
from tests.conftest import remember_secret
from tests.helpers import open_session, sign_in, transferred_cart
from tests.support.test_console_pages import flagged_order, refused_punchout

WEBHOOK_SECRET = "alert-webhook-secret-2026"
remember_secret(WEBHOOK_SECRET)


def kinds(gateway, **thresholds) -> list[str]:
    with gateway.db.transaction() as db:
        return [a.kind for a in alerts.current(db, alerts.Thresholds(**thresholds))]


def test_failing_punchouts_past_the_threshold(client, demo):
    for n in range(4):
        refused_punchout(client, cookie=f"f{n}")
    assert kinds(demo, failures=5) == []
    refused_punchout(client, cookie="f4")
    assert kinds(demo, failures=5) == ["punchouts_failing"]
    # Outside the window they no longer count.
    later = utcnow() + timedelta(minutes=16)
    with demo.db.transaction() as db:
        assert alerts.current(db, alerts.Thresholds(failures=5), now=later) == []


def test_dead_deliveries_held_orders_and_expiring_secrets(client, demo):
    flagged_order(client)
    with demo.db.transaction() as db:
        message = db.scalars(select(OutboxMessage)).first()
        message.status = "dead"
        order = db.scalars(select(Order)).one()
        order.status = "pending"
        current = db.scalars(
            select(BuyerCredential).where(
                BuyerCredential.buyer_id == "acme", BuyerCredential.kind == "sender"
            )
        ).first()
        # A replaced secret, still in use after its replacement came, ending in 3 days.
        db.add(
            BuyerCredential(
                buyer_id="acme",
                kind="sender",
                domain=current.domain,
                identity=current.identity,
                secret_hash=current.secret_hash,
                valid_until=utcnow() + timedelta(days=3),
                last_used_at=utcnow(),
                created_at=current.created_at - timedelta(days=90),
            )
        )
    found = kinds(demo)
    assert found == ["deliveries_dead", "orders_held", "secret_expiring"]


def test_carts_transferred_but_never_ordered(client, demo):
    transferred_cart(client, [("NW-1001", 1)])
    assert "carts_leaking" not in kinds(demo)
    with demo.db.transaction() as db:
        session = db.scalars(select(PunchoutSession)).one()
        session.transferred_at = utcnow() - timedelta(days=3)  # past the default 2-day lag
    assert kinds(demo) == ["carts_leaking"]


def test_a_cart_dropped_by_the_buyer_system_is_an_alert(client, demo):
    transferred_cart(client, [("NW-1001", 1)], cookie="first")
    assert "carts_dropped" not in kinds(demo)
    open_session(client, cookie="second")  # the same user is back within minutes
    with demo.db.transaction() as db:
        (alert,) = [a for a in alerts.current(db, alerts.Thresholds()) if a.kind == "carts_dropped"]
        first = db.scalars(
            select(PunchoutSession).where(PunchoutSession.buyer_cookie == "first")
        ).one()
    assert alert.buyer == "acme" and alert.count == 1
    assert alert.link == f"/support/sessions/{first.id}" and "probably dropped" in alert.message
    # An order for the cart clears it.
    with demo.db.transaction() as db:
        db.get(PunchoutSession, first.id).status = "ordered"
    assert "carts_dropped" not in kinds(demo)


def test_alerts_page_and_dashboard_strip(client, agents):
    for n in range(5):
        refused_punchout(client, cookie=f"s{n}")
    sign_in(client)
    page = client.get("/support/alerts").get_data(as_text=True)
    assert "5 refused requests from acme in the last 15 minutes" in page
    assert "/support/requests?buyer=acme&amp;failed=1&amp;since=15m" in page
    home = client.get("/support/").get_data(as_text=True)
    assert "1 alert" in home and "refused requests from acme" in home
    detail = client.get("/support/requests?buyer=acme&failed=1&since=15m").get_data(as_text=True)
    assert detail.count("/support/requests/") == 5


def test_each_alert_goes_to_the_webhook_once_signed(client, demo, settings):
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    gateway = Gateway.from_settings(
        dataclasses.replace(
            settings, alert_webhook_url=url, alert_webhook_secret=WEBHOOK_SECRET, alert_failures=2
        )
    )
    try:
        for n in range(2):
            refused_punchout(client, cookie=f"w{n}")
        thresholds = alerts.Thresholds.from_settings(gateway.settings)
        with gateway.db.transaction() as db:
            assert [a.kind for a in alerts.notify(db, thresholds)] == ["punchouts_failing"]
        with gateway.db.transaction() as db:
            assert alerts.notify(db, thresholds) == []  # already queued
        assert outbox.run_once(gateway).sent == 1
    finally:
        server.shutdown()
        server.server_close()
        gateway.db.dispose()
    ((headers, body),) = received
    verify(WEBHOOK_SECRET, headers["X-Punchgate-Timestamp"], headers["X-Punchgate-Signature"], body)
    alert = json.loads(body)
    assert alert["kind"] == "punchouts_failing" and alert["buyer"] == "acme"
    assert headers["Idempotency-Key"].startswith("alert:punchouts_failing:acme:")


def test_no_webhook_configured_queues_nothing(client, demo):
    open_session(client)
    with demo.db.transaction() as db:
        assert alerts.notify(db, alerts.Thresholds(failures=1)) == []
