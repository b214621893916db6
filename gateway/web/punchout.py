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
    try:
        with gateway.db.transaction() as db:
            session, session_token = sessions.start(db, token, gateway.settings.session_ttl_seconds)
            selected = session.selected_sku
    except sessions.SessionError as exc:
        return (
            render_template("error.html", title="Punchout link not usable", message=exc.message),
            exc.status,
        )
    if selected:
        return redirect(url_for("shop.product", sku=selected, session=session_token))
    return redirect(url_for("shop.index", session=session_token))
