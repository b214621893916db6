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

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

ORDER_STATES = ("accepted", "pending", "rejected")


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
            body = response.read(1024 * 1024)
            status = response.status
    except urllib.error.HTTPError as exc:
        detail = exc.read(2048).decode("utf-8", "replace")
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 425, 429)
        return Delivery(False, permanent, exc.code, f"HTTP {exc.code}: {detail[:500]}")
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Delivery(False, False, None, f"unreachable: {reason}")
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


class HttpMarketplace:
    def __init__(self, url: str, timeout: float):
        if not url.startswith(("http://", "https://")):
            raise ValueError("PUNCHGATE_MARKETPLACE_URL must be an http(s) URL")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def deliver_order(self, payload: str, idempotency_key: str) -> Delivery:
        return post_json(
            f"{self.url}/orders", payload, {"Idempotency-Key": idempotency_key}, self.timeout
        )
