"""Cancel and return, the keep-alive warning, lost carts and what support sees of them."""

from __future__ import annotations

from datetime import timedelta

from lxml import html
from sqlalchemy import select, update

from gateway.models import Event, PunchoutSession, utcnow
from gateway.profiles.service import recent_outcomes
from gateway.sessions.lost_carts import lost_carts
from gateway.xml import parse
from tests.helpers import add_items, decoded_cart, open_session, sign_in, transfer_form
from tests.profiles.test_presets import with_profile
from tests.test_oci_endpoint import call, form_of, session_token

OCI_CANCEL = "http://127.0.0.1:9000/punchout/oci-cancel?uniqueid=42"


def cancel(client, token):
    return client.post("/shop/cancel", data={"session": token})


def status_of(gateway, token_session_id=None) -> str:
    with gateway.db.transaction() as db:
        return db.scalars(select(PunchoutSession.status)).one()


def test_every_storefront_page_offers_cancel_and_return(client, demo):
    token = open_session(client)
    add_items(client, token, [("NW-1001", 1)])
    for path in ("/shop/", "/shop/product/NW-1001", "/shop/cart", "/shop/?q=bolt"):
        sep = "&" if "?" in path else "?"
        page = html.fromstring(client.get(f"{path}{sep}session={token}").data)
        button = page.get_element_by_id("cancel-return")
        assert button.text_content() == "Cancel and return"


def test_cancel_returns_an_empty_cart_over_cxml(client, demo, gateway, dtd):
    token = open_session(client)
    add_items(client, token, [("NW-1001", 2)])
    r = cancel(client, token)
    action, fields = transfer_form(r.data)
    document = decoded_cart(fields)
    assert action == "http://127.0.0.1:9000/punchout/return"
    assert dtd.validate(document) == []
    root = parse(document).root
    assert root.findtext(".//BuyerCookie") == "cookie-1"
    assert list(root.iter("ItemIn")) == []
    assert status_of(gateway) == "cancelled"
    # The cart cannot be sent after a cancel.
    again = client.post("/api/v1/punchout/transfer", data={"session": token})
    assert again.status_code == 409


def test_cancel_goes_to_ocicancel_for_sap(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "sap-srm")
    token = session_token(call(client, OCICANCEL=OCI_CANCEL))
    add_items(client, token, [("NW-1001", 1)])
    r = cancel(client, token)
    assert r.status_code == 302 and r.headers["Location"] == OCI_CANCEL
    with gateway.db.transaction() as db:
        event = db.scalars(select(Event).where(Event.kind == "session.cancelled")).one()
        assert event.data == {"cancel": "ocicancel", "lines_dropped": 1}


def test_an_ocicancel_outside_the_allowlist_is_not_followed(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "sap-srm")
    token = session_token(call(client, OCICANCEL="https://evil.example/steal"))
    r = cancel(client, token)
    action, pairs, items = form_of(r.data)
    assert action.startswith("http://127.0.0.1:9000/punchout/oci-return") and items == []
    with gateway.db.transaction() as db:
        assert db.scalars(select(Event).where(Event.kind == "oci.cancel_refused")).one()


def test_cancel_none_sends_nothing(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "generic", 'cancel = "none"')
    token = open_session(client)
    r = cancel(client, token)
    assert r.status_code == 200 and b"Nothing was sent to ACME Corp" in r.data
    assert b"transfer-form" not in r.data
    assert status_of(gateway) == "cancelled"


def test_the_keep_alive_warning_before_the_buyer_session_ends(client, demo, gateway):
    token = open_session(client)  # acme: ariba preset, session_minutes = 30
    banner = html.fromstring(client.get(f"/shop/?session={token}").data).get_element_by_id(
        "keep-alive"
    )
    assert 1490 <= int(banner.get("data-warn-in")) <= 1500  # 25 minutes from now
    assert banner.xpath(".//button")[0].text_content() == "Transfer the cart now"
    with gateway.db.transaction() as db:
        db.execute(update(PunchoutSession).values(started_at=utcnow() - timedelta(minutes=26)))
    banner = html.fromstring(client.get(f"/shop/cart?session={token}").data).get_element_by_id(
        "keep-alive"
    )
    assert banner.get("data-warn-in") == "0"


