"""The session log keeps every step, and never a secret."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from sqlalchemy import select

from gateway.models import BuyerCredential, Event
from gateway.replay import credentials_from_db, expectation, fill
from gateway.sessions.events import redact_document
from tests.documents import ACME_SECRET, setup_request
from tests.helpers import bearer, open_session


def test_secrets_never_reach_events(client, demo):
    token = open_session(client)
    client.post("/api/v1/punchout/cart/items", json={"sku": "NW-1001"}, headers=bearer(token))
    client.post("/api/v1/punchout/transfer", data={"session": token})
    client.post("/cxml", data=setup_request(secret="Wrong-But-Secret-Guess"))
    client.post("/cxml", data=setup_request().replace(b"<BuyerCookie>cookie-1</BuyerCookie>", b""))
    with demo.db.transaction() as db:
        stored = list(db.scalars(select(Event)))
        hashes = [c.secret_hash or "" for c in db.scalars(select(BuyerCredential))]
    assert sorted(e.kind for e in stored) == sorted(
        [
            "document.in",
            "auth.ok",
            "user.created",
            "session.created",
            "document.out",
            "start",
            "cart.add",
            "transfer",
            "auth.failed",
            "document.rejected",
        ]
    )
    for event in stored:
        blob = f"{event.message} {event.data} {event.document or ''}"
        assert ACME_SECRET not in blob and "Wrong-But-Secret-Guess" not in blob, event.kind
    assert all(ACME_SECRET not in h for h in hashes)


def test_the_stored_setup_answer_keeps_no_start_token(client, demo):
    """A start token logs its holder in until used: support reads the answer without it."""
    answer = client.post("/cxml", data=setup_request()).data.decode()
    token = answer.split("/punchout/start/")[1].split("<")[0]
    with demo.db.transaction() as db:
        [stored] = db.scalars(select(Event.document).where(Event.kind == "document.out"))
    assert token not in stored and "/punchout/start/[redacted]</URL>" in stored
    assert stored.replace("[redacted]", token) == answer  # otherwise the very answer sent


@pytest.mark.parametrize(
    "raw",
    [
        b"<a><SharedSecret>s3cr3t</SharedSecret></a>",
        b"<a><SharedSecret><![CDATA[s3cr3t</x>]]></SharedSecret></a>",
        b"<a><sharedsecret >s3cr3t</sharedsecret></a>",
        b'<a><CredentialMac type="x">s3cr3t</CredentialMac></a>',
        b"<a><SharedSecret>s3cr3t",
    ],
)
def test_redaction(raw):
    assert "s3cr3t" not in redact_document(raw)


@pytest.mark.parametrize(
    "text",
    [
        "<a><SharedSecret>s3cr3t</SharedSecret><ns:SharedSecret a='1'>x</ns:SharedSecret></a>",
        "<a><sharedSECRET >s3cr3t</sharedsecret><credentialmac/><x.y-z:CredentialMac>m"
        "</x.y-z:CredentialMac ></a>",
        "<a><SharedSecretX:SharedSecret>s3cr3t</SharedSecretX:SharedSecret>shared hared</a>",
        "<a><![CDATA[x</SharedSecret>]]><SharedSecret>s3cr3t</a>",
        "<a>\u017fharedSecret <\u017fharedSecret>s3cr3t</\u017fharedSecret></a>",
        "<a>\u0130 <SharedSecret>s3cr3t</SharedSecret> <Shared\u0131Secret>x</a>",
        "<a><PCard number='4111 1111 1111 1234'/><ns:pcard\nnumber = \"5555-4444\">"
        "<PCardX number='1'/></a>",
        "<a>é<!-- SharedSecret --><CredentialMac type='x'>s3cr3t",
    ],
)
def test_redaction_tried_where_names_occur_finds_what_a_full_scan_finds(text, monkeypatch):
    from gateway.sessions import events

    raw = text.encode("utf-8")
    quick = redact_document(raw, secrets=["s3cr3t-value"])
    monkeypatch.setattr(events, "_starts", lambda text, names: None)  # every "<" tried
    assert quick == redact_document(raw, secrets=["s3cr3t-value"])
    assert "s3cr3t" not in quick and "4111" not in quick


def test_card_numbers_are_masked():
    raw = b"""<Payment><PCard name="J" number='4111 1111 1111 1234' expiration="2027-01-31"/></Payment>"""
    assert redact_document(raw) == (
        """<Payment><PCard name="J" number='****1234' expiration="2027-01-31"/></Payment>"""
    )


def test_the_leak_scanner_sees_every_form():
    import base64
    import html
    from urllib.parse import quote_plus

    from tests import conftest

    secret = "scanner self&test <secret> 42"
    conftest.remember_secret(secret)
    before = len(conftest.LEAKS)
    try:
        for text in (
            f"x {secret} y",
            base64.b64encode(secret.encode()).decode(),
            f"a=1&s={quote_plus(secret)}",
            f"<p>{html.escape(secret)}</p>",
            "nothing secret here",
        ):
            conftest.scan("self-test", text)
        found = conftest.LEAKS[before:]
    finally:
        del conftest.LEAKS[before:]
        conftest.SECRETS.discard(secret)
    assert len(found) == 4  # plain, base64, form-encoded, HTML-escaped; not the last


FIXTURES = sorted(
    p
    for p in (Path(__file__).resolve().parent.parent / "fixtures").rglob("*.xml")
    if "sap-oci" not in p.parts and p.with_suffix(".expect.toml").exists()
)
ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "utf-32"]
TRANSPORTS = ["raw", "multipart", "urlencoded", "base64"]


def _send(client, document: bytes, transport: str):
    if transport == "multipart":
        body = (
            b"--B\r\nContent-Type: text/xml\r\nContent-ID: <root>\r\n\r\n"
            + document
            + b"\r\n--B--\r\n"
        )
        return client.post("/cxml", data=body, content_type="multipart/related; boundary=B")
    if transport in ("urlencoded", "base64"):
        value = document if transport == "urlencoded" else base64.b64encode(document)
        body = f"cxml-{transport}=".encode() + quote_plus(value).encode()
        return client.post("/cxml", data=body, content_type="application/x-www-form-urlencoded")
    return client.post("/cxml", data=document, content_type="text/xml")


def test_every_fixture_in_every_encoding_and_transport_stores_no_secret(client, demo):
    """The secret scan over stored rows, for every cXML fixture sent every way a buyer could."""
    sent = 0
    for path in FIXTURES:
        buyer, _ = expectation(path)
        creds = credentials_from_db(demo, buyer or "acme")
        text = fill(path.read_text(encoding="utf-8"), creds)
        for encoding in ENCODINGS:
            declared = text.replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"', 1)
            for transport in TRANSPORTS:
                r = _send(client, declared.encode(encoding), transport)
                assert r.status_code < 500, (path.name, encoding, transport)
                sent += 1
    assert sent == len(FIXTURES) * 16 and len(FIXTURES) >= 20
    with demo.db.transaction() as db:
        stored = [f"{e.message} {e.data} {e.document or ''}" for e in db.scalars(select(Event))]
    secrets_sent = {credentials_from_db(demo, b).shared_secret for b in ("acme", "globex")}
    for row in stored:
        flat = row.replace("\x00", "")
        assert not any(secret in flat for secret in secrets_sent), row[:300]


def test_storable_replaces_nul_at_any_depth_and_keeps_clean_values():
    from gateway.sessions.events import storable

    dirty = {"a\x00": [("x\x00y", 1), {"k": "v\x00"}], "clean": ["\\x00 typed", 2.5, None]}
    assert storable(dirty) == {
        "a\ufffd": [["x\ufffdy", 1], {"k": "v\ufffd"}],
        "clean": ["\\x00 typed", 2.5, None],
    }
    clean = {"nested": [{"deep": ["ä", 1, None]}], "n": 2}
    assert storable(clean) == clean
