"""Credentials: strength, reuse, Argon2id, rotation with an overlap window, key rotation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from gateway.cli import main
from gateway.models import BuyerCredential, Event, utcnow
from provisioning.buyers import ConfigError
from tests.conftest import SECRET_KEY, write_buyers
from tests.documents import setup_request, status
from tests.test_oci_endpoint import call

HEAD = """
[supplier]
name = "S"
[[supplier.credential]]
domain = "NetworkID"
identity = "AN01000000099"
"""


def buyer(
    id="acme",
    secret="demo-acme-shared-secret-2026",
    oci="demo-acme-oci-password",
    from_id="AN01000000001",
    extra="",
) -> str:
    return f"""
[[buyer]]
id = "{id}"
name = "{id.title()}"
return_url_prefixes = ["http://127.0.0.1:9000/punchout/"]
[[buyer.cxml.from]]
domain = "NetworkID"
identity = "{from_id}"
[[buyer.cxml.sender]]
domain = "NetworkID"
identity = "{from_id}"
shared_secret = "{secret}"
[buyer.oci]
username = "{id}_srm"
password = "{oci}"
{extra}
"""


def load(gateway, tmp_path, text):
    return write_buyers(gateway, tmp_path, HEAD + text)


@pytest.mark.parametrize(
    "text, words",
    [
        (
            buyer(secret="short-secret"),
            "buyer.cxml.sender[0].shared_secret is too short (12 characters; at least 16)",
        ),
        (buyer(oci="pass1234"), "buyer.oci.password is too short (8 characters; at least 12)"),
        (
            buyer() + buyer(id="beta", from_id="AN02"),
            "buyer 'beta': buyer.cxml.sender[0].shared_secret is the same secret buyer 'acme' uses",
        ),
    ],
)
def test_weak_or_reused_secrets_are_refused(gateway, tmp_path, text, words):
    with pytest.raises(ConfigError) as info:
        load(gateway, tmp_path, text)
    assert words in str(info.value)
    assert "short-secret" not in str(info.value).split("is too short")[0]
    assert "demo-acme-shared-secret-2026" not in str(info.value)


def test_reuse_against_the_database(gateway, tmp_path):
    load(gateway, tmp_path, buyer())
    with pytest.raises(ConfigError, match="same secret buyer 'acme' uses"):
        load(gateway, tmp_path, buyer(id="beta", from_id="AN02", oci="beta-oci-password-2026"))


def test_weak_secrets_only_with_the_explicit_escape_hatch(gateway, tmp_path):
    load(gateway, tmp_path, buyer(secret="short", extra="[buyer.credentials]\nallow_weak = true"))


def test_oci_password_is_argon2id_and_upgraded(client, demo):
    with demo.db.transaction() as db:
        row = db.scalars(
            select(BuyerCredential).where(
                BuyerCredential.buyer_id == "acme", BuyerCredential.kind == "oci"
            )
        ).one()
        assert row.secret_hash.startswith("$argon2id$")
        assert row.fingerprint and "demo-acme-oci-password" not in row.secret_hash
        row.secret_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(
            "demo-acme-oci-password"
        )
    assert call(client).status_code == 302
    with demo.db.transaction() as db:
        row = db.scalars(
            select(BuyerCredential).where(
                BuyerCredential.buyer_id == "acme", BuyerCredential.kind == "oci"
            )
        ).one()
    assert "m=19456,t=2,p=1" in row.secret_hash and row.last_used_at is not None


def test_changed_secret_overlaps_then_expires(client, gateway, tmp_path):
    load(gateway, tmp_path, buyer(secret="old-shared-secret-0001"))
    load(gateway, tmp_path, buyer(secret="new-shared-secret-0002"))
    load(gateway, tmp_path, buyer(secret="new-shared-secret-0002"))  # idempotent
    old = setup_request(secret="old-shared-secret-0001", return_url=None)
    new = setup_request(secret="new-shared-secret-0002", return_url=None)
    assert status(client.post("/cxml", data=old).data)[0] == 200
    assert status(client.post("/cxml", data=new).data)[0] == 200
    with gateway.db.transaction() as db:
        which = [
            e.data["which"]
            for e in db.scalars(select(Event).where(Event.kind == "auth.ok").order_by(Event.id))
        ]
        rows = db.scalars(select(BuyerCredential).where(BuyerCredential.kind == "sender")).all()
    assert which[0].startswith("previous (valid until") and which[1] == "current"
    assert sorted(r.valid_until is None for r in rows) == [False, True]
    deadline = next(r.valid_until for r in rows if r.valid_until)
    assert timedelta(days=6, hours=23) < deadline - utcnow() <= timedelta(days=7)
    with gateway.db.transaction() as db:  # the deadline passes
        db.execute(
            update(BuyerCredential)
            .where(BuyerCredential.valid_until.is_not(None))
            .values(valid_until=utcnow() - timedelta(minutes=1))
        )
    code, text = status(client.post("/cxml", data=old).data)
    assert code == 401 and "replaced secret that stopped working" in text
    assert status(client.post("/cxml", data=new).data)[0] == 200


def test_stale_report_lists_buyers_still_on_the_old_secret(
    client, gateway, tmp_path, monkeypatch, database_url
):
    load(gateway, tmp_path, buyer(secret="old-shared-secret-0001"))
    load(gateway, tmp_path, buyer(secret="new-shared-secret-0002"))
    client.post("/cxml", data=setup_request(secret="old-shared-secret-0001", return_url=None))
    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", SECRET_KEY)
    out = CliRunner().invoke(main, ["buyers", "credentials", "--stale", "--json"]).output
    [row] = json.loads(out)
    assert row["buyer"] == "acme" and row["state"].startswith("replaced, works until")
    text = CliRunner().invoke(main, ["buyers", "credentials"]).output
    assert "current" in text and "old-shared-secret" not in text


def test_keys_rotate_re_encrypts_under_the_newest_key(gateway, tmp_path, monkeypatch, database_url):
    from provisioning.credentials import SecretBox

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("PUNCHGATE_ENCRYPTION_KEYS", old)
    runner = CliRunner()
    path = tmp_path / "b.toml"
    path.write_text(HEAD + buyer())
    assert runner.invoke(main, ["buyers", "load", str(path)]).exit_code == 0
    monkeypatch.setenv("PUNCHGATE_ENCRYPTION_KEYS", f"{new},{old}")
    out = runner.invoke(main, ["keys", "rotate"]).output
    assert "re-encrypted 1 secret(s)" in out
    with gateway.db.transaction() as db:
        token = db.scalars(
            select(BuyerCredential.secret_encrypted).where(
                BuyerCredential.secret_encrypted.is_not(None)
            )
        ).one()
    assert SecretBox(SECRET_KEY, (new,)).decrypt(token) == "demo-acme-shared-secret-2026"
    assert SecretBox(SECRET_KEY, (old,)).decrypt(token) is None
