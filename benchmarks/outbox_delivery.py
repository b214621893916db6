"""Outbox delivery to a local HTTP marketplace: messages/s with 2 workers, exactly once.

N marketplace.order messages are queued in one bulk INSERT, then two ``punchgate outbox
run`` workers deliver them to a receiver on loopback that counts every request per
Idempotency-Key. Exactly once: the receiver saw N distinct keys and N requests. The
floor, in the same run: two processes POSTing the same N payloads to the same receiver
without a database. The gateway's rate is printed twice: from the workers' start, and from
the first delivery (their start-up, mostly imports, left out). Usage (PostgreSQL is the
production setting; SQLite works too):
.venv/bin/python -m benchmarks.outbox_delivery --database-url URL [--messages 2000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import create_engine, func, insert, select

from benchmarks.common import ROOT, stop
from benchmarks.setup_request import prepared
from gateway.marketplace.adapters import post_json
from gateway.models import OutboxMessage, utcnow

PAYLOAD = json.dumps({"order": {"id": 0, "buyer": "acme", "lines": [{"sku": "NW-1000"}] * 5}})


class Receiver:
    def __init__(self):
        self.keys: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.first: float | None = None  # perf_counter() of the first request
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.keys[self.headers.get("Idempotency-Key", "")] += 1
                    if receiver.first is None:
                        receiver.first = time.perf_counter()
                data = b'{"status": "accepted"}'
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def total(self) -> int:
        with self.lock:
            return sum(self.keys.values())

    def wait_for(self, n: int, timeout: float) -> tuple[float, float]:
        """Seconds until n requests came: from now, and from the first request."""
        started = time.perf_counter()
        while self.total() < n and time.perf_counter() - started < timeout:
            time.sleep(0.01)
        done = time.perf_counter()
        return done - started, done - (self.first or started)


def _floor_worker(args):
    url, keys = args
    for key in keys:
        post_json(f"{url}/orders", PAYLOAD, {"Idempotency-Key": key}, 10)


def queue_orders(conn, n: int, prefix: str) -> None:
    """``n`` marketplace orders due now, keyed ``<prefix>-<i>``."""
    now = utcnow()
    conn.execute(
        insert(OutboxMessage.__table__),
        [
            {
                "kind": "marketplace.order",
                "idempotency_key": f"{prefix}-{i}",
                "buyer_id": "acme",
                "payload": PAYLOAD,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for i in range(n)
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    n = args.messages
    database_url, env = prepared(args.database_url, "pg-bench-outbox-")

    floor_receiver = Receiver()
    keys = [f"floor-{i}" for i in range(n)]
    started = time.perf_counter()
    with multiprocessing.Pool(2) as pool:
        pool.map(_floor_worker, [(floor_receiver.url, keys[i::2]) for i in range(2)])
    floor_seconds = time.perf_counter() - started

    receiver = Receiver()
    engine = create_engine(database_url)
    with engine.begin() as conn:
        queue_orders(conn, n, "bench")
    worker_env = {
        **os.environ,
        **env,
        "PUNCHGATE_MARKETPLACE_URL": receiver.url,
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "gateway", "outbox", "run", "--idle", "0.05"]
    workers = [
        subprocess.Popen(command, cwd=ROOT, env=worker_env, stdout=subprocess.DEVNULL)
        for _ in range(2)
    ]
    try:
        seconds, delivering = receiver.wait_for(n, args.timeout)
        time.sleep(1)  # a late duplicate would show here
    finally:
        for worker in workers:
            stop(worker)
    with engine.connect() as conn:
        sent = conn.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
        )
    engine.dispose()
    distinct, total = len(receiver.keys), receiver.total()
    db = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(f"Outbox delivery, 2 workers, {db}, {n} messages to a local HTTP marketplace")
    print(f"  floor (2 processes POSTing, no database): {n / floor_seconds:8.1f} msg/s")
    print(f"  gateway (punchgate outbox run x2):        {distinct / seconds:8.1f} msg/s")
    print(f"  ratio gateway/floor: {distinct / seconds / (n / floor_seconds):.1%}")
    print(
        f"  from the first delivery: {distinct / delivering:8.1f} msg/s "
        f"(the workers' start-up, {seconds - delivering:.1f} s, left out)"
    )
    print(
        f"  exactly once: {distinct} distinct keys, {total} requests, {sent} marked sent "
        f"({'yes' if distinct == total == sent == n else 'NO'})   (target >= 1,000 msg/s)"
    )


if __name__ == "__main__":
    main()
