"""Loading a 200,000-product CSV: check every row, compare, write, index for search.

The floor, in the same run: reading the same file with the csv module and a bulk
insert of its rows into a plain table without indexes (what any loader must at
least do). Usage: .venv/bin/python -m benchmarks.catalog_load [--database-url URL]
(PostgreSQL runs in a schema of its own, dropped afterwards). Target: < 60 s.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import Column, MetaData, String, Table, Text, create_engine, insert, text

from benchmarks.catalog_data import csv_bytes
from gateway.catalog.loader import load, read
from gateway.config import Settings
from gateway.migrate import upgrade
from gateway.state import Gateway


def database(url: str | None) -> tuple[str, callable]:
    if not url:
        tmp = Path(tempfile.mkdtemp(prefix="pg-bench-catalog-"))
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None
    schema = f"bench_catalog_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", drop


def migrated(url: str) -> Gateway:
    upgrade(url)
    return Gateway.from_settings(Settings(database_url=url, secret_key="bench"))


def floor(gateway: Gateway, data: bytes) -> float:
    started = time.perf_counter()
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    table = Table(
        "bench_floor",
        MetaData(),
        *(Column(name, Text if name == "description" else String(200)) for name in rows[0]),
    )
    table.create(gateway.db.engine)
    with gateway.db.transaction() as db:
        for start in range(0, len(rows), 5000):
            db.execute(insert(table), rows[start : start + 5000])
    elapsed = time.perf_counter() - started
    table.drop(gateway.db.engine)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=200_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url, drop = database(args.database_url)
    try:
        gateway = migrated(url)
        data = csv_bytes(args.products)
        name = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        print(f"Catalog load, {args.products:,} products ({len(data) / 1e6:.1f} MB CSV), {name}")
        started, cpu_started = time.perf_counter(), time.process_time()
        with gateway.db.transaction() as db:
            summary = load(db, read(data))
        first = time.perf_counter() - started
        first_cpu = time.process_time() - cpu_started
        assert summary.added == args.products, summary
        changed = data.replace(b",EUR,", b",USD,", 1000)
        started = time.perf_counter()
        with gateway.db.transaction() as db:
            again = load(db, read(changed))
        second = time.perf_counter() - started
        assert again.changed == 1000, again
        base = floor(gateway, data)
        print(f"  first load   {first:6.1f} s   ({summary})   target < 60 s")
        print(f"  reload       {second:6.1f} s   ({again})")
        print(f"  floor        {base:6.1f} s   (csv module + bulk insert, no checks, no index)")
        print(f"  ratio        {first / base:6.1f}x first load / floor")
        # Wall time on a shared machine includes waiting for a CPU; this process's
        # CPU time is the loader's own work (and SQLite's, which runs in it).
        print(f"  first load   {first_cpu:6.1f} s CPU in this process")
        gateway.db.dispose()
    finally:
        drop()


if __name__ == "__main__":
    main()
