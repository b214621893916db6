"""/support: the support console (sign-in required, CSRF on every form, audited)."""

from __future__ import annotations

import functools
import hmac
import secrets
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from gateway import money
from gateway.models import Agent, OutboxMessage, PunchoutSession, utcnow
from gateway.profiles.service import profile_summary
from gateway.ranges import INT_MAX
from gateway.sessions.events import record
from gateway.sessions.lost_carts import cart_document, lost_cart
from gateway.support import accounts, alerts, on_behalf, queries, reports
from gateway.web import current_gateway

bp = Blueprint("support", __name__, url_prefix="/support")


MAX_ID = 2**31 - 1


@bp.before_request
def load_agent():
    g.agent = None
    agent_id = session.get("agent_id")
    if agent_id is not None:
        with current_gateway().db.transaction() as db:
            g.agent = db.get(Agent, agent_id)
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf_token", "")
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(400, "The form is missing its security token. Reload the page and try again.")


@bp.before_request
def refuse_unusable_input():
    """NUL bytes and ids past the database's integers answer 400/404, never 500."""
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            if "\x00" in name or "\x00" in value:
                abort(400, f"The field {name[:40]!r} contains a NUL byte.")
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and value > MAX_ID:
            abort(404, f"No {name.removesuffix('_pk').removesuffix('_id')} {value}.")
        if isinstance(value, str) and "\x00" in value:
            abort(404, "Nothing is called that.")


@bp.app_context_processor
def csrf_token():
    def token() -> str:
        if "csrf_token" not in session:
            session["csrf_token"] = secrets.token_urlsafe(32)
        return session["csrf_token"]

    return {"csrf_token": token}


def signed_in(admin: bool = False):
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if g.agent is None:
                return redirect(url_for("support.sign_in", next=request.full_path))
            if admin and g.agent.role != "admin":
                abort(403, "This page is for administrators.")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def audit(action: str, target: str | None = None, /, **data) -> None:
    with current_gateway().db.transaction() as db:
        accounts.audit(db, g.agent, g.agent.email, action, target, data)


@bp.app_template_filter("amount")
def amount_filter(value) -> str:
    """Money as the console shows it, the same on every database: 12.9000 -> 12.90."""
    return "—" if value is None else money.amount(value)


@bp.app_template_filter("qty")
def quantity_filter(value) -> str:
    return "—" if value is None else money.quantity(value)


@bp.app_template_filter("fromjson")
def fromjson(text: str) -> dict:
    import json

    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@bp.app_template_filter("pretty_xml")
def pretty_xml(text: str | None) -> str:
    """Stored documents indented for reading (already redacted; escaped by Jinja)."""
    if not text or not text.lstrip().startswith("<"):
        return text or ""
    from lxml import etree

    from gateway.xml import MalformedXML, UnsafeXML, parse

    try:
        root = parse(text.encode("utf-8")).root
    except (MalformedXML, UnsafeXML, ValueError):
        return text
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode")


@bp.route("/login", methods=["GET", "POST"])
def sign_in():
    error = None
    if request.method == "POST":
        gateway = current_gateway()
        refused = None
        with gateway.db.transaction() as db:
            try:
                agent = accounts.sign_in(
                    db, gateway.box, request.form.get("email", ""), request.form.get("password", "")
                )
                agent_id = agent.id
            except accounts.SignInRefused as exc:
                refused = exc
        if refused is None:
            session.clear()
            session["agent_id"] = agent_id
            session["csrf_token"] = secrets.token_urlsafe(32)
            target = request.args.get("next", "")
            # Only local paths: never an open redirect to another site.
            if not target.startswith("/support") or target.startswith("//"):
                target = url_for("support.sessions")
            return redirect(target)
        error = refused.message
    return render_template("support/login.html", error=error), 401 if error else 200


@bp.post("/logout")
@signed_in()
def sign_out():
    audit("sign_out")
    session.clear()
    return redirect(url_for("support.sign_in"))


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.get("/")
@signed_in()
def sessions():
    args = request.args
    try:
        before = int(args["before"]) if args.get("before") else None
    except ValueError:
        before = None
    if before is not None and not 0 < before <= INT_MAX:
        abort(400, f"before must be a session number from 1 to {INT_MAX}")
    f = queries.SessionFilter(
        buyer=args.get("buyer") or None,
        user=args.get("user") or None,
        status=args.get("status") or None,
        protocol=args.get("protocol") or None,
        day_from=_day(args.get("from")),
        day_to=_day(args.get("to")),
        q=(args.get("q") or "").strip() or None,
        before=before,
    )
    with current_gateway().db.transaction() as db:
        rows, cursor = queries.list_sessions(db, f)
        buyer_list = queries.buyers(db)
        thresholds = alerts.Thresholds.from_settings(current_gateway().settings)
        cache = current_app.extensions.setdefault("punchgate.alert_strip", {})
        strip = alerts.strip(db, thresholds, cache)
        page = render_template(
            "support/sessions.html",
            alerts=strip,
            rows=rows,
            lines=queries.line_counts(db, rows),
            cursor=cursor,
            f=f,
            buyers=buyer_list,
            statuses=queries.STATUSES,
        )
    audit("sessions.list", None, **{k: v for k, v in args.items() if v})
    return page


