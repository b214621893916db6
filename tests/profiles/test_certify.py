"""``punchgate buyers check``: the certification run on the demo buyers, passing and failing."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from gateway.cli import main
from gateway.models import PunchoutSession
from provisioning.buyers import load_buyers
from tests.conftest import DEMO, DTD_DIR, SECRET_KEY, remember_toml_secrets, write_buyers


@pytest.fixture
def cli(monkeypatch, database_url):
    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", SECRET_KEY)
    # A clone without ../shared/ has no DTDs: the run then says the DTD was not checked.
    if DTD_DIR.is_dir():
        monkeypatch.setenv("PUNCHGATE_CXML_DTD_DIR", str(DTD_DIR))
    else:
        monkeypatch.delenv("PUNCHGATE_CXML_DTD_DIR", raising=False)
    return CliRunner()


@pytest.mark.parametrize(
    ("buyer", "preset", "carts"),
    [
        ("acme", "ariba", ["cXML", "OCI"]),
        ("globex", "coupa", ["cXML"]),
        ("initech", "sap-srm", ["OCI"]),
    ],
)
def test_the_demo_buyers_pass(cli, demo, gateway, buyer, preset, carts):
    r = cli.invoke(main, ["buyers", "check", buyer])
    assert r.exit_code == 0, r.output
    assert f"profile {preset}" in r.output and "\nrules: units " in r.output
    assert "FAIL" not in r.output and "PASSED:" in r.output
    for protocol in carts:
        assert f"PASS  cart over {protocol}: every catalog product" in r.output
    if "cXML" in carts:
        assert re.search(r"\b\d{2} line\(s\) sent as cXML", r.output)
        assert ("DTD checked" if DTD_DIR.is_dir() else "DTD not checked") in r.output
    # The run used a gateway of its own: nothing was written to the real database.
    with gateway.db.transaction() as db:
        assert db.scalar(select(func.count()).select_from(PunchoutSession)) == 0


def test_a_profile_the_catalog_breaks_fails_with_the_line(cli, demo, gateway, tmp_path):
    text = (
        (DEMO / "buyers.toml")
        .read_text()
        .replace('units = ["EA", "BX", "PK", "CS", "SET"]', 'units = ["EA"]')
    )
    write_buyers(gateway, tmp_path, text)
    r = cli.invoke(main, ["buyers", "check", "globex", "--json"])
    assert r.exit_code == 1
    report = json.loads(r.output)
    cart = next(c for c in report["checks"] if c["name"].startswith("cart over cXML"))
    assert not cart["ok"] and not report["ok"]
    assert (
        "NW-1001: the unit 'BX' is not enabled in Globex Manufacturing's Coupa" in (cart["detail"])
    )


def test_the_buyers_own_fixtures(cli, demo, tmp_path):
    own = tmp_path / "globex-fixtures"
    own.mkdir()
    setup = (DEMO.parent / "coupa" / "setup-create.xml").read_text()
    (own / "setup-create.xml").write_text(setup)
    (own / "setup-create.expect.toml").write_text("[expect]\nstatus = 400\n")
    r = cli.invoke(main, ["buyers", "check", "globex", "--fixtures", str(own)])
    assert r.exit_code == 1
    assert f"fixtures: {own}" in r.output
    assert "FAIL  fixture globex-fixtures/setup-create.xml" in r.output
    assert '-  "status": 400' in r.output and '+  "status": 200' in r.output


def test_an_unknown_buyer(cli, demo):
    r = cli.invoke(main, ["buyers", "check", "nobody"])
    assert r.exit_code == 1 and "no buyer 'nobody'" in r.output


def test_nothing_to_check_is_not_a_pass(cli, gateway, monkeypatch):
    # Buyers loaded, no catalog: a cart of no lines proves nothing about the profile.
    remember_toml_secrets((DEMO / "buyers.toml").read_text())
    with gateway.db.transaction() as db:
        load_buyers(db, DEMO / "buyers.toml", gateway.box, env={})
    monkeypatch.delenv("PUNCHGATE_CXML_DTD_DIR", raising=False)
    r = cli.invoke(main, ["buyers", "check", "acme"])
    assert r.exit_code == 1, r.output
    assert "FAIL  cart over cXML: every catalog product, checked against the profile\n" in r.output
    assert "no line was sent: the catalog is empty" in r.output
