"""Finding the punchout session a browser or storefront request belongs to.

The token travels as ``Authorization: Bearer`` (JSON API) or as the
``session`` field/parameter (server-rendered pages and the transfer form):
procurement systems often embed the storefront in a frame or a browser that
drops cookies, so none are required.
"""

from __future__ import annotations

from flask import request


def session_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.values.get("session") or None
