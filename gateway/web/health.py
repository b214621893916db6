"""Probes and metrics for operators: /healthz, /readyz, /metrics."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, jsonify, request

from gateway.instance import schema_problem
from gateway.observability.metrics import exposition
from gateway.web import current_gateway

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers (liveness: restart it when this fails)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database answers and has this version's schema (readiness: send traffic)."""
    problem = schema_problem(current_gateway())
    if problem:
        return jsonify(status="unavailable", reason=problem), 503
    return jsonify(status="ok")


@bp.get("/metrics")
def metrics():
    """Prometheus text format, for a scraper holding PUNCHGATE_METRICS_TOKEN."""
    token = current_gateway().settings.metrics_token
    if not token:
        # Not exposed here; PUNCHGATE_METRICS_BIND serves it on a private address.
        abort(404)
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(presented.encode(), token.encode()):
        return Response(
            "metrics need Authorization: Bearer PUNCHGATE_METRICS_TOKEN\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    body, content_type = exposition(current_gateway())
    return Response(body, content_type=content_type)
