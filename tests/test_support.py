"""The support console: sign-in, access control, CSRF, audit, sessions and outbox pages."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gateway.cli import main
from gateway.models import AuditEntry, OutboxMessage
from tests.conftest import SECRET_KEY, remember_secret
from tests.documents import order_request, status
from tests.helpers import (
    ADMIN_PASSWORD,
    AGENT_PASSWORD,
    bearer,
    csrf,
    open_session,
    sign_in,
    transferred_cart,
)


def test_pages_need_a_signed_in_agent(client, agents):
    r = client.get("/support/")
    assert r.status_code == 302 and "/support/login" in r.headers["Location"]
    assert client.get("/support/sessions/1").status_code == 302


def test_sign_in_and_out(client, agents):
    r = sign_in(client)
    assert r.status_code == 302 and r.headers["Location"].endswith("/support/")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/support/").status_code == 200
    client.post("/support/logout", data={"csrf_token": csrf(client, "/support/")})
    assert client.get("/support/").status_code == 302


def test_wrong_password_and_back_off(client, agents):
    for _ in range(5):
        r = sign_in(client, password="not-the-password")
        assert r.status_code == 401 and b"Email or password is not right" in r.data
    r = sign_in(client)  # even the right password waits now
    assert r.status_code == 401 and b"Too many failed sign-ins" in r.data


def test_an_agent_cannot_reach_admin_pages(client, agents):
    sign_in(client)
    assert client.get("/support/outbox").status_code == 403
    client.post("/support/logout", data={"csrf_token": csrf(client, "/support/")})
    sign_in(client, "admin@supplier.example", ADMIN_PASSWORD)
    assert client.get("/support/outbox").status_code == 200


def test_forged_forms_without_the_csrf_token_are_refused(client, agents):
    r = client.post(
        "/support/login", data={"email": "agent@supplier.example", "password": AGENT_PASSWORD}
    )
    assert r.status_code == 400 and b"security token" in r.data
    sign_in(client, "admin@supplier.example", ADMIN_PASSWORD)
    assert client.post("/support/outbox/1/retry", data={"csrf_token": "forged"}).status_code == 400


def test_open_redirects_are_not_followed(client, agents):
    r = client.post(
        "/support/login?next=https://evil.example/",
        data={
            "email": "agent@supplier.example",
            "password": AGENT_PASSWORD,
            "csrf_token": csrf(client),
        },
    )
    assert r.headers["Location"].endswith("/support/")


def test_find_a_session_by_email_and_read_its_timeline(client, agents):
    token = open_session(client)
    client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-1001", "quantity": 2}, headers=bearer(token)
    )
    sign_in(client)
    page = client.get("/support/?q=jane.doe@acme.example").get_data(as_text=True)
    session_id = re.search(r"/support/sessions/(\d+)", page).group(1)
    assert "ACME Corp" in page and "jane.doe@acme.example" in page
    detail = client.get(f"/support/sessions/{session_id}").get_data(as_text=True)
    for kind in ("document.in", "auth.ok", "session.created", "start", "cart.add"):
        assert kind in detail
    assert "[redacted]" in detail and "demo-acme-shared-secret-2026" not in detail
    assert "&lt;PunchOutSetupRequest" in detail  # the document, escaped


def test_a_buyers_sessions_never_show_under_another_buyer(client, agents):
    open_session(client)
    sign_in(client)
    page = client.get("/support/?buyer=globex").get_data(as_text=True)
    assert "No sessions match" in page and "jane.doe@acme.example" not in page


def test_search_by_po_number_and_cart_against_order(client, agents):
    ((_, aux, _),) = transferred_cart(client, [("NW-1001", 3)])
    body = order_request(
        [{"sku": "NW-1001", "qty": "5", "price": "12.90", "aux": aux}], order_id="PO-SUPPORT-1"
    )
    assert status(client.post("/cxml", data=body).data)[0] == 200
    sign_in(client)
    page = client.get("/support/?q=PO-SUPPORT-1").get_data(as_text=True)
    session_id = re.search(r"/support/sessions/(\d+)", page).group(1)
    detail = client.get(f"/support/sessions/{session_id}").get_data(as_text=True)
    assert "Price check" in detail and 'class="mismatch"' in detail
    assert "quantity differs from the cart" in detail


def test_outbox_retry_and_the_audit_log(client, agents):
    with agents.db.transaction() as db:
        db.add(
            OutboxMessage(
                kind="marketplace.order",
                idempotency_key="k-1",
                payload="{}",
                status="dead",
                attempts=8,
                last_error="HTTP 503",
            )
        )
    sign_in(client, "admin@supplier.example", ADMIN_PASSWORD)
    page = client.get("/support/outbox").get_data(as_text=True)
    assert "HTTP 503" in page
    message_id = re.search(r"/support/outbox/(\d+)/retry", page).group(1)
    client.post(
        f"/support/outbox/{message_id}/retry", data={"csrf_token": csrf(client, "/support/outbox")}
    )
    with agents.db.transaction() as db:
        message = db.get(OutboxMessage, int(message_id))
        actions = [a.action for a in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert (message.status, message.attempts) == ("pending", 0)
    assert actions[:1] == ["sign_in"] and "outbox.view" in actions and "outbox.retry" in actions


def test_agents_add_cli(monkeypatch, database_url, demo):
    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("NEW_AGENT_PASSWORD", "a-long-agent-password")
    remember_secret("a-long-agent-password")
    runner = CliRunner()
    r = runner.invoke(
        main,
        [
            "agents",
            "add",
            "new@supplier.example",
            "--role",
            "admin",
            "--password-env",
            "NEW_AGENT_PASSWORD",
        ],
    )
    assert r.exit_code == 0 and "agent new@supplier.example (admin) saved" in r.output
    monkeypatch.setenv("NEW_AGENT_PASSWORD", "short")
    r = runner.invoke(
        main, ["agents", "add", "x@supplier.example", "--password-env", "NEW_AGENT_PASSWORD"]
    )
    assert r.exit_code == 1 and "at least 12 characters" in r.output


def test_caller_lookup_and_price_check(client, agents):
    ((_, aux, _),) = transferred_cart(
        client,
        [("NW-1001", 1)],
        extrinsics={"UserEmail": "caller@acme.example", "UserFullName": "Cal Ler"},
    )
    body = order_request(
        [{"sku": "NW-1001", "qty": "1", "price": "14.90", "aux": aux}], order_id="PO-PRICE-1"
    )
    assert status(client.post("/cxml", data=body).data)[0] == 200
    client.post("/cxml", data=order_request([], order_id="PO-BROKEN"))  # a failure to find
    sign_in(client)
    page = client.get("/support/callers?q=cal ler").get_data(as_text=True)
    assert "Cal Ler" in page and "caller@acme.example" in page
    assert "PO-PRICE-1" in page and "2 flag(s)" in page
    session_id = re.search(r"/support/sessions/(\d+)", page).group(1)
    detail = client.get(f"/support/sessions/{session_id}").get_data(as_text=True)
    # list 14.90, contract 12.90, cart 12.90, ordered at 14.90: highlighted
    row = re.search(r'<tr data-sku="NW-1001" class="mismatch">(.*?)</tr>', detail, re.S).group(1)
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells == ["1", "1", "14.90", "12.90", "12.90", "14.90"]  # qty, list, contract...
    assert "price differs from the cart; price differs from the contract" in row
    assert "Nobody matches" in client.get("/support/callers?q=nobody-at-all").get_data(as_text=True)


def test_order_journey_page(client, agents, tmp_path):
    from gateway import outbox
    from gateway.marketplace import events
    from gateway.models import Order
    from tests.conftest import demo_buyers_with, write_buyers
    from tests.test_order_journey import BuyerEndpoint

    endpoint = BuyerEndpoint()
    try:
        write_buyers(
            agents,
            tmp_path,
            demo_buyers_with(
                f'[buyer.outbound]\nurl = "{endpoint.url}"\nshared_secret = "journey-secret-2026-abc"'
            ),
        )
        remember_secret("journey-secret-2026-abc")
        body = order_request([{"sku": "NW-1001", "qty": "2", "price": "12.90"}], order_id="PO-J-1")
        assert status(client.post("/cxml", data=body).data)[0] == 200
        outbox.run_once(agents)
        with agents.db.transaction() as db:
            order = db.scalars(select(Order)).one()
            events.apply(
                db,
                {
                    "event_id": "j1",
                    "type": "shipped",
                    "order_id": order.id,
                    "carrier": "UPS",
                    "tracking_number": "1ZJOURNEY",
                },
            )
        outbox.run_once(agents)
    finally:
        endpoint.close()
    sign_in(client)
    page = client.get(f"/support/orders/{order.id}").get_data(as_text=True)
    for text in (
        "order.received",
        "order.accepted",
        "outbox.sent",
        "order.shipped",
        "outbound.queued",
        "1ZJOURNEY",
        "marketplace.order",
        "cxml.ShipNoticeRequest",
        "&lt;ShipNoticeRequest",
    ):
        assert text in page, text
    assert "journey-secret-2026-abc" not in page
    assert client.get("/support/orders/999999").status_code == 404


def test_buyer_health_shows_leakage_and_failures(client, agents):
    from datetime import timedelta

    from sqlalchemy import update

    from gateway.models import PunchoutSession, utcnow

    token = open_session(client)
    client.post("/api/v1/punchout/transfer", data={"session": token})
    with agents.db.transaction() as db:  # the cart left ten days ago and no order came
        db.execute(update(PunchoutSession).values(transferred_at=utcnow() - timedelta(days=10)))
    client.post(
        "/cxml",
        data=__import__("tests.documents", fromlist=["x"]).setup_request(
            secret="wrong-secret-for-health"
        ),
    )
    sign_in(client)
    page = client.get("/support/buyers").get_data(as_text=True)
    acme = re.search(r'<tr class="mismatch" data-buyer="acme">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r'<td class="num">([^<]*)</td>', acme)
    assert cells == [
        "1",
        "100%",
        "1",
        "0%",
        "1",
    ]  # sessions, transfer, leaked, conversion, failures
    assert page.index('data-buyer="acme"') < page.index('data-buyer="globex"')  # riskiest first
    assert "<svg" in acme and 'height="20"></rect>' in acme  # today's session at full height


@pytest.mark.parametrize("dated", [False, True])
def test_paging_shows_every_session_once(client, agents, dated):
    from datetime import UTC, datetime, timedelta

    from gateway.models import PunchoutSession

    base = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with agents.db.transaction() as db:
        for n in range(120):  # pairs share a creation time: the cursor must split ties
            db.add(
                PunchoutSession(
                    buyer_id="acme",
                    protocol="cxml",
                    operation="create",
                    status="transferred",
                    buyer_cookie=f"page-{n}",
                    created_at=base + timedelta(minutes=n // 2),
                )
            )
    sign_in(client)
    path = "/support/?from=2026-11-20&to=2026-11-20" if dated else "/support/"
    seen = []
    while path:
        page = client.get(path).get_data(as_text=True)
        seen += re.findall(r'href="/support/sessions/(\d+)"', page)
        more = re.search(r'<p class="pager"><a href="([^"]+)"', page)
        path = more.group(1).replace("&amp;", "&") if more else None
    assert len(seen) == 120 and len(set(seen)) == 120
    assert seen == sorted(seen, key=int, reverse=True)  # newest first
