"""The production server: real gunicorn with gunicorn.conf.py, on loopback.

One instance on the test database (SQLite or PostgreSQL); two instances sharing one
PostgreSQL database of their own; instances whose keys differ refuse to start.
Every server log is JSON, line by line, and holds no configured secret.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from gateway.catalog.loader import load_path
from gateway.config import Settings
from gateway.migrate import upgrade
from gateway.models import Order, PunchoutSession
from gateway.state import Gateway
from provisioning.buyers import load_buyers
from tests.conftest import DEMO, ROOT, SECRET_KEY, remember_secret, remember_toml_secrets, scan
from tests.documents import ACME_RETURN, order_request, setup_request, status
from tests.helpers import decoded_cart, transfer_form

METRICS_TOKEN = "deploy-metrics-token-0123456"
OCI_PASSWORD = "demo-acme-oci-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn master with its workers, as `punchgate serve --production` starts it."""

    def __init__(self, database_url: str, log: Path, command=None, **env: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {
            **os.environ,
            "PUNCHGATE_DATABASE_URL": database_url,
            "PUNCHGATE_SECRET_KEY": SECRET_KEY,
            "PUNCHGATE_BASE_URL": self.base,
            "PUNCHGATE_BIND": f"127.0.0.1:{self.port}",
            "PUNCHGATE_WORKERS": "2",
            "PUNCHGATE_METRICS_TOKEN": METRICS_TOKEN,
            "PUNCHGATE_INSTANCE_DIR": str(log.parent / "instance"),
            **env,
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        command = command or [sys.executable, "-m", "gateway", "serve", "--production"]
        with open(log, "w") as out:
            self.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a process group of its own, killed whole if it hangs
            )

    def wait_ready(self, timeout: float = 90) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.halt()
                raise AssertionError(f"server exited:\n{self.log.read_text()}")
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.halt()
        raise AssertionError(f"server not ready:\n{self.log.read_text()}")

    def halt(self) -> None:
        """Stop gracefully, or kill the process group: no gunicorn is ever left behind."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def cxml(self, document: bytes, request_id: str | None = None):
        headers = {"Content-Type": "text/xml"}
        if request_id:
            headers["X-Request-Id"] = request_id
        code, head, body = self.request("POST", "/cxml", document, headers)
        assert code in (200, 500), body
        return status(body), head

    def metrics(self) -> str:
        code, _, body = self.request(
            "GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        assert code == 200, body
        return body.decode()

    def stop(self) -> list[dict]:
        """Stop the server; return its log, every line parsed as JSON."""
        self.halt()
        log = self.log.read_text()
        scan(f"gunicorn log {self.log.name}", log)
        assert OCI_PASSWORD not in log and SECRET_KEY not in log
        return [json.loads(line) for line in log.splitlines() if line.strip()]


def punchout(setup_on: Server, shop_on: Server, cookie: str, sku: str, qty: int):
    """Setup on one instance, StartPage, cart and transfer on the other: the cart's lines."""
    code, _, body = setup_on.request(
        "POST", "/cxml", setup_request(cookie=cookie), {"Content-Type": "text/xml"}
    )
    assert status(body)[0] == 200, body
    start = re.search(rb"<URL>([^<]+)</URL>", body).group(1).decode()
    code, head, _ = shop_on.request("GET", urlsplit(start).path)
    assert code == 302, head
    token = parse_qs(urlsplit(head["Location"]).query)["session"][0]
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    item = json.dumps({"sku": sku, "quantity": qty}).encode()
    assert shop_on.request("POST", "/api/v1/punchout/cart/items", item, auth)[0] == 200
    form = urlencode({"session": token}).encode()
    code, _, page = setup_on.request(
        "POST",
        "/api/v1/punchout/transfer",
        form,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert code == 200, page
    action, fields = transfer_form(page)
    assert action == ACME_RETURN
    cart = decoded_cart(fields).decode()
    return [
        {"sku": s, "aux": a, "qty": str(qty), "price": p}
        for s, a, p in re.findall(
            r"<SupplierPartID>([^<]+)</SupplierPartID>\s*<SupplierPartAuxiliaryID>([^<]+)"
            r"</SupplierPartAuxiliaryID>.*?<Money currency=\"USD\">([^<]+)</Money>",
            cart,
            re.DOTALL,
        )
    ]


def sample_sum(page: str, name: str, **labels) -> float:
    total = 0.0
    for line in page.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_one_gunicorn_instance_serves_logs_json_and_no_secret(database_url, demo, tmp_path):
    remember_secret(METRICS_TOKEN)
    server = Server(database_url, tmp_path / "gunicorn.log")
    try:
        server.wait_ready()
        lines = punchout(server, server, "single-1", "NW-1001", 2)
        (code, text_), head = server.cxml(
            order_request(lines, order_id="PO-G1", total="25.80"), "order-request-0001"
        )
        assert code == 200, text_ and head["X-Request-Id"] == "order-request-0001"
        (code, _), head = server.cxml(
            setup_request(secret="wrong-secret-for-gunicorn"), "refused-request-0001"
        )
        assert code == 401 and head["X-Request-Id"] == "refused-request-0001"
        oci = urlencode({"USERNAME": "acme_srm", "PASSWORD": OCI_PASSWORD, "HOOK_URL": ACME_RETURN})
        code, head, _ = server.request("GET", f"/oci/acme?{oci}")
        assert code == 302, head
        metrics = server.metrics()
    finally:
        log = server.stop()

    # Counters from both workers are added up (multiprocess mode).
    assert sample_sum(metrics, "punchgate_requests_total", endpoint="/cxml") == 3
    assert sample_sum(metrics, "punchgate_sessions_started_total", buyer="acme") == 2
    assert sample_sum(metrics, "punchgate_orders_total", outcome="received") == 1
    assert sample_sum(metrics, "punchgate_auth_failures_total", protocol="cxml") == 1

    [refused] = [
        x
        for x in log
        if x.get("request_id") == "refused-request-0001" and x["logger"] == "punchgate.request"
    ]
    assert refused["cxml_status"] == 401 and refused["level"] == "WARNING"
    assert refused["buyer"] == "acme" and refused["doc_type"] == "PunchOutSetupRequest"
    assert "401" in refused["reason"]
    # One line per request: the app's line carries what gunicorn's access line did.
    assert not [x for x in log if x["logger"] == "gunicorn.access"]
    [access] = [x for x in log if x["logger"] == "punchgate.request" and x["path"] == "/oci/acme"]
    assert "PASSWORD=[redacted]" in access["query"] and "USERNAME=acme_srm" in access["query"]
    assert access["request_id"] and access["http_status"] == 302
    assert access["remote_addr"] == "127.0.0.1" and access["bytes"] is not None
    with demo.db.transaction() as db:
        assert db.scalar(select(func.count()).select_from(Order)) == 1


@pytest.fixture
def own_database(tmp_path):
    """A PostgreSQL database created for this test and dropped after it."""
    server = os.environ.get("PUNCHGATE_TEST_DATABASE_URL")
    if not server:
        pytest.skip("several instances share a server database: set PUNCHGATE_TEST_DATABASE_URL")
    name = f"punchgate_deploy_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_two_gunicorn_instances_share_one_postgresql_database(own_database, tmp_path):
    keys = Fernet.generate_key().decode()
    remember_secret(METRICS_TOKEN)
    remember_toml_secrets((DEMO / "buyers.toml").read_text())
    gateway = Gateway.from_settings(
        Settings(database_url=own_database, secret_key=SECRET_KEY, encryption_keys=(keys,))
    )
    with gateway.db.transaction() as db:
        load_buyers(db, DEMO / "buyers.toml", gateway.box, env={})
    with gateway.db.transaction() as db:
        load_path(db, DEMO / "catalog.csv")

    env = {"PUNCHGATE_ENCRYPTION_KEYS": keys}
    a = Server(own_database, tmp_path / "a.log", **env)
    b = Server(own_database, tmp_path / "b.log", **env)
    started = time.monotonic()
    try:
        a.wait_ready()
        b.wait_ready()
        ready = time.monotonic()
        rounds = 6
        for n in range(rounds):
            first, second = (a, b) if n % 2 == 0 else (b, a)
            lines = punchout(first, second, f"two-{n}", "NW-1001", n + 1)
            total = f"{12.90 * (n + 1):.2f}"
            (code, text_), _ = second.cxml(order_request(lines, order_id=f"PO-2I-{n}", total=total))
            assert code == 200, text_
        driven = time.monotonic()
        metrics = [a.metrics(), b.metrics()]

        # An instance with keys of its own refuses to start, naming the variable,
        # whether started by `punchgate serve` or by gunicorn as compose does.
        stranger = Server(
            own_database,
            tmp_path / "c.log",
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            PUNCHGATE_SECRET_KEY="a-key-this-instance-made-up-itself",
            **env,
        )
        assert stranger.proc.wait(90) != 0
        assert (
            stranger.log.read_text()
            .strip()
            .splitlines()[-1]
            .startswith(
                "punchgate: PUNCHGATE_SECRET_KEY differs from the one this database was first used"
            )
        )
        other_keys = Server(
            own_database,
            tmp_path / "d.log",
            PUNCHGATE_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        )
        assert other_keys.proc.wait(90) == 1
        [line] = other_keys.log.read_text().strip().splitlines()
        assert line.startswith(
            "Error: PUNCHGATE_ENCRYPTION_KEYS differs from the one this database"
        )
    finally:
        logs = [a.stop(), b.stop()]

    with gateway.db.transaction() as db:
        assert db.scalar(select(func.count()).select_from(Order)) == rounds
        transferred = db.scalar(
            select(func.count())
            .select_from(PunchoutSession)
            .where(PunchoutSession.transferred_at.is_not(None))
        )
        assert transferred == rounds
    gateway.db.dispose()
    per_instance = [sample_sum(m, "punchgate_requests_total", endpoint="/cxml") for m in metrics]
    # Each instance took half the setups and half the orders.
    assert per_instance == [rounds, rounds]
    served = [
        sum(1 for x in log if x["logger"] == "punchgate.request" and x["path"] == "/cxml")
        for log in logs
    ]
    assert served == [rounds, rounds]
    print(
        f"\ntwo instances: ready in {ready - started:.1f}s; {rounds} punchouts (setup on one, "
        f"shopping on the other) and {rounds} orders in {driven - ready:.2f}s; "
        f"cXML requests per instance {per_instance}"
    )


def test_compose_and_dockerfile_run_the_commands_the_readme_documents():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"db", "migrate", "gateway", "outbox"} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["punchgate", "db", "upgrade"]
    assert services["gateway"]["command"] == ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    assert services["outbox"]["command"] == ["punchgate", "outbox", "run"]
    for name in ("gateway", "outbox"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        env = services[name]["environment"]
        url = env["PUNCHGATE_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url
        assert env["PUNCHGATE_SECRET_KEY"].startswith("${PUNCHGATE_SECRET_KEY:?")
        assert env["PUNCHGATE_ENCRYPTION_KEYS"].startswith("${PUNCHGATE_ENCRYPTION_KEYS:?")

    readme = (ROOT / "README.md").read_text()
    for command in (
        "gunicorn -c gunicorn.conf.py wsgi:app",
        "punchgate db upgrade",
        "punchgate outbox run",
        "punchgate serve --production",
        "docker compose up",
    ):
        assert command in readme, command

    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = dockerfile.split("\nFROM ")
    final = stages[-1]
    assert re.match(r"python:3\.\d+-slim\b", final)
    assert re.search(r"^USER (?!root)\w+", final, re.MULTILINE)
    assert "HEALTHCHECK" in final and "/readyz" in final
    assert not re.search(r"apt-get|gcc|build-essential|pip install", final)
    assert '"gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"' in final
