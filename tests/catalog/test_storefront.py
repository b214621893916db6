"""The storefront and the session API over the catalog: facets, sort, pictures, quantity rules."""

from __future__ import annotations

import re

from lxml import html

from gateway.catalog.loader import load, read
from tests.documents import setup_request, start_path
from tests.helpers import bearer, open_session

PICTURES = (
    "sku,description,unit_price,currency,uom,image_url,long_description,category\n"
    'PIC-1,"Gloves <b>bold</b> <script>alert(1)</script>",3.00,USD,PR,'
    'https://img.example/p1.jpg,"Line one\nLine <i>two</i>",Safety\n'
)


def q(node, selector: str) -> list:
    """The few CSS selectors these tests use (tag, .class, #id, [name=value]), as XPath."""
    parts = []
    for step in selector.split():
        m = re.fullmatch(
            r'([a-z]*)(?:\.([\w-]+))?(?:#([\w-]+))?(?:\[([\w]+)="?([^"\]]*)"?\])?', step
        )
        tag, cls, ident, attr, value = m.groups()
        test = []
        if cls:
            test.append(f"contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')")
        if ident:
            test.append(f"@id='{ident}'")
        if attr:
            test.append(f"@{attr}='{value}'")
        parts.append((tag or "*") + (f"[{' and '.join(test)}]" if test else ""))
    return node.xpath(".//" + "//".join(parts))


def page(client, path):
    r = client.get(path)
    assert r.status_code == 200, r.data[:300]
    return r, html.fromstring(r.data)


def test_results_with_facets_sort_and_pictures(client, demo):
    with demo.db.transaction() as db:
        load(db, read(PICTURES.encode()))
    token = open_session(client)
    _, doc = page(client, f"/shop/?session={token}&q=glove")
    cards = q(doc, ".card")
    assert {c.get("data-sku") for c in cards} == {"NW-2001", "PIC-1"}
    facets = {
        q(a, ".facet-name")[0].text: q(a, ".count")[0].text
        for a in q(doc, ".facet a")
        if q(a, ".facet-name")
    }
    assert facets == {"Safety": "2", "Ansell": "1"}
    pics = {c.get("data-sku"): q(c, "img.pic")[0] for c in cards}
    assert pics["PIC-1"].get("src") == "https://img.example/p1.jpg"
    assert pics["NW-2001"].get("src").endswith("/static/placeholder.svg")
    assert all(p.get("width") and p.get("height") for p in pics.values())
    # Text from the catalog is shown as text, never as markup.
    r, _ = page(client, f"/shop/?session={token}&q=bold")
    assert b"<script>alert(1)</script>" not in r.data and b"&lt;script&gt;" in r.data
    _, doc = page(client, f"/shop/?session={token}&category=Tools&sort=-price")
    prices = [q(c, ".price")[0].text for c in q(doc, ".card")]
    assert prices == sorted(prices, key=lambda p: -float(p.split()[0]))
    # An unknown sort or page is no error.
    page(client, f"/shop/?session={token}&sort=nonsense&page=-4")


def test_product_page_long_description_and_quantity_rules(client, demo):
    token = open_session(client)
    r, doc = page(client, f"/shop/product/NW-6001?session={token}")
    assert "at least 2 boxes per order" in q(doc, ".long-description")[0].text_content()
    qty = q(doc, ".product input[name=quantity]")[0]
    assert (qty.get("min"), qty.get("value")) == ("2", "2")
    assert "Minimum order 2 BX" in q(doc, "#qty-rules")[0].text_content()
    refused = client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-6001", "quantity": 1}, headers=bearer(token)
    )
    assert refused.status_code == 400
    assert refused.json["error"] == "NW-6001 is sold in a minimum quantity of 2 BX"
    ok = client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-6001", "quantity": 2}, headers=bearer(token)
    )
    assert ok.status_code == 200
    lowered = client.put(
        "/api/v1/punchout/cart/items/NW-6001", json={"quantity": 1}, headers=bearer(token)
    )
    assert lowered.status_code == 400 and "minimum quantity of 2" in lowered.json["error"]


