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
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import ConfigVersion, Product

MAX_AGE = 60.0  # seconds


@dataclass(frozen=True)
class Counts:
    version: int | None
    loaded_at: float
    matrix: dict[tuple[str | None, str | None], int]  # (category, manufacturer) -> n

    def total(self, allowed, category=None, manufacturer=None) -> int:
        return sum(n for key, n in self._cells(allowed, category, manufacturer))

    def by_category(self, allowed, manufacturer=None) -> Counter:
        counted: Counter = Counter()
        for (cat, _), n in self._cells(allowed, None, manufacturer):
            if cat is not None:
                counted[cat] += n
        return counted

    def by_manufacturer(self, allowed, category=None) -> Counter:
        counted: Counter = Counter()
        for (_, maker), n in self._cells(allowed, category, None):
            if maker is not None:
                counted[maker] += n
        return counted

    def categories(self, allowed) -> list[str]:
        return sorted(self.by_category(allowed))

    def _cells(self, allowed, category, manufacturer):
        for (cat, maker), n in self.matrix.items():
            if allowed is not None and cat not in allowed:
                continue
            if category is not None and cat != category:
                continue
            if manufacturer is not None and maker != manufacturer:
                continue
            yield (cat, maker), n


_lock = threading.Lock()
# Per engine (one per gateway in a process), so two gateways on databases that happen to
# share a version number never share counts.
_counts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def counts(db: Session) -> Counts:
    """The live catalog's counts, as of this transaction's view of config_version."""
    key = db.get_bind()
    version = db.scalar(select(ConfigVersion.version).where(ConfigVersion.id == 1))
    current = _counts.get(key)
    if (
        current is not None
        and current.version == version
        and time.monotonic() - current.loaded_at < MAX_AGE
    ):
        return current
    rows = db.execute(
        select(Product.category, Product.manufacturer, func.count())
        .where(Product.retired_at.is_(None))
        .group_by(Product.category, Product.manufacturer)
    ).all()
    fresh = Counts(version, time.monotonic(), {(c, m): n for c, m, n in rows})
    with _lock:
        _counts[key] = fresh
    return fresh
