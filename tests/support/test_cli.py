"""``punchgate requests``, ``punchgate orders`` and ``punchgate alerts`` on a real database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gateway.cli import main
from gateway.models import InboundRequest, utcnow
from tests.conftest import SECRET_KEY
from tests.documents import order_request, status
from tests.helpers import open_session, transferred_cart
from tests.support.test_console_pages import flagged_order, refused_punchout


@pytest.fixture
def cli(monkeypatch, database_url):
    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", SECRET_KEY)
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(main, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_requests_list_and_show(cli, client, demo):
    open_session(client)
    refused_punchout(client)
    rows = json.loads(cli("requests", "list", "--json"))
    assert [r["failed"] for r in rows] == [True, False]
    failed = json.loads(cli("requests", "list", "--failed", "--buyer", "acme", "--json"))
    assert len(failed) == 1 and failed[0]["user"] == "caller@acme.example"
    assert failed[0]["cxml_code"] == 401 and "401" in failed[0]["reason"]
    assert (
        json.loads(cli("requests", "list", "--since", "2h", "--type", "OrderRequest", "--json"))
        == []
    )
    text = cli("requests", "list", "--failed")
    assert "PunchOutSetupRequest" in text and "HTTP 200/401" in text
    shown = json.loads(cli("requests", "show", str(failed[0]["id"]), "--json"))
    assert shown["request_id"] == "req-refused-cookie" and "[redacted]" in shown["document"]
    assert "auth.failed" in [e["kind"] for e in shown["events"]]
    human = cli("requests", "show", str(rows[1]["id"]))
    assert "session: #" in human and "PunchOutSetupRequest" in human


def test_requests_bad_input_is_an_error(cli, demo):
    assert "no buyer 'nobody'" in cli("requests", "list", "--buyer", "nobody", code=1)
    assert "neither a duration" in cli("requests", "list", "--since", "soon", code=1)
    assert "no request 424242" in cli("requests", "show", "424242", code=1)
    cli("requests", "show", "99999999999", code=2)
    cli("requests", "show", "abc", code=2)


def test_requests_purge(cli, client, demo):
    for _ in range(3):
        client.post("/cxml", data=b"<x/>")
    with demo.db.transaction() as db:
        rows = list(db.scalars(select(InboundRequest).order_by(InboundRequest.id)))
        rows[0].at = utcnow() - timedelta(days=365)
        rows[1].at = utcnow() - timedelta(days=45)
    out = cli("requests", "purge")
    assert "cleared 1 document(s) older than 30 days" in out
    assert "deleted 1 request(s) older than 180 days" in out
    assert "deleted 0" in cli("requests", "purge", "--metadata-days", "400")
    cli("requests", "purge", "--document-days", "10", "--metadata-days", "5", code=1)


def test_orders_list_and_show(cli, client, demo):
    flagged_order(client, "PO-4500012345")
    rows = json.loads(cli("orders", "list", "--json"))
    assert rows[0]["order_id"] == "PO-4500012345" and rows[0]["flagged"] is True
    assert rows[0]["user"] == "jane.doe@acme.example" and rows[0]["lines"] == 1
    assert json.loads(cli("orders", "list", "--status", "rejected", "--json")) == []
    assert "no buyer 'nobody'" in cli("orders", "list", "--buyer", "nobody", code=1)
    assert "'lost' is not one of 'received'" in cli("orders", "list", "--status", "lost", code=2)
    view = json.loads(cli("orders", "show", "PO-4500012345", "--json"))
    (line,) = view["lines_detail"]
    assert (line["sku"], line["quantity"], line["cart_quantity"]) == ("NW-1001", "5", "3")
    assert line["cart_line"] is not None and line["flags"]
    assert any(e["kind"].startswith("order.") for e in view["events"])
    assert view["deliveries"][0]["kind"] == "marketplace.order"
    human = cli("orders", "show", "PO-4500012345")
    assert "NW-1001" in human and "cart 3 x" in human and "FLAG" in human
    assert "no order 'PO-NOPE'" in cli("orders", "show", "PO-NOPE", code=1)


def test_alerts_json(cli, client, demo, monkeypatch):
    monkeypatch.setenv("PUNCHGATE_ALERT_FAILURES", "3")
    assert json.loads(cli("alerts", "--json")) == []
    for n in range(3):
        refused_punchout(client, cookie=f"c{n}")
    found = json.loads(cli("alerts", "--json"))
    assert [a["kind"] for a in found] == ["punchouts_failing"]
    assert found[0]["buyer"] == "acme" and found[0]["count"] == 3
    assert "critical punchouts_failing  3 refused requests from acme" in cli("alerts")


def test_the_orders_list_of_a_buyer_with_orders_in_several_states(cli, client, demo):
    ((_, aux, price),) = transferred_cart(client, [("NW-1001", 1)])
    body = order_request([{"sku": "NW-1001", "qty": "1", "price": price, "aux": aux}])
    assert status(client.post("/cxml", data=body).data)[0] == 200
    flagged_order(client, "PO-2")
    rows = json.loads(cli("orders", "list", "--buyer", "acme", "--json"))
    assert [r["order_id"] for r in rows] == ["PO-2", "PO-1001"]
    assert json.loads(cli("orders", "list", "--flagged", "--json"))[0]["order_id"] == "PO-2"
