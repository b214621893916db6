"""Retention of the session log: what keeps the database bounded.

Two horizons, both in days and both applied in batches (no long lock, safe to run
from cron while the gateway serves):

- documents: after ``document_days`` the documents kept with a session's events (the
  setup request, the cart sent back) are cleared; the events themselves stay, so the
  session's timeline still reads the same;
- sessions: after ``session_days`` a session that led to no order is deleted with its
  cart lines and events. A session an order came from is kept, with its events, for
  as long as the order: the order journey links to it.

The request log has its own retention (``punchgate requests purge``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select, update

from gateway.db import Database
from gateway.models import CartLine, Event, Order, PunchoutSession, utcnow


def purge(
    database: Database,
    document_days: int = 90,
    session_days: int = 365,
    now: datetime | None = None,
    batch: int = 5_000,
) -> tuple[int, int]:
    """Clear old event documents and delete old sessions without an order, in batches.

    Each batch is a transaction of its own. Returns (documents cleared, sessions deleted).
    """
    now = now or utcnow()
    deleted = _delete_sessions(database, now - timedelta(days=session_days), batch)
    cleared = _clear_documents(database, now - timedelta(days=document_days), batch)
    return cleared, deleted


def _last_id_before(database: Database, cutoff: datetime) -> int | None:
    """The newest session created before the cutoff, by the created_at index (ids grow
    with time, so every older session has an id at most this)."""
    with database.transaction() as db:
        return db.scalar(
            select(PunchoutSession.id)
            .where(PunchoutSession.created_at < cutoff)
            .order_by(PunchoutSession.created_at.desc())
            .limit(1)
        )


def _batches(database: Database, cutoff: datetime, batch: int):
    """Batches of ids of sessions created before the cutoff, each with a transaction."""
    bound = _last_id_before(database, cutoff)
    after = 0
    while bound is not None:
        with database.transaction() as db:
            ids = db.scalars(
                select(PunchoutSession.id)
                .where(
                    PunchoutSession.id > after,
                    PunchoutSession.id <= bound,
                    PunchoutSession.created_at < cutoff,
                )
                .order_by(PunchoutSession.id)
                .limit(batch)
            ).all()
            if not ids:
                return
            after = ids[-1]
            yield db, ids


def _delete_sessions(database: Database, cutoff: datetime, batch: int) -> int:
    deleted = 0
    for db, ids in _batches(database, cutoff, batch):
        doomed = db.scalars(
            select(PunchoutSession.id).where(
                PunchoutSession.id.in_(ids),
                ~exists().where(Order.session_id == PunchoutSession.id),
            )
        ).all()
        if doomed:
            for table in (Event, CartLine):
                db.execute(delete(table).where(table.session_id.in_(doomed)))
            db.execute(delete(PunchoutSession).where(PunchoutSession.id.in_(doomed)))
            deleted += len(doomed)
    return deleted


def _clear_documents(database: Database, cutoff: datetime, batch: int) -> int:
    cleared = 0
    for db, ids in _batches(database, cutoff, batch):
        result = db.execute(
            update(Event)
            .where(Event.session_id.in_(ids), Event.document.is_not(None))
            .values(document=None)
        )
        cleared += result.rowcount or 0
    return cleared
