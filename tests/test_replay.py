"""punchgate replay: the fixture tree, --record, readable diffs, reports, HTTP mode."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from lxml import etree

from gateway.cli import main
from tests.conftest import DEMO, ROOT, SECRET_KEY

FIXTURES = ROOT / "fixtures"


@pytest.fixture
def runner(monkeypatch, database_url, demo):
    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", SECRET_KEY)
    return CliRunner()


def test_every_fixture_replays_as_expected(runner):
    result = runner.invoke(main, ["replay", "--buyers", str(DEMO / "buyers.toml"), str(FIXTURES)])
    assert result.exit_code == 0, result.output
    count = len(list(FIXTURES.rglob("*.expect.toml")))
    assert count >= 23 and f"{count} passed, 0 failed" in result.output
    for system in ("ariba", "coupa", "oracle", "jaggaer", "generic", "attacks", "sap-oci"):
        assert f"ok    {system}/" in result.output


def test_oci_fixtures_need_the_buyers_file(runner):
    result = runner.invoke(main, ["replay", str(FIXTURES / "sap-oci")])
    assert result.exit_code == 1 and "OCI fixtures need --buyers" in result.output


def test_record_then_replay_is_stable(runner, tmp_path):
    for name in ("profile", "order-no-lines"):
        for suffix in (".xml", ".expect.toml"):
            shutil.copy(FIXTURES / "generic" / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
        expect = tmp_path / f"{name}.expect.toml"
        expect.write_text(expect.read_text().replace("status = ", "# status = "))
    recorded = runner.invoke(main, ["replay", "--record", str(tmp_path)])
    assert recorded.exit_code == 0, recorded.output
    assert "status = 406" in (tmp_path / "order-no-lines.expect.toml").read_text()
    again = runner.invoke(main, ["replay", str(tmp_path)])
    assert again.exit_code == 0 and "2 passed, 0 failed" in again.output


def test_a_changed_answer_is_a_readable_diff(runner, tmp_path):
    for suffix in (".xml", ".expect.toml"):
        shutil.copy(FIXTURES / "generic" / f"profile{suffix}", tmp_path / f"profile{suffix}")
    expect = tmp_path / "profile.expect.toml"
    expect.write_text(expect.read_text().replace("status = 200", "status = 201"))
    report = tmp_path / "junit.xml"
    result = runner.invoke(main, ["replay", "--junit", str(report), str(tmp_path)])
    assert result.exit_code == 1
    assert '-  "status": 201,' in result.output and '+  "status": 200,' in result.output
    suite = etree.parse(str(report)).getroot()
    assert suite.get("failures") == "1" and suite.find("testcase/failure") is not None
    as_json = runner.invoke(main, ["replay", "--json", str(tmp_path)])
    [row] = json.loads(as_json.stdout)
    assert row["ok"] is False and row["actual"]["status"] == 200


def test_url_needs_the_buyers_file(runner):
    result = runner.invoke(main, ["replay", "--url", "http://127.0.0.1:1", str(FIXTURES)])
    assert result.exit_code == 1 and "--url needs --buyers" in result.output


def test_a_session_exports_as_replayable_fixtures(runner, client, tmp_path):
    from tests.documents import order_request
    from tests.helpers import add_items, bearer, open_session, transfer_lines

    token = open_session(client)
    add_items(client, token, [("NW-1001", 2)])
    ((_, aux, _),) = transfer_lines(client, token)
    client.post(
        "/cxml", data=order_request([{"sku": "NW-1001", "qty": "2", "price": "12.90", "aux": aux}])
    )
    session_id = client.get("/api/v1/punchout/session", headers=bearer(token)).json["id"]
    out = tmp_path / "exported"
    result = runner.invoke(main, ["sessions", "export", str(session_id), str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.xml"))
    assert len(files) == 2  # the setup request and the order it became
    text = files[0].read_text()
    assert "{{shared_secret}}" in text and "demo-acme-shared-secret-2026" not in text
    assert "{{from_identity}}" in text and "{{return_url}}" in text
    assert "status = 200" in files[1].with_suffix(".expect.toml").read_text()
    replayed = runner.invoke(main, ["replay", str(out)])
    assert replayed.exit_code == 0 and "2 passed, 0 failed" in replayed.output
