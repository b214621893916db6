"""The session log keeps every step, and never a secret."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.models import BuyerCredential, Event
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
