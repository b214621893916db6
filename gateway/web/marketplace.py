"""POST /api/v1/marketplace/events: the marketplace tells the gateway what happened."""

from __future__ import annotations

import json

from flask import Blueprint, jsonify, request

from gateway.marketplace import events
from gateway.sessions.events import record
from gateway.support import requests as request_log
from gateway.web import current_gateway

bp = Blueprint("marketplace", __name__, url_prefix="/api/v1/marketplace")


@bp.post("/events")
def receive_event():
    gateway = current_gateway()
    body = request.get_data(cache=False)
    event = None
    request_log.note(body=body)
    try:
        events.verify(
            gateway.settings.marketplace_secret,
            request.headers.get("X-Punchgate-Timestamp"),
            request.headers.get("X-Punchgate-Signature"),
            body,
        )
        try:
            event = json.loads(body)
        except ValueError:
            raise events.WebhookError(400, "the body is not JSON") from None
        if not isinstance(event, dict):
            raise events.WebhookError(400, "the body must be a JSON object")
        with gateway.db.transaction() as db:
            request_log.note(doc_type=str(event.get("type") or "event")[:60])
            applied, order = events.apply(db, event)
            request_log.note(buyer_id=order.buyer_id)
            answer = {"applied": applied, "order": order.id, "status": order.status}
    except events.WebhookError as exc:
        if exc.order is not None:
            # Refused transitions are kept in the order's log for support.
            with gateway.db.transaction() as db:
                record(
                    db,
                    "order.transition_refused",
                    f"marketplace event refused: {exc.message}",
                    buyer_id=exc.order["buyer_id"],
                    session_id=exc.order["session_id"],
                    level="warning",
                    data={"order": exc.order["id"], "event": event},
                )
        return jsonify(error=exc.message), exc.status
    return jsonify(answer), 200
