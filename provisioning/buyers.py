"""``punchgate buyers load FILE.toml``: the supplier and its buyer connections.

The whole file is checked before anything is written, and written in one
transaction: a typo in one buyer never leaves the others half-updated.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Buyer, BuyerCredential, Supplier, utcnow
from provisioning import urls
from provisioning.credentials import SecretBox
from provisioning.roles import LEAST_PRIVILEGE, check_role_config


class ConfigError(ValueError):
    """The buyer file is wrong; the message names the buyer and the key."""


_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CXML_VERSION = re.compile(r"^1\.2\.\d{3}$")

# Allowed keys and their types; a dict is a nested table, [dict] an array of tables.
_CREDENTIAL = {"domain": str, "identity": str}
_SENDER = {"domain": str, "identity": str, "shared_secret": str, "shared_secret_env": str}
SCHEMA = {
    "supplier": {"name": str, "credential": [_CREDENTIAL]},
    "buyer": [
        {
            "id": str,
            "name": str,
            "profile": str,
            "cart": dict,
            "return_url_prefixes": [str],
            "cxml": {
                "from": [_CREDENTIAL],
                "sender": [_SENDER],
                "version": str,
                "operation_allowed": str,
                "form_encoding": str,
            },
            "oci": {
                "username": str,
                "password": str,
                "password_env": str,
                "hook_url_field": str,
                "username_fields": [str],
                "password_fields": [str],
                "user_fields": [str],
                "unique_name_fields": [str],
                "role_fields": [str],
                "vendor_number": str,
                "contract": str,
                "custom_fields": dict,
                "allow_sapevent": bool,
                "decimals": int,
                "index_base": int,
                "unit_map": dict,
                "max_failures": int,
            },
            "provisioning": {
                "auto_create_users": bool,
                "default_role": str,
                "unknown_roles": str,
                "unidentified_users": str,
                "role_map": dict,
                "role_extrinsics": [str],
                "new_role_template": dict,
                "hold_over_limit": bool,
            },
            "roles": dict,
            "outbound": {"url": str, "shared_secret": str, "shared_secret_env": str},
            "orders": {"mismatch_policy": str, "lines_without_part": str},
            "support": {"order_on_behalf": bool},
            "credentials": {"overlap_days": int, "allow_weak": bool},
            "signing": {
                "require_signed": bool,
                "sign_outbound": bool,
                "certificate": str,
                "certificate_file": str,
            },
        }
    ],
}


def _check(value, schema, path: str, who: str) -> None:
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{who}: {path} must be a table")
        for key, sub in value.items():
            if key not in schema:
                raise ConfigError(f"{who}: unknown key '{path}.{key}'")
            _check(sub, schema[key], f"{path}.{key}", who)
    elif isinstance(schema, list):
        if not isinstance(value, list):
            raise ConfigError(f"{who}: {path} must be a list")
        for index, item in enumerate(value):
            _check(item, schema[0], f"{path}[{index}]", who)
    elif schema is int and isinstance(value, bool) or not isinstance(value, schema):
        raise ConfigError(f"{who}: {path} must be a {schema.__name__}")


@dataclass
class SecretRef:
    value: str
    where: str


@dataclass
class BuyerSpec:
    id: str
    name: str
    return_url_prefixes: list[str]
    settings: dict
    from_: list[tuple[str, str]] = field(default_factory=list)
    senders: list[tuple[str, str, SecretRef]] = field(default_factory=list)
    oci: tuple[str, SecretRef] | None = None
    outbound_secret: SecretRef | None = None


def _secret(table: dict, key: str, path: str, who: str, env: dict) -> SecretRef | None:
    literal, env_name = table.get(key), table.get(f"{key}_env")
    if literal is not None and env_name is not None:
        raise ConfigError(f"{who}: {path} has both {key} and {key}_env; keep one")
    if env_name is not None:
        if env_name not in env:
            raise ConfigError(
                f"{who}: {path}.{key}_env names the environment variable {env_name!r}, "
                "which is not set"
            )
        literal = env[env_name]
    if literal is None:
        return None
    if not literal.strip():
        raise ConfigError(f"{who}: {path}.{key} is empty")
    return SecretRef(literal, f"{path}.{key}")


def _url_prefix(prefix: str, path: str, who: str) -> str:
    parts = urlsplit(prefix)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{who}: {path} entry {prefix!r} must be an absolute http(s) URL")
    return prefix


def _signing(signing: dict, who: str) -> dict:
    """Buyer signature settings, with the pinned certificate read and checked now."""
    from cryptography import x509

    pem = signing.get("certificate")
    if signing.get("certificate_file"):
        if pem:
            raise ConfigError(f"{who}: buyer.signing has both certificate and certificate_file")
        try:
            pem = Path(signing["certificate_file"]).read_text()
        except OSError as exc:
            raise ConfigError(f"{who}: buyer.signing.certificate_file: {exc.strerror}") from None
    if pem:
        try:
            x509.load_pem_x509_certificate(pem.encode())
        except ValueError:
            raise ConfigError(
                f"{who}: buyer.signing certificate is not a PEM X.509 certificate"
            ) from None
    if signing.get("require_signed") and not pem:
        raise ConfigError(f"{who}: buyer.signing.require_signed needs the buyer's certificate")
    return {
        "require_signed": bool(signing.get("require_signed", False)),
        "sign_outbound": bool(signing.get("sign_outbound", False)),
        "certificate": pem,
    }


def _profile(raw: dict, who: str) -> dict:
    """``profile`` and ``[buyer.cart]``: every wrong key reported in one message."""
    from gateway.profiles.rules import ProfileError
    from gateway.profiles.service import profile_settings

    try:
        version = raw.get("cxml", {}).get("version")
        return profile_settings(raw.get("profile"), raw.get("cart"), version)
    except ProfileError as exc:
        lines = "".join(f"\n  {key}: {message}" for key, message in exc.errors)
        count = len(exc.errors)
        raise ConfigError(f"{who}: the buyer profile has {count} error(s):{lines}") from None


def _check_oci(oci: dict, who: str) -> None:
    from gateway.sessions.transfer import CUSTOM_FIELD_SOURCES

    for key, value in (oci.get("custom_fields") or {}).items():
        if key not in ("1", "2", "3", "4", "5"):
            raise ConfigError(f"{who}: buyer.oci.custom_fields key {key!r} must be 1 to 5")
        if value not in CUSTOM_FIELD_SOURCES:
            raise ConfigError(
                f"{who}: buyer.oci.custom_fields.{key} = {value!r} must be one of "
                f"{', '.join(CUSTOM_FIELD_SOURCES)}"
            )
    for unit, mapped in (oci.get("unit_map") or {}).items():
        if not isinstance(mapped, str) or not 1 <= len(mapped) <= 3:
            raise ConfigError(
                f"{who}: buyer.oci.unit_map.{unit} must be a unit code of 1 to 3 characters"
            )
    if "decimals" in oci and not 0 <= oci["decimals"] <= 3:
        raise ConfigError(f"{who}: buyer.oci.decimals must be 0 to 3")
    if "index_base" in oci and oci["index_base"] not in (0, 1):
        raise ConfigError(f"{who}: buyer.oci.index_base must be 0 or 1")


def parse_config(text: str, env: dict | None = None) -> tuple[dict, list[BuyerSpec]]:
    env = dict(os.environ if env is None else env)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from None
    for key in data:
        if key not in SCHEMA:
            raise ConfigError(f"file: unknown key '{key}'")
    supplier = data.get("supplier")
    if supplier is None:
        raise ConfigError("file: [supplier] is missing")
    _check(supplier, SCHEMA["supplier"], "supplier", "supplier")
    if not supplier.get("name"):
        raise ConfigError("supplier: supplier.name is missing")
    if not supplier.get("credential"):
        raise ConfigError("supplier: at least one [[supplier.credential]] is needed")
    for i, cred in enumerate(supplier["credential"]):
        for k in ("domain", "identity"):
            if not cred.get(k):
                raise ConfigError(f"supplier: supplier.credential[{i}].{k} is missing")

    specs: list[BuyerSpec] = []
    seen_ids: set[str] = set()
    seen_from: dict[tuple[str, str], str] = {}
    for index, raw in enumerate(data.get("buyer", [])):
        who = f"buyer {raw.get('id', f'#{index + 1}')!r}"
        _check(raw, SCHEMA["buyer"][0], "buyer", who)
        buyer_id = raw.get("id", "")
        if not _ID.match(buyer_id):
            raise ConfigError(f"{who}: buyer.id must be a lower-case slug (a-z, 0-9, - and _)")
        if buyer_id in seen_ids:
            raise ConfigError(f"{who}: buyer.id appears twice in the file")
        seen_ids.add(buyer_id)
        if not raw.get("name"):
            raise ConfigError(f"{who}: buyer.name is missing")
        prefixes = [
            _url_prefix(p, "buyer.return_url_prefixes", who)
            for p in raw.get("return_url_prefixes", [])
        ]
        cxml = raw.get("cxml", {})
        settings = {
            "cxml": {
                "version": cxml.get("version"),
                "operation_allowed": cxml.get("operation_allowed", "edit"),
                "form_encoding": cxml.get("form_encoding", "cxml-base64"),
            },
            "oci": {
                k: v for k, v in raw.get("oci", {}).items() if k not in ("password", "password_env")
            },
            "provisioning": {
                "auto_create_users": True,
                "default_role": "requester",
                "unknown_roles": "create",
                "unidentified_users": "generic",
                "role_map": {},
                **raw.get("provisioning", {}),
            },
            "outbound": {"url": raw.get("outbound", {}).get("url")},
            "orders": {
                "mismatch_policy": "accept_and_flag",
                "lines_without_part": "accept_and_flag",
                **raw.get("orders", {}),
            },
            "support": {"order_on_behalf": False, **raw.get("support", {})},
            "signing": _signing(raw.get("signing", {}), who),
            "credentials": {
                "overlap_days": DEFAULT_OVERLAP_DAYS,
                "allow_weak": False,
                **raw.get("credentials", {}),
            },
        }
        if not 0 <= settings["credentials"]["overlap_days"] <= 365:
            raise ConfigError(f"{who}: buyer.credentials.overlap_days must be 0 to 365")
        if settings["orders"]["lines_without_part"] not in (
            "accept_and_flag",
            "reject",
        ):
            raise ConfigError(
                f"{who}: buyer.orders.lines_without_part must be accept_and_flag or reject"
            )
        if settings["orders"]["mismatch_policy"] not in ("accept_and_flag", "reject"):
            raise ConfigError(
                f"{who}: buyer.orders.mismatch_policy must be accept_and_flag or reject"
            )
        if settings["cxml"]["version"] and not _CXML_VERSION.match(settings["cxml"]["version"]):
            raise ConfigError(f"{who}: buyer.cxml.version must look like 1.2.069")
        if settings["cxml"]["operation_allowed"] not in ("create", "edit", "inspect"):
            raise ConfigError(
                f"{who}: buyer.cxml.operation_allowed must be create, edit or inspect"
            )
        if settings["cxml"]["form_encoding"] not in ("cxml-base64", "cxml-urlencoded"):
            raise ConfigError(
                f"{who}: buyer.cxml.form_encoding must be cxml-base64 or cxml-urlencoded"
            )
        try:
            settings["roles"] = {
                name: check_role_config(
                    cfg if isinstance(cfg, dict) else {"?": cfg}, f"buyer.roles.{name}"
                )
                for name, cfg in raw.get("roles", {}).items()
            }
            settings["provisioning"]["new_role_template"] = check_role_config(
                settings["provisioning"].get("new_role_template", LEAST_PRIVILEGE),
                "buyer.provisioning.new_role_template",
            )
        except ValueError as exc:
            raise ConfigError(f"{who}: {exc}") from None
        if settings["provisioning"]["unknown_roles"] not in ("create", "default", "reject"):
            raise ConfigError(
                f"{who}: buyer.provisioning.unknown_roles must be create, default or reject"
            )
        if settings["provisioning"]["unidentified_users"] not in ("generic", "refuse"):
            raise ConfigError(
                f"{who}: buyer.provisioning.unidentified_users must be generic or refuse"
            )
        settings["profile"] = _profile(raw, who)
        spec = BuyerSpec(buyer_id, raw["name"], prefixes, settings)
        for i, cred in enumerate(cxml.get("from", [])):
            path = f"buyer.cxml.from[{i}]"
            if not cred.get("domain") or not cred.get("identity"):
                raise ConfigError(f"{who}: {path} needs domain and identity")
            key = (cred["domain"].casefold(), cred["identity"].casefold())
            if key in seen_from:
                raise ConfigError(
                    f"{who}: {path} {cred['domain']}/{cred['identity']} is already the From "
                    f"identity of buyer {seen_from[key]!r}; a From identity names one buyer"
                )
            seen_from[key] = buyer_id
            spec.from_.append(key)
        for i, cred in enumerate(cxml.get("sender", [])):
            path = f"buyer.cxml.sender[{i}]"
            if not cred.get("domain") or not cred.get("identity"):
                raise ConfigError(f"{who}: {path} needs domain and identity")
            secret = _secret(cred, "shared_secret", path, who, env)
            if secret is None:
                raise ConfigError(f"{who}: {path}.shared_secret (or shared_secret_env) is missing")
            spec.senders.append((cred["domain"].casefold(), cred["identity"].casefold(), secret))
        if spec.from_ and not spec.senders:
            raise ConfigError(f"{who}: buyer.cxml has From identities but no [[buyer.cxml.sender]]")
        oci = raw.get("oci", {})
        _check_oci(oci, who)
        if oci:
            if not oci.get("username"):
                raise ConfigError(f"{who}: buyer.oci.username is missing")
            password = _secret(oci, "password", "buyer.oci", who, env)
            if password is None:
                raise ConfigError(f"{who}: buyer.oci.password (or password_env) is missing")
            spec.oci = (oci["username"], password)
        outbound = raw.get("outbound", {})
        if outbound:
            spec.outbound_secret = _secret(outbound, "shared_secret", "buyer.outbound", who, env)
        specs.append(spec)
    return supplier, specs


MIN_SECRET = 16  # random shared secrets
MIN_PASSWORD = 12  # human-chosen OCI passwords
DEFAULT_OVERLAP_DAYS = 7


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


def load_buyers(db: Session, path: Path, box: SecretBox, env: dict | None = None) -> list[str]:
    """Upsert the supplier and every buyer of the file; return the buyer ids."""
    supplier_data, specs = parse_config(path.read_text(encoding="utf-8"), env)
    seen: dict[str, str] = {}
    for spec in specs:
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
                raise ConfigError(
                    f"buyer {spec.id!r}: From identity {domain}/{identity} already belongs "
                    f"to buyer {owner!r}"
                )
        allow_weak = spec.settings["credentials"]["allow_weak"]
        secrets = [(ref.where, ref.value) for _, _, ref in spec.senders]
        if spec.oci:
            secrets.append((spec.oci[1].where, spec.oci[1].value))
        for where, value in secrets:
            kind = "oci" if where.startswith("buyer.oci") else "sender"
            check_strength(value, kind, f"buyer {spec.id!r}", where, allow_weak)
            if not allow_weak:
                other = seen.get(box.fingerprint(value))
                if other and other != spec.id:
                    raise ConfigError(
                        f"buyer {spec.id!r}: {where} is the same secret buyer "
                        f"{other!r} uses; every buyer needs its own"
                    )
                seen[box.fingerprint(value)] = spec.id
        check_reuse(db, box, spec.id, secrets, allow_weak)
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
