"""The buyer simulator against a real server, with Playwright doing the shopping."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import DEMO, DTD_DIR, ROOT, SECRET_KEY, requires_shared, write_buyers
from tests.e2e.conftest import free_port

pytestmark = [pytest.mark.e2e, requires_shared]  # the simulator validates with the DTDs


@pytest.mark.parametrize("protocol", ["cxml", "oci"])
def test_simulated_procurement_round_trip(
    browser, live_server, demo, tmp_path, database_url, protocol
):
    port = free_port()
    text = (DEMO / "buyers.toml").read_text().replace("127.0.0.1:9000", f"127.0.0.1:{port}")
    write_buyers(demo, tmp_path, text)
    buyers = tmp_path / "simulator-buyers.toml"
    buyers.write_text(text)
    env = {
        **os.environ,
        "PUNCHGATE_DATABASE_URL": database_url,
        "PUNCHGATE_SECRET_KEY": SECRET_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "simulate",
            "--buyer",
            "acme",
            "--protocol",
            protocol,
            "--url",
            live_server,
            "--buyers",
            str(buyers),
            "--dtd-dir",
            str(DTD_DIR),
            "--order",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("StartPage: "):
                start = line.split(" ", 1)[1].strip()
                break
        else:
            pytest.fail("the simulator printed no StartPage:\n" + "".join(lines))
        page = browser.new_page()
        page.goto(start)
        card = page.locator('.card[data-sku="NW-2002"]')
        card.locator("input[name=quantity]").fill("3")
        card.locator("button", has_text="Add to cart").click()
        card.get_by_text("Added to cart").wait_for()
        page.click(".cart-link")
        page.click("#transfer")
        page.get_by_text("Cart received by the simulated procurement system").wait_for()
        out = "".join(lines) + proc.communicate(timeout=60)[0]
        page.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "cart: 1 line(s)" in out and "NW-2002" in out
    if protocol == "cxml":
        assert "DTD valid" in out
    assert "OrderRequest answered 200 OK" in out
