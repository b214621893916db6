"""Per-process cache of buyer configuration and credential material.

A PunchOutSetupRequest needs the buyer, its Sender credentials (secret hashes,
encrypted MAC keys) and the supplier's credentials. They change rarely (``punchgate
buyers load``, a credential sync, a key rotation, a role created by provisioning),
so each process keeps one snapshot of all of them instead of querying three tables
per request.

How instances learn of changes: every INSERT, UPDATE or DELETE on ``buyers``,
``buyer_credentials``, ``suppliers`` or ``products`` (for the storefront's catalog counts,
``gateway.catalog.aggregates``) issued through a gateway engine (ORM or Core)
also bumps the single ``config_version`` row, in the same transaction. Every request
that uses the snapshot reads that counter in its first statement (together with the
throttle lookup it makes anyway) and reloads the snapshot when the counter moved. A
change is therefore seen by every instance from the first request that starts after
it commits. A snapshot is also reloaded after ``MAX_AGE`` seconds whatever the
counter says, which bounds how long an edit made outside the gateway (SQL by hand)
goes unseen.

The end of an overlap window needs no invalidation: ``valid_until`` is compared with
the clock on every request. Secrets stay hashed or encrypted in the snapshot exactly
as they are in the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.models import AuthThrottle, Buyer, BuyerCredential, ConfigVersion, Supplier
from gateway.statements import Prepared

MAX_AGE = 30.0  # seconds
# products: the storefront's catalog-wide counts (gateway.catalog.aggregates) follow it too.
WATCHED = frozenset({"buyers", "buyer_credentials", "suppliers", "products"})
# Set on statements that change a watched table without changing configuration
# (the minute-precision "last used" stamp of a credential).
UNCHANGED = "punchgate_config_unchanged"
TOUCH_EVERY = timedelta(minutes=1)


_VERSION = select(ConfigVersion.version).where(ConfigVersion.id == 1)
_VERSION_ROW = Prepared(_VERSION)
_STATE = Prepared(
    select(
        _VERSION.scalar_subquery(),
        select(AuthThrottle.key).where(AuthThrottle.key == bindparam("key")).scalar_subquery(),
        select(AuthThrottle.locked_until)
        .where(AuthThrottle.key == bindparam("key"))
        .scalar_subquery(),
    )
)


@dataclass
class Snapshot:
    version: int | None
    loaded_at: float
    buyers: dict[str, Buyer]  # detached, never attached to a session: merge() a copy
    by_from: dict[tuple[str, str], str]  # (domain, identity) casefolded -> buyer id
    credentials: dict[str, list[BuyerCredential]]  # buyer id -> detached rows
    supplier_credentials: list = field(default_factory=list)

    def buyer_for(self, keys) -> str | None:
        return next((self.by_from[k] for k in keys if k in self.by_from), None)

    def rows(self, buyer_id: str, kind: str) -> list[BuyerCredential]:
        return [r for r in self.credentials.get(buyer_id, ()) if r.kind == kind]


@dataclass(frozen=True)
class RequestState:
    """What the first statement of an authenticated request reads."""

    snapshot: Snapshot
    throttle_row: bool  # an auth_throttle row exists for the key
    locked_until: datetime | None


class ConfigCache:
    """One per Gateway (so per process); safe to share between threads."""

    def __init__(self, max_age: float = MAX_AGE):
        self.max_age = max_age
        self._snapshot: Snapshot | None = None
        self._touched: dict[int, datetime] = {}

    def state(self, db: Session, throttle_key: str) -> RequestState:
        """The configuration snapshot, fresh for this transaction, and the throttle row."""
        # On the connection, not the ORM session: nothing to autoflush, no ORM overhead.
        version, row, locked = _STATE.first(db.connection(), {"key": throttle_key})
        return RequestState(self._fresh(db, version), row is not None, locked)

    def current(self, db: Session) -> Snapshot:
        """The snapshot, fresh for this transaction, for a request with no throttle key yet."""
        found = _VERSION_ROW.first(db.connection())
        return self._fresh(db, found[0] if found else None)

    def _fresh(self, db: Session, version: int | None) -> Snapshot:
        """The snapshot, reloaded if ``version`` (read in this transaction) moved or it aged."""
        snapshot = self._snapshot
        if (
            snapshot is None
            or snapshot.version != version
            or time.monotonic() - snapshot.loaded_at > self.max_age
        ):
            snapshot = self._snapshot = self._load(db, version)
        return snapshot

    def invalidate(self) -> None:
        self._snapshot = None

    @staticmethod
    def _load(db: Session, version: int | None) -> Snapshot:
        # A session of its own on the request's connection: the same transaction,
        # and closing it detaches the rows from everything the request does.
        with Session(bind=db.connection(), expire_on_commit=False) as reader:
            buyers = {b.id: b for b in reader.scalars(select(Buyer))}
            credentials: dict[str, list[BuyerCredential]] = {}
            by_from: dict[tuple[str, str], str] = {}
            for row in reader.scalars(select(BuyerCredential).order_by(BuyerCredential.id)):
                credentials.setdefault(row.buyer_id, []).append(row)
                if row.kind == "from":
                    by_from.setdefault((row.domain, row.identity), row.buyer_id)
            supplier = reader.scalars(select(Supplier).limit(1)).first()
            supplier_credentials = list(supplier.credentials) if supplier else []
        return Snapshot(
            version, time.monotonic(), buyers, by_from, credentials, supplier_credentials
        )

    def touch(self, db: Session, row: BuyerCredential, now: datetime) -> None:
        """Stamp a credential as used, at most once a minute per process."""
        last = self._touched.get(row.id) or row.last_used_at
        if last is not None and now - last <= TOUCH_EVERY:
            return
        self._touched[row.id] = now
        db.connection().execute(
            update(BuyerCredential)
            .where(BuyerCredential.id == row.id)
            .values(last_used_at=now)
            .execution_options(**{UNCHANGED: True})
        )


def _bump(conn, clauseelement, _multiparams, _params, execution_options, _result) -> None:
    table = getattr(clauseelement, "table", None)
    if (
        getattr(clauseelement, "is_dml", False)
        and getattr(table, "name", None) in WATCHED
        and not execution_options.get(UNCHANGED)
        and not clauseelement.get_execution_options().get(UNCHANGED)
    ):
        # The catalog counts this transaction read are stale now (gateway.catalog.aggregates).
        conn.info.pop("punchgate.catalog_counts", None)
        dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
        conn.execute(
            dialect.insert(ConfigVersion)
            .values(id=1, version=1)
            .on_conflict_do_update(
                index_elements=[ConfigVersion.id],
                set_={"version": ConfigVersion.version + 1},
            )
        )


def watch(engine: Engine) -> None:
    """Bump config_version with every change to a watched table made through ``engine``."""
    event.listen(engine, "after_execute", _bump)


LOGIN_TTL = 300.0  # seconds: the calls of one punchout (VALIDATE, BACKGROUND_SEARCH, DETAIL)
MAX_LOGINS = 10_000


class LoginCache:
    """OCI logins verified recently in this process, so repeated calls skip Argon2id.

    SAP sends the catalog password with every call of a punchout. An entry is keyed
    by the credential row and its stored hash, so a changed password, a deleted row
    or an upgraded hash never matches an old entry; it holds an HMAC of the password
    under a random key that lives only in this process's memory (never the password,
    never anything a stolen database or log could be checked against), and expires
    after ``LOGIN_TTL`` seconds. A wrong password never matches an entry and pays the
    full Argon2id check. The overlap window is checked on every call, hit or not.
    """

    def __init__(self, ttl: float = LOGIN_TTL):
        self.ttl = ttl
        self._key = secrets.token_bytes(32)
        self._entries: dict[tuple[int, str], tuple[bytes, float]] = {}

    def _digest(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()

    def verified(self, rows, password: str):
        """The row among ``rows`` this password was verified against recently, or None."""
        digest, now = self._digest(password), time.monotonic()
        for row in rows:
            entry = self._entries.get((row.id, row.secret_hash))
            if entry is not None and entry[1] > now and hmac.compare_digest(entry[0], digest):
                return row
        return None

    def remember(self, row, password: str) -> None:
        now = time.monotonic()
        if len(self._entries) >= MAX_LOGINS:
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
            if len(self._entries) >= MAX_LOGINS:
                self._entries.clear()
        self._entries[(row.id, row.secret_hash)] = (self._digest(password), now + self.ttl)
