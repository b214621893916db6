"""POST /cxml over HTTP: one test per Status outcome, and what each one leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from gateway import create_app
from gateway.config import Settings
from gateway.cxml.credentials import credential_mac
from gateway.models import Event, PunchoutSession, User
from tests.conftest import SECRET_KEY, write_buyers
from tests.documents import (
    ACME_FROM,
    ACME_SECRET,
    credential,
    envelope,
    setup_request,
    start_path,
    status,
)
from tests.test_xml import ATTACKS


def post(client, body: bytes):
    return client.post("/cxml", data=body, content_type="text/xml")


def count(gateway, model) -> int:
    with gateway.db.transaction() as db:
        return db.scalar(select(func.count()).select_from(model))


def events(gateway, kind=None) -> list[Event]:
    with gateway.db.transaction() as db:
        stmt = select(Event).order_by(Event.id)
        if kind:
            stmt = stmt.where(Event.kind == kind)
        return list(db.scalars(stmt))


def test_setup_request_200_with_start_page(client, demo, dtd):
    r = post(client, setup_request())
    assert r.status_code == 200
    assert r.content_type.startswith("text/xml")
    assert status(r.data) == (200, "OK")
    assert dtd.validate(r.data) == []
    assert start_path(r.data).startswith("/punchout/start/")
    assert count(demo, PunchoutSession) == 1
    kinds = [e.kind for e in events(demo)]
    assert kinds[:2] == ["document.in", "auth.ok"]
    assert "user.created" in kinds and "session.created" in kinds and kinds[-1] == "document.out"


def test_profile_request_lists_transactions(client, demo, dtd):
    r = post(client, envelope("<ProfileRequest/>"))
    assert status(r.data)[0] == 200
    assert dtd.validate(r.data) == []
    assert b'requestName="PunchOutSetupRequest"' in r.data
    assert b"<URL>http://gateway.test/cxml</URL>" in r.data


@pytest.mark.parametrize("body", [b"", b"hello", b"<cXML><unclosed></cXML>", b"<Order/>"])
def test_not_well_formed_or_not_cxml_400(client, demo, body):
    r = post(client, body)
    code, text = status(r.data)
    assert code == 400 and text.startswith("Bad Request")
    assert count(demo, PunchoutSession) == 0
    assert [e.kind for e in events(demo)] == ["document.rejected"]


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_documents_400_and_only_a_rejection_event(client, demo, name):
    r = post(client, ATTACKS[name])
    assert status(r.data)[0] == 400
    stored = events(demo)
    assert [e.kind for e in stored] == ["document.rejected"]
    # Nothing of a refused document is kept, only the reason.
    assert stored[0].document is None or name == "undeclared entity reference"
    assert count(demo, PunchoutSession) == 0


def test_oversized_body_400_without_reading_it(settings, database_url):
    small = Settings(**{**settings.__dict__, "max_document_bytes": 2048})
    app = create_app(small)
    client = app.test_client()
    r = client.post("/cxml", data=b"<cXML>" + b"x" * 5000 + b"</cXML>", content_type="text/xml")
    code, text = status(r.data)
    assert code == 400 and "over the limit of 2048 bytes" in text
    app.extensions["punchgate"].db.dispose()


def test_unknown_sender_secret_401_leaks_nothing(client, demo):
    r = post(client, setup_request(secret="wrong-secret"))
    code, text = status(r.data)
    assert code == 401
    assert "SharedSecret does not match" in text
    assert ACME_SECRET not in r.data.decode()
    assert count(demo, PunchoutSession) == 0
    failed = events(demo, "auth.failed")
    assert len(failed) == 1 and failed[0].buyer_id == "acme"
    assert "wrong-secret" not in (failed[0].document or "")


def test_unknown_from_401(client, demo):
    r = post(client, setup_request(from_=("NetworkID", "AN-NOBODY")))
    code, text = status(r.data)
    assert code == 401 and "AN-NOBODY is not a buyer known" in text


def test_any_sender_credential_may_authenticate(client, demo):
    sender = credential("AribaNetworkUserId", "sysadmin@ariba.com", "whatever") + credential(
        "networkid", "an01000000001", ACME_SECRET
    )
    r = post(client, setup_request(sender_xml=sender))
    assert status(r.data)[0] == 200


def test_missing_secret_401(client, demo):
    r = post(client, setup_request(sender_xml=credential(*ACME_FROM)))
    code, text = status(r.data)
    assert code == 401 and "carries no SharedSecret or CredentialMac" in text


def _mac_sender(secret: str, expires: datetime) -> str:
    created = (expires - timedelta(hours=1)).isoformat(timespec="seconds")
    expiry = expires.isoformat(timespec="seconds")
    value = credential_mac(secret, *ACME_FROM, *ACME_FROM, created, expiry)
    mac = (
        f'<CredentialMac type="FromSenderCredentials" algorithm="HMAC-SHA1-96" '
        f'creationDate="{created}" expirationDate="{expiry}">{value}</CredentialMac>'
    )
    return credential(*ACME_FROM, None, mac=mac)


def test_credential_mac_accepted(client, demo):
    sender = _mac_sender(ACME_SECRET, datetime.now(UTC) + timedelta(hours=1))
    r = post(client, setup_request(sender_xml=sender))
    assert status(r.data)[0] == 200
    assert events(demo, "auth.ok")[0].data["method"] == "CredentialMac"


def test_credential_mac_expired_or_wrong_401(client, demo):
    expired = _mac_sender(ACME_SECRET, datetime.now(UTC) - timedelta(minutes=1))
    code, text = status(post(client, setup_request(sender_xml=expired)).data)
    assert code == 401 and "expired" in text
    wrong = _mac_sender("not-the-secret", datetime.now(UTC) + timedelta(hours=1))
    code, text = status(post(client, setup_request(sender_xml=wrong)).data)
    assert code == 401 and "CredentialMac does not match" in text


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/punchout/return",
        "http://127.0.0.1:9000.evil.example/punchout/return",
        "http://127.0.0.1:9000/elsewhere",
        "javascript:alert(1)",
    ],
)
def test_return_url_outside_allowlist_400(client, demo, url):
    code, text = status(post(client, setup_request(return_url=url)).data)
    assert code == 400
    assert "not among the return URLs allowed for buyer 'acme'" in text
    assert count(demo, PunchoutSession) == 0


def test_incomplete_request_406(client, demo):
    raw = setup_request().replace(b"<BuyerCookie>cookie-1</BuyerCookie>", b"")
    code, text = status(post(client, raw).data)
    assert code == 406 and "BuyerCookie is missing" in text
    assert count(demo, PunchoutSession) == 0
    assert count(demo, User) == 0  # nothing half-stored


def test_unsupported_request_450(client, demo):
    code, text = status(post(client, envelope('<GarbageRequest foo="bar"/>')).data)
    assert code == 450 and "GarbageRequest is not supported" in text


def test_message_documents_are_not_requests_450(client, demo):
    code, _ = status(post(client, envelope("<PunchOutOrderMessage/>", kind="Message")).data)
    assert code == 450


def test_database_down_500_retryable(settings):
    # A real, unreachable database: nothing listens on port 9 of loopback.
    down = Settings(
        **{**settings.__dict__, "database_url": "postgresql+psycopg://postgres@127.0.0.1:9/none"}
    )
    app = create_app(down)
    r = app.test_client().post("/cxml", data=setup_request(), content_type="text/xml")
    assert r.status_code == 500
    code, text = status(r.data)
    assert code == 500 and "retry" in text
    assert b"Traceback" not in r.data


def test_user_not_allowed_401_names_the_user(client, demo, tmp_path):
    globex = setup_request(
        from_=("DUNS", "123456789"),
        sender=("DUNS", "123456789"),
        secret="demo-globex-shared-secret-26",
        return_url="http://127.0.0.1:9000/coupa/x",
        extrinsics={"UserEmail": "new.person@globex.example"},
    )
    code, text = status(post(client, globex).data)
    assert code == 401
    assert "new.person@globex.example is not registered" in text
    assert count(demo, User) == 0


def test_users_are_created_once_and_kept_up_to_date(client, demo):
    post(client, setup_request())
    post(
        client,
        setup_request(
            extrinsics={"UserEmail": "JANE.DOE@acme.example", "UserFullName": "Jane Q. Doe"}
        ),
    )
    with demo.db.transaction() as db:
        users = list(db.scalars(select(User)))
    assert len(users) == 1
    assert users[0].name == "Jane Q. Doe"
    assert [e.kind for e in events(demo) if e.kind.startswith("user.")] == [
        "user.created",
        "user.updated",
    ]


def test_shared_technical_login_still_gives_distinct_users(client, demo):
    for email in ("a@acme.example", "b@acme.example"):
        post(client, setup_request(extrinsics={"UserEmail": email, "UniqueName": "techuser"}))
    assert count(demo, User) == 2


def test_secret_from_environment(gateway, tmp_path, client):
    write_buyers(
        gateway,
        tmp_path,
        """
        [supplier]
        name = "S"
        [[supplier.credential]]
        domain = "NetworkID"
        identity = "SUP"
        [[buyer]]
        id = "envbuyer"
        name = "Env Buyer"
        return_url_prefixes = ["http://127.0.0.1:9000/punchout/"]
        [[buyer.cxml.from]]
        domain = "NetworkID"
        identity = "AN01000000001"
        [[buyer.cxml.sender]]
        domain = "NetworkID"
        identity = "AN01000000001"
        shared_secret_env = "ACME_SECRET"
    """,
        env={"ACME_SECRET": "from-the-environment-123"},
    )
    assert status(post(client, setup_request(secret="from-the-environment-123")).data)[0] == 200


def test_secret_key_is_what_hashes_depend_on(settings, demo):
    other = Settings(**{**settings.__dict__, "secret_key": SECRET_KEY + "-rotated"})
    app = create_app(other)
    code, _ = status(app.test_client().post("/cxml", data=setup_request()).data)
    assert code == 401  # hashes are keyed: a different server key verifies nothing
    app.extensions["punchgate"].db.dispose()


def test_repeated_sender_failures_back_off(client, demo):
    from gateway.models import AuthThrottle

    for _ in range(5):
        assert status(post(client, setup_request(secret="guessing-the-secret")).data)[0] == 401
    code, text = status(post(client, setup_request()).data)
    assert code == 401 and "too many failed attempts for Sender NetworkID/AN01000000001" in text
    assert [e.kind for e in events(demo, "auth.locked")] == ["auth.locked"]
    assert events(demo, "auth.throttled")
    with demo.db.transaction() as db:
        row = db.get(AuthThrottle, "cxml:networkid/an01000000001")
        assert row.failures == 5
        row.locked_until = row.first_failure_at  # the lock runs out
    assert status(post(client, setup_request()).data)[0] == 200
    with demo.db.transaction() as db:
        assert db.get(AuthThrottle, "cxml:networkid/an01000000001") is None
