"""Shared fixtures: one migrated database per test run, emptied between tests.

``PUNCHGATE_TEST_DATABASE_URL`` selects PostgreSQL (CI runs both); the tests
then use a schema of their own so nothing else in that database is touched.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gateway import create_app
from gateway.config import Settings
from gateway.cxml.dtd import DtdCatalog
from gateway.marketplace.catalog import load_catalog
from gateway.migrate import upgrade
from gateway.models import Base
from provisioning.buyers import load_buyers

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
INTEROP = SHARED / "interop"
DTD_DIR = SHARED / "cxml-dtd"
DEMO = ROOT / "fixtures" / "demo"
SECRET_KEY = "test-secret-key-not-for-production"
BASE_URL = "http://gateway.test"


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
    )


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = False  # errors must render as users see them
    yield app
    gateway = app.extensions["punchgate"]
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


@pytest.fixture
def dtd() -> DtdCatalog:
    return DtdCatalog(DTD_DIR)


def write_buyers(gateway, tmp_path: Path, toml: str, env: dict | None = None) -> list[str]:
    path = tmp_path / f"buyers-{abs(hash(toml))}.toml"
    path.write_text(textwrap.dedent(toml))
    with gateway.db.transaction() as db:
        return load_buyers(db, path, gateway.box, env=env or {})


@pytest.fixture
def demo(gateway, tmp_path):
    """The demo supplier, buyers (acme, globex) and catalog."""
    with gateway.db.transaction() as db:
        load_buyers(db, DEMO / "buyers.toml", gateway.box, env={})
    with gateway.db.transaction() as db:
        load_catalog(db, DEMO / "catalog.csv")
    return gateway


def demo_buyers_with(extra: str) -> str:
    """The demo buyers file with ``extra`` TOML tables added to buyer acme."""
    text = (DEMO / "buyers.toml").read_text()
    return text.replace("[buyer.provisioning]", extra.rstrip("\n") + "\n[buyer.provisioning]", 1)