@bp.get("/sessions/<int:session_id>")
@signed_in()
def session_page(session_id: int):
    with current_gateway().db.transaction() as db:
        detail = queries.session_detail(db, session_id)
        if detail is None:
            abort(404, f"No session {session_id}.")
        session_ = detail["session"]
        page = render_template(
            "support/session.html",
            profile=profile_summary(session_.buyer),
            profile_events=[e for e in detail["events"] if e.kind.startswith("profile.")],
            lost=lost_cart(db, session_),
            has_document=cart_document(db, session_id) is not None,
            **detail,
        )
    audit("session.view", f"session {session_id}")
    return page


@bp.get("/sessions/<int:session_id>/cart-document")
@signed_in()
def cart_download(session_id: int):
    """The exact cart sent to the buyer, to forward to the buyer's admin."""
    with current_gateway().db.transaction() as db:
        document = cart_document(db, session_id)
    if document is None:
        abort(404, f"Session {session_id} sent no cart.")
    audit("session.cart_download", f"session {session_id}")
    return Response(
        document.text,
        mimetype=document.content_type,
        headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
    )


@bp.get("/orders/<int:order_pk>")
@signed_in()
def order_page(order_pk: int):
    with current_gateway().db.transaction() as db:
        journey = queries.order_journey(db, order_pk)
        if journey is None:
            abort(404, f"No order {order_pk}.")
        page = render_template("support/order.html", **journey)
    audit("order.view", f"order {order_pk}")
    return page


@bp.get("/buyers")
@signed_in()
def buyers_health():
    try:
        days = min(max(int(request.args.get("days", 30)), 1), 365)
    except ValueError:
        days = 30
    gateway = current_gateway()
    with gateway.db.transaction() as db:
        rows, as_of = reports.health(db, gateway.settings.report_max_age, days=days)
        page = render_template("support/buyers.html", rows=rows, days=days, as_of=as_of)
    audit("buyers.health")
    return page


@bp.get("/callers")
@signed_in()
def callers():
    term = (request.args.get("q") or "").strip()
    with current_gateway().db.transaction() as db:
        found = queries.callers(db, term) if len(term) >= 2 else []
        page = render_template("support/callers.html", term=term, found=found)
    if term:
        audit("callers.lookup", term)
    return page


@bp.post("/users/<int:user_id>/on-behalf")
@signed_in()
def on_behalf_open(user_id: int):
    """Open the storefront as this buyer user (the banner and the audit log say so)."""
    gateway = current_gateway()
    try:
        with gateway.db.transaction() as db:
            shopping, token = on_behalf.open_for(
                db, db.get(Agent, g.agent.id), user_id, gateway.settings.session_ttl_seconds
            )
            session_id = shopping.id
    except on_behalf.OnBehalfRefused as exc:
        abort(exc.status, exc.message)
    audit("on_behalf.open", f"user {user_id}", session=session_id)
    return redirect(url_for("shop.index", session=token))


def _finish_on_behalf(session_id: int, action: str, finish):
    """Save or place an on-behalf cart; a refusal is logged and shown with a way back."""
    gateway = current_gateway()
    try:
        with gateway.db.transaction() as db:
            result = finish(db, db.get(Agent, g.agent.id))
    except on_behalf.OnBehalfRefused as exc:
        with gateway.db.transaction() as db:
            refused = db.get(PunchoutSession, session_id)
            if refused is not None:
                record(
                    db,
                    f"on_behalf.{action}_refused",
                    exc.message,
                    buyer_id=refused.buyer_id,
                    session_id=session_id,
                    level="warning",
                )
        audit(f"on_behalf.{action}_refused", f"session {session_id}", reason=exc.message)
        token = request.form.get("session", "")
        back = url_for("shop.cart", session=token) if token else None
        return (
            render_template("error.html", title="Not done", message=exc.message, back=back),
            exc.status,
        )
    audit(f"on_behalf.{action}", f"session {session_id}", **result)
    return redirect(url_for("support.session_page", session_id=session_id))


@bp.post("/on-behalf/<int:session_id>/save")
@signed_in()
def on_behalf_save(session_id: int):
    def finish(db, agent):
        on_behalf.save(db, agent, session_id)
        return {}

    return _finish_on_behalf(session_id, "save", finish)


@bp.post("/on-behalf/<int:session_id>/place")
@signed_in()
def on_behalf_place(session_id: int):
    def finish(db, agent):
        order = on_behalf.place(
            db,
            agent,
            session_id,
            request.form.get("reference", ""),
            request.form.get("comment", ""),
        )
        return {"order": order.id, "order_id": order.order_id}

    return _finish_on_behalf(session_id, "place", finish)


@bp.get("/outbox")
@signed_in(admin=True)
def outbox():
    from sqlalchemy import select

    with current_gateway().db.transaction() as db:
        rows = list(
            db.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status != "sent")
                .order_by(OutboxMessage.id.desc())
                .limit(200)
            )
        )
        page = render_template("support/outbox.html", rows=rows)
    audit("outbox.view")
    return page


@bp.post("/outbox/<int:message_id>/retry")
@signed_in(admin=True)
def retry(message_id: int):
    with current_gateway().db.transaction() as db:
        message = db.get(OutboxMessage, message_id)
        if message is None:
            abort(404, f"No outbound message {message_id}.")
        message.status, message.next_attempt_at, message.lease_until = "pending", utcnow(), None
        if message.attempts >= current_gateway().settings.outbox_max_attempts:
            message.attempts = 0  # a fresh set of attempts
    audit("outbox.retry", f"outbox {message_id}")
    return redirect(url_for("support.outbox"))


# The phone pages (requests, orders, search, buyers, users, audit, alerts) add their
# routes to this blueprint.
from gateway.web import support_pages  # noqa: E402, F401
