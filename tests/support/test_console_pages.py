"""The console's phone pages: requests, orders, the search box, buyers, users, audit log."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from gateway.models import AuditEntry, Order, User
from tests.documents import order_request, setup_request, status
from tests.helpers import ADMIN_PASSWORD, csrf, open_session, sign_in, transferred_cart


def admin(client):
    sign_in(client, "admin@supplier.example", ADMIN_PASSWORD)


def refused_punchout(client, email="caller@acme.example", cookie="refused-cookie"):
    body = setup_request(
        secret="not-the-acme-secret",
        cookie=cookie,
        extrinsics={"UserEmail": email, "UserFullName": "Cal Ler"},
    )
    r = client.post("/cxml", data=body, headers={"X-Request-Id": f"req-{cookie}"})
    assert status(r.data)[0] == 401


def flagged_order(client, order_id="PO-FLAGGED-1"):
    ((_, aux, _),) = transferred_cart(client, [("NW-1001", 3)])
    body = order_request(
        [{"sku": "NW-1001", "qty": "5", "price": "12.90", "aux": aux}], order_id=order_id
    )
    assert status(client.post("/cxml", data=body).data)[0] == 200


def test_a_refused_punchout_is_found_by_email_and_explained(client, agents):
    refused_punchout(client)
    sign_in(client)
    page = client.get("/support/requests?failed=1&q=Caller@acme.example").get_data(as_text=True)
    assert "caller@acme.example" in page and "PunchOutSetupRequest" in page
    request_pk = re.search(r"/support/requests/(\d+)", page).group(1)
    detail = client.get(f"/support/requests/{request_pk}").get_data(as_text=True)
    assert "refused" in detail and "cXML Status 401" in detail
    assert "req-refused-cookie" in detail and "NetworkID/AN01000000001" in detail
    assert "[redacted]" in detail and "not-the-acme-secret" not in detail
    assert "auth.failed" in detail  # the timeline: what the gateway logged then
    assert "No session or order." in detail


def test_request_filters_by_buyer_type_and_time(client, agents):
    open_session(client)
    refused_punchout(client)
    client.get("/oci/acme?USERNAME=x&PASSWORD=y&HOOK_URL=http://127.0.0.1:9000/r")
    sign_in(client)
    failed = client.get("/support/requests?failed=1").get_data(as_text=True)
    assert failed.count("/support/requests/") == 2
    oci = client.get("/support/requests?channel=oci&buyer=acme").get_data(as_text=True)
    assert oci.count("/support/requests/") == 1 and "OCI call" in oci
    setups = client.get("/support/requests?type=PunchOutSetupRequest&since=1h").get_data(
        as_text=True
    )
    assert setups.count("/support/requests/") == 2
    assert "No requests match" in client.get("/support/requests?until=2020-01-01").get_data(
        as_text=True
    )
    assert "No requests match" in client.get("/support/requests?buyer=globex").get_data(
        as_text=True
    )


def test_an_accepted_request_leads_to_its_session(client, agents):
    open_session(client)
    sign_in(client)
    page = client.get("/support/requests").get_data(as_text=True)
    request_pk = re.search(r"/support/requests/(\d+)", page).group(1)
    detail = client.get(f"/support/requests/{request_pk}").get_data(as_text=True)
    assert re.search(r"/support/sessions/\d+", detail) and "session.created" in detail


@pytest.mark.parametrize(
    "path, code, words",
    [
        ("/support/requests?q=a%00b", 400, "NUL byte"),
        ("/support/requests?before=99999999999999999999", 400, "whole number"),
        ("/support/requests?before=-1", 400, "whole number"),
        ("/support/requests?since=yesterday-ish", 400, "neither a duration"),
        ("/support/requests?channel=ftp", 400, "channel must be one of"),
        ("/support/requests?buyer=nobody", 404, "No buyer"),
        ("/support/requests?q=" + "x" * 400, 400, "longer than"),
        ("/support/requests/99999999999", 404, "Back to the console"),
        ("/support/requests/123456", 404, "No request 123456"),
        ("/support/requests/abc", 404, "Not Found"),
        ("/support/orders?status=lost", 400, "state must be one of"),
        ("/support/orders?after=zz", 400, "not a page cursor"),
        ("/support/orders/99999999999", 404, "Back to the console"),
        ("/support/sessions/99999999999", 404, "Back to the console"),
        ("/support/buyers/nobody", 404, "No buyer"),
        ("/support/buyers/a%00b", 404, "Nothing is called that"),
        ("/support/search?q=%00", 400, "NUL byte"),
        ("/support/no-such-page", 404, "Not Found"),
    ],
)
def test_bad_input_is_a_console_page_with_the_way_back(client, agents, path, code, words):
    sign_in(client)
    r = client.get(path)
    page = r.get_data(as_text=True)
    assert r.status_code == code and words in page
    assert "Back to the console" in page and "Punchgate support" in page


def test_orders_flagged_first_and_searched_by_po_and_email(client, agents):
    flagged_order(client)
    ((_, aux, price),) = transferred_cart(
        client, [("NW-1001", 1)], extrinsics={"UserEmail": "pat@acme.example"}
    )
    body = order_request(
        [{"sku": "NW-1001", "qty": "1", "price": price, "aux": aux}], order_id="PO-CLEAN-2"
    )
    assert status(client.post("/cxml", data=body).data)[0] == 200
    sign_in(client)
    page = client.get("/support/orders").get_data(as_text=True)
    assert page.index("PO-FLAGGED-1") < page.index("PO-CLEAN-2")  # older, but flagged
    only = client.get("/support/orders?flagged=1").get_data(as_text=True)
    assert "PO-FLAGGED-1" in only and "PO-CLEAN-2" not in only
    by_email = client.get("/support/orders?q=pat@acme.example").get_data(as_text=True)
    assert "PO-CLEAN-2" in by_email and "PO-FLAGGED-1" not in by_email
    by_po = client.get("/support/orders?q=PO-FLAGGED-1").get_data(as_text=True)
    order_pk = re.search(r"/support/orders/(\d+)", by_po).group(1)
    journey = client.get(f"/support/orders/{order_pk}").get_data(as_text=True)
    assert "NW-1001" in journey and "matched" in journey and "Journey" in journey


def test_orders_page_keyset_paging_crosses_from_flagged_to_the_rest(client, agents):
    from gateway.support import orders as order_search

    with agents.db.transaction() as db:
        for n in range(7):
            db.add(
                Order(
                    buyer_id="acme",
                    order_id=f"PO-P-{n}",
                    payload_id=f"p-{n}",
                    body_sha256="0" * 64,
                    details={"flags": [{"kind": "x"}]} if n % 3 == 0 else {},
                )
            )
    with agents.db.transaction() as db:
        seen, cursor = [], None
        while True:
            rows, cursor = order_search.list_orders(
                db, order_search.OrderFilter(cursor=cursor), limit=2
            )
            seen += [(o.flagged, o.order_id) for o in rows]
            if cursor is None:
                break
    assert [s[1] for s in seen] == [
        "PO-P-6",
        "PO-P-3",
        "PO-P-0",
        "PO-P-5",
        "PO-P-4",
        "PO-P-2",
        "PO-P-1",
    ]


def test_one_search_box_for_any_identifier(client, agents):
    flagged_order(client, "PO-4500012345")
    refused_punchout(client, cookie="cookie-on-the-phone")
    sign_in(client)
    r = client.get("/support/search?q=PO-4500012345")
    assert r.status_code == 302 and "/support/orders/" in r.headers["Location"]
    r = client.get("/support/search?q=req-cookie-on-the-phone")
    assert r.status_code == 302 and "/support/requests/" in r.headers["Location"]
    r = client.get("/support/search?q=cookie-1")  # the BuyerCookie of the flagged order's cart
    assert r.status_code == 302 and "/support/sessions/" in r.headers["Location"]
    r = client.get("/support/search?q=caller@acme.example")  # refused: no user, one request
    assert r.status_code == 302 and "/support/requests/" in r.headers["Location"]
    page = client.get("/support/search?q=jane.doe@acme.example").get_data(as_text=True)
    assert "<h2>Users</h2>" in page and "<h2>Requests</h2>" in page and "answered" in page
    r = client.get("/support/search?q=acme")
    assert r.status_code == 302 and r.headers["Location"].endswith("/support/buyers/acme")
    assert "Nothing matches" in client.get("/support/search?q=nothing-here").get_data(as_text=True)


def test_output_is_escaped(client, agents):
    refused_punchout(client, email="<script>alert(1)</script>@acme.example", cookie="esc")
    sign_in(client)
    page = client.get("/support/requests").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_buyer_page_without_secrets_and_the_adoption_report(client, agents):
    flagged_order(client)
    refused_punchout(client)
    sign_in(client)
    page = client.get("/support/buyers/acme").get_data(as_text=True)
    for words in (
        "ACME Corp",
        "Credentials",
        "AN01000000001",
        "Back-offs",
        "jane.doe@acme.example",
    ):
        assert words in page
    assert "Recent failures" in page and "401" in page
    report = client.get("/support/buyers/acme/adoption").get_data(as_text=True)
    month = re.search(r"<td>(\d{4}-\d\d)</td>", report).group(1)
    assert "100.00 USD" in report and "100.0%" in report  # spend; every order an exception
    csv = client.get("/support/buyers/acme/adoption.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    header, first = csv.get_data(as_text=True).splitlines()[:2]
    assert header.startswith("month,currency,spend_via_punchout,active_users,orders")
    assert first.startswith(f"{month},USD,100.00,1,1,1,1,1.000")


def test_users_added_disabled_re_enabled_and_given_roles(client, agents, tmp_path):
    sign_in(client)
    token = csrf(client, "/support/buyers/acme")
    r = client.post(
        "/support/buyers/acme/users",
        data={"csrf_token": token, "email": "New.Colleague@acme.example", "roles": ["requester"]},
    )
    assert r.status_code == 302
    with agents.db.transaction() as db:
        user = db.scalar(select(User).where(User.email == "new.colleague@acme.example"))
        user_id = user.id
    assert user.roles == ["requester"]
    again = client.post(
        "/support/buyers/acme/users",
        data={"csrf_token": token, "email": "new.colleague@acme.example"},
    )
    assert again.status_code == 409 and "already a user" in again.get_data(as_text=True)
    # An agent may not disable or change roles; an administrator may.
    disable = f"/support/buyers/acme/users/{user_id}/disable"
    assert client.post(disable, data={"csrf_token": token}).status_code == 403
    assert client.post(disable).status_code == 400  # no CSRF token
    client.post("/support/logout", data={"csrf_token": token})
    admin(client)
    token = csrf(client, "/support/buyers/acme")
    assert client.post(disable, data={"csrf_token": token}).status_code == 302
    extrinsics = {"UserEmail": "new.colleague@acme.example"}
    refused = client.post("/cxml", data=setup_request(extrinsics=extrinsics))
    assert status(refused.data)[0] == 401 and b"disabled" in refused.data
    roles = f"/support/buyers/acme/users/{user_id}/roles"
    bad = client.post(roles, data={"csrf_token": token, "roles": ["<b>boss</b>"]})
    assert bad.status_code == 400 and "&lt;b&gt;boss" in bad.get_data(as_text=True)
    client.post(f"/support/buyers/acme/users/{user_id}/enable", data={"csrf_token": token})
    assert status(client.post("/cxml", data=setup_request(extrinsics=extrinsics)).data)[0] == 200
    assert (
        client.post(
            f"/support/buyers/globex/users/{user_id}/enable", data={"csrf_token": token}
        ).status_code
        == 404
    )
    with agents.db.transaction() as db:
        actions = [a.action for a in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    for action in (
        "user.add",
        "user.add_refused",
        "user.disable",
        "user.roles_refused",
        "user.enable",
    ):
        assert action in actions


def test_audit_log_is_for_administrators_and_filterable(client, agents):
    sign_in(client)
    # Filters named like the audit call's own parameters are just filters.
    assert client.get("/support/?action=x&target=y").status_code == 200
    client.get("/support/orders")
    assert client.get("/support/audit").status_code == 403
    client.post("/support/logout", data={"csrf_token": csrf(client, "/support/")})
    admin(client)
    page = client.get("/support/audit?agent=agent@supplier.example").get_data(as_text=True)
    assert "orders.list" in page and "admin@supplier.example" not in page.split("<tbody>")[1]
    page = client.get("/support/audit?action=sign_in").get_data(as_text=True)
    assert "orders.list" not in page.split("<tbody>")[1]
    assert "sign_in" in page