def test_a_cart_lost_in_the_buyer_system_is_shown_to_support(client, agents, gateway):
    token = open_session(client, cookie="first")
    add_items(client, token, [("NW-1001", 2)])
    r = client.post("/api/v1/punchout/transfer", data={"session": token})
    sent = decoded_cart(transfer_form(r.data)[1])
    open_session(client, cookie="second")  # the user is back within minutes
    with gateway.db.transaction() as db:
        found = lost_carts(db)
        first = db.scalars(select(PunchoutSession).where(PunchoutSession.buyer_cookie == "first"))
        first = first.one()
    assert [(c.session_id, c.reason) for c in found] == [(first.id, "repunchout")]

    sign_in(client)
    page = client.get(f"/support/sessions/{first.id}").get_data(as_text=True)
    assert "Cart probably lost in the buyer's system" in page
    assert "ariba (SAP Ariba)" in page
    download = client.get(f"/support/sessions/{first.id}/cart-document")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.data == sent


def test_a_cart_never_ordered_past_the_lag(client, demo, gateway):
    token = open_session(client)
    add_items(client, token, [("NW-1001", 1)])
    client.post("/api/v1/punchout/transfer", data={"session": token})
    with gateway.db.transaction() as db:
        assert lost_carts(db) == []
        db.execute(update(PunchoutSession).values(transferred_at=utcnow() - timedelta(hours=49)))
    with gateway.db.transaction() as db:
        (lost,) = lost_carts(db)
    assert lost.reason == "no_order" and "48 hours" in lost.detail


def test_support_sees_the_fixes_and_refusals(client, agents, gateway, tmp_path):
    with_profile(gateway, tmp_path, "coupa", 'units = ["EA"]\nunit_map = { PK = "EA" }')
    token = open_session(client)
    add_items(client, token, [("NW-6002", 1), ("NW-1001", 1)])
    client.post("/api/v1/punchout/transfer", data={"session": token})
    sign_in(client)
    with gateway.db.transaction() as db:
        session_id = db.scalars(select(PunchoutSession.id)).one()
    page = client.get(f"/support/sessions/{session_id}").get_data(as_text=True)
    with gateway.db.transaction() as db:
        kinds = [e.kind for e in recent_outcomes(db, "acme")]
    assert kinds == ["profile.refused", "profile.fix"]  # for the buyer page, newest first
    assert "Profile fixes and refusals" in page
    assert "Fixed: line 1 (NW-6002): unit PK sent as EA" in page
    assert "Held: cart held: 1 problem(s) for the coupa profile" in page
    assert "overridden: unit_map, units" in page
    # The buyer page shows the profile in force and the same outcomes, linked to the session.
    buyer_page = html.fromstring(client.get("/support/buyers/acme").data)
    in_force = buyer_page.get_element_by_id("profile-in-force").text_content()
    assert in_force.startswith("coupa (Coupa)") and "overridden: unit_map, units" in in_force
    outcomes = [li.text_content() for li in buyer_page.get_element_by_id("profile-events")]
    assert "Held: cart held: 1 problem(s) for the coupa profile" in outcomes[0]
    assert "Fixed: line 1 (NW-6002): unit PK sent as EA" in outcomes[1]
    assert f"session #{session_id}" in outcomes[1]


def test_srm7_validate_without_hook_url_is_answered_directly(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "sap-srm")
    r = call(client, HOOK_URL=None, FUNCTION="VALIDATE", PRODUCTID="NW-1001", QUANTITY="2")
    assert r.status_code == 200
    action, pairs, items = form_of(r.data)
    assert action is None and b"data-autosubmit" not in r.data
    assert (items[0]["VENDORMAT"], items[0]["QUANTITY"], items[0]["UNIT"]) == (
        "NW-1001",
        "2.000",
        "BOX",
    )


def test_validate_without_hook_url_needs_the_profile(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "sap-s4")  # S/4HANA posts VALIDATE to HOOK_URL
    r = call(client, HOOK_URL=None, FUNCTION="VALIDATE", PRODUCTID="NW-1001")
    assert r.status_code == 400 and b"HOOK_URL parameter is missing" in r.data


def test_background_search_leaves_out_what_the_profile_stops(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "sap-srm", 'units = ["PCE"]')
    r = call(client, FUNCTION="BACKGROUND_SEARCH", SEARCHSTRING="M8")
    assert r.status_code == 200
    assert form_of(r.data)[2] == []  # the M8 fasteners are sold by the box (BOX)
    r = call(client, FUNCTION="BACKGROUND_SEARCH", SEARCHSTRING="safety glasses")
    assert [i["VENDORMAT"] for i in form_of(r.data)[2]] == ["NW-2002"]
    with gateway.db.transaction() as db:
        dropped = db.scalars(select(Event).where(Event.kind == "profile.dropped")).first()
        assert "NW-1001" in dropped.data["skus"]
