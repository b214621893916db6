"""The README's demo as a newcomer follows it: `punchgate demo` on a fresh directory, the curl
round trip ending on the gateway's own "what the procurement system received" page, and
the README's `punchgate simulate` example."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import DTD_DIR, ROOT
from tests.documents import start_path
from tests.e2e.conftest import ARTIFACTS, free_port

pytestmark = pytest.mark.e2e

PUNCHGATE = Path(sys.executable).parent / "punchgate"


@pytest.fixture
def fresh_demo(tmp_path):
    """`punchgate demo --port P` in an empty directory: a new SQLite database, nothing else."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUNCHGATE_")} | {
        "PUNCHGATE_INSTANCE_DIR": str(tmp_path / "instance"),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    if DTD_DIR.is_dir():
        env["PUNCHGATE_CXML_DTD_DIR"] = str(DTD_DIR)
    log = open(tmp_path / "demo.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [str(PUNCHGATE), "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.close()
            pytest.fail("punchgate demo did not start:\n" + (tmp_path / "demo.log").read_text())
        time.sleep(0.3)
    yield base, env, tmp_path
    os.killpg(proc.pid, 15)
    proc.wait(20)
    log.close()


def shop_and_transfer(browser, start: str, then: str):
    page = browser.new_page()
    page.goto(start)
    card = page.locator('.card[data-sku="NW-2002"]')
    card.locator("input[name=quantity]").fill("3")
    card.locator("button", has_text="Add to cart").click()
    card.get_by_text("Added to cart").wait_for()
    page.click(".cart-link")
    page.click("#transfer")
    page.get_by_text(then).wait_for()
    return page


def test_demo_round_trip_ends_on_the_gateways_own_return_page(browser, fresh_demo):
    base, _, tmp_path = fresh_demo
    log = (tmp_path / "demo.log").read_text()
    setup = next(line for line in log.splitlines() if line.startswith("try: curl"))
    path = setup.split("@", 1)[1].split(" ", 1)[0]  # the port-adjusted setup request
    request = urllib.request.Request(
        f"{base}/cxml", data=Path(path).read_bytes(), headers={"Content-Type": "text/xml"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
        start = base + start_path(answer.read())
    page = shop_and_transfer(browser, start, "What the procurement system received")
    assert page.url == f"{base}/demo/received/acme/cart"
    lines = page.locator("#received-lines tbody tr")
    assert lines.count() == 1 and "NW-2002" in lines.first.inner_text()
    checked = "Valid against the DTD it declares" if DTD_DIR.is_dir() else "Not checked"
    assert checked in page.locator("#dtd").inner_text()
    assert "PunchOutOrderMessage" in page.locator("#document").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-received.png"), full_page=True)
    page.close()


def test_the_readme_simulate_example_on_a_fresh_demo(browser, fresh_demo):
    base, env, tmp_path = fresh_demo
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 9000)) == 0:
            pytest.skip("port 9000 (the demo buyer's simulator return URL) is in use")
    # As in the README, with --url because this demo runs on a free port, not 8000.
    proc = subprocess.Popen(
        [str(PUNCHGATE), "simulate", "--buyer", "acme", "--order", "--url", base],
        cwd=tmp_path,
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
        shop_and_transfer(browser, start, "Cart received by the simulated procurement system")
        out = "".join(lines) + proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "cart: 1 line(s)" in out and "NW-2002" in out
    assert "OrderRequest answered 200 OK" in out
