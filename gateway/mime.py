"""MIME multipart/related bodies: a cXML document with its ``cid:`` attachments."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

MAX_PARTS = 50


class MimeError(ValueError):
    """The multipart body is not usable; the message says why."""


@dataclass(frozen=True)
class Part:
    content_id: str
    content_type: str
    filename: str | None
    data: bytes


def split_related(content_type: str, body: bytes) -> tuple[bytes, list[Part]]:
    """The cXML root part and the other parts of a multipart/related body."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise MimeError("the multipart body has no parts (check the boundary)")
    parts = list(message.iter_parts())
    if not parts:
        raise MimeError("the multipart body has no parts")
    if len(parts) > MAX_PARTS:
        raise MimeError(f"the multipart body has {len(parts)} parts; at most {MAX_PARTS}")
    start = (message.get_param("start") or "").strip("<>")
    root = None
    if start:
        root = next((p for p in parts if (p.get("Content-ID") or "").strip("<> ") == start), None)
    if root is None:
        # RFC 2387: without a start parameter the root is the first part.
        root = parts[0]
    others = []
    for part in parts:
        if part is root:
            continue
        cid = (part.get("Content-ID") or "").strip("<> ")
        if not cid:
            raise MimeError("an attachment part has no Content-ID to reference it by")
        others.append(
            Part(
                cid,
                part.get_content_type(),
                part.get_filename(),
                part.get_payload(decode=True) or b"",
            )
        )
    return root.get_payload(decode=True) or b"", others
