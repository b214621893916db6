"""The outbox against a real HTTP marketplace that fails, times out, is down, and a
worker killed in the middle of a delivery: nothing lost, nothing doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import select

from gateway import outbox
from gateway.config import Settings
from gateway.models import Event, Order, OutboxMessage
from gateway.state import Gateway
from tests.conftest import ROOT, SECRET_KEY
from tests.documents import order_request, status
from tests.marketplace_server import Marketplace


@pytest.fixture
def market():
    market = Marketplace()
    yield market
    market.stop()


def gateway_for(settings, market, **overrides) -> Gateway:
    return Gateway.from_settings(
        Settings(
            **{
                **settings.__dict__,
                "marketplace_url": market.url,
                "marketplace_timeout": 0.5,
                "outbox_base_delay": 0.01,
                "outbox_max_attempts": 30,
                **overrides,
            }
        )
    )


def place_orders(client, n: int) -> None:
    for i in range(n):
        body = order_request([{"sku": "NW-1001", "qty": "1", "price": "12.90"}], order_id=f"PO-{i}")
        assert status(client.post("/cxml", data=body).data)[0] == 200


def drain(gateway: Gateway, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outbox.run_once(gateway)
        with gateway.db.transaction() as db:
            left = db.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending")).all()
        if not left:
            return
        time.sleep(0.05)
    raise AssertionError("outbox did not drain")


def test_outage_errors_and_timeouts_deliver_every_order_once(client, demo, settings, market):
    place_orders(client, 5)
    gateway = gateway_for(settings, market)
    stats = outbox.run_once(gateway)  # the marketplace is down: connection refused
    assert stats.retried == 5 and stats.sent == 0
    market.plan = ["500", "500", "500", "hang:1.5"]
    market.start()
    drain(gateway)
    keys = Counter(key for key, _ in market.requests)
    assert len(market.orders) == 5  # every order arrived, once
    assert sum(keys.values()) == 5 + 4  # four attempts failed and were retried
    for key, body in market.requests:  # a retry carries the same key and the same body
        assert market.orders[key] == body
    with demo.db.transaction() as db:
        assert {o.status for o in db.scalars(select(Order))} == {"accepted"}
        messages = list(db.scalars(select(OutboxMessage)))
        kinds = Counter(e.kind for e in db.scalars(select(Event)))
    assert all(m.status == "sent" for m in messages)
    assert sum(m.attempts for m in messages) == 5 + 5 + 4
    assert kinds["outbox.retry"] == 9 and kinds["outbox.sent"] == 5


def test_permanent_refusal_is_not_retried_and_dead_letters(client, demo, settings):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits = []

    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(1)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(422)
            self.send_header("Content-Length", "17")
            self.end_headers()
            self.wfile.write(b'{"error":"bad"}\n ')

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    market = type("M", (), {"url": f"http://127.0.0.1:{server.server_address[1]}"})
    place_orders(client, 1)
    gateway = gateway_for(settings, market)
    for _ in range(3):
        outbox.run_once(gateway)
    server.shutdown()
    server.server_close()
    assert len(hits) == 1
    with demo.db.transaction() as db:
        message = db.scalars(select(OutboxMessage)).one()
    assert message.status == "dead" and message.last_status == 422


def test_dead_letter_after_max_attempts(client, demo, settings):
    place_orders(client, 1)
    gateway = gateway_for(
        settings,
        type("M", (), {"url": "http://127.0.0.1:9"}),
        outbox_max_attempts=3,
        outbox_base_delay=0.001,
    )
    for _ in range(20):
        outbox.run_once(gateway)
        time.sleep(0.01)
    with demo.db.transaction() as db:
        message = db.scalars(select(OutboxMessage)).one()
    assert (message.status, message.attempts) == ("dead", 3)


def test_backoff_grows_with_jitter():
    delays = [outbox.backoff(n, 2.0) for n in range(1, 8)]
    assert 1.0 <= delays[0] <= 3.0 and 64 <= delays[6] <= 192
    assert outbox.backoff(40, 2.0) <= outbox.MAX_DELAY * 1.5


def test_worker_killed_mid_delivery(client, demo, settings, market, database_url):
    place_orders(client, 1)
    market.plan = ["block"]
    market.start()
    env = {
        **os.environ,
        "PUNCHGATE_DATABASE_URL": database_url,
        "PUNCHGATE_SECRET_KEY": SECRET_KEY,
        "PUNCHGATE_MARKETPLACE_URL": market.url,
        "PUNCHGATE_OUTBOX_LEASE": "1",
        "PUNCHGATE_OUTBOX_BASE_DELAY": "0.01",
        "PUNCHGATE_MARKETPLACE_TIMEOUT": "30",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "gateway", "outbox", "run", "--idle", "0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert market.received.wait(20), "the worker never called the marketplace"
        os.kill(worker.pid, signal.SIGKILL)  # in the middle of the delivery
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    market.release.set()
    with demo.db.transaction() as db:
        message = db.scalars(select(OutboxMessage)).one()
        assert (message.status, message.attempts) == ("pending", 1)  # leased, not lost
    time.sleep(1.2)  # the dead worker's lease runs out
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "outbox", "run", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "sent 1" in done.stdout, done.stdout + done.stderr
    keys = [key for key, _ in market.requests]
    assert len(keys) == 2 and len(set(keys)) == 1  # delivered again, under the same key
    assert len(market.orders) == 1  # so the marketplace has the order once
    with demo.db.transaction() as db:
        message = db.scalars(select(OutboxMessage)).one()
        order = db.scalars(select(Order)).one()
    assert (message.status, message.attempts, order.status) == ("sent", 2, "accepted")


def test_one_failure_in_a_batch_does_not_hold_back_the_others(client, demo, settings, market):
    place_orders(client, 5)
    market.plan = ["ok", "500", "hang:1.5"]  # the third times out (0.5 s)
    market.start()
    gateway = gateway_for(settings, market, outbox_base_delay=60)
    stats = outbox.run_once(gateway)  # one batch
    assert (stats.sent, stats.retried, stats.dead) == (3, 2, 0)
    with demo.db.transaction() as db:
        messages = list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        orders = {o.id: o.status for o in db.scalars(select(Order))}
    assert [m.status for m in messages] == ["sent", "pending", "pending", "sent", "sent"]
    assert [m.last_status for m in messages] == [201, 500, None, 201, 201]
    assert messages[2].last_error == "unreachable: timed out"
    assert all(m.lease_until is None and m.attempts == 1 for m in messages)
    expected = ["accepted", "received", "received", "accepted", "accepted"]
    assert [orders[m.order_pk] for m in messages] == expected


def test_a_record_that_fails_leaves_only_its_message_to_the_lease(
    client, demo, settings, market, monkeypatch
):
    place_orders(client, 4)
    market.start()
    with demo.db.transaction() as db:
        broken = db.scalars(select(Order).where(Order.order_id == "PO-2")).one().id
    answered = outbox._order_answered

    def refuse_one(db, order, state, reason):
        if order.id == broken:
            raise RuntimeError("this order cannot be recorded")
        answered(db, order, state, reason)

    monkeypatch.setattr(outbox, "_order_answered", refuse_one)
    stats = outbox.run_once(gateway_for(settings, market))
    assert (stats.sent, stats.retried) == (3, 1)
    with demo.db.transaction() as db:
        messages = {m.order_pk: m for m in db.scalars(select(OutboxMessage))}
    assert [m.status for pk, m in messages.items() if pk != broken] == ["sent"] * 3
    # Delivered but not recorded: it goes again (same key) once its lease runs out.
    assert messages[broken].status == "pending" and messages[broken].lease_until is not None


def test_a_batch_past_half_its_lease_gives_the_rest_back(client, demo, settings, market):
    place_orders(client, 3)
    market.plan = ["hang:0.7"]
    market.start()
    gateway = gateway_for(settings, market, outbox_lease_seconds=1.0, marketplace_timeout=5)
    stats = outbox.run_once(gateway)
    assert (stats.sent, stats.released) == (1, 2)
    with demo.db.transaction() as db:
        rest = [m for m in db.scalars(select(OutboxMessage)) if m.status == "pending"]
    # Not attempted: due at once, no attempt counted, no lease held.
    assert [(m.attempts, m.lease_until) for m in rest] == [(0, None), (0, None)]
    assert outbox.run_once(gateway).sent == 2
    assert len(market.requests) == 3


def test_two_workers_deliver_each_message_once(demo, database_url):
    """Two `outbox run` workers on one queue (PostgreSQL: FOR UPDATE SKIP LOCKED)."""
    from sqlalchemy import insert

    from gateway.models import utcnow
    from tests.marketplace_server import KeptAliveReceiver

    receiver = KeptAliveReceiver()
    env = {
        **os.environ,
        "PUNCHGATE_DATABASE_URL": database_url,
        "PUNCHGATE_SECRET_KEY": SECRET_KEY,
        "PUNCHGATE_MARKETPLACE_URL": receiver.url,
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "gateway", "outbox", "run", "--idle", "0.05"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    n = 1000
    try:
        for worker in workers:  # both are polling before anything is queued
            assert "outbox worker running" in worker.stdout.readline()
        now = utcnow()
        with demo.db.engine.begin() as conn:
            conn.execute(
                insert(OutboxMessage.__table__),
                [
                    {
                        "kind": "marketplace.order",
                        "idempotency_key": f"two-{i}",
                        "payload": "{}",
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for i in range(n)
                ],
            )
        deadline = time.monotonic() + 60
        while len(receiver.requests) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # a late duplicate would show here
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(10)
        receiver.stop()
    keys = Counter(key for _, key, _ in receiver.requests)
    assert len(keys) == n and set(keys.values()) == {1}
    assert len([s for s in receiver.served if s]) >= 2  # both workers delivered
    with demo.db.transaction() as db:
        statuses = Counter(db.scalars(select(OutboxMessage.status)))
    assert statuses == {"sent": n}
