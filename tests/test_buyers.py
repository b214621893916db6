"""punchgate buyers load: validation names the buyer and the key; secrets never stored in clear."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.models import Buyer, BuyerCredential
from provisioning.buyers import ConfigError, parse_config, url_allowed
from tests.conftest import DEMO, write_buyers

HEAD = """
[supplier]
name = "S"
[[supplier.credential]]
domain = "NetworkID"
identity = "SUP"
"""


def buyer(
    extra: str = "",
    id: str = "acme",
    cxml: str = "",
    top: str = "",
    from_id: str = "",
    sender: str = 'shared_secret = "a-long-enough-shared-secret"',
) -> str:
    """One buyer; ``top``, ``cxml`` and ``extra`` add keys to [[buyer]], [buyer.cxml] and the end."""
    return (
        HEAD
        + f"""
[[buyer]]
id = "{id}"
name = "ACME"
{top}
return_url_prefixes = ["https://acme.example/punchout/"]
[buyer.cxml]
{cxml}
[[buyer.cxml.from]]
domain = "NetworkID"
identity = "{from_id or "AN-" + id}"
[[buyer.cxml.sender]]
domain = "NetworkID"
identity = "AN-{id}"
{sender}
"""
        + extra
    )


def second_buyer(**kw) -> str:
    return buyer(id="other", **kw).replace(HEAD, "")


@pytest.mark.parametrize(
    "text, words",
    [
        (buyer(cxml="versoin = '1.2.069'"), "buyer 'acme': unknown key 'buyer.cxml.versoin'"),
        (buyer(top='colour = "red"'), "buyer 'acme': unknown key 'buyer.colour'"),
        (
            buyer(sender='shared_secret_env = "NOPE"'),
            "buyer 'acme': buyer.cxml.sender[0].shared_secret_env names the environment "
            "variable 'NOPE'",
        ),
        (
            buyer(sender=""),
            "buyer 'acme': buyer.cxml.sender[0].shared_secret (or shared_secret_env) is missing",
        ),
        (buyer(id="ACME Corp"), "buyer.id must be a lower-case slug"),
        (
            buyer().replace('"https://acme.example/punchout/"', '"acme.example"'),
            "must be an absolute http(s) URL",
        ),
        (buyer() + second_buyer(from_id="AN-acme"), "already the From identity of buyer 'acme'"),
        (HEAD.replace('name = "S"', ""), "supplier.name is missing"),
        ("not = [valid", "not valid TOML"),
        (buyer("[buyer.provisioning]\nunknown_roles = 'maybe'\n"), "unknown_roles must be"),
        (buyer(cxml="form_encoding = 'zip'"), "form_encoding must be"),
        (
            buyer(cxml="version = '2.0'"),
            "buyer.cxml.version must be a cXML version the gateway emits",
        ),
    ],
)
def test_errors_name_buyer_and_key(text, words):
    with pytest.raises(ConfigError) as info:
        parse_config(text, env={})
    assert words in str(info.value)
    assert "a-long-enough-shared-secret" not in str(info.value)


def test_load_is_idempotent_and_stores_no_clear_secret(gateway, tmp_path):
    assert write_buyers(gateway, tmp_path, buyer()) == ["acme"]
    assert write_buyers(gateway, tmp_path, buyer()) == ["acme"]
    with gateway.db.transaction() as db:
        assert len(list(db.scalars(select(Buyer)))) == 1
        creds = list(db.scalars(select(BuyerCredential)))
    assert sorted(c.kind for c in creds) == ["from", "sender"]
    sender = next(c for c in creds if c.kind == "sender")
    assert sender.secret_hash.startswith("hmac-sha256$")
    assert "a-long-enough-shared-secret" not in sender.secret_hash
    assert "a-long-enough-shared-secret" not in sender.secret_encrypted
    assert gateway.box.decrypt(sender.secret_encrypted) == "a-long-enough-shared-secret"


def test_from_identity_owned_by_another_buyer_in_the_database(gateway, tmp_path):
    write_buyers(gateway, tmp_path, buyer())
    clash = buyer(id="other").replace('identity = "AN-other"', 'identity = "an-ACME"', 1)
    with pytest.raises(ConfigError, match="already belongs to buyer 'acme'"):
        write_buyers(gateway, tmp_path, clash)


def test_failed_load_changes_nothing(gateway, tmp_path):
    write_buyers(gateway, tmp_path, buyer())
    broken = buyer() + second_buyer().replace('name = "ACME"', 'name = ""')
    with pytest.raises(ConfigError):
        write_buyers(gateway, tmp_path, broken)
    with gateway.db.transaction() as db:
        assert [b.id for b in db.scalars(select(Buyer))] == ["acme"]


def test_demo_file_loads():
    supplier, specs = parse_config((DEMO / "buyers.toml").read_text(), env={})
    assert [s.id for s in specs] == ["acme", "globex", "initech"]


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("https://acme.example/punchout/return?x=1", True),
        ("https://ACME.example/punchout/cart", True),
        ("https://acme.example.evil.com/punchout/", False),
        ("https://acme.example/other", False),
        ("http://acme.example/punchout/", False),
        ("https://user:pw@acme.example/punchout/", False),
        ("javascript:alert(1)", False),
        ("https://acme.example:8443/punchout/", False),
        ("https://acme.example:443/punchout/cart", True),
        ("HTTPS://ACME.EXAMPLE./punchout/cart", True),
        ("https://acme.example/punchout/a/../cart", True),
        ("https://acme.example/punchout/../../elsewhere", False),
        ("https://acme.example/punchout/%2e%2e/elsewhere", False),
        ("https://acme.example/punchout/%2E%2e/%2e%2E/elsewhere", False),
        ("https://acme.example/punchout%2f..%2f..%2felsewhere", False),
        ("https://acme.example/punchout/..%5celsewhere", False),
        ("https://acme.example/punchout/.", True),
        ("https://acme.example/punchout/..", False),
        ("https://acme.example/punchout\\..\\elsewhere", False),
        ("https://acme.example/punchout/\r\nSet-Cookie: x=1", False),
        ("https://acme.example/punchout/ cart", False),
        ("https://acme.example:99999/punchout/", False),
        ("data:text/html,<script>alert(1)</script>", False),
    ],
)
def test_return_url_allowlist(url, allowed):
    assert url_allowed(url, ["https://acme.example/punchout/"]) is allowed
