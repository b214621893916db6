"""The Flask side: request ids, one JSON log line and the metrics of every request."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from gateway.observability import context, metrics
from gateway.observability.logs import redact_path, redact_query, redact_text
from gateway.oci.call import oci_secret_fields

log = logging.getLogger("punchgate.request")
HEADER = "X-Request-Id"
# Probes and scrapes every few seconds would drown the lines that matter.
QUIET_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "health.metrics"})


def install(app: Flask) -> None:
    """Register the hooks on ``app`` and wrap it so no credential reaches a server log."""
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_end)
    app.wsgi_app = _RedactEnviron(app.wsgi_app, app)


def _begin() -> None:
    g.request_id = context.accept_request_id(request.environ.get("HTTP_X_REQUEST_ID"))
    g.observability_token = context.begin(g.request_id)
    g.started = time.perf_counter()


def _end(_exc=None) -> None:
    token = g.pop("observability_token", None)
    if token is not None:
        context.end(token)


def _summary(events: list[dict]) -> dict:
    """Buyer, document type, session and refusal reason as the session log recorded them."""
    buyer = doc_type = reason = session_id = None
    for event in events:
        data = event.get("data") or {}
        buyer = buyer or event.get("buyer_id")
        session_id = session_id or event.get("session_id")
        if event["kind"] == "document.in":
            doc_type = doc_type or event["message"].split(" ", 1)[0]
        elif event["kind"].startswith("oci."):
            doc_type = doc_type or "OCI"
        doc_type = doc_type or data.get("request")
        if event.get("level") == "error" and reason is None:
            reason = event["message"]
    return {"buyer": buyer, "doc_type": doc_type, "reason": reason, "session_id": session_id}


def _finish(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id is None:  # a hook before ours failed; still answer with an id
        return response
    response.headers[HEADER] = request_id
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    current = context.current()
    summary = _summary(current.events if current else [])
    if request.endpoint == "oci.catalog_call":
        summary["doc_type"] = "OCI"
    cxml_status = g.get("cxml_status")
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    metrics.observe_request(
        endpoint, summary["doc_type"], summary["buyer"], cxml_status, response.status_code, seconds
    )
    refused = response.status_code >= 400 or (cxml_status or 200) >= 400
    level = logging.INFO
    if refused:
        level = (
            logging.ERROR if max(response.status_code, cxml_status or 0) >= 500 else logging.WARNING
        )
    if request.endpoint in QUIET_ENDPOINTS and not refused:
        level = logging.DEBUG
    path = redact_path(request.path)
    environ = request.environ
    query = environ.get("QUERY_STRING", "")
    if query:
        query = environ[_CLEAN_QUERY] = redact_query(query, configured_names(current_app, environ))
    shown = f"cXML {summary['doc_type'] or 'document'} {cxml_status}" if cxml_status else ""
    log.log(
        level,
        " ".join(filter(None, [request.method, path, str(response.status_code), shown])),
        extra={
            "method": request.method,
            "path": path,
            "endpoint": endpoint,
            "http_status": response.status_code,
            "cxml_status": cxml_status,
            "doc_type": summary["doc_type"],
            "buyer": summary["buyer"],
            "session_id": summary["session_id"],
            "reason": summary["reason"],
            "latency_ms": round(seconds * 1000, 1),
            # What gunicorn's access line carried: one line per request says it all
            # (that line is off unless PUNCHGATE_ACCESS_LOG=1; see gunicorn.conf.py).
            "remote_addr": request.remote_addr,
            "query": query,
            "bytes": response.content_length,
            "user_agent": redact_text(environ.get("HTTP_USER_AGENT", "")),
        },
    )
    return response


class _RedactEnviron:
    """Blank credentials in the WSGI environ once the app has read them.

    The server writes its access log from the environ after the answer; an OCI
    catalog call is a GET with the buyer's password in the query string.
    """

    def __init__(self, wsgi_app, app: Flask):
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ, start_response):
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            redact_environ(environ, configured_names(self.app, environ))


def configured_names(app: Flask, environ: dict) -> set[str]:
    """The password and user name fields a buyer's OCI connection renamed."""
    path = environ.get("PATH_INFO", "")
    if not path.startswith("/oci/") or not environ.get("QUERY_STRING"):
        return set()
    if OCI_FIELDS_KEY not in environ:  # else the request log looked the buyer up already
        from gateway.models import Buyer

        try:
            with app.extensions["punchgate"].db.transaction() as db:
                buyer = db.get(Buyer, path.removeprefix("/oci/").strip("/"))
                environ[OCI_FIELDS_KEY] = oci_secret_fields(buyer)
        except SQLAlchemyError:
            return set()
    return environ[OCI_FIELDS_KEY]


# Where the request log leaves the OCI fields a buyer marks as secret, so the environ
# redaction after the answer need not read the buyer a second time.
OCI_FIELDS_KEY = "punchgate.oci_secret_fields"


# The query as the request line showed it: the environ's redaction after the answer
# reuses it instead of parsing the query a second time.
_CLEAN_QUERY = "punchgate.clean_query"


def redact_environ(environ: dict, secret_names: set[str] = frozenset()) -> None:
    clean_query = environ.pop(_CLEAN_QUERY, None)
    if clean_query is None:
        clean_query = redact_query(environ.get("QUERY_STRING", ""), secret_names)
    path = redact_path(environ.get("PATH_INFO", ""))
    environ["QUERY_STRING"] = clean_query
    environ["PATH_INFO"] = path
    for key in ("RAW_URI", "REQUEST_URI"):
        if key in environ:
            raw_path, _, _ = environ[key].partition("?")
            environ[key] = redact_path(raw_path) + (f"?{clean_query}" if clean_query else "")
    if "HTTP_REFERER" in environ:
        environ["HTTP_REFERER"] = redact_text(environ["HTTP_REFERER"])
