"""Order on behalf: a support agent shops as a buyer user.

The agent's storefront session is an ordinary punchout session (protocol
``support``) owned by that user, so the user's roles, catalog and contract
prices apply unchanged, and it is bound to the agent who opened it. It ends in
one of two ways:

- saved for the user (the default): status ``saved``; it loads into the user's
  next punchout (``sessions.service.load_saved_cart``), so the order still goes
  through the buyer's own requisition and approval;
- placed straight into the marketplace, where the buyer's
  ``[buyer.support] order_on_behalf`` allows it: an order flagged as placed on
  behalf, delivered through the outbox like any other.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import money
from gateway.models import Agent, Order, OrderLine, PunchoutSession, User, utcnow
from gateway.orders.intake import describe, queue_for_marketplace, role_limit
from gateway.sessions.events import record
from gateway.sessions.service import hash_token, new_token, saved_cart

_REFERENCE = re.compile(r"^[\w./#:-]{1,100}$")


class OnBehalfRefused(Exception):
    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.message = message
        self.status = status


def who(user: User) -> str:
    return user.email or user.unique_name or f"user {user.id}"


def allows_orders(session: PunchoutSession) -> bool:
    return bool(session.buyer.settings.get("support", {}).get("order_on_behalf"))


def open_for(db: Session, agent: Agent, user_id: int, ttl: int) -> tuple[PunchoutSession, str]:
    """The storefront session an agent shops in for this user, and its token.

    A cart already saved for the user and not yet loaded is reopened rather
    than a second one started: the user's next punchout loads one cart.
    """
    user = db.get(User, user_id)
    if user is None:
        raise OnBehalfRefused(f"No user {user_id}.", 404)
    now = utcnow()
    token = new_token()
    session = saved_cart(db, user.id)
    reopened = session is not None
    if session is None:
        session = PunchoutSession(
            buyer_id=user.buyer_id,
            user_id=user.id,
            protocol="support",
            operation="create",
            created_at=now,
            details={},
        )
        db.add(session)
    session.status = "open"
    session.started_at = session.started_at or now
    session.session_token_hash = hash_token(token)
    session.expires_at = now + timedelta(seconds=ttl)
    session.details = {
        **session.details,
        "on_behalf": {"agent_id": agent.id, "agent": agent.email},
    }
    db.flush()
    record(
        db,
        "on_behalf.opened",
        f"support agent {agent.email} {'reopened the saved cart' if reopened else 'opened'} "
        f"the storefront as {who(user)}",
        buyer_id=user.buyer_id,
        session_id=session.id,
        data={"agent": agent.email, "user": user.id, "reopened": reopened},
    )
    return session, token


def owned(db: Session, agent: Agent, session_id: int) -> PunchoutSession:
    """An open on-behalf session of this agent, or OnBehalfRefused."""
    session = db.get(PunchoutSession, session_id)
    if session is None or session.protocol != "support":
        raise OnBehalfRefused(f"No on-behalf cart {session_id}.", 404)
    if (session.details.get("on_behalf") or {}).get("agent_id") != agent.id:
        raise OnBehalfRefused(
            f"Cart {session_id} was opened by another agent; open the storefront for the user "
            "yourself.",
            403,
        )
    if session.status != "open":
        raise OnBehalfRefused(f"Cart {session_id} was already {session.status}.")
    if not session.lines:
        raise OnBehalfRefused("The cart is empty: add products first.", 400)
    return session


def save(db: Session, agent: Agent, session_id: int) -> PunchoutSession:
    """Keep the cart for the user's next punchout; the storefront link stops working."""
    session = owned(db, agent, session_id)
    session.status = "saved"
    session.session_token_hash = None
    session.details = {**session.details, "saved_at": utcnow().isoformat()}
    record(
        db,
        "on_behalf.saved",
        f"support agent {agent.email} saved {len(session.lines)} line(s) for "
        f"{who(session.user)}; they load into the user's next punchout",
        buyer_id=session.buyer_id,
        session_id=session.id,
        data={"agent": agent.email, "lines": len(session.lines)},
    )
    return session


def place(db: Session, agent: Agent, session_id: int, reference: str, comment: str = "") -> Order:
    """Place the cart straight into the marketplace as an order flagged on behalf."""
    session = owned(db, agent, session_id)
    if not allows_orders(session):
        raise OnBehalfRefused(
            f"{session.buyer.name} does not allow orders placed on behalf "
            "([buyer.support] order_on_behalf); save the cart for the user instead.",
            403,
        )
    reference = reference.strip()
    if not _REFERENCE.match(reference):
        raise OnBehalfRefused(
            "The buyer's reference (PO number) is required: up to 100 letters, digits "
            "and . / # : - _",
            400,
        )
    if db.scalar(
        select(Order.id).where(Order.buyer_id == session.buyer_id, Order.order_id == reference)
    ):
        raise OnBehalfRefused(f"{session.buyer.name} already has an order {reference!r}.")
    comment = comment.strip()[:2000]
    previous = db.scalar(
        select(Order)
        .join(PunchoutSession, Order.session_id == PunchoutSession.id)
        .where(PunchoutSession.user_id == session.user_id)
        .order_by(Order.id.desc())
        .limit(1)
    )
    ship_to = previous.details.get("ship_to") if previous is not None else None
    now = utcnow()
    lines = [
        OrderLine(
            line_number=n,
            sku=line.sku,
            aux_id=line.aux_id,
            quantity=line.quantity,
            unit_price=line.unit_price,
            currency=line.currency,
            description=line.description,
            uom=line.uom,
            cart_line_id=line.id,
            cart_quantity=line.quantity,
            cart_price=line.unit_price,
            contract_price=line.contract_price,
            details={},
        )
        for n, line in enumerate(session.lines, start=1)
    ]
    total = sum((line.quantity * line.unit_price for line in lines), Decimal(0))
    body = json.dumps(
        [[line.sku, money.quantity(line.quantity), money.amount(line.unit_price)] for line in lines]
    )
    order = Order(
        buyer_id=session.buyer_id,
        session_id=session.id,
        order_id=reference,
        version=1,
        type="new",
        payload_id=f"on-behalf.{session.id}.{secrets.token_hex(8)}@punchgate",
        body_sha256=hashlib.sha256(body.encode()).hexdigest(),
        order_date=now.isoformat(timespec="seconds"),
        total=total,
        currency=session.lines[0].currency,
        details={
            "on_behalf": {
                "agent": agent.email,
                "user": who(session.user),
                "at": now.isoformat(timespec="seconds"),
            },
            "ship_to": ship_to,
            "comments": comment or None,
            "flags": [],
        },
        lines=lines,
    )
    over = role_limit(db, session.buyer, order)
    if over is not None:
        raise OnBehalfRefused(
            f"Not placed: {describe(over)}. Save the cart for the user instead, so the "
            "buyer's approval handles it.",
        )
    db.add(order)
    db.flush()
    session.status = "ordered"
    session.session_token_hash = None
    record(
        db,
        "order.received",
        f"order {reference} placed on behalf of {who(session.user)} by support agent "
        f"{agent.email}: {len(lines)} line(s), total {money.amount(total)} {order.currency}",
        buyer_id=session.buyer_id,
        session_id=session.id,
        data={"order": order.id, "order_id": reference, "on_behalf": agent.email},
    )
    queue_for_marketplace(db, order)
    return order
