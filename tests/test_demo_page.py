"""/demo/received/<buyer>: the demo buyers' return page, served only in demo mode."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from gateway import create_app
from tests.conftest import requires_shared
from tests.helpers import add_items, open_session, transfer_form


@pytest.fixture
def demo_client(settings, demo):
    app = create_app(dataclasses.replace(settings, demo=True))
    yield app.test_client()
    app.extensions["punchgate"].db.dispose()


@requires_shared
def test_a_transferred_cart_is_shown_as_the_procurement_system_received_it(client, demo_client):
    token = open_session(client, return_url="http://127.0.0.1:8000/demo/received/acme/cart")
    add_items(client, token, [("NW-1001", 2)])
    page = client.post("/api/v1/punchout/transfer", data={"session": token})
    action, fields = transfer_form(page.data)
    assert action == "http://127.0.0.1:8000/demo/received/acme/cart"
    shown = demo_client.post("/demo/received/acme/cart", data=fields)
    assert shown.status_code == 200
    text = shown.get_data(as_text=True)
    assert "What the procurement system received" in text and "NW-1001" in text
    assert "Valid against the DTD it declares" in text
    assert "&lt;PunchOutOrderMessage" in text  # the document, escaped


def test_garbage_is_a_clear_400_and_the_page_exists_only_in_demo_mode(client, demo_client):
    bad = base64.b64encode(b"<cXML><unclosed>").decode()
    r = demo_client.post("/demo/received/acme/cart", data={"cxml-base64": bad})
    assert r.status_code == 400 and "could not be read" in r.get_data(as_text=True)
    assert demo_client.get("/demo/received/acme/").status_code == 200
    assert client.post("/demo/received/acme/cart", data={"cxml-base64": bad}).status_code == 404
