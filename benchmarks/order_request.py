"""OrderRequest intake with 10, 100, 1,000 and 10,000 lines, end to end in process.

Each order goes through the whole intake (hardened parse, authentication, matching
every line to carts, storing order, lines, events and the outbox message, commit).
The floor, in the same run: an lxml parse of the same document plus a bulk insert of
its lines into the same table. Usage: .venv/bin/python -m benchmarks.order_request
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree
from sqlalchemy import insert

from benchmarks.common import ROOT
from gateway.catalog.loader import load_path
from gateway.config import Settings
from gateway.migrate import upgrade
from gateway.models import Order, OrderLine
from gateway.punchout import cxml as inbound
from gateway.state import Gateway
from gateway.statements import Prepared
from provisioning.buyers import load_buyers

sys.path.insert(0, str(ROOT))
from tests.documents import order_request  # noqa: E402


def document(lines: int, n: int) -> bytes:
    return order_request(
        [
            {
                "sku": f"NW-{1000 + i % 28}",
                "qty": str(1 + i % 5),
                "price": "12.90",
                "aux": f"PG-{i:016x}",
                "number": i + 1,
            }
            for i in range(lines)
        ],
        order_id=f"BENCH-{lines}-{n}",
        total="1.00",
    )


def floor(gateway: Gateway, raw: bytes, order_pk: int) -> float:
    started = time.perf_counter()
    root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
    rows = [
        {
            "order_pk": order_pk,
            "line_number": i,
            "sku": item.findtext("ItemID/SupplierPartID"),
            "aux_id": item.findtext("ItemID/SupplierPartAuxiliaryID"),
            "quantity": item.get("quantity"),
            "unit_price": item.findtext("ItemDetail/UnitPrice/Money"),
            "currency": "USD",
            "description": "",
            "details": {},
        }
        for i, item in enumerate(root.iter("ItemOut"), start=1)
    ]
    with gateway.db.transaction() as db:
        # The fastest bulk insert the driver has (PostgreSQL: COPY), as the gateway uses.
        _BULK_LINES.insert_all(db.connection(), rows)
    return time.perf_counter() - started


_BULK_LINES = Prepared(insert(OrderLine.__table__))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pg-bench-orders-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    gateway = Gateway.from_settings(Settings(database_url=url, secret_key="bench"))
    with gateway.db.transaction() as db:
        load_buyers(db, ROOT / "fixtures/demo/buyers.toml", gateway.box, env={})
    with gateway.db.transaction() as db:
        load_path(db, ROOT / "fixtures/demo/catalog.csv")
    with gateway.db.transaction() as db:
        holder = Order(buyer_id="acme", order_id="FLOOR", payload_id="floor", body_sha256="-")
        db.add(holder)
        db.flush()
        holder_pk = holder.id
    db_name = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"OrderRequest intake, in process, {db_name}, median of {args.repeat}")
    for lines in (10, 100, 1000, 10000):
        gateway_times, floor_times = [], []
        for n in range(args.repeat if lines < 10000 else 1):
            raw = document(lines, n)
            started = time.perf_counter()
            answer = inbound.handle(
                gateway.__class__(gateway.settings, gateway.db, gateway.box), raw
            )
            gateway_times.append(time.perf_counter() - started)
            assert answer.code == 200, answer.body[:300]
            floor_times.append(floor(gateway, raw, holder_pk))
        g, f = statistics.median(gateway_times), statistics.median(floor_times)
        target = {1000: "   (target: ratio <= 3x)", 10000: "   (target: gateway < 1 s)"}
        print(
            f"  {lines:>5} lines: gateway {g * 1000:8.1f} ms   floor {f * 1000:7.1f} ms   "
            f"ratio {g / f:5.1f}x" + target.get(lines, "")
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of the whole run (10,000-line order included): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
