"""The request log: every inbound request as support needs to see it, refused ones included.

The web layer opens a note when a request arrives (``begin``), the application layer
fills in what it learns with one-line calls (``note``, ``note_envelope``) and the web
layer writes the row once the answer is built (``save``). A handler that knows its
answer inside its own transaction writes the row there instead (``save_in``): one commit
per request rather than two, on the hottest paths (setup requests, OCI calls).

The note lives in a context variable, not in ``flask.g``, so that the application layer
stays free of Flask; with no request being logged (the CLI, a direct call in a test)
``note`` does nothing.
"""

from __future__ import annotations

import json
import logging
import re
import time
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, and_, delete, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, defer

from gateway import wildcards
from gateway.models import Event, InboundRequest, Order, PunchoutSession, utcnow
from gateway.sessions.events import REDACTED, redact_document
from gateway.statements import Prepared

log = logging.getLogger(__name__)
CHANNELS = ("cxml", "oci", "session_api", "sync_api", "marketplace")
DOCUMENT_CAP = 64 * 1024
PAGE = 50
# What the type filter offers (any other value still filters, by exact match).
DOC_TYPES = (
    "PunchOutSetupRequest",
    "OrderRequest",
    "ProfileRequest",
    "StatusUpdateRequest",
    "OCI call",
    "transfer",
    "credentials.sync",
)
# JSON keys and form fields whose values are secrets (matched case-insensitively, as parts).
_SECRET_NAMES = ("secret", "password", "pass", "pwd", "token", "session", "signature")


@dataclass
class RequestNote:
    """What is known about the request being answered; filled in as it is handled."""

    request_id: str
    channel: str
    started: float = field(default_factory=time.perf_counter)
    buyer_id: str | None = None
    sender: str | None = None
    user_email: str | None = None
    doc_type: str | None = None
    payload_id: str | None = None
    cxml_code: int | None = None
    reason: str | None = None
    session_id: int | None = None
    body: bytes | None = None  # the raw body, when the blueprint read the stream itself
    method: str = ""
    path: str = ""
    size: int = 0  # Content-Length as sent
    document: str | None = None  # the redacted body, when the handler made it already
    saved: bool = False  # the handler's transaction wrote the row
    secret_fields: set[str] | None = None  # an OCI buyer's renamed password fields


_current: ContextVar[RequestNote | None] = ContextVar("punchgate_request_note", default=None)


def begin(channel: str, request_id: str, method: str = "", path: str = "", size: int = 0) -> Token:
    return _current.set(
        RequestNote(request_id=request_id, channel=channel, method=method, path=path, size=size)
    )


def end(token: Token) -> None:
    _current.reset(token)


def current() -> RequestNote | None:
    return _current.get()


def note(**facts) -> None:
    """Add what the caller learned about this request; ``None`` values change nothing."""
    current_note = _current.get()
    if current_note is None:
        return
    for name, value in facts.items():
        if value is not None:
            setattr(current_note, name, value)


def note_envelope(envelope) -> None:
    """The cXML envelope's facts: request name, payloadID, Sender, and the user it names."""
    if _current.get() is None:
        return
    sender = envelope.sender[0] if envelope.sender else None
    email = None
    if envelope.name == "PunchOutSetupRequest":
        # The user is read here, before authentication, so that a refused punchout can be
        # found by the caller's email; a setup request too broken to read names nobody.
        from gateway.cxml.setup import parse_setup_request, user_identity

        try:
            email = user_identity(parse_setup_request(envelope.body)).email
        except Exception:  # noqa: BLE001 - any failure here is the handler's to report
            email = None
    note(
        doc_type=envelope.name,
        payload_id=envelope.payload_id[:300],
        sender=f"{sender.domain}/{sender.identity}"[:300] if sender else None,
        user_email=email.lower()[:320] if email else None,
    )


