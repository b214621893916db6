"""The request being served: its id and the events it wrote (no Flask, no I/O).

Kept in context variables so that services deep below the web layer, and the
session log, see the id without it being passed along.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

# Accepted from a caller as given: long enough to be unique, short and plain
# enough that it cannot smuggle anything into a log line or a header.
_VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")


@dataclass
class Current:
    request_id: str
    events: list[dict] = field(default_factory=list)


_current: ContextVar[Current | None] = ContextVar("punchgate_request", default=None)


def request_id() -> str | None:
    """The X-Request-Id of the request being served, or None outside a request."""
    current = _current.get()
    return current.request_id if current else None


def accept_request_id(header: str | None) -> str:
    """The caller's X-Request-Id when it is valid, a new one otherwise."""
    if header and _VALID_ID.fullmatch(header):
        return header
    # 128 random bits in hex, as uuid4().hex gives, without building a UUID object.
    return os.urandom(16).hex()


def begin(request_id_: str) -> Token:
    return _current.set(Current(request_id_))


def end(token: Token) -> None:
    _current.reset(token)


def current() -> Current | None:
    return _current.get()


def events_committed(rows: list[dict]) -> None:
    """Called with the session-log rows of every committed transaction."""
    from gateway.observability import metrics

    metrics.count_events(rows)
    here = _current.get()
    if here is not None:
        here.events.extend(rows)
