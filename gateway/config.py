"""Settings, read once from ``PUNCHGATE_*`` environment variables."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
# The drivers this package installs; SQLAlchemy's bare "postgresql" means psycopg2.
DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")


class ConfigError(ValueError):
    """A setting is missing or unusable; the message names the variable."""


def check_database_url(url: str) -> None:
    """Refuse a database URL this gateway cannot use, naming what to write instead."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = "postgresql+psycopg://USER:PASSWORD@HOST:5432/DB or sqlite:///PATH"
    try:
        scheme = make_url(url).drivername
    except ArgumentError:
        raise ConfigError(
            f"PUNCHGATE_DATABASE_URL is not a database URL; expected {example}"
        ) from None
    if scheme not in DATABASE_SCHEMES:
        raise ConfigError(
            f"PUNCHGATE_DATABASE_URL scheme {scheme!r} is not supported; use "
            + ("postgresql+psycopg://" if scheme.startswith("postgres") else example)
        )


# A CSP source: a scheme ("https:") or an origin ("https://img.example:8443"),
# nothing that could end the directive or add a header.
_CSP_SOURCE = re.compile(r"[a-z][a-z0-9+.-]*:(//[A-Za-z0-9.*-]+(:(\d{1,5}|\*))?)?")


def _image_sources(value: str) -> tuple[str, ...]:
    sources = tuple(s for s in re.split(r"[\s,]+", value.strip()) if s)
    bad = [s for s in sources if not _CSP_SOURCE.fullmatch(s)]
    if bad:
        raise ConfigError(
            f"PUNCHGATE_IMAGE_SOURCES: {bad[0]!r} is not a scheme (https:) or an origin "
            "(https://images.example.com)"
        )
    return sources


def _instance_dir() -> Path:
    return Path(os.environ.get("PUNCHGATE_INSTANCE_DIR", Path.cwd() / "instance"))


def _persistent_secret_key(instance: Path) -> str:
    """Return the development secret key, creating it once per instance folder.

    A key generated per process would break every start token and stored
    secret hash on restart, so an unset key is kept in the instance folder.
    """
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def database_url_from_env(env: dict[str, str] | None = None) -> str:
    """PUNCHGATE_DATABASE_URL, checked; SQLite in the instance folder when unset."""
    env = os.environ if env is None else env
    instance = Path(env.get("PUNCHGATE_INSTANCE_DIR", _instance_dir()))
    url = env.get("PUNCHGATE_DATABASE_URL") or f"sqlite:///{instance / 'punchgate.db'}"
    check_database_url(url)
    return url


