"""``punchgate buyers load FILE.toml``: the supplier and its buyer connections.

The whole file is checked before anything is written (``provisioning.buyer_file``
reports every problem at once), and written in one transaction: a typo in one
buyer never leaves the others half-updated.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Buyer, BuyerCredential, Supplier, utcnow
from provisioning import urls
from provisioning.buyer_file import (
    DEFAULT_OVERLAP_DAYS,
    MIN_PASSWORD,
    MIN_SECRET,
    BuyerSpec,
    ConfigError,
    Problem,
    check_config,
    parse_config,
)
from provisioning.credentials import SecretBox

__all__ = [
    "DEFAULT_OVERLAP_DAYS",
    "ConfigError",
    "check_config",
    "load_buyers",
    "parse_config",
    "url_allowed",
]


def check_strength(secret: str, kind: str, who: str, where: str, allow_weak: bool) -> None:
    """Refuse empty or short credentials; the message never contains the value."""
    minimum = MIN_PASSWORD if kind == "oci" else MIN_SECRET
    if not secret.strip():
        raise ConfigError(f"{who}: {where} is empty")
    if len(secret) < minimum and not allow_weak:
        raise ConfigError(
            f"{who}: {where} is too short ({len(secret)} characters; at least {minimum}); "
            "use a long random value"
        )


def check_reuse(
    db: Session, box: SecretBox, buyer_id: str, secrets: list[tuple[str, str]], allow_weak: bool
) -> None:
    """Refuse a secret another buyer already uses (named by buyer, never by value)."""
    if allow_weak:
        return
    for where, secret in secrets:
        owner = db.scalar(
            select(BuyerCredential.buyer_id)
            .where(
                BuyerCredential.fingerprint == box.fingerprint(secret),
                BuyerCredential.buyer_id != buyer_id,
                BuyerCredential.kind.in_(("sender", "oci")),
            )
            .limit(1)
        )
        if owner:
            raise ConfigError(
                f"buyer {buyer_id!r}: {where} is the same secret buyer "
                f"{owner!r} uses; every buyer needs its own"
            )


def set_secret(
    db: Session,
    box: SecretBox,
    buyer_id: str,
    kind: str,
    domain: str,
    identity: str,
    secret: str,
    overlap: timedelta,
) -> BuyerCredential:
    """Make ``secret`` the current one for this identity.

    The secret it replaces keeps working for ``overlap`` (so neither side has to
    switch at the same minute); the same secret again changes nothing.
    """
    now = utcnow()
    fingerprint = box.fingerprint(secret)
    rows = list(
        db.scalars(
            select(BuyerCredential).where(
                BuyerCredential.buyer_id == buyer_id,
                BuyerCredential.kind == kind,
                BuyerCredential.domain == domain,
                BuyerCredential.identity == identity,
            )
        )
    )
    current = next((r for r in rows if r.fingerprint == fingerprint), None)
    for row in rows:
        if row is current:
            continue
        if row.valid_until is None:
            row.valid_until = now + overlap
        elif row.valid_until <= now:
            db.delete(row)  # long expired: nothing to keep it for
    if current is None:
        current = BuyerCredential(
            buyer_id=buyer_id,
            kind=kind,
            domain=domain,
            identity=identity,
            fingerprint=fingerprint,
            secret_hash=box.hash_password(secret) if kind == "oci" else box.hash(secret),
            # Kept encrypted as well: CredentialMac checks and signed sync calls need the key.
            secret_encrypted=box.encrypt(secret) if kind == "sender" else None,
        )
        db.add(current)
    current.valid_until = None
    db.flush()
    return current


def load_buyers(
    db: Session, path: Path, box: SecretBox, env: dict | None = None, text: str | None = None
) -> list[str]:
    """Upsert the supplier and every buyer of the file (or of ``text``); return the ids.

    Raises ``ConfigError`` with every problem (of the file, and against the buyers
    already in the database) before anything is written.
    """
    text = path.read_text(encoding="utf-8") if text is None else text
    supplier_data, specs = parse_config(text, env)
    problems = [p for spec in specs for p in _database_problems(db, box, spec)]
    if problems:
        raise ConfigError(problems)
    supplier = db.scalar(select(Supplier).limit(1)) or Supplier()
    supplier.name = supplier_data["name"]
    supplier.credentials = [
        {"domain": c["domain"], "identity": c["identity"]} for c in supplier_data["credential"]
    ]
    db.add(supplier)
    for spec in specs:
        buyer = db.get(Buyer, spec.id) or Buyer(id=spec.id)
        buyer.name = spec.name
        buyer.return_url_prefixes = spec.return_url_prefixes
        # Roles the gateway created on the spot are kept across reloads.
        created = (buyer.settings or {}).get("created_roles", {})
        buyer.settings = {**spec.settings, "created_roles": created}
        db.add(buyer)
        db.flush()
        overlap = timedelta(days=spec.settings["credentials"]["overlap_days"])
        keep = set()
        for domain, identity, secret in spec.senders:
            keep.add(
                set_secret(db, box, spec.id, "sender", domain, identity, secret.value, overlap).id
            )
        if spec.oci:
            username, password = spec.oci
            keep.add(
                set_secret(
                    db, box, spec.id, "oci", "", username.casefold(), password.value, overlap
                ).id
            )
        # Identities no longer in the file, and every From / outbound row, are replaced.
        for row in db.scalars(select(BuyerCredential).where(BuyerCredential.buyer_id == spec.id)):
            if (
                row.kind in ("from", "outbound")
                or row.id not in keep
                and not any(
                    row.kind == k and row.domain == d and row.identity == i
                    for k, d, i in _identities(spec)
                )
            ):
                db.delete(row)
        db.flush()
        db.add_all(
            [
                BuyerCredential(buyer_id=spec.id, kind="from", domain=d, identity=i)
                for d, i in spec.from_
            ]
        )
        if spec.outbound_secret:
            db.add(
                BuyerCredential(
                    buyer_id=spec.id,
                    kind="outbound",
                    identity="outbound",
                    secret_encrypted=box.encrypt(spec.outbound_secret.value),
                )
            )
    return [s.id for s in specs]


def _database_problems(db: Session, box: SecretBox, spec: BuyerSpec) -> list[Problem]:
    """What only the database knows: identities and secrets other buyers already have."""
    who = f"buyer {spec.id!r}"
    problems = []
    # A From identity names one buyer across the whole database too.
    for domain, identity in spec.from_:
        owner = db.scalar(
            select(BuyerCredential.buyer_id).where(
                BuyerCredential.kind == "from",
                BuyerCredential.domain == domain,
                BuyerCredential.identity == identity,
                BuyerCredential.buyer_id != spec.id,
            )
        )
        if owner:
            problems.append(
                Problem(
                    who,
                    "buyer.cxml.from",
                    f"From identity {domain}/{identity} already belongs to buyer {owner!r}",
                )
            )
    secrets = [(ref.where, ref.value) for _, _, ref in spec.senders]
    if spec.oci:
        secrets.append((spec.oci[1].where, spec.oci[1].value))
    try:
        check_reuse(db, box, spec.id, secrets, spec.settings["credentials"]["allow_weak"])
    except ConfigError as exc:
        problems.extend(exc.problems)
    return problems


def _identities(spec: BuyerSpec) -> list[tuple[str, str, str]]:
    found = [("sender", d, i) for d, i, _ in spec.senders]
    if spec.oci:
        found.append(("oci", "", spec.oci[0].casefold()))
    return found


def url_allowed(url: str, prefixes: list[str]) -> bool:
    """True when ``url`` is under one of the buyer's allowed return URL prefixes.

    Scheme, host and port must match exactly (so ``https://acme.example`` does not
    admit ``https://acme.example.evil``); the path must start with the prefix's
    path. Both are normalised first: see provisioning/urls.py.
    """
    return urls.url_allowed(url, prefixes)
