"""Setup-request speed as the database grows (PostgreSQL).

Creates its own database (punchgate_bench_growth, dropped at the end), adds
--sessions punchout sessions with three events each (the first carrying a 2 KB
document, as a setup request's document.in does) in bulk, server side (INSERT ...
SELECT generate_series: nothing crosses the wire, faster than COPY), then measures
benchmarks.setup_request on a fresh empty database and on the grown one, twice each
(empty, grown, grown, empty, so that a drift of the machine's speed cancels). Prints
every pass, the ratios of their means
(target: within 10%) and the database size per million sessions with their events.

The issue asks for 10,000,000 sessions (about 5 minutes of seeding on a quiet 2-core
machine); the default is 1,000,000: pass --sessions 10000000 where there is time. Seeding
and timing can be split, so the seeding need not happen on a quiet machine:
``--seed-only`` seeds and keeps the grown database, ``--reuse`` times it later (the
empty database is then a fresh one beside it, measured in the same run). Before timing,
the grown database's indexes are read into the OS cache (pg_prewarm), as a database
serving for a while has them; ``--cold`` times it without (see ``_warm``).
Usage: .venv/bin/python -m benchmarks.growth \\
    --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres [--sessions N]
    [--seed-only | --reuse] [--keep] [--cold]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.setup_request import measure, prepare, report

NAME = "punchgate_bench_growth"
EMPTY = "punchgate_bench_growth_empty"
BATCH = 250_000

SESSIONS = """
INSERT INTO punchout_sessions (buyer_id, protocol, operation, status, buyer_cookie,
    payload_id, cxml_version, details, start_token_hash, start_token_expires_at, created_at)
SELECT 'acme', 'cxml', 'create', CASE WHEN i % 3 = 0 THEN 'ordered' ELSE 'transferred' END,
    'cookie-' || i, 'seed-' || i || '@bench', '1.2.069', '{}',
    md5(i::text) || md5('t' || i::text), now() - interval '1 second' * i,
    now() - interval '1 second' * i
FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS i
"""

EVENTS = """
INSERT INTO events (at, buyer_id, session_id, kind, level, message, data, document)
SELECT s.created_at + interval '1 second' * k, 'acme', s.id,
    (ARRAY['document.in', 'session.created', 'start'])[k + 1], 'info',
    'seeded event', '{}', CASE WHEN k = 0 THEN repeat('<cXML seeded document/>', 88) END