def test_contract_price_against_list_price(client, demo):
    token = open_session(client)  # ACME
    _, doc = page(client, f"/shop/product/NW-1001?session={token}")
    assert q(doc, ".product .price")[0].text == "12.90 USD"
    assert q(doc, ".product .list-price")[0].text == "14.90"
    assert "saves 2.00 USD" in q(doc, ".saving")[0].text_content()


def test_session_api_search(client, demo):
    token = open_session(client)
    r = client.get("/api/v1/punchout/products?q=wurth%20M8&limit=2", headers=bearer(token))
    assert r.status_code == 200
    body = r.json
    assert body["total"] == 3 and len(body["items"]) == 2
    assert body["facets"]["category"] == [{"value": "Fasteners", "count": 3}]
    hex_m8 = client.get("/api/v1/punchout/products?q=hex%20m8", headers=bearer(token)).json
    assert [i["sku"] for i in hex_m8["items"]] == ["NW-1001", "NW-1002"]
    assert hex_m8["items"][0]["contract_price"] == "12.90"
    assert client.get("/api/v1/punchout/products?q=x").status_code == 401
    bad = client.get("/api/v1/punchout/products?limit=x", headers=bearer(token))
    assert bad.status_code == 400 and "whole numbers" in bad.json["error"]
    everything = client.get("/api/v1/punchout/products?q=*&limit=100", headers=bearer(token))
    assert everything.json["total"] == 28


def test_selected_item_and_retired_products(client, demo):
    r = client.post("/cxml", data=setup_request(selected="NW-6001"))
    location = client.get(start_path(r.data)).headers["Location"]
    assert "/shop/product/NW-6001" in location
    assert b"Copy paper A4" in client.get(location).data
    # A product the catalog retired is no longer shown, even when selected.
    text = "sku,description,unit_price,currency,uom\nNW-1001,Hex bolt,14.90,USD,BX\n"
    with demo.db.transaction() as db:
        load(db, read(text.encode()), replace=True)
    token = open_session(client)
    assert client.get(f"/shop/product/NW-6001?session={token}").status_code == 404
    r = client.post(
        "/api/v1/punchout/cart/items", json={"sku": "NW-6001", "quantity": 2}, headers=bearer(token)
    )
    assert r.status_code == 404


def test_storefront_can_be_framed_and_keyboard_used(client, demo):
    token = open_session(client)
    r, doc = page(client, f"/shop/?session={token}")
    # Procurement systems frame the punchout: the shop does not forbid it.
    assert r.headers.get("X-Frame-Options", "").upper() != "DENY"
    assert q(doc, "a.skip")[0].get("href") == "#main"
    assert q(doc, "main#main")
    assert q(doc, "input[name=q]")[0].get("aria-label")
    assert q(doc, 'meta[name="viewport"]')


def test_catalog_counts_follow_a_load_on_another_instance(client, demo, settings):
    """The sidebar and browse facets are kept per process; a load anywhere refreshes them."""
    from gateway import create_app

    token = open_session(client)
    _, doc = page(client, f"/shop/?session={token}")
    assert "Gardening" not in [a.text_content().strip() for a in q(doc, "nav.sidebar a")]
    other = create_app(settings).extensions["punchgate"]  # a second instance, same database
    with other.db.transaction() as db:
        load(
            db,
            read(
                b"sku,description,unit_price,currency,uom,category\nG-1,Rake,9.00,USD,EA,Gardening\n"
            ),
        )
    _, doc = page(client, f"/shop/?session={token}")
    facets = {
        q(a, ".facet-name")[0].text: q(a, ".count")[0].text
        for a in q(doc, ".facet a")
        if q(a, ".facet-name")
    }
    assert facets["Gardening"] == "1"
    assert doc.get_element_by_id("result-count").text_content() == "29 products"
