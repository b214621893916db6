"""A buyer's whole cXML punchout in a real browser against a real server."""

from __future__ import annotations

import base64
import urllib.request

import pytest
from lxml import etree

from gateway.xml import parse
from tests.documents import setup_request, start_path, status
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def post_setup(base: str, body: bytes) -> str:
    request = urllib.request.Request(
        f"{base}/cxml", data=body, headers={"Content-Type": "text/xml"}
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        answer = r.read()
    assert status(answer)[0] == 200, status(answer)
    return base + start_path(answer)


def test_setup_shop_and_transfer(browser, live_server, listener, demo_buyers, dtd):
    start = post_setup(
        live_server,
        setup_request(cookie="e2e-cookie-1", return_url=listener.url("/punchout/return")),
    )
    page = browser.new_page()
    page.goto(start)
    assert page.locator(".who .user").inner_text() == "Jane Doe"

    # Search and add from the results (JavaScript path: the session API).
    page.fill("input[name=q]", "drill")
    page.click(".search button")
    card = page.locator('.card[data-sku="NW-3001"]')
    card.locator("button", has_text="Add to cart").click()
    card.get_by_text("Added to cart").wait_for()
    assert page.locator("#cart-count").inner_text() == "1"

    # Browse a category (facets of the whole catalog), open a product, add two.
    page.click(".brand")
    page.click("nav.sidebar >> text=Fasteners")
    page.click("text=Hex bolt M8 x 40 mm")
    assert "12.90 USD" in page.locator(".product-price").inner_text()  # ACME's contract price
    page.fill(".product input[name=quantity]", "2")
    page.click(".product button:has-text('Add to cart')")
    page.locator(".product").get_by_text("Added to cart").wait_for()

    # Cart: change a quantity, remove a line.
    page.click(".cart-link")
    row = page.locator('tr[data-sku="NW-1001"]')
    row.locator("input[name=quantity]").fill("3")
    row.locator("button", has_text="Update").click()
    page.wait_for_load_state()
    page.locator('tr[data-sku="NW-1001"] .line-total', has_text="38.70").wait_for()
    page.locator('tr[data-sku="NW-3001"] button', has_text="Remove").click()
    page.locator('tr[data-sku="NW-3001"]').wait_for(state="detached")
    screenshot(page, "cxml-cart")

    page.click("#transfer")
    fields = listener.wait()
    page.get_by_text("Cart received by procurement").wait_for()
    document = base64.b64decode(fields["cxml-base64"][0])
    assert dtd.validate(document) == []
    root = parse(document).root
    assert root.findtext(".//BuyerCookie") == "e2e-cookie-1"
    items = [
        (
            i.findtext("ItemID/SupplierPartID"),
            i.get("quantity"),
            i.findtext("ItemDetail/UnitPrice/Money"),
        )
        for i in root.iter("ItemIn")
    ]
    assert items == [("NW-1001", "3", "12.90")]
    assert root.findtext(".//Total/Money") == "38.70"
    page.close()


def test_transfer_without_javascript(browser, live_server, listener, demo_buyers, dtd):
    start = post_setup(
        live_server, setup_request(cookie="no-js", return_url=listener.url("/punchout/return"))
    )
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(start)
    page.locator('.card[data-sku="NW-2001"] button', has_text="Add to cart").click()
    page.wait_for_url("**/shop/cart?**")
    assert page.locator("#cart-count").inner_text() == "1"
    page.click("#transfer")
    # No script to submit it: the page shows the button, as for locked-down browsers.
    page.click("text=Continue to your procurement system")
    fields = listener.wait()
    document = base64.b64decode(fields["cxml-base64"][0])
    assert dtd.validate(document) == []
    assert etree.fromstring(document).findtext(".//ItemID/SupplierPartID") == "NW-2001"
    context.close()


def test_start_link_cannot_be_replayed_in_the_browser(browser, live_server, listener, demo_buyers):
    start = post_setup(live_server, setup_request(return_url=listener.url("/punchout/return")))
    page = browser.new_page()
    page.goto(start)
    assert "/shop/" in page.url
    response = page.goto(start)
    assert response.status == 410
    assert "already used" in page.content()
    page.close()
