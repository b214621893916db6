"""One search box: any identifier an agent may be read out on the phone.

Email, PO number / orderID, payloadID, request id, BuyerCookie, a buyer's id or name,
or one of our own ids (``#12``). Every branch is an exact match on an index, so the
box stays fast however large the logs grow.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gateway.models import Buyer, InboundRequest, Order, PunchoutSession, User

LIMIT = 20


def search(db: Session, term: str) -> dict[str, list]:
    """What matches ``term``, by kind: buyers, users, sessions, orders, requests."""
    term = term.strip()
    lowered = term.lower()
    found: dict[str, list] = {}
    found["buyers"] = list(
        db.scalars(
            select(Buyer)
            .where(or_(Buyer.id == term, func.lower(Buyer.name) == lowered))
            .limit(LIMIT)
        )
    )
    found["users"] = list(
        db.scalars(select(User).where(User.email == lowered).order_by(User.id.desc()).limit(LIMIT))
    )
    sessions = [PunchoutSession.buyer_cookie == term, PunchoutSession.payload_id == term]
    digits = term.removeprefix("#")
    own_id = int(digits) if digits.isdigit() and len(digits) < 10 else None
    if own_id is not None:
        sessions.append(PunchoutSession.id == own_id)
    found["sessions"] = list(
        db.scalars(
            select(PunchoutSession)
            .where(or_(*sessions))
            .order_by(PunchoutSession.id.desc())
            .limit(LIMIT)
        )
    )
    orders = [Order.order_id == term, Order.payload_id == term]
    if own_id is not None:
        orders.append(Order.id == own_id)
    found["orders"] = list(
        db.scalars(select(Order).where(or_(*orders)).order_by(Order.id.desc()).limit(LIMIT))
    )
    requests = [
        InboundRequest.request_id == term,
        InboundRequest.payload_id == term,
        InboundRequest.user_email == lowered,
    ]
    found["requests"] = list(
        db.scalars(
            select(InboundRequest)
            .where(or_(*requests))
            .order_by(InboundRequest.id.desc())
            .limit(LIMIT)
        )
    )
    return found
