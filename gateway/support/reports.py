"""Figures over months of sessions, computed ahead: buyer health, adoption, and the
leaked-cart counts of the alerts.

At millions of sessions a buyer's health (30 days of sessions, failures, leaked carts)
or its adoption report (12 months) takes seconds to count; the pages cannot do that on
every view. ``refresh`` (``punchgate reports refresh``, from cron every few minutes)
computes them into ``report_snapshots``, and the pages read the snapshot, saying when it
was computed. A snapshot older than ``PUNCHGATE_REPORT_MAX_AGE`` seconds (or none yet) is
computed on the spot, so the figures are never older than that; 0 computes every view.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.models import Buyer, ReportSnapshot, utcnow
from gateway.support import alerts
from gateway.support import buyers as buyer_reports
from gateway.support.queries import buyer_health

HEALTH_DAYS = 30


def snapshot(
    db: Session, kind: str, key: str, compute: Callable[[], list], max_age: int
) -> tuple[list, datetime]:
    now = utcnow()
    if max_age > 0:
        row = db.get(ReportSnapshot, (kind, key))
        if row is not None and row.computed_at >= now - timedelta(seconds=max_age):
            return row.data, row.computed_at
    data = compute()
    if max_age > 0:
        _store(db, kind, key, data, now)
    return data, now


def _store(db: Session, kind: str, key: str, data: list, now: datetime) -> None:
    try:
        with db.begin_nested():  # another worker may be writing the same snapshot
            row = db.get(ReportSnapshot, (kind, key))
            if row is None:
                db.add(ReportSnapshot(kind=kind, key=key, computed_at=now, data=data))
            else:
                row.computed_at, row.data = now, data
    except IntegrityError:
        pass


def _health_rows(db: Session, days: int) -> list[dict]:
    return [
        {
            **{k: v for k, v in row.items() if k != "buyer"},
            "buyer": row["buyer"].id,
            "last_session": row["last_session"].isoformat() if row["last_session"] else None,
        }
        for row in buyer_health(db, days=days)
    ]


def health(
    db: Session, max_age: int, days: int = HEALTH_DAYS, only: str | None = None
) -> tuple[list[dict], datetime]:
    """Every buyer's health over ``days`` days, riskiest first (or one buyer's), and when
    the figures were computed."""
    rows, at = snapshot(db, "health", f"days:{days}", lambda: _health_rows(db, days), max_age)
    known = {b.id: b for b in db.scalars(select(Buyer))}
    out = []
    for row in rows:
        if row["buyer"] not in known or (only is not None and row["buyer"] != only):
            continue
        last = row["last_session"]
        out.append(
            {
                **row,
                "buyer": known[row["buyer"]],
                "last_session": datetime.fromisoformat(last) if last else None,
            }
        )
    return out, at


def adoption(db: Session, buyer_id: str, max_age: int) -> tuple[list[dict], datetime]:
    return snapshot(db, "adoption", buyer_id, lambda: buyer_reports.adoption(db, buyer_id), max_age)


def refresh(db: Session) -> list[tuple[str, float]]:
    """Compute every snapshot now; (what, seconds) for each."""
    timings = []
    now = utcnow()
    started = time.perf_counter()
    _store(db, "health", f"days:{HEALTH_DAYS}", _health_rows(db, HEALTH_DAYS), now)
    timings.append(("buyer health, all buyers", time.perf_counter() - started))
    started = time.perf_counter()
    _store(db, "leaks", "all", alerts.leak_counts(db, now), now)
    timings.append(("leaked carts (alerts)", time.perf_counter() - started))
    for buyer_id in db.scalars(select(Buyer.id).order_by(Buyer.id)):
        started = time.perf_counter()
        _store(db, "adoption", buyer_id, buyer_reports.adoption(db, buyer_id), now)
        timings.append((f"adoption {buyer_id}", time.perf_counter() - started))
    return timings
