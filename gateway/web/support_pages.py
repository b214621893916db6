"""/support pages for the phone: requests, orders, one search box, buyers and their users,
the audit log and alerts. Routes of the support blueprint (see gateway/web/support.py)."""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, g, redirect, render_template, request, url_for
from sqlalchemy import select

from gateway.models import Agent, Buyer, User
from gateway.profiles.service import profile_summary, recent_outcomes
from gateway.support import accounts, alerts, buyers, queries, reports, search, users
from gateway.support import orders as order_search
from gateway.support import requests as request_log
from gateway.web import current_gateway
from gateway.web.support import MAX_ID, audit, bp, signed_in


def _text(name: str, limit: int = 300) -> str | None:
    value = (request.args.get(name) or "").strip()
    if len(value) > limit:
        abort(400, f"The filter {name!r} is longer than {limit} characters.")
    return value or None


def _id(name: str) -> int | None:
    value = _text(name, 20)
    if value is None:
        return None
    if not value.isdigit() or not 0 < int(value) <= MAX_ID:
        abort(400, f"The filter {name!r} must be a whole number between 1 and {MAX_ID}.")
    return int(value)


def _since(name: str) -> datetime | None:
    value = _text(name, 40)
    try:
        return request_log.parse_since(value) if value else None
    except ValueError as exc:
        abort(400, f"The filter {name!r}: {exc}")


def _buyer_filter(db) -> str | None:
    buyer = _text("buyer", 64)
    if buyer and db.get(Buyer, buyer) is None:
        abort(404, f"No buyer {buyer!r} is configured on this gateway.")
    return buyer


@bp.get("/requests")
@signed_in()
def requests_page():
    with current_gateway().db.transaction() as db:
        channel = _text("channel", 20)
        if channel and channel not in request_log.CHANNELS:
            abort(400, f"The channel must be one of {', '.join(request_log.CHANNELS)}.")
        f = request_log.RequestFilter(
            failed=request.args.get("failed") in ("1", "on", "true"),
            buyer=_buyer_filter(db),
            doc_type=_text("type", 60),
            channel=channel,
            since=_since("since"),
            until=_since("until"),
            q=_text("q"),
            before=_id("before"),
        )
        rows, cursor = request_log.list_requests(db, f)
        page = render_template(
            "support/requests.html",
            rows=rows,
            cursor=cursor,
            f=f,
            args={k: v for k, v in request.args.items() if k != "before"},
            buyers=queries.buyers(db),
            types=request_log.DOC_TYPES,
            channels=request_log.CHANNELS,
        )
    audit("requests.list", None, **{k: v for k, v in request.args.items() if v})
    return page


@bp.get("/requests/<int:request_pk>")
@signed_in()
def request_page(request_pk: int):
    with current_gateway().db.transaction() as db:
        detail = request_log.request_detail(db, request_pk) if request_pk <= MAX_ID else None
        if detail is None:
            abort(404, f"No request {request_pk} in the request log (it may have been purged).")
        page = render_template("support/request.html", **detail)
    audit("request.view", f"request {request_pk}")
    return page


@bp.get("/orders")
@signed_in()
def orders_page():
    with current_gateway().db.transaction() as db:
        status = _text("status", 20)
        if status and status not in order_search.STATES:
            abort(400, f"The state must be one of {', '.join(order_search.STATES)}.")
        try:
            cursor = order_search.parse_cursor(_text("after", 12))
        except ValueError as exc:
            abort(400, str(exc))
        f = order_search.OrderFilter(
            q=_text("q"),
            buyer=_buyer_filter(db),
            status=status,
            flagged_only=request.args.get("flagged") in ("1", "on", "true"),
            cursor=cursor,
        )
        rows, after = order_search.list_orders(db, f)
        page = render_template(
            "support/orders.html",
            rows=rows,
            info=order_search.page_details(db, rows),
            after=order_search.format_cursor(after),
            f=f,
            args={k: v for k, v in request.args.items() if k != "after"},
            buyers=queries.buyers(db),
            states=order_search.STATES,
        )
    audit("orders.list", None, **{k: v for k, v in request.args.items() if v})
    return page


@bp.get("/search")
@signed_in()
def search_page():
    term = _text("q") or _text("find") or ""  # find: the box on every page's top bar
    with current_gateway().db.transaction() as db:
        found = search.search(db, term) if term else {}
        hits = [(kind, item) for kind, items in found.items() for item in items]
        page = render_template("support/search.html", term=term, found=found, hits=len(hits))
    if term:
        audit("search", term[:200], hits=len(hits))
    if len(hits) == 1:
        kind, item = hits[0]
        return redirect(_link(kind, item))
    return page


def _link(kind: str, item) -> str:
    if kind == "buyers":
        return url_for("support.buyer_page", buyer_id=item.id)
    if kind == "users":
        return url_for("support.buyer_page", buyer_id=item.buyer_id, _anchor=f"user-{item.id}")
    if kind == "sessions":
        return url_for("support.session_page", session_id=item.id)
    if kind == "orders":
        return url_for("support.order_page", order_pk=item.id)
    return url_for("support.request_page", request_pk=item.id)


def _buyer_or_404(db, buyer_id: str) -> Buyer:
    buyer = db.get(Buyer, buyer_id[:64]) if "\x00" not in buyer_id else None
    if buyer is None:
        abort(404, f"No buyer {buyer_id[:64]!r} is configured on this gateway.")
    return buyer


