"""Security headers on every answer, kept in this one place (one after_request hook).

- ``Content-Security-Policy`` on every HTML page: scripts and styles only from
  the gateway's own static files (templates carry no inline script or style);
  product images also from ``PUNCHGATE_IMAGE_SOURCES`` (any https origin by default:
  suppliers' catalogs point at their own image hosts and CDNs);
  ``frame-ancestors`` lets a storefront be framed only by the buyer's own
  procurement system (Ariba and Coupa frame the punchout), the origins of its
  allowed return URLs, and the support console by nobody.
- ``Referrer-Policy: no-referrer``: session tokens travel in URLs.
- ``X-Content-Type-Options: nosniff``.
- ``Cache-Control: no-store`` on everything but static files: pages hold
  tokens, documents and carts that must not stay in a shared cache.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, g, request


def base_policy(image_sources: tuple[str, ...]) -> str:
    images = " ".join(("'self'", "data:", *image_sources))
    return (
        f"default-src 'self'; img-src {images}; script-src 'self'; style-src 'self'; "
        "base-uri 'none'; object-src 'none'"
    )


def allow_framing_by(prefixes: list[str]) -> None:
    """Let this page be framed by the origins of a buyer's allowed return URLs."""
    origins = []
    for prefix in prefixes:
        try:
            parts = urlsplit(prefix)
        except ValueError:
            continue
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    g.frame_ancestors = ["'self'", *dict.fromkeys(origins)]


def _frame_ancestors() -> str:
    if request.blueprint == "support":
        return "'none'"
    return " ".join(g.get("frame_ancestors") or ["'self'"])


def register(app: Flask, image_sources: tuple[str, ...] = ("https:",)) -> None:
    policy = base_policy(image_sources)

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if request.endpoint != "static":
            headers.setdefault("Cache-Control", "no-store")
        if response.mimetype == "text/html":
            headers.setdefault(
                "Content-Security-Policy", f"{policy}; frame-ancestors {_frame_ancestors()}"
            )
            if request.blueprint == "support":
                headers.setdefault("X-Frame-Options", "DENY")
        return response
