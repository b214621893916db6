"""Orders as support looks for them: by orderID (the PO number), payloadID, buyer, user
email or state, the ones needing a look (flagged, rejected, held) first."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import false, func, or_, select, true
from sqlalchemy.orm import Session

from gateway import money, wildcards
from gateway.marketplace.events import TRANSITIONS
from gateway.models import Order, OrderLine, OutboxMessage, PunchoutSession, User

PAGE = 50
STATES = ("received", *dict.fromkeys(TRANSITIONS.values()))


@dataclass(frozen=True)
class OrderFilter:
    q: str | None = None  # orderID / PO number, payloadID or user email
    buyer: str | None = None
    status: str | None = None
    flagged_only: bool = False
    cursor: tuple[bool, int] | None = None  # (flagged, id) of the last row shown


def parse_cursor(text: str | None) -> tuple[bool, int] | None:
    """``f123`` (flagged, before id 123) or ``n123``; ValueError for anything else."""
    if not text:
        return None
    if text[0] not in "fn" or not text[1:].isdigit() or len(text) > 12:
        raise ValueError(f"{text!r} is not a page cursor")
    return text[0] == "f", int(text[1:])


def format_cursor(cursor: tuple[bool, int] | None) -> str | None:
    return None if cursor is None else f"{'f' if cursor[0] else 'n'}{cursor[1]}"


def _matching(db: Session, f: OrderFilter):
    stmt = select(Order)
    if f.buyer:
        stmt = stmt.where(Order.buyer_id == f.buyer)
    if f.status:
        stmt = stmt.where(Order.status == f.status)
    if f.q and not wildcards.matches_everything(f.q):
        term = f.q.strip()
        # Users first, then their sessions: each branch of the OR stays on an index.
        # Exact unless the agent typed SAP's "*" ("4500*"); "%" and "_" stay literal.
        found = [
            wildcards.match(Order.order_id, term, fold_case=False),
            wildcards.match(Order.payload_id, term, fold_case=False),
        ]
        users = db.scalars(
            select(User.id).where(wildcards.match(User.email, term)).limit(100)
        ).all()
        if users:
            sessions = db.scalars(
                select(PunchoutSession.id).where(PunchoutSession.user_id.in_(users)).limit(1000)
            ).all()
            if sessions:
                found.append(Order.session_id.in_(sessions))

        stmt = stmt.where(or_(*found))
    return stmt


def list_orders(
    db: Session, f: OrderFilter, limit: int = PAGE
) -> tuple[list[Order], tuple[bool, int] | None]:
    """A page of orders, flagged ones first, each group newest first; and the next cursor.

    Two walks along the (flagged, id) index rather than one sort of every order.
    """
    base = _matching(db, f)
    rows: list[Order] = []
    phases = (True,) if f.flagged_only else (True, False)
    for flagged in phases:
        if f.cursor is not None and f.cursor[0] is False and flagged:
            continue  # the flagged ones were all shown already
        # "= true", not "IS true": only the former can walk a btree index on PostgreSQL.
        stmt = base.where(Order.flagged == (true() if flagged else false()))
        if f.cursor is not None and f.cursor[0] == flagged:
            stmt = stmt.where(Order.id < f.cursor[1])
        rows += db.scalars(stmt.order_by(Order.id.desc()).limit(limit + 1 - len(rows))).all()
        if len(rows) > limit:
            break
    cursor = (rows[limit - 1].flagged, rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], cursor


def page_details(db: Session, orders: list[Order]) -> dict[int, dict]:
    """Per order on a page: line count, the user's email and the marketplace delivery."""
    ids = [o.id for o in orders]
    details = {
        o.id: {"email": None, "delivery": None, "delivery_status": None, "attempts": 0, "lines": 0}
        for o in orders
    }
    if not ids:
        return details
    for order_pk, count in db.execute(
        select(OrderLine.order_pk, func.count())
        .where(OrderLine.order_pk.in_(ids))
        .group_by(OrderLine.order_pk)
    ):
        details[order_pk]["lines"] = count
    for order_pk, status, attempts in db.execute(
        select(OutboxMessage.order_pk, OutboxMessage.status, OutboxMessage.attempts).where(
            OutboxMessage.order_pk.in_(ids), OutboxMessage.kind == "marketplace.order"
        )
    ):
        details[order_pk].update(
            delivery=f"{status} ({attempts} attempt(s))", delivery_status=status, attempts=attempts
        )
    sessions = {o.session_id: o.id for o in orders if o.session_id is not None}
    if sessions:
        for session_id, email in db.execute(
            select(PunchoutSession.id, User.email)
            .join(User, User.id == PunchoutSession.user_id)
            .where(PunchoutSession.id.in_(list(sessions)))
        ):
            for order in orders:
                if order.session_id == session_id:
                    details[order.id]["email"] = email
    return details


