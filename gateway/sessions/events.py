"""The append-only session log, and redaction of documents before they are kept."""

from __future__ import annotations

import re

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from gateway.models import Event, utcnow
from gateway.observability import context

_PENDING = "punchgate.pending_events"
_WRITTEN = "punchgate.written_events"

REDACTED = "[redacted]"

# Element content that is a secret. Matched on the text so that the stored
# document keeps the sender's exact formatting; CDATA is covered because the
# match runs to the closing tag.
_SECRET_ELEMENTS = re.compile(
    rb"(<(SharedSecret|CredentialMac)\b[^>]*>)(.*?)(</\2\s*>)", re.DOTALL | re.IGNORECASE
)
# Payment card numbers: only the last four digits are ever kept.
_PCARD_NUMBER = re.compile(rb"(<PCard\b[^>]*?\bnumber\s*=\s*)([\"'])([^\"']*)\2", re.IGNORECASE)


def _mask_card(match: re.Match) -> bytes:
    digits = re.sub(rb"\D", b"", match.group(3))
    return match.group(1) + match.group(2) + b"****" + digits[-4:] + match.group(2)


def redact_document(raw: bytes, limit: int = 2 * 1024 * 1024) -> str:
    """The document as text: SharedSecret and CredentialMac blanked, card numbers masked."""
    cleaned = _SECRET_ELEMENTS.sub(lambda m: m.group(1) + REDACTED.encode() + m.group(4), raw)
    cleaned = _PCARD_NUMBER.sub(_mask_card, cleaned)
    # A secret element left open (truncated or hostile input) would survive the
    # substitution above; drop everything after it rather than keep a secret.
    lowered = cleaned.lower()
    for tag in (b"<sharedsecret", b"<credentialmac"):
        start = 0
        while (pos := lowered.find(tag, start)) != -1:
            end = lowered.find(b">", pos)
            segment = cleaned[pos : end + 1] if end != -1 else b""
            after = cleaned[end + 1 : end + 1 + len(REDACTED)] if end != -1 else b""
            if end == -1 or (not segment.endswith(b"/>") and after != REDACTED.encode()):
                cleaned = cleaned[:pos] + b"<!-- truncated: unterminated secret -->"
                lowered = cleaned.lower()
                break
            start = end + 1
    text = cleaned.decode("utf-8", errors="replace")
    if len(text) > limit:
        text = text[:limit] + "\n<!-- truncated -->"
    return text


def record(
    db: Session,
    kind: str,
    message: str = "",
    *,
    buyer_id: str | None = None,
    session_id: int | None = None,
    level: str = "info",
    data: dict | None = None,
    document: str | None = None,
) -> None:
    """Queue an event; it is written with the transaction, or not at all."""
    db.info.setdefault(_PENDING, []).append(
        {
            "at": utcnow(),
            "kind": kind,
            "message": message,
            "buyer_id": buyer_id,
            "session_id": session_id,
            "level": level,
            "data": data or {},
            "document": document,
            "request_id": context.request_id(),
        }
    )


@event.listens_for(Session, "before_commit")
def _write_pending(db: Session) -> None:
    # One multi-row INSERT per transaction instead of one per event: a setup
    # request logs half a dozen events, and this is its hottest write.
    pending = db.info.pop(_PENDING, None)
    if pending:
        db.execute(insert(Event.__table__), pending)
        db.info.setdefault(_WRITTEN, []).extend(pending)


@event.listens_for(Session, "after_commit")
def _announce_written(db: Session) -> None:
    # Metrics and the request's log line count only what was really committed.
    written = db.info.pop(_WRITTEN, None)
    if written:
        context.events_committed(written)


@event.listens_for(Session, "after_rollback")
def _drop_pending(db: Session) -> None:
    db.info.pop(_PENDING, None)
    db.info.pop(_WRITTEN, None)
