"""Write a checked catalog: everything or nothing (or the good rows with ``skip_bad``).

Products are compared with what is stored, so a reload reports what changed;
``replace`` retires the products the file no longer
lists: they stay for order matching and history, hidden from shop and search
(a file that declares itself a full catalog gets a hint, not a silent retirement).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from gateway.catalog.decoding import EncodingError
from gateway.catalog.records import FIELDS, LoadError, Parsed, check_rows
from gateway.catalog.search import add_terms, index_values
from gateway.models import Buyer, ContractPrice, Product, utcnow

# The product fields a load compares and writes (the key and the price rows aside).
COMPARED = tuple(f for f in FIELDS if f not in ("sku", "buyer_id", "contract_price"))
BATCH = 5000


class CatalogError(ValueError):
    """The file has errors; nothing was written. ``errors`` lists every one."""

    def __init__(self, errors: list[LoadError]):
        self.errors = errors
        shown = "\n".join(str(e) for e in errors[:200])
        more = f"\n... and {len(errors) - 200} more" if len(errors) > 200 else ""
        super().__init__(f"{len(errors)} error(s), nothing loaded:\n{shown}{more}")


@dataclass
class Summary:
    added: int = 0
    changed: int = 0
    retired: int = 0
    unchanged: int = 0
    contract_prices: int = 0
    skipped: int = 0
    errors: list[LoadError] = field(default_factory=list)
    encoding: str = "utf-8"
    full_file: bool = False  # the file says it is the whole catalog (CIF F, T_NEW_CATALOG)
    replaced: bool = False

    @property
    def products(self) -> int:
        return self.added + self.changed + self.unchanged

    def __str__(self) -> str:
        text = (
            f"{self.added} added, {self.changed} changed, {self.retired} retired, "
            f"{self.unchanged} unchanged, {self.contract_prices} contract price(s)"
        )
        if self.skipped:
            text += f"; {self.skipped} bad row(s) skipped"
        if self.full_file and not self.replaced:
            text += (
                "; the file is a full catalog: give --replace to retire the products it "
                "does not list"
            )
        return text


def guess_format(data: bytes) -> str:
    """csv, cif or bmecat, from the first bytes of the file."""
    head = data[:2000]
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        head = head.removeprefix(bom)
    if b"\x00" in head[:200]:  # UTF-16 without BOM: look at the letters only
        head = head.replace(b"\x00", b"")
    start = head.lstrip()
    if start.upper().startswith(b"CIF_I_V"):
        return "cif"
    if start.startswith(b"<") and b"BMECAT" in head.upper():
        return "bmecat"
    return "csv"


def read(data: bytes, format: str | None = None, encoding: str | None = None) -> Parsed:
    """The rows of a catalog file in any format we read."""
    from gateway.catalog import bmecat, cif, csv

    readers = {"csv": csv.read, "cif": cif.read, "bmecat": bmecat.read}
    return readers[format or guess_format(data)](data, encoding)


def read_path(path: Path, format: str | None = None, encoding: str | None = None) -> Parsed:
    try:
        return read(path.read_bytes(), format, encoding)
    except EncodingError as exc:
        raise CatalogError([LoadError(path.name, "", "", str(exc))]) from None


def load_path(
    db: Session,
    path: Path,
    format: str | None = None,
    encoding: str | None = None,
    **options,
) -> Summary:
    """Read and load a catalog file (see ``load`` for the options)."""
    return load(db, read_path(path, format, encoding), **options)


CATALOG_TABLES = ("products", "contract_prices", "search_terms", "search_term_variants")


def refresh_statistics(engine) -> None:
    """Have PostgreSQL's planner see a catalog just loaded (run after the commit).

    Autovacuum analyses a bulk-loaded table only some time later; until then the
    storefront's queries are planned for tables it believes nearly empty. SQLite keeps
    no statistics unless asked, and its plans are chosen without them.

    The same goes for the search index's pending list: a GIN index takes new entries
    into an unsorted list (up to ``gin_pending_list_limit``, 4 MB) that every search
    then scans in full, until (auto)vacuum merges it; a manual ANALYZE does not. At
    100,000 products the list a load left made each search match 30% slower.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("SELECT gin_clean_pending_list('ix_products_search_vector')")
        for table in CATALOG_TABLES:
            conn.exec_driver_sql(f"ANALYZE {table}")


