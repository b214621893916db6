"""One buyer as support sees it: configuration (no secrets), credentials, back-offs,
users, recent failures, health, and adoption month by month (with a CSV export)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gateway import money
from gateway.models import (
    AuthThrottle,
    Buyer,
    BuyerCredential,
    InboundRequest,
    Order,
    PunchoutSession,
    User,
    utcnow,
)
from gateway.support.requests import mask_secrets

USERS_SHOWN = 200
FAILURES_SHOWN = 20


def configuration(buyer: Buyer) -> dict:
    """The buyer's settings as a summary; any secret-looking value is masked on the way."""
    settings = buyer.settings or {}
    return {
        "protocols": [p for p in ("cxml", "oci") if p == "cxml" or settings.get(p)],
        "cxml_version": (settings.get("cxml") or {}).get("version"),
        "return_urls": list(buyer.return_url_prefixes or []),
        "signed_documents_required": bool((settings.get("signing") or {}).get("require_signed")),
        "provisioning": mask_secrets(settings.get("provisioning") or {}),
        "orders": mask_secrets(settings.get("orders") or {}),
        "roles": sorted({*(settings.get("roles") or {}), *(settings.get("created_roles") or {})}),
    }


def credentials(db: Session, buyer_id: str) -> list[dict]:
    """Identities and when their secrets were set, were last used and stop working."""
    now = utcnow()
    rows = db.scalars(
        select(BuyerCredential)
        .where(BuyerCredential.buyer_id == buyer_id)
        .order_by(BuyerCredential.kind, BuyerCredential.identity, BuyerCredential.id)
    )
    report = []
    for row in rows:
        expires_in = (row.valid_until - now) if row.valid_until else None
        report.append(
            {
                "kind": row.kind,
                "identity": f"{row.domain}/{row.identity}" if row.domain else row.identity,
                "has_secret": bool(row.secret_hash or row.secret_encrypted),
                "age_days": (now - row.created_at).days,
                "created_at": row.created_at,
                "last_used_at": row.last_used_at,
                "valid_until": row.valid_until,
                "expired": expires_in is not None and expires_in.total_seconds() <= 0,
                "expires_soon": expires_in is not None
                and timedelta(0) < expires_in <= timedelta(days=7),
            }
        )
    return report


def back_offs(db: Session, buyer_id: str, identities: list[str]) -> list[AuthThrottle]:
    """Logins of this buyer that are locked out now (cXML senders and OCI users)."""
    keys = [f"cxml:{i.casefold()}" for i in identities]
    stmt = select(AuthThrottle).where(AuthThrottle.locked_until > utcnow())
    stmt = stmt.where(AuthThrottle.key.in_(keys) | AuthThrottle.key.startswith(f"oci:{buyer_id}:"))
    return list(db.scalars(stmt.order_by(AuthThrottle.locked_until.desc()).limit(50)))


def buyer_page(db: Session, buyer_id: str) -> dict | None:
    buyer = db.get(Buyer, buyer_id)
    if buyer is None:
        return None
    creds = credentials(db, buyer_id)
    users = list(
        db.scalars(
            select(User)
            .where(User.buyer_id == buyer_id)
            .order_by(User.last_seen_at.desc().nulls_last(), User.id.desc())
            .limit(USERS_SHOWN)
        )
    )
    failures = list(
        db.scalars(
            select(InboundRequest)
            .where(InboundRequest.buyer_id == buyer_id, InboundRequest.failed.is_(True))
            .order_by(InboundRequest.id.desc())
            .limit(FAILURES_SHOWN)
        )
    )
    return {
        "buyer": buyer,
        "config": configuration(buyer),
        "credentials": creds,
        "back_offs": back_offs(
            db, buyer_id, [c["identity"] for c in creds if c["kind"] == "sender"]
        ),
        "users": users,
        "failures": failures,
    }


def _month(db: Session, column):
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def adoption(db: Session, buyer_id: str, months: int = 12) -> list[dict]:
    """Per month: spend routed through punchout, active users, orders against transferred
    carts and the exception rate (orders flagged, rejected or held), newest month first."""
    since = (utcnow() - timedelta(days=31 * (months - 1))).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    month = _month(db, Order.created_at)
    orders = db.execute(
        select(
            month,
            Order.currency,
            func.count(),
            func.count(Order.session_id),
            func.sum(case((Order.flagged.is_(True), 1), else_=0)),
        )
        .where(Order.buyer_id == buyer_id, Order.created_at >= since, Order.type == "new")
        .group_by(month, Order.currency)
    ).all()
    spend_rows = db.execute(
        select(month, Order.currency, Order.total).where(
            Order.buyer_id == buyer_id,
            Order.created_at >= since,
            Order.type == "new",
            Order.session_id.is_not(None),
            Order.status != "rejected",
        )
    ).all()
    session_month = _month(db, PunchoutSession.created_at)
    active = dict(
        db.execute(
            select(session_month, func.count(func.distinct(PunchoutSession.user_id)))
            .where(
                PunchoutSession.buyer_id == buyer_id,
                PunchoutSession.created_at >= since,
                PunchoutSession.protocol != "support",
            )
            .group_by(session_month)
        ).all()
    )
    table: dict[str, dict] = {}

    def row(key: str) -> dict:
        return table.setdefault(
            key,
            {
                "month": key,
                "spend": {},
                "orders": 0,
                "from_carts": 0,
                "exceptions": 0,
                "active_users": active.get(key, 0),
            },
        )

    for key in active:
        row(key)
    for key, _currency, count, from_carts, flagged in orders:
        entry = row(key)
        entry["orders"] += count
        entry["from_carts"] += from_carts
        entry["exceptions"] += flagged or 0
    # Sums of money are added up here as Decimal: SQLite keeps amounts as text.
    for key, currency, total in spend_rows:
        if total is not None:
            spend = row(key)["spend"]
            spend[currency or "?"] = spend.get(currency or "?", 0) + total
    for entry in table.values():
        entry["spend"] = {c: money.amount(v) for c, v in entry["spend"].items()}
        entry["exception_rate"] = entry["exceptions"] / entry["orders"] if entry["orders"] else None
        entry["cart_rate"] = entry["from_carts"] / entry["orders"] if entry["orders"] else None
    return sorted(table.values(), key=lambda e: e["month"], reverse=True)


def adoption_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "month",
            "currency",
            "spend_via_punchout",
            "active_users",
            "orders",
            "orders_from_transferred_carts",
            "exceptions",
            "exception_rate",
        ]
    )
    for entry in rows:
        for currency, amount in sorted(entry["spend"].items()) or [("", "")]:
            writer.writerow(
                [
                    entry["month"],
                    currency,
                    amount,
                    entry["active_users"],
                    entry["orders"],
                    entry["from_carts"],
                    entry["exceptions"],
                    "" if entry["exception_rate"] is None else f"{entry['exception_rate']:.3f}",
                ]
            )
    return out.getvalue()
