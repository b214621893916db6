"""Writing the request log: a note opened per inbound request, a row once it is answered.

Recording never changes the answer: the row is written in its own transaction after
the response is built, and any failure to write it is logged and swallowed.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request

from gateway.models import Buyer
from gateway.observability import context
from gateway.observability.web import OCI_FIELDS_KEY
from gateway.oci.call import oci_secret_fields
from gateway.support import requests as request_log
from gateway.web import current_gateway

log = logging.getLogger(__name__)

_CHANNELS = (
    ("/cxml", "cxml"),
    ("/oci/", "oci"),
    ("/api/v1/punchout/", "session_api"),
    ("/api/v1/buyers/", "sync_api"),
    ("/api/v1/marketplace/", "marketplace"),
)
_NOTE_KEY = "punchgate.request_note"


def request_id() -> str:
    """This request's id: the one its answer's X-Request-Id header and its log lines and
    session-log events carry, so an id a caller quotes finds the row."""
    # Set by the observability hooks, which run first; the fallback is for an app
    # built without them.
    return context.request_id() or context.accept_request_id(request.headers.get("X-Request-Id"))


def _channel(path: str) -> str | None:
    for prefix, channel in _CHANNELS:
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return channel
    return None


def _path_buyer(path: str) -> str | None:
    """The buyer id an OCI or credential-sync URL names (checked against the buyers)."""
    parts = path.strip("/").split("/")
    if parts[0] == "oci" and len(parts) >= 2:
        return parts[1]
    if parts[:3] == ["api", "v1", "buyers"] and len(parts) >= 4:
        return parts[3]
    return None


def _oci_pairs() -> list[tuple[str, str]]:
    return list(request.args.items(multi=True)) + list(request.form.items(multi=True))


def _document(note: request_log.RequestNote, buyer: Buyer | None) -> str | None:
    if note.channel == "cxml":
        return request_log.redact_cxml(note.body) if note.body else None
    if note.channel == "oci":
        pairs = _oci_pairs()
        # A buyer whose SAP system renamed PASSWORD (KENNWORT, say) says so in its config;
        # kept in the environ for the access-log redaction after the answer.
        names = request.environ[OCI_FIELDS_KEY] = oci_secret_fields(buyer)
        return request_log.redact_pairs(pairs, names)
    if note.channel == "session_api":
        data = request.get_json(silent=True)
        if data is None and request.form:
            data = request.form.to_dict()
        return request_log.redact_json(data) if data is not None else None
    return request_log.redact_body(note.body) if note.body else None


def _record(response: Response) -> None:
    note = request_log.current()
    if note is None:
        return
    if note.saved:
        if note.secret_fields is not None:
            request.environ[OCI_FIELDS_KEY] = note.secret_fields
        return
    if note.reason is None and response.status_code >= 400 and response.is_json:
        answer = response.get_json(silent=True) or {}
        if isinstance(answer, dict):
            reason = answer.get("detail") or answer.get("error")
            note.reason = str(reason) if reason else None
    if note.reason is None and response.status_code >= 400:
        note.reason = response.status
    if note.channel == "oci" and note.doc_type is None:
        note.doc_type = request_log.oci_doc_type(_oci_pairs())
    if note.doc_type is None and request.endpoint:
        note.doc_type = request.endpoint.rsplit(".", 1)[-1]
    size = request.content_length or (len(note.body) if note.body else 0)
    gateway = current_gateway()
    with gateway.db.transaction() as db:
        named = _path_buyer(request.path) if note.channel in ("oci", "sync_api") else None
        buyer = db.get(Buyer, named[:64]) if named else None
        if note.buyer_id is None and named:
            if buyer is not None:
                note.buyer_id = named
            elif note.sender is None:
                note.sender = named[:300]
        request_log.save(
            db,
            note,
            method=request.method,
            path=request.path,
            http_status=response.status_code,
            size=size,
            document=_document(note, buyer),
        )


def save_in(db, http_status: int) -> bool:
    """This request's row in the caller's transaction, for a view that knows its answer
    before committing (the cart API); ``request_log.saved()`` once it committed."""
    note = request_log.current()
    if note is None:
        return False
    try:
        if note.doc_type is None and request.endpoint:
            note.doc_type = request.endpoint.rsplit(".", 1)[-1]
        if note.document is None:
            note.document = _document(note, None)
    except Exception:  # noqa: BLE001 - the log must never fail the answer
        log.exception("could not record %s %s in the request log", request.method, request.path)
        return False
    return request_log.save_in(db, http_status)


def register(app: Flask) -> None:
    @app.before_request
    def open_note():
        channel = _channel(request.path)
        if channel is not None:
            request.environ[_NOTE_KEY] = request_log.begin(
                channel, request_id(), request.method, request.path, request.content_length or 0
            )

    @app.after_request
    def write_row(response: Response) -> Response:
        try:
            _record(response)
        except Exception:  # noqa: BLE001 - the log must never fail the answer
            log.exception("could not record %s %s in the request log", request.method, request.path)
        return response

    @app.teardown_request
    def close_note(_exc):
        token = request.environ.pop(_NOTE_KEY, None)
        if token is not None:
            request_log.end(token)
