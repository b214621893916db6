"""Request ids, JSON request lines, metrics and probes, as an operator sees them."""

from __future__ import annotations

import dataclasses
import io
import json
import logging

import pytest
from sqlalchemy import select

from gateway import create_app
from gateway.models import Event
from gateway.observability.logs import Formatter, redact_query
from tests.conftest import remember_secret
from tests.documents import order_request, setup_request, status
from tests.helpers import bearer, transferred_cart

METRICS_TOKEN = "metrics-token-for-tests-0123"


@pytest.fixture
def settings(settings):
    remember_secret(METRICS_TOKEN)
    return dataclasses.replace(settings, metrics_token=METRICS_TOKEN)


@pytest.fixture
def request_lines():
    """The JSON lines the punchgate.request logger writes, as the production formatter does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(Formatter())
    logger = logging.getLogger("punchgate.request")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def metrics_page(client) -> str:
    r = client.get("/metrics", headers=bearer(METRICS_TOKEN))
    assert r.status_code == 200 and r.mimetype == "text/plain"
    return r.get_data(as_text=True)


def sample(page: str, name: str, **labels) -> float:
    """The value of one sample of the exposition page (0 when it is absent)."""
    for line in page.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_valid_request_id_is_kept_echoed_and_stored_with_the_events(
    client, demo, settings, monkeypatch
):
    from click.testing import CliRunner

    from gateway.cli import main
    from tests.conftest import SECRET_KEY

    r = client.post(
        "/cxml",
        data=setup_request(),
        content_type="text/xml",
        headers={"X-Request-Id": "ticket-4711-abcdef"},
    )
    assert status(r.data)[0] == 200
    assert r.headers["X-Request-Id"] == "ticket-4711-abcdef"
    with demo.db.transaction() as db:
        kinds = db.scalars(select(Event.kind).where(Event.request_id == "ticket-4711-abcdef")).all()
    assert {"document.in", "auth.ok", "session.created", "document.out"} <= set(kinds)
    # The support engineer holding the buyer's ticket finds the session's lines by it.
    monkeypatch.setenv("PUNCHGATE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PUNCHGATE_SECRET_KEY", SECRET_KEY)
    [row] = json.loads(CliRunner().invoke(main, ["sessions", "list", "--json"]).output)
    shown = CliRunner().invoke(main, ["sessions", "show", str(row["id"])]).output
    assert "session.created" in shown and "[request ticket-4711-abcdef]" in shown


@pytest.mark.parametrize(
    "header", [None, "short", "has spaces in it", "x" * 65, "<script>alert(1)</script>"]
)
def test_an_invalid_or_missing_request_id_is_replaced(client, header):
    headers = {"X-Request-Id": header} if header else {}
    r = client.get("/healthz", headers=headers)
    assert r.status_code == 200
    generated = r.headers["X-Request-Id"]
    assert generated != header and len(generated) == 32 and int(generated, 16) >= 0
    assert client.get("/healthz").headers["X-Request-Id"] != generated


def test_a_refused_cxml_document_is_one_json_line_with_status_and_reason(
    client, demo, request_lines
):
    r = client.post(
        "/cxml",
        data=setup_request(secret="wrong-secret-for-the-log-test"),
        content_type="text/xml",
        headers={"X-Request-Id": "refused-request-0001"},
    )
    assert r.status_code == 200 and status(r.data)[0] == 401
    [line] = [x for x in request_lines() if x["request_id"] == "refused-request-0001"]
    assert line["level"] == "WARNING" and line["logger"] == "punchgate.request"
    assert line["http_status"] == 200 and line["cxml_status"] == 401
    assert line["doc_type"] == "PunchOutSetupRequest" and line["buyer"] == "acme"
    assert "401" in line["reason"] and "secret" in line["reason"].lower()
    assert line["path"] == "/cxml" and line["latency_ms"] >= 0 and line["time"]


def test_an_accepted_request_logs_at_info_with_its_session(client, demo, request_lines):
    client.post("/cxml", data=setup_request(), content_type="text/xml")
    [line] = [x for x in request_lines() if x["path"] == "/cxml"]
    assert line["level"] == "INFO" and line["cxml_status"] == 200 and line["session_id"]
    assert line["message"] == "POST /cxml 200 cXML PunchOutSetupRequest 200"


def test_metrics_count_requests_sessions_orders_and_auth_failures(client, demo):
    before = metrics_page(client)
    lines = transferred_cart(client, [("NW-1001", 2)])
    order = [{"sku": s, "aux": a, "qty": "2", "price": p} for s, a, p in lines]
    code, text = status(
        client.post("/cxml", data=order_request(order, total="25.80"), content_type="text/xml").data
    )
    assert code == 200, text
    client.post("/cxml", data=setup_request(secret="not-the-secret-x"), content_type="text/xml")
    after = metrics_page(client)

    def grew(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("punchgate_sessions_started_total", buyer="acme", protocol="cxml") == 1
    assert grew("punchgate_sessions_transferred_total", buyer="acme") == 1
    assert grew("punchgate_orders_total", buyer="acme", outcome="received") == 1
    assert grew("punchgate_auth_failures_total", buyer="acme", protocol="cxml") == 1
    assert (
        grew(
            "punchgate_requests_total",
            endpoint="/cxml",
            doc_type="PunchOutSetupRequest",
            buyer="acme",
            cxml_status="401",
            http_status="200",
        )
        == 1
    )
    assert (
        grew("punchgate_request_duration_seconds_count", endpoint="/cxml", doc_type="OrderRequest")
        == 1
    )
    # The outbox holds the order for the marketplace: depth and age come from the database.
    assert sample(after, "punchgate_outbox_pending") >= 1
    assert sample(after, "punchgate_outbox_dead_letters") == 0
    assert sample(after, "punchgate_database_up") == 1
    assert "punchgate_outbox_oldest_pending_age_seconds" in after


def test_an_unknown_document_name_does_not_become_a_metric_label(client, demo):
    body = setup_request().replace(b"PunchOutSetupRequest", b"MadeUpRequest12345")
    client.post("/cxml", data=body, content_type="text/xml")
    page = metrics_page(client)
    assert "MadeUpRequest12345" not in page


def test_metrics_need_the_token(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer("wrong")).status_code == 401
    assert client.get("/metrics", headers=bearer(METRICS_TOKEN)).status_code == 200


def test_metrics_are_not_served_without_a_token(settings):
    app = create_app(dataclasses.replace(settings, metrics_token=None))
    assert app.test_client().get("/metrics").status_code == 404
    app.extensions["punchgate"].db.dispose()


def test_readyz_is_ok_on_a_migrated_database(client):
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json == {"status": "ok"}
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_names_what_is_wrong(settings, tmp_path):
    empty = create_app(dataclasses.replace(settings, database_url=f"sqlite:///{tmp_path}/e.db"))
    r = empty.test_client().get("/readyz")
    assert r.status_code == 503 and r.json["status"] == "unavailable"
    assert "run `punchgate db upgrade`" in r.json["reason"]
    assert empty.test_client().get("/healthz").status_code == 200
    empty.extensions["punchgate"].db.dispose()

    down = create_app(
        dataclasses.replace(
            settings, database_url="postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"
        )
    )
    r = down.test_client().get("/readyz")
    assert r.status_code == 503 and r.json["reason"].startswith("database unreachable")


def test_query_redaction_covers_oci_aliases_tokens_and_configured_fields():
    query = "USERNAME=u&PASSWORD=p1&pwd=p2&~PASSWORD=p3&session=tok&KENNWORT=p4&HOOK_URL=h"
    cleaned = redact_query(query, {"KENNWORT"})
    assert all(f"={v}" not in cleaned for v in ("p1", "p2", "p3", "tok", "p4"))
    assert "USERNAME=u" in cleaned and "HOOK_URL=h" in cleaned
    # Names are matched decoded; a value that decodes to a credential pair is blanked too.
    cleaned = redact_query("PASS%57ORD=p5&%7Epassword=p6&q=x%26pwd%3Dp7&t=a%3Db&HOOK_URL=h%2Fi")
    assert all(v not in cleaned for v in ("p5", "p6", "p7"))
    assert "t=a%3Db" in cleaned and "HOOK_URL=h%2Fi" in cleaned


def test_credentials_are_blanked_in_the_environ_the_server_logs_from(app, demo, tmp_path):
    """gunicorn writes its access log from the WSGI environ after the answer."""
    from werkzeug.test import EnvironBuilder

    from tests.conftest import DEMO, write_buyers

    text = (DEMO / "buyers.toml").read_text()
    write_buyers(
        demo,
        tmp_path,
        text.replace("[buyer.oci]\n", '[buyer.oci]\npassword_fields = ["KENNWORT"]\n', 1),
    )
    query = "USERNAME=acme_srm&KENNWORT=renamed-field-secret-1&HOOK_URL=x&session=tok-abcdefgh1234"
    remember_secret("renamed-field-secret-1")
    environ = EnvironBuilder(path="/oci/acme", query_string=query).get_environ()
    environ["RAW_URI"] = f"/oci/acme?{query}"
    b"".join(app.wsgi_app(environ, lambda *args: None))
    for key in ("QUERY_STRING", "RAW_URI"):
        assert "renamed-field-secret-1" not in environ[key]
        assert "tok-abcdefgh1234" not in environ[key]
        assert "USERNAME=acme_srm" in environ[key]
    # The request log support reads masks the renamed field as well.
    with app.extensions["punchgate"].db.transaction() as db:
        from gateway.models import InboundRequest

        row = db.query(InboundRequest).order_by(InboundRequest.id.desc()).first()
        assert row is not None and "KENNWORT=[redacted]" in (row.document or "")

    environ = EnvironBuilder(path="/punchout/start/start-token-abcdef123").get_environ()
    b"".join(app.wsgi_app(environ, lambda *args: None))
    assert environ["PATH_INFO"] == "/punchout/start/[redacted]"


def test_the_request_line_carries_the_access_fields_without_credentials(
    client, demo, tmp_path, request_lines
):
    """One line per request: gunicorn's access line is off unless asked for."""
    from tests.conftest import DEMO, write_buyers

    text = (DEMO / "buyers.toml").read_text()
    write_buyers(
        demo,
        tmp_path,
        text.replace("[buyer.oci]\n", '[buyer.oci]\npassword_fields = ["KENNWORT"]\n', 1),
    )
    remember_secret("renamed-field-secret-2")
    client.get(
        "/oci/acme?USERNAME=acme_srm&KENNWORT=renamed-field-secret-2&HOOK_URL=x",
        headers={"User-Agent": "SAP NetWeaver Application Server"},
    )
    [line] = [x for x in request_lines() if x["path"] == "/oci/acme"]
    assert "renamed-field-secret-2" not in json.dumps(line)
    assert "KENNWORT=[redacted]" in line["query"] and "USERNAME=acme_srm" in line["query"]
    assert line["remote_addr"] == "127.0.0.1" and line["bytes"] > 0
    assert line["user_agent"] == "SAP NetWeaver Application Server"