def note_document(raw: bytes, document: str) -> None:
    """The redacted text of ``raw``, made by the handler; used if ``raw`` is the body logged."""
    current_note = _current.get()
    if current_note is not None and current_note.body == raw:
        current_note.document = document


def oci_doc_type(pairs) -> str:
    """The request log's type of an OCI call: ``OCI <FUNCTION>``, or ``OCI call``."""
    first: dict[str, str] = {}
    for name, value in pairs:
        first.setdefault(name, value)
    function = first.get("FUNCTION") or first.get("~FUNCTION")
    return f"OCI {function}"[:60] if function else "OCI call"


_SECRET_PART = re.compile("|".join(_SECRET_NAMES))


def _secret_name(name: str) -> bool:
    return _SECRET_PART.search(name.lower()) is not None


def mask_secrets(value):
    """The value with every secret-named key's value replaced (nested dicts and lists)."""
    if isinstance(value, dict):
        return {k: REDACTED if _secret_name(str(k)) else mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


def redact_pairs(pairs: list[tuple[str, str]], secret_names: set[str] = frozenset()) -> str:
    """Form or query fields one per line, secret ones (password, token, session) masked.

    ``secret_names`` adds field names a buyer's configuration marks as secret.
    """
    extra = {n.casefold().lstrip("~") for n in secret_names}

    def secret(name: str) -> bool:
        return _secret_name(name) or name.casefold().lstrip("~") in extra

    return "\n".join(f"{k}={REDACTED if secret(k) else v}" for k, v in pairs)


def redact_json(value) -> str:
    return json.dumps(mask_secrets(value), indent=2, ensure_ascii=False, default=str)


def redact_body(raw: bytes) -> str:
    """A JSON body with secret values masked; anything else is not kept (it may hold one)."""
    if not raw:
        return ""
    try:
        return redact_json(json.loads(raw))
    except ValueError:
        return f"(not JSON: {len(raw)} bytes, not kept)"


def cap(text: str | None, limit: int = DOCUMENT_CAP) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + "\n[truncated]"


_INSERT = Prepared(insert(InboundRequest.__table__))
# Every bounded text column and its bound: a row must fit whatever the request held,
# since it may share the request's own transaction (a refused INSERT would undo it).
_BOUNDS = {
    c.key: c.type.length
    for c in InboundRequest.__table__.c
    if isinstance(c.type, String) and c.type.length
}


def save(
    db: Session,
    current_note: RequestNote,
    *,
    method: str,
    path: str,
    http_status: int,
    size: int,
    document: str | None,
) -> None:
    failed = http_status >= 400 or (current_note.cxml_code or 0) >= 400
    # As in the session log, policy refusals (entities, DOCTYPE subsets, size) keep no
    # part of the document: it is hostile by definition.
    hostile = current_note.cxml_code == 400 and "document refused" in (current_note.reason or "")
    row = {
        "at": utcnow(),
        "request_id": current_note.request_id,
        "channel": current_note.channel,
        "method": method,
        "path": path,
        "buyer_id": current_note.buyer_id or None,
        "sender": current_note.sender,
        "user_email": current_note.user_email,
        "doc_type": current_note.doc_type or None,
        "payload_id": current_note.payload_id,
        "http_status": http_status,
        "cxml_code": current_note.cxml_code,
        "failed": failed,
        "reason": cap(current_note.reason, 4000),
        "latency_ms": int((time.perf_counter() - current_note.started) * 1000),
        "size": size,
        "session_id": current_note.session_id,
        "document": None if hostile else cap(document),
    }
    for key, value in row.items():
        if isinstance(value, str):
            # PostgreSQL text holds no NUL byte, and a hostile request may carry one anywhere.
            if "\x00" in value:
                value = value.replace("\x00", "\\x00")
            row[key] = value[: _BOUNDS[key]] if key in _BOUNDS else value
    _INSERT.insert(db.connection(), [row])


def save_in(db: Session, http_status: int) -> bool:
    """Write this request's row in the caller's transaction (see the module's docstring).

    If it was written (True), call ``saved`` once that transaction committed; until
    then the web layer still writes the row itself, so a rolled-back or retried attempt
    is logged all the same.
    """
    current_note = _current.get()
    if current_note is None:
        return False
    try:
        document = current_note.document
        if document is None and current_note.body:
            document = redact_cxml(current_note.body)
        save(
            db,
            current_note,
            method=current_note.method,
            path=current_note.path,
            http_status=http_status,
            size=current_note.size or len(current_note.body or b""),
            document=document,
        )
    except SQLAlchemyError:
        # The transaction itself is broken (the database went away): the request
        # fails as it would have at its commit.
        raise
    except Exception:  # noqa: BLE001 - the log must never fail the answer
        # Nothing was written; the web layer tries again after the answer.
        log.exception("could not record this request in its own transaction")
        return False
    return True


def saved() -> None:
    current_note = _current.get()
    if current_note is not None:
        current_note.saved = True


def redact_cxml(raw: bytes) -> str:
    return redact_document(raw[: DOCUMENT_CAP * 2], limit=DOCUMENT_CAP)


_AGO = re.compile(r"(\d{1,6})\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``2h``, ``30m``, ``7d`` ago, or an ISO date or time (UTC unless it says otherwise)."""
    text = text.strip()
    ago = _AGO.fullmatch(text.lower())
    if ago:
        return (now or utcnow()) - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text[:40]!r} is neither a duration (30m, 2h, 7d) nor an ISO date or time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- reading the log --------------------------------------------------------------------


@dataclass(frozen=True)
class RequestFilter:
    failed: bool = False
    buyer: str | None = None
    doc_type: str | None = None
    channel: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None  # request id, payloadID or user email
    before: int | None = None  # keyset cursor: requests with a smaller id


def first_id_at(db: Session, moment: datetime, last: bool = False) -> int | None:
    """The id where the log reaches ``moment`` (ids grow with time), by the time index.

    Time bounds become id bounds, so that every filter pages along its own (…, id)
    index instead of sorting what a time range holds.
    """
    if last:
        stmt = select(InboundRequest.id).where(InboundRequest.at <= moment)
        stmt = stmt.order_by(InboundRequest.at.desc(), InboundRequest.id.desc())
    else:
        stmt = select(InboundRequest.id).where(InboundRequest.at >= moment)
        stmt = stmt.order_by(InboundRequest.at, InboundRequest.id)
    return db.scalar(stmt.limit(1))


def list_requests(
    db: Session, f: RequestFilter, limit: int = PAGE
) -> tuple[list[InboundRequest], int | None]:
    """A page of requests, newest first, and the cursor for the next page."""
    stmt = select(InboundRequest).options(defer(InboundRequest.document))
    if f.failed:
        stmt = stmt.where(InboundRequest.failed.is_(True))
    if f.buyer:
        stmt = stmt.where(InboundRequest.buyer_id == f.buyer)
    if f.doc_type:
        stmt = stmt.where(InboundRequest.doc_type == f.doc_type)
    if f.channel:
        stmt = stmt.where(InboundRequest.channel == f.channel)
    if f.since:
        first = first_id_at(db, f.since)
        if first is None:
            return [], None
        stmt = stmt.where(InboundRequest.id >= first)
    if f.until:
        last = first_id_at(db, f.until, last=True)
        if last is None:
            return [], None
        stmt = stmt.where(InboundRequest.id <= last)
    if f.q and not wildcards.matches_everything(f.q):
        term = f.q.strip()
        # Exact unless the agent typed SAP's "*" ("4500*"); "%" and "_" stay literal.
        stmt = stmt.where(
            or_(
                wildcards.match(InboundRequest.request_id, term, fold_case=False),
                wildcards.match(InboundRequest.payload_id, term, fold_case=False),
                wildcards.match(InboundRequest.user_email, term),
            )
        )
    if f.before:
        stmt = stmt.where(InboundRequest.id < f.before)
    rows = list(db.scalars(stmt.order_by(InboundRequest.id.desc()).limit(limit + 1)))
    cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], cursor


