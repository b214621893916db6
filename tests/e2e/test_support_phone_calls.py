"""The agent's two phone calls, in a real browser against a real server.

"Our punchout failed": a refused punchout found by the caller's email.
"We sent PO 4500012345 yesterday, where is it?": the order found by its number,
with its lines and journey.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.support.accounts import add_agent
from gateway.xml import parse
from tests.conftest import remember_secret
from tests.documents import order_request, setup_request, start_path, status
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e
PASSWORD = "phone-agent-password-1"
remember_secret(PASSWORD)


def post(url: str, body: bytes, headers: dict | None = None) -> bytes:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "text/xml", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return r.read()


def signed_in_agent(browser, live_server, gateway):
    with gateway.db.transaction() as db:
        add_agent(db, gateway.box, "phone@supplier.example", PASSWORD, "agent")
    page = browser.new_context().new_page()
    page.goto(f"{live_server}/support/")
    page.fill("input[name=email]", "phone@supplier.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    return page


def test_a_refused_punchout_found_by_the_callers_email(browser, live_server, listener, demo_buyers):
    body = setup_request(
        secret="an-old-secret-nobody-told-us-about",
        return_url=listener.url("/punchout/return"),
        extrinsics={"UserEmail": "irate.caller@acme.example", "UserFullName": "Ira Caller"},
    )
    assert status(post(f"{live_server}/cxml", body))[0] == 401

    page = signed_in_agent(browser, live_server, demo_buyers)
    page.fill("input[name=find]", "irate.caller@acme.example")
    page.click("button:has-text('Find')")
    page.locator("h1", has_text="Request #").wait_for()
    facts = page.locator("dl.specs").inner_text()
    assert "refused" in page.locator("h1").inner_text()
    assert "irate.caller@acme.example" in facts and "acme" in facts
    assert "cXML Status 401" in facts and "NetworkID/AN01000000001" in facts
    assert "401" in page.locator("dd.reason").inner_text()
    assert "auth.failed" in page.locator("ol.timeline").inner_text()
    document = page.locator("pre.document").inner_text()
    assert "[redacted]" in document and "an-old-secret" not in document
    screenshot(page, "phone-refused-punchout")

    # The same from the requests page: failed only, for this buyer.
    page.goto(f"{live_server}/support/requests")
    page.check("input[name=failed]")
    page.select_option("select[name=buyer]", "acme")
    page.click("button:has-text('Filter')")
    row = page.locator("table.data tbody tr").first
    assert "irate.caller@acme.example" in row.inner_text() and "cXML 401" in row.inner_text()
    screenshot(page, "phone-requests-failed")


def test_a_po_found_by_its_number_with_lines_and_journey(
    browser, live_server, listener, demo_buyers
):
    answer = post(
        f"{live_server}/cxml",
        setup_request(
            cookie="po-call",
            return_url=listener.url("/punchout/return"),
            extrinsics={"UserEmail": "po.caller@acme.example"},
        ),
    )
    user = browser.new_context().new_page()
    user.goto(live_server + start_path(answer))
    token = parse_qs(urlsplit(user.url).query)["session"][0]
    request = urllib.request.Request(
        f"{live_server}/api/v1/punchout/cart/items",
        data=json.dumps({"sku": "NW-1001", "quantity": 4}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    urllib.request.urlopen(request, timeout=10).close()
    user.click(".cart-link")
    user.click("#transfer")
    cart = parse(base64.b64decode(listener.wait()["cxml-base64"][0])).root
    aux = cart.findtext(".//SupplierPartAuxiliaryID")
    price = cart.findtext(".//UnitPrice/Money")
    order = order_request(
        [{"sku": "NW-1001", "qty": "4", "price": price, "aux": aux}], order_id="4500012345"
    )
    assert status(post(f"{live_server}/cxml", order))[0] == 200

    page = signed_in_agent(browser, live_server, demo_buyers)
    page.fill("input[name=find]", "4500012345")
    page.click("button:has-text('Find')")
    page.locator("h1", has_text="Order 4500012345").wait_for()
    line = page.locator("table.order-lines tbody tr").first
    cells = line.inner_text()
    assert "NW-1001" in cells and "matched" in cells and "4" in cells
    journey = page.locator("ol.timeline").inner_text()
    assert "order." in journey
    assert page.locator("text=session #").count() == 1
    screenshot(page, "phone-po-journey")

    # The orders page finds it too, by the caller's email.
    page.goto(f"{live_server}/support/orders")
    page.fill("form.filters input[name=q]", "po.caller@acme.example")
    page.click("button:has-text('Filter')")
    assert "4500012345" in page.locator("table.data tbody").inner_text()
    screenshot(page, "phone-orders-by-email")