@bp.get("/buyers/<buyer_id>")
@signed_in()
def buyer_page(buyer_id: str):
    gateway = current_gateway()
    with gateway.db.transaction() as db:
        buyer = _buyer_or_404(db, buyer_id)
        health, as_of = reports.health(db, gateway.settings.report_max_age, only=buyer.id)
        page = render_template(
            "support/buyer.html",
            **buyers.buyer_page(db, buyer.id),
            health=next(iter(health), None),
            health_as_of=as_of,
            profile=profile_summary(buyer),
            profile_events=recent_outcomes(db, buyer.id),
            roles=users.known_roles(buyer),
            can_manage=g.agent.role == "admin",
        )
    audit("buyer.view", f"buyer {buyer_id}")
    return page


@bp.get("/buyers/<buyer_id>/adoption")
@signed_in()
def adoption_page(buyer_id: str):
    """Adoption month by month: a report over a year of sessions and orders, so on its
    own page rather than on every view of the buyer."""
    with current_gateway().db.transaction() as db:
        buyer = _buyer_or_404(db, buyer_id)
        rows, as_of = reports.adoption(db, buyer.id, current_gateway().settings.report_max_age)
        page = render_template("support/adoption.html", buyer=buyer, adoption=rows, as_of=as_of)
    audit("buyer.adoption", f"buyer {buyer_id}")
    return page


@bp.get("/buyers/<buyer_id>/adoption.csv")
@signed_in()
def adoption_csv(buyer_id: str):
    with current_gateway().db.transaction() as db:
        buyer = _buyer_or_404(db, buyer_id)
        rows, _ = reports.adoption(db, buyer.id, current_gateway().settings.report_max_age)
        body = buyers.adoption_csv(rows)
    audit("buyer.adoption_export", f"buyer {buyer_id}")
    return Response(
        body,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="adoption-{buyer.id}.csv"'},
    )


def _user_change(buyer_id: str, action: str, change, *, admin: bool):
    """Run one change to a buyer's users; a refusal is a console page with the way back."""
    if admin and g.agent.role != "admin":
        abort(403, "Only administrators may disable users or change their roles.")
    back = url_for("support.buyer_page", buyer_id=buyer_id)
    try:
        with current_gateway().db.transaction() as db:
            buyer = _buyer_or_404(db, buyer_id)
            target = change(db, buyer)
    except users.UserChangeRefused as exc:
        audit(f"user.{action}_refused", f"buyer {buyer_id}", reason=exc.message)
        return (
            render_template("support/error.html", title="Not done", message=exc.message, back=back),
            exc.status,
        )
    audit(f"user.{action}", target, buyer=buyer_id)
    return redirect(back + "#users")


def _user_of(db, buyer: Buyer, user_id: int) -> User:
    user = db.get(User, user_id) if user_id <= MAX_ID else None
    if user is None or user.buyer_id != buyer.id:
        abort(404, f"No user {user_id} at buyer {buyer.id!r}.")
    return user


def _form_roles() -> list[str]:
    return [r for r in request.form.getlist("roles") if r][:20]


@bp.post("/buyers/<buyer_id>/users")
@signed_in()
def user_add(buyer_id: str):
    def change(db, buyer):
        user = users.add_user(
            db,
            buyer,
            request.form.get("email", "")[:320],
            request.form.get("name", "")[:200],
            _form_roles(),
        )
        return f"user {user.id} {user.email}"

    return _user_change(buyer_id, "add", change, admin=False)


@bp.post("/buyers/<buyer_id>/users/<int:user_id>/enable")
@signed_in()
def user_enable(buyer_id: str, user_id: int):
    def change(db, buyer):
        user = _user_of(db, buyer, user_id)
        users.set_enabled(db, user, True)
        return f"user {user.id} {user.email}"

    return _user_change(buyer_id, "enable", change, admin=False)


@bp.post("/buyers/<buyer_id>/users/<int:user_id>/disable")
@signed_in()
def user_disable(buyer_id: str, user_id: int):
    def change(db, buyer):
        user = _user_of(db, buyer, user_id)
        users.set_enabled(db, user, False)
        return f"user {user.id} {user.email}"

    return _user_change(buyer_id, "disable", change, admin=True)


@bp.post("/buyers/<buyer_id>/users/<int:user_id>/roles")
@signed_in()
def user_roles(buyer_id: str, user_id: int):
    def change(db, buyer):
        user = _user_of(db, buyer, user_id)
        users.set_roles(db, buyer, user, _form_roles())
        return f"user {user.id} {user.email}"

    return _user_change(buyer_id, "roles", change, admin=True)


@bp.get("/audit")
@signed_in(admin=True)
def audit_page():
    with current_gateway().db.transaction() as db:
        agent, action = _text("agent", 320), _text("action", 60)
        rows, cursor = accounts.audit_entries(db, agent, action, _id("before"))
        agent_list = list(db.scalars(select(Agent.email)))
        page = render_template(
            "support/audit.html",
            rows=rows,
            cursor=cursor,
            agent=agent,
            action=action,
            agents=sorted(agent_list),
        )
    audit("audit.view", None, **{k: v for k, v in request.args.items() if v})
    return page


@bp.get("/alerts")
@signed_in()
def alerts_page():
    gateway = current_gateway()
    with gateway.db.transaction() as db:
        found = alerts.current(db, alerts.Thresholds.from_settings(gateway.settings))
        page = render_template("support/alerts.html", alerts=found)
    audit("alerts.view")
    return page
