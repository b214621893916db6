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
