"""CredentialMac (HMAC-SHA1-96, type FromSenderCredentials) and secret comparison."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from gateway.cxml.envelope import Credential, CredentialMac
from gateway.cxml.timestamps import parse_timestamp

MAC_TYPE = "FromSenderCredentials"
MAC_ALGORITHM = "HMAC-SHA1-96"


def credential_mac(
    secret: str,
    from_domain: str,
    from_identity: str,
    sender_domain: str,
    sender_identity: str,
    creation_date: str,
    expiration_date: str,
) -> str:
    """Compute the CredentialMac value as the cXML Reference Guide defines it.

    Domains and identities are lower-cased, the dates are taken as written;
    each value is UTF-8 followed by a NUL byte; HMAC-SHA1 truncated to 96 bits.
    """
    parts = [
        from_domain.lower(),
        from_identity.lower(),
        sender_domain.lower(),
        sender_identity.lower(),
        creation_date,
        expiration_date,
    ]
    message = b"".join(p.encode("utf-8") + b"\0" for p in parts)
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha1).digest()
    return base64.b64encode(digest[:12]).decode("ascii")


def secrets_equal(a: str, b: str) -> bool:
    """Constant-time comparison on bytes (compare_digest rejects non-ASCII str)."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def verify_mac(
    secret: str, mac: CredentialMac, from_: Credential, sender: Credential, now: datetime
) -> str | None:
    """Return None when the MAC is valid and current, else the reason it is not."""
    if mac.type != MAC_TYPE or mac.algorithm != MAC_ALGORITHM:
        return f"CredentialMac type {mac.type!r} / algorithm {mac.algorithm!r} is not supported"
    expires = parse_timestamp(mac.expiration_date)
    if expires is None:
        return "CredentialMac expirationDate is not a date"
    if expires < now:
        return f"CredentialMac expired at {mac.expiration_date}"
    expected = credential_mac(
        secret,
        from_.domain,
        from_.identity,
        sender.domain,
        sender.identity,
        mac.creation_date,
        mac.expiration_date,
    )
    if not secrets_equal(expected, mac.value):
        return "CredentialMac does not match"
    return None
