"""The per-process caches (gateway/cache.py): another instance's change is honoured.

Two gateways (two processes in production) share one database. Each caches buyers
and credentials, and OCI logins it verified recently; a secret or password replaced
or revoked through one must stop working on the other from its next request once
the overlap has ended.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text, update

from gateway import create_app
from gateway.models import BuyerCredential, utcnow
from tests.conftest import remember_secret
from tests.documents import setup_request, status
from tests.test_credentials import buyer, load
from tests.test_oci_endpoint import call

OLD, NEW = "old-shared-secret-0001", "new-shared-secret-0002"


@pytest.fixture
def other(settings):
    """A second instance of the gateway on the same database."""
    app = create_app(settings)
    yield app.extensions["punchgate"], app.test_client()
    app.extensions["punchgate"].db.dispose()


def code(client, secret: str) -> tuple[int, str]:
    return status(client.post("/cxml", data=setup_request(secret=secret, return_url=None)).data)


def test_secret_replaced_without_overlap_stops_on_the_other_instance(
    client, gateway, other, tmp_path
):
    other_gateway, other_client = other
    remember_secret(OLD)
    remember_secret(NEW)
    no_overlap = "[buyer.credentials]\noverlap_days = 0\n"
    load(gateway, tmp_path, buyer(secret=OLD, extra=no_overlap))
    assert code(other_client, OLD)[0] == 200  # the other instance now caches OLD
    load(gateway, tmp_path, buyer(secret=NEW, extra=no_overlap))
    refused, why = code(other_client, OLD)
    assert refused == 401 and "replaced secret that stopped working" in why
    assert code(other_client, NEW)[0] == 200


def test_overlap_ending_on_one_instance_is_seen_by_the_other(client, gateway, other, tmp_path):
    other_gateway, other_client = other
    load(gateway, tmp_path, buyer(secret=OLD))
    load(gateway, tmp_path, buyer(secret=NEW))  # OLD keeps working for the overlap
    assert code(other_client, OLD)[0] == 200
    assert code(other_client, NEW)[0] == 200
    with gateway.db.transaction() as db:  # the operator ends the overlap now
        db.execute(
            update(BuyerCredential)
            .where(BuyerCredential.valid_until.is_not(None))
            .values(valid_until=utcnow() - timedelta(seconds=1))
        )
    assert code(other_client, OLD)[0] == 401
    assert code(client, OLD)[0] == 401
    assert code(other_client, NEW)[0] == 200


def test_sender_removed_from_the_configuration(client, gateway, other, tmp_path):
    _, other_client = other
    load(gateway, tmp_path, buyer(secret=OLD))
    assert code(other_client, OLD)[0] == 200
    with gateway.db.transaction() as db:
        db.execute(
            update(BuyerCredential)
            .where(BuyerCredential.kind == "sender")
            .values(identity="someone-else")
        )
    refused, why = code(other_client, OLD)
    assert refused == 401 and "is not configured for this buyer" in why


def test_edits_outside_the_gateway_are_seen_within_max_age(
    client, gateway, other, tmp_path, database_url
):
    other_gateway, other_client = other
    other_gateway.db.config.max_age = 0.5
    load(gateway, tmp_path, buyer(secret=OLD))
    assert code(other_client, OLD)[0] == 200
    # SQL typed by hand: no gateway engine sees it, so no version bump.
    outside = create_engine(database_url)
    with outside.begin() as conn:
        conn.execute(text("UPDATE buyer_credentials SET identity = 'x' WHERE kind = 'sender'"))
    outside.dispose()
    time.sleep(0.6)
    assert code(other_client, OLD)[0] == 401


OLD_PASSWORD, NEW_PASSWORD = "old-oci-password-0001", "new-oci-password-0002"


def test_recently_verified_oci_login_stops_when_the_password_changes(
    client, gateway, other, tmp_path
):
    _, other_client = other
    remember_secret(OLD_PASSWORD)
    remember_secret(NEW_PASSWORD)
    no_overlap = "[buyer.credentials]\noverlap_days = 0\n"
    load(gateway, tmp_path, buyer(oci=OLD_PASSWORD, extra=no_overlap))
    for _ in range(3):  # VALIDATE, BACKGROUND_SEARCH, DETAIL... each carries the password
        assert call(other_client, PASSWORD=OLD_PASSWORD).status_code == 302
    wrong = call(other_client, PASSWORD="not-the-password-at-all")
    assert wrong.status_code == 401
    load(gateway, tmp_path, buyer(oci=NEW_PASSWORD, extra=no_overlap))
    refused = call(other_client, PASSWORD=OLD_PASSWORD)
    assert refused.status_code == 401 and b"replaced password" in refused.data
    assert call(other_client, PASSWORD=NEW_PASSWORD).status_code == 302
    assert call(client, PASSWORD=OLD_PASSWORD).status_code == 401
