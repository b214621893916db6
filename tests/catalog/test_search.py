"""Search finds what people type, the same on SQLite and PostgreSQL (the suite runs on both)."""

from __future__ import annotations

import importlib

import pytest

from gateway.catalog import search
from gateway.catalog.loader import load, read
from tests.conftest import write_buyers

CATALOG = """\
sku,description,unit_price,currency,uom,manufacturer,manufacturer_part_id,keywords,category
G-100,"Glove, safety, nitrile, size 9",4.20,EUR,PR,Ansell,92-600-L,gauntlet,Safety
G-200,"Safety glasses, clear lens",7.90,EUR,EA,3M,SF201AF,goggles,Safety
G-300,"Work glove, leather",6.10,EUR,PR,Uvex,60490,,Workwear
T-100,"Tape measure 5 m",12.50,EUR,EA,Stanley,0-30-497,,Tools
ABC123,"Drill bit set, cobalt",29.00,EUR,SET,Würth,ABC-123,,Tools
X-1,"Hinge for drill case ABC123 (spare part)",3.00,EUR,EA,Würth,H-77,,Tools
P-1,"Cable tie 100% nylon, 200 mm",2.10,EUR,PK,Hellermann,T50_L,,Electrical
S-1,"Câble électrique Ø 2,5 mm²",55.00,EUR,RO,Nexans,NX-25,,Electrical
R-1,"Retired sealant",1.00,EUR,EA,Loctite,L-1,,Chemicals
"""


@pytest.fixture
def shop(gateway, tmp_path):
    write_buyers(
        gateway,
        tmp_path,
        """
        [supplier]
        name = "S"
        [[supplier.credential]]
        domain = "NetworkID"
        identity = "AN01"
        [[buyer]]
        id = "b1"
        name = "Buyer"
        return_url_prefixes = ["https://buyer.example/"]
        [[buyer.cxml.from]]
        domain = "NetworkID"
        identity = "AN02"
        [[buyer.cxml.sender]]
        domain = "NetworkID"
        identity = "AN02"
        shared_secret = "a-long-enough-shared-secret-for-b1"
        """,
    )
    with gateway.db.transaction() as db:
        load(db, read(CATALOG.encode()))
    # A full reload without R-1 retires it: hidden from search from then on.
    without = "\n".join(line for line in CATALOG.splitlines() if not line.startswith("R-1"))
    with gateway.db.transaction() as db:
        load(db, read(without.encode()), replace=True)
    return gateway


def skus(gateway, query, **options):
    with gateway.db.transaction() as db:
        return [i.product.sku for i in search(db, "b1", query, **options).items]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("safety glove", ["G-100"]),  # all words, any order, across fields
        ("GLOVE safety", ["G-100"]),  # case
        ("3m", ["G-200"]),  # manufacturer, case
        ("wurth drill", ["ABC123", "X-1"]),  # accents folded
        (
            "würth",
            [
                "ABC123",
                "X-1",
            ],
        ),
        ("cable electrique", ["S-1"]),  # accents in the description
        ("o 2 5", ["S-1"]),  # Ø folds to o
        ("gauntlet", ["G-100"]),  # keywords
        ("electrical tie", ["P-1"]),  # category
        ("92600L", ["G-100"]),  # manufacturer part number without separators
        ("92-600-l", ["G-100"]),
        ("92 600 L", ["G-100"]),
        ("glov", ["G-100", "G-300"]),  # prefix while typing
        ("saf gla", ["G-200"]),
        ("glvoe", ["G-100", "G-300"]),  # one typo (swap) in a word of five letters
        ("safty glove", ["G-100"]),  # one letter missing
        ("leathr", ["G-300"]),
        ("sealant", []),  # retired
        ("nothing-like-this", []),
    ],
)
def test_finds(shop, query, expected):
    assert sorted(skus(shop, query)) == sorted(expected)


def test_typos_only_in_long_words(shop):
    assert skus(shop, "tapf") == []  # four letters: no typo allowed
    assert skus(shop, "measuer") == ["T-100"]


