"""Carts that probably never arrived in the buyer's system, and the exact document sent.

Coupa and D365 drop a cart they reject and tell only the buyer's admin (if
anyone); the supplier sees two traces of it: the same user punches out again
within minutes of a transfer, with no order for the first cart; or a cart is
never ordered past the buyer's usual lag (``order_lag_hours`` of the profile).
``lost_carts`` finds both; the support console (alerts) calls it, and
``cart_document`` gives the document to forward to the buyer's admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from gateway.models import Buyer, Event, Order, PunchoutSession, utcnow

REPUNCH_MINUTES = 15
LOOKBACK_DAYS = 30


@dataclass(frozen=True)
class LostCart:
    session_id: int
    buyer_id: str
    user_id: int | None
    transferred_at: datetime
    reason: str  # "repunchout" | "no_order"
    detail: str
    next_session_id: int | None = None


def lost_carts(
    db: Session,
    *,
    now: datetime | None = None,
    buyer_id: str | None = None,
    repunch_minutes: int = REPUNCH_MINUTES,
    lookback_days: int = LOOKBACK_DAYS,
) -> list[LostCart]:
    """Transferred carts with no order that look lost, newest first."""
    from gateway.profiles.service import rules_of

    now = now or utcnow()
    later = aliased(PunchoutSession)
    stmt = (
        select(PunchoutSession)
        .where(
            PunchoutSession.status == "transferred",
            PunchoutSession.transferred_at >= now - timedelta(days=lookback_days),
            ~exists().where(Order.session_id == PunchoutSession.id),
        )
        .order_by(PunchoutSession.transferred_at.desc())
    )
    if buyer_id:
        stmt = stmt.where(PunchoutSession.buyer_id == buyer_id)
    lags = {b.id: rules_of(b).order_lag_hours for b in db.scalars(select(Buyer))}
    found = []
    for session in db.scalars(stmt):
        again = None
        if session.user_id is not None:
            again = db.scalar(
                select(later.id)
                .where(
                    later.user_id == session.user_id,
                    later.id != session.id,
                    later.created_at > session.transferred_at,
                    later.created_at <= session.transferred_at + timedelta(minutes=repunch_minutes),
                )
                .order_by(later.created_at)
                .limit(1)
            )
        if again is not None:
            found.append(
                LostCart(
                    session.id,
                    session.buyer_id,
                    session.user_id,
                    session.transferred_at,
                    "repunchout",
                    f"the same user punched out again (session #{again}) within "
                    f"{repunch_minutes} minutes of the transfer, and no order came for the cart",
                    again,
                )
            )
            continue
        lag = lags.get(session.buyer_id) or 0
        if lag and session.transferred_at <= now - timedelta(hours=lag):
            found.append(
                LostCart(
                    session.id,
                    session.buyer_id,
                    session.user_id,
                    session.transferred_at,
                    "no_order",
                    f"no order {lag} hours after the transfer (the buyer's usual lag)",
                )
            )
    return found


@dataclass(frozen=True)
class CartDocument:
    filename: str
    content_type: str
    text: str


def cart_document(db: Session, session_id: int) -> CartDocument | None:
    """The exact cart sent back to the buyer (the last transfer or cancel), if any."""
    event = db.scalar(
        select(Event)
        .where(
            Event.session_id == session_id,
            Event.kind.in_(("transfer", "session.cancelled")),
            Event.document.is_not(None),
        )
        .order_by(Event.id.desc())
        .limit(1)
    )
    if event is None:
        return None
    if event.document.lstrip().startswith("<"):
        return CartDocument(
            f"session-{session_id}-PunchOutOrderMessage.xml", "application/xml", event.document
        )
    return CartDocument(f"session-{session_id}-oci-cart.txt", "text/plain", event.document)
