"""The storefront in a real browser on a phone (360 px) and a desktop (1280 px): search, cart."""

from __future__ import annotations

import pytest

from tests.documents import setup_request
from tests.e2e.conftest import screenshot
from tests.e2e.test_cxml_punchout import post_setup

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [360, 1280])
def test_search_and_cart(browser, live_server, listener, demo_buyers, width):
    start = post_setup(
        live_server,
        setup_request(cookie=f"e2e-{width}", return_url=listener.url("/punchout/return")),
    )
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto(start)

    # A typo, typed on the keyboard and sent with Enter, still finds the gloves.
    page.locator("input[name=q]").fill("nitrle glove")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=nitrle**")
    cards = page.locator(".card")
    assert cards.count() == 1
    assert "Nitrile disposable gloves" in cards.first.inner_text()
    assert "10.95 USD" in cards.first.inner_text()  # ACME's contract price beside the list price
    assert page.locator(".card .list-price").first.inner_text() == "12.50"
    assert page.locator(".card img").first.get_attribute("loading") in ("lazy", None)
    # Nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"storefront-search-{width}")

    # Facet counts, then the product page with its quantity rule.
    page.locator(".brand").click()
    page.locator("nav.sidebar a", has_text="Office").click()
    assert "Office" in page.locator("h1").inner_text()
    page.locator(".card-title", has_text="Copy paper").click()
    assert "at least 2 boxes" in page.locator(".long-description").inner_text()
    assert page.locator(".product input[name=quantity]").get_attribute("min") == "2"
    page.locator(".product input[name=quantity]").fill("2")
    page.locator(".product button", has_text="Add to cart").click()
    page.locator(".product").get_by_text("Added to cart").wait_for()

    # The cart page changes quantities; the rule is enforced by the server too.
    page.locator(".cart-link").click()
    row = page.locator('tr[data-sku="NW-6001"]')
    row.locator("input[name=quantity]").fill("1")
    row.locator("button", has_text="Update").click()
    row.get_by_text("minimum quantity of 2").wait_for()
    row.locator("input[name=quantity]").fill("3")
    row.locator("button", has_text="Update").click()
    page.locator('tr[data-sku="NW-6001"] .line-total', has_text="79.20").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"storefront-cart-{width}")
    context.close()


def test_product_pictures_load_from_the_supplier_image_host(
    browser, live_server, listener, demo_buyers
):
    from gateway.catalog.loader import load, read

    csv = (
        "sku,description,unit_price,currency,uom,image_url,category\n"
        f"PIC-9,Picture test gloves,3.00,USD,PR,{listener.url('/img/pic-9.png')},Safety\n"
    )
    with demo_buyers.db.transaction() as db:
        load(db, read(csv.encode()))
    start = post_setup(
        live_server, setup_request(cookie="e2e-pic", return_url=listener.url("/punchout/return"))
    )
    page = browser.new_page()
    page.goto(f"{start}")
    page.locator("input[name=q]").fill("picture test")
    page.keyboard.press("Enter")
    image = page.locator('.card[data-sku="PIC-9"] img')
    image.wait_for()
    # Decoded, not blocked by the page's Content-Security-Policy nor broken.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert page.evaluate("img => img.naturalWidth", image.element_handle()) == 8
    page.close()
