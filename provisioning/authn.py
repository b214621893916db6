"""Authenticating inbound cXML: the buyer is named by From, proven by Sender."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from gateway.cache import ConfigCache, LoginCache
from gateway.cxml.credentials import verify_mac
from gateway.cxml.envelope import Envelope
from gateway.cxml.errors import Unauthorized
from gateway.models import AuthThrottle, Buyer, BuyerCredential, Event, utcnow
from gateway.statements import Prepared
from provisioning.credentials import SecretBox


@dataclass(frozen=True)
class Authenticated:
    buyer: Buyer
    credential_id: int
    method: str  # SharedSecret | CredentialMac | OCI login
    sender: str  # domain/identity that authenticated
    which: str = "current"  # or "previous (valid until …)": shown in the session log


def _touch(row: BuyerCredential, now: datetime) -> None:
    # Minute precision is enough for the stale-credential report, and it spares a
    # write on every request of a busy buyer; the event names the credential exactly.
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now


def _which(row: BuyerCredential) -> str:
    if row.valid_until is None:
        return "current"
    return f"previous (valid until {row.valid_until.isoformat(timespec='minutes')})"


def _ordered(rows: list[BuyerCredential]) -> list[BuyerCredential]:
    # The current secret first, then replaced ones, newest deadline first.
    return sorted(
        rows,
        key=lambda r: (
            r.valid_until is not None,
            -(r.valid_until.timestamp() if r.valid_until else 0),
        ),
    )


class AuthenticationFailed(Unauthorized):
    """401 with the buyer (when From named one) kept for the event log."""

    def __init__(self, detail: str, buyer_id: str | None = None, reasons: list[str] | None = None):
        super().__init__(detail)
        self.buyer_id = buyer_id
        self.reasons = reasons or []


def authenticate(
    db: Session, box: SecretBox, envelope: Envelope, now: datetime, cache: ConfigCache, snapshot
) -> Authenticated:
    """Identify the buyer by From and verify a Sender credential's secret.

    Every Sender credential is tried (Ariba sends two), against the current
    secret and any replaced one still inside its overlap window. Failure texts
    name the identity and what was wrong, never anything about the secret.
    Buyers and credentials come from the process's configuration ``snapshot``
    (gateway/cache.py), fresh for this transaction.
    """
    buyer_id = snapshot.buyer_for(c.key for c in envelope.from_)
    if buyer_id is None:
        names = ", ".join(f"{c.domain}/{c.identity}" for c in envelope.from_)
        raise AuthenticationFailed(f"From identity {names} is not a buyer known to this supplier")
    # A copy for this transaction: the request may change it (a created role).
    buyer = db.merge(snapshot.buyers[buyer_id], load=False)
    stored: dict[tuple[str, str], list[BuyerCredential]] = {}
    for row in snapshot.rows(buyer.id, "sender"):
        stored.setdefault((row.domain, row.identity), []).append(row)
    reasons = []
    for cred in envelope.sender:
        label = f"{cred.domain}/{cred.identity}"
        rows = _ordered(stored.get(cred.key, []))
        if not rows:
            # Still spend the hash so timing does not tell known from unknown senders.
            box.verify(cred.shared_secret or "", None)
            reasons.append(f"Sender {label} is not configured for this buyer")
            continue
        valid = [r for r in rows if r.valid_at(now)]
        if cred.shared_secret is not None:
            for row in valid:
                if box.verify(cred.shared_secret, row.secret_hash):
                    cache.touch(db, row, now)
                    return Authenticated(buyer, row.id, "SharedSecret", label, _which(row))
            expired = next(
                (
                    r
                    for r in rows
                    if not r.valid_at(now) and box.verify(cred.shared_secret, r.secret_hash)
                ),
                None,
            )
            if expired is not None:
                reasons.append(
                    f"Sender {label}: SharedSecret is a replaced secret that stopped "
                    f"working at {expired.valid_until.isoformat(timespec='minutes')}"
                )
            else:
                reasons.append(f"Sender {label}: SharedSecret does not match")
        elif cred.mac is not None:
            problem = "no key on file to verify a CredentialMac"
            for row in valid:
                secret = box.decrypt(row.secret_encrypted) if row.secret_encrypted else None
                if secret is None:
                    continue
                for from_ in envelope.from_:
                    problem = verify_mac(secret, cred.mac, from_, cred, now)
                    if problem is None:
                        cache.touch(db, row, now)
                        return Authenticated(buyer, row.id, "CredentialMac", label, _which(row))
            reasons.append(f"Sender {label}: {problem}")
        else:
            reasons.append(f"Sender {label} carries no SharedSecret or CredentialMac")
    raise AuthenticationFailed(
        "Sender credentials not accepted: " + "; ".join(reasons), buyer.id, reasons
    )


OCI_FAILURE = "oci.auth_failed"


# An OCI call's first reads in one statement: the buyer's failed logins in the window
# (the kind as a literal, not a parameter: only then do SQLite and a prepared
# PostgreSQL plan know the partial index ix_events_oci_failures applies) and the
# user name's throttle row.
_OCI_STATE = Prepared(
    select(
        select(func.count())
        .select_from(Event)
        .where(
            Event.buyer_id == bindparam("buyer_id"),
            text(f"events.kind = '{OCI_FAILURE}'"),
            Event.at >= bindparam("since"),
        )
        .scalar_subquery(),
        select(AuthThrottle.key).where(AuthThrottle.key == bindparam("key")).scalar_subquery(),
        select(AuthThrottle.locked_until)
        .where(AuthThrottle.key == bindparam("key"))
        .scalar_subquery(),
    )
)


@dataclass(frozen=True)
class OciState:
    failures: int  # the buyer's failed logins since the window's start
    throttle_row: bool  # an auth_throttle row exists for the user name
    locked_until: datetime | None


def oci_state(db: Session, buyer_id: str, key: str, since: datetime) -> OciState:
    failures, row, locked = _OCI_STATE.first(
        db.connection(), {"buyer_id": buyer_id, "key": key, "since": since}
    )
    return OciState(failures or 0, row is not None, locked)


def authenticate_oci(
    db: Session,
    box: SecretBox,
    buyer: Buyer,
    username: str | None,
    password: str | None,
    logins: LoginCache | None = None,
    snapshot=None,
    cache: ConfigCache | None = None,
) -> Authenticated:
    """Check an OCI login (Argon2id, upgraded on success); texts never carry the password.

    ``logins``: the process's cache of recently verified logins (gateway/cache.py),
    which spares Argon2id on the repeated calls of one punchout. ``snapshot`` and
    ``cache``: the process's configuration snapshot, fresh for this transaction, read
    instead of the credential rows (as ``authenticate`` does).
    """
    now = utcnow()
    if snapshot is not None:
        rows = _ordered(snapshot.rows(buyer.id, "oci"))
    else:
        rows = _ordered(
            list(
                db.scalars(
                    select(BuyerCredential).where(
                        BuyerCredential.buyer_id == buyer.id, BuyerCredential.kind == "oci"
                    )
                )
            )
        )
    if not rows:
        raise AuthenticationFailed(f"buyer {buyer.id!r} has no OCI login configured", buyer.id)
    if not username or not password:
        box.verify(password or "", None)
        raise AuthenticationFailed("the call carries no user name and password", buyer.id)
    name = username.casefold().encode()
    named = [r for r in rows if hmac.compare_digest(name, r.identity.encode())]
    matched = logins.verified(named, password) if logins is not None else None
    upgrade = None
    if matched is None:
        for row in rows:
            # Every row is checked, so timing does not tell a known user name from another.
            ok, upgraded = box.verify_password(password, row.secret_hash)
            if row in named and ok and matched is None:
                matched, upgrade = row, upgraded
    if matched is None:
        raise AuthenticationFailed(f"login failed for user {username!r}", buyer.id)
    if not matched.valid_at(now):
        raise AuthenticationFailed(
            f"user {username!r} used a replaced password that stopped working at "
            f"{matched.valid_until.isoformat(timespec='minutes')}",
            buyer.id,
        )
    if snapshot is None:
        if upgrade:
            matched.secret_hash = upgrade  # stronger parameters, or Argon2id replacing HMAC
        _touch(matched, now)
    else:
        if upgrade:
            # A snapshot row is detached: the stronger hash is written by statement, which
            # also moves config_version, so every process reloads it.
            db.connection().execute(
                update(BuyerCredential)
                .where(BuyerCredential.id == matched.id)
                .values(secret_hash=upgrade)
            )
        if cache is not None:
            cache.touch(db, matched, now)
    if logins is not None and not upgrade:
        logins.remember(matched, password)
    return Authenticated(buyer, matched.id, "OCI login", matched.identity, _which(matched))