def _check_fernet_keys(keys: tuple[str, ...]) -> None:
    from cryptography.fernet import Fernet

    for position, key in enumerate(keys, 1):
        try:
            Fernet(key.encode("ascii", "replace"))
        except ValueError:
            raise ConfigError(
                f"PUNCHGATE_ENCRYPTION_KEYS key {position} is not a Fernet key (44 characters "
                "of url-safe base64, as cryptography's Fernet.generate_key() makes)"
            ) from None


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    base_url: str = "http://127.0.0.1:8000"
    marketplace_url: str | None = None
    encryption_keys: tuple[str, ...] = ()
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    max_xml_depth: int = 100
    max_xml_elements: int = 250_000
    max_order_lines: int = 50_000
    start_token_ttl_seconds: int = 300
    session_ttl_seconds: int = 8 * 3600
    cxml_dtd_dir: str | None = None
    default_cxml_version: str = "1.2.069"
    marketplace_secret: str | None = None
    marketplace_timeout: float = 10.0
    outbox_max_attempts: int = 8
    outbox_base_delay: float = 2.0
    outbox_lease_seconds: float = 60.0
    signing_key_file: str | None = None
    signing_cert_file: str | None = None
    metrics_token: str | None = None
    # `punchgate demo`: the gateway also plays the buyers' procurement systems (/demo/).
    demo: bool = False
    # Request log retention: documents are cleared first, the rows later.
    request_document_days: int = 30
    request_metadata_days: int = 180
    # Session log retention: event documents cleared first, sessions without an order later.
    session_document_days: int = 90
    session_days: int = 365
    # Buyer health and adoption: a snapshot older than this (seconds) is computed again.
    report_max_age: int = 900
    # Alerts: N refused requests of one buyer within M minutes; secrets ending within D days.
    alert_failures: int = 5
    alert_window_minutes: int = 15
    alert_secret_days: int = 7
    alert_webhook_url: str | None = None
    alert_webhook_secret: str | None = None
    db_pool_size: int = 5
    # Where product images may load from (Content-Security-Policy img-src sources).
    image_sources: tuple[str, ...] = ("https:",)
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> Settings:
        env = dict(os.environ if env is None else env)

        def get(name: str, default=None):
            return env.get(f"PUNCHGATE_{name}", default)

        instance = Path(env.get("PUNCHGATE_INSTANCE_DIR", _instance_dir()))
        database_url = database_url_from_env(env)
        secret_key = get("SECRET_KEY")
        if not secret_key:
            if not database_url.startswith("sqlite"):
                # Instances sharing a server database must share the key: a key
                # generated per instance folder breaks every request another one signed.
                raise ConfigError(
                    "PUNCHGATE_SECRET_KEY is not set; with a shared database every instance "
                    "needs the same key (generate one: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))')"
                )
            secret_key = _persistent_secret_key(instance)
        keys = tuple(k.strip() for k in (get("ENCRYPTION_KEYS") or "").split(",") if k.strip())
        _check_fernet_keys(keys)
        values = dict(
            database_url=database_url,
            secret_key=secret_key,
            base_url=(get("BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
            marketplace_url=get("MARKETPLACE_URL") or None,
            encryption_keys=keys,
            max_document_bytes=int(get("MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES)),
            max_xml_depth=int(get("MAX_XML_DEPTH", 100)),
            max_xml_elements=int(get("MAX_XML_ELEMENTS", 250_000)),
            max_order_lines=int(get("MAX_ORDER_LINES", 50_000)),
            start_token_ttl_seconds=int(get("START_TOKEN_TTL", 300)),
            session_ttl_seconds=int(get("SESSION_TTL", 8 * 3600)),
            cxml_dtd_dir=get("CXML_DTD_DIR") or None,
            default_cxml_version=get("CXML_VERSION", "1.2.069"),
            marketplace_secret=get("MARKETPLACE_SECRET") or None,
            marketplace_timeout=float(get("MARKETPLACE_TIMEOUT", 10)),
            outbox_max_attempts=int(get("OUTBOX_MAX_ATTEMPTS", 8)),
            outbox_base_delay=float(get("OUTBOX_BASE_DELAY", 2)),
            outbox_lease_seconds=float(get("OUTBOX_LEASE", 60)),
            signing_key_file=get("SIGNING_KEY") or None,
            signing_cert_file=get("SIGNING_CERT") or None,
            metrics_token=get("METRICS_TOKEN") or None,
            demo=get("DEMO", "") in ("1", "true", "yes"),
            request_document_days=int(get("REQUEST_DOCUMENT_DAYS", 30)),
            request_metadata_days=int(get("REQUEST_METADATA_DAYS", 180)),
            session_document_days=int(get("SESSION_DOCUMENT_DAYS", 90)),
            session_days=int(get("SESSION_DAYS", 365)),
            report_max_age=int(get("REPORT_MAX_AGE", 900)),
            alert_failures=int(get("ALERT_FAILURES", 5)),
            alert_window_minutes=int(get("ALERT_WINDOW_MINUTES", 15)),
            alert_secret_days=int(get("ALERT_SECRET_DAYS", 7)),
            alert_webhook_url=get("ALERT_WEBHOOK_URL") or None,
            alert_webhook_secret=get("ALERT_WEBHOOK_SECRET") or None,
            db_pool_size=int(get("DB_POOL_SIZE", 5)),
            image_sources=_image_sources(get("IMAGE_SOURCES", "https:")),
        )
        values.update(overrides)
        if values["database_url"].startswith("sqlite:///"):
            Path(values["database_url"].removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )
        return cls(**values)
