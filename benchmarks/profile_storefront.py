"""Where the storefront's requests spend their time: SQL statements, Python calls, cProfile.

In process, through the WSGI app's test client (no gunicorn, no network), after a warm-up,
for the three requests of ``benchmarks.storefront`` (category page, search, add to cart
through the JSON session API). Usage: .venv/bin/python -m benchmarks.profile_storefront
[--products 100000] [--requests 300] [--database-url URL] [--instance-dir DIR]
[--only category|search|add] [--top 25] [--statements]

``--instance-dir`` keeps the loaded SQLite database between runs (a second run with the
same directory skips the load).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from sqlalchemy import event

from benchmarks.catalog_data import ADJECTIVES, CATEGORIES, NOUNS, csv_bytes
from benchmarks.common import ROOT
from benchmarks.setup_request import make_body, prepare
from benchmarks.storefront import SKUS


def _prepared(args) -> dict:
    if args.instance_dir:
        tmp = Path(args.instance_dir)
        tmp.mkdir(parents=True, exist_ok=True)
    else:
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix="pg-bench-profile-shop-"))
    env = {
        "PUNCHGATE_DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.db'}",
        "PUNCHGATE_SECRET_KEY": "bench-key",
        "PUNCHGATE_INSTANCE_DIR": str(tmp),
    }
    marker = tmp / f"loaded-{args.products}"
    if not marker.exists():
        prepare(env["PUNCHGATE_DATABASE_URL"], env)
        path = tmp / "products.csv"
        path.write_bytes(csv_bytes(args.products))
        subprocess.run(
            [sys.executable, "-m", "gateway", "catalog", "load", str(path)],
            cwd=ROOT,
            check=True,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
        )
        marker.touch()
    return env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--instance-dir", default=None)
    parser.add_argument("--only", choices=("category", "search", "add"), default=None)
    parser.add_argument("--top", type=int, default=0)
    parser.add_argument("--sort", default="cumulative", help="cProfile order: cumulative, tottime")
    parser.add_argument("--statements", action="store_true", help="print one request's SQL")
    args = parser.parse_args()
    env = _prepared(args)

    from gateway import create_app
    from gateway.config import Settings

    app = create_app(Settings.from_env(env))
    # Both pools on PostgreSQL: pages read on the one that does not wait for the disk.
    engines = app.extensions["punchgate"].db.engines
    client = app.test_client()
    random.seed(1)

    def open_session() -> str:
        response = client.post("/cxml", data=make_body(), content_type="text/xml")
        start = response.data.split(b"<URL>")[1].split(b"</URL>")[0].decode()
        response = client.get(urlsplit(start).path)
        assert response.status_code == 302, response.status_code
        return parse_qs(urlsplit(response.headers["Location"]).query)["session"][0]

    tokens = [open_session() for _ in range(args.sessions)]

    def category() -> None:
        token, name = random.choice(tokens), quote(random.choice(CATEGORIES))
        response = client.get(f"/shop/?session={token}&category={name}")
        assert response.status_code == 200 and b'id="result-count"' in response.data

    def search() -> None:
        words = quote(f"{random.choice(ADJECTIVES)} {random.choice(NOUNS)}")
        response = client.get(f"/shop/?session={random.choice(tokens)}&q={words}")
        assert response.status_code == 200 and b'id="result-count"' in response.data

    def add() -> None:
        response = client.post(
            "/api/v1/punchout/cart/items",
            data=json.dumps({"sku": random.choice(SKUS), "quantity": 1}),
            headers={"Authorization": f"Bearer {random.choice(tokens)}"},
            content_type="application/json",
        )
        assert response.status_code == 200 and b'"items"' in response.data, response.data

    db = "PostgreSQL" if env["PUNCHGATE_DATABASE_URL"].startswith("postgresql") else "SQLite"
    for name, send in (("category", category), ("search", search), ("add", add)):
        if args.only and args.only != name:
            continue
        for _ in range(args.warmup):
            send()
        n = args.requests
        started = time.perf_counter()
        for _ in range(n):
            send()
        plain = time.perf_counter() - started

        if args.statements:
            shown: list[str] = []

            def _show(_conn, _cursor, statement, *_rest, shown=shown):
                shown.append(statement)

            for engine in engines:
                event.listen(engine, "before_cursor_execute", _show)
            send()
            for engine in engines:
                event.remove(engine, "before_cursor_execute", _show)
            print(f"SQL of one {name} request:")
            for statement in shown:
                print("  " + " ".join(statement.split())[:200])

        counted = {"statements": 0}

        def _count(*_args, counted=counted):
            counted["statements"] += 1

        for engine in engines:
            event.listen(engine, "before_cursor_execute", _count)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(n):
            send()
        profiler.disable()
        for engine in engines:
            event.remove(engine, "before_cursor_execute", _count)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        print(
            f"{name:<9} {db}: {plain / n * 1000:6.2f} ms/request, "
            f"{counted['statements'] / n:4.1f} SQL statements, "
            f"{stats.total_calls / n:6.0f} Python calls per request"
        )
        if args.top:
            stats.sort_stats(args.sort).print_stats(args.top)
            print(out.getvalue())


if __name__ == "__main__":
    main()
