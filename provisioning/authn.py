"""Authenticating inbound cXML: the buyer is named by From, proven by Sender."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from gateway.cxml.credentials import verify_mac
from gateway.cxml.envelope import Envelope
from gateway.cxml.errors import Unauthorized
from gateway.models import Buyer, BuyerCredential, Event
from provisioning.credentials import SecretBox


@dataclass(frozen=True)
class Authenticated:
    buyer: Buyer
    credential_id: int
    method: str  # SharedSecret | CredentialMac
    sender: str  # domain/identity that authenticated


class AuthenticationFailed(Unauthorized):
    """401 with the buyer (when From named one) kept for the event log."""

    def __init__(self, detail: str, buyer_id: str | None = None, reasons: list[str] | None = None):
        super().__init__(detail)
        self.buyer_id = buyer_id
        self.reasons = reasons or []


def buyer_for(db: Session, envelope: Envelope) -> Buyer | None:
    """The buyer one of the From credentials names (domain and identity case-insensitive)."""
    matches = [
        and_(BuyerCredential.domain == domain, BuyerCredential.identity == identity)
        for domain, identity in (c.key for c in envelope.from_)
    ]
    return db.scalar(
        select(Buyer)
        .join(BuyerCredential, BuyerCredential.buyer_id == Buyer.id)
        .where(BuyerCredential.kind == "from", or_(*matches))
        .limit(1)
    )


def authenticate(db: Session, box: SecretBox, envelope: Envelope, now: datetime) -> Authenticated:
    """Identify the buyer by From and verify a Sender credential's secret.

    Every Sender credential is tried (Ariba sends two). Failure texts name the
    identity and what was wrong, never anything about the expected secret.
    """
    buyer = buyer_for(db, envelope)
    if buyer is None:
        names = ", ".join(f"{c.domain}/{c.identity}" for c in envelope.from_)
        raise AuthenticationFailed(f"From identity {names} is not a buyer known to this supplier")
    stored = {
        (c.domain, c.identity): c
        for c in db.scalars(
            select(BuyerCredential).where(
                BuyerCredential.buyer_id == buyer.id, BuyerCredential.kind == "sender"
            )
        )
    }
    reasons = []
    for cred in envelope.sender:
        label = f"{cred.domain}/{cred.identity}"
        row = stored.get(cred.key)
        if row is None:
            # Still spend the hash so timing does not tell known from unknown senders.
            box.verify(cred.shared_secret or "", None)
            reasons.append(f"Sender {label} is not configured for this buyer")
            continue
        if cred.shared_secret is not None:
            if box.verify(cred.shared_secret, row.secret_hash):
                return Authenticated(buyer, row.id, "SharedSecret", label)
            reasons.append(f"Sender {label}: SharedSecret does not match")
        elif cred.mac is not None:
            secret = box.decrypt(row.secret_encrypted) if row.secret_encrypted else None
            if secret is None:
                reasons.append(f"Sender {label}: no key on file to verify a CredentialMac")
                continue
            for from_ in envelope.from_:
                problem = verify_mac(secret, cred.mac, from_, cred, now)
                if problem is None:
                    return Authenticated(buyer, row.id, "CredentialMac", label)
            reasons.append(f"Sender {label}: {problem}")
        else:
            reasons.append(f"Sender {label} carries no SharedSecret or CredentialMac")
    raise AuthenticationFailed(
        "Sender credentials not accepted: " + "; ".join(reasons), buyer.id, reasons
    )


OCI_FAILURE = "oci.auth_failed"


def recent_failures(db: Session, buyer_id: str, kind: str, since: datetime) -> int:
    """Failed logins logged for a buyer since a moment (the rate limiter's memory)."""
    return (
        db.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.buyer_id == buyer_id, Event.kind == kind, Event.at >= since)
        )
        or 0
    )


def authenticate_oci(
    db: Session, box: SecretBox, buyer: Buyer, username: str | None, password: str | None
) -> BuyerCredential:
    """Check an OCI login against the buyer's; the text never mentions the password's value."""
    row = db.scalar(
        select(BuyerCredential).where(
            BuyerCredential.buyer_id == buyer.id, BuyerCredential.kind == "oci"
        )
    )
    if row is None:
        raise AuthenticationFailed(f"buyer {buyer.id!r} has no OCI login configured", buyer.id)
    if not username or not password:
        box.verify(password or "", None)
        raise AuthenticationFailed("the call carries no user name and password", buyer.id)
    # Both checks run, so timing does not tell a known user name from an unknown one.
    name_ok = hmac.compare_digest(username.casefold().encode(), row.identity.encode())
    password_ok = box.verify(password, row.secret_hash)
    if not (name_ok and password_ok):
        raise AuthenticationFailed(f"login failed for user {username!r}", buyer.id)
    return row
