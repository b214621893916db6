"""Product search: one interface over SQLite FTS5 and PostgreSQL full-text search.

A query is cut into words (see ``text``); every word must match, in any order,
a word of the product's description, SKU, manufacturer, manufacturer part
number, keywords or category, as a prefix (``glo`` finds ``glove``). A word of
five letters or more also matches the catalog words one typo away from it,
found through the ``search_term_variants`` table. SAP wildcards: ``*`` alone
matches everything; ``abc*`` is a prefix; ``*`` elsewhere in a term expands over
the catalog's words with LIKE (the one escaping helper in ``gateway.wildcards``),
``%`` and ``_`` are plain characters.

Both engines are given the same folded words and the same expanded query, and
ranking and ties are decided in SQL that both run the same way, so the results
are the same on either database. pg_trgm is not used: its similarity threshold
misses some one-typo pairs that SQLite would find, which would break that promise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from gateway import wildcards
from gateway.catalog import aggregates
from gateway.catalog import text as words_
from gateway.catalog.products import PricedProduct
from gateway.models import ContractPrice, Product, SearchTerm, SearchTermVariant

SORTS = ("relevance", "price", "-price")
TYPO_MIN_LENGTH = 5
EXPANSION_LIMIT = 200
MAX_WORDS = 12
MAX_TERM = 40


@dataclass(frozen=True)
class Alternative:
    word: str
    prefix: bool


@dataclass(frozen=True)
class Query:
    """A parsed query: each group is one typed word; any of its alternatives may match."""

    groups: list[list[Alternative]] = field(default_factory=list)
    part_key: str = ""
    impossible: bool = False  # a wildcard term that matches no catalog word


@dataclass(frozen=True)
class Facet:
    value: str
    count: int


@dataclass(frozen=True)
class SearchResult:
    items: list[PricedProduct]
    total: int
    categories: list[Facet] = field(default_factory=list)
    manufacturers: list[Facet] = field(default_factory=list)


def parse(db: Session, query: str) -> Query:
    groups: list[list[Alternative]] = []
    for raw in query.split()[:MAX_WORDS]:
        if wildcards.matches_everything(raw):
            continue
        if wildcards.has_wildcard(raw):
            # Separators inside a wildcard term are dropped, as in a part number;
            # % and _ stay, as the literal characters they are (no catalog word
            # has them, so they match nothing rather than anything).
            folded = "".join(
                c for c in words_.fold(raw) if c.isascii() and (c.isalnum() or c in "*%_")
            )
            stem = folded.rstrip("*")
            if stem and stem.isalnum():
                groups.append([Alternative(stem[:MAX_TERM], True)])
                continue
            found = db.scalars(
                select(SearchTerm.term)
                .where(SearchTerm.term.like(wildcards.like_pattern(folded), escape="\\"))
                .order_by(SearchTerm.term)
                .limit(EXPANSION_LIMIT)
            ).all()
            if not found:
                return Query(impossible=True)
            groups.append([Alternative(t, False) for t in found])
            continue
        for word in words_.words(raw):
            word = word[:MAX_TERM]
            group = [Alternative(word, True)]
            # Typos only in words: a digit off in a part number is another part.
            if len(word) >= TYPO_MIN_LENGTH and word.isalpha():
                group += [Alternative(t, False) for t in typo_corrections(db, word)]
            groups.append(group)
    return Query(groups=groups, part_key=words_.part_key(query.replace("*", " ")))


# Bounds the per-process memo of typo corrections (words people search for repeat).
TYPO_MEMO = 10_000


def typo_corrections(db: Session, word: str) -> list[str]:
    """Catalog words one typo away from ``word`` (not the word itself).

    Kept per process with the catalog counts, which are reloaded when the catalog changes
    (``aggregates``): the page reads those counts anyway, so a repeated word costs no
    statement.
    """
    memo = aggregates.counts(db).typos
    found = memo.get(word)
    if found is None:
        found = _typo_corrections(db, word)
        if len(memo) < TYPO_MEMO:
            memo[word] = found
    return list(found)


def _typo_corrections(db: Session, word: str) -> list[str]:
    candidates = db.scalars(
        select(SearchTermVariant.term)
        .where(SearchTermVariant.variant.in_(sorted(words_.deletions(word))))
        .distinct()
    ).all()
    return sorted(t for t in candidates if t != word and words_.within_one_edit(word, t))


def _match(db: Session, q: Query):
    """The full-text condition of the database in use.

    A query of several words that together make a part number (``abc 123``)
    also matches that number written as one word (``ABC123`` in a description).
    """
    joined = q.part_key if len(q.groups) > 1 and q.part_key.isalnum() else ""
    joined = joined[:MAX_TERM] if any(c.isdigit() for c in joined) else ""
    if db.get_bind().dialect.name == "postgresql":
        expression = " & ".join(
            "(" + " | ".join(f"{a.word}:*" if a.prefix else a.word for a in group) + ")"
            for group in q.groups
        )
        if joined:
            expression = f"({expression}) | {joined}:*"
        return text("products.search_vector @@ to_tsquery('simple', :fts)").bindparams(
            fts=expression
        )
    expression = " AND ".join(
        "(" + " OR ".join(f'"{a.word}"*' if a.prefix else f'"{a.word}"' for a in group) + ")"
        for group in q.groups
    )
    if joined:
        expression = f'({expression}) OR "{joined}"*'
    return text(
        "products.rowid IN (SELECT rowid FROM product_fts WHERE product_fts MATCH :fts)"
    ).bindparams(fts=expression)


def _in_description(q: Query, terms):
    """Every typed word is a word (or word prefix) of the description."""
    return and_(
        *(
            or_(
                *(
                    terms.like(
                        wildcards.like_pattern(f"* {a.word}*" if a.prefix else f"* {a.word} *"),
                        escape=wildcards.ESCAPE,
                    )
                    for a in group
                )
            )
            for group in q.groups
        )
    )


# The page's products as rows (attribute access like a Product): a page of ORM objects
# cost more to load than the search itself. Built once, the SKUs an expanding parameter.
_PAGE_PRODUCTS = select(
    *Product.__table__.c,
    select(ContractPrice.price)
    .where(ContractPrice.buyer_id == bindparam("buyer_id"), ContractPrice.sku == Product.sku)
    .scalar_subquery()
    .label("contract_price"),
).where(Product.sku.in_(bindparam("skus", expanding=True)))


def search(
    db: Session,
    buyer_id: str,
    query: str = "",
    *,
    category: str | None = None,
    manufacturer: str | None = None,
    sort: str = "relevance",
    limit: int = 48,
    offset: int = 0,
    allowed: frozenset[str] | None = None,
    facets: bool = True,
) -> SearchResult:
    """Products of the live catalog matching ``query``, with this buyer's prices."""
    q = parse(db, query or "")
    if q.impossible:
        return SearchResult([], 0)
    base = [Product.retired_at.is_(None)]
    if allowed is not None:
        base.append(Product.category.in_(sorted(allowed)))
    if q.groups:
        base.append(_match(db, q))
    by_category = [Product.category == category] if category else []
    by_manufacturer = [Product.manufacturer == manufacturer] if manufacturer else []
    where = base + by_category + by_manufacturer

    if q.groups and facets:
        skus, counted = _one_pass(
            db, q, buyer_id, base, category, manufacturer, sort, limit, offset
        )
    else:
        counted = None
        # The page is ordered over keys only, then its products are read: sorting
        # thousands of matches with every column of each costs more than the search.
        keys = _keys(db, q, Product, buyer_id, sort)
        page = select(Product.sku).where(*where).order_by(_directed(keys[0], sort), *keys[1:])
        skus = list(db.scalars(page.limit(limit).offset(offset)))
    found = {}
    if skus:
        for row in db.connection().execute(_PAGE_PRODUCTS, {"buyer_id": buyer_id, "skus": skus}):
            c = row.contract_price
            found[row.sku] = PricedProduct(row, row.unit_price, None if c is None else Decimal(c))
    items = [found[sku] for sku in skus]

    if counted is not None:
        return SearchResult(items, *counted)
    if not q.groups:
        # Browsing: the counts are the whole live catalog's, kept per process.
        live = aggregates.counts(db)
        total = live.total(allowed, category, manufacturer)
        if not facets:
            return SearchResult(items, total)
        return SearchResult(
            items,
            total,
            _top(live.by_category(allowed, manufacturer)),
            _top(live.by_manufacturer(allowed, category)),
        )
    # A search without facets (OCI, the session API): the count alone.
    if offset == 0 and len(skus) < limit:
        total = len(skus)
    else:
        total = db.scalar(select(func.count()).select_from(Product).where(*where)) or 0
    return SearchResult(items, total)


