"""The support console in a real browser."""

from __future__ import annotations

import urllib.request

import pytest

from gateway.support.accounts import add_agent
from tests.conftest import remember_secret
from tests.documents import setup_request, start_path, status
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e
PASSWORD = "console-agent-password-1"
remember_secret(PASSWORD)


def test_agent_finds_a_session_and_reads_its_timeline(browser, live_server, listener, demo_buyers):
    with demo_buyers.db.transaction() as db:
        add_agent(db, demo_buyers.box, "agent@supplier.example", PASSWORD, "agent")
    body = setup_request(
        cookie="console-cookie",
        return_url=listener.url("/punchout/return"),
        extrinsics={"UserEmail": "caller@acme.example", "UserFullName": "Cal Ler"},
    )
    request = urllib.request.Request(
        f"{live_server}/cxml", data=body, headers={"Content-Type": "text/xml"}
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        answer = r.read()
    assert status(answer)[0] == 200
    page = browser.new_page()
    page.goto(live_server + start_path(answer))  # the buyer's user opens the StartPage

    page.goto(f"{live_server}/support/")
    assert "/support/login" in page.url
    page.fill("input[name=email]", "agent@supplier.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.fill("input[name=q]", "caller@acme.example")
    page.click("button:has-text('Filter')")
    row = page.locator("table.data tbody tr").first
    assert "caller@acme.example" in row.inner_text()
    screenshot(page, "support-sessions")
    row.locator("a").click()
    page.locator("h1", has_text="Session #").wait_for()
    timeline = page.locator("ol.timeline").inner_text()
    for kind in ("document.in", "auth.ok", "user.created", "session.created", "start"):
        assert kind in timeline
    page.locator("details summary").first.click()
    assert "[redacted]" in page.locator("details pre").first.inner_text()
    screenshot(page, "support-session")
    page.close()


def post(base: str, body: bytes) -> bytes:
    request = urllib.request.Request(
        f"{base}/cxml", data=body, headers={"Content-Type": "text/xml"}
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return r.read()


def test_price_check_and_a_cart_built_on_behalf(browser, live_server, listener, demo_buyers):
    import base64

    from gateway.xml import parse
    from tests.documents import order_request

    with demo_buyers.db.transaction() as db:
        add_agent(db, demo_buyers.box, "helper@supplier.example", PASSWORD, "agent")
    caller = {"UserEmail": "pat.buyer@acme.example", "UserFullName": "Pat Buyer"}

    # The buyer's user fills a cart and sends it back; the order comes at list price.
    user = browser.new_context().new_page()
    answer = post(
        live_server,
        setup_request(cookie="pc-1", return_url=listener.url("/punchout/r"), extrinsics=caller),
    )
    user.goto(live_server + start_path(answer))
    user.click("nav.sidebar >> text=Fasteners")
    user.click("text=Hex bolt M8 x 40 mm")
    user.click(".product button:has-text('Add to cart')")
    user.locator(".product").get_by_text("Added to cart").wait_for()
    user.click(".cart-link")
    user.click("#transfer")
    cart = parse(base64.b64decode(listener.wait()["cxml-base64"][0])).root
    aux = cart.findtext(".//SupplierPartAuxiliaryID")
    order = order_request(
        [{"sku": "NW-1001", "qty": "1", "price": "14.90", "aux": aux}], order_id="PO-E2E-PRICE"
    )
    assert status(post(live_server, order))[0] == 200

    # The agent: who is calling, that session's price check.
    agent = browser.new_context().new_page()
    agent.goto(f"{live_server}/support/callers")
    agent.fill("input[name=email]", "helper@supplier.example")
    agent.fill("input[name=password]", PASSWORD)
    agent.click("button:has-text('Sign in')")
    agent.fill("input[name=q]", "pat.buyer@acme.example")
    agent.click("button:has-text('Look up')")
    caller_card = agent.locator("section.caller", has_text="Pat Buyer")
    assert "PO-E2E-PRICE" in caller_card.inner_text()
    caller_card.locator("a", has_text="#").first.click()
    row = agent.locator('table.price-check tr[data-sku="NW-1001"]')
    assert row.get_attribute("class") == "mismatch"
    cells = [c.strip() for c in row.locator("td.num").all_inner_texts()]
    assert cells == ["1", "1", "14.90", "12.90", "12.90", "14.90"]
    assert "price differs from the contract" in row.locator("td.check").inner_text()
    screenshot(agent, "support-price-check")

    # ...then shops as Pat and saves a cart for Pat's next punchout.
    agent.click("button:has-text('Shop as this user')")
    banner = agent.locator("#on-behalf-banner")
    assert "helper@supplier.example" in banner.inner_text()
    assert "Pat Buyer" in banner.inner_text()
    agent.fill("input[name=q]", "drill")
    agent.click(".search button")
    card = agent.locator('.card[data-sku="NW-3001"]')
    card.locator("button", has_text="Add to cart").click()
    card.get_by_text("Added to cart").wait_for()
    agent.click(".cart-link")
    assert agent.locator('tr[data-sku="NW-3001"]').count() == 1
    screenshot(agent, "support-on-behalf-cart")
    agent.click("#save-for-user")
    agent.locator("h1", has_text="Session #").wait_for()
    assert agent.locator("h1 .status").inner_text() == "saved"

    # Pat's next punchout opens with the agent's cart in it.
    answer = post(
        live_server,
        setup_request(cookie="pc-2", return_url=listener.url("/punchout/r"), extrinsics=caller),
    )
    user.goto(live_server + start_path(answer))
    user.click(".cart-link")
    assert user.locator('tr[data-sku="NW-3001"]').count() == 1
    assert "support team prepared for you" in user.locator(".banner").first.inner_text()
    screenshot(user, "user-next-punchout-with-agent-cart")
