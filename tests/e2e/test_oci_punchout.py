"""SAP OCI in a real browser: login, shopping, transfer, and the functions without UI."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from gateway.oci.items import parse_new_item_fields
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def oci_url(base: str, listener, **extra) -> str:
    params = {
        "USERNAME": "acme_srm",
        "PASSWORD": "demo-acme-oci-password",
        "HOOK_URL": listener.url("/punchout/oci-return"),
        "~OkCode": "ADDI",
        "~TARGET": "_top",
        "~CALLER": "CTLG",
        "email": "max@acme.example",
        "first_name": "Max",
        "last_name": "Muster",
        **extra,
    }
    return f"{base}/oci/acme?{urlencode(params)}"


def items_of(fields: dict[str, list[str]]) -> list[dict[str, str]]:
    return parse_new_item_fields((name, values[0]) for name, values in fields.items())


def test_oci_login_shop_transfer(browser, live_server, listener, demo_buyers):
    page = browser.new_page()
    page.goto(oci_url(live_server, listener))
    assert page.locator(".who .user").inner_text() == "Max Muster"
    page.fill("input[name=q]", "gloves")
    page.click(".search button")
    card = page.locator('.card[data-sku="NW-2001"]')
    card.locator("input[name=quantity]").fill("5")
    card.locator("button", has_text="Add to cart").click()
    card.get_by_text("Added to cart").wait_for()
    page.click(".cart-link")
    screenshot(page, "oci-cart")
    page.click("#transfer")
    fields = listener.wait()
    assert fields["~OkCode"] == ["ADDI"] and fields["~CALLER"] == ["CTLG"]
    items = items_of(fields)
    assert len(items) == 1
    item = items[0]
    assert item["VENDORMAT"] == "NW-2001"
    assert (item["QUANTITY"], item["UNIT"], item["PRICE"]) == ("5.000", "BOX", "10.950")
    assert item["DESCRIPTION"] == "Nitrile disposable gloves, size L, box o"
    assert item["LONGTEXT"] == "Nitrile disposable gloves, size L, box of 100"
    assert item["EXT_PRODUCT_ID"].startswith("PG-")
    page.close()


def test_validate_without_ui(browser, live_server, listener, demo_buyers):
    page = browser.new_page()
    page.goto(
        oci_url(live_server, listener, FUNCTION="VALIDATE", PRODUCTID="NW-3001", QUANTITY="2")
    )
    items = items_of(listener.wait())
    assert [(i["VENDORMAT"], i["QUANTITY"], i["PRICE"]) for i in items] == [
        ("NW-3001", "2.000", "169.000")
    ]
    page.close()


def test_background_search_without_ui(browser, live_server, listener, demo_buyers):
    page = browser.new_page()
    page.goto(oci_url(live_server, listener, FUNCTION="BACKGROUND_SEARCH", SEARCHSTRING="tape"))
    items = items_of(listener.wait())
    assert sorted(i["VENDORMAT"] for i in items) == ["NW-4003", "NW-5004"]
    page.close()


def test_wrong_password_page(browser, live_server, listener, demo_buyers):
    page = browser.new_page()
    response = page.goto(oci_url(live_server, listener, PASSWORD="not-it"))
    assert response.status == 401
    assert "Catalog login failed" in page.content() and "not-it" not in page.content()
    page.close()
