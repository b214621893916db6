"""Attacks across every route of a kind: CredentialMac replay, CSRF on every console
POST, and tenant isolation on every session API route (routes taken from the url_map,
so a route added later is covered without editing this file)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from gateway.models import Agent, AuditEntry, CartLine, PunchoutSession, User
from tests.documents import setup_request, start_path, status
from tests.helpers import ADMIN_PASSWORD, bearer, csrf, open_session, sign_in
from tests.test_cxml_endpoint import _mac_sender
from tests.test_storefront import GLOBEX

ACME_SECRET = "demo-acme-shared-secret-2026"


def rows(gateway, model) -> int:
    with gateway.db.transaction() as db:
        return db.scalar(select(func.count()).select_from(model))


def concrete(rule: str, **values) -> str:
    """A rule with its placeholders filled: named values, else 1."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(values.get(m.group(1), 1)), rule)


# -- CredentialMac replay -------------------------------------------------------------------


def test_replayed_credential_mac_setup_never_reaches_the_first_session(client, demo):
    """A CredentialMac authenticates the Sender until its expirationDate; it does not sign
    the document. The same MAC'd setup request sent twice opens two sessions, each with
    its own single-use StartPage link: the replay never reaches the first session, its
    cart or its link; once the MAC has expired the replay is refused (401)."""
    sender = _mac_sender(ACME_SECRET, datetime.now(UTC) + timedelta(hours=1))
    doc = setup_request(sender_xml=sender, payload_id="replayed-mac")
    first = client.post("/cxml", data=doc, content_type="text/xml")
    assert status(first.data)[0] == 200
    token = None
    start = client.get(start_path(first.data))
    assert start.status_code == 302
    token = start.headers["Location"].split("session=")[1]
    client.post("/api/v1/punchout/cart/items", json={"sku": "NW-1001"}, headers=bearer(token))

    again = client.post("/cxml", data=doc, content_type="text/xml")
    assert status(again.data)[0] == 200
    assert start_path(again.data) != start_path(first.data)
    replayed = client.get(start_path(again.data))
    assert replayed.status_code == 302
    other = replayed.headers["Location"].split("session=")[1]
    assert other != token
    cart = client.get("/api/v1/punchout/session", headers=bearer(other)).json["cart"]
    assert cart["items"] == []  # nothing of the first session's cart
    assert client.get(start_path(first.data)).status_code >= 400  # the first link stays used

    expired = _mac_sender(ACME_SECRET, datetime.now(UTC) - timedelta(seconds=1))
    late = client.post("/cxml", data=setup_request(sender_xml=expired, payload_id="replayed-mac"))
    assert status(late.data)[0] == 401


# -- CSRF on every console POST form --------------------------------------------------------


def console_posts(app) -> list[str]:
    return sorted(
        r.rule
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("support.") and "POST" in r.methods
    )


def test_the_console_has_post_forms_to_check(app):
    assert len(console_posts(app)) >= 9


@pytest.mark.parametrize("token", [None, "", "wrong-token", "x" * 43])
def test_every_console_post_refuses_a_missing_or_wrong_csrf_token(app, client, agents, token):
    sign_in(client, "admin@supplier.example", ADMIN_PASSWORD)
    with agents.db.transaction() as db:
        user = User(buyer_id="acme", email="csrf@acme.example", roles=["requester"])
        db.add(user)
        db.flush()
        user_id = user.id
    before = [rows(agents, m) for m in (User, Agent, AuditEntry, PunchoutSession)]
    for rule in console_posts(app):
        path = concrete(rule, buyer_id="acme", user_id=user_id)
        form = {"email": "new@acme.example", "role": "buyer", "roles": "buyer"}
        if token is not None:
            form["csrf_token"] = token
        r = client.post(path, data=form)
        assert r.status_code in (400, 403), (rule, r.status_code)
    assert [rows(agents, m) for m in (User, Agent, AuditEntry, PunchoutSession)] == before
    # Still signed in: a refused form did not sign the agent out either.
    assert client.get("/support/").status_code == 200


def test_a_csrf_token_of_another_browser_is_refused(app, client, agents):
    other = app.test_client()
    stolen = csrf(other)
    sign_in(client, "admin@supplier.example", ADMIN_PASSWORD)
    r = client.post("/support/logout", data={"csrf_token": stolen})
    assert r.status_code == 400


# -- tenant isolation on every session API route --------------------------------------------


def api_routes(app) -> list[tuple[str, str]]:
    return sorted(
        (method, r.rule)
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/v1/punchout")
        for method in r.methods - {"HEAD", "OPTIONS"}
    )


def test_every_session_api_route_stays_inside_the_tokens_buyer(app, client, demo):
    routes = api_routes(app)
    assert len(routes) >= 6
    with demo.db.transaction() as db:
        db.add(User(buyer_id="globex", email="g@globex.example", roles=["requester"]))
    globex = open_session(client, extrinsics={"UserEmail": "g@globex.example"}, **GLOBEX)
    client.post(
        "/api/v1/punchout/cart/items",
        json={"sku": "NW-2002", "quantity": 2},
        headers=bearer(globex),
    )
    acme = open_session(client)

    def globex_state():
        with demo.db.transaction() as db:
            session = db.scalars(
                select(PunchoutSession).where(PunchoutSession.buyer_id == "globex")
            ).one()
            lines = db.scalars(select(CartLine).where(CartLine.session_id == session.id))
            return (
                session.status,
                session.transferred_at,
                sorted((line.sku, str(line.quantity), line.aux_id) for line in lines),
                session.buyer_cookie,
            )

    before = globex_state()
    with demo.db.transaction() as db:
        globex_id = db.scalars(
            select(PunchoutSession.id).where(PunchoutSession.buyer_id == "globex")
        ).one()
    for method, rule in routes:
        path = concrete(rule, sku="NW-2002")
        # ACME's token, with Globex's token and session id offered every other way.
        r = client.open(
            path,
            method=method,
            json={"sku": "NW-2002", "quantity": 5, "session": globex, "session_id": globex_id},
            query_string={"session": globex, "session_id": globex_id, "buyer": "globex"},
            headers={**bearer(acme), "Accept": "application/json"},
        )
        assert r.status_code < 500, (method, rule)
        body = r.get_data(as_text=True)
        assert globex not in body and "globex" not in body.lower(), (method, rule)
        assert globex_state() == before, (method, rule)
    # Globex's session is still its own and still usable.
    r = client.get("/api/v1/punchout/session", headers=bearer(globex))
    assert r.status_code == 200
    assert [i["sku"] for i in r.json["cart"]["items"]] == ["NW-2002"]
