"""Secrets at rest.

Secrets that are only verified are kept as a keyed hash (HMAC-SHA256 with a
key derived from the server secret): a stolen database alone does not let
anyone compute them back. Secrets the gateway must present or recompute
(outbound shared secrets, CredentialMac keys) are encrypted with MultiFernet
under ``PUNCHGATE_ENCRYPTION_KEYS``, newest key first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _derive(secret_key: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret_key.encode("utf-8")
    )


class SecretBox:
    """Hashing and encryption of buyer secrets with the server's keys."""

    def __init__(self, secret_key: str, encryption_keys: tuple[str, ...] = ()):
        self._hash_key = _derive(secret_key, b"punchgate secret hash v1")
        self._fingerprint_key = _derive(secret_key, b"punchgate secret fingerprint v1")
        # OWASP's Argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
        self._argon2 = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
        if encryption_keys:
            fernets = [Fernet(k.encode("ascii")) for k in encryption_keys]
        else:
            # Without configured keys, one is derived from the secret key so the
            # embedded default works; production sets PUNCHGATE_ENCRYPTION_KEYS.
            derived = base64.urlsafe_b64encode(_derive(secret_key, b"punchgate fernet v1"))
            fernets = [Fernet(derived)]
        self._fernet = MultiFernet(fernets)

    def fingerprint(self, secret: str) -> str:
        """Deterministic keyed digest: equal secrets, equal fingerprints, across buyers."""
        return hmac.new(self._fingerprint_key, secret.encode("utf-8"), hashlib.sha256).hexdigest()

    def hash_password(self, password: str) -> str:
        """Argon2id, for human-chosen passwords (OCI logins)."""
        return self._argon2.hash(password)

    def verify_password(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        """(matches, new hash when the stored one uses older parameters or another scheme)."""
        if not stored or not stored.startswith("$argon2"):
            ok = self.verify(password, stored)
            return ok, self.hash_password(password) if ok else None
        try:
            self._argon2.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, None
        if self._argon2.check_needs_rehash(stored):
            return True, self.hash_password(password)
        return True, None

    def hash(self, secret: str) -> str:
        digest = hmac.new(self._hash_key, secret.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"hmac-sha256${digest}"

    def verify(self, secret: str, stored: str | None) -> bool:
        """Constant-time check of a presented secret against a stored hash."""
        if not stored:
            # Still compute, so an unknown identity costs the same as a wrong secret.
            hmac.compare_digest(self.hash(secret), "hmac-sha256$" + "0" * 64)
            return False
        return hmac.compare_digest(self.hash(secret).encode(), stored.encode())

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str | None:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            return None

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")
