"""Soak: mixed traffic at a fixed rate against gunicorn for minutes, not seconds.

Setups, storefront pages, cart transfers, OCI calls, orders and console pages at
``--rate`` requests per second (open loop: a stall counts against us) for
``--seconds``, against ``punchgate serve`` with an outbox worker beside it and an
HTTP marketplace on loopback. Prints the error count (must be 0), p50/p99 per kind,
the memory (RSS) of each gunicorn worker at start and end, and the outbox lag
(messages pending, age of the oldest) sampled through the run.

gunicorn runs with max_requests off (GUNICORN_CMD_ARGS="--max-requests 0", over
gunicorn.conf.py's recycling): a worker replaced mid-run would hide a leak and reset its
RSS. The workers replaced during the run are printed (must be 0).

Given a PostgreSQL server (--database-url naming any database on it), the soak creates
its own database (punchgate_bench_soak) there and drops it at the end, as
benchmarks.growth does; without one, a fresh SQLite file in a temporary directory.

Usage: .venv/bin/python -m benchmarks.soak [--rate 200] [--seconds 600]
       [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
Not a test: nothing here asserts; read the numbers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from benchmarks.common import ROOT, call, free_port, percentile

SECRET_KEY = "soak-secret-key-not-for-production"
NAME = "punchgate_bench_soak"  # the database created (and dropped) on a PostgreSQL server
DEMO = ROOT / "fixtures" / "demo"
# Kind -> share of the traffic.
MIX = {"setup": 25, "storefront": 30, "transfer": 10, "oci": 15, "order": 10, "console": 10}


def _setup_body(cookie: str) -> bytes:
    from tests.documents import setup_request

    return setup_request(
        cookie=cookie,
        payload_id=uuid.uuid4().hex,
        extrinsics={"UserEmail": f"user{random.randrange(500)}@acme.example"},
    )


def _order_body() -> bytes:
    from tests.documents import order_request

    return order_request(
        [{"sku": "NW-1001", "qty": "2", "price": "12.90"}],
        order_id=f"SOAK-{uuid.uuid4().hex[:12]}",
    )


class Client:
    def __init__(self, port: int):
        self.port = port

    def call(self, method: str, path: str, body: bytes | None = None, headers=None):
        return call(self.port, method, path, body, headers)

    def open_session(self) -> str:
        status, _, data = self.call(
            "POST", "/cxml", _setup_body(uuid.uuid4().hex), {"Content-Type": "text/xml"}
        )
        if status != 200 or b'code="200"' not in data:
            raise RuntimeError(f"setup: {status}")
        start = data.split(b"<URL>")[1].split(b"</URL>")[0].decode()
        status, location, _ = self.call("GET", urlsplit(start).path)
        if status != 302:
            raise RuntimeError(f"start page: {status}")
        return parse_qs(urlsplit(location).query)["session"][0]


def _run(client: Client, kind: str, tokens: list[str]) -> None:
    if kind == "setup":
        status, _, data = client.call(
            "POST", "/cxml", _setup_body(uuid.uuid4().hex), {"Content-Type": "text/xml"}
        )
        ok = status == 200 and b'code="200"' in data
    elif kind == "order":
        status, _, data = client.call("POST", "/cxml", _order_body(), {"Content-Type": "text/xml"})
        ok = status == 200 and b'code="200"' in data
    elif kind == "storefront":
        status, _, _ = client.call("GET", f"/shop/?session={random.choice(tokens)}&q=bolt")
        ok = status == 200
    elif kind == "transfer":
        token = client.open_session()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        item = json.dumps({"sku": "NW-1001", "quantity": 1}).encode()
        client.call("POST", "/api/v1/punchout/cart/items", item, headers)
        form = urlencode({"session": token}).encode()
        status, _, _ = client.call(
            "POST",
            "/api/v1/punchout/transfer",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        ok = status == 200
    elif kind == "oci":
        query = urlencode(
            {
                "USERNAME": "acme_srm",
                "PASSWORD": "demo-acme-oci-password",
                "HOOK_URL": "http://127.0.0.1:9000/punchout/oci",
                "email": f"oci{random.randrange(500)}@acme.example",
            }
        )
        status, _, _ = client.call("GET", f"/oci/acme?{query}")
        ok = status == 302
    else:  # console
        status, _, _ = client.call("GET", "/support/login")
        ok = status == 200
    if not ok:
        raise RuntimeError(f"{kind}: HTTP {status}")


def _worker(args) -> list[tuple[str, float, str | None]]:
    port, rate, seconds, offset, seed = args
    random.seed(seed)
    client = Client(port)
    tokens = [client.open_session() for _ in range(5)]
    kinds = random.choices(list(MIX), weights=list(MIX.values()), k=int(rate * seconds))
    interval = 1.0 / rate
    start = time.perf_counter() + offset + 1.0
    results = []
    for i, kind in enumerate(kinds):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        error = None
        try:
            _run(client, kind, tokens)
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
            error = str(exc)[:200]
        results.append((kind, time.perf_counter() - scheduled, error))
    return results


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _workers(master: int) -> list[int]:
    path = Path(f"/proc/{master}/task/{master}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _create_database(server_url: str) -> str:
    """A fresh database NAME on the server of ``server_url``: its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(server_url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {NAME}"))
    finally:
        admin.dispose()
    return server.set(database=NAME).render_as_string(hide_password=False)


def _drop_database(server_url: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)"))
    finally:
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--clients", type=int, default=8, help="load-generating processes")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--database-url",
        help=f"a PostgreSQL server (any database on it): the soak runs on its own {NAME}, "
        "dropped at the end  [default: a fresh SQLite file]",
    )
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix="punchgate-soak-"))
    postgresql = bool(args.database_url) and args.database_url.startswith("postgresql")
    if args.database_url and not postgresql:
        parser.error("--database-url must name a PostgreSQL server (SQLite is the default)")
    url = _create_database(args.database_url) if postgresql else f"sqlite:///{tmp / 'soak.db'}"
    try:
        _soak(args, url, tmp)
    finally:
        if postgresql:
            _drop_database(args.database_url)


