"""Back-off for repeated authentication failures, per sender or user name.

After THRESHOLD failures within WINDOW, the key is locked for BASE seconds,
doubling with every further failure up to MAX. A success clears it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gateway.models import AuthThrottle

THRESHOLD = 5
WINDOW = timedelta(minutes=15)
BASE = timedelta(seconds=30)
MAX = timedelta(minutes=15)
_SEEN = "punchgate.throttle_rows"


def _storable_key(key: str) -> str:
    # A key the database cannot hold (too long, NUL bytes: hostile input) is
    # hashed, so the failure is still counted instead of failing the request.
    if len(key) <= 200 and "\x00" not in key:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def cxml_key(envelope) -> str:
    first = envelope.sender[0]
    return _storable_key(f"cxml:{first.domain.casefold()}/{first.identity.casefold()}")


def oci_key(buyer_id: str, username: str | None) -> str:
    return _storable_key(f"oci:{buyer_id}:{(username or '').casefold()}")


def sync_key(buyer_id: str, label: str) -> str:
    return _storable_key(f"sync:{buyer_id}:{label.casefold()}")


def locked_until(db: Session, key: str, now: datetime) -> datetime | None:
    row = db.get(AuthThrottle, key)
    if row is not None:
        db.info.setdefault(_SEEN, set()).add(key)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return row.locked_until
    return None


def lock_from(
    db: Session, key: str, row_exists: bool, until: datetime | None, now: datetime
) -> datetime | None:
    """``locked_until`` for a row the caller read itself (in a combined first statement)."""
    if row_exists:
        db.info.setdefault(_SEEN, set()).add(key)
    return until if until is not None and until > now else None


def failed(db: Session, key: str, now: datetime) -> datetime | None:
    """Count a failure; return the time the key is locked until, if it now is."""
    row = db.get(AuthThrottle, key)
    if row is None:
        row = AuthThrottle(key=key, failures=0, first_failure_at=now)
        db.add(row)
    elif now - row.first_failure_at > WINDOW and (
        row.locked_until is None or row.locked_until <= now
    ):
        row.failures, row.first_failure_at, row.locked_until = 0, now, None
    row.failures += 1
    if row.failures >= THRESHOLD:
        row.locked_until = now + min(BASE * 2 ** (row.failures - THRESHOLD), MAX)
    return row.locked_until


def succeeded(db: Session, key: str) -> None:
    # The lookup before authentication loaded the row if there is one: no query here
    # on the common path, where there never was a failure.
    row = db.get(AuthThrottle, key, populate_existing=False) if _seen(db, key) else None
    if row is not None:
        db.delete(row)


def _seen(db: Session, key: str) -> bool:
    return key in db.info.get(_SEEN, set())
