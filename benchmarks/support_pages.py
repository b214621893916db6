"""Support console pages on a large session log.

Seeds 1,000,000 punchout sessions (three events each, the first with its
document; a cart line on every transferred or ordered session; an order on
every twentieth), then times the console pages through the whole Flask stack
with a signed-in agent: the session list unfiltered, with each filter and
search, a deep page, and one session's page. Each is the median of --repeat
requests, printed with its ratio to the floor measured in the same run: the
sign-in page, which is the same stack with no query.

Usage:
  .venv/bin/python -m benchmarks.support_pages [--sessions N] [--reuse]
  .venv/bin/python -m benchmarks.support_pages \\
      --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
(on PostgreSQL it creates and drops its own database, punchgate_bench_support).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from benchmarks.common import ROOT
from gateway import create_app
from gateway.catalog.loader import load_path
from gateway.config import Settings
from gateway.migrate import upgrade
from gateway.models import CartLine, Event, Order, PunchoutSession, User, utcnow
from gateway.support.accounts import add_agent
from provisioning.buyers import load_buyers

USERS = 10_000
CHUNK = 20_000
TARGET_MS = 200
PASSWORD = "benchmark-agent-password"
DOCUMENT = (
    '<?xml version="1.0"?><cXML payloadID="{n}@buyer.example" timestamp="2026-11-24T10:00:00Z">'
    '<Header><From><Credential domain="NetworkID"><Identity>AN01000000001</Identity>'
    '</Credential></From><Sender><Credential domain="NetworkID"><Identity>AN01000000001'
    "</Identity><SharedSecret>[redacted]</SharedSecret></Credential></Sender></Header>"
    '<Request><PunchOutSetupRequest operation="create"><BuyerCookie>cookie-{n}</BuyerCookie>'
    "</PunchOutSetupRequest></Request></cXML>"
)


def database(url: str | None, reuse: bool) -> str:
    """The benchmark's own database: a temporary SQLite file, or a PostgreSQL database
    made for it; with ``reuse``, the one a previous ``--reuse`` run left."""
    if not url:
        folder = Path(tempfile.gettempdir()) if reuse else Path(tempfile.mkdtemp())
        return f"sqlite:///{folder / 'punchgate-bench-support.db'}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = 'punchgate_bench_support'")
        )
        if not (reuse and exists):
            conn.execute(text("DROP DATABASE IF EXISTS punchgate_bench_support WITH (FORCE)"))
            conn.execute(text("CREATE DATABASE punchgate_bench_support"))
    admin.dispose()
    return make_url(url).set(database="punchgate_bench_support").render_as_string(False)


def drop_database(url: str | None) -> None:
    if url:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS punchgate_bench_support WITH (FORCE)"))
        admin.dispose()


def buyer_of(user: int) -> str:
    return "acme" if user < 6000 else "globex" if user < 9000 else "initech"


STATUSES = ("transferred",) * 4 + ("ordered",) * 2 + ("open",) * 3 + ("failed",)


def status_of(n: int) -> str:
    return STATUSES[n % 10]


def seed(url: str, sessions: int) -> None:
    """Bulk rows through Core, in chunks."""
    engine = create_engine(url)
    now = utcnow()
    step = timedelta(days=180) / sessions
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [
                {
                    "id": u + 1,
                    "buyer_id": buyer_of(u),
                    "email": f"user{u}@{buyer_of(u)}.example",
                    "unique_name": f"u{u}",
                    "name": f"User {u}",
                    "roles": ["requester"],
                    "created_at": now - timedelta(days=200),
                    "updated_at": now - timedelta(days=200),
                }
                for u in range(USERS)
            ],
        )
    for first in range(0, sessions, CHUNK):
        rows, events, lines, orders = [], [], [], []
        for n in range(first, min(first + CHUNK, sessions)):
            sid, user = n + 1, n % USERS
            buyer, status = buyer_of(user), status_of(n)
            created = now - (sessions - n) * step
            rows.append(
                {
                    "id": sid,
                    "buyer_id": buyer,
                    "user_id": user + 1,
                    "protocol": "oci" if buyer == "initech" else "cxml",
                    "operation": "create",
                    "status": status,
                    "buyer_cookie": f"cookie-{n}",
                    "return_url": "https://buyer.example/return",
                    "details": {},
                    "created_at": created,
                    "started_at": created,
                    "expires_at": created + timedelta(hours=8),
                    "transferred_at": created + timedelta(minutes=9)
                    if status in ("transferred", "ordered")
                    else None,
                }
            )
            for k, kind in enumerate(("document.in", "auth.ok", "session.created")):
                events.append(
                    {
                        "at": created + timedelta(milliseconds=k),
                        "buyer_id": buyer,
                        "session_id": sid,
                        "kind": kind,
                        "level": "info",
                        "message": f"{kind} for session {sid}",
                        "data": {},
                        "document": DOCUMENT.format(n=n) if k == 0 else None,
                    }
                )
            if status in ("transferred", "ordered"):
                lines.append(
                    {
                        "id": sid,
                        "session_id": sid,
                        "position": 1,
                        "aux_id": f"PG-{n:016x}",
                        "sku": "NW-1001",
                        "quantity": "2",
                        "unit_price": "12.90",
                        "list_price": "14.90",
                        "contract_price": "12.90",
                        "currency": "USD",
                        "description": "Hex bolt M8 x 40 mm",
                        "uom": "EA",
                    }
                )
            if n % 20 == 4:
                orders.append(
                    {
                        "buyer_id": buyer,
                        "session_id": sid,
                        "order_id": f"PO-{n}",
                        "version": 1,
                        "type": "new",
                        "payload_id": f"order-{n}@buyer.example",
                        "body_sha256": "-",
                        "status": "accepted",
                        "details": {},
                        "response_code": 200,
                        "response_text": "OK",
                        "created_at": created + timedelta(hours=1),
                        "updated_at": created + timedelta(hours=1),
                    }
                )
        with engine.begin() as conn:
            conn.execute(insert(PunchoutSession), rows)
            conn.execute(insert(Event), events)
            if lines:
                conn.execute(insert(CartLine), lines)
            if orders:
                conn.execute(insert(Order), orders)
        done = min(first + CHUNK, sessions)
        if done % 200_000 == 0 or done == sessions:
            print(f"  seeded {done:,} sessions ({time.perf_counter() - started:.0f} s)", flush=True)
    with engine.begin() as conn:
        if url.startswith("postgresql"):
            conn.execute(text("ANALYZE"))
            # Explicit ids above leave the sequences behind the data.
            for table in ("users", "punchout_sessions", "cart_lines"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 (constant names)
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        else:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def lookups(sessions: int) -> dict:
    """What the timed requests look for: a session in the middle that has an order."""
    middle = sessions // 2
    middle -= middle % 20 - 4
    return {
        "session": middle + 1,
        "email": f"user{middle % USERS}@{buyer_of(middle % USERS)}.example",
        "po": f"PO-{middle}",
        "cookie": f"cookie-{middle}",
        "deep": middle + 1,
        "day": (utcnow() - timedelta(days=90)).date().isoformat(),
        "month": (utcnow() - timedelta(days=120)).date().isoformat(),
        "half": (utcnow() - timedelta(days=270)).date().isoformat(),
    }


def median_ms(client, path: str, repeat: int, expect: str | None = None) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    if expect is not None:  # a fast empty answer would prove nothing
        assert expect in response.get_data(as_text=True), (path, expect)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the seeded database, and time it again next run without seeding",
    )
    args = parser.parse_args()
    url = database(args.database_url, args.reuse)
    app = None
    try:
        upgrade(url)
        settings = Settings(database_url=url, secret_key="bench-secret-key-for-support-pages")
        app = create_app(settings)
        gateway = app.extensions["punchgate"]
        db_name = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        with gateway.db.transaction() as db:
            seeded = db.scalar(select(func.count()).select_from(PunchoutSession))
        if seeded != args.sessions:
            if seeded:
                raise SystemExit(f"{url} holds {seeded} sessions: run once without --reuse")
            with gateway.db.transaction() as db:
                load_buyers(db, ROOT / "fixtures/demo/buyers.toml", gateway.box, env={})
            with gateway.db.transaction() as db:
                load_path(db, ROOT / "fixtures/demo/catalog.csv")
                add_agent(db, gateway.box, "bench@supplier.example", PASSWORD, "agent")
            print(f"Support pages, {db_name}, seeding {args.sessions:,} sessions with events")
            seed(url, args.sessions)
        else:
            print(f"Support pages, {db_name}, {seeded:,} sessions seeded by an earlier run")
        found = lookups(args.sessions)

        client = app.test_client()
        page = client.get("/support/login").get_data(as_text=True)
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        signed = client.post(
            "/support/login",
            data={"email": "bench@supplier.example", "password": PASSWORD, "csrf_token": token},
        )
        assert signed.status_code == 302
        floor = median_ms(client, "/support/login", args.repeat)
        target = f'href="/support/sessions/{found["session"]}"'
        some = 'href="/support/sessions/'
        none = "No sessions match"
        pages = [
            ("session list, unfiltered", "/support/", some),
            ("filter buyer=initech", "/support/?buyer=initech", some),
            ("filter buyer + status=failed", "/support/?buyer=globex&status=failed", some),
            ("filter status=abandoned", "/support/?status=abandoned", some),
            ("filter protocol=oci", "/support/?protocol=oci", some),
            ("filter from/to one day", f"/support/?from={found['day']}&to={found['day']}", some),
            ("filter from/to 30 days", f"/support/?from={found['month']}&to={found['day']}", some),
            ("filter from/to 6 months", f"/support/?from={found['half']}&to={found['day']}", some),
            ("filter user", f"/support/?user={found['email']}", target),
            ("search email", f"/support/?q={found['email']}", target),
            ("search PO number", f"/support/?q={found['po']}", target),
            ("search BuyerCookie", f"/support/?q={found['cookie']}", target),
            ("search, nothing matches", "/support/?q=nobody@nowhere.example", none),
            ("filter, nothing matches", "/support/?buyer=initech&status=saved", none),
            ("page 10,000 (keyset)", f"/support/?before={found['deep']}", some),
            ("session page", f"/support/sessions/{found['session']}", found["cookie"]),
        ]
        print(f"  floor (sign-in page, same stack, no query): {floor:6.1f} ms")
        worst = 0.0
        for label, path, expect in pages:
            ms = median_ms(client, path, args.repeat, expect)
            worst = max(worst, ms)
            print(f"  {label:<32} {ms:7.1f} ms   {ms / floor:5.1f}x floor")
        verdict = "met" if worst < TARGET_MS else "MISSED"
        print(f"  slowest {worst:.1f} ms (target < {TARGET_MS} ms each: {verdict})")
    finally:
        if app is not None:
            app.extensions["punchgate"].db.engine.dispose()
        if not args.reuse:
            drop_database(args.database_url)


if __name__ == "__main__":
    sys.exit(main())
