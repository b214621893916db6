"""Provisioning over HTTP, for cXML and OCI: users, roles, and the permissions roles carry."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.models import Buyer, Event, Order, OutboxMessage, User
from tests.conftest import demo_buyers_with, write_buyers
from tests.documents import order_request, setup_request, status
from tests.helpers import (
    add_items,
    bearer,
    decoded_cart,
    open_session,
    transfer_form,
    transfer_lines,
)
from tests.test_oci_endpoint import call, session_token

ROLES = """
[buyer.roles.requester]
categories = ["Safety", "Office"]
show_prices = true
max_order_value = "100.00"
[buyer.roles.buyer]
max_order_value = "5000"
[buyer.roles.viewer]
categories = ["Safety"]
show_prices = false
"""


def configure(
    gateway,
    tmp_path,
    extra: str = "",
    unknown: str = "create",
    auto_create: bool = True,
    hold: bool = False,
) -> None:
    text = demo_buyers_with(ROLES + extra)
    text = text.replace('unknown_roles = "create"', f'unknown_roles = "{unknown}"', 1)
    text = text.replace(
        "auto_create_users = true",
        f"auto_create_users = {str(auto_create).lower()}"
        + ("\nhold_over_limit = true" if hold else ""),
        1,
    )
    write_buyers(gateway, tmp_path, text)


def kinds(gateway) -> list[str]:
    with gateway.db.transaction() as db:
        return [e.kind for e in db.scalars(select(Event).order_by(Event.id))]


def user(gateway, email) -> User:
    with gateway.db.transaction() as db:
        return db.scalars(select(User).where(User.email == email)).one()


# --- users -------------------------------------------------------------------------


def test_oci_unknown_user_refused_when_auto_create_is_off(client, demo, tmp_path):
    configure(demo, tmp_path, auto_create=False)
    r = call(client, email="stranger@acme.example")
    assert r.status_code == 401 and b"stranger@acme.example is not registered" in r.data
    assert "oci.user_refused" in kinds(demo)


def test_known_users_pass_when_auto_create_is_off(client, demo, tmp_path):
    configure(demo, tmp_path, auto_create=False)
    with demo.db.transaction() as db:
        db.add(User(buyer_id="acme", email="known@acme.example", roles=["requester"]))
    assert call(client, email="known@acme.example").status_code == 302
    body = setup_request(extrinsics={"UserEmail": "known@acme.example"})
    assert status(client.post("/cxml", data=body).data)[0] == 200


# --- roles -------------------------------------------------------------------------


def test_role_map_cxml_and_oci(client, demo, tmp_path):
    configure(demo, tmp_path)
    body = setup_request(extrinsics={"UserEmail": "p@acme.example", "UserRole": "Purchaser"})
    assert status(client.post("/cxml", data=body).data)[0] == 200
    assert user(demo, "p@acme.example").roles == ["buyer"]
    assert call(client, email="a@acme.example", ROLE="Approver").status_code == 302
    assert user(demo, "a@acme.example").roles == ["approver"]
    assert "role.mapped" in kinds(demo)


def test_role_extrinsics_are_configurable(client, demo, tmp_path):
    configure(demo, tmp_path, extra="")
    text = demo_buyers_with(ROLES).replace(
        'unknown_roles = "create"', 'unknown_roles = "create"\nrole_extrinsics = ["SRMRole"]', 1
    )
    write_buyers(demo, tmp_path, text)
    body = setup_request(
        extrinsics={"UserEmail": "s@acme.example", "SRMRole": "Purchaser", "UserRole": "Approver"}
    )
    assert status(client.post("/cxml", data=body).data)[0] == 200
    assert user(demo, "s@acme.example").roles == ["buyer"]


@pytest.mark.parametrize("protocol", ["cxml", "oci"])
def test_unknown_role_created_with_least_privilege(client, demo, tmp_path, protocol):
    configure(demo, tmp_path)
    if protocol == "cxml":
        token = open_session(
            client, extrinsics={"UserEmail": "n@acme.example", "UserRole": "Controller"}
        )
    else:
        token = session_token(call(client, email="n@acme.example", ROLE="Controller"))
    assert user(demo, "n@acme.example").roles == ["Controller"]
    with demo.db.transaction() as db:
        created = db.get(Buyer, "acme").settings["created_roles"]
    assert created["Controller"] == {"categories": [], "show_prices": False, "max_order_value": "0"}
    page = client.get(f"/shop/?session={token}")
    assert b"0 products" in page.data and b"Price in your requisition" not in page.data
    assert "role.created" in kinds(demo)


@pytest.mark.parametrize("protocol", ["cxml", "oci"])
def test_unknown_role_gets_the_default(client, demo, tmp_path, protocol):
    configure(demo, tmp_path, unknown="default")
    if protocol == "cxml":
        open_session(client, extrinsics={"UserEmail": "d@acme.example", "UserRole": "Odd"})
    else:
        session_token(call(client, email="d@acme.example", ROLE="Odd"))
    assert user(demo, "d@acme.example").roles == ["requester"]


def test_unknown_role_rejected(client, demo, tmp_path):
    configure(demo, tmp_path, unknown="reject")
    body = setup_request(extrinsics={"UserEmail": "r@acme.example", "UserRole": "Odd"})
    code, text = status(client.post("/cxml", data=body).data)
    assert code == 401 and "role 'Odd' of user r@acme.example is not known" in text
    r = call(client, email="r@acme.example", ROLE="Odd")
    assert r.status_code == 401 and b"role &#39;Odd&#39;" in r.data


# --- permissions ---------------------------------------------------------------------


def test_categories_limit_what_a_role_sees_and_buys(client, demo, tmp_path):
    configure(demo, tmp_path)
    token = open_session(client)  # jane: default role requester -> Safety, Office
    page = client.get(f"/shop/?session={token}&q=drill")
    assert b"0 products" in page.data
    assert client.get(f"/shop/product/NW-3001?session={token}").status_code == 404
    r = client.post("/api/v1/punchout/cart/items", json={"sku": "NW-3001"}, headers=bearer(token))
    assert r.status_code == 404 and "not available to your role" in r.json["error"]
    assert (
        client.post(
            "/api/v1/punchout/cart/items", json={"sku": "NW-2001"}, headers=bearer(token)
        ).status_code
        == 200
    )
    nav = client.get(f"/shop/?session={token}").data
    assert b">Safety<" in nav and b">Power tools<" not in nav


def test_prices_hidden_for_a_role(client, demo, tmp_path, dtd):
    configure(demo, tmp_path)
    with demo.db.transaction() as db:
        db.add(User(buyer_id="acme", email="v@acme.example", roles=["viewer"]))
    token = open_session(client, extrinsics={"UserEmail": "v@acme.example"})
    page = client.get(f"/shop/?session={token}").data
    assert b"Price in your requisition" in page and b"10.95 USD" not in page
    cart = client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-2001", "quantity": 2}, headers=bearer(token)
    ).json
    assert cart["items"][0]["unit_price"] is None and cart["prices_hidden"] is True
    # The procurement system still gets the price: it needs it for the requisition.
    _, fields = transfer_form(
        client.post("/api/v1/punchout/transfer", data={"session": token}).data
    )
    assert b'<Money currency="USD">10.95</Money>' in decoded_cart(fields)


def _order_from_cart(client, token, qty: int):
    add_items(client, token, [("NW-2001", qty)])
    ((_, aux, _),) = transfer_lines(client, token)
    return order_request([{"sku": "NW-2001", "qty": str(qty), "price": "10.95", "aux": aux}])


@pytest.mark.parametrize("hold, expected", [(False, "received"), (True, "pending")])
def test_orders_over_the_role_limit(client, demo, tmp_path, hold, expected):
    configure(demo, tmp_path, hold=hold)
    token = open_session(client)  # requester: limit 100.00
    body = _order_from_cart(client, token, 10)  # 109.50
    assert status(client.post("/cxml", data=body).data)[0] == 200
    with demo.db.transaction() as db:
        order = db.scalars(select(Order)).one()
        outbox = db.scalars(select(OutboxMessage)).all()
    assert order.status == expected
    assert [f["kind"] for f in order.details["flags"]] == ["over_role_limit"]
    assert len(outbox) == (0 if hold else 1)
    assert ("order.held" if hold else "order.mismatch") in kinds(demo)


def test_orders_within_the_limit_are_not_flagged(client, demo, tmp_path):
    configure(demo, tmp_path, hold=True)
    token = open_session(client)
    assert status(client.post("/cxml", data=_order_from_cart(client, token, 2)).data)[0] == 200
    with demo.db.transaction() as db:
        order = db.scalars(select(Order)).one()
    assert order.status == "received" and order.details["flags"] == []


def test_role_config_errors_name_the_key(demo, tmp_path):
    from provisioning.buyers import ConfigError

    with pytest.raises(ConfigError, match="unknown key 'buyer.roles.requester.colour'"):
        write_buyers(demo, tmp_path, demo_buyers_with('[buyer.roles.requester]\ncolour = "red"'))
    with pytest.raises(ConfigError, match="max_order_value must be an amount"):
        write_buyers(
            demo, tmp_path, demo_buyers_with('[buyer.roles.requester]\nmax_order_value = "lots"')
        )