FACET_VALUES = 30
# How much of a description PostgreSQL's browsing indexes hold (migration 0025).
BROWSE_PREFIX = 400
# Past this many matches (a two-letter prefix, a bare wildcard) relevance says little and
# ranking every match costs the most: such results are in description order.
RANKED_MATCHES = 2_000


def _keys(db: Session, q: Query, rows, buyer_id: str, sort: str, ranked=True) -> list:
    """A page's sort keys over ``rows`` (the products table or the matches): price, or
    relevance (a part number typed exactly, then every word in the description, then the
    rest) where ``ranked`` (True, or a condition the statement decides), then description
    and SKU. The first key goes through ``_directed``."""
    ties = [rows.description, rows.sku]
    if sort in ("price", "-price"):
        contract = (
            select(ContractPrice.price)
            .where(ContractPrice.buyer_id == buyer_id, ContractPrice.sku == rows.sku)
            .scalar_subquery()
        )
        price = func.coalesce(contract, rows.unit_price)
        # SQLite keeps money as exact text; ordering needs numbers (ordering only).
        if db.get_bind().dialect.name == "sqlite":
            price = cast(price, Float)
        return [price, *ties]
    if not q.groups:
        if db.get_bind().dialect.name == "postgresql":
            # The key PostgreSQL's browsing indexes hold (migration 0025): same order.
            return [func.left(rows.description, BROWSE_PREFIX), *ties]
        return ties
    exact_part = (
        rows.part_keys.like(wildcards.like_pattern(f"* {q.part_key} *"))
        if q.part_key
        else text("1 = 0")
    )
    rank = case((exact_part, 0), (_in_description(q, rows.description_terms), 1), else_=2)
    if ranked is not True:
        rank = case((ranked, rank), else_=2)
    return [rank, *ties]


