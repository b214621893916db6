"""The outbox's HTTP client: one kept-alive connection per receiver, answers read as
post_json reads them, and a connection the receiver closed while idle costs no message."""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateway.marketplace.adapters import KeepAlive, post_json


class Receiver:
    """HTTP/1.1 on loopback; counts connections and requests, answers as told."""

    def __init__(self, close_after: int | None = None, status: int = 201, body: bytes = b""):
        self.connections = 0
        self.requests: list[tuple[str, str, bytes]] = []  # (path, Idempotency-Key, body)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                self.served = 0
                with receiver.lock:
                    receiver.connections += 1

            def do_POST(self):
                data = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append((self.path, self.headers["Idempotency-Key"], data))
                answer = body or json.dumps({"status": "accepted"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                self.served += 1
                # Closed without saying so, as a server's idle timeout does.
                self.close_connection = close_after is not None and self.served >= close_after

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    started = []

    def start(**kwargs) -> Receiver:
        started.append(Receiver(**kwargs))
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop()


def test_many_posts_share_one_connection(receivers):
    receiver = receivers()
    http = KeepAlive()
    for i in range(20):
        result = http.post(
            f"{receiver.url}/orders?x=1", json.dumps({"n": i}), {"Idempotency-Key": f"k{i}"}, 5
        )
        assert result.ok and result.http_status == 201 and result.answer == {"status": "accepted"}
    http.close()
    assert receiver.connections == 1
    assert [key for _, key, _ in receiver.requests] == [f"k{i}" for i in range(20)]
    assert receiver.requests[3] == ("/orders?x=1", "k3", b'{"n": 3}')


def test_a_connection_closed_while_idle_is_replaced_and_nothing_is_lost(receivers):
    receiver = receivers(close_after=3)
    http = KeepAlive()
    for i in range(10):
        assert http.post(receiver.url, "{}", {"Idempotency-Key": f"k{i}"}, 5).ok
    keys = [key for _, key, _ in receiver.requests]
    assert keys == [f"k{i}" for i in range(10)]  # each once: none was lost, none doubled
    assert receiver.connections == 4


def test_answers_read_as_post_json_reads_them(receivers):
    http = KeepAlive()
    for status, body in [(422, b'{"error": "bad"}'), (500, b"broken"), (429, b"slow down")]:
        receiver = receivers(status=status, body=body)
        kept, once = (
            f(receiver.url, "{}", {"Idempotency-Key": "k"}, 5) for f in (http.post, post_json)
        )
        assert kept == once
    down = post_json("http://127.0.0.1:9", "{}", {}, 5)
    assert http.post("http://127.0.0.1:9", "{}", {}, 5) == down
    assert not down.ok and not down.permanent and down.detail.startswith("unreachable: ")


def test_a_proxy_from_the_environment_is_still_used(receivers, monkeypatch):
    proxy = receivers()  # a proxy is asked for the whole URL
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # urlopen reads the environment's proxies once per process, into this.
    monkeypatch.setattr(urllib.request, "_opener", None)
    assert KeepAlive().post("http://marketplace.invalid/orders", "{}", {}, 5).ok
    assert [path for path, _, _ in proxy.requests] == ["http://marketplace.invalid/orders"]
