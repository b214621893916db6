"""The request log: every inbound request recorded, refused ones included, never failing."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from gateway.models import Event, InboundRequest, utcnow
from gateway.support import requests as request_log
from tests.documents import ACME_SECRET, order_request, setup_request, status
from tests.helpers import bearer, open_session
from tests.test_credential_sync import CXML_CHANGE, NEW_SECRET, signed
from tests.test_oci_endpoint import call


def logged(gateway) -> list[InboundRequest]:
    with gateway.db.transaction() as db:
        return list(db.scalars(select(InboundRequest).order_by(InboundRequest.id)))


def test_a_refused_punchout_is_recorded_with_who_and_why(client, demo):
    body = setup_request(
        secret="not-the-acme-secret",
        extrinsics={"UserEmail": "Caller@Acme.example", "UserFullName": "Cal Ler"},
    )
    r = client.post("/cxml", data=body, headers={"X-Request-Id": "req-refused-1"})
    assert status(r.data)[0] == 401
    (row,) = logged(demo)
    assert (row.request_id, row.channel, row.buyer_id) == ("req-refused-1", "cxml", "acme")
    assert (row.sender, row.user_email) == ("NetworkID/AN01000000001", "caller@acme.example")
    assert (row.doc_type, row.http_status, row.cxml_code, row.failed) == (
        "PunchOutSetupRequest",
        200,
        401,
        True,
    )
    assert "401" in row.reason and row.size == len(body) and row.session_id is None
    assert "[redacted]" in row.document and "not-the-acme-secret" not in row.document
    assert row.payload_id and row.payload_id in row.document


def test_an_accepted_punchout_names_its_session(client, demo):
    open_session(client)
    setup = logged(demo)[0]
    assert (setup.cxml_code, setup.failed, setup.buyer_id) == (200, False, "acme")
    assert setup.session_id is not None and len(setup.request_id) == 32
    assert ACME_SECRET not in setup.document and "[redacted]" in setup.document


def test_policy_refusals_keep_no_document(client, demo):
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE cXML [<!ENTITY a "aaaa">]>'
        b"<cXML payloadID='x' timestamp='t'><Header/></cXML>"
    )
    assert status(client.post("/cxml", data=bomb).data)[0] == 400
    (row,) = logged(demo)
    assert row.failed and row.document is None and "refused" in row.reason


def test_oci_calls_mask_the_password(client, demo):
    call(client, PASSWORD="wrong-oci-password-9")
    call(client, buyer="nobody")
    refused, unknown = logged(demo)
    # The login sent is not kept (a token login sends its secret as the user name).
    assert (refused.channel, refused.buyer_id, refused.sender) == ("oci", "acme", None)
    assert refused.http_status == 401 and refused.failed and "login failed" in refused.reason
    assert refused.user_email == "max.muster@acme.example" and refused.doc_type == "OCI call"
    assert "PASSWORD=[redacted]" in refused.document
    assert "wrong-oci-password-9" not in refused.document
    assert (unknown.buyer_id, unknown.sender, unknown.http_status) == (None, "nobody", 404)


def test_session_api_calls_carry_buyer_and_session(client, demo):
    token = open_session(client)
    client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-1001", "quantity": 2}, headers=bearer(token)
    )
    client.post("/api/v1/punchout/cart/items", json={"sku": "NOPE"}, headers=bearer("forged"))
    added, forged = logged(demo)[-2:]
    assert (added.channel, added.doc_type, added.buyer_id) == ("session_api", "add_item", "acme")
    assert added.session_id is not None and not added.failed
    assert '"sku": "NW-1001"' in added.document and token not in added.document
    assert forged.failed and forged.buyer_id is None and forged.http_status in (401, 404)


def test_sync_and_webhook_requests_are_recorded_without_secrets(client, demo):
    assert signed(client, CXML_CHANGE).status_code == 200
    assert signed(client, CXML_CHANGE, secret="wrong-wrong-wrong").status_code == 401
    ok, refused = logged(demo)
    assert (ok.channel, ok.doc_type, ok.buyer_id, ok.failed) == (
        "sync_api",
        "credentials.sync",
        "acme",
        False,
    )
    assert NEW_SECRET not in ok.document and '"new_secret": "[redacted]"' in ok.document
    assert refused.failed and "signature" in refused.reason
    client.post("/api/v1/marketplace/events", data=b"{}")
    hook = logged(demo)[-1]
    assert hook.channel == "marketplace" and hook.failed and hook.http_status >= 400


def test_other_routes_are_not_recorded(client, demo):
    client.get("/healthz")
    client.get("/shop/")
    assert logged(demo) == []


def test_a_failing_log_never_changes_the_answer(client, demo, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(request_log, "save", broken)
    with caplog.at_level(logging.ERROR):
        r = client.post(
            "/cxml", data=order_request([{"sku": "NW-1001", "qty": "1", "price": "14.90"}])
        )
    assert r.status_code == 200 and status(r.data)[0] == 200
    assert "could not record POST /cxml in the request log" in caplog.text
    assert logged(demo) == []


def test_the_id_an_answer_carries_finds_its_row_and_events(client, demo):
    # A buyer's support quotes the X-Request-Id of the answer it got; its system sent
    # none, or one too short to be kept. Row, events and header must name the same id.
    for sent in ({}, {"X-Request-Id": "abc"}):
        r = client.post("/cxml", data=setup_request(cookie=f"c-{len(sent)}"), headers=sent)
        assert status(r.data)[0] == 200
        quoted = r.headers["X-Request-Id"]
        assert quoted != "abc"
        row = logged(demo)[-1]
        assert row.request_id == quoted
        with demo.db.transaction() as db:
            ids = set(
                db.scalars(select(Event.request_id).where(Event.session_id == row.session_id))
            )
        assert ids == {quoted}


def test_unusable_request_ids_are_replaced(client, demo):
    client.post("/cxml", data=b"<x/>", headers={"X-Request-Id": "bad id\x7f" + "x" * 200})
    (row,) = logged(demo)
    assert len(row.request_id) == 32 and " " not in row.request_id


def test_purge_clears_old_documents_then_old_rows(client, demo):
    for _ in range(3):
        client.post("/cxml", data=b"<x/>")
    now = utcnow()
    with demo.db.transaction() as db:
        rows = list(db.scalars(select(InboundRequest).order_by(InboundRequest.id)))
        rows[0].at, rows[1].at = now - timedelta(days=200), now - timedelta(days=40)
    with demo.db.transaction() as db:
        assert request_log.purge(db, document_days=30, metadata_days=180) == (1, 1)
    left = logged(demo)
    assert len(left) == 2
    assert left[0].document is None and left[0].reason  # metadata kept
    assert left[1].document is not None
    with demo.db.transaction() as db:
        assert request_log.purge(db) == (0, 0)


def test_nul_bytes_anywhere_are_recorded_not_lost(client, demo):
    client.get("/oci/acme?USERNAME=a%00b&PASSWORD=x&HOOK_URL=http://127.0.0.1:9000/r%00")
    client.post("/cxml", data=b"<cXML>\x00</cXML>")
    oci, cxml = logged(demo)
    assert oci.failed and "\\x00" in oci.document and "\x00" not in oci.document
    assert cxml.failed and cxml.cxml_code == 400 and "\x00" not in (cxml.document or "")
