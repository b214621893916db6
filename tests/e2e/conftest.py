"""A real gateway (punchgate serve → gunicorn) on loopback, a return-URL listener,
and headless Chromium from Debian's package driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.conftest import DEMO, ROOT, SECRET_KEY, scan, write_buyers

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x2a\x7a\xb8" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PIXEL_PNG = _png(8, 8)


class ReturnListener:
    """Plays the procurement system's BrowserFormPost / HOOK_URL endpoint."""

    def __init__(self):
        self.port = free_port()
        self.received: list[dict[str, list[str]]] = []
        self.event = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode("utf-8")
                listener.received.append(parse_qs(body, keep_blank_values=True))
                listener.event.set()
                page = b"<html><body><h1>Cart received by procurement</h1></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def do_GET(self):
                # Plays the supplier's image host as well (product pictures).
                if not self.path.startswith("/img/"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PIXEL_PNG)))
                self.end_headers()
                self.wfile.write(PIXEL_PNG)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait(self, timeout: float = 15) -> dict[str, list[str]]:
        assert self.event.wait(timeout), "the cart never reached the return URL"
        return self.received[-1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    listener = ReturnListener()
    yield listener
    listener.close()


def stop_server(proc: subprocess.Popen) -> None:
    """Stop gunicorn gracefully, or kill its whole process group if it hangs."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@contextlib.contextmanager
def punchgate_serve(database_url: str, tmp_path: Path, extra_env: dict | None = None):
    """`punchgate serve` (gunicorn, 2 workers) in a process group of its own, on loopback.

    Yields (base URL, process); stopped gracefully or killed whole, and its log (gunicorn
    access lines included) scanned for secrets afterwards.
    """
    port = free_port()
    env = {
        **os.environ,
        "PUNCHGATE_DATABASE_URL": database_url,
        "PUNCHGATE_SECRET_KEY": SECRET_KEY,
        "PUNCHGATE_BASE_URL": f"http://127.0.0.1:{port}",
        "PUNCHGATE_INSTANCE_DIR": str(tmp_path / "instance"),
        "PUNCHGATE_REPORT_MAX_AGE": "0",  # the console's figures as the test just made them
        **(extra_env or {}),
    }
    log_path = tmp_path / "server.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: workers die with it in stop_server
    )
    base = f"http://127.0.0.1:{port}"
    # gunicorn checks the schema and the keys before it binds; a loaded CI machine is slow.
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(proc)  # never leave a gunicorn behind to load the machine
            log.close()
            raise RuntimeError(log_path.read_text())
        time.sleep(0.2)
    try:
        yield base, proc
    finally:
        stop_server(proc)
        log.close()
    scan("server log", log_path.read_text())


@pytest.fixture
def live_server(database_url, tmp_path, app):
    """`punchgate serve` in a child process, on the test database."""
    # Product pictures from the test's image host on loopback, besides https.
    with punchgate_serve(
        database_url, tmp_path, {"PUNCHGATE_IMAGE_SOURCES": "https: http://127.0.0.1:*"}
    ) as (base, _):
        yield base


@pytest.fixture
def demo_buyers(gateway, tmp_path, listener, demo):
    """The demo buyers, with return URLs pointing at this test's listener."""
    text = (
        (DEMO / "buyers.toml").read_text().replace("127.0.0.1:9000", f"127.0.0.1:{listener.port}")
    )
    write_buyers(gateway, tmp_path, text)
    return gateway


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium package is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
