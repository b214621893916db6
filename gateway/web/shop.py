"""/shop: the embedded storefront (browse, search, product, cart, transfer).

Pages carry the session token in links and forms; cart forms work without
JavaScript and shop.js upgrades them to calls of the JSON session API.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from urllib.parse import quote_plus

from flask import Blueprint, abort, redirect, render_template, request, url_for

from gateway import catalog, money
from gateway.catalog import aggregates
from gateway.models import utcnow
from gateway.profiles import service as profiles
from gateway.sessions import service as sessions
from gateway.sessions.events import record
from gateway.sessions.transfer import cancel as cancel_cart
from gateway.web import current_gateway
from gateway.web.session_auth import punchout_session, session_token

bp = Blueprint("shop", __name__, url_prefix="/shop")
PAGE_SIZE = 24
# Deeper than any catalog; bounds the OFFSET a query string can ask for.
MAX_PAGE = 100_000


def _keep_alive(session) -> int | None:
    """Seconds until the storefront warns that the buyer-side session may expire."""
    minutes = profiles.rules_of(session.buyer).session_minutes
    if not minutes or session.status != "open" or session.protocol == "support":
        return None
    started = session.started_at or session.created_at
    lead = min(300, minutes * 15)  # 5 minutes ahead, a quarter of a short session
    warn_at = started + timedelta(seconds=minutes * 60 - lead)
    return max(0, int((warn_at - utcnow()).total_seconds()))


@bp.app_template_filter("qty")
def qty_filter(value) -> str:
    """A quantity as people write it: 10, 2.5 (never 10.0000)."""
    return money.quantity(value)


def _page(template: str, db, session, token: str, *, perms=None, **context):
    """The page, to render once the transaction is over: on SQLite a request that writes
    (the cart page, a cart change) holds the database's write lock from its first
    statement to its commit, and rendering inside it kept the other workers waiting for
    as long as the page took. Browsing and search only read (``Database.reading``)."""
    if perms is None:
        perms = sessions.permissions_of(session)
    if template == "shop/cart.html":
        cart = sessions.cart_view(session, show_prices=perms.show_prices)
        cart_count = len(cart["items"])
    else:
        # The other pages show only how many lines the cart has.
        cart, cart_count = None, sessions.cart_size(db, session)
    return functools.partial(
        render_template,
        template,
        session=session,
        token=token,
        buyer=session.buyer,
        user=session.user,
        cart=cart,
        cart_count=cart_count,
        read_only=session.operation == "inspect" or session.status != "open",
        categories=catalog.categories(db, perms.categories),
        show_prices=perms.show_prices,
        supplier=aggregates.supplier_name(db) or "Catalog",
        warn_in=_keep_alive(session),
        **context,
    )


def _error(exc: sessions.SessionError):
    return render_template("error.html", title="Punchout session", message=exc.message), exc.status


def _here(token: str, **current):
    """Links to this result page with some parameters changed (None drops one).

    The same URL as ``url_for("shop.index", session=token, **params)``, with the route
    built once per page: a result page has some sixty of these links (facets, pager) and
    building each through the URL map cost more than the rest of the template.
    """
    prefix = f"{url_for('shop.index')}?session={quote_plus(str(token), safe=URL_SAFE)}"

    def link(**changes) -> str:
        parts = [prefix]
        for key, value in {**current, **changes}.items():
            if value not in (None, "", 1):
                parts.append(f"&{key}={_quoted(value)}")
        return "".join(parts)

    return link


@functools.lru_cache(maxsize=4096)
def _quoted(value) -> str:
    """A query string value as werkzeug's url_for writes it (facet values repeat on every
    page: each is quoted once per process)."""
    return quote_plus(str(value), safe=URL_SAFE)


# What werkzeug leaves unquoted in a query string (werkzeug.urls._urlencode).
URL_SAFE = "!$'()*,/:;?@"


SORTS = {"relevance": "Relevance", "price": "Price, low to high", "-price": "Price, high to low"}


@bp.get("/")
def index():
    gateway = current_gateway()
    token = session_token()
    query = request.args.get("q", "").strip()[:200]
    category = request.args.get("category") or None
    manufacturer = request.args.get("manufacturer") or None
    sort = request.args.get("sort", "relevance")
    if sort not in SORTS:
        sort = "relevance"
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    if page > MAX_PAGE:
        abort(400, f"page must be between 1 and {MAX_PAGE}")
    try:
        # Reads only (a search's event is written after it): see Database.reading.
        with gateway.db.reading() as db:
            session = punchout_session(db, token)
            perms = sessions.permissions_of(session)
            found = catalog.search(
                db,
                session.buyer_id,
                query,
                category=category,
                manufacturer=manufacturer,
                sort=sort,
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
                allowed=perms.categories,
            )
            if query:
                record(
                    db,
                    "shop.search",
                    f"searched {query!r}: {found.total} hit(s)",
                    buyer_id=session.buyer_id,
                    session_id=session.id,
                    data={"query": query, "hits": found.total},
                )
            render = _page(
                "shop/index.html",
                db,
                session,
                token,
                perms=perms,
                products=found.items,
                total=found.total,
                facets={"category": found.categories, "manufacturer": found.manufacturers},
                query=query,
                category=category,
                manufacturer=manufacturer,
                sort=sort,
                sorts=SORTS,
                here=_here(
                    token,
                    q=query,
                    category=category,
                    manufacturer=manufacturer,
                    sort=None if sort == "relevance" else sort,
                    page=page,
                ),
                page=page,
                pages=max(1, (found.total + PAGE_SIZE - 1) // PAGE_SIZE),
            )
    except sessions.SessionError as exc:
        return _error(exc)
    return render()


@bp.get("/product/<path:sku>")
def product(sku: str):
    gateway = current_gateway()
    token = session_token()
    try:
        with gateway.db.reading() as db:
            session = punchout_session(db, token)
            found = catalog.product_for(db, session.buyer_id, sku)
            if found is not None and not sessions.permissions_of(session).sees(
                found.product.category
            ):
                found = None
            if found is None:
                record(
                    db,
                    "shop.missing",
                    f"product {sku!r} is not in the catalog",
                    buyer_id=session.buyer_id,
                    session_id=session.id,
                    level="warning",
                )
                render, status = _page("shop/missing.html", db, session, token, sku=sku), 404
            else:
                render, status = _page("shop/product.html", db, session, token, item=found), 200
    except sessions.SessionError as exc:
        return _error(exc)
    return render(), status


@bp.get("/cart")
def cart():
    gateway = current_gateway()
    token = session_token()
    try:
        # Reads only, as the catalog pages (see Database.reading): the cart's checks
        # record nothing, and the page's event is written after.
        with gateway.db.reading() as db:
            session = punchout_session(db, token)
            problems: dict[str, list[str]] = {}
            if session.status == "open" and session.protocol != "support":
                outcome = profiles.preflight(db, session)
                for problem in outcome.problems:
                    problems.setdefault(problem.sku, []).append(problem.message)
            render = _page(
                "shop/cart.html",
                db,
                session,
                token,
                problems=problems,
                held=bool(request.args.get("held")),
                system=profiles.rules_of(session.buyer).system,
            )
    except sessions.SessionError as exc:
        return _error(exc)
    return render()


@bp.post("/cancel")
def cancel():
    """Cancel and return: close the session without a cart, as the buyer's profile says."""
    gateway = current_gateway()
    token = session_token()
    try:
        with gateway.db.transaction() as db:
            session = punchout_session(db, token)
            outcome = cancel_cart(db, session, gateway.settings.default_cxml_version)
            buyer_name = session.buyer.name
    except sessions.SessionError as exc:
        return _error(exc)
    if outcome.form is not None:
        return render_template("transfer.html", form=outcome.form, buyer={"name": buyer_name})
    if outcome.url:
        return redirect(outcome.url)
    return render_template(
        "error.html",
        title="Punchout cancelled",
        message=f"Nothing was sent to {buyer_name}. You can close this window and "
        "return to your procurement system.",
    )


@bp.post("/cart")
def change_cart():
    """The no-JavaScript path for add, update and remove."""
    gateway = current_gateway()
    token = session_token()
    action = request.form.get("action", "add")
    sku = request.form.get("sku", "").strip()
    back = request.form.get("back") == "product"
    try:
        # As the cart API's changes: made again if lost, the transfer waits for the disk.
        with gateway.db.transaction(durable=False) as db:
            session = punchout_session(db, token, lock=True)
            try:
                if action == "remove":
                    sessions.remove(db, session, sku)
                else:
                    quantity = sessions.parse_quantity(request.form.get("quantity", "1"))
                    sessions.set_quantity(db, session, sku, quantity, add=action == "add")
            except sessions.SessionError as exc:
                record(
                    db,
                    "shop.refused",
                    f"{action} {sku}: {exc.message}",
                    buyer_id=session.buyer_id,
                    session_id=session.id,
                    level="warning",
                )
                failure = exc
            else:
                failure = None
        if failure:
            return _error(failure)
    except sessions.SessionError as exc:
        return _error(exc)
    if back:
        return redirect(url_for("shop.product", sku=sku, session=token, added=1))
    return redirect(url_for("shop.cart", session=token))
