"""The journey back to the buyer: confirmation, ship notice, invoice and credit memo,
valid against their DTDs, sent with the buyer's secret through the outbox."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from gateway import outbox
from gateway.cxml.envelope import parse_envelope
from gateway.marketplace import events
from gateway.models import Event, Order, OutboxMessage
from gateway.xml import parse
from tests.conftest import demo_buyers_with, write_buyers
from tests.documents import order_request, status

OUTBOUND_SECRET = "acme-inbound-cxml-secret-2026"


class BuyerEndpoint:
    """The buyer's procurement system receiving our cXML requests."""

    def __init__(self):
        self.documents: list[bytes] = []
        self.answers: list[int] = []  # cXML Status codes to answer with, then 200
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                endpoint.documents.append(self.rfile.read(int(self.headers["Content-Length"])))
                code = endpoint.answers.pop(0) if endpoint.answers else 200
                body = (
                    f'<?xml version="1.0"?><cXML payloadID="r@buyer" timestamp="2026-01-01T00:00:00Z">'
                    f'<Response><Status code="{code}" text="x"/></Response></cXML>'
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cxml/inbound"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def buyer_endpoint():
    endpoint = BuyerEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture
def order(client, demo, tmp_path, buyer_endpoint):
    toml = demo_buyers_with(
        f'[buyer.outbound]\nurl = "{buyer_endpoint.url}"\nshared_secret = "{OUTBOUND_SECRET}"'
    )
    write_buyers(demo, tmp_path, toml)
    body = order_request(
        [
            {"sku": "NW-1001", "qty": "3", "price": "12.90"},
            {"sku": "NW-2002", "qty": "2", "price": "6.75"},
        ],
        order_id="PO-77",
    )
    assert status(client.post("/cxml", data=body).data)[0] == 200
    outbox.run_once(demo)
    with demo.db.transaction() as db:
        return db.scalars(select(Order)).one()


def happen(gateway, order, event_id, kind, **details):
    with gateway.db.transaction() as db:
        events.apply(db, {"event_id": event_id, "type": kind, "order_id": order.id, **details})
    return outbox.run_once(gateway)


def test_whole_journey(demo, order, buyer_endpoint, dtd):
    happen(demo, order, "e1", "confirmed")
    happen(demo, order, "e2", "shipped", carrier="UPS", tracking_number="1Z999AA1")
    happen(demo, order, "e3", "invoiced", invoice_id="INV-2026-001")
    happen(demo, order, "e4", "refunded", invoice_id="CM-2026-001", lines=[2])
    names = []
    for raw in buyer_endpoint.documents:
        assert dtd.validate(raw) == [], raw[:300]
        envelope = parse_envelope(parse(raw))
        names.append(envelope.name)
        assert envelope.sender[0].shared_secret == OUTBOUND_SECRET
        assert [c.identity for c in envelope.to] == ["AN01000000001"]
    assert names == [
        "ConfirmationRequest",
        "ShipNoticeRequest",
        "InvoiceDetailRequest",
        "InvoiceDetailRequest",
    ]
    confirm, ship, invoice, credit = (parse(d).root for d in buyer_endpoint.documents)
    assert confirm.find(".//ConfirmationHeader").get("type") == "accept"
    assert confirm.find(".//OrderReference").get("orderID") == "PO-77"
    assert ship.findtext(".//CarrierIdentifier") == "UPS"
    assert ship.findtext(".//ShipmentIdentifier") == "1Z999AA1"
    assert len(ship.findall(".//ShipNoticeItem")) == 2
    assert invoice.find(".//InvoiceDetailRequestHeader").get("purpose") == "standard"
    assert invoice.findtext(".//InvoiceDetailSummary/NetAmount/Money") == "52.20"
    assert credit.find(".//InvoiceDetailRequestHeader").get("purpose") == "creditMemo"
    assert credit.findtext(".//InvoiceDetailSummary/NetAmount/Money") == "-13.50"
    with demo.db.transaction() as db:
        stored = [m.payload for m in db.scalars(select(OutboxMessage))]
        logged = [f"{e.message}{e.data}{e.document or ''}" for e in db.scalars(select(Event))]
    assert not any(OUTBOUND_SECRET in text for text in stored + logged)


def test_backordered_lines(demo, order, buyer_endpoint, dtd):
    happen(demo, order, "b1", "backordered", lines=[1])
    [raw] = buyer_endpoint.documents
    assert dtd.validate(raw) == []
    items = parse(raw).root.findall(".//ConfirmationItem")
    assert [(i.get("lineNumber"), i.find("ConfirmationStatus").get("type")) for i in items] == [
        ("1", "backordered")
    ]


def test_rejection_carries_the_reason(demo, order, buyer_endpoint):
    happen(demo, order, "r1", "rejected", reason="credit limit exceeded")
    root = parse(buyer_endpoint.documents[0]).root
    assert root.find(".//ConfirmationHeader").get("type") == "reject"
    assert root.findtext(".//ConfirmationHeader/Comments") == "credit limit exceeded"


def test_buyer_5xx_is_retried_and_4xx_is_not(demo, order, buyer_endpoint):
    buyer_endpoint.answers = [500, 200]
    assert happen(demo, order, "x1", "confirmed").retried == 1
    with demo.db.transaction() as db:
        message = db.scalars(select(OutboxMessage).where(OutboxMessage.kind.like("cxml.%"))).one()
        message.next_attempt_at = message.created_at  # due now
    assert outbox.run_once(demo).sent == 1
    buyer_endpoint.answers = [406]
    assert happen(demo, order, "x2", "shipped", carrier="DHL", tracking_number="9").dead == 1
    assert len(buyer_endpoint.documents) == 3


def status_update(reference: str | None, code: int = 200, extra: str = "") -> bytes:
    from tests.documents import envelope

    ref = f'<DocumentReference payloadID="{reference}"/>' if reference else ""
    return envelope(
        f'<StatusUpdateRequest>{ref}<Status code="{code}" text="OK">done</Status>'
        f"{extra}</StatusUpdateRequest>"
    )


def test_status_update_recorded_against_our_document(client, demo, order, buyer_endpoint):
    happen(demo, order, "s1", "confirmed")
    sent = parse(buyer_endpoint.documents[0]).root.get("payloadID")
    code, _ = status(client.post("/cxml", data=status_update(sent, 200)).data)
    assert code == 200
    code, _ = status(client.post("/cxml", data=status_update(order.payload_id, 500)).data)
    assert code == 200
    with demo.db.transaction() as db:
        updates = [
            e
            for e in db.scalars(
                select(Event).where(Event.kind == "status_update").order_by(Event.id)
            )
        ]
    assert [(u.data.get("document", "order"), u.data["code"]) for u in updates] == [
        ("ConfirmationRequest", 200),
        ("order", 500),
    ]
    assert updates[1].level == "warning" and updates[0].session_id == order.session_id


@pytest.mark.parametrize(
    "body, words",
    [
        (status_update("never-sent@x"), "is not a document exchanged with buyer 'acme'"),
        (status_update(None), "DocumentReference is missing"),
    ],
)
def test_bad_status_updates(client, demo, body, words):
    code, text = status(client.post("/cxml", data=body).data)
    assert code == 406 and words in text
