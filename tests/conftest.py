"""Shared fixtures: one migrated database per test run, emptied between tests.

``PUNCHGATE_TEST_DATABASE_URL`` selects PostgreSQL (CI runs both); the tests
then use a schema of their own so nothing else in that database is touched.
"""

from __future__ import annotations

import base64
import contextlib
import html
import logging
import os
import textwrap
import tomllib
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from gateway import create_app
from gateway.catalog.loader import load_path
from gateway.config import Settings
from gateway.cxml.dtd import DtdCatalog
from gateway.migrate import upgrade
from gateway.models import Base
from provisioning.buyers import load_buyers

# Property and fuzz tests: a fixed seed and a bounded number of cases in CI;
# `make fuzz` (HYPOTHESIS_PROFILE=fuzz) explores many more, with fresh seeds.
hypothesis_settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hypothesis_settings.register_profile(
    "fuzz",
    parent=hypothesis_settings.get_profile("ci"),
    derandomize=False,
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", 2000)),
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
INTEROP = SHARED / "interop"
DTD_DIR = SHARED / "cxml-dtd"
# A clone without ../shared/ still passes `make test`: what needs it skips, saying why.
SHARED_REASON = (
    "needs ../shared/ beside this checkout (the interop documents and the official cXML DTDs)"
)
requires_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=SHARED_REASON)
DEMO = ROOT / "fixtures" / "demo"
SECRET_KEY = "test-secret-key-not-for-production"
BASE_URL = "http://gateway.test"

# The scan: every secret the tests configure must never show up, in any of these
# forms, in a response, a log record or anything stored outside the credential
# table. Secrets under 12 characters (interop fixtures' "test", "password") would
# match ordinary words and are left out.
SECRETS: set[str] = set()
LEAKS: list[str] = []


def remember_secret(value: str | None) -> None:
    if value and len(value) >= 12:
        SECRETS.add(value)


def remember_toml_secrets(text: str, env: dict | None = None) -> None:
    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("shared_secret", "password") and isinstance(value, str):
                    remember_secret(value)
                elif key.endswith("_env") and isinstance(value, str) and env:
                    remember_secret(env.get(value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    with contextlib.suppress(tomllib.TOMLDecodeError):
        walk(tomllib.loads(text))


def secret_forms(secret: str) -> set[str]:
    return {
        secret,
        base64.b64encode(secret.encode()).decode(),
        quote(secret),
        quote_plus(secret),
        html.escape(secret),
    }


def scan(where: str, text: str) -> None:
    # A UTF-16 or UTF-32 document stored as if it were UTF-8 holds its secret with
    # NULs between the letters: look through them too.
    text = text + "\n" + text.replace("\x00", "").replace("\ufffd", "")
    for secret in SECRETS:
        for form in secret_forms(secret):
            if form in text:
                LEAKS.append(f"{where}: contains the secret {secret[:4]}… ({len(secret)} chars)")
                return


class _LogScanner(logging.Handler):
    def emit(self, record):
        try:
            scan(f"log {record.name}", self.format(record))
        except Exception:  # a scanner must never break logging
            self.handleError(record)


@pytest.fixture(scope="session", autouse=True)
def no_secret_leaks():
    """Fails the run if any test leaked a configured secret anywhere it was looked for."""
    handler = _LogScanner(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(handler)
    root.setLevel(previous)
    assert not LEAKS, "secrets leaked:\n" + "\n".join(sorted(set(LEAKS)))


def scan_database(engine) -> None:
    from sqlalchemy import select

    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name == "buyer_credentials":
                continue  # hashes and ciphertexts are the protected forms
            for row in conn.execute(select(table)):
                text = " ".join(str(v) for v in row if not isinstance(v, bytes | memoryview))
                scan(f"table {table.name}", text)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("PUNCHGATE_TEST_DATABASE_URL")
    if url:
        schema = f"pgtest_{os.getpid()}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in url else "?"
        url = f"{url}{sep}options=-csearch_path%3D{schema}"
        upgrade(url)
        yield url
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
        return
    path = tmp_path_factory.mktemp("db") / "punchgate.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    yield url


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=SECRET_KEY,
        base_url=BASE_URL,
        cxml_dtd_dir=str(DTD_DIR),
        # Tests read figures right after making them; tests/support/test_reports.py
        # covers the snapshots.
        report_max_age=0,
    )


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = False  # errors must render as users see them

    @app.after_request
    def scan_response(response):
        if not response.direct_passthrough:
            scan(f"response to {response.status_code}", response.get_data(as_text=True))
        return response

    yield app
    gateway = app.extensions["punchgate"]
    scan_database(gateway.db.engine)
    with gateway.db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    gateway.db.dispose()


@pytest.fixture
def gateway(app):
    return app.extensions["punchgate"]


@pytest.fixture
def client(app):
    return app.test_client()


class SharedDtds(DtdCatalog):
    """The official DTDs in ../shared/; a test reaching a DTD check without them skips there."""

    def validate(self, document):
        if not DTD_DIR.is_dir():
            pytest.skip(SHARED_REASON)
        return super().validate(document)


@pytest.fixture
def dtd() -> DtdCatalog:
    return SharedDtds(DTD_DIR)


def write_buyers(gateway, tmp_path: Path, toml: str, env: dict | None = None) -> list[str]:
    path = tmp_path / f"buyers-{abs(hash(toml))}.toml"
    path.write_text(textwrap.dedent(toml))
    remember_toml_secrets(textwrap.dedent(toml), env)
    with gateway.db.transaction() as db:
        return load_buyers(db, path, gateway.box, env=env or {})


@pytest.fixture
def demo(gateway, tmp_path):
    """The demo supplier, buyers (acme, globex) and catalog."""
    remember_toml_secrets((DEMO / "buyers.toml").read_text())
    with gateway.db.transaction() as db:
        load_buyers(db, DEMO / "buyers.toml", gateway.box, env={})
    with gateway.db.transaction() as db:
        load_path(db, DEMO / "catalog.csv")
    return gateway


@pytest.fixture
def agents(demo):
    """The demo, with a support agent and an administrator (passwords in tests.helpers)."""
    from gateway.support.accounts import add_agent
    from tests.helpers import ADMIN_PASSWORD, AGENT_PASSWORD

    remember_secret(AGENT_PASSWORD)
    remember_secret(ADMIN_PASSWORD)
    with demo.db.transaction() as db:
        add_agent(db, demo.box, "agent@supplier.example", AGENT_PASSWORD, "agent")
        add_agent(db, demo.box, "admin@supplier.example", ADMIN_PASSWORD, "admin")
    return demo


def demo_buyers_with(extra: str) -> str:
    """The demo buyers file with ``extra`` TOML tables added to buyer acme."""
    text = (DEMO / "buyers.toml").read_text()
    return text.replace("[buyer.provisioning]", extra.rstrip("\n") + "\n[buyer.provisioning]", 1)
