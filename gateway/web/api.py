"""/api/v1/punchout: the JSON session API used by storefronts (the embedded one too)."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from gateway import catalog
from gateway.catalog.products import product_view
from gateway.catalog.search import SORTS
from gateway.sessions import service as sessions
from gateway.sessions.events import record
from gateway.sessions.transfer import TransferHeld
from gateway.sessions.transfer import transfer as transfer_cart
from gateway.support import requests as request_log
from gateway.web import current_gateway
from gateway.web.request_log import save_in as request_log_row
from gateway.web.session_auth import punchout_session, session_token

bp = Blueprint("api", __name__, url_prefix="/api/v1/punchout")


def _error(exc: sessions.SessionError):
    return jsonify(error=exc.message), exc.status


def _body() -> dict:
    data = request.get_json(silent=True)
    if isinstance(data, dict):
        return data
    return request.form.to_dict()


def _logged_failure(db, session, call: str, exc: sessions.SessionError) -> None:
    record(
        db,
        "api.refused",
        f"{call}: {exc.message}",
        buyer_id=session.buyer_id,
        session_id=session.id,
        level="warning",
        data={"status": exc.status},
    )


@bp.get("/session")
def get_session():
    gateway = current_gateway()
    try:
        with gateway.db.transaction() as db:
            session = punchout_session(db, session_token())
            record(
                db, "api.session", "session read", buyer_id=session.buyer_id, session_id=session.id
            )
            return jsonify(sessions.session_view(session))
    except sessions.SessionError as exc:
        return _error(exc)


@bp.get("/products")
def products():
    """Search the catalog as the storefront does (same search, same role restrictions)."""
    gateway = current_gateway()
    args = request.args
    try:
        limit = min(max(int(args.get("limit", 24)), 1), 100)
        offset = min(max(int(args.get("offset", 0)), 0), 100_000)
    except ValueError:
        return jsonify(error="limit and offset must be whole numbers"), 400
    sort = args.get("sort", "relevance")
    if sort not in SORTS:
        return jsonify(error=f"sort must be one of {', '.join(SORTS)}"), 400
    try:
        with gateway.db.transaction() as db:
            session = punchout_session(db, session_token())
            perms = sessions.permissions_of(session)
            found = catalog.search(
                db,
                session.buyer_id,
                args.get("q", "")[:200],
                category=args.get("category") or None,
                manufacturer=args.get("manufacturer") or None,
                sort=sort,
                limit=limit,
                offset=offset,
                allowed=perms.categories,
            )
            return jsonify(
                total=found.total,
                items=[product_view(i, perms.show_prices) for i in found.items],
                facets={
                    "category": [{"value": f.value, "count": f.count} for f in found.categories],
                    "manufacturer": [
                        {"value": f.value, "count": f.count} for f in found.manufacturers
                    ],
                },
            )
    except sessions.SessionError as exc:
        return _error(exc)


def _cart_change(call: str, change):
    gateway = current_gateway()
    try:
        # A click the user sees answered and makes again if a database crash lost it: it
        # need not wait for the disk (the transfer that sends the cart back does).
        with gateway.db.transaction(durable=False) as db:
            session = punchout_session(db, session_token(), lock=True)
            try:
                lines = change(db, session)
            except sessions.SessionError as exc:
                _logged_failure(db, session, call, exc)
                failure = exc
            else:
                failure = None
                # The request log's row commits with the change: one commit per click.
                logged = request_log_row(db, 200)
        if failure is not None:
            return _error(failure)
        if logged:
            request_log.saved()
        # Built after the commit (on SQLite the transaction holds the write lock), from
        # the lines the change read and wrote: no second read.
        return jsonify(sessions.cart_view(session, lines=lines))
    except sessions.SessionError as exc:
        return _error(exc)


@bp.post("/cart/items")
def add_item():
    data = _body()

    def change(db, session):
        sku = str(data.get("sku") or "").strip()
        if not sku:
            raise sessions.SessionError("sku is required")
        quantity = sessions.parse_quantity(data.get("quantity", 1))
        if quantity == 0:
            raise sessions.SessionError("quantity must be more than 0")
        return sessions.set_quantity(db, session, sku, quantity, add=True)

    return _cart_change("add item", change)


@bp.put("/cart/items/<path:sku>")
def set_item(sku: str):
    data = _body()

    def change(db, session):
        if "quantity" not in data:
            raise sessions.SessionError("quantity is required")
        return sessions.set_quantity(db, session, sku, sessions.parse_quantity(data["quantity"]))

    return _cart_change("set quantity", change)


@bp.delete("/cart/items/<path:sku>")
def delete_item(sku: str):
    return _cart_change("remove item", lambda db, session: sessions.remove(db, session, sku))


@bp.post("/transfer")
def transfer():
    """Close the session; answer the page whose form carries the cart to the buyer."""
    gateway = current_gateway()
    held = None
    try:
        with gateway.db.transaction() as db:
            session = punchout_session(db, session_token())
            try:
                form = transfer_cart(
                    db,
                    session,
                    gateway.settings.default_cxml_version,
                    gateway.settings.cxml_dtd_dir,
                )
            except TransferHeld as exc:
                # Logged by the pre-flight; the cart page shows each problem on its line.
                held = exc
            except sessions.SessionError as exc:
                _logged_failure(db, session, "transfer", exc)
                failure = exc
            else:
                return render_template("transfer.html", form=form, buyer=session.buyer)
        if held is not None:
            if request.accept_mimetypes.best == "application/json":
                return jsonify(error=held.message, problems=held.problems), held.status
            return redirect(url_for("shop.cart", session=session_token(), held=1))
        raise failure
    except sessions.SessionError as exc:
        if request.accept_mimetypes.best == "application/json":
            return _error(exc)
        return render_template("error.html", title="Cart not sent", message=exc.message), exc.status
