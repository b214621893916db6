"""Documents from serializers that dress cXML up parse the same as clean ones."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway.models import Order, PunchoutSession
from tests.documents import order_request, setup_request, status


def dressed(doc: bytes, quirk: str) -> bytes:
    if quirk == "bom-crlf":
        return b"\xef\xbb\xbf" + doc.replace(b"\n", b"\r\n")
    if quirk == "xsi":
        return doc.replace(
            b"<cXML ",
            b'<cXML xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            b'xsi:noNamespaceSchemaLocation="cXML.xsd" ',
            1,
        )
    if quirk == "namespace-prefixes":
        return doc.replace(
            b"<cXML ", b'<cXML xmlns:xml="http://www.w3.org/XML/1998/namespace" xmlns:a="urn:x" ', 1
        )
    if quirk == "comments-and-pis":
        doc = doc.replace(b"<cXML ", b"<!-- exported by ERP -->\n<?erp-export v2?>\n<cXML ", 1)
        doc = doc.replace(b"<Header>", b"<Header><!-- routing --><?route a?>", 1)
        return doc.replace(b"<Identity>", b"<Identity><!-- id -->", 1)
    if quirk == "tabs-in-text":
        doc = doc.replace(b"<Identity>", b"<Identity>\n\t\t", 1).replace(
            b"</Identity>", b"\t\n</Identity>", 1
        )
        return doc.replace(b"<SharedSecret>", b"<SharedSecret>\t ").replace(
            b"</SharedSecret>", b" \t</SharedSecret>"
        )
    if quirk == "default-namespace":
        # .NET's XmlSerializer and some SOAP relays put every element in a namespace.
        return doc.replace(b"<cXML ", b'<cXML xmlns="urn:cxml" ', 1)
    if quirk == "latin1-declared":
        return doc.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"', 1)
    raise AssertionError(quirk)


QUIRKS = [
    "bom-crlf",
    "xsi",
    "namespace-prefixes",
    "comments-and-pis",
    "tabs-in-text",
    "latin1-declared",
    "default-namespace",
]


@pytest.mark.parametrize("quirk", QUIRKS)
def test_setup_request(client, demo, quirk):
    clean = status(client.post("/cxml", data=setup_request(cookie="clean")).data)
    code, text = status(
        client.post("/cxml", data=dressed(setup_request(cookie="dressed"), quirk)).data
    )
    assert (code, text) == clean
    with demo.db.transaction() as db:
        sessions = list(db.scalars(select(PunchoutSession).order_by(PunchoutSession.id)))
        assert [s.buyer_cookie for s in sessions] == ["clean", "dressed"]
        assert sessions[0].user_id == sessions[1].user_id is not None


@pytest.mark.parametrize("quirk", QUIRKS)
def test_order_request(client, demo, quirk):
    body = order_request([{"sku": "NW-1001", "qty": "2", "price": "12.90", "description": "Bolts"}])
    code, text = status(client.post("/cxml", data=dressed(body, quirk)).data)
    assert code == 200, text
    with demo.db.transaction() as db:
        [order] = db.scalars(select(Order))
        assert [(line.sku, line.quantity, line.description) for line in order.lines] == [
            ("NW-1001", Decimal(2), "Bolts")
        ]
