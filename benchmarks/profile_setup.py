"""Where a PunchOutSetupRequest spends its time: SQL statements, transactions, cProfile.

In process, through the WSGI app's test client (no gunicorn, no network), after a
warm-up. Usage: .venv/bin/python -m benchmarks.profile_setup [--requests 500]
[--database-url URL] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

from sqlalchemy import event

from benchmarks.setup_request import make_body, prepared


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument("--sort", default="cumulative", help="cProfile order: cumulative, tottime")
    parser.add_argument("--statements", action="store_true", help="print one request's SQL")
    args = parser.parse_args()
    url, env = prepared(args.database_url, "pg-bench-profile-")

    from gateway import create_app
    from gateway.config import Settings

    app = create_app(Settings.from_env(env))
    # On PostgreSQL a setup runs on the second pool (commits that do not wait for the disk).
    engines = app.extensions["punchgate"].db.engines
    client = app.test_client()
    counts = {"statements": 0, "transactions": 0}

    def post() -> None:
        response = client.post("/cxml", data=make_body(), content_type="text/xml")
        assert b'code="200"' in response.data, response.data[:300]

    # Warm-up: caches, pools, compiled statements, and most of the 1,000 users known
    # (the steady state of a busy buyer; the closed-loop benchmark gets there early).
    for _ in range(args.warmup):
        post()

    if args.statements:
        shown = []

        def _show(_conn, _cursor, statement, *_rest):
            shown.append(statement)

        for engine in engines:
            event.listen(engine, "before_cursor_execute", _show)
        post()
        for engine in engines:
            event.remove(engine, "before_cursor_execute", _show)
        print("SQL of one request:")
        for statement in shown:
            print("  " + " ".join(statement.split())[:160])

    def _count(*_args):
        counts["statements"] += 1

    def _begin(_conn):
        counts["transactions"] += 1

    for engine in engines:
        event.listen(engine, "before_cursor_execute", _count)
        event.listen(engine, "begin", _begin)

    # Unprofiled first: cProfile roughly doubles the cost of every Python call.
    started = time.perf_counter()
    for _ in range(args.requests):
        post()
    plain = (time.perf_counter() - started) / args.requests
    counts.update(statements=0, transactions=0)

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(args.requests):
        post()
    profiler.disable()
    elapsed = time.perf_counter() - started
    n = args.requests
    db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"PunchOutSetupRequest in process ({db}), {n} requests under cProfile")
    print(f"  {plain * 1000:.2f} ms per request ({elapsed / n * 1000:.2f} ms under cProfile)")
    print(f"  {counts['statements'] / n:.1f} SQL statements per request")
    print(f"  {counts['transactions'] / n:.1f} transactions per request")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    # Python calls per request: a CPU measure that does not depend on the machine's load.
    print(f"  {stats.total_calls / n:.0f} Python function calls per request")
    stats.sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
