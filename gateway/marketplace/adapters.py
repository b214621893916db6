"""Where orders go: the embedded marketplace, or a marketplace's HTTP API.

HTTP contract (``PUNCHGATE_MARKETPLACE_URL``): ``POST {url}/orders`` with the JSON
body of :func:`gateway.orders.intake.marketplace_payload` and an
``Idempotency-Key`` header that is the same on every attempt. A 2xx answer
delivers the order; its JSON may say ``{"status": "accepted" | "pending" |
"rejected", "reason": "...", "marketplace_order_id": "..."}`` (default
accepted). 4xx is a permanent refusal, not retried; 5xx, timeouts and refused
connections are retried.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

ORDER_STATES = ("accepted", "pending", "rejected")
MAX_ANSWER = 1024 * 1024  # bytes of an answer read; a longer one is cut there
# What urllib sends, so that a receiver's filters see the same client either way.
USER_AGENT = f"Python-urllib/{sys.version_info[0]}.{sys.version_info[1]}"


@dataclass(frozen=True)
class Delivery:
    ok: bool
    permanent: bool = False  # a failure that retrying cannot fix
    http_status: int | None = None
    detail: str = ""
    answer: dict | None = None


def post_json(
    url: str,
    payload: str,
    headers: dict[str, str],
    timeout: float,
    *,
    content_type: str = "application/json",
    raw_answer: bool = False,
) -> Delivery:
    # Callers pass only http(s) URLs (checked where they are configured).
    request = urllib.request.Request(  # noqa: S310
        url,
        data=payload.encode("utf-8"),
        method="POST",
        headers={"Content-Type": content_type, **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(MAX_ANSWER)
            status = response.status
    except urllib.error.HTTPError as exc:
        return _refused(exc.code, exc.read(2048))
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Delivery(False, False, None, f"unreachable: {reason}")
    return _answered(status, body, raw_answer)


def _refused(code: int, body: bytes) -> Delivery:
    """A non-2xx answer: 4xx is final (but 408, 425 and 429), anything else is retried."""
    detail = body[:2048].decode("utf-8", "replace")
    permanent = 400 <= code < 500 and code not in (408, 425, 429)
    return Delivery(False, permanent, code, f"HTTP {code}: {detail[:500]}")


def _answered(status: int, body: bytes, raw_answer: bool) -> Delivery:
    if raw_answer:
        return Delivery(True, http_status=status, detail=f"HTTP {status}", answer={"raw": body})
    try:
        answer = json.loads(body) if body.strip() else {}
    except ValueError:
        answer = {}
    return Delivery(
        True,
        http_status=status,
        detail=f"HTTP {status}",
        answer=answer if isinstance(answer, dict) else {},
    )


# Errors that mean a kept-alive connection was closed by the other end while idle.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
# Linux: acknowledge the answer's first segment at once. A receiver that writes its
# headers and its body separately without TCP_NODELAY (Python's http.server) holds the
# body back until that ACK, which Linux delays by 40 ms on a connection in use. The
# flag lasts a few segments, so it is set again for every request.
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


class KeepAlive:
    """POSTs like :func:`post_json`, over one kept-alive connection per origin and thread.

    The outbox worker sends many messages to the same marketplace: a connection per
    message spends more time in the TCP (and TLS) handshake than in the request. A
    request that fails on a reused connection before any answer came (the receiver
    closed it while it was idle) is sent once more on a new connection; what the outbox
    sends carries an Idempotency-Key or a payloadID, so a receiver that did get the
    first drops the second. Redirects are not followed (``post_json`` would follow one
    as a GET and take its answer for a delivery): a 3xx is a failure to retry. URLs
    with credentials, or that the environment sends through a proxy (``HTTPS_PROXY``,
    ``NO_PROXY``...), go through ``post_json`` as before.
    """

    MAX_ORIGINS = 32

    def __init__(self) -> None:
        self._local = threading.local()

    def _pool(self) -> dict[tuple[str, str], _Connection | None]:
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        return pool

    def close(self) -> None:
        pool = self._pool()
        for conn in pool.values():
            if conn is not None:
                conn.close()
        pool.clear()

    def post(
        self,
        url: str,
        payload: str,
        headers: dict[str, str],
        timeout: float,
        *,
        content_type: str = "application/json",
        raw_answer: bool = False,
    ) -> Delivery:
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        pool = self._pool()
        if origin not in pool:
            if len(pool) >= self.MAX_ORIGINS:
                self.close()
            pool[origin] = _Connection.to(parts)
        conn = pool[origin]
        all_headers = {"Content-Type": content_type, "User-Agent": USER_AGENT, **headers}
        path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        if conn is None or not _plain(path, all_headers):
            return post_json(
                url, payload, headers, timeout, content_type=content_type, raw_answer=raw_answer
            )
        body = payload.encode("utf-8")
        while True:
            reused = conn.sock is not None
            try:
                status, answer = conn.post(path, body, all_headers, timeout)
            except _STALE as exc:
                conn.close()
                if reused and not conn.answered:
                    continue  # once: the connection is new now
                return Delivery(False, False, None, f"unreachable: {exc}")
            except (OSError, http.client.HTTPException) as exc:  # timeouts too
                conn.close()
                return Delivery(False, False, None, f"unreachable: {exc}")
            break
        if not 200 <= status < 300:
            return _refused(status, answer)
        return _answered(status, answer, raw_answer)


def _plain(path: str, headers: dict[str, str]) -> bool:
    """No control character in the request line or a header (post_json refuses those)."""
    return (
        path.isprintable()
        and " " not in path
        and all(name.isprintable() and value.isprintable() for name, value in headers.items())
    )


class _Connection:
    """One socket to one origin; http.client reads the answers."""

    def __init__(self, host: str, port: int, netloc: str, context: ssl.SSLContext | None):
        self.host, self.port, self.netloc, self.context = host, port, netloc, context
        self.sock: socket.socket | None = None
        self.answered = False  # the last request got a status line back

    @classmethod
    def to(cls, parts: SplitResult) -> _Connection | None:
        """A connection to the URL's origin, or None when post_json must send it."""
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {parts.scheme}://{parts.netloc}")
        host = parts.hostname or ""
        proxy = urllib.request.getproxies().get(parts.scheme)
        if parts.username or parts.password or (proxy and not urllib.request.proxy_bypass(host)):
            return None
        if parts.scheme == "https":
            return cls(host, parts.port or 443, parts.netloc, ssl.create_default_context())
        return cls(host, parts.port or 80, parts.netloc, None)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def post(self, path: str, body: bytes, headers: dict[str, str], timeout: float):
        self.answered = False
        if self.sock is None:
            sock = socket.create_connection((self.host, self.port), timeout)
            # The request goes out in one write; the answer is awaited at once.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.context is not None:
                sock = self.context.wrap_socket(sock, server_hostname=self.host)
            self.sock = sock
        else:
            self.sock.settimeout(timeout)
        head = "".join(
            [
                f"POST {path} HTTP/1.1\r\nHost: {self.netloc}\r\n",
                "Accept-Encoding: identity\r\n",
                *(f"{name}: {value}\r\n" for name, value in headers.items()),
                f"Content-Length: {len(body)}\r\n\r\n",
            ]
        )
        self.sock.sendall(head.encode("latin-1") + body)
        if _QUICKACK is not None:
            self.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        response = http.client.HTTPResponse(self.sock, method="POST")
        response.begin()
        self.answered = True
        answer = response.read(MAX_ANSWER)
        if response.will_close or not response.isclosed():  # or longer than we read
            self.close()
        return response.status, answer


class HttpMarketplace:
    def __init__(self, url: str, timeout: float, http: KeepAlive | None = None):
        if not url.startswith(("http://", "https://")):
            raise ValueError("PUNCHGATE_MARKETPLACE_URL must be an http(s) URL")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.post = http.post if http else post_json

    def deliver_order(self, payload: str, idempotency_key: str) -> Delivery:
        return self.post(
            f"{self.url}/orders", payload, {"Idempotency-Key": idempotency_key}, self.timeout
        )
