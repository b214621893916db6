"""What one instance checks before it serves: the schema is current, its keys agree.

Several instances share one database. Keys that must be the same everywhere
(``PUNCHGATE_SECRET_KEY`` keys the hashes of shared secrets and signs console cookies,
``PUNCHGATE_ENCRYPTION_KEYS`` encrypts stored secrets) are compared with a
fingerprint the first instance recorded; an instance with other keys would
fail every request that lands on it without an error anywhere saying why.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.migrate import current_revision, head_revision
from gateway.models import KeyFingerprint, utcnow
from gateway.state import Gateway

UNREACHABLE = "database unreachable"


class StartupRefused(Exception):
    """This instance must not serve; the message is one line saying why and what to do."""


class DatabaseUnreachable(StartupRefused):
    """The checks could not run: the database did not answer (a passing state, unlike a
    wrong key or an old schema)."""


def secret_key_fingerprint(secret_key: str) -> str:
    # Keyed with the secret itself: the database already holds HMACs under keys
    # derived from it, so this digest reveals nothing they do not.
    digest = hmac.new(secret_key.encode(), b"punchgate key fingerprint v1", hashlib.sha256)
    return digest.hexdigest()


def encryption_keys_fingerprint(keys: tuple[str, ...]) -> str:
    if not keys:
        return "derived-from-secret-key"
    # Fernet keys are 32 random bytes: a plain digest of the list cannot be reversed.
    return hashlib.sha256("\n".join(("punchgate encryption keys v1", *keys)).encode()).hexdigest()


def schema_problem(gateway: Gateway) -> str | None:
    """Why the database cannot serve this code, or None when it can."""
    try:
        current = current_revision(gateway.db.engine)
    except SQLAlchemyError as exc:
        return f"{UNREACHABLE} ({database_error(exc)})"
    head = head_revision()
    if current != head:
        return (
            f"database schema is at revision {current or 'none'}, this version needs {head}: "
            "run `punchgate db upgrade`"
        )
    return None


def _expected(gateway: Gateway) -> dict[str, str]:
    settings = gateway.settings
    return {
        "PUNCHGATE_SECRET_KEY": secret_key_fingerprint(settings.secret_key),
        "PUNCHGATE_ENCRYPTION_KEYS": encryption_keys_fingerprint(settings.encryption_keys),
    }


def check_keys(gateway: Gateway) -> None:
    """Record the key fingerprints at first start; refuse keys that differ from them."""
    expected = _expected(gateway)
    for attempt in range(2):
        try:
            with gateway.db.transaction() as db:
                _compare_or_record(db, expected)
            return
        except IntegrityError:
            # Another instance recorded its fingerprints at the same moment: compare with those.
            if attempt:
                raise


def _compare_or_record(db: Session, expected: dict[str, str]) -> None:
    for name, fingerprint in expected.items():
        row = db.get(KeyFingerprint, name)
        if row is None:
            db.add(KeyFingerprint(name=name, fingerprint=fingerprint, recorded_at=utcnow()))
            db.flush()
        elif not hmac.compare_digest(row.fingerprint, fingerprint):
            hint = "; after a rotation run `punchgate keys rotate`" if "ENC" in name else ""
            raise StartupRefused(
                f"{name} differs from the one this database was first used with "
                f"(recorded {row.recorded_at:%Y-%m-%d %H:%M} UTC): give every instance "
                f"the same value{hint}"
            )


def check_secret_key(db: Session, gateway: Gateway) -> None:
    """Refuse a secret key other than the recorded one (it cannot be rotated)."""
    name = "PUNCHGATE_SECRET_KEY"
    _compare_or_record(db, {name: _expected(gateway)[name]})


def record_encryption_keys(db: Session, gateway: Gateway) -> None:
    """Make this instance's encryption keys the expected ones (``punchgate keys rotate``)."""
    name = "PUNCHGATE_ENCRYPTION_KEYS"
    db.merge(KeyFingerprint(name=name, fingerprint=_expected(gateway)[name], recorded_at=utcnow()))


def check_startup(gateway: Gateway) -> None:
    """Everything an instance checks before it serves; raises StartupRefused."""
    problem = schema_problem(gateway)
    if problem:
        refused = DatabaseUnreachable if problem.startswith(UNREACHABLE) else StartupRefused
        raise refused(problem)
    try:
        check_keys(gateway)
    except SQLAlchemyError as exc:
        raise DatabaseUnreachable(f"{UNREACHABLE} ({database_error(exc)})") from None


def database_error(exc: SQLAlchemyError) -> str:
    """The first line of a database error: what went wrong, never a URL or a parameter."""
    # The driver's first line names the cause (refused, unknown database, password)
    # without the URL; later lines may quote the statement.
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]
