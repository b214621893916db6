"""GET /healthz for load balancers: the process answers and the database does too."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gateway.web import current_gateway

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        with current_gateway().db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
