"""GET/POST /oci/<buyer_id> over HTTP: login, functions, errors, the cart going back."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from gateway.models import Event, PunchoutSession, User
from gateway.oci.items import parse_decimal, parse_form_html, parse_new_item_fields
from tests.helpers import bearer

HOOK = "http://127.0.0.1:9000/punchout/oci-return?sap-client=100"
LOGIN = {
    "USERNAME": "acme_srm",
    "PASSWORD": "demo-acme-oci-password",
    "HOOK_URL": HOOK,
    "~OkCode": "ADDI",
    "~TARGET": "_parent",
    "~CALLER": "CTLG",
    "email": "max.muster@acme.example",
    "first_name": "Max",
    "last_name": "Muster",
}


def call(client, method="GET", buyer="acme", **params):
    values = {**LOGIN, **params}
    values = {k: v for k, v in values.items() if v is not None}
    if method == "POST":
        return client.post(f"/oci/{buyer}", data=values)
    return client.get(f"/oci/{buyer}?{urlencode(values)}")


def session_token(response) -> str:
    assert response.status_code == 302, response.data[:500]
    return response.headers["Location"].split("session=", 1)[1].split("&", 1)[0]


def form_of(page: bytes):
    action, pairs = parse_form_html(page)
    return action, pairs, parse_new_item_fields(pairs)


def events(gateway, kind=None):
    with gateway.db.transaction() as db:
        stmt = select(Event).order_by(Event.id)
        if kind:
            stmt = stmt.where(Event.kind == kind)
        return list(db.scalars(stmt))


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_login_opens_the_storefront(client, demo, method):
    r = call(client, method)
    assert r.headers["Location"].startswith("/shop/?session=")
    token = session_token(r)
    s = client.get("/api/v1/punchout/session", headers=bearer(token)).json
    assert s["protocol"] == "oci" and s["buyer"]["id"] == "acme"
    assert s["user"]["email"] == "max.muster@acme.example" and s["user"]["name"] == "Max Muster"


def test_aliases_and_case(client, demo):
    r = call(client, USERNAME=None, PASSWORD=None, login="ACME_SRM", pwd="demo-acme-oci-password")
    assert r.status_code == 302


def test_full_cart_goes_back_as_new_item_fields(client, demo):
    token = session_token(call(client))
    for sku, qty in (("NW-1001", 3), ("NW-3001", 1), ("NW-2002", 2)):
        client.post(
            "/api/v1/punchout/cart/items", json={"sku": sku, "quantity": qty}, headers=bearer(token)
        )
    page = client.post("/api/v1/punchout/transfer", data={"session": token})
    assert page.status_code == 200
    action, pairs, items = form_of(page.data)
    assert action == HOOK
    assert pairs[:3] == [("~OkCode", "ADDI"), ("~TARGET", "_parent"), ("~CALLER", "CTLG")]
    assert b'target="_parent"' in page.data
    assert [i["VENDORMAT"] for i in items] == ["NW-1001", "NW-3001", "NW-2002"]
    bolt, drill, glasses = items
    assert bolt["DESCRIPTION"] == "Hex bolt M8 x 40 mm, zinc plated, box of"  # 40 characters
    assert bolt["LONGTEXT"] == "Hex bolt M8 x 40 mm, zinc plated, box of 100"
    assert (bolt["QUANTITY"], bolt["UNIT"], bolt["PRICE"], bolt["CURRENCY"]) == (
        "3.000",
        "BOX",
        "12.900",
        "USD",
    )
    assert bolt["CONTRACT"] == "C-2026-01" and "CONTRACT" not in glasses  # contract price only
    assert bolt["VENDOR"] == "4711" and bolt["CUST_FIELD1"] == "Würth"
    assert bolt["MATGROUP"] == "31161501" and bolt["MANUFACTMAT"] == "0057 8 40"
    assert bolt["LEADTIME"] == "2" and bolt["PRICEUNIT"] == "1"
    assert bolt["EXT_PRODUCT_ID"].startswith("PG-") and bolt["EXT_QUOTE_ITEM"] == "1"
    assert glasses["UNIT"] == "PCE"
    assert parse_decimal(drill["PRICE"]) == 169
    cut = events(demo, "transfer.cut")
    assert {(e.data["line"], e.data["field"]) for e in cut} == {
        (1, "DESCRIPTION"),
        (2, "DESCRIPTION"),
    }
    with demo.db.transaction() as db:
        lines = db.scalars(select(PunchoutSession)).one().lines
    assert [line.aux_id for line in lines] == [i["EXT_PRODUCT_ID"] for i in items]


def test_empty_cart_is_an_empty_valid_form(client, demo):
    token = session_token(call(client))
    action, pairs, items = form_of(
        client.post("/api/v1/punchout/transfer", data={"session": token}).data
    )
    assert action == HOOK and items == []
    assert [n for n, _ in pairs] == ["~OkCode", "~TARGET", "~CALLER"]


def test_detail_and_sourcing(client, demo):
    detail = call(client, FUNCTION="DETAIL", PRODUCTID="NW-3001")
    assert detail.headers["Location"].startswith("/shop/product/NW-3001?session=")
    sourcing = call(client, FUNCTION="SOURCING", SEARCHSTRING="safety glasses")
    assert "q=safety+glasses" in sourcing.headers["Location"]
    page = client.get(sourcing.headers["Location"])
    assert b"Safety glasses, clear anti-fog lens" in page.data


def test_validate_posts_the_item_without_ui(client, demo):
    page = call(client, FUNCTION="VALIDATE", PRODUCTID="NW-1001", QUANTITY="4")
    assert page.status_code == 200
    action, _, items = form_of(page.data)
    assert action == HOOK
    assert [(i["VENDORMAT"], i["QUANTITY"], i["PRICE"]) for i in items] == [
        ("NW-1001", "4.000", "12.900")
    ]
    with demo.db.transaction() as db:
        assert db.scalars(select(PunchoutSession)).one().status == "transferred"


def test_validate_unknown_product_returns_empty_cart(client, demo):
    _, _, items = form_of(call(client, FUNCTION="VALIDATE", PRODUCTID="GONE-1").data)
    assert items == []
    assert "not in the catalog" in events(demo, "oci.validate")[0].message


def test_background_search_posts_hits(client, demo):
    _, _, items = form_of(call(client, FUNCTION="BACKGROUND_SEARCH", SEARCHSTRING="Würth").data)
    assert sorted(i["VENDORMAT"] for i in items) == ["NW-1001", "NW-1002", "NW-1003"]
    assert all(i["QUANTITY"] == "1.000" for i in items)


def test_unknown_function_is_logged_and_shopping_goes_on(client, demo):
    r = call(client, FUNCTION="QUANTITY_CHECK")
    assert r.headers["Location"].startswith("/shop/?session=")
    assert "QUANTITY_CHECK" in events(demo, "oci.function_unknown")[0].message


@pytest.mark.parametrize(
    "params, status, words",
    [
        ({"HOOK_URL": None}, 400, "HOOK_URL parameter is missing"),
        ({"PASSWORD": "wrong-password-guess"}, 401, "login failed for user"),
        ({"USERNAME": "someone_else"}, 401, "login failed for user"),
        ({"PASSWORD": None}, 401, "no user name and password"),
        ({"HOOK_URL": "https://evil.example/steal"}, 400, "is not among the return addresses"),
        ({"HOOK_URL": "SAPEVENT:POST"}, 400, "is not among the return addresses"),
        ({"FUNCTION": "DETAIL"}, 400, "needs a PRODUCTID"),
    ],
)
def test_bad_calls_get_an_error_page(client, demo, params, status, words):
    r = call(client, **params)
    assert r.status_code == status
    assert words.encode() in r.data
    assert b"wrong-password-guess" not in r.data and b"demo-acme-oci-password" not in r.data
    assert b"<!doctype html>" in r.data
    with demo.db.transaction() as db:
        assert db.scalar(select(func.count()).select_from(PunchoutSession)) == 0
        logged = list(db.scalars(select(Event)))
    assert len(logged) == 1 and logged[0].level == "error"
    assert "wrong-password-guess" not in str(logged[0].data) + logged[0].message


def test_unknown_buyer_404(client, demo):
    r = call(client, buyer="nobody")
    assert r.status_code == 404 and b"no OCI catalog connection &#39;nobody&#39;" in r.data
    assert call(client, buyer="globex").status_code == 404  # a cXML-only buyer


def test_failed_logins_are_rate_limited_per_buyer(client, demo, tmp_path):
    for i in range(10):  # a different user name each time: spraying the buyer
        assert call(client, USERNAME=f"user{i}", PASSWORD="guess").status_code == 401
    blocked = call(client)  # even the right password waits now
    assert blocked.status_code == 429 and b"failed logins" in blocked.data
    assert events(demo, "oci.rate_limited")
    # Another buyer is not affected.
    r = call(
        client,
        buyer="initech",
        USERNAME="INITECH_CAT",
        PASSWORD="demo-initech-oci-password",
        HOOK_URL=None,
        MM_HOOK_URL="SAPEVENT:POST",
    )
    assert r.status_code == 302


def test_sap_gui_buyer_hook_name_sapevent_index_base_and_decimals(client, demo):
    r = call(
        client,
        buyer="initech",
        USERNAME="INITECH_CAT",
        PASSWORD="demo-initech-oci-password",
        HOOK_URL=None,
        MM_HOOK_URL="SAPEVENT:POST",
        email="pat@initech.example",
    )
    token = session_token(r)
    client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-2001", "quantity": 2}, headers=bearer(token)
    )
    action, pairs, _ = form_of(
        client.post("/api/v1/punchout/transfer", data={"session": token}).data
    )
    values = dict(pairs)
    assert action == "SAPEVENT:POST"
    assert values["NEW_ITEM-PRICE[0]"] == "12.50" and values["NEW_ITEM-QUANTITY[0]"] == "2.00"
    assert values["NEW_ITEM-UNIT[0]"] == "BOX"


def test_one_technical_login_many_people(client, demo):
    for email in ("a@acme.example", "b@acme.example", "a@acme.example"):
        session_token(call(client, email=email, first_name=None, last_name=None))
    session_token(call(client, email=None, first_name=None, last_name=None))
    with demo.db.transaction() as db:
        emails = sorted(u.email for u in db.scalars(select(User)) if u.email)
        sessions = list(db.scalars(select(PunchoutSession).order_by(PunchoutSession.id)))
    assert emails == ["a@acme.example", "b@acme.example"]
    assert sessions[0].user_id == sessions[2].user_id != sessions[1].user_id
    # No person named: the technical login's generic user, named in the session log.
    with demo.db.transaction() as db:
        generic = db.get(User, sessions[3].user_id)
        assert generic.unique_name == "generic:OCI" and generic.email is None
    assert "generic user 'generic:OCI'" in events(demo, "user.generic")[0].message


def test_values_are_html_escaped_in_the_form(client, demo):
    r = call(client, **{"~OkCode": '"><script>alert(1)</script>'})
    token = session_token(r)
    page = client.post("/api/v1/punchout/transfer", data={"session": token})
    assert b"<script>alert(1)</script>" not in page.data
    _, pairs, _ = form_of(page.data)
    assert pairs[0] == ("~OkCode", '"><script>alert(1)</script>')


def test_repeated_failures_for_one_user_back_off(client, demo):
    for _ in range(5):
        assert call(client, PASSWORD="guess").status_code == 401
    locked = call(client)  # even the right password waits now
    assert locked.status_code == 429 and b"try again in" in locked.data
    assert events(demo, "oci.locked")
    from gateway.models import AuthThrottle

    with demo.db.transaction() as db:  # the lock expires
        row = db.get(AuthThrottle, "oci:acme:acme_srm")
        row.locked_until = row.first_failure_at
    assert call(client).status_code == 302
    with demo.db.transaction() as db:
        assert db.get(AuthThrottle, "oci:acme:acme_srm") is None  # success clears it
