"""Return URLs compared the way a browser will resolve them.

A prefix check on the raw text is escapable: ``/punchout/../../elsewhere``,
``/punchout/%2e%2e/elsewhere`` or ``/punchout%2f..%2f..`` all start with the
allowed ``/punchout/`` yet the browser posts the cart somewhere else. Both the
URL and the allowed prefix are normalised first (RFC 3986 section 6, plus the
WHATWG URL rule that ``%2e`` is a dot): scheme and host lower-cased, default
ports dropped, percent-encoded dots and slashes decoded, dot segments removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# Whitespace and control characters (header injection, parser differentials),
# backslashes (browsers read them as slashes).
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")
_ENCODED = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)


@dataclass(frozen=True)
class NormalURL:
    scheme: str
    host: str
    port: int
    path: str
    query: str


def _remove_dot_segments(path: str) -> str:
    segments = path.split("/")
    output: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if segments[-1] in (".", ".."):
        output.append("")  # "/a/b/.." is the directory "/a/"
    return "/" + "/".join(output)


def normalise(url: str) -> NormalURL | None:
    """The URL as a browser resolves it, or None when it is not a plain http(s) URL."""
    # Pure, and every request of a buyer checks the same few return URLs and prefixes;
    # only ordinary lengths are kept, so the cache's memory stays bounded.
    return _normalise_cached(url) if len(url) <= 2048 else _normalise(url)


@lru_cache(maxsize=4096)
def _normalise_cached(url: str) -> NormalURL | None:
    return _normalise(url)


def _normalise(url: str) -> NormalURL | None:
    if _FORBIDDEN.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or parts.username or parts.password or not parts.hostname:
        return None
    decoded = _ENCODED.sub(
        lambda m: {"2e": ".", "2f": "/", "5c": "/"}[m.group(1).lower()], parts.path
    )
    return NormalURL(
        scheme=scheme,
        host=parts.hostname.lower().rstrip("."),
        port=port or DEFAULT_PORTS[scheme],
        path=_remove_dot_segments(decoded or "/"),
        query=parts.query,
    )


def url_allowed(url: str, prefixes: list[str]) -> bool:
    """True when ``url``, normalised, is under one of the normalised ``prefixes``."""
    target = normalise(url)
    if target is None:
        return False
    for prefix in prefixes:
        allowed = normalise(prefix)
        if (
            allowed is not None
            and (target.scheme, target.host, target.port)
            == (allowed.scheme, allowed.host, allowed.port)
            and target.path.startswith(allowed.path)
            and (not allowed.query or target.query.startswith(allowed.query))
        ):
            return True
    return False
