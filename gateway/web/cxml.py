"""POST /cxml: every inbound cXML request."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from gateway.mime import MimeError, split_related
from gateway.punchout import cxml as inbound
from gateway.support import requests as request_log
from gateway.web import current_gateway

bp = Blueprint("cxml", __name__)


@bp.post("/cxml")
def receive() -> Response:
    gateway = current_gateway()
    limit = gateway.settings.max_document_bytes
    if request.content_length is not None and request.content_length > limit:
        answer = inbound.reject_oversize(gateway, request.content_length)
    else:
        # Read one byte past the limit so a chunked body that is too large is
        # recognised without reading all of it.
        raw = request.stream.read(limit + 1)
        request_log.note(body=raw)
        if request.mimetype == "multipart/related" and len(raw) <= limit:
            try:
                raw, parts = split_related(request.headers["Content-Type"], raw)
            except MimeError as exc:
                answer = inbound.reject_malformed(gateway, f"multipart body unusable: {exc}")
            else:
                answer = inbound.handle(gateway, raw, parts)
        else:
            answer = inbound.handle(gateway, raw)
    # The cXML Status is what tells a refusal apart (it is HTTP 200): logs and metrics read it.
    g.cxml_status = answer.code
    request_log.note(cxml_code=answer.code)
    return Response(answer.body, status=answer.http_status, content_type="text/xml; charset=utf-8")
