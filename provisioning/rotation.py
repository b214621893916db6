"""Secrets with overlap windows: what is current, what still works, who still uses it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import BuyerCredential, utcnow


def state_of(row: BuyerCredential, now) -> str:
    if row.valid_until is None:
        return "current"
    if row.valid_until > now:
        return f"replaced, works until {row.valid_until.isoformat(timespec='minutes')}"
    return f"expired {row.valid_until.isoformat(timespec='minutes')}"


def credential_report(db: Session, stale_only: bool = False) -> list[dict]:
    """Every secret-bearing credential; with ``stale_only``, replaced secrets that are still
    inside their window and were used after their replacement arrived."""
    now = utcnow()
    rows = list(
        db.scalars(
            select(BuyerCredential)
            .where(BuyerCredential.kind.in_(("sender", "oci")))
            .order_by(
                BuyerCredential.buyer_id,
                BuyerCredential.kind,
                BuyerCredential.identity,
                BuyerCredential.id,
            )
        )
    )
    current = {(r.buyer_id, r.kind, r.domain, r.identity): r for r in rows if r.valid_until is None}
    report = []
    for row in rows:
        replacement = current.get((row.buyer_id, row.kind, row.domain, row.identity))
        stale = (
            row.valid_until is not None
            and row.valid_until > now
            and row.last_used_at is not None
            and replacement is not None
            and row.last_used_at >= replacement.created_at
        )
        if stale_only and not stale:
            continue
        report.append(
            {
                "buyer": row.buyer_id,
                "kind": row.kind,
                "identity": f"{row.domain}/{row.identity}" if row.domain else row.identity,
                "state": state_of(row, now),
                "valid_until": row.valid_until.isoformat() if row.valid_until else None,
                "last_used_at": row.last_used_at.isoformat(timespec="seconds")
                if row.last_used_at
                else None,
                "created_at": row.created_at.isoformat(timespec="seconds"),
                "stale": stale,
            }
        )
    return report
