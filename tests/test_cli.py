"""The punchgate command against a real database."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gateway.cli import main
from tests.conftest import DEMO, SECRET_KEY
from tests.documents import ACME_SECRET
from tests.helpers import bearer, open_session


@pytest.fixture
def cli_env(monkeypatch, database_url):
    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", SECRET_KEY)
    return CliRunner()


def test_load_and_inspect_sessions(cli_env, app, client):
    r = cli_env.invoke(main, ["buyers", "load", str(DEMO / "buyers.toml")])
    assert r.exit_code == 0 and "loaded 3 buyer(s): acme, globex, initech" in r.output
    r = cli_env.invoke(main, ["catalog", "load", str(DEMO / "catalog.csv")])
    assert (
        r.exit_code == 0
        and "28 added, 0 changed, 0 retired, 0 unchanged, 5 contract price(s)" in r.output
    )

    token = open_session(client)
    client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-1001", "quantity": 2}, headers=bearer(token)
    )
    client.post("/api/v1/punchout/transfer", data={"session": token})

    listing = cli_env.invoke(main, ["sessions", "list", "--buyer", "acme", "--json"])
    rows = json.loads(listing.output)
    assert rows[0]["user"] == "jane.doe@acme.example" and rows[0]["status"] == "transferred"
    text = cli_env.invoke(main, ["sessions", "list", "--user", "jane.doe@acme.example"]).output
    assert "transferred" in text
    assert (
        cli_env.invoke(main, ["sessions", "list", "--status", "open"]).output.strip()
        == "no sessions"
    )

    shown = cli_env.invoke(main, ["sessions", "show", str(rows[0]["id"]), "--json"])
    data = json.loads(shown.output)
    event_kinds = [e["kind"] for e in data["events"]]
    for kind in (
        "document.in",
        "auth.ok",
        "user.created",
        "session.created",
        "start",
        "cart.add",
        "transfer",
        "document.out",
    ):
        assert kind in event_kinds
    assert data["cart"]["total"] == "25.80"
    human = cli_env.invoke(main, ["sessions", "show", str(rows[0]["id"])]).output
    assert "[redacted]" in human and ACME_SECRET not in human


def test_errors_are_messages_not_tracebacks(cli_env, app, tmp_path):
    bad = tmp_path / "b.toml"
    bad.write_text("[supplier]\nname='x'\nfoo=1\n")
    r = cli_env.invoke(main, ["buyers", "load", str(bad)])
    assert r.exit_code == 1 and "unknown key 'supplier.foo'" in r.output
    assert "Traceback" not in r.output
    r = cli_env.invoke(main, ["sessions", "show", "999999"])
    assert r.exit_code == 1 and "no session 999999" in r.output
