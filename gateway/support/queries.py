"""What the console shows: sessions (filtered, searched, paged by key) and one session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from gateway import money, wildcards
from gateway.models import (
    Buyer,
    CartLine,
    Event,
    Order,
    OutboxMessage,
    PunchoutSession,
    User,
    utcnow,
)

STATUSES = ("open", "transferred", "ordered", "abandoned", "failed", "saved", "loaded")
PAGE = 50


@dataclass(frozen=True)
class SessionFilter:
    buyer: str | None = None
    user: str | None = None  # email or unique name
    status: str | None = None
    protocol: str | None = None
    day_from: date | None = None
    day_to: date | None = None
    q: str | None = None  # email, PO number or BuyerCookie
    before: int | None = None  # keyset cursor: sessions with a smaller id


def list_sessions(
    db: Session, f: SessionFilter, limit: int = PAGE
) -> tuple[list[PunchoutSession], int | None]:
    """A page of sessions, newest first, and the cursor for the next page."""
    stmt = select(PunchoutSession).options(
        joinedload(PunchoutSession.user), joinedload(PunchoutSession.buyer)
    )
    if f.buyer:
        stmt = stmt.where(PunchoutSession.buyer_id == f.buyer)
    if f.status in ("open", "abandoned"):
        expired = PunchoutSession.expired
        stmt = stmt.where(
            PunchoutSession.status == "open", expired if f.status == "abandoned" else ~expired
        )
    elif f.status:
        stmt = stmt.where(PunchoutSession.status == f.status)
    if f.protocol:
        stmt = stmt.where(PunchoutSession.protocol == f.protocol)
    if f.day_from:
        stmt = stmt.where(
            PunchoutSession.created_at >= datetime.combine(f.day_from, time.min, tzinfo=UTC)
        )
    if f.day_to:
        stmt = stmt.where(
            PunchoutSession.created_at <= datetime.combine(f.day_to, time.max, tzinfo=UTC)
        )
    if f.user and wildcards.has_wildcard(f.user):
        # SAP users type * for "any characters"; % and _ match only themselves.
        if not wildcards.matches_everything(f.user):
            users = select(User.id).where(
                or_(
                    wildcards.like(User.email, f.user),
                    wildcards.like(User.unique_name, f.user, fold_case=False),
                )
            )
            stmt = stmt.where(PunchoutSession.user_id.in_(users))
    elif f.user:
        users = select(User.id).where(or_(User.email == f.user.lower(), User.unique_name == f.user))
        stmt = stmt.where(PunchoutSession.user_id.in_(users))
    if f.q and wildcards.has_wildcard(f.q):
        stmt = _wildcard_q(db, stmt, f.q.strip())
    elif f.q:
        # The few matching users and orders are looked up first, so that the OR
        # below is over plain values and each branch can use its own index
        # (with subqueries in it, PostgreSQL scans every session).
        term = f.q.strip()
        found = [PunchoutSession.buyer_cookie == term]
        users = db.scalars(select(User.id).where(User.email == term.lower()).limit(1000)).all()
        if users:
            found.append(PunchoutSession.user_id.in_(users))
        ordered = db.scalars(
            select(Order.session_id)
            .where(Order.order_id == term, Order.session_id.is_not(None))
            .limit(1000)
        ).all()
        if ordered:
            found.append(PunchoutSession.id.in_(ordered))
        stmt = stmt.where(or_(*found))
    if f.day_from or f.day_to:
        # Within dates, newest first by creation time: the created_at index then
        # yields the page directly, where walking the id order back to the range
        # costs a scan of every newer session (66 ms at a million, and growing).
        order = (PunchoutSession.created_at.desc(), PunchoutSession.id.desc())
        if f.before:
            at = db.scalar(select(PunchoutSession.created_at).where(PunchoutSession.id == f.before))
            if at is not None:
                stmt = stmt.where(
                    PunchoutSession.created_at <= at,
                    ~and_(PunchoutSession.created_at == at, PunchoutSession.id >= f.before),
                )
    else:
        order = (PunchoutSession.id.desc(),)
        if f.before:
            stmt = stmt.where(PunchoutSession.id < f.before)
    rows = list(db.scalars(stmt.order_by(*order).limit(limit + 1)).unique())
    cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], cursor


def _wildcard_q(db: Session, stmt, term: str):
    """The free-text filter with SAP wildcards: BuyerCookie, user email or PO number."""
    if wildcards.matches_everything(term):
        return stmt
    users = db.scalars(select(User.id).where(wildcards.like(User.email, term)).limit(1000)).all()
    ordered = db.scalars(
        select(Order.session_id)
        .where(wildcards.like(Order.order_id, term, fold_case=False), Order.session_id.is_not(None))
        .limit(1000)
    ).all()
    found = [wildcards.like(PunchoutSession.buyer_cookie, term, fold_case=False)]
    if users:
        found.append(PunchoutSession.user_id.in_(users))
    if ordered:
        found.append(PunchoutSession.id.in_(ordered))
    return stmt.where(or_(*found))


def line_counts(db: Session, sessions: list[PunchoutSession]) -> dict[int, int]:
    """Cart lines per session, in one query for a whole page."""
    if not sessions:
        return {}
    return dict(
        db.execute(
            select(CartLine.session_id, func.count())
            .where(CartLine.session_id.in_([s.id for s in sessions]))
            .group_by(CartLine.session_id)
        ).all()
    )


def session_detail(db: Session, session_id: int) -> dict | None:
    session = db.get(PunchoutSession, session_id)
    if session is None:
        return None
    events = list(
        db.scalars(select(Event).where(Event.session_id == session_id).order_by(Event.id))
    )
    orders = list(
        db.scalars(select(Order).where(Order.session_id == session_id).order_by(Order.id))
    )
    # The price check: every cart line with what each order made of it, then
    # order lines that match no line of this cart.
    by_cart_line: dict[int, list] = {}
    unmatched = []
    for order in orders:
        for line in order.lines:
            if line.cart_line_id is not None:
                by_cart_line.setdefault(line.cart_line_id, []).append((order, line))
            else:
                unmatched.append((order, line))
    comparison = []
    for cart_line in session.lines:
        for order, line in by_cart_line.get(cart_line.id) or [(None, None)]:
            comparison.append(_price_row(cart_line, order, line))
    comparison += [_price_row(None, order, line) for order, line in unmatched]
    return {"session": session, "events": events, "orders": orders, "comparison": comparison}


def _price_row(cart_line, order, line) -> dict:
    row = {
        "order": order.order_id if order else None,
        "line": line.line_number if line else None,
        "sku": cart_line.sku if cart_line else line.sku,
        "description": cart_line.description if cart_line else line.description,
        "list_price": cart_line.list_price if cart_line else None,
        "contract_price": line.contract_price
        if line is not None and line.contract_price is not None
        else (cart_line.contract_price if cart_line else None),
        "cart_quantity": cart_line.quantity if cart_line else None,
        "cart_price": cart_line.unit_price if cart_line else None,
        "order_quantity": line.quantity if line else None,
        "order_price": line.unit_price if line else None,
    }
    problems = []
    if cart_line is None:
        problems.append("not from this cart")
    if line is not None and cart_line is not None:
        if line.quantity != cart_line.quantity:
            problems.append("quantity differs from the cart")
        if line.unit_price != cart_line.unit_price:
            problems.append("price differs from the cart")
    price = row["order_price"] if line is not None else row["cart_price"]
    if row["contract_price"] is not None and price is not None and price != row["contract_price"]:
        problems.append("price differs from the contract")
    row["problems"] = problems
    for key in ("list_price", "contract_price", "cart_price", "order_price"):
        row[key] = None if row[key] is None else money.amount(row[key])
    for key in ("cart_quantity", "order_quantity"):
        row[key] = None if row[key] is None else money.quantity(row[key])
    return row


def buyers(db: Session) -> list[Buyer]:
    return list(db.scalars(select(Buyer).order_by(Buyer.id)))


def callers(db: Session, term: str, limit: int = 20) -> list[dict]:
    """Users whose email or name matches, with their recent sessions, orders and failures."""
    term = term.strip()
    matched = (
        []
        if wildcards.matches_everything(term)
        else [
            or_(
                wildcards.like(User.email, term, contains=True),
                wildcards.like(User.name, term, contains=True),
                wildcards.like(User.unique_name, term, contains=True),
            )
        ]
    )
    users = list(
        db.scalars(select(User).where(*matched).order_by(User.last_seen_at.desc()).limit(limit))
    )
    found = []
    for user in users:
        sessions = list(
            db.scalars(
                select(PunchoutSession)
                .where(PunchoutSession.user_id == user.id)
                .order_by(PunchoutSession.id.desc())
                .limit(10)
            )
        )
        ids = [s.id for s in sessions]
        orders = (
            list(
                db.scalars(select(Order).where(Order.session_id.in_(ids)).order_by(Order.id.desc()))
            )
            if ids
            else []
        )
        problems = (
            list(
                db.scalars(
                    select(Event)
                    .where(Event.session_id.in_(ids), Event.level.in_(("warning", "error")))
                    .order_by(Event.id.desc())
                    .limit(10)
                )
            )
            if ids
            else []
        )
        found.append({"user": user, "sessions": sessions, "orders": orders, "problems": problems})
    return found


JOURNEY_KINDS = ("order.", "outbox.", "outbound.", "status_update")


def order_journey(db: Session, order_pk: int) -> dict | None:
    """One order's steps and deliveries, each with its time and document."""
    order = db.get(Order, order_pk)
    if order is None:
        return None
    messages = list(
        db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.order_pk == order.id)
            .order_by(OutboxMessage.id)
        )
    )
    message_ids = {m.id for m in messages}
    stmt = (
        select(Event)
        .where(Event.buyer_id == order.buyer_id, Event.at >= order.created_at)
        .order_by(Event.id)
        .limit(5000)
    )
    if order.session_id is not None:
        stmt = stmt.where(Event.session_id == order.session_id)
    steps = [
        e
        for e in db.scalars(stmt)
        if e.kind.startswith(JOURNEY_KINDS)
        and ((e.data or {}).get("order") == order.id or (e.data or {}).get("outbox") in message_ids)
    ]
    return {"order": order, "steps": steps, "messages": messages}


