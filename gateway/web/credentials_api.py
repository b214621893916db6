"""POST /api/v1/buyers/<id>/credentials: the buyer's side sets its next secret."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from gateway.support import requests as request_log
from gateway.web import current_gateway
from provisioning.sync import SyncError, sync

bp = Blueprint("credentials_api", __name__, url_prefix="/api/v1/buyers")


@bp.post("/<buyer_id>/credentials")
def set_credentials(buyer_id: str):
    gateway = current_gateway()
    body = request.get_data(cache=False)
    request_log.note(body=body, doc_type="credentials.sync")
    outcome = None
    with gateway.db.transaction() as db:
        try:
            outcome = sync(db, gateway.box, buyer_id, request.headers, body)
        except SyncError as exc:
            # Failures commit too: the throttle counts them.
            failure = exc
    if outcome is None:
        return jsonify(error=failure.message), failure.status
    return jsonify(outcome)