def load(
    db: Session,
    parsed: Parsed,
    *,
    buyer_id: str | None = None,
    replace: bool = False,
    skip_bad: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Check every row, then write them in this transaction (the caller commits)."""
    buyers = set(db.scalars(select(Buyer.id)))
    errors = list(parsed.errors)
    if buyer_id and buyer_id not in buyers:
        errors.append(LoadError("--buyer", "", buyer_id, "is not a loaded buyer"))
    if buyer_id:
        for row in parsed.rows:
            values = row.values
            if parsed.buyer_prices:
                # A CIF for one buyer: its prices are that buyer's, its market price the list.
                price = values.get("unit_price", "")
                values["contract_price"] = price
                values["unit_price"] = values.get("list_price") or price
            elif values.get("customer_price"):
                values["contract_price"] = values["customer_price"]  # BMEcat net_customer
    checked = check_rows(parsed.rows, buyers, buyer_id, progress)
    errors += checked.errors
    fatal = parsed.errors or (buyer_id and buyer_id not in buyers)
    if errors and (fatal or not skip_bad):
        raise CatalogError(errors)
    summary = Summary(
        skipped=checked.bad_rows, errors=errors, encoding=parsed.encoding, replaced=replace
    )

    stored = {
        row.sku: row
        for row in db.execute(
            select(Product.sku, Product.retired_at, *(getattr(Product, c) for c in COMPARED))
        )
    }
    # A format that has no column for a field (CIF has no category) leaves the
    # stored value alone instead of clearing it.
    carried = [c for c in COMPARED if parsed.fields is None or c in parsed.fields]
    new, changed = [], []
    for sku, record in checked.products.items():
        values = record.values
        old = stored.get(sku)
        if old is None:
            new.append({**values, **_index(values)})
        elif old.retired_at is not None or any(
            _differs(getattr(old, c), values[c]) for c in carried
        ):
            merged = {"sku": sku, **{c: getattr(old, c) for c in COMPARED}}
            merged.update({c: values[c] for c in carried})
            changed.append({**merged, **_index(merged), "retired_at": None})
        else:
            summary.unchanged += 1
    products = Product.__table__
    _insert(db, products, new)
    _update(db, products, "sku", changed)
    summary.added, summary.changed = len(new), len(changed)

    retire = {s for s in checked.deletes if s in stored and stored[s].retired_at is None}
    summary.full_file = parsed.full
    if replace:
        retire |= {
            sku
            for sku, row in stored.items()
            if row.retired_at is None and sku not in checked.products
        }
    now = utcnow()
    retire_list = sorted(retire)
    _update(db, products, "sku", [{"sku": s, "retired_at": now} for s in retire_list])
    summary.retired = len(retire)

    summary.contract_prices = _contracts(db, checked, stored, errors, skip_bad, summary)
    add_terms(db, (p["search_text"] for p in new + changed))
    db.flush()
    return summary


def _contracts(db, checked, stored, errors, skip_bad, summary) -> int:
    known = {sku: row.currency for sku, row in stored.items()}
    known.update({sku: r.values["currency"] for sku, r in checked.products.items()})
    problems, rows = [], {}
    for c in checked.contracts:
        currency = known.get(c.sku)
        if currency is None:
            problems.append(LoadError(c.where, "sku", c.sku, "has a contract price but no product"))
        elif c.currency and c.currency != currency:
            problems.append(
                LoadError(
                    c.where,
                    "currency",
                    c.currency,
                    f"differs from the product's {currency}; a contract price is in the "
                    "product's currency",
                )
            )
        else:
            rows[(c.buyer_id, c.sku)] = {
                "buyer_id": c.buyer_id,
                "sku": c.sku,
                "price": c.price,
                "currency": currency,
            }
    if problems:
        errors += problems
        if not skip_bad:
            raise CatalogError(errors)
        summary.skipped += len(problems)
    if not rows:
        return 0
    buyers = {b for b, _ in rows}
    existing = {
        (b, s): p
        for b, s, p in db.execute(
            select(ContractPrice.buyer_id, ContractPrice.sku, ContractPrice.price).where(
                ContractPrice.buyer_id.in_(sorted(buyers))
            )
        )
    }
    fresh = [r for k, r in rows.items() if k not in existing]
    moved = [r for k, r in rows.items() if k in existing and existing[k] != r["price"]]
    table = ContractPrice.__table__
    _insert(db, table, fresh)
    for start in range(0, len(moved), BATCH):
        db.execute(
            update(table)
            .where(table.c.buyer_id == bindparam("b_buyer"), table.c.sku == bindparam("b_sku"))
            .values(price=bindparam("price")),
            [
                {"b_buyer": r["buyer_id"], "b_sku": r["sku"], "price": r["price"]}
                for r in moved[start : start + BATCH]
            ],
        )
    return len(rows)


def _insert(db: Session, table, rows: list[dict]) -> None:
    # Core executemany: the ORM's bulk paths cost more than the database on large loads.
    for start in range(0, len(rows), BATCH):
        db.execute(insert(table), rows[start : start + BATCH])


def _update(db: Session, table, key: str, rows: list[dict]) -> None:
    """Update rows by primary key, in batches of rows with the same columns."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != key]
    statement = (
        update(table)
        .where(table.c[key] == bindparam(f"b_{key}"))
        .values({c: bindparam(c) for c in columns})
    )
    for start in range(0, len(rows), BATCH):
        batch = [
            {f"b_{key}": r[key], **{c: r[c] for c in columns}} for r in rows[start : start + BATCH]
        ]
        db.execute(statement, batch)


def _index(values: dict) -> dict:
    return index_values(
        sku=values["sku"],
        description=values["description"],
        manufacturer=values["manufacturer"],
        manufacturer_part_id=values["manufacturer_part_id"],
        keywords=values["keywords"],
        category=values["category"],
    )


def _differs(old, new) -> bool:
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        return (None if old is None else Decimal(old)) != (None if new is None else Decimal(new))
    return old != new
