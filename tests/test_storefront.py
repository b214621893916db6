"""The StartPage, the session API, the storefront pages and the cart transfer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from gateway.models import Event, Product, PunchoutSession, utcnow
from gateway.xml import parse
from tests.documents import setup_request, start_path
from tests.helpers import bearer, decoded_cart, open_session, transfer_form, transferred_cart

GLOBEX = dict(
    from_=("DUNS", "123456789"),
    sender=("DUNS", "123456789"),
    secret="demo-globex-shared-secret-26",
    return_url="http://127.0.0.1:9000/coupa/return",
)


def kinds(gateway, session_id=None):
    with gateway.db.transaction() as db:
        stmt = select(Event.kind).order_by(Event.id)
        if session_id:
            stmt = stmt.where(Event.session_id == session_id)
        return list(db.scalars(stmt))


# StartPage ----------------------------------------------------------------


def test_start_page_is_single_use(client, demo):
    r = client.post("/cxml", data=setup_request())
    path = start_path(r.data)
    assert client.head(path).status_code == 200  # link previews do not use it up
    first = client.get(path)
    assert first.status_code == 302 and "/shop/?session=" in first.headers["Location"]
    again = client.get(path)
    assert again.status_code == 410
    assert b"already used" in again.data
    assert "start.reused" in kinds(demo)


def test_start_page_expires(client, demo):
    r = client.post("/cxml", data=setup_request())
    with demo.db.transaction() as db:
        db.execute(
            update(PunchoutSession).values(start_token_expires_at=utcnow() - timedelta(seconds=1))
        )
    page = client.get(start_path(r.data))
    assert page.status_code == 410 and b"expired" in page.data


def test_unknown_start_token(client, demo):
    assert client.get("/punchout/start/not-a-token").status_code == 404


def test_start_token_is_stored_hashed(client, demo):
    r = client.post("/cxml", data=setup_request())
    token = start_path(r.data).rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits, URL-safe base64
    with demo.db.transaction() as db:
        stored = db.scalar(select(PunchoutSession.start_token_hash))
    assert stored != token and len(stored) == 64


def test_selected_item_opens_the_product(client, demo):
    r = client.post("/cxml", data=setup_request(selected="NW-3001"))
    assert "/shop/product/NW-3001" in client.get(start_path(r.data)).headers["Location"]


# Session API --------------------------------------------------------------


def test_session_api_requires_the_token(client, demo):
    assert client.get("/api/v1/punchout/session").status_code == 401
    assert client.get("/api/v1/punchout/session", headers=bearer("nope")).status_code == 401


def test_session_api_round(client, demo):
    token = open_session(client)
    h = bearer(token)
    s = client.get("/api/v1/punchout/session", headers=h).json
    assert s["buyer"]["id"] == "acme"
    assert s["user"] == {
        "email": "jane.doe@acme.example",
        "name": "Jane Doe",
        "roles": ["requester"],
    }
    assert s["operation"] == "create" and s["status"] == "open"
    cart = client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-1001", "quantity": 2}, headers=h
    ).json
    assert (
        cart["items"][0]["unit_price"] == "12.90"
    )  # ACME's contract price, not the 14.90 list price
    cart = client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-1001", "quantity": 1}, headers=h
    ).json
    assert cart["items"][0]["quantity"] == "3"
    cart = client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-2002", "quantity": 4}, headers=h
    ).json
    assert cart["total"] == "65.70" and cart["currency"] == "USD"
    cart = client.put("/api/v1/punchout/cart/items/NW-1001", json={"quantity": 0}, headers=h).json
    assert [i["sku"] for i in cart["items"]] == ["NW-2002"]
    cart = client.delete("/api/v1/punchout/cart/items/NW-2002", headers=h).json
    assert cart["items"] == []
    assert [k for k in kinds(demo) if k.startswith("cart.")] == [
        "cart.add",
        "cart.update",
        "cart.add",
        "cart.remove",
        "cart.remove",
    ]


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"sku": "NOPE", "quantity": 1}, 404, "not in the catalog"),
        ({"sku": "NW-1001", "quantity": "lots"}, 400, "not a number"),
        ({"sku": "NW-1001", "quantity": -1}, 400, "between 0"),
        ({"sku": "NW-1001", "quantity": 0}, 400, "more than 0"),
        ({"quantity": 1}, 400, "sku is required"),
    ],
)
def test_bad_cart_input_is_named(client, demo, body, status, words):
    token = open_session(client)
    r = client.post("/api/v1/punchout/cart/items", json=body, headers=bearer(token))
    assert r.status_code == status and words in r.json["error"]
    assert "api.refused" in kinds(demo)


def test_inspect_session_is_read_only(client, demo):
    token = open_session(client, operation="inspect", items=[("NW-1001", "", "2")])
    h = bearer(token)
    assert (
        client.post("/api/v1/punchout/cart/items", json={"sku": "NW-2002"}, headers=h).status_code
        == 409
    )
    assert (
        client.put(
            "/api/v1/punchout/cart/items/NW-1001", json={"quantity": 5}, headers=h
        ).status_code
        == 409
    )
    assert client.delete("/api/v1/punchout/cart/items/NW-1001", headers=h).status_code == 409
    cart = client.get("/api/v1/punchout/session", headers=h).json["cart"]
    assert [(i["sku"], i["quantity"]) for i in cart["items"]] == [("NW-1001", "2")]
    page = client.get(f"/shop/cart?session={token}")
    assert b"cannot be changed" in page.data and b"qty-form" not in page.data


def test_edit_rebuilds_the_cart_keeping_line_identity(client, demo):
    ((_, aux, _),) = transferred_cart(client, [("NW-3001", 1)])
    edit = open_session(client, operation="edit", cookie="cookie-2", items=[("NW-3001", aux, "3")])
    cart = client.get("/api/v1/punchout/session", headers=bearer(edit)).json["cart"]
    assert [(i["sku"], i["quantity"], i["line_id"]) for i in cart["items"]] == [
        ("NW-3001", "3", aux)
    ]


def test_edit_does_not_reach_another_buyers_lines(client, demo):
    ((_, aux, _),) = transferred_cart(client, [("NW-3001", 1)])
    # Globex names ACME's line id with another SKU: it must not get ACME's line.
    r = client.post(
        "/cxml",
        data=setup_request(
            operation="edit", items=[("NW-2002", aux, "1")], extrinsics={}, **GLOBEX
        ),
    )
    assert r.status_code == 200
    with demo.db.transaction() as db:
        session = db.scalars(select(PunchoutSession).order_by(PunchoutSession.id.desc())).first()
        assert [(line.sku, line.aux_id == aux) for line in session.lines] == [("NW-2002", False)]


# Transfer -----------------------------------------------------------------


def test_transfer_posts_a_valid_order_message(client, demo, dtd):
    token = open_session(client, cookie="c-42 <&>")
    client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-1001", "quantity": 2}, headers=bearer(token)
    )
    client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-4003", "quantity": 1}, headers=bearer(token)
    )
    page = client.post("/api/v1/punchout/transfer", data={"session": token})
    assert page.status_code == 200
    action, fields = transfer_form(page.data)
    assert action == "http://127.0.0.1:9000/punchout/return"
    document = decoded_cart(fields)
    assert dtd.validate(document) == []
    root = parse(document).root
    assert root.findtext(".//BuyerCookie") == "c-42 <&>"
    assert root.find("Header/To/Credential/Identity").text == "AN01000000001"
    assert root.find("Header/From/Credential/Identity").text == "AN01000000099"
    assert b"SharedSecret" not in document
    header = root.find(".//PunchOutOrderMessageHeader")
    assert header.get("operationAllowed") == "edit"
    assert header.findtext("Total/Money") == "37.70"
    lines = root.findall(".//ItemIn")
    assert [line.findtext("ItemID/SupplierPartID") for line in lines] == ["NW-1001", "NW-4003"]
    assert lines[0].findtext("ItemDetail/Classification") == "31161501"
    assert lines[0].findtext("ItemDetail/ManufacturerName") == "Würth"
    assert lines[0].findtext("ItemDetail/LeadTime") == "2"
    assert (
        lines[0].find("ItemDetail/Description").get("{http://www.w3.org/XML/1998/namespace}lang")
        == "en-US"
    )
    assert b'<script src="/static/transfer.js">' in page.data
    assert b"Continue to your procurement system" in page.data  # works without scripts


def test_transfer_urlencoded_per_buyer(client, demo, dtd):
    # Globex: operation_allowed=inspect, cxml-urlencoded, cXML 1.2.014, no auto-created users.
    with demo.db.transaction() as db:
        from gateway.models import User

        db.add(User(buyer_id="globex", email="known@globex.example", roles=["requester"]))
    token = open_session(client, extrinsics={"UserEmail": "known@globex.example"}, **GLOBEX)
    client.post("/api/v1/punchout/cart/items", json={"sku": "NW-3001"}, headers=bearer(token))
    page = client.post("/api/v1/punchout/transfer", data={"session": token})
    _, fields = transfer_form(page.data)
    assert list(fields) == ["cxml-urlencoded"]
    document = decoded_cart(fields)
    assert b"cXML/1.2.014/cXML.dtd" in document
    assert dtd.validate(document) == []
    root = parse(document).root
    assert root.find(".//PunchOutOrderMessageHeader").get("operationAllowed") == "inspect"
    assert root.findtext(".//ItemIn/ItemDetail/UnitPrice/Money") == "172.50"


def test_empty_cart_transfer_is_valid(client, demo, dtd):
    token = open_session(client)
    _, fields = transfer_form(
        client.post("/api/v1/punchout/transfer", data={"session": token}).data
    )
    document = decoded_cart(fields)
    assert dtd.validate(document) == []
    assert parse(document).root.findall(".//ItemIn") == []


def test_transfer_closes_the_session(client, demo):
    token = open_session(client)
    assert client.post("/api/v1/punchout/transfer", data={"session": token}).status_code == 200
    again = client.post("/api/v1/punchout/transfer", data={"session": token})
    assert again.status_code == 409 and b"already transferred" in again.data
    late = client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-1001"}, headers=bearer(token)
    )
    assert late.status_code == 409


def test_transfer_without_return_url(client, demo):
    token = open_session(client, return_url=None)
    page = client.post("/api/v1/punchout/transfer", data={"session": token})
    assert page.status_code == 409 and b"did not say where to send the cart" in page.data
    assert "transfer.failed" in kinds(demo)


# Storefront pages ----------------------------------------------------------


def test_catalog_search_and_contract_prices(client, demo):
    token = open_session(client)
    page = client.get(f"/shop/?session={token}&q=drill")
    assert page.status_code == 200
    assert b"Cordless drill driver" in page.data and b"Angle grinder" not in page.data
    assert b"169.00 USD" in page.data and b"Contract price" in page.data
    assert b"1 product" in page.data
    category = client.get(f"/shop/?session={token}&category=Safety")
    assert category.data.count(b'class="card"') == 5
    assert "shop.search" in kinds(demo)


def test_pages_without_a_session_are_refused(client, demo):
    assert client.get("/shop/").status_code == 401
    assert client.get("/shop/cart?session=forged").status_code == 401


def test_output_is_html_escaped(client, demo):
    with demo.db.transaction() as db:
        db.add(
            Product(
                sku="XSS-1",
                description='<script>alert("x")</script>',
                unit_price=Decimal("1"),
                currency="USD",
                uom="EA",
            )
        )
    token = open_session(
        client,
        extrinsics={"UserEmail": "x@acme.example", "UserFullName": "<img src=x onerror=alert(1)>"},
    )
    client.post("/api/v1/punchout/cart/items", json={"sku": "XSS-1"}, headers=bearer(token))
    for path in (
        f"/shop/?session={token}",
        f"/shop/product/XSS-1?session={token}",
        f"/shop/cart?session={token}",
    ):
        body = client.get(path).data
        assert b"<script>alert" not in body and b"<img src=x" not in body
    page = client.post("/api/v1/punchout/transfer", data={"session": token})
    assert b"<script>alert" not in page.data


def test_no_script_cart_forms(client, demo):
    token = open_session(client)
    r = client.post(
        "/shop/cart", data={"session": token, "sku": "NW-2001", "quantity": "3", "action": "add"}
    )
    assert r.status_code == 302
    client.post(
        "/shop/cart", data={"session": token, "sku": "NW-2001", "quantity": "5", "action": "set"}
    )
    page = client.get(f"/shop/cart?session={token}")
    assert b'value="5"' in page.data and b"54.75" in page.data
    client.post("/shop/cart", data={"session": token, "sku": "NW-2001", "action": "remove"})
    assert b"Your cart is empty" in client.get(f"/shop/cart?session={token}").data


def test_security_headers(client, demo):
    token = open_session(client)
    page = client.get(f"/shop/?session={token}")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("script_root", ["", "/gateway"])
def test_result_page_links_are_the_ones_url_for_builds(app, script_root):
    from flask import url_for

    from gateway.web.shop import _here

    current = dict(q="a&b ü+ 'x'", category="Safety & Co/1", manufacturer=None, sort=None, page=3)
    with app.test_request_context("/shop/", environ_base={"SCRIPT_NAME": script_root}):
        here = _here("tok/+en=", **current)
        for changes in (
            {},
            {"page": None},
            {"category": None, "page": None},
            {"manufacturer": "M%1 #?", "page": None},
            {"page": 4},
            {"q": ""},
        ):
            params = {k: v for k, v in {**current, **changes}.items() if v not in (None, "", 1)}
            assert here(**changes) == url_for("shop.index", session="tok/+en=", **params)