def find_order(db: Session, key: str, buyer: str | None = None) -> list[Order]:
    """Orders by their orderID / PO number or payloadID, or by our id (``#12`` or ``12``)."""
    key = key.strip()
    stmt = select(Order).where((Order.order_id == key) | (Order.payload_id == key))
    if buyer:
        stmt = stmt.where(Order.buyer_id == buyer)
    found = list(db.scalars(stmt.order_by(Order.id.desc()).limit(20)))
    digits = key.removeprefix("#")
    if not found and digits.isdigit() and len(digits) < 10:
        order = db.get(Order, int(digits))
        if order is not None and (buyer is None or order.buyer_id == buyer):
            found = [order]
    return found


def _amount(value) -> str | None:
    return None if value is None else money.amount(value)


def order_row(order: Order, info: dict) -> dict:
    """One order on a list, as the CLI prints it."""
    return {
        "id": order.id,
        "buyer": order.buyer_id,
        "order_id": order.order_id,
        "version": order.version,
        "type": order.type,
        "status": order.status,
        "flagged": order.flagged,
        "session": order.session_id,
        "user": info["email"],
        "lines": info["lines"],
        "total": _amount(order.total),
        "currency": order.currency,
        "flags": len(order.details.get("flags", [])),
        "delivery": info["delivery_status"],
        "attempts": info["attempts"],
        "created_at": order.created_at.isoformat(timespec="seconds"),
    }


def order_view(db: Session, order: Order) -> dict:
    """One order in full: lines against the cart lines they came from, flags, the journey,
    deliveries, and the documents sent back to the buyer."""
    from gateway.support.queries import order_journey

    journey = order_journey(db, order.id)
    documents = []
    for message in journey["messages"]:
        if message.kind.startswith("cxml."):
            try:
                document = json.loads(message.payload).get("document")
            except ValueError:
                document = None
            documents.append({"outbox": message.id, "kind": message.kind, "document": document})
    return {
        **order_row(order, page_details(db, [order])[order.id]),
        "payload_id": order.payload_id,
        "status_reason": order.status_reason,
        "flag_details": order.details.get("flags", []),
        "lines_detail": [
            {
                "line": line.line_number,
                "sku": line.sku,
                "description": line.description,
                "quantity": money.quantity(line.quantity),
                "unit_price": _amount(line.unit_price),
                "cart_line": line.cart_line_id,
                "cart_quantity": None
                if line.cart_quantity is None
                else money.quantity(line.cart_quantity),
                "cart_price": _amount(line.cart_price),
                "contract_price": _amount(line.contract_price),
                "flags": [
                    f for f in order.details.get("flags", []) if f.get("line") == line.line_number
                ],
            }
            for line in order.lines
        ],
        "events": [
            {
                "at": e.at.isoformat(timespec="seconds"),
                "kind": e.kind,
                "level": e.level,
                "message": e.message,
            }
            for e in journey["steps"]
        ],
        "deliveries": [
            {
                "id": m.id,
                "kind": m.kind,
                "status": m.status,
                "attempts": m.attempts,
                "last_error": m.last_error,
                "sent_at": m.sent_at.isoformat(timespec="seconds") if m.sent_at else None,
            }
            for m in journey["messages"]
        ],
        "documents": documents,
    }
