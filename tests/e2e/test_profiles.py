"""Buyer profiles in a real browser: the pre-flight message on the line, cancel, keep-alive."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import update

from gateway.models import PunchoutSession, utcnow
from gateway.xml import parse
from tests.conftest import DEMO, write_buyers
from tests.documents import setup_request
from tests.e2e.conftest import screenshot
from tests.e2e.test_cxml_punchout import post_setup

pytestmark = pytest.mark.e2e


@pytest.fixture
def coupa_acme(gateway, tmp_path, listener, demo):
    """ACME as a Coupa customer that has enabled only EA."""
    text = (
        (DEMO / "buyers.toml").read_text().replace("127.0.0.1:9000", f"127.0.0.1:{listener.port}")
    )
    text = text.replace('profile = "ariba"', 'profile = "coupa"', 1).replace(
        "[buyer.provisioning]", '[buyer.cart]\nunits = ["EA"]\n[buyer.provisioning]', 1
    )
    write_buyers(gateway, tmp_path, text)
    return gateway


def cart_items(fields) -> list[str]:
    document = base64.b64decode(fields["cxml-base64"][0])
    return [i.findtext("ItemID/SupplierPartID") for i in parse(document).root.iter("ItemIn")]


def test_a_line_the_buyer_would_drop_is_shown_and_held(browser, live_server, listener, coupa_acme):
    start = post_setup(live_server, setup_request(return_url=listener.url("/punchout/return")))
    page = browser.new_page()
    page.goto(start)
    for sku in ("NW-1001", "NW-2002"):
        page.goto(page.url.split("/shop/")[0] + f"/shop/product/{sku}?" + page.url.split("?")[1])
        page.click(".product button:has-text('Add to cart')")
        page.locator(".product").get_by_text("Added to cart").wait_for()
    page.click(".cart-link")

    problem = page.locator('tr[data-sku="NW-1001"] .line-problem')
    assert problem.inner_text() == (
        "Cannot go to your Coupa: the unit 'BX' is not enabled in ACME Corp's Coupa (enabled: EA)"
    )
    assert page.locator('tr[data-sku="NW-2002"] .line-problem').count() == 0
    assert page.locator("#preflight").is_visible()
    assert page.locator("#transfer").is_disabled()
    screenshot(page, "profile-preflight-held")

    page.locator('tr[data-sku="NW-1001"] button', has_text="Remove").click()
    page.wait_for_load_state()
    page.locator('tr[data-sku="NW-1001"]').wait_for(state="detached")
    assert page.locator(".line-problem").count() == 0
    page.click("#transfer")
    assert cart_items(listener.wait()) == ["NW-2002"]


def test_cancel_and_return_and_the_keep_alive_warning(browser, live_server, listener, coupa_acme):
    start = post_setup(live_server, setup_request(return_url=listener.url("/punchout/return")))
    page = browser.new_page()
    page.goto(start)
    assert page.locator("#keep-alive").is_hidden()  # 25 minutes to go
    with coupa_acme.db.transaction() as db:
        db.execute(update(PunchoutSession).values(started_at=utcnow() - timedelta(minutes=27)))
    page.reload()
    page.locator("#keep-alive").wait_for(state="visible")
    assert "may expire in a few minutes" in page.locator("#keep-alive").inner_text()
    screenshot(page, "profile-keep-alive")

    page.click("#cancel-return")
    assert cart_items(listener.wait()) == []
