"""Storefront and session API at 100,000 products, through gunicorn (2 workers).

Three requests a shopper makes, each against its floor measured in the same run (a bare
Flask app under the same gunicorn rendering the same template with fixed data, or
answering the same JSON cart; `benchmarks/storefront_floor.py`):

- category page: ``GET /shop/?category=...`` (session lookup, catalog query with facets,
  contract prices, the page);
- search: ``GET /shop/?q=...`` (the full-text search with typos and part numbers);
- add to cart: ``POST /api/v1/punchout/cart/items`` (the JSON session API).

Prints req/s and p50 of each and the ratio to its floor (target: within 3x, ratio >= 33%).
Usage: .venv/bin/python -m benchmarks.storefront [--products 100000] [--seconds 10]
[--database-url URL] (an empty PostgreSQL database: it is migrated and loaded).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from urllib.parse import parse_qs, quote, urlsplit

from benchmarks.catalog_data import ADJECTIVES, CATEGORIES, NOUNS, csv_bytes
from benchmarks.common import (
    ROOT,
    call,
    closed_loop,
    free_port,
    percentile,
    start_gunicorn,
    stop,
)
from benchmarks.setup_request import make_body, prepared

# Filled before the client processes fork (closed_loop uses a fork pool).
TOKENS: list[str] = []
# 20: each cart stays small (the floor answers a cart of as many lines, CART_LINES)
SKUS = [f"SKU-{i:07d}" for i in range(0, 2000, 100)]


def open_session(port: int) -> str:
    status, _, data = call(port, "POST", "/cxml", make_body(), {"Content-Type": "text/xml"})
    if status != 200 or b'code="200"' not in data:
        raise RuntimeError(f"setup: {status} {data[:200]!r}")
    start = data.split(b"<URL>")[1].split(b"</URL>")[0].decode()
    status, location, _ = call(port, "GET", urlsplit(start).path)
    if status != 302:
        raise RuntimeError(f"start page: {status}")
    return parse_qs(urlsplit(location).query)["session"][0]


def category_path() -> str:
    return f"/shop/?session={random.choice(TOKENS)}&category={quote(random.choice(CATEGORIES))}"


def search_path() -> str:
    words = f"{random.choice(ADJECTIVES)} {random.choice(NOUNS)}"
    return f"/shop/?session={random.choice(TOKENS)}&q={quote(words)}"


def add_body() -> bytes:
    return json.dumps({"sku": random.choice(SKUS), "quantity": 1}).encode()


def get_page(port: int, path: str) -> float:
    started = time.perf_counter()
    status, _, data = call(port, "GET", path)
    if status != 200 or b'id="result-count"' not in data:
        raise RuntimeError(f"unexpected page: {status} {data[:300]!r}")
    return time.perf_counter() - started


def add_to_cart(port: int, body: bytes) -> float:
    started = time.perf_counter()
    token = random.choice(TOKENS)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, _, data = call(port, "POST", "/api/v1/punchout/cart/items", body, headers)
    if status != 200 or b'"items"' not in data:
        raise RuntimeError(f"unexpected cart: {status} {data[:300]!r}")
    return time.perf_counter() - started


def load_products(count: int, env: dict) -> float:
    path = os.path.join(env["PUNCHGATE_INSTANCE_DIR"], "products.csv")
    with open(path, "wb") as f:
        f.write(csv_bytes(count))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "gateway", "catalog", "load", path],
        cwd=ROOT,
        check=True,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def arguments() -> argparse.ArgumentParser:
    """The options of this benchmark, also ``cart_bound``'s."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    return parser


def main() -> None:
    args = arguments().parse_args()
    database_url, env = prepared(args.database_url, "pg-bench-shop-")
    loaded = load_products(args.products, env)
    gw_port, floor_port = free_port(), free_port()
    gateway = start_gunicorn("wsgi:app", gw_port, env)
    floor = start_gunicorn("benchmarks.storefront_floor:app", floor_port, env)
    results = []
    try:
        TOKENS.extend(open_session(gw_port) for _ in range(args.sessions))
        for name, make, send in (
            ("category page", category_path, get_page),
            ("search", search_path, get_page),
            ("add to cart (API)", add_body, add_to_cart),
        ):
            for port in (gw_port, floor_port):  # warm-up: templates compiled, caches filled
                closed_loop(port, make, args.clients, 1, send=send)
            floor_rps, floor_lat = closed_loop(floor_port, make, args.clients, args.seconds, send)
            gw_rps, gw_lat = closed_loop(gw_port, make, args.clients, args.seconds, send)
            results.append((name, floor_rps, floor_lat, gw_rps, gw_lat))
    finally:
        for proc in (gateway, floor):
            stop(proc)
    db = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(
        f"Storefront via gunicorn, 2 workers, {db}, {args.products:,} products "
        f"(loaded in {loaded:.1f} s), {args.clients} clients, {args.sessions} sessions"
    )
    print(
        f"  {'request':<20} {'floor req/s':>11} {'p50 ms':>7} {'gateway req/s':>14} "
        f"{'p50 ms':>7} {'ratio':>7}   (target >= 33%, within 3x)"
    )
    for name, floor_rps, floor_lat, gw_rps, gw_lat in results:
        print(
            f"  {name:<20} {floor_rps:11.1f} {percentile(floor_lat, 50) * 1000:7.2f} "
            f"{gw_rps:14.1f} {percentile(gw_lat, 50) * 1000:7.2f} {gw_rps / floor_rps:7.1%}"
        )


if __name__ == "__main__":
    main()
