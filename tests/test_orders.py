"""OrderRequest intake over HTTP: durable, exactly once, matched to its punchout."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from gateway import outbox
from gateway.models import Attachment, MarketplaceOrder, Order, OutboxMessage, PunchoutSession
from gateway.oci.items import parse_form_html, parse_new_item_fields
from tests.conftest import INTEROP, demo_buyers_with, requires_shared, write_buyers
from tests.documents import order_request, status
from tests.helpers import bearer, transferred_cart
from tests.test_interop import buyer_config_for

# Expected answers, with a buyer configured from each document's own credentials.
ORDERS = {
    "cxml-php/OrderRequest.xml": 200,
    "cxml-ruby/order_request.xml": 200,
    # Coupa's sample carries no SharedSecret ("if no shared secret is specified, Coupa
    # passes none"): an unauthenticated order is refused.
    "cxml-ruby/purchase_order_request_200.xml": 401,
}


def post(client, body: bytes, **kw):
    return client.post("/cxml", data=body, content_type=kw.pop("content_type", "text/xml"), **kw)


def count(gateway, model) -> int:
    with gateway.db.transaction() as db:
        return db.scalar(select(func.count()).select_from(model))


def orders(gateway) -> list[Order]:
    with gateway.db.transaction() as db:
        found = list(db.scalars(select(Order).order_by(Order.id)))
        for o in found:
            _ = o.lines, o.attachments
        return found


@requires_shared
@pytest.mark.parametrize("name", sorted(ORDERS))
def test_interop_orders(client, gateway, tmp_path, name):
    raw = (INTEROP / "cxml" / name).read_bytes()
    config = buyer_config_for(raw)
    if "[[buyer.cxml.sender]]" not in config:
        config += (
            '[[buyer.cxml.sender]]\ndomain = "duns"\nidentity = "dell"\n'
            'shared_secret = "configured-but-never-sent"\n'
        )
    write_buyers(gateway, tmp_path, config)
    code, text = status(post(client, raw).data)
    assert code == ORDERS[name], text
    if code != 200:
        assert "carries no SharedSecret" in text and orders(gateway) == []
        return
    [order] = orders(gateway)
    assert order.status == "received" and len(order.lines) >= 2
    assert count(gateway, OutboxMessage) == 1


def test_order_without_lines_406(client, demo):
    body = order_request([]).replace(b"</OrderRequest>", b"</OrderRequest>")
    code, text = status(post(client, body).data)
    assert code == 406 and "has no ItemOut" in text
    assert count(demo, Order) == 0


@pytest.mark.parametrize(
    "lines, header, words",
    [
        (
            [{"sku": "NW-1", "qty": "x", "price": "1"}],
            "",
            "line 1: @quantity 'x' is not a number",
        ),
        (
            [{"sku": "NW-1", "qty": "1", "price": "abc"}],
            "",
            "line 1: UnitPrice/Money 'abc' is not a number",
        ),
    ],
)
def test_invalid_orders_name_the_element(client, demo, lines, header, words):
    code, text = status(post(client, order_request(lines)).data)
    assert code == 406 and words in text
    assert count(demo, Order) == 0 and count(demo, OutboxMessage) == 0


def test_duplicates_answer_the_original_status(client, demo):
    body = order_request([{"sku": "NW-1001", "qty": "1", "price": "12.90"}], payload_id="po-1")
    assert status(post(client, body).data)[0] == 200
    assert status(post(client, body).data)[0] == 200  # retried by the buyer
    other_payload = order_request(
        [{"sku": "NW-1001", "qty": "1", "price": "12.90"}], payload_id="po-2"
    )
    assert status(post(client, other_payload).data)[0] == 200  # same orderID + version
    assert count(demo, Order) == 1 and count(demo, OutboxMessage) == 1


def test_same_payload_id_different_body_409(client, demo):
    post(
        client, order_request([{"sku": "NW-1001", "qty": "1", "price": "12.90"}], payload_id="po-9")
    )
    changed = order_request([{"sku": "NW-1001", "qty": "5", "price": "12.90"}], payload_id="po-9")
    code, text = status(post(client, changed).data)
    assert code == 409 and "already used by a different document" in text
    assert count(demo, Order) == 1


def test_concurrent_duplicates_make_one_order(app, demo):
    body = order_request([{"sku": "NW-1001", "qty": "1", "price": "12.90"}], payload_id="po-race")
    answers = []

    def send():
        answers.append(status(app.test_client().post("/cxml", data=body).data)[0])

    threads = [threading.Thread(target=send) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 10
    assert count(demo, Order) == 1 and count(demo, OutboxMessage) == 1


def test_update_and_delete(client, demo):
    line = [{"sku": "NW-1001", "qty": "1", "price": "12.90"}]
    code, text = status(
        post(client, order_request(line, order_id="PO-X", kind="update", version=2)).data
    )
    assert code == 409 and "is not known here" in text
    post(client, order_request(line, order_id="PO-X"))
    assert (
        status(post(client, order_request(line, order_id="PO-X", kind="update", version=2)).data)[0]
        == 200
    )
    assert (
        status(post(client, order_request(line, order_id="PO-X", kind="delete", version=3)).data)[0]
        == 200
    )
    code, text = status(
        post(client, order_request(line, order_id="PO-X", kind="update", version=4)).data
    )
    assert code == 409 and "was deleted" in text
    assert [(o.type, o.version) for o in orders(demo)] == [("new", 1), ("update", 2), ("delete", 3)]


def test_order_is_matched_to_its_cart(client, demo):
    cart = transferred_cart(client, [("NW-1001", 3), ("NW-3001", 1)])
    lines = [
        {"sku": sku, "qty": q, "price": price, "aux": aux}
        for (sku, aux, price), q in zip(cart, ("3", "1"), strict=True)
    ]
    assert status(post(client, order_request(lines)).data)[0] == 200
    [order] = orders(demo)
    assert order.session_id is not None
    assert [line.cart_line_id is not None for line in order.lines] == [True, True]
    assert order.details["flags"] == []
    with demo.db.transaction() as db:
        assert db.get(PunchoutSession, order.session_id).status == "ordered"


def test_differences_are_flagged(client, demo):
    ((sku, aux, _),) = transferred_cart(client, [("NW-1001", 3)])
    body = order_request([{"sku": sku, "qty": "5", "price": "11.00", "aux": aux}])
    assert status(post(client, body).data)[0] == 200  # accept_and_flag is the default
    [order] = orders(demo)
    kinds = sorted(f["kind"] for f in order.details["flags"])
    assert kinds == ["price_vs_cart", "price_vs_contract", "quantity_vs_cart"]
    assert order.status == "received"


def test_reject_policy(client, demo, tmp_path):
    toml = demo_buyers_with('[buyer.orders]\nmismatch_policy = "reject"')
    write_buyers(demo, tmp_path, toml)
    ((sku, aux, _),) = transferred_cart(client, [("NW-1001", 3)])
    body = order_request([{"sku": sku, "qty": "3", "price": "99.00", "aux": aux}])
    code, text = status(post(client, body).data)
    assert code == 406 and "differs from the punchout cart or contract" in text
    [order] = orders(demo)
    assert order.status == "rejected" and count(demo, OutboxMessage) == 0
    assert status(post(client, body).data)[0] == 406  # the original answer, again


def test_oci_cart_matched_by_ext_product_id(client, demo):
    from tests.test_oci_endpoint import call, session_token

    token = session_token(call(client))
    client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-2001", "quantity": 2}, headers=bearer(token)
    )
    page = client.post("/api/v1/punchout/transfer", data={"session": token})
    _, pairs = parse_form_html(page.data)
    [item] = parse_new_item_fields(pairs)
    body = order_request(
        [{"sku": item["VENDORMAT"], "qty": "2", "price": "10.95", "aux": item["EXT_PRODUCT_ID"]}]
    )
    assert status(post(client, body).data)[0] == 200
    [order] = orders(demo)
    assert order.lines[0].cart_line_id is not None and order.details["flags"] == []


def test_pcard_number_is_never_stored(client, demo):
    header = (
        '<Payment><PCard number="4111111111111111" expiration="2027-09-30" name="J Doe"/></Payment>'
    )
    body = order_request([{"sku": "NW-1001", "qty": "1", "price": "12.90"}], extra_header=header)
    assert status(post(client, body).data)[0] == 200
    [order] = orders(demo)
    assert order.details["payment"] == {
        "type": "PCard",
        "last4": "1111",
        "expiration": "2027-09-30",
        "name": "J Doe",
    }
    with demo.db.transaction() as db:
        from gateway.models import Event

        blobs = [str(e.data) + (e.document or "") for e in db.scalars(select(Event))]
        blobs += [o.payload for o in db.scalars(select(OutboxMessage))]
    assert not any("4111111111111111" in b for b in blobs)


def test_multipart_related_attachments(client, demo):
    header = (
        "<Comments>see drawing<Attachment><URL>cid:drawing-1@buyer.test</URL>"
        "</Attachment></Comments>"
    )
    xml = order_request([{"sku": "NW-1001", "qty": "1", "price": "12.90"}], extra_header=header)
    boundary = "kRFUXNbbVaeAnG"
    body = (
        (
            f"--{boundary}\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-ID: <order@buyer.test>\r\n\r\n"
        ).encode()
        + xml
        + (
            f"\r\n--{boundary}\r\nContent-Type: application/pdf\r\nContent-ID: <drawing-1@buyer.test>\r\n"
            f"Content-Disposition: attachment; filename=drawing.pdf\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--{boundary}--\r\n"
        ).encode()
    )
    ctype = f'multipart/related; boundary="{boundary}"; type="text/xml"; start="<order@buyer.test>"'
    r = client.post("/cxml", data=body, content_type=ctype)
    assert status(r.data)[0] == 200
    [order] = orders(demo)
    [attachment] = order.attachments
    assert (attachment.content_id, attachment.filename, attachment.data) == (
        "drawing-1@buyer.test",
        "drawing.pdf",
        b"%PDF-1.4\n",
    )
    missing = order_request(
        [{"sku": "NW-1001", "qty": "1", "price": "12.90"}],
        order_id="PO-1002",
        extra_header=header.replace("drawing-1", "drawing-2"),
    )
    code, text = status(post(client, missing).data)
    assert code == 406 and "cid:drawing-2@buyer.test is referenced but not in the message" in text
    broken = client.post("/cxml", data=b"garbage", content_type="multipart/related; boundary=x")
    assert status(broken.data)[0] == 400
    assert count(demo, Attachment) == 1


def test_embedded_marketplace_takes_each_order_once(client, demo):
    post(client, order_request([{"sku": "NW-1001", "qty": "1", "price": "12.90"}]))
    assert outbox.run_once(demo).sent == 1
    assert outbox.run_once(demo).sent == 0
    [order] = orders(demo)
    assert order.status == "accepted"
    assert count(demo, MarketplaceOrder) == 1
