"""Faults an unlucky operator meets, on a private PostgreSQL cluster the test starts itself.

The cluster (initdb in a temporary directory, a free port on loopback) is stopped,
restarted and killed by the test; the machine's shared server is never touched.
The gateway is real: ``punchgate serve`` (gunicorn), clients over HTTP, a real HTTP
marketplace. After each fault, every order that got a 200 is stored exactly once and
reaches the marketplace exactly once, every order that did not is retried by its
buyer with the same payloadID until it does, and no request waits past its timeout.

Run on PostgreSQL runs only (``PUNCHGATE_TEST_DATABASE_URL`` set); skipped, with the
reason, when initdb is not installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway import outbox
from gateway.catalog.loader import load_path
from gateway.config import Settings
from gateway.migrate import upgrade
from gateway.models import Order, OutboxMessage
from gateway.state import Gateway
from provisioning.buyers import load_buyers
from tests.conftest import DEMO, ROOT, SECRET_KEY, remember_toml_secrets, scan
from tests.documents import order_request, setup_request, status
from tests.e2e.conftest import free_port
from tests.marketplace_server import Marketplace

REQUEST_TIMEOUT = 30  # seconds a client waits for one answer (gunicorn's worker timeout)
CLIENTS = 20


class Cluster:
    """A throw-away PostgreSQL cluster: initdb, pg_ctl start/stop, all in one directory."""

    def __init__(self, initdb: str, pg_ctl: str):
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.dir = Path(tempfile.mkdtemp(prefix="punchgate-faults-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        # PostgreSQL refuses to run as root: the cluster then belongs to "postgres".
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}")

    def init(self) -> None:
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
            " -c fsync=off -c max_connections=100"
        )
        log = str(self.dir / "server.log")
        self._run(self.pg_ctl, "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    if not os.environ.get("PUNCHGATE_TEST_DATABASE_URL"):
        pytest.skip("fault tests run on PostgreSQL runs only (set PUNCHGATE_TEST_DATABASE_URL)")
    # Debian keeps the server binaries off PATH, under /usr/lib/postgresql/<major>/bin.
    path = os.pathsep.join(
        [os.environ.get("PATH", ""), *map(str, sorted(Path("/usr/lib/postgresql").glob("*/bin")))]
    )
    initdb, pg_ctl = shutil.which("initdb", path=path), shutil.which("pg_ctl", path=path)
    if not (initdb and pg_ctl):
        pytest.skip("initdb/pg_ctl not installed: no private PostgreSQL cluster to break")
    cluster = Cluster(initdb, pg_ctl)
    try:
        cluster.init()
        cluster.start()
        upgrade(cluster.url)
        gateway = Gateway.from_settings(Settings(database_url=cluster.url, secret_key=SECRET_KEY))
        remember_toml_secrets((DEMO / "buyers.toml").read_text())
        with gateway.db.transaction() as db:
            load_buyers(db, DEMO / "buyers.toml", gateway.box, env={})
        with gateway.db.transaction() as db:
            load_path(db, DEMO / "catalog.csv")
        gateway.db.dispose()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def market():
    market = Marketplace()
    yield market
    market.stop()


@pytest.fixture
def server(cluster, market, tmp_path):
    """`punchgate serve` (gunicorn, 2 workers) on the private cluster."""
    port = free_port()
    env = {
        **os.environ,
        "PUNCHGATE_DATABASE_URL": cluster.url,
        "PUNCHGATE_SECRET_KEY": SECRET_KEY,
        "PUNCHGATE_BASE_URL": f"http://127.0.0.1:{port}",
        "PUNCHGATE_INSTANCE_DIR": str(tmp_path / "instance"),
        "PUNCHGATE_MARKETPLACE_URL": market.url,
    }
    log_path = tmp_path / "server.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a loaded CI machine boots workers slowly
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.close()
            raise RuntimeError(log_path.read_text())
        time.sleep(0.2)
    yield base, proc
    proc.terminate()
    proc.wait(15)
    log.close()
    scan("server log", log_path.read_text())


@dataclass
class Tally:
    """What the buyers saw: documents sent, attempts, answers."""

    sent: int = 0
    attempts: int = 0
    acknowledged: set[str] = field(default_factory=set)  # payloadIDs answered 200
    transient: int = 0  # cXML 500 or no answer: retried
    slowest: float = 0.0
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def post_until_acknowledged(base: str, body: bytes, payload_id: str, tally: Tally, give_up: float):
    """What a buyer's system does: resend the same document until it gets an answer."""
    with tally.lock:
        tally.sent += 1
    while time.monotonic() < give_up:
        started = time.monotonic()
        code = None
        try:
            request = urllib.request.Request(
                f"{base}/cxml", data=body, headers={"Content-Type": "text/xml"}
            )
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as r:
                code = status(r.read())[0]
        except urllib.error.HTTPError as exc:
            code = status(exc.read())[0] if exc.code == 500 else exc.code
        except OSError:
            code = None  # connection refused or reset: the server or a worker is down
        elapsed = time.monotonic() - started
        with tally.lock:
            tally.attempts += 1
            tally.slowest = max(tally.slowest, elapsed)
            if code == 200:
                tally.acknowledged.add(payload_id)
                return
            if code is None or code >= 500:
                tally.transient += 1
            else:
                tally.refused.append(f"{payload_id}: {code}")
                return
        time.sleep(0.2)


