"""Counts over the whole live catalog, kept per process: the storefront's sidebar and
the facets of a page that browses rather than searches.

At 100,000 products a ``GROUP BY category`` takes 100 ms on SQLite; every category page
and the first page of the shop used to run it (its category facet counts the whole
catalog), and the sidebar ran a ``DISTINCT`` of its own. These counts change only when
the catalog does, so each process keeps one matrix of (category, manufacturer) -> live
products and reloads it when the ``config_version`` counter moved: every change to
``products`` made through a gateway engine bumps it (``gateway.cache.WATCHED``), so every
instance sees a catalog load from its next page on. ``MAX_AGE`` bounds how long a change
made outside the gateway goes unseen.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import ConfigVersion, Product, Supplier

MAX_AGE = 60.0  # seconds


@dataclass(frozen=True)
class Counts:
    """The (category, manufacturer) -> live products matrix, with its sums by category and
    by manufacturer computed once: a page asks for several of them, and walking thousands
    of cells for each cost more than the rest of the page."""

    version: int | None
    loaded_at: float
    matrix: dict[tuple[str | None, str | None], int]  # (category, manufacturer) -> n
    # The catalog's supplier, named on every storefront page (``suppliers`` bumps the
    # version too).
    supplier: str | None = None
    # Catalog words one typo away from a searched word (``search.typo_corrections``): the
    # vocabulary changes with the products, so it is kept, and dropped, with these counts.
    typos: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)
    _by_cat: dict = field(init=False, repr=False, compare=False)  # cat -> {maker: n}
    _by_maker: dict = field(init=False, repr=False, compare=False)  # maker -> {cat: n}
    _cat_totals: dict = field(init=False, repr=False, compare=False)  # cat -> n

    def __post_init__(self) -> None:
        by_cat: dict = {}
        by_maker: dict = {}
        for (cat, maker), n in self.matrix.items():
            row = by_cat.setdefault(cat, {})
            row[maker] = row.get(maker, 0) + n
            column = by_maker.setdefault(maker, {})
            column[cat] = column.get(cat, 0) + n
        object.__setattr__(self, "_by_cat", by_cat)
        object.__setattr__(self, "_by_maker", by_maker)
        object.__setattr__(self, "_cat_totals", {c: sum(r.values()) for c, r in by_cat.items()})

    def total(self, allowed, category=None, manufacturer=None) -> int:
        if category is not None:
            if allowed is not None and category not in allowed:
                return 0
            row = self._by_cat.get(category, {})
            return row.get(manufacturer, 0) if manufacturer is not None else sum(row.values())
        if manufacturer is not None:
            column = self._by_maker.get(manufacturer, {})
            return sum(n for cat, n in column.items() if allowed is None or cat in allowed)
        return sum(n for cat, n in self._cat_totals.items() if allowed is None or cat in allowed)

    def by_category(self, allowed, manufacturer=None) -> Counter:
        cells = self._cat_totals if manufacturer is None else self._by_maker.get(manufacturer, {})
        return Counter(
            {
                cat: n
                for cat, n in cells.items()
                if cat is not None and (allowed is None or cat in allowed)
            }
        )

    def by_manufacturer(self, allowed, category=None) -> Counter:
        counted: Counter = Counter()
        for cat, row in self._by_cat.items():
            if allowed is not None and cat not in allowed:
                continue
            if category is not None and cat != category:
                continue
            for maker, n in row.items():
                if maker is not None:
                    counted[maker] += n
        return counted

    def categories(self, allowed) -> list[str]:
        return sorted(self.by_category(allowed))


# On the connection: (its transaction, the counts it saw). gateway.cache drops it.
SEEN = "punchgate.catalog_counts"
_VERSION = select(ConfigVersion.version).where(ConfigVersion.id == 1)
_MATRIX = (
    select(Product.category, Product.manufacturer, func.count())
    .where(Product.retired_at.is_(None))
    .group_by(Product.category, Product.manufacturer)
)
_SUPPLIER = select(Supplier.name).limit(1)

_lock = threading.Lock()
# Per engine (one per gateway in a process), so two gateways on databases that happen to
# share a version number never share counts.
_counts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def counts(db: Session) -> Counts:
    """The live catalog's counts, as of this transaction's view of config_version.

    The version is read once per transaction however many parts of a page ask (the
    sidebar and the facets): a change to a watched table made in the transaction since
    drops that memo (``gateway.cache``), and pending ORM changes are flushed first as a
    query would.
    """
    if db.autoflush:
        db.flush()
    conn = db.connection()
    transaction = conn.get_transaction()
    seen = conn.info.get(SEEN)
    if seen is not None and seen[0] is transaction:
        return seen[1]
    key = db.get_bind()
    version = conn.scalar(_VERSION)
    current = _counts.get(key)
    if (
        current is None
        or current.version != version
        or time.monotonic() - current.loaded_at >= MAX_AGE
    ):
        rows = conn.execute(_MATRIX).all()
        supplier = conn.scalar(_SUPPLIER)
        current = Counts(version, time.monotonic(), {(c, m): n for c, m, n in rows}, supplier)
        with _lock:
            _counts[key] = current
    conn.info[SEEN] = (transaction, current)
    return current


def supplier_name(db: Session) -> str | None:
    """The catalog's supplier name, from the same per-process snapshot."""
    return counts(db).supplier
