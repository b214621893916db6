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
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > WINDOW_SECONDS:
        raise SyncError(401, "the signed timestamp is outside the five-minute window")
    now = utcnow()
    key = f"sync:{buyer.id}:{label.casefold()}"
    until = throttle.locked_until(db, key, now)
    if until is not None:
        raise SyncError(429, "too many failed attempts; try again later")
    domain, identity = (part.strip().casefold() for part in label.split("/", 1))
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
            throttle.succeeded(db, key)
            return label
    throttle.failed(db, key, now)
    raise SyncError(401, f"signature does not match a current secret of {label}")


def sync(db: Session, box: SecretBox, buyer_id: str, headers, body: bytes) -> dict:
    buyer = db.get(Buyer, buyer_id)
    if buyer is None:
        raise SyncError(404, f"no buyer {buyer_id!r}")
    signer = _authenticate(db, box, buyer, headers, body)
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
        domain, identity = str(data.get("domain", "")), str(data.get("identity", ""))
        new, field, cred_kind = data.get("new_secret"), "new_secret", "sender"
    elif kind == "oci":
        domain, identity = "", str(data.get("username", ""))
        new, field, cred_kind = data.get("new_password"), "new_password", "oci"
    else:
        raise SyncError(400, 'kind must be "cxml" or "oci"')
    if not identity or not isinstance(new, str):
        raise SyncError(400, f"identity and {field} are required")
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
    if not isinstance(days, int) or not 0 <= days <= 365:
        raise SyncError(400, "overlap_days must be a whole number from 0 to 365")
    try:
        check_strength(
            new, cred_kind, f"buyer {buyer.id!r}", field, policy.get("allow_weak", False)
        )
        check_reuse(db, box, buyer.id, [(field, new)], policy.get("allow_weak", False))
    except ConfigError as exc:
        raise SyncError(400, str(exc)) from None
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
