"""Credential sync for the buyer's side: set the next secret without an outage.

``POST /api/v1/buyers/<id>/credentials``, signed with a current cXML Sender secret:

- ``X-Punchgate-Credential: <domain>/<identity>``: the Sender credential that signs;
- ``X-Punchgate-Timestamp``: unix seconds, within five minutes of the gateway's clock;
- ``X-Punchgate-Nonce``: a value never used before (replays are refused);
- ``X-Punchgate-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<nonce>.<body>">``.

Body: ``{"kind": "cxml", "domain": …, "identity": …, "new_secret": …}`` or
``{"kind": "oci", "username": …, "new_password": …}``, with an optional
``"overlap_days"`` (default: the buyer's setting) during which the old one still works.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.models import Buyer, BuyerCredential, SyncNonce, utcnow
from gateway.sessions.events import record
from provisioning import throttle
from provisioning.buyers import ConfigError, check_reuse, check_strength, set_secret
from provisioning.credentials import SecretBox

WINDOW_SECONDS = 300
_UNIX_TIME = re.compile(r"[0-9]{1,12}")


class SyncError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def signature(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = f"{timestamp}.{nonce}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _authenticate(db: Session, box: SecretBox, buyer: Buyer, headers, body: bytes) -> str:
    label = headers.get("X-Punchgate-Credential", "")
    timestamp = headers.get("X-Punchgate-Timestamp", "")
    nonce = headers.get("X-Punchgate-Nonce", "")
    given = headers.get("X-Punchgate-Signature", "")
    if not (label and timestamp and nonce and given) or "/" not in label:
        raise SyncError(
            401, "X-Punchgate-Credential, -Timestamp, -Nonce and -Signature are required"
        )
    if not _UNIX_TIME.fullmatch(timestamp):
        raise SyncError(400, "X-Punchgate-Timestamp must be unix seconds (at most 12 digits)")
    if abs(time.time() - int(timestamp)) > WINDOW_SECONDS:
        raise SyncError(401, "the signed timestamp is outside the five-minute window")
    now = utcnow()
    key = throttle.sync_key(buyer.id, label)
    until = throttle.locked_until(db, key, now)
    if until is not None:
        raise SyncError(429, "too many failed attempts; try again later")
    domain, identity = (part.strip().casefold() for part in label.split("/", 1))
    if "\x00" in label or len(domain) > 200 or len(identity) > 200:
        rows = []  # no credential has such a name; still a failure that counts
    else:
        rows = db.scalars(
            select(BuyerCredential).where(
                BuyerCredential.buyer_id == buyer.id,
                BuyerCredential.kind == "sender",
                BuyerCredential.domain == domain,
                BuyerCredential.identity == identity,
            )
        )
    for row in rows:
        secret = box.decrypt(row.secret_encrypted) if row.secret_encrypted else None
        if (
            row.valid_at(now)
            and secret is not None
            and hmac.compare_digest(
                signature(secret, timestamp, nonce, body).encode(), given.encode()
            )
        ):
            return label
    throttle.failed(db, key, now)
    raise SyncError(401, f"signature does not match a current secret of {label}")


def sync(db: Session, box: SecretBox, buyer_id: str, headers, body: bytes) -> dict:
    buyer = db.get(Buyer, buyer_id)
    if buyer is None:
        raise SyncError(404, f"no buyer {buyer_id!r}")
    signer = _authenticate(db, box, buyer, headers, body)
    try:
        outcome = _apply(db, box, buyer, signer, headers, body)
    except SyncError as exc:
        if exc.status == 400:
            # Every refusal counts towards the signer's back-off: a buyer must
            # not be able to try candidate values at will.
            throttle.failed(db, throttle.sync_key(buyer.id, signer), utcnow())
        raise
    # Only a change that went through clears the back-off, not a good signature alone.
    throttle.succeeded(db, throttle.sync_key(buyer.id, signer))
    return outcome


def _text(data: dict, name: str, limit: int = 200) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or "\x00" in value or len(value) > limit:
        raise SyncError(400, f"{name} must be a string of at most {limit} characters")
    return value


def _apply(db: Session, box: SecretBox, buyer: Buyer, signer: str, headers, body: bytes) -> dict:
    try:
        with db.begin_nested():
            db.add(SyncNonce(nonce=headers["X-Punchgate-Nonce"][:100]))
    except IntegrityError:
        raise SyncError(409, "this request was already received (nonce reused)") from None
    db.execute(
        delete(SyncNonce).where(
            SyncNonce.seen_at < utcnow() - timedelta(seconds=2 * WINDOW_SECONDS)
        )
    )
    try:
        data = json.loads(body)
    except ValueError:
        raise SyncError(400, "the body is not JSON") from None
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "cxml":
        domain, identity = _text(data, "domain"), _text(data, "identity")
        new, field, cred_kind = data.get("new_secret"), "new_secret", "sender"
    elif kind == "oci":
        domain, identity = "", _text(data, "username")
        new, field, cred_kind = data.get("new_password"), "new_password", "oci"
    else:
        raise SyncError(400, 'kind must be "cxml" or "oci"')
    if not identity or not isinstance(new, str):
        raise SyncError(400, f"identity and {field} are required")
    if len(new) > 1000 or any(ord(ch) < 32 or ord(ch) == 127 for ch in new):
        raise SyncError(400, f"{field} must be at most 1000 printable characters")
    known = db.scalar(
        select(BuyerCredential.id)
        .where(
            BuyerCredential.buyer_id == buyer.id,
            BuyerCredential.kind == cred_kind,
            BuyerCredential.domain == domain.casefold(),
            BuyerCredential.identity == identity.casefold(),
        )
        .limit(1)
    )
    if known is None:
        what = "an OCI login" if kind == "oci" else "a cXML Sender credential"
        raise SyncError(
            400, f"{domain + '/' if domain else ''}{identity} is not {what} of buyer {buyer.id!r}"
        )
    policy = buyer.settings.get("credentials", {})
    days = data.get("overlap_days", policy.get("overlap_days", 7))
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 365:
        raise SyncError(400, "overlap_days must be a whole number from 0 to 365")
    try:
        check_strength(
            new, cred_kind, f"buyer {buyer.id!r}", field, policy.get("allow_weak", False)
        )
    except ConfigError as exc:
        raise SyncError(400, str(exc)) from None
    try:
        check_reuse(db, box, buyer.id, [(field, new)], policy.get("allow_weak", False))
    except ConfigError:
        # Never say whose secret it is: that would be an oracle for other buyers' secrets.
        raise SyncError(400, f"{field} cannot be used; choose another long random value") from None
    row = set_secret(
        db,
        box,
        buyer.id,
        cred_kind,
        domain.casefold(),
        identity.casefold(),
        new,
        timedelta(days=days),
    )
    previous = [
        r.valid_until
        for r in db.scalars(
            select(BuyerCredential).where(
                BuyerCredential.buyer_id == buyer.id,
                BuyerCredential.kind == cred_kind,
                BuyerCredential.identity == identity.casefold(),
                BuyerCredential.id != row.id,
            )
        )
        if r.valid_until is not None
    ]
    until = max(previous).isoformat(timespec="seconds") if previous else None
    record(
        db,
        "credentials.synced",
        f"{kind} credential {identity} replaced through the sync API (signed by {signer}); "
        f"the previous one works until {until}",
        buyer_id=buyer.id,
        data={
            "kind": kind,
            "identity": identity,
            "signed_by": signer,
            "previous_valid_until": until,
        },
    )
    return {"status": "ok", "kind": kind, "identity": identity, "previous_valid_until": until}