FROM punchout_sessions s CROSS JOIN generate_series(0, 2) AS k
WHERE s.payload_id LIKE 'seed-%' AND s.id BETWEEN :low AND :high
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True, help="any database on the server")
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--keep", action="store_true", help="keep the grown database for a later --reuse"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="measure a grown database kept by --keep"
    )
    parser.add_argument(
        "--seed-only", action="store_true", help="seed and keep the grown database, no timing"
    )
    parser.add_argument(
        "--cold", action="store_true", help="time without reading the indexes into the OS cache"
    )
    args = parser.parse_args()
    server = make_url(args.database_url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    url = server.set(database=NAME).render_as_string(hide_password=False)
    empty_url = server.set(database=EMPTY).render_as_string(hide_password=False)
    env = {"PUNCHGATE_DATABASE_URL": url, "PUNCHGATE_SECRET_KEY": "bench-key"}
    empty_env = {**env, "PUNCHGATE_DATABASE_URL": empty_url}
    keep = args.keep or args.seed_only
    try:
        if args.reuse:
            seeded, per_million = _reused(url, args.sessions)
        else:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {NAME}"))
                conn.execute(text(f"CREATE DATABASE {NAME}"))
            prepare(url, env)
            seeded, per_million = _seed(url, args.sessions)
        if args.seed_only:
            print(f"seeded {args.sessions:,} sessions in {seeded:.0f} s into {NAME} (kept)")
            return
        # The floor: the same gateway on an empty database, measured in the same run.
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {EMPTY}"))
            conn.execute(text(f"CREATE DATABASE {EMPTY}"))
        prepare(empty_url, empty_env)
        warmed = None if args.cold else _warm(url)
        # Empty, grown, grown, empty: a steady drift of this VM's speed over the minutes
        # of the run falls on both alike (one pass each once read 47% for 90%).
        runs: dict[str, list[dict]] = {"empty": [], "grown": []}
        for name in ("empty", "grown", "grown", "empty"):
            runs[name].append(
                measure(empty_env if name == "empty" else env, args.seconds, args.clients)
            )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {EMPTY} WITH (FORCE)"))
            if not keep:
                conn.execute(text(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)"))
        admin.dispose()
    for name, label in (("empty", "empty database"), ("grown", f"{args.sessions:,} sessions")):
        for n, m in enumerate(runs[name], start=1):
            report(url, m, args.seconds, args.clients, f", {label}, pass {n} of 2")

    def mean(name: str, value) -> float:
        return statistics.fmean(value(m) for m in runs[name])

    def rps(m):
        return m["gateway_rps"]

    def share(m):  # of the floor measured just before: the machine's speed at the time
        return m["gateway_rps"] / m["floor_rps"]

    def p99(m):
        return m["half_p99"] * 1000

    print(
        "  grown/empty (means of 2 passes): "
        f"throughput {mean('grown', rps) / mean('empty', rps):.1%}"
        f", share of the floor {mean('grown', share) / mean('empty', share):.1%}"
        f"; p99 at half load {mean('grown', p99):.2f} vs {mean('empty', p99):.2f} ms"
        "   (target: within 10%)"
    )
    if warmed:
        print(
            "  indexes read into the OS cache first (pg_prewarm): "
            f"{warmed[0]:,} MiB in {warmed[1]:.0f} s"
        )
    else:
        print("  cold: the indexes were not read into the OS cache first (--cold)")
    print(
        f"  {args.sessions:,} sessions + {3 * args.sessions:,} events"
        + (f", seeded in {seeded:.0f} s" if seeded else "")
        + f"; database size per million sessions (with events and documents): "
        f"{per_million:.0f} MiB"
    )


def _seed(url: str, sessions: int) -> tuple[float, float]:
    """Add ``sessions`` with their events; the seconds it took and MiB per million."""
    engine = create_engine(url)
    with engine.connect() as conn:
        before = conn.scalar(text("SELECT pg_database_size(current_database())"))
    started = time.perf_counter()
    for first in range(1, sessions + 1, BATCH):
        last = min(first + BATCH - 1, sessions)
        with engine.begin() as conn:
            low = conn.scalar(text("SELECT coalesce(max(id), 0) + 1 FROM punchout_sessions"))
            conn.execute(text(SESSIONS), {"first": first, "last": last})
            high = conn.scalar(text("SELECT max(id) FROM punchout_sessions"))
            conn.execute(text(EVENTS), {"low": low, "high": high})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        # The seeding dirtied gigabytes: flushed now, not by a checkpoint spread over the
        # timed minutes (a grown production database is in its steady state).
        conn.execute(text("CHECKPOINT"))
        after = conn.scalar(text("SELECT pg_database_size(current_database())"))
    engine.dispose()
    return time.perf_counter() - started, (after - before) / sessions * 1_000_000 / 2**20


def _warm(url: str) -> tuple[int, float]:
    """Read every index of the grown database into the OS cache: (MiB, seconds).

    A database running for a while has its hot index pages cached; one just seeded (or
    restarted) reads them from disk. Every setup adds a key at a random place in the
    start-token index (1.2 GB at 10 million sessions): cold, that was a disk read per
    setup, and the benchmark measured the disk (iowait up to 97%, p99 1.4 s).
    """
    engine = create_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
        blocks = conn.scalar(
            text(
                "SELECT sum(pg_prewarm(c.oid, 'read')) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'i' AND n.nspname = current_schema()"
            )
        )
        block_size = int(conn.scalar(text("SHOW block_size")))
    engine.dispose()
    return int(blocks or 0) * block_size // 2**20, time.perf_counter() - started


def _reused(url: str, sessions: int) -> tuple[float, float]:
    engine = create_engine(url)
    with engine.connect() as conn:
        seeded = conn.scalar(
            text("SELECT count(*) FROM punchout_sessions WHERE payload_id LIKE 'seed-%'")
        )
        size = conn.scalar(text("SELECT pg_database_size(current_database())"))
    engine.dispose()
    if seeded < sessions:
        raise SystemExit(f"{NAME} holds {seeded:,} seeded sessions, not {sessions:,}")
    return 0.0, size / seeded * 1_000_000 / 2**20


if __name__ == "__main__":
    main()
