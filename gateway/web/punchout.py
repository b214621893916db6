"""GET /punchout/start/<token>: the StartPage, single use and short-lived."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from gateway.sessions import service as sessions
from gateway.web import current_gateway

bp = Blueprint("punchout", __name__)


@bp.route("/punchout/start/<token>", methods=["GET", "HEAD"])
def start(token: str):
    if request.method == "HEAD":
        # Link checkers and previewers probe with HEAD; they must not use up the link.
        return "", 200
    gateway = current_gateway()
    with gateway.db.transaction() as db:
        outcome = sessions.start(db, token, gateway.settings.session_ttl_seconds)
    if outcome.refused:
        message = outcome.refused.message
        return (
            render_template("error.html", title="Punchout link not usable", message=message),
            outcome.refused.status,
        )
    sku = outcome.session.selected_sku
    if sku:
        return redirect(url_for("shop.product", sku=sku, session=outcome.session_token))
    return redirect(url_for("shop.index", session=outcome.session_token))
