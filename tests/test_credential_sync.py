"""POST /api/v1/buyers/<id>/credentials: signed, replay-protected, with an overlap window."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from provisioning.sync import signature
from tests.conftest import remember_secret
from tests.documents import ACME_SECRET, setup_request, status
from tests.test_oci_endpoint import call

NEW_SECRET = "acme-next-shared-secret-2027"
for _value in (NEW_SECRET, "acme-third-shared-secret-2028", "acme-oci-password-2027"):
    remember_secret(_value)


def signed(
    client,
    body: dict,
    secret: str = ACME_SECRET,
    nonce: str | None = None,
    timestamp: str | None = None,
    buyer: str = "acme",
):
    raw = json.dumps(body).encode()
    ts = timestamp or str(int(time.time()))
    nonce = nonce or secrets.token_hex(12)
    return client.post(
        f"/api/v1/buyers/{buyer}/credentials",
        data=raw,
        headers={
            "Content-Type": "application/json",
            "X-Punchgate-Credential": "NetworkID/AN01000000001",
            "X-Punchgate-Timestamp": ts,
            "X-Punchgate-Nonce": nonce,
            "X-Punchgate-Signature": signature(secret, ts, nonce, raw),
        },
    )


CXML_CHANGE = {
    "kind": "cxml",
    "domain": "NetworkID",
    "identity": "AN01000000001",
    "new_secret": NEW_SECRET,
    "overlap_days": 3,
}


def test_next_secret_with_overlap(client, demo):
    r = signed(client, CXML_CHANGE)
    assert r.status_code == 200 and r.json["previous_valid_until"]
    assert NEW_SECRET not in r.get_data(as_text=True)
    assert status(client.post("/cxml", data=setup_request(secret=ACME_SECRET)).data)[0] == 200
    assert status(client.post("/cxml", data=setup_request(secret=NEW_SECRET)).data)[0] == 200
    # The next change is signed with the new secret; the old one no longer signs for it.
    again = dict(CXML_CHANGE, new_secret="acme-third-shared-secret-2028")
    assert signed(client, again, secret=NEW_SECRET).status_code == 200


def test_replayed_request_is_refused(client, demo):
    nonce = "once-only-nonce"
    assert signed(client, CXML_CHANGE, nonce=nonce).status_code == 200
    replay = signed(client, CXML_CHANGE, nonce=nonce)
    assert replay.status_code == 409 and "already received" in replay.json["error"]


@pytest.mark.parametrize(
    "kwargs, code, words",
    [
        ({"secret": "not-the-current-secret"}, 401, "signature does not match"),
        ({"timestamp": str(int(time.time()) - 3600)}, 401, "five-minute window"),
        ({"buyer": "nobody"}, 404, "no buyer"),
    ],
)
def test_refused_requests(client, demo, kwargs, code, words):
    r = signed(client, CXML_CHANGE, **kwargs)
    assert r.status_code == code and words in r.json["error"]


def test_weak_or_reused_new_secrets(client, demo):
    weak = signed(client, dict(CXML_CHANGE, new_secret="short"))
    assert weak.status_code == 400 and "new_secret is too short" in weak.json["error"]
    reused = signed(client, dict(CXML_CHANGE, new_secret="demo-globex-shared-secret-26"))
    assert reused.status_code == 400 and "new_secret cannot be used" in reused.json["error"]
    assert "globex" not in reused.json["error"]  # never an oracle for other buyers' secrets


def test_refused_changes_count_towards_the_back_off(client, demo):
    for _ in range(5):
        guess = signed(client, dict(CXML_CHANGE, new_secret="demo-globex-shared-secret-26"))
        assert guess.status_code == 400
    assert signed(client, CXML_CHANGE).status_code == 429


@pytest.mark.parametrize(
    "change, field",
    [
        ({"identity": ["AN01000000001"]}, "identity"),
        ({"domain": None}, "domain"),
        ({"new_secret": "acme-next-\x00-secret-2027"}, "new_secret"),
        ({"overlap_days": True}, "overlap_days"),
    ],
)
def test_wrong_types_are_a_400_naming_the_field(client, demo, change, field):
    r = signed(client, {**CXML_CHANGE, **change})
    assert r.status_code == 400 and field in r.json["error"]


@pytest.mark.parametrize("timestamp", ["9" * 400, "１２３", "-1"])
def test_a_timestamp_that_is_not_unix_seconds_is_a_400(client, demo, timestamp):
    r = signed(client, CXML_CHANGE, timestamp=timestamp)
    assert r.status_code == 400 and "unix seconds" in r.json["error"]


def test_repeated_bad_signatures_back_off(client, demo):
    for _ in range(5):
        assert signed(client, CXML_CHANGE, secret="wrong-wrong-wrong").status_code == 401
    assert signed(client, CXML_CHANGE).status_code == 429


def test_oci_password_sync(client, demo):
    change = {"kind": "oci", "username": "acme_srm", "new_password": "acme-oci-password-2027"}
    assert signed(client, change).status_code == 200
    assert call(client).status_code == 302  # the old password, inside its window
    assert call(client, PASSWORD="acme-oci-password-2027").status_code == 302
    unknown = signed(client, dict(change, username="someone"))
    assert unknown.status_code == 400 and "is not an OCI login of buyer" in unknown.json["error"]