def request_detail(db: Session, request_pk: int) -> dict | None:
    """One request: the row, the sessions and orders it led to, and what was logged then."""
    row = db.get(InboundRequest, request_pk)
    if row is None:
        return None
    sessions = []
    if row.session_id is not None:
        found = db.get(PunchoutSession, row.session_id)
        sessions = [found] if found is not None else []
    orders = []
    if row.buyer_id and row.payload_id:
        orders = list(
            db.scalars(
                select(Order).where(
                    Order.buyer_id == row.buyer_id, Order.payload_id == row.payload_id
                )
            )
        )
    if sessions:
        events = select(Event).where(Event.session_id == sessions[0].id)
    else:
        # No session: what the gateway logged for this buyer around the request.
        start = row.at - timedelta(milliseconds=row.latency_ms + 2000)
        events = select(Event).where(
            Event.buyer_id.is_(None) if row.buyer_id is None else Event.buyer_id == row.buyer_id,
            Event.at >= start,
            Event.at <= row.at + timedelta(seconds=2),
        )
    timeline = list(db.scalars(events.order_by(Event.id).limit(100)))
    return {"entry": row, "sessions": sessions, "orders": orders, "events": timeline}


def purge(
    db: Session,
    document_days: int = 30,
    metadata_days: int = 180,
    now: datetime | None = None,
    batch: int = 10_000,
) -> tuple[int, int]:
    """Clear documents past their retention and delete rows past theirs, in batches.

    Returns (documents cleared, rows deleted). Meant for cron: ``punchgate requests purge``.
    """
    now = now or utcnow()
    cleared = deleted = 0
    doc_bound = first_id_at(db, now - timedelta(days=document_days), last=True)
    row_bound = first_id_at(db, now - timedelta(days=metadata_days), last=True)
    if row_bound is not None:
        while True:
            ids = db.scalars(
                select(InboundRequest.id).where(InboundRequest.id <= row_bound).limit(batch)
            ).all()
            if not ids:
                break
            db.execute(delete(InboundRequest).where(InboundRequest.id.in_(ids)))
            deleted += len(ids)
    if doc_bound is not None:
        while True:
            ids = db.scalars(
                select(InboundRequest.id)
                .where(and_(InboundRequest.id <= doc_bound, InboundRequest.document.is_not(None)))
                .limit(batch)
            ).all()
            if not ids:
                break
            db.execute(
                update(InboundRequest).where(InboundRequest.id.in_(ids)).values(document=None)
            )
            cleared += len(ids)
    return cleared, deleted


