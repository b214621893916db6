"""The buyer file is validated as a whole: every problem at once, with its line."""

from __future__ import annotations

import pytest

from provisioning.buyer_file import ConfigError, check_config, parse_config
from tests.test_buyers import HEAD, buyer

FIVE_MISTAKES = (
    HEAD
    + """
[[buyer]]
id = "acme"
name = "ACME Corp"
return_url_prefixes = []
[buyer.cxml]
version = "1.2.999"
[[buyer.cxml.from]]
domain = "NetworkID"
identity = "AN01000000001"
[[buyer.cxml.sender]]
domain = "NetworkID"
identity = "AN01000000001"
shared_secret_env = "ACME_SHARED_SECRET"

[[buyer]]
id = "initech"
name = "Initech"
return_url_prefixes = ["http://srm.initech.example/sap/"]
[buyer.oci]
username = "INITECH_CAT"
[buyer.provisioning]
unknown_roles = "default"
"""
)


def test_every_mistake_is_reported_at_once_with_its_line():
    config = check_config(FIVE_MISTAKES, env={})
    found = [(p.who, p.key, p.line) for p in config.errors]
    assert found == [
        ("buyer 'acme'", "buyer.return_url_prefixes", 11),
        ("buyer 'acme'", "buyer.cxml.version", 13),
        ("buyer 'acme'", "buyer.cxml.sender[0].shared_secret_env", 20),
        ("buyer 'initech'", "buyer.return_url_prefixes", 25),
        ("buyer 'initech'", "buyer.oci.password", 26),
        ("buyer 'initech'", "buyer.provisioning.unknown_roles", 29),
    ]
    with pytest.raises(ConfigError) as info:
        parse_config(FIVE_MISTAKES, env={})
    assert len(info.value.problems) == 6
    assert "allowed: 1.2.014" not in str(info.value)  # the list reads "emits: 1.2.014, ..."
    assert "1.2.069 (not '1.2.999')" in str(info.value)


@pytest.mark.parametrize(
    "text, key",
    [
        (
            buyer(top='return_url_prefixes = ["https://x.example/"]').replace(
                'return_url_prefixes = ["https://acme.example/punchout/"]', ""
            )
            + buyer(id="acme").replace(HEAD, ""),
            "buyer.id",
        ),
        (buyer(sender='shared_secret = "short"'), "buyer.cxml.sender[0].shared_secret"),
        (buyer("[buyer.oci]\npassword = 'a-long-oci-password'\n"), "buyer.oci.username"),
        (
            buyer().replace('"https://acme.example/punchout/"', '"http://acme.example/p/"'),
            "buyer.return_url_prefixes",
        ),
        (buyer(cxml="version = 'x'", top="name2 = 1"), "buyer.name2"),
    ],
)
def test_each_error_names_its_key(text, key):
    assert key in [p.key for p in check_config(text, env={}).errors]


def test_weak_settings_are_warnings_and_load():
    text = buyer(
        "[buyer.credentials]\nallow_weak = true\noverlap_days = 90\n",
        sender='shared_secret = "Xy7q"',
    ).replace('"https://acme.example/punchout/"', '"http://acme.example/p/"')
    config = check_config(text, env={})
    assert config.errors == []
    assert {p.key for p in config.warnings} == {
        "buyer.credentials.allow_weak",
        "buyer.credentials.overlap_days",
        "buyer.cxml.sender[0].shared_secret",
        "buyer.return_url_prefixes",
    }
    assert "Xy7q" not in " ".join(str(p) for p in config.problems)


def test_loopback_http_and_order_only_buyers_are_fine():
    local = buyer().replace('"https://acme.example/punchout/"', '"http://127.0.0.1:9000/p/"')
    assert check_config(local, env={}).problems == []
    orders_only = buyer().replace('return_url_prefixes = ["https://acme.example/punchout/"]', "")
    config = check_config(orders_only, env={})
    assert config.errors == [] and [p.key for p in config.warnings] == ["buyer.return_url_prefixes"]


def test_a_wrong_type_is_one_problem_not_a_crash():
    text = buyer("[buyer.oci]\nusername = 'u'\npassword = 'long-enough-pw'\ndecimals = 'two'\n")
    assert [p.key for p in check_config(text, env={}).errors] == ["buyer.oci.decimals"]


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "x = 1\n", "[[buyer]]\n"])
def test_a_file_without_a_supplier_says_so(text):
    # Found by the property test: a problem on a table the file never wrote used to loop.
    config = check_config(text, env={})
    assert any(p.key.startswith("supplier") for p in config.errors)