def test_exact_part_number_ranks_first(shop):
    # ABC123 is the SKU of the drill set and appears in the hinge's description;
    # the product whose part number it is comes first, however typed.
    for query in ("ABC123", "abc-123", "abc 123"):
        assert skus(shop, query) == ["ABC123", "X-1"], query


def test_all_words_in_the_description_rank_before_other_fields(shop):
    # "ABC123" is in X-1's description; "drill" in both descriptions. Without a
    # part-number hit, products with every word in the description come first:
    # "wurth" is only the manufacturer of both, "hinge" only in X-1's description.
    assert skus(shop, "drill") == ["ABC123", "X-1"]  # ties by description
    assert skus(shop, "safety") == ["G-100", "G-200"]  # both in description: by description
    assert skus(shop, "workwear glove") == ["G-300"]  # category only


@pytest.mark.parametrize(
    "query, expected",
    [
        ("*", 8),  # alone: everything (the retired product stays hidden)
        ("", 8),
        ("glo*", 2),  # prefix
        ("*ove", 2),  # any characters before: glove
        ("g*ve", 2),  # any characters within
        ("abc*", 2),
        ("g%ve", 0),  # % is not a wildcard (a separator, as in a part number)
        ("g_ve", 0),  # neither is _
        ("gl*%e", 0),  # within a wildcard term % is a literal character
        ("gl*_e", 0),
        ("t50_l", 1),  # T50_L, typed as it is
        ("t50l", 1),
    ],
)
def test_sap_wildcards(shop, query, expected):
    found = skus(shop, query)
    assert len(found) == expected, found


def test_facets_sort_and_filters(shop):
    with shop.db.transaction() as db:
        everything = search(db, "b1", "")
        tools = search(db, "b1", "", category="Tools", sort="price")
        dearest = search(db, "b1", "", sort="-price", limit=1)
    assert {(f.value, f.count) for f in everything.categories} == {
        ("Safety", 2),
        ("Tools", 3),
        ("Electrical", 2),
        ("Workwear", 1),
    }
    assert ("Würth", 2) in {(f.value, f.count) for f in everything.manufacturers}
    assert [i.product.sku for i in tools.items] == ["X-1", "T-100", "ABC123"]
    assert {(f.value, f.count) for f in tools.manufacturers} == {("Würth", 2), ("Stanley", 1)}
    assert dearest.total == 8 and dearest.items[0].product.sku == "S-1"


def test_searched_words_facets_sorts_and_pages(shop, monkeypatch):
    """A search with words: total, facets, every sort and filter, and the pages add up."""
    with shop.db.transaction() as db:
        found = search(db, "b1", "drill")
        assert found.total == 2
        assert [i.product.sku for i in found.items] == ["ABC123", "X-1"]  # in the description
        assert [(f.value, f.count) for f in found.categories] == [("Tools", 2)]
        assert [(f.value, f.count) for f in found.manufacturers] == [("Würth", 2)]

        wide = search(db, "b1", "s", sort="price")  # six products, three categories
        prices = [i.price for i in wide.items]
        assert wide.total == 6 and prices == sorted(prices)
        assert [i.price for i in search(db, "b1", "s", sort="-price").items] == prices[::-1]
        # Filtering by a category counts the other categories still (to switch to them),
        # and the manufacturers of that category only.
        tools = search(db, "b1", "s", category="Tools", sort="-price")
        assert [i.product.sku for i in tools.items] == ["ABC123", "T-100", "X-1"]
        assert tools.total == 3
        assert {(f.value, f.count) for f in tools.categories} == {
            ("Tools", 3),
            ("Safety", 2),
            ("Electrical", 1),
        }
        assert {(f.value, f.count) for f in tools.manufacturers} == {("Würth", 2), ("Stanley", 1)}
        by_maker = search(db, "b1", "s", manufacturer="Würth", sort="price")
        assert [i.product.sku for i in by_maker.items] == ["X-1", "ABC123"]
        assert {(f.value, f.count) for f in by_maker.categories} == {("Tools", 2)}
        pages = [search(db, "b1", "s", limit=4, offset=n) for n in (0, 4, 8)]
        assert [len(page.items) for page in pages] == [4, 2, 0]
        assert [page.total for page in pages] == [6, 6, 6]
        assert {i.product.sku for page in pages for i in page.items} == {
            i.product.sku for i in wide.items
        }

        # Ranked: every word in the description ("Hinge for drill case ABC123") before
        # a match across fields (SKU ABC123, "Drill bit set"). Past RANKED_MATCHES
        # matches, plain description order.
        assert [i.product.sku for i in search(db, "b1", "drill abc").items] == ["X-1", "ABC123"]
        monkeypatch.setattr(importlib.import_module("gateway.catalog.search"), "RANKED_MATCHES", 1)
        assert [i.product.sku for i in search(db, "b1", "drill abc").items] == ["ABC123", "X-1"]


