"""The buyer file (``buyers.toml``): parsing and validation, no database.

``check_config`` reads the whole file and returns every problem at once (buyer,
key, line, what is wrong, what is allowed); ``parse_config`` raises them together
as one ``ConfigError``. Loading into the database is ``provisioning.buyers``.

Each table of a ``[[buyer]]`` has one entry in ``BUYER_TABLES``: its allowed keys
(``SCHEMA``) and, when it needs more than type checks, a validator that turns the
raw table into the stored settings. A new table is one schema entry and one
validator there.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from gateway.cxml.versions import EMITTED
from provisioning.roles import LEAST_PRIVILEGE, check_role_config

MIN_SECRET = 16  # random shared secrets
MIN_PASSWORD = 12  # human-chosen OCI passwords
DEFAULT_OVERLAP_DAYS = 7
LONG_OVERLAP_DAYS = 30  # longer windows are allowed but warned about

# The cXML versions whose official DTDs every emitted document is checked against.
CXML_VERSIONS = EMITTED["cXML.dtd"]
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

BUYER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or weak) in the buyer file."""

    who: str  # "file", "supplier" or "buyer 'acme'" ("" when the message names it)
    key: str  # the key as written in the file, e.g. buyer.cxml.version
    message: str  # what is wrong and what is allowed; never a secret value
    line: int | None = None
    warning: bool = False

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        level = "warning: " if self.warning else ""
        who = f"{self.who}: " if self.who else ""
        return f"{where}{level}{who}{self.message}"

    def as_dict(self) -> dict:
        return {
            "level": "warning" if self.warning else "error",
            "who": self.who,
            "key": self.key,
            "line": self.line,
            "message": self.message,
        }