def buyer_health(
    db: Session, days: int = 30, leak_days: int = 7, only: str | None = None
) -> list[dict]:
    """Per buyer: activity, transfer rate, leakage, conversion, failures; riskiest first.

    Leakage counts carts transferred more than ``leak_days`` ago that never became
    an order. The chart is sessions per day over the last 14 days. Carts agents built
    on behalf of users are left out: they say nothing about the buyer's own punchouts.
    """
    from datetime import timedelta

    from provisioning.rotation import credential_report

    now = utcnow()
    since = now - timedelta(days=days)
    stale = {row["buyer"] for row in credential_report(db, stale_only=True)}
    report = []
    buyers = select(Buyer).order_by(Buyer.id)
    if only is not None:
        buyers = buyers.where(Buyer.id == only)
    for buyer in db.scalars(buyers):
        rows = db.execute(
            select(PunchoutSession.status, func.count())
            .where(
                PunchoutSession.buyer_id == buyer.id,
                PunchoutSession.protocol != "support",
                PunchoutSession.created_at >= since,
            )
            .group_by(PunchoutSession.status)
        ).all()
        by_status = dict(rows)
        total = sum(by_status.values())
        transferred = by_status.get("transferred", 0) + by_status.get("ordered", 0)
        ordered = by_status.get("ordered", 0)
        leaked = (
            db.scalar(
                select(func.count())
                .select_from(PunchoutSession)
                .where(
                    PunchoutSession.buyer_id == buyer.id,
                    PunchoutSession.status == "transferred",
                    PunchoutSession.transferred_at < now - timedelta(days=leak_days),
                    PunchoutSession.created_at >= since,
                )
            )
            or 0
        )
        failures = (
            db.scalar(
                select(func.count())
                .select_from(Event)
                .where(
                    Event.buyer_id == buyer.id,
                    Event.at >= since,
                    Event.kind.in_(("auth.failed", "oci.auth_failed", "auth.locked", "oci.locked")),
                )
            )
            or 0
        )
        last = db.scalar(
            select(func.max(PunchoutSession.created_at)).where(PunchoutSession.buyer_id == buyer.id)
        )
        # SQLite answers date() with text, PostgreSQL with a date: compare as text.
        daily = {
            str(day): n
            for day, n in db.execute(
                select(func.date(PunchoutSession.created_at), func.count())
                .where(
                    PunchoutSession.buyer_id == buyer.id,
                    PunchoutSession.protocol != "support",
                    PunchoutSession.created_at >= now - timedelta(days=14),
                )
                .group_by(func.date(PunchoutSession.created_at))
            ).all()
        }
        chart = [daily.get(str((now - timedelta(days=13 - i)).date()), 0) for i in range(14)]
        leak_rate = leaked / transferred if transferred else 0.0
        risk = (
            leak_rate * 3
            + min(failures, 50) / 10
            + (2 if buyer.id in stale else 0)
            + (1 if total == 0 else 0)
        )
        report.append(
            {
                "buyer": buyer,
                "sessions": total,
                "transferred": transferred,
                "ordered": ordered,
                "transfer_rate": transferred / total if total else None,
                "conversion": ordered / transferred if transferred else None,
                "leaked": leaked,
                "failures": failures,
                "stale_secret": buyer.id in stale,
                "last_session": last,
                "chart": chart,
                "risk": round(risk, 2),
            }
        )
    return sorted(report, key=lambda r: -r["risk"])