def _soak(args, url: str, tmp: Path) -> None:
    from gateway.catalog.loader import load_path
    from gateway.config import Settings
    from gateway.migrate import upgrade
    from gateway.state import Gateway
    from provisioning.buyers import load_buyers
    from tests.marketplace_server import Marketplace

    upgrade(url)
    gateway = Gateway.from_settings(Settings(database_url=url, secret_key=SECRET_KEY))
    with gateway.db.transaction() as db:
        load_buyers(db, DEMO / "buyers.toml", gateway.box, env={})
    with gateway.db.transaction() as db:
        load_path(db, DEMO / "catalog.csv")

    market = Marketplace()
    market.start()
    port = free_port()
    env = {
        **os.environ,
        "PUNCHGATE_DATABASE_URL": url,
        "PUNCHGATE_SECRET_KEY": SECRET_KEY,
        "PUNCHGATE_BASE_URL": f"http://127.0.0.1:{port}",
        "PUNCHGATE_INSTANCE_DIR": str(tmp),
        "PUNCHGATE_MARKETPLACE_URL": market.url,
        # No worker recycling during a soak (gunicorn.conf.py's max_requests): the
        # environment's arguments override the config file, the command line's them.
        "GUNICORN_CMD_ARGS": " ".join(
            filter(None, [os.environ.get("GUNICORN_CMD_ARGS"), "--max-requests 0"])
        ),
    }
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed at the end
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)]
        + ["--workers", str(args.workers)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed whole if it hangs
    )
    outbox_worker = subprocess.Popen(
        [sys.executable, "-m", "gateway", "outbox", "run", "--idle", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if Client(port).call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        workers = _workers(server.pid)
        time.sleep(1)
        rss_start = {pid: _rss_kib(pid) for pid in workers}

        lag: list[tuple[int, float]] = []
        stop = threading.Event()

        def sample_outbox():
            from sqlalchemy import func, select

            from gateway.models import OutboxMessage, utcnow

            while not stop.wait(5):
                with gateway.db.transaction() as db:
                    pending, oldest = db.execute(
                        select(func.count(), func.min(OutboxMessage.created_at)).where(
                            OutboxMessage.status == "pending"
                        )
                    ).one()
                age = (utcnow() - oldest).total_seconds() if oldest else 0.0
                lag.append((pending, age))

        sampler = threading.Thread(target=sample_outbox, daemon=True)
        sampler.start()
        per = args.rate / args.clients
        jobs = [(port, per, args.seconds, i / args.rate, i) for i in range(args.clients)]
        with multiprocessing.Pool(args.clients) as pool:
            results = [r for chunk in pool.map(_worker, jobs) for r in chunk]
        stop.set()
        rss_end = {pid: _rss_kib(pid) for pid in workers if Path(f"/proc/{pid}").exists()}
        replaced = sorted(set(_workers(server.pid)) - set(workers))
    finally:
        outbox_worker.terminate()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)  # gunicorn and its workers
            server.wait(10)
        try:
            outbox_worker.wait(15)
        except subprocess.TimeoutExpired:
            outbox_worker.kill()
            outbox_worker.wait(10)
        market.stop()
        log.close()
        # The database's connections close before a PostgreSQL database can be dropped.
        gateway.db.dispose()

    by_kind: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    samples: list[str] = []
    for kind, latency, error in results:
        by_kind[kind].append(latency)
        if error:
            errors[kind] += 1
            if len(samples) < 5:
                samples.append(error)
    print(f"soak: {args.rate:g} req/s for {args.seconds:g} s, {len(results)} requests, {url}")
    print(f"errors: {sum(errors.values())} (must be 0) {dict(errors) or ''}")
    for error in samples:
        print(f"  e.g. {error}")
    for kind in MIX:
        values = by_kind.get(kind) or [0.0]
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        print(
            f"  {kind:<10} n={len(by_kind.get(kind, [])):>6}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
        )
    print(f"workers replaced during the run: {len(replaced)} (must be 0) {replaced or ''}")
    for pid in workers:
        start, end = rss_start.get(pid, 0), rss_end.get(pid)
        growth = f"{(end - start) / start * 100:+.1f}%" if end and start else "replaced"
        print(
            f"  worker {pid}: RSS {start / 1024:.1f} MiB -> {(end or 0) / 1024:.1f} MiB ({growth})"
        )
    if lag:
        print(
            f"outbox lag: at most {max(p for p, _ in lag)} pending, oldest "
            f"{max(a for _, a in lag):.1f} s; at the end {lag[-1][0]} pending"
        )


if __name__ == "__main__":
    main()