def test_role_restriction_applies(shop):
    assert skus(shop, "glove", allowed=frozenset({"Tools"})) == []
    assert skus(shop, "drill", allowed=frozenset({"Tools"})) == ["ABC123", "X-1"]


def test_hostile_queries_are_just_text(shop):
    for query in ('" OR 1=1 --', "'; DROP TABLE products; --", "(((", "^", "*:*", '"*"'):
        assert skus(shop, query) in ([], skus(shop, "*")), query
    for query in ("NEAR(a b)", "a:* & !b", "x AND NOT y", "é" * 300):
        skus(shop, query)  # an answer, not an error
    assert len(skus(shop, "x " * 500)) <= 8


def test_reindex_keeps_the_same_results(shop):
    from gateway.catalog.search import reindex_all

    before = skus(shop, "safety glove")
    with shop.db.transaction() as db:
        assert reindex_all(db) == 9
    assert skus(shop, "safety glove") == before == ["G-100"]


def test_typo_corrections_follow_a_catalog_reload(shop):
    # The corrections are kept per process with the catalog counts: a load that brings
    # a new word must make it a correction from the next search on.
    assert skus(shop, "hamer") == []
    extra = CATALOG + 'H-1,"Claw hammer 500 g",9.90,EUR,EA,Stanley,H-500,,Tools\n'
    with shop.db.transaction() as db:
        load(db, read(extra.encode()), replace=True)
    assert skus(shop, "hamer") == ["H-1"]


def test_browsing_lists_in_description_order_past_the_indexed_prefix(shop):
    """Browsing (no words) is in description, then SKU, order on both databases, also for
    descriptions alike in the first 400 characters PostgreSQL's browsing indexes hold, and
    a description too long for a B-tree entry in full still loads (migration 0025)."""
    stem = "Ü" * 300 + "x" * 150  # 600 bytes of UTF-8 in the first 400 characters
    rows = {
        "L-1": stem + "b",  # after L-2 and L-3: past the prefix, the description decides
        "L-3": stem + "a",
        "L-2": stem + "a",  # the same description: the SKU decides
        "L-4": "Ω" * 2000,  # 4,000 bytes
        "L-0": stem[:399] + "A",  # before the others within the prefix
    }
    csv = "sku,description,unit_price,currency,uom,category\n" + "".join(
        f'{sku},"{text}",1.00,EUR,EA,Long\n' for sku, text in rows.items()
    )
    with shop.db.transaction() as db:
        load(db, read(csv.encode()))
    expected = [sku for sku, _ in sorted(rows.items(), key=lambda kv: (kv[1], kv[0]))]
    assert expected == ["L-0", "L-2", "L-3", "L-1", "L-4"]
    assert skus(shop, "", category="Long") == expected
    pages = [skus(shop, "", category="Long", limit=2, offset=at) for at in (0, 2, 4)]
    assert [sku for page in pages for sku in page] == expected
    # The whole catalog's first page: the same order, the short descriptions among them.
    everything = skus(shop, "", limit=100)
    assert [sku for sku in everything if sku.startswith("L-")] == expected
