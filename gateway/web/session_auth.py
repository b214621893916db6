"""Finding the punchout session a browser or storefront request belongs to.

The token travels as ``Authorization: Bearer`` (JSON API) or as the
``session`` field/parameter (server-rendered pages and the transfer form):
procurement systems often embed the storefront in a frame or a browser that
drops cookies, so none are required.
"""

from __future__ import annotations

from flask import request
from flask import session as cookie

from gateway.sessions import service as sessions
from gateway.support import requests as request_log
from gateway.web.headers import allow_framing_by


def session_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.values.get("session") or None


def punchout_session(db, token: str | None, *, lock: bool = False):
    """The session the token opens; an agent's on-behalf session only for that agent.

    The on-behalf token travels in links like any storefront token, so it is
    also tied to the agent's console sign-in: a copied link opens nothing.
    ``lock``: the request changes the cart (``sessions.by_token``).
    """
    session = sessions.by_token(db, token, lock=lock)
    allow_framing_by(session.buyer.return_url_prefixes or [])
    request_log.note(buyer_id=session.buyer_id, session_id=session.id)
    if session.protocol == "support":
        owner = (session.details.get("on_behalf") or {}).get("agent_id")
        if owner is None or cookie.get("agent_id") != owner:
            raise sessions.SessionError(
                "This storefront was opened by a support agent for a buyer user. Sign in to "
                "the support console as that agent to use it.",
                403,
            )
    return session