class ConfigError(ValueError):
    """The buyer file is wrong; every problem names the buyer and the key."""

    def __init__(self, problems: str | list[Problem]):
        if isinstance(problems, str):
            problems = [Problem("", "", problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# Allowed keys and their types; a dict is a nested table, [dict] an array of tables.
_CREDENTIAL = {"domain": str, "identity": str}
_SENDER = {"domain": str, "identity": str, "shared_secret": str, "shared_secret_env": str}
_BUYER_KEYS = {
    "id": str,
    "name": str,
    "profile": str,
    "cart": dict,
    "return_url_prefixes": [str],
}


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


@dataclass
class Config:
    """What ``check_config`` found: the parsed file and every problem."""

    supplier: dict
    specs: list[BuyerSpec]
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.warning]


class _Lines:
    """Where keys are in the TOML text (tomllib keeps no positions).

    A light scan of table headers and ``key =`` lines, good enough to point at a
    line; a key it cannot place falls back to its table's header line.
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")

    def __init__(self, text: str):
        self.at: dict[str, int] = {}
        counts: dict[str, int] = {}
        table = ""
        in_string = False
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string:
                in_string = line.count('"""') % 2 == 0 and line.count("'''") % 2 == 0
                continue
            if header := self._HEADER.match(line):
                names = [n.strip().strip("\"'") for n in header.group(2).split(".")]
                table = self._resolve(names, counts, header.group(1) == "[[")
                self.at.setdefault(table, number)
            elif key := self._KEY.match(line):
                name = ".".join(n.strip().strip("\"'") for n in key.group(1).split("."))
                self.at.setdefault(f"{table}.{name}" if table else name, number)
                in_string = line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1

    def _resolve(self, names: list[str], counts: dict[str, int], array: bool) -> str:
        # Each name resolves through the latest element of any array of tables above it.
        path = ""
        for i, name in enumerate(names):
            path = f"{path}.{name}" if path else name
            last = i == len(names) - 1
            if last and array:
                counts[path] = counts.get(path, -1) + 1
                for other in [k for k in counts if k.startswith(f"{path}[")]:
                    del counts[other]
            if path in counts:
                path = f"{path}[{counts[path]}]"
        return path

    def line(self, location: str) -> int | None:
        while location:
            if location in self.at:
                return self.at[location]
            parent = _LAST_PART.sub("", location)
            if parent == location:  # a top-level name the file never wrote
                return None
            location = parent
        return None


_LAST_PART = re.compile(r"(\[\d+\]|\.[^.\[]+)$")


class Scope:
    """Collects problems for one part of the file (the supplier or one buyer)."""

    def __init__(self, problems: list[Problem], lines: _Lines, who: str, index: int | None = None):
        self.problems, self.lines, self.who, self.index = problems, lines, who, index

    def _add(self, key: str, message: str, warning: bool) -> None:
        location = key
        if self.index is not None and key.startswith("buyer"):
            location = f"buyer[{self.index}]{key[len('buyer') :]}"
        self.problems.append(Problem(self.who, key, message, self.lines.line(location), warning))

    def error(self, key: str, message: str) -> None:
        self._add(key, message, warning=False)

    def warn(self, key: str, message: str) -> None:
        self._add(key, message, warning=True)

    @property
    def failed(self) -> bool:
        return any(p.who == self.who and not p.warning for p in self.problems)


def _check(value, schema, path: str, scope: Scope) -> bool:
    """Check keys and types against the schema, reporting each problem.

    False when a value has the wrong type (the caller then ignores it); an unknown
    key is reported but harmless to the validators, which never read it.
    """
    clean = True
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            scope.error(path, f"{path} must be a table")
            return False
        for key, sub in value.items():
            if key not in schema:
                allowed = ", ".join(schema)
                scope.error(f"{path}.{key}", f"unknown key '{path}.{key}' (allowed: {allowed})")
            else:
                clean = _check(sub, schema[key], f"{path}.{key}", scope) and clean
    elif isinstance(schema, list):
        if not isinstance(value, list):
            scope.error(path, f"{path} must be a list")
            return False
        for index, item in enumerate(value):
            clean = _check(item, schema[0], f"{path}[{index}]", scope) and clean
    elif schema is int and isinstance(value, bool) or not isinstance(value, schema):
        scope.error(path, f"{path} must be a {schema.__name__}")
        return False
    return clean


def _secret(table: dict, key: str, path: str, scope: Scope, env: dict) -> SecretRef | None:
    literal, env_name = table.get(key), table.get(f"{key}_env")
    if literal is not None and env_name is not None:
        scope.error(f"{path}.{key}_env", f"{path} has both {key} and {key}_env; keep one")
        return None
    if env_name is not None:
        if env_name not in env:
            scope.error(
                f"{path}.{key}_env",
                f"{path}.{key}_env names the environment variable {env_name!r}, which is not set",
            )
            return None
        literal = env[env_name]
    if literal is None:
        return None
    if not literal.strip():
        scope.error(f"{path}.{key}", f"{path}.{key} is empty")
        return None
    return SecretRef(literal, f"{path}.{key}")


def _strength(ref: SecretRef, kind: str, scope: Scope, allow_weak: bool) -> None:
    """A short secret is an error, or a warning when the buyer allows weak ones."""
    minimum = MIN_PASSWORD if kind == "oci" else MIN_SECRET
    if len(ref.value) < minimum:
        message = (
            f"{ref.where} is too short ({len(ref.value)} characters; at least {minimum}); "
            "use a long random value"
        )
        if allow_weak:
            scope.warn(ref.where, message + " (allowed by buyer.credentials.allow_weak)")
        else:
            scope.error(ref.where, message)


def _choice(scope: Scope, key: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        scope.error(key, f"{key} must be one of {', '.join(allowed)} (not {value!r})")


# --- one validator per [[buyer]] table: (raw table, scope) -> stored settings ---------------


def _cxml(cxml: dict, scope: Scope) -> dict:
    settings = {
        "version": cxml.get("version"),
        "operation_allowed": cxml.get("operation_allowed", "edit"),
        "form_encoding": cxml.get("form_encoding", "cxml-base64"),
    }
    if settings["version"] and settings["version"] not in CXML_VERSIONS:
        scope.error(
            "buyer.cxml.version",
            f"buyer.cxml.version must be a cXML version the gateway emits: "
            f"{', '.join(CXML_VERSIONS)} (not {settings['version']!r})",
        )
    _choice(scope, "buyer.cxml.operation_allowed", settings["operation_allowed"], _OPERATIONS)
    _choice(scope, "buyer.cxml.form_encoding", settings["form_encoding"], _FORM_ENCODINGS)
    return settings


_OPERATIONS = ("create", "edit", "inspect")
_FORM_ENCODINGS = ("cxml-base64", "cxml-urlencoded")


def _oci(oci: dict, scope: Scope) -> dict:
    from gateway.sessions.transfer import CUSTOM_FIELD_SOURCES

    for key, value in (oci.get("custom_fields") or {}).items():
        if key not in ("1", "2", "3", "4", "5"):
            scope.error(
                f"buyer.oci.custom_fields.{key}",
                f"buyer.oci.custom_fields key {key!r} must be 1 to 5",
            )
        elif value not in CUSTOM_FIELD_SOURCES:
            scope.error(
                f"buyer.oci.custom_fields.{key}",
                f"buyer.oci.custom_fields.{key} = {value!r} must be one of "
                f"{', '.join(CUSTOM_FIELD_SOURCES)}",
            )
    for unit, mapped in (oci.get("unit_map") or {}).items():
        if not isinstance(mapped, str) or not 1 <= len(mapped) <= 3:
            scope.error(
                f"buyer.oci.unit_map.{unit}",
                f"buyer.oci.unit_map.{unit} must be a unit code of 1 to 3 characters",
            )
    if "decimals" in oci and not 0 <= oci["decimals"] <= 3:
        scope.error("buyer.oci.decimals", "buyer.oci.decimals must be 0 to 3")
    if "index_base" in oci and oci["index_base"] not in (0, 1):
        scope.error("buyer.oci.index_base", "buyer.oci.index_base must be 0 or 1")
    if oci and not oci.get("username"):
        scope.error("buyer.oci.username", "buyer.oci.username is missing")
    return {k: v for k, v in oci.items() if k not in ("password", "password_env")}


def _provisioning(raw: dict, scope: Scope) -> dict:
    settings = {
        "auto_create_users": True,
        "default_role": "requester",
        "unknown_roles": "create",
        "unidentified_users": "generic",
        "role_map": {},
        **raw,
    }
    _choice(
        scope,
        "buyer.provisioning.unknown_roles",
        settings["unknown_roles"],
        ("create", "default", "reject"),
    )
    _choice(
        scope,
        "buyer.provisioning.unidentified_users",
        settings["unidentified_users"],
        ("generic", "refuse"),
    )
    if raw.get("unknown_roles") == "default" and not raw.get("default_role"):
        scope.error(
            "buyer.provisioning.unknown_roles",
            'buyer.provisioning.unknown_roles = "default" needs buyer.provisioning.default_role '
            "(the role given to users whose roles are unknown)",
        )
    try:
        settings["new_role_template"] = check_role_config(
            settings.get("new_role_template", LEAST_PRIVILEGE),
            "buyer.provisioning.new_role_template",
        )
    except ValueError as exc:
        scope.error("buyer.provisioning.new_role_template", str(exc))
    return settings


def _roles(raw: dict, scope: Scope) -> dict:
    roles = {}
    for name, cfg in raw.items():
        try:
            roles[name] = check_role_config(
                cfg if isinstance(cfg, dict) else {"?": cfg}, f"buyer.roles.{name}"
            )
        except ValueError as exc:
            scope.error(f"buyer.roles.{name}", str(exc))
    return roles


def _orders(raw: dict, scope: Scope) -> dict:
    settings = {
        "mismatch_policy": "accept_and_flag",
        "lines_without_part": "accept_and_flag",
        **raw,
    }
    for key in ("mismatch_policy", "lines_without_part"):
        _choice(scope, f"buyer.orders.{key}", settings[key], ("accept_and_flag", "reject"))
    return settings


def _credentials(raw: dict, scope: Scope) -> dict:
    settings = {"overlap_days": DEFAULT_OVERLAP_DAYS, "allow_weak": False, **raw}
    days = settings["overlap_days"]
    if not 0 <= days <= 365:
        scope.error(
            "buyer.credentials.overlap_days", "buyer.credentials.overlap_days must be 0 to 365"
        )
    elif days > LONG_OVERLAP_DAYS:
        scope.warn(
            "buyer.credentials.overlap_days",
            f"buyer.credentials.overlap_days = {days}: a replaced secret keeps working for "
            f"{days} days; {LONG_OVERLAP_DAYS} or fewer is usual",
        )
    if settings["allow_weak"]:
        scope.warn(
            "buyer.credentials.allow_weak",
            "buyer.credentials.allow_weak = true: short and shared secrets, and http return "
            "URLs, are accepted",
        )
    return settings


def _signing(signing: dict, scope: Scope) -> dict:
    """Buyer signature settings, with the pinned certificate read and checked now."""
    from cryptography import x509

    pem = signing.get("certificate")
    if signing.get("certificate_file"):
        if pem:
            scope.error(
                "buyer.signing.certificate_file",
                "buyer.signing has both certificate and certificate_file",
            )
        try:
            pem = Path(signing["certificate_file"]).read_text()
        except OSError as exc:
            scope.error(
                "buyer.signing.certificate_file",
                f"buyer.signing.certificate_file: {exc.strerror}",
            )
            pem = None
    if pem:
        try:
            x509.load_pem_x509_certificate(pem.encode())
        except ValueError:
            scope.error(
                "buyer.signing.certificate",
                "buyer.signing certificate is not a PEM X.509 certificate",
            )
    if signing.get("require_signed") and not pem:
        scope.error(
            "buyer.signing.require_signed",
            "buyer.signing.require_signed needs the buyer's certificate",
        )
    return {
        "require_signed": bool(signing.get("require_signed", False)),
        "sign_outbound": bool(signing.get("sign_outbound", False)),
        "certificate": pem,
    }


def _passthrough(defaults: dict) -> Callable[[dict, Scope], dict]:
    return lambda raw, scope: {**defaults, **raw}


@dataclass(frozen=True)
class Table:
    """One ``[buyer.<name>]`` table: its schema and the validator building its settings."""

    schema: object
    validate: Callable[[dict, Scope], dict]


BUYER_TABLES: dict[str, Table] = {
    "cxml": Table(
        {
            "from": [_CREDENTIAL],
            "sender": [_SENDER],
            "version": str,
            "operation_allowed": str,
            "form_encoding": str,
        },
        _cxml,
    ),
    "oci": Table(
        {
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
        _oci,
    ),
    "provisioning": Table(
        {
            "auto_create_users": bool,
            "default_role": str,
            "unknown_roles": str,
            "unidentified_users": str,
            "role_map": dict,
            "role_extrinsics": [str],
            "new_role_template": dict,
            "hold_over_limit": bool,
        },
        _provisioning,
    ),
    "roles": Table(dict, _roles),
    "outbound": Table(
        {"url": str, "shared_secret": str, "shared_secret_env": str},
        lambda raw, scope: {"url": raw.get("url")},
    ),
    "orders": Table({"mismatch_policy": str, "lines_without_part": str}, _orders),
    "support": Table({"order_on_behalf": bool}, _passthrough({"order_on_behalf": False})),
    "credentials": Table({"overlap_days": int, "allow_weak": bool}, _credentials),
    "signing": Table(
        {
            "require_signed": bool,
            "sign_outbound": bool,
            "certificate": str,
            "certificate_file": str,
        },
        _signing,
    ),
}

SCHEMA = {
    "supplier": {"name": str, "credential": [_CREDENTIAL]},
    "buyer": [{**_BUYER_KEYS, **{name: t.schema for name, t in BUYER_TABLES.items()}}],
}


def _supplier(data: dict, scope: Scope) -> dict:
    supplier = data.get("supplier")
    if supplier is None:
        scope.error("supplier", "[supplier] is missing")
        return {}
    if not _check(supplier, SCHEMA["supplier"], "supplier", scope):
        return supplier
    if not supplier.get("name"):
        scope.error("supplier.name", "supplier.name is missing")
    if not supplier.get("credential"):
        scope.error("supplier.credential", "at least one [[supplier.credential]] is needed")
    for i, cred in enumerate(supplier.get("credential", [])):
        for k in ("domain", "identity"):
            if not cred.get(k):
                scope.error(
                    f"supplier.credential[{i}].{k}", f"supplier.credential[{i}].{k} is missing"
                )
    return supplier


def _profile(top: dict, cxml: dict, scope: Scope) -> dict | None:
    """``profile`` and ``[buyer.cart]`` (gateway.profiles): each wrong key is one problem."""
    from gateway.profiles.rules import ProfileError
    from gateway.profiles.service import profile_settings

    try:
        return profile_settings(top.get("profile"), top.get("cart"), cxml.get("version"))
    except ProfileError as exc:
        for key, message in exc.errors:
            scope.error(key, f"{key}: {message}")
        return None


def _return_prefixes(raw: dict, scope: Scope, oci: bool, allow_weak: bool) -> list[str]:
    key = "buyer.return_url_prefixes"
    prefixes = raw.get("return_url_prefixes", [])
    for prefix in prefixes:
        parts = urlsplit(prefix)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            scope.error(key, f"{key} entry {prefix!r} must be an absolute http(s) URL")
        elif parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            message = (
                f"{key} entry {prefix!r} must use https (http is allowed only for "
                f"{', '.join(LOOPBACK_HOSTS)})"
            )
            if allow_weak:
                scope.warn(key, message + "; accepted because buyer.credentials.allow_weak")
            else:
                scope.error(key, message)
    refused = "every punchout of this buyer would be refused"
    if "return_url_prefixes" in raw and not prefixes:
        scope.error(
            key,
            f"{key} is empty: {refused}; list the https URL prefixes its procurement "
            "system returns carts to (or leave the key out for a buyer that only sends orders)",
        )
    elif not prefixes and oci:
        scope.error(key, f"{key} is missing: {refused}; an OCI buyer always punches out")
    elif not prefixes:
        scope.warn(
            key,
            f"{key} is missing: {refused}; fine for a buyer that only sends orders",
        )
    return prefixes


def _buyer(raw, scope: Scope, env: dict) -> BuyerSpec | None:
    if not isinstance(raw, dict):
        scope.error("buyer", "each [[buyer]] must be a table")
        return None
    for key in raw:
        if key not in SCHEMA["buyer"][0]:
            allowed = ", ".join(SCHEMA["buyer"][0])
            scope.error(f"buyer.{key}", f"unknown key 'buyer.{key}' (allowed: {allowed})")
    # A key of the wrong type is reported and then treated as absent, so that the
    # validators below see well-typed values and every other problem is still found.
    top = {
        k: raw[k]
        for k, schema in _BUYER_KEYS.items()
        if k in raw and _check(raw[k], schema, f"buyer.{k}", scope)
    }
    tables = {
        name: raw[name]
        for name, table in BUYER_TABLES.items()
        if name in raw and _check(raw[name], table.schema, f"buyer.{name}", scope)
    }
    buyer_id = top.get("id", "")
    if not BUYER_ID.match(buyer_id):
        scope.error("buyer.id", "buyer.id must be a lower-case slug (a-z, 0-9, - and _)")
    if not top.get("name"):
        scope.error("buyer.name", "buyer.name is missing")
    cxml, oci = tables.get("cxml", {}), tables.get("oci", {})
    settings = {
        name: table.validate(tables.get(name, {}), scope) for name, table in BUYER_TABLES.items()
    }
    settings["profile"] = _profile(top, cxml, scope)
    allow_weak = settings["credentials"]["allow_weak"]
    prefixes = _return_prefixes(top, scope, bool(oci), allow_weak)
    spec = BuyerSpec(buyer_id, top.get("name", ""), prefixes, settings)
    for i, cred in enumerate(cxml.get("from", [])):
        if not cred.get("domain") or not cred.get("identity"):
            scope.error(f"buyer.cxml.from[{i}]", f"buyer.cxml.from[{i}] needs domain and identity")
            continue
        spec.from_.append((cred["domain"].casefold(), cred["identity"].casefold()))
    for i, cred in enumerate(cxml.get("sender", [])):
        path = f"buyer.cxml.sender[{i}]"
        if not cred.get("domain") or not cred.get("identity"):
            scope.error(path, f"{path} needs domain and identity")
            continue
        identity = (cred["domain"].casefold(), cred["identity"].casefold())
        if any(identity == (d, i) for d, i, _ in spec.senders):
            scope.error(path, f"{path} {cred['domain']}/{cred['identity']} appears twice")
        secret = _secret(cred, "shared_secret", path, scope, env)
        if secret is None:
            if "shared_secret" not in cred and "shared_secret_env" not in cred:
                scope.error(
                    f"{path}.shared_secret",
                    f"{path}.shared_secret (or shared_secret_env) is missing",
                )
            continue
        spec.senders.append((*identity, secret))
    if spec.from_ and not cxml.get("sender"):
        scope.error(
            "buyer.cxml.sender", "buyer.cxml has From identities but no [[buyer.cxml.sender]]"
        )
    if oci:
        password = _secret(oci, "password", "buyer.oci", scope, env)
        if password is None and "password" not in oci and "password_env" not in oci:
            scope.error("buyer.oci.password", "buyer.oci.password (or password_env) is missing")
        if password is not None and oci.get("username"):
            spec.oci = (oci["username"], password)
    if outbound := tables.get("outbound", {}):
        spec.outbound_secret = _secret(outbound, "shared_secret", "buyer.outbound", scope, env)
    for _, _, ref in spec.senders:
        _strength(ref, "sender", scope, allow_weak)
    if spec.oci:
        _strength(spec.oci[1], "oci", scope, allow_weak)
    return spec


def _across_buyers(specs: list[tuple[BuyerSpec, Scope]]) -> None:
    """What no single buyer can check: ids, From identities and secrets used twice."""
    ids: dict[str, str] = {}
    from_owner: dict[tuple[str, str], str] = {}
    secret_owner: dict[str, str] = {}
    for spec, scope in specs:
        if spec.id in ids:
            scope.error("buyer.id", "buyer.id appears twice in the file")
        ids.setdefault(spec.id, spec.id)
        for i, key in enumerate(spec.from_):
            owner = from_owner.setdefault(key, spec.id)
            if owner != spec.id:
                scope.error(
                    f"buyer.cxml.from[{i}]",
                    f"buyer.cxml.from[{i}] {key[0]}/{key[1]} is already the From identity "
                    f"of buyer {owner!r}; a From identity names one buyer",
                )
            elif key in spec.from_[:i]:
                scope.error(
                    f"buyer.cxml.from[{i}]",
                    f"buyer.cxml.from[{i}] {key[0]}/{key[1]} appears twice",
                )
        if spec.settings["credentials"]["allow_weak"]:
            continue
        refs = [ref for _, _, ref in spec.senders] + ([spec.oci[1]] if spec.oci else [])
        for ref in refs:
            other = secret_owner.setdefault(ref.value, spec.id)
            if other != spec.id:
                scope.error(
                    ref.where,
                    f"{ref.where} is the same secret buyer {other!r} uses; "
                    "every buyer needs its own",
                )


def check_config(text: str, env: dict | None = None) -> Config:
    """Parse and validate the buyer file; every problem is in the result, nothing raises."""
    env = dict(os.environ if env is None else env)
    problems: list[Problem] = []
    lines = _Lines(text)
    file = Scope(problems, lines, "file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        problems.append(
            Problem("file", "", f"not valid TOML: {exc}", int(line.group(1)) if line else None)
        )
        return Config({}, [], problems)
    for key in data:
        if key not in SCHEMA:
            file.error(key, f"unknown key '{key}' (allowed: supplier, buyer)")
    supplier = _supplier(data, Scope(problems, lines, "supplier"))
    buyers = data.get("buyer", [])
    if not isinstance(buyers, list):
        file.error("buyer", "buyer must be an array of tables ([[buyer]])")
        buyers = []
    checked: list[tuple[BuyerSpec, Scope]] = []
    for index, raw in enumerate(buyers):
        name = raw.get("id", f"#{index + 1}") if isinstance(raw, dict) else f"#{index + 1}"
        scope = Scope(problems, lines, f"buyer {name!r}", index)
        spec = _buyer(raw, scope, env)
        if spec is not None:
            checked.append((spec, scope))
    _across_buyers(checked)
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return Config(supplier, [spec for spec, _ in checked], problems)


def parse_config(text: str, env: dict | None = None) -> tuple[dict, list[BuyerSpec]]:
    """The supplier and buyers of the file; ``ConfigError`` with every error if any."""
    config = check_config(text, env)
    if config.errors:
        raise ConfigError(config.errors)
    return config.supplier, config.specs
