"""A real HTTP marketplace on loopback that can fail, hang and be down, for outbox tests.

It keeps one order per Idempotency-Key, as a correct marketplace does, and
records every request it receives.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.e2e.conftest import free_port


class Marketplace:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.requests: list[tuple[str, dict]] = []  # (Idempotency-Key, body)
        self.orders: dict[str, dict] = {}
        self.plan: list[str] = []  # per request: "500", "hang:<seconds>", "block", "ok"
        self.release = threading.Event()
        self.received = threading.Event()
        self.server = None
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        market = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("Idempotency-Key")
                with market.lock:
                    market.requests.append((key, body))
                    # Recorded on receipt: a request whose answer is lost still counts.
                    market.orders.setdefault(key, body)
                    step = market.plan.pop(0) if market.plan else "ok"
                market.received.set()
                if step == "500":
                    self._answer(500, {"error": "temporarily broken"})
                    return
                if step.startswith("hang:"):
                    time.sleep(float(step[5:]))
                if step == "block":
                    market.release.wait(30)
                self._answer(201, {"status": "accepted", "marketplace_order_id": f"M-{key}"})

            def _answer(self, code, payload):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout or killed)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.release.set()
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class KeptAliveReceiver:
    """HTTP/1.1 on loopback; counts connections and requests, answers as told."""

    def __init__(self, close_after: int | None = None, status: int = 201, body: bytes = b""):
        self.connections = 0
        self.served: list[int] = []  # requests per connection
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
                    self.index = len(receiver.served)
                    receiver.served.append(0)

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
                with receiver.lock:
                    receiver.served[self.index] += 1
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
