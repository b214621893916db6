"""The append-only session log, and redaction of documents before they are kept."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from urllib.parse import parse_qsl, unquote_plus

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from gateway.models import Event, utcnow
from gateway.observability import context
from gateway.statements import Prepared
from gateway.xml import decode_document, detect_encoding

_PENDING = "punchgate.pending_events"
_WRITTEN = "punchgate.written_events"

REDACTED = "[redacted]"

# Element content that is a secret. Matched on the decoded text so that the
# stored document keeps the sender's exact formatting; CDATA is covered because
# the match runs to the closing tag, a namespace prefix by the optional group.
_SECRET_ELEMENTS = re.compile(
    r"(<((?:[\w.-]+:)?(?:SharedSecret|CredentialMac))\b[^>]*>)(.*?)(</\2\s*>)",
    re.DOTALL | re.IGNORECASE,
)
_SECRET_OPENING = re.compile(r"<(?:[\w.-]+:)?(?:SharedSecret|CredentialMac)\b", re.IGNORECASE)
# Payment card numbers: only the last four digits are ever kept.
_PCARD_NUMBER = re.compile(r"(<(?:[\w.-]+:)?PCard\b[^>]*?\bnumber\s*=\s*)([\"'])([^\"']*)\2", re.I)
UNREADABLE = "<!-- not kept: the document could not be redacted reliably -->"


def _mask_card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(3))
    return match.group(1) + match.group(2) + "****" + digits[-4:] + match.group(2)


def redact_document(raw: bytes, limit: int = 2 * 1024 * 1024, secrets: Iterable[str] = ()) -> str:
    """The document as text: SharedSecret and CredentialMac blanked, card numbers masked.

    Redaction works on what the document means: it is decoded first (UTF-8,
    UTF-16 or UTF-32, by BOM or declaration), unwrapped when it came as a form
    field (urlencoded or base64), and ``secrets`` (the values the parser read
    from the document) must not survive it, or nothing of the document is kept.
    """
    text = decode_document(_unwrap(raw))
    cleaned = _sub(
        _SECRET_ELEMENTS, lambda m: m.group(1) + REDACTED + m.group(4), text, _SECRET_NAMES
    )
    cleaned = _sub(_PCARD_NUMBER, _mask_card, cleaned, _PCARD_NAMES)
    # A secret element left open (truncated or hostile input) would survive the
    # substitution above; drop everything after it rather than keep a secret.
    for opening in _finditer(_SECRET_OPENING, cleaned, _SECRET_NAMES):
        end = cleaned.find(">", opening.start())
        segment = cleaned[opening.start() : end + 1] if end != -1 else ""
        after = cleaned[end + 1 : end + 1 + len(REDACTED)] if end != -1 else ""
        if end == -1 or (not segment.endswith("/>") and after != REDACTED):
            cleaned = cleaned[: opening.start()] + "<!-- truncated: unterminated secret -->"
            break
    # Short values (an interop fixture's "test") also occur as ordinary words.
    if any(len(secret) >= 8 and secret in cleaned for secret in secrets):
        return UNREADABLE
    if len(cleaned) > limit:
        cleaned = cleaned[:limit] + "\n<!-- truncated -->"
    return cleaned


# The patterns above start with "<", an optional prefix and an element name; a
# match can only start at the last "<" before where the name occurs. These parts
# of the names (no "i", no "s": re.IGNORECASE also matches those to non-ASCII
# letters) are found by str.find in the lower-cased text, so a large document is
# searched in C and the patterns are tried at a handful of places only, instead
# of at every "<" (tests/test_session_log.py compares both ways).
_SECRET_NAMES = ("hared", "redent")  # SharedSecret, CredentialMac
_PCARD_NAMES = ("pcard",)


def _starts(text: str, names: tuple[str, ...]) -> list[int] | None:
    """Where the patterns can match in ``text``; None when only a full scan can tell."""
    if "\u0130" in text:  # the one character whose lower case is longer (İ -> i̇)
        return None
    lowered = text.lower()
    found = set()
    for name in names:
        at = lowered.find(name)
        while at != -1:
            found.add(text.rfind("<", 0, at))
            at = lowered.find(name, at + 1)
    found.discard(-1)
    return sorted(found)


def _finditer(pattern: re.Pattern, text: str, names: tuple[str, ...]) -> Iterator[re.Match]:
    """``pattern.finditer(text)``, tried only where ``names`` occur."""
    starts = _starts(text, names)
    if starts is None:
        yield from pattern.finditer(text)
        return
    end = 0
    for start in starts:
        if start < end:
            continue
        match = pattern.match(text, start)
        if match is not None:
            yield match
            end = match.end()


def _sub(pattern: re.Pattern, repl, text: str, names: tuple[str, ...]) -> str:
    """``pattern.sub(repl, text)``, tried only where ``names`` occur."""
    pieces = []
    done = 0
    for match in _finditer(pattern, text, names):
        pieces += (text[done : match.start()], repl(match))
        done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _unwrap(raw: bytes) -> bytes:
    """The XML document inside a form-urlencoded or base64 body, else ``raw`` itself.

    Buyers' systems sometimes post the cXML as a form field (``cxml-urlencoded``,
    ``cxml-base64``); kept as it came, its secret would be stored percent- or
    base64-encoded, past the redaction.
    """
    encoding, bom = detect_encoding(raw)
    if not raw or encoding != "utf-8" or raw[bom:].lstrip()[:1] == b"<":
        return raw
    text = raw.decode("latin-1")
    candidates = (
        [value for _, value in parse_qsl(text, keep_blank_values=True)] if "=" in text else []
    )
    candidates.append(text)
    for value in candidates:
        if value.lstrip().startswith("<"):
            return value.encode("utf-8", "replace")
        try:
            decoded = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            continue
        if decoded.lstrip().startswith(b"<") or detect_encoding(decoded)[0] != "utf-8":
            return decoded
    if _SECRET_OPENING.search(unquote_plus(text)) or "=" in text:
        # A form we cannot read: keep no value of it.
        names = sorted({name for name, _ in parse_qsl(text, keep_blank_values=True)})
        return ("<!-- form fields: " + ", ".join(names)[:500] + " -->").encode()
    return raw


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
            "message": storable(message),
            "buyer_id": storable(buyer_id),
            "session_id": session_id,
            "level": level,
            "data": storable(data or {}),
            "document": storable(document),
            "request_id": context.request_id(),
        }
    )


def take_pending(db: Session) -> list[dict]:
    """The events recorded in ``db`` and not written yet, taken out of it."""
    return db.info.pop(_PENDING, None) or []


def put_pending(db: Session, rows: list[dict]) -> None:
    """Events taken from another unit of work, to be written with this one."""
    db.info.setdefault(_PENDING, []).extend(rows)


def storable(value):
    """``value`` with NUL characters shown as U+FFFD: PostgreSQL text cannot hold NUL.

    Events describe hostile input too, so they must be writable whatever it held.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    # repr shows a NUL anywhere inside as \x00, in C: only then walk the value.
    if isinstance(value, dict | list | tuple) and "\\x00" not in repr(value):
        return value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


_INSERT = Prepared(insert(Event.__table__))


@event.listens_for(Session, "before_commit")
def _write_pending(db: Session) -> None:
    # One multi-row INSERT per transaction instead of one per event: a setup
    # request logs half a dozen events, and this is its hottest write.
    pending = db.info.pop(_PENDING, None)
    if pending:
        _INSERT.insert(db.connection(), pending)
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