def run_clients(base: str, jobs: list[tuple[bytes, str]], tally: Tally, seconds: float = 120):
    give_up = time.monotonic() + seconds
    chunks = [jobs[i::CLIENTS] for i in range(CLIENTS)]

    def client(mine):
        for body, payload_id in mine:
            post_until_acknowledged(base, body, payload_id, tally, give_up)

    threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    return threads


def orders(count: int, prefix: str, lines: int = 3) -> list[tuple[bytes, str]]:
    jobs = []
    for i in range(count):
        payload_id = f"{prefix}-{i}"
        body = order_request(
            [{"sku": "NW-1001", "qty": "1", "price": "12.90"} for _ in range(lines)],
            order_id=f"{prefix}-PO-{i}",
            payload_id=payload_id,
        )
        jobs.append((body, f"{payload_id}@buyer.test"))
    return jobs


def settle(cluster: Cluster, market: Marketplace, tally: Tally, prefix: str) -> dict:
    """Deliver the outbox and count orders stored and delivered."""
    gateway = Gateway.from_settings(
        Settings(
            database_url=cluster.url,
            secret_key=SECRET_KEY,
            marketplace_url=market.url,
            outbox_base_delay=0.01,
            outbox_max_attempts=50,
        )
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            outbox.run_once(gateway)
            with gateway.db.transaction() as db:
                pending = db.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == "pending")
                )
            if not pending:
                break
            time.sleep(0.1)
        with gateway.db.transaction() as db:
            stored = list(
                db.execute(
                    select(Order.payload_id, func.count())
                    .where(Order.order_id.like(f"{prefix}-%"))
                    .group_by(Order.payload_id)
                )
            )
    finally:
        gateway.db.dispose()
    keys = {key for key, body in market.requests if prefix in str(body)}
    return {
        "sent": tally.sent,
        "acknowledged": len(tally.acknowledged),
        "stored": len(stored),
        "stored_twice": [pid for pid, n in stored if n > 1],
        "stored_ids": {pid for pid, _ in stored},
        "delivered": len(keys),
        "delivery_requests": sum(1 for _, body in market.requests if prefix in str(body)),
    }


def report(name: str, counts: dict, tally: Tally) -> None:
    print(
        f"\n{name}: sent {counts['sent']}, acknowledged {counts['acknowledged']}, "
        f"stored {counts['stored']}, delivered {counts['delivered']} "
        f"({tally.attempts} attempts, {tally.transient} transient, slowest {tally.slowest:.1f} s)"
    )


def test_postgresql_restarted_under_20_clients_and_marketplace_down_then_back(
    cluster, server, market
):
    base, _ = server
    jobs = orders(60, "PGR")
    setups = [(setup_request(cookie=f"pgr-{i}"), f"setup-{i}") for i in range(20)]
    tally, setup_tally = Tally(), Tally()
    # The marketplace is down for the whole of the ordering.
    threads = run_clients(base, jobs, tally) + run_clients(base, setups, setup_tally)
    time.sleep(1.0)
    cluster.stop("immediate")  # a crash, not a polite shutdown
    time.sleep(2.0)
    cluster.start()
    for t in threads:
        t.join(180)
    assert not tally.refused and not setup_tally.refused
    assert len(setup_tally.acknowledged) == 20
    market.start()  # the marketplace comes back
    counts = settle(cluster, market, tally, "PGR")
    report("PostgreSQL restart", counts, tally)
    assert counts["acknowledged"] == counts["sent"] == 60
    assert counts["stored"] == 60 and counts["stored_twice"] == []
    assert counts["stored_ids"] == tally.acknowledged
    assert counts["delivered"] == 60
    assert tally.slowest < REQUEST_TIMEOUT + 5


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def test_gunicorn_worker_killed_mid_order(cluster, server, market):
    base, proc = server
    market.start()
    jobs = orders(10, "KILL", lines=300)
    tally = Tally()
    threads = run_clients(base, jobs, tally)
    time.sleep(0.5)
    killed = 0
    for pid in _workers(proc.pid)[:1]:
        os.kill(pid, signal.SIGKILL)  # a worker in the middle of its order
        killed += 1
    for t in threads:
        t.join(180)
    assert killed == 1
    assert not tally.refused
    counts = settle(cluster, market, tally, "KILL")
    report("worker SIGKILL", counts, tally)
    assert counts["acknowledged"] == counts["sent"] == 10
    assert counts["stored"] == 10 and counts["stored_twice"] == []
    assert counts["delivered"] == 10
    assert proc.poll() is None  # the master replaced its worker
