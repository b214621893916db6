"""Storefront search over 100,000 products: p50 and p95 of one search with its facets.

Queries as people type them: words in any order, part numbers with and without
separators, prefixes while typing, typos, wildcards. The floor, in the same run:
the same page of products read by primary key (the cheapest query that returns a
page of 24 priced products). Usage: .venv/bin/python -m benchmarks.search
[--database-url URL]. Target: p95 < 30 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from sqlalchemy import select

from benchmarks.catalog_data import ADJECTIVES, MAKERS, NOUNS, csv_bytes
from benchmarks.catalog_load import database, migrated
from gateway.catalog import priced, search
from gateway.catalog.loader import load, read
from gateway.models import Buyer, Product


def queries(rng: random.Random, mpns: list[str], n: int) -> list[str]:
    kinds = [
        lambda: f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}",
        lambda: f"{rng.choice(NOUNS)} {rng.choice(ADJECTIVES)} {rng.choice(MAKERS).lower()}",
        lambda: rng.choice(mpns),
        lambda: rng.choice(mpns).replace("-", ""),
        lambda: rng.choice(NOUNS)[:3],
        lambda: typo(rng, rng.choice([w for w in NOUNS + ADJECTIVES if len(w) >= 6])),
        lambda: f"{rng.choice(NOUNS)[:2]}*",
        lambda: rng.choice(MAKERS),
    ]
    return [rng.choice(kinds)() for _ in range(n)]


def typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url, drop = database(args.database_url)
    try:
        gateway = migrated(url)
        with gateway.db.transaction() as db:
            db.add(Buyer(id="b", name="Bench buyer", return_url_prefixes=[], settings={}))
        with gateway.db.transaction() as db:
            load(db, read(csv_bytes(args.products)))
        with gateway.db.transaction() as db:
            mpns = list(db.scalars(select(Product.manufacturer_part_id).limit(2000)))
            skus = list(db.scalars(select(Product.sku)))
        rng = random.Random(7)
        mix = queries(rng, mpns, args.queries)
        for q in mix[:20]:  # warm caches as a running server has them
            with gateway.db.transaction() as db:
                search(db, "b", q, limit=24)
        times, cpu, hits, floors = [], [], [], []
        for q in mix:
            started, cpu_started = time.perf_counter(), time.process_time()
            with gateway.db.transaction() as db:
                found = search(db, "b", q, limit=24)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
            hits.append(found.total)
            page = rng.sample(skus, 24)
            started = time.perf_counter()
            with gateway.db.transaction() as db:
                priced(db, "b", list(db.scalars(select(Product).where(Product.sku.in_(page)))))
            floors.append(time.perf_counter() - started)
        name = "PostgreSQL" if url.startswith("postgresql") else "SQLite"

        def p(values, q):
            return statistics.quantiles(values, n=100)[q - 1] * 1000

        print(f"Search, {args.products:,} products, {len(mix)} queries with facets, {name}")
        print(
            f"  search  p50 {p(times, 50):6.1f} ms   p95 {p(times, 95):6.1f} ms"
            "   target p95 < 30 ms"
        )
        print(
            f"  floor   p50 {p(floors, 50):6.1f} ms   p95 {p(floors, 95):6.1f} ms"
            "   (24 products by key)"
        )
        print(f"  ratio   p95 {p(times, 95) / p(floors, 95):6.1f}x")
        # On a shared machine wall time includes waiting for a CPU; with SQLite the
        # search runs in this process, so its CPU time is the work itself.
        if name == "SQLite":
            print(f"  search  CPU p50 {p(cpu, 50):6.1f} ms   CPU p95 {p(cpu, 95):6.1f} ms")
        print(f"  hits    median {statistics.median(hits):.0f}, queries with none {hits.count(0)}")
        gateway.db.dispose()
    finally:
        drop()


if __name__ == "__main__":
    main()