def _directed(key, sort: str):
    return key.desc() if sort == "-price" else key


def _one_pass(db: Session, q: Query, buyer_id, base, category, manufacturer, sort, limit, offset):
    """(the page's SKUs, (total, category facets, manufacturer facets)) of a search with
    facets, from one full-text match.

    The matches are a CTE used twice, which both databases then compute once: grouped by
    (category, manufacturer), a few hundred rows at most, from which the total and both
    facets (each leaving out its own filter) are summed; and ordered for the page. As two
    statements, the match and the reading of every matching product ran twice: about 40%
    of a search's SQL. Reading every match into Python would cost more than both.
    """
    matches = (
        select(
            Product.category,
            Product.manufacturer,
            Product.sku,
            Product.description,
            Product.description_terms,
            Product.part_keys,
            Product.unit_price,
        )
        .where(*base)
        .cte("matches")
    )
    m = matches.c
    narrowed = ([m.category == category] if category else []) + (
        [m.manufacturer == manufacturer] if manufacturer else []
    )
    # Past RANKED_MATCHES matches, description order (decided in the statement).
    total = select(func.count()).select_from(matches).where(*narrowed).scalar_subquery()
    keys = _keys(db, q, m, buyer_id, sort, ranked=total <= RANKED_MATCHES)
    k1 = keys[0].label("k1")
    page = (
        select(
            literal_column("1").label("kind"),
            m.sku.label("a"),
            # Typed: PostgreSQL reads an untyped NULL out of a subquery as text.
            cast(null(), String).label("b"),
            cast(null(), Integer).label("n"),
            k1,
            m.description.label("k2"),
        )
        .where(*narrowed)
        .order_by(_directed(k1, sort), *keys[1:])
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    # A union's columns are named by its first select.
    grouped = select(
        literal_column("0").label("kind"),
        m.category.label("a"),
        m.manufacturer.label("b"),
        func.count().label("n"),
        null().label("k1"),
        null().label("k2"),
    ).group_by(m.category, m.manufacturer)
    both = union_all(grouped, select(page)).subquery()
    # A union keeps no order: the page's is restored from its keys (``a`` is the SKU).
    c = both.c
    rows = db.execute(
        select(c.kind, c.a, c.b, c.n).order_by(c.kind, _directed(c.k1, sort), c.k2, c.a)
    ).all()
    matrix = aggregates.Counts(None, 0.0, {(a, b): n for kind, a, b, n in rows if kind == 0})
    counted = (
        matrix.total(None, category, manufacturer),
        _top(matrix.by_category(None, manufacturer)),
        _top(matrix.by_manufacturer(None, category)),
    )
    return [a for kind, a, _b, _n in rows if kind == 1], counted


def _top(counts: Counter) -> list[Facet]:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [Facet(value, n) for value, n in ordered[:FACET_VALUES]]


# The index ------------------------------------------------------------------


def index_values(
    *,
    sku: str,
    description: str,
    manufacturer: str | None,
    manufacturer_part_id: str | None,
    keywords: str | None,
    category: str | None,
) -> dict[str, str]:
    search_text, description_terms, part_keys = words_.index_text(
        sku=sku,
        description=description,
        manufacturer=manufacturer,
        manufacturer_part_id=manufacturer_part_id,
        keywords=keywords,
        category=category,
    )
    return {
        "search_text": search_text,
        "description_terms": description_terms,
        "part_keys": part_keys,
    }


def add_terms(db: Session, search_texts: Iterable[str]) -> int:
    """Add the words of these texts to the vocabulary; return how many were new."""
    seen: set[str] = set()
    for value in search_texts:
        seen.update(w for w in value.split() if len(w) <= MAX_TERM)
    if not seen:
        return 0
    known = set(db.scalars(select(SearchTerm.term)))
    new = sorted(seen - known)
    if not new:
        return 0
    # Core inserts (not ORM bulk): hundreds of thousands of rows on a large load.
    db.execute(insert(SearchTerm.__table__), [{"term": t} for t in new])
    variants = [
        {"variant": v, "term": t}
        for t in new
        # A five-letter word with a letter missing is four letters long.
        if len(t) >= TYPO_MIN_LENGTH - 1 and t.isalpha()
        for v in sorted(words_.deletions(t))
    ]
    for start in range(0, len(variants), 20000):
        db.execute(insert(SearchTermVariant.__table__), variants[start : start + 20000])
    return len(new)


def reindex_all(db: Session) -> int:
    """Recompute every product's search text and the vocabulary (after a change of rules)."""
    columns = (
        Product.sku,
        Product.description,
        Product.manufacturer,
        Product.manufacturer_part_id,
        Product.keywords,
        Product.category,
    )
    rows = db.execute(select(*columns)).all()
    changes = [
        {
            "sku": sku,
            **index_values(
                sku=sku,
                description=description,
                manufacturer=manufacturer,
                manufacturer_part_id=mpn,
                keywords=keywords,
                category=category,
            ),
        }
        for sku, description, manufacturer, mpn, keywords, category in rows
    ]
    for change in changes:
        db.execute(
            update(Product.__table__)
            .where(Product.__table__.c.sku == change["sku"])
            .values({k: v for k, v in change.items() if k != "sku"})
        )
    add_terms(db, (c["search_text"] for c in changes))
    if db.get_bind().dialect.name == "sqlite":
        # The FTS5 table is keyed by the products table's rowid, which a VACUUM may
        # renumber (products has no INTEGER PRIMARY KEY): rebuild it from the rows.
        db.execute(text("INSERT INTO product_fts(product_fts) VALUES ('rebuild')"))
    return len(changes)
