"""PunchOutSetupRequest throughput and latency through gunicorn (2 workers).

In the same run, the floor: a bare Flask app under the same gunicorn that only parses the
same document with lxml. Prints both, the ratio, and p50/p99 at half of the gateway's
maximum load. Usage: .venv/bin/python -m benchmarks.setup_request [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import uuid
from pathlib import Path

from benchmarks.common import (
    ROOT,
    closed_loop,
    free_port,
    open_loop,
    percentile,
    start_gunicorn,
    stop,
)

TEMPLATE = (ROOT / "fixtures" / "demo" / "setup-request.xml").read_bytes()


def make_body() -> bytes:
    # A fresh payloadID and BuyerCookie per request, and one of 1,000 users, as real
    # buyers send: a single user for every request would serialise on that user's row.
    unique = uuid.uuid4().hex.encode()
    user = f"user{random.randrange(1000)}@acme.example".encode()
    return (
        TEMPLATE.replace(b"demo-setup-0001", unique)
        .replace(b"demo-cookie-0001", unique)
        .replace(b"jane.doe@acme.example", user)
        .replace(b'<Extrinsic name="UniqueName">jdoe</Extrinsic>', b"")
    )


def prepare(database_url: str, env: dict) -> None:
    import subprocess
    import sys

    for args in (
        ["db", "upgrade"],
        ["buyers", "load", "fixtures/demo/buyers.toml"],
        ["catalog", "load", "fixtures/demo/catalog.csv"],
    ):
        subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            cwd=ROOT,
            check=True,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
        )


def prepared(database_url: str | None, prefix: str = "pg-bench-") -> tuple[str, dict]:
    """A migrated database with the demo buyers and catalog (a new SQLite file by default)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    database_url = database_url or f"sqlite:///{tmp / 'bench.db'}"
    env = {
        "PUNCHGATE_DATABASE_URL": database_url,
        "PUNCHGATE_SECRET_KEY": "bench-key",
        "PUNCHGATE_INSTANCE_DIR": str(tmp),
    }
    prepare(database_url, env)
    return database_url, env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    database_url, env = prepared(args.database_url)
    report(database_url, measure(env, args.seconds, args.clients), args.seconds, args.clients)


def measure(env: dict, seconds: float, clients: int) -> dict:
    """Floor and gateway at full load, then the gateway at half its own maximum."""
    gw_port, floor_port = free_port(), free_port()
    gateway = start_gunicorn("wsgi:app", gw_port, env)
    floor = start_gunicorn("benchmarks.floor_app:app", floor_port, env)
    try:
        closed_loop(gw_port, make_body, clients, 1)  # warm-up
        closed_loop(floor_port, make_body, clients, 1)
        floor_rps, floor_lat = closed_loop(floor_port, make_body, clients, seconds)
        gw_rps, gw_lat = closed_loop(gw_port, make_body, clients, seconds)
        half = open_loop(gw_port, make_body, gw_rps / 2, seconds)
        # The floor at the same arrival rate: what the machine and the load generator
        # alone add to a latency (on 2 cores they share the CPU with the server).
        floor_half = open_loop(floor_port, make_body, gw_rps / 2, seconds)
    finally:
        for proc in (gateway, floor):
            stop(proc)
    return {
        "floor_rps": floor_rps,
        "floor_p50": percentile(floor_lat, 50),
        "gateway_rps": gw_rps,
        "gateway_p50": percentile(gw_lat, 50),
        "half_rps": gw_rps / 2,
        "half_p50": percentile(half, 50),
        "half_p99": percentile(half, 99),
        "floor_half_p50": percentile(floor_half, 50),
        "floor_half_p99": percentile(floor_half, 99),
    }


def report(database_url: str, m: dict, seconds: float, clients: int, label: str = "") -> None:
    db = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(
        f"PunchOutSetupRequest via gunicorn, 2 workers, {db}{label}, {clients} clients, "
        f"{seconds:.0f}s per phase"
    )
    print(
        f"  floor (Flask + lxml parse): {m['floor_rps']:8.1f} req/s  "
        f"p50 {m['floor_p50'] * 1000:6.2f} ms"
    )
    print(
        f"  gateway (full setup):       {m['gateway_rps']:8.1f} req/s  "
        f"p50 {m['gateway_p50'] * 1000:6.2f} ms"
    )
    print(
        f"  ratio gateway/floor:        {m['gateway_rps'] / m['floor_rps']:8.1%}   (target >= 50%)"
    )
    print(
        f"  at half max load ({m['half_rps']:.0f} req/s): p50 {m['half_p50'] * 1000:.2f} ms, "
        f"p99 {m['half_p99'] * 1000:.2f} ms   (target p99 < 10 ms)"
    )
    if "floor_half_p99" in m:
        print(
            f"  floor at the same rate:      p50 {m['floor_half_p50'] * 1000:.2f} ms, "
            f"p99 {m['floor_half_p99'] * 1000:.2f} ms   (the machine's and load generator's share)"
        )


if __name__ == "__main__":
    main()
