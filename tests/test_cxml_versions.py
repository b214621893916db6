"""Every cXML version buyers send is read; answers are in the version the buyer uses."""

from __future__ import annotations

import re

import pytest

from gateway.cxml import versions
from gateway.xml import parse
from tests.conftest import requires_shared
from tests.documents import order_request, setup_request, status
from tests.helpers import decoded_cart, transfer_form

pytestmark = requires_shared


def with_declaration(doc: bytes, doctype: str | None, attribute: str | None) -> bytes:
    doc = re.sub(rb"<!DOCTYPE[^>]*>", doctype.encode() if doctype else b"", doc, count=1)
    value = f' version="{attribute}"'.encode() if attribute else b""
    return re.sub(rb'\sversion="1\.2\.069"', value, doc, count=1)


def system_id(version: str, host: str = "http://xml.cxml.org") -> str:
    return f'<!DOCTYPE cXML SYSTEM "{host}/schemas/cXML/{version}/cXML.dtd">'


CASES = [
    # (doctype, version attribute, the version the answer must be in)
    (None, "1.0", versions.DEFAULT),
    (None, "1.1.010", versions.DEFAULT),
    (system_id("1.1.010", "http://xml.cXML.org"), None, versions.DEFAULT),
    (None, "1.2.008", versions.DEFAULT),
    (system_id("1.2.014", "HTTPS://XML.CXML.ORG"), None, "1.2.014"),
    (system_id("1.2.020", "https://xml.cxml.org"), "1.2.020", "1.2.020"),
    (system_id("1.2.036"), "1.2.029", "1.2.036"),  # the DOCTYPE names the DTD followed
    (system_id("1.2.037"), None, versions.DEFAULT),  # no cXML.dtd of 1.2.037 to validate by
    (None, "1.2.050", "1.2.050"),
    (None, "1.2.063", "1.2.063"),
    (system_id("1.2.069"), "1.2.069", "1.2.069"),
    (None, None, versions.DEFAULT),  # neither
]


def answer_version(body: bytes) -> str:
    doc = parse(body)
    assert doc.system_url.endswith(f"/{doc.root.get('version')}/cXML.dtd")
    return doc.root.get("version")


@pytest.mark.parametrize("doctype, attribute, expected", CASES)
def test_setup_in_every_version(client, demo, dtd, doctype, attribute, expected):
    body = with_declaration(setup_request(), doctype, attribute)
    r = client.post("/cxml", data=body, content_type="text/xml")
    code, text = status(r.data)
    assert code == 200, text
    assert answer_version(r.data) == expected
    assert dtd.validate(r.data) == []
    start = client.get(r.data.split(b"<URL>")[1].split(b"</URL>")[0].decode().split("test", 1)[1])
    token = start.headers["Location"].split("session=")[1].split("&")[0]
    client.post(
        "/api/v1/punchout/cart/items",
        json={"sku": "NW-1001", "quantity": 1},
        headers={"Authorization": f"Bearer {token}"},
    )
    _, fields = transfer_form(
        client.post("/api/v1/punchout/transfer", data={"session": token}).data
    )
    cart = decoded_cart(fields)
    assert answer_version(cart) == expected
    assert dtd.validate(cart) == []


@pytest.mark.parametrize("doctype, attribute, expected", CASES[:6])
def test_refusals_are_in_the_request_version(client, demo, dtd, doctype, attribute, expected):
    body = with_declaration(setup_request(secret="wrong-secret-for-acme-1"), doctype, attribute)
    r = client.post("/cxml", data=body, content_type="text/xml")
    assert status(r.data)[0] == 401
    assert answer_version(r.data) == expected and dtd.validate(r.data) == []


def test_buyer_configuration_wins(client, demo, dtd):
    """Globex is configured for 1.2.014: its answers are 1.2.014 whatever it declares."""
    from tests.documents import credential

    body = setup_request(
        from_=("DUNS", "123456789"),
        sender_xml=credential("DUNS", "123456789", "demo-globex-shared-secret-26"),
        return_url="http://127.0.0.1:9000/coupa/return",
    )
    r = client.post("/cxml", data=body)
    assert status(r.data)[0] == 401 or answer_version(r.data) == "1.2.014"


def test_unknown_version_is_406_naming_it(client, demo):
    body = with_declaration(setup_request(), None, "3.0")
    code, text = status(client.post("/cxml", data=body).data)
    assert code == 406 and "'3.0'" in text


def test_order_in_an_old_version(client, demo, dtd):
    body = with_declaration(
        order_request([{"sku": "NW-1001", "qty": "1", "price": "12.90"}]), None, "1.1.010"
    )
    r = client.post("/cxml", data=body)
    assert status(r.data)[0] == 200
    assert dtd.validate(r.data) == []


def test_answer_version_rule():
    assert versions.answer_version("1.2.014", "1.2.069", "1.2.069") == "1.2.014"
    assert versions.answer_version(None, "1.2.036", "1.2.069") == "1.2.036"
    assert versions.answer_version("1.2.014", None, "1.2.069", "Fulfill.dtd") == "1.2.050"
    assert versions.answer_version(None, "1.2.063", "1.2.069", "InvoiceDetail.dtd") == "1.2.069"
    assert versions.answer_version(None, "1.2.029", "1.2.069") == "1.2.069"
    assert versions.declared("HTTPS://xml.CXML.org/schemas/cXML/1.2.050/cXML.dtd", "1.2.1") == (
        "1.2.050"
    )
    assert versions.declared(None, None) is None