def request_row(row: InboundRequest) -> dict:
    """One request as the CLI prints it (JSON-ready; the document only where asked)."""
    return {
        "id": row.id,
        "at": row.at.isoformat(timespec="milliseconds"),
        "request_id": row.request_id,
        "channel": row.channel,
        "method": row.method,
        "path": row.path,
        "buyer": row.buyer_id,
        "sender": row.sender,
        "user": row.user_email,
        "type": row.doc_type,
        "payload_id": row.payload_id,
        "http_status": row.http_status,
        "cxml_code": row.cxml_code,
        "failed": row.failed,
        "reason": row.reason,
        "latency_ms": row.latency_ms,
        "size": row.size,
        "session": row.session_id,
    }


def request_view(detail: dict) -> dict:
    """``request_detail`` as JSON: the row, its document, what it led to, the timeline."""
    row = detail["entry"]
    return {
        **request_row(row),
        "document": row.document,
        "sessions": [{"id": s.id, "status": s.state} for s in detail["sessions"]],
        "orders": [
            {"id": o.id, "order_id": o.order_id, "status": o.status} for o in detail["orders"]
        ],
        "events": [
            {"at": e.at.isoformat(timespec="seconds"), "kind": e.kind, "message": e.message}
            for e in detail["events"]
        ],
    }
