"""Order on behalf: an agent shops as a buyer user, then saves the cart or places it."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from gateway import money, outbox
from gateway.marketplace import events
from gateway.models import (
    AuditEntry,
    Event,
    MarketplaceOrder,
    Order,
    OutboxMessage,
    PunchoutSession,
    User,
    utcnow,
)
from tests.documents import setup_request, status
from tests.helpers import ADMIN_PASSWORD, bearer, csrf, open_session, sign_in, transfer_lines


def user_id(gateway, email: str) -> int:
    with gateway.db.transaction() as db:
        return db.scalar(select(User.id).where(User.email == email))


def shop_as(client, uid: int) -> tuple[str, int]:
    """Open the storefront as the user from the console; the token and the session id."""
    r = client.post(
        f"/support/users/{uid}/on-behalf", data={"csrf_token": csrf(client, "/support/")}
    )
    assert r.status_code == 302, r.data
    token = parse_qs(urlsplit(r.headers["Location"]).query)["session"][0]
    cart = client.get(f"/shop/cart?session={token}").get_data(as_text=True)
    session_id = int(re.search(r"/support/sessions/(\d+)", cart).group(1))
    return token, session_id


def add(client, token: str, sku: str, quantity: int) -> None:
    r = client.post(
        "/shop/cart", data={"session": token, "sku": sku, "quantity": quantity, "action": "add"}
    )
    assert r.status_code == 302


def save_for_user(client, session_id: int, token: str):
    return client.post(
        f"/support/on-behalf/{session_id}/save",
        data={"csrf_token": csrf(client, "/support/"), "session": token},
    )


def session_row(gateway, session_id: int) -> PunchoutSession:
    with gateway.db.transaction() as db:
        session = db.get(PunchoutSession, session_id)
        db.expunge(session)
        return session


def test_a_saved_cart_loads_into_the_users_next_punchout(client, agents):
    open_session(client)  # Jane punched out once: the console knows her
    sign_in(client)
    token, session_id = shop_as(client, user_id(agents, "jane.doe@acme.example"))
    page = client.get(f"/shop/?session={token}").get_data(as_text=True)
    assert "is shopping on behalf of" in page and "agent@supplier.example" in page
    assert "jane.doe@acme.example" in page
    add(client, token, "NW-1001", 3)
    add(client, token, "NW-2001", 1)
    cart = client.get(f"/shop/cart?session={token}").get_data(as_text=True)
    assert "12.90 USD" in cart  # Jane's contract price, not the 14.90 list price
    assert "Save cart for Jane Doe" in cart and 'id="transfer"' not in cart
    refused = client.post("/api/v1/punchout/transfer", data={"session": token})
    assert refused.status_code == 409 and b"save it for the user" in refused.data

    r = save_for_user(client, session_id, token)
    assert r.status_code == 302 and r.headers["Location"].endswith(
        f"/support/sessions/{session_id}"
    )
    assert session_row(agents, session_id).status == "saved"
    assert client.get(f"/shop/cart?session={token}").status_code == 401  # link is spent

    # Jane's next punchout from ACME's procurement system carries the agent's cart.
    jane = open_session(client, cookie="next-punchout")
    cart = client.get("/api/v1/punchout/session", headers=bearer(jane)).get_json()["cart"]
    assert [(i["sku"], i["quantity"], i["unit_price"]) for i in cart["items"]] == [
        ("NW-1001", "3", "12.90"),
        ("NW-2001", "1", "10.95"),
    ]
    banner = client.get(f"/shop/cart?session={jane}").get_data(as_text=True)
    assert "our support team prepared for you" in banner
    lines = transfer_lines(client, jane)
    assert [sku for sku, _, _ in lines] == ["NW-1001", "NW-2001"]
    with agents.db.transaction() as db:
        saved = db.get(PunchoutSession, session_id)
        loaded = db.scalars(select(Event).where(Event.kind == "cart.loaded")).one()
        actions = [a.action for a in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert saved.status == "loaded" and saved.details["loaded_into"] == loaded.session_id
    assert "agent@supplier.example" in loaded.message and "2 line(s)" in loaded.message
    assert "on_behalf.open" in actions and "on_behalf.save" in actions
    # ...and only once: the punchout after that starts empty.
    again = open_session(client, cookie="third-punchout")
    assert (
        client.get("/api/v1/punchout/session", headers=bearer(again)).get_json()["cart"]["items"]
        == []
    )


def test_the_next_punchout_takes_todays_prices_and_says_what_changed(client, agents):
    from gateway.models import ContractPrice

    open_session(client)
    sign_in(client)
    token, session_id = shop_as(client, user_id(agents, "jane.doe@acme.example"))
    add(client, token, "NW-1001", 2)
    save_for_user(client, session_id, token)
    with agents.db.transaction() as db:
        db.execute(
            update(ContractPrice).where(ContractPrice.sku == "NW-1001").values(price="11.50")
        )
    jane = open_session(client, cookie="later")
    cart = client.get("/api/v1/punchout/session", headers=bearer(jane)).get_json()["cart"]
    assert cart["items"][0]["unit_price"] == "11.50"
    with agents.db.transaction() as db:
        loaded = db.scalars(select(Event).where(Event.kind == "cart.loaded")).one()
    assert "price changed: NW-1001: 12.90 -> 11.50" in loaded.message


def test_the_on_behalf_link_works_only_for_the_agent_who_opened_it(app, client, agents):
    open_session(client)
    sign_in(client)
    token, _ = shop_as(client, user_id(agents, "jane.doe@acme.example"))
    stranger = app.test_client()
    r = stranger.get(f"/shop/?session={token}")
    assert r.status_code == 403 and b"opened by a support agent" in r.data
    r = stranger.post("/api/v1/punchout/cart/items", json={"sku": "NW-1001"}, headers=bearer(token))
    assert r.status_code == 403
    admin = app.test_client()
    sign_in(admin, "admin@supplier.example", ADMIN_PASSWORD)
    assert admin.get(f"/shop/?session={token}").status_code == 403  # another agent, too


def test_an_order_placed_on_behalf_reaches_the_marketplace_flagged(client, agents):
    open_session(client)
    sign_in(client)
    token, session_id = shop_as(client, user_id(agents, "jane.doe@acme.example"))
    add(client, token, "NW-1001", 4)
    cart = client.get(f"/shop/cart?session={token}").get_data(as_text=True)
    assert "Place order on behalf" in cart  # ACME allows it in the demo config
    form = {"csrf_token": csrf(client, "/support/"), "session": token, "comment": "phoned in"}
    r = client.post(f"/support/on-behalf/{session_id}/place", data={**form, "reference": ""})
    assert r.status_code == 400 and b"reference (PO number) is required" in r.data
    assert b"Back to the cart" in r.data
    r = client.post(
        f"/support/on-behalf/{session_id}/place", data={**form, "reference": "PO-PHONE-7"}
    )
    assert r.status_code == 302
    with agents.db.transaction() as db:
        order = db.scalars(select(Order)).one()
        message = db.scalars(select(OutboxMessage)).one()
        assert db.get(PunchoutSession, session_id).status == "ordered"
        assert [
            (line.sku, money.quantity(line.quantity), money.amount(line.unit_price))
            for line in order.lines
        ] == [("NW-1001", "4", "12.90")]
    assert order.order_id == "PO-PHONE-7" and order.total == 4 * order.lines[0].unit_price
    payload = json.loads(message.payload)["order"]
    assert payload["placed_on_behalf"]["agent"] == "agent@supplier.example"
    assert payload["placed_on_behalf"]["user"] == "jane.doe@acme.example"
    assert payload["comments"] == "phoned in"
    outbox.run_once(agents)
    with agents.db.transaction() as db:
        assert db.scalars(select(MarketplaceOrder)).one().order_pk == order.id
        events.apply(db, {"event_id": "obo-1", "type": "confirmed", "order_id": order.id})
    with agents.db.transaction() as db:
        skipped = db.scalars(select(Event).where(Event.kind == "outbound.skipped")).one()
        assert db.scalar(select(OutboxMessage).where(OutboxMessage.kind.like("cxml.%"))) is None
    assert "placed it on behalf" in skipped.message  # the buyer's system never saw it
    # the same reference twice is refused, and the refusal is in the session log
    token, session_id = shop_as(client, user_id(agents, "jane.doe@acme.example"))
    add(client, token, "NW-1001", 1)
    r = client.post(
        f"/support/on-behalf/{session_id}/place",
        data={**form, "session": token, "reference": "PO-PHONE-7"},
    )
    assert r.status_code == 409 and b"already has an order" in r.data
    with agents.db.transaction() as db:
        refusals = db.scalars(
            select(Event).where(Event.kind == "on_behalf.place_refused").order_by(Event.id)
        ).all()
    assert [e.message[:40] for e in refusals] == [
        "The buyer's reference (PO number) is req",
        "ACME Corp already has an order 'PO-PHONE",
    ]
    assert refusals[-1].session_id == session_id


def test_a_buyer_that_does_not_allow_it_gets_no_orders_on_behalf(client, agents):
    with agents.db.transaction() as db:
        db.add(User(buyer_id="globex", email="pat@globex.example", name="Pat", roles=["buyer"]))
    sign_in(client)
    token, session_id = shop_as(client, user_id(agents, "pat@globex.example"))
    add(client, token, "NW-1001", 1)
    cart = client.get(f"/shop/cart?session={token}").get_data(as_text=True)
    assert "Save cart for Pat" in cart and "Place order on behalf" not in cart
    r = client.post(
        f"/support/on-behalf/{session_id}/place",
        data={"csrf_token": csrf(client, "/support/"), "session": token, "reference": "PO-X"},
    )
    assert r.status_code == 403 and b"does not allow orders placed on behalf" in r.data
    with agents.db.transaction() as db:
        assert db.scalar(select(Order.id)) is None


@pytest.mark.parametrize("who", ["empty cart", "other agent", "no csrf"])
def test_saving_is_refused_when_it_should_be(app, client, agents, who):
    open_session(client)
    sign_in(client)
    token, session_id = shop_as(client, user_id(agents, "jane.doe@acme.example"))
    data = {"csrf_token": csrf(client, "/support/"), "session": token}
    actor = client
    if who == "other agent":
        add(client, token, "NW-1001", 1)
        actor = app.test_client()
        sign_in(actor, "admin@supplier.example", ADMIN_PASSWORD)
        data["csrf_token"] = csrf(actor, "/support/")
    elif who == "no csrf":
        add(client, token, "NW-1001", 1)
        data.pop("csrf_token")
    r = actor.post(f"/support/on-behalf/{session_id}/save", data=data)
    assert r.status_code == {"empty cart": 400, "other agent": 403, "no csrf": 400}[who]
    assert session_row(agents, session_id).status == "open"


def test_reopening_continues_the_saved_cart(client, agents):
    open_session(client)
    sign_in(client)
    uid = user_id(agents, "jane.doe@acme.example")
    token, first = shop_as(client, uid)
    add(client, token, "NW-1001", 1)
    save_for_user(client, first, token)
    token, second = shop_as(client, uid)
    assert second == first
    cart = client.get("/api/v1/punchout/session", headers=bearer(token)).get_json()["cart"]
    assert [i["sku"] for i in cart["items"]] == ["NW-1001"]


def test_abandoned_and_failed_sessions_are_told_apart(client, agents):
    open_session(client, cookie="left-open")
    no_return = client.post("/cxml", data=setup_request(cookie="no-return", return_url=None))
    assert status(no_return.data)[0] == 200
    token = open_session(client, cookie="will-fail", return_url=None)
    client.post("/api/v1/punchout/transfer", data={"session": token})
    with agents.db.transaction() as db:
        db.execute(
            update(PunchoutSession)
            .where(PunchoutSession.buyer_cookie == "left-open")
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    sign_in(client)

    def cookies(status_name):
        page = client.get(f"/support/?status={status_name}").get_data(as_text=True)
        ids = re.findall(r"/support/sessions/(\d+)", page)
        with agents.db.transaction() as db:
            return sorted(db.get(PunchoutSession, int(i)).buyer_cookie for i in ids)

    assert cookies("abandoned") == ["left-open"]
    assert cookies("open") == ["no-return"]
    assert cookies("failed") == ["will-fail"]


def test_a_saved_cart_waits_for_an_oci_punchout_with_a_page(client, agents):
    from tests.test_oci_endpoint import call, form_of, session_token

    session_token(call(client))  # Max logs in from SAP once
    sign_in(client)
    token, session_id = shop_as(client, user_id(agents, "max.muster@acme.example"))
    add(client, token, "NW-2001", 2)
    save_for_user(client, session_id, token)
    # A VALIDATE call has no page: the user would never see the agent's cart.
    _, _, items = form_of(call(client, FUNCTION="VALIDATE", PRODUCTID="NW-1001").data)
    assert [i["VENDORMAT"] for i in items] == ["NW-1001"]
    assert session_row(agents, session_id).status == "saved"
    # The next real punchout opens with it.
    max_token = session_token(call(client))
    cart = client.get("/api/v1/punchout/session", headers=bearer(max_token)).get_json()["cart"]
    assert [(i["sku"], i["quantity"]) for i in cart["items"]] == [("NW-2001", "2")]
    assert session_row(agents, session_id).status == "loaded"


def test_carts_built_on_behalf_stay_out_of_buyer_health(client, agents):
    open_session(client)
    sign_in(client)
    token, session_id = shop_as(client, user_id(agents, "jane.doe@acme.example"))
    add(client, token, "NW-1001", 1)
    page = client.get("/support/buyers").get_data(as_text=True)
    acme = re.search(r'data-buyer="acme">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', acme)[0] == "1"  # Jane's own punchout
