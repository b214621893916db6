"""MIME multipart/related bodies: a cXML document with its ``cid:`` attachments.

The body is split on its boundary by a linear scan that stops as soon as the
part limit is passed, so a body of 20,000 parts costs no more than one of 51.
Only each part's (bounded) header block goes through the email parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

MAX_PARTS = 50
# Per part: the header block a real sender needs is a few lines.
MAX_HEADER_BYTES = 8192
MAX_HEADER_LINES = 50


class MimeError(ValueError):
    """The multipart body is not usable; the message says why."""


@dataclass(frozen=True)
class Part:
    content_id: str
    content_type: str
    filename: str | None
    data: bytes


def _content_type(value: str) -> EmailMessage:
    message = EmailMessage(policy=policy.HTTP)
    try:
        message["Content-Type"] = value
    except ValueError:  # control characters: the email package refuses the header
        raise MimeError("the Content-Type header is not valid") from None
    return message


def _raw_parts(body: bytes, boundary: bytes) -> list[bytes]:
    """The bytes of each part (headers and content), without the delimiters."""
    delimiter = b"--" + boundary
    if body.startswith(delimiter):
        pos = 0
    else:
        pos = body.find(b"\n" + delimiter)
        if pos == -1:
            raise MimeError("the multipart body has no parts (check the boundary)")
        pos += 1
    parts: list[bytes] = []
    while True:
        pos += len(delimiter)
        if body[pos : pos + 2] == b"--":
            return parts
        eol = body.find(b"\n", pos)
        if eol == -1:
            break
        end = body.find(b"\n" + delimiter, eol + 1)
        if end == -1:
            break
        if len(parts) == MAX_PARTS:
            raise MimeError(f"the multipart body has more than {MAX_PARTS} parts")
        content = body[eol + 1 : end]
        parts.append(content[:-1] if content.endswith(b"\r") else content)
        pos = end + 1
    raise MimeError("the multipart body is truncated: its closing boundary is missing")


def _part(raw: bytes) -> EmailMessage:
    if raw.startswith((b"\r\n", b"\n")):
        return BytesParser(policy=policy.HTTP).parsebytes(raw)  # a part without headers
    cuts = [raw.find(sep) for sep in (b"\r\n\r\n", b"\n\n") if sep in raw]
    if not cuts:
        raise MimeError("a part has no blank line after its headers")
    head = raw[: min(cuts)]
    if len(head) > MAX_HEADER_BYTES or head.count(b"\n") >= MAX_HEADER_LINES:
        raise MimeError(
            f"a part's headers are over {MAX_HEADER_BYTES} bytes or {MAX_HEADER_LINES} lines"
        )
    return BytesParser(policy=policy.HTTP).parsebytes(raw)


def _cid(part: EmailMessage) -> str:
    return (part.get("Content-ID") or "").strip("<> ")


def split_related(content_type: str, body: bytes) -> tuple[bytes, list[Part]]:
    """The cXML root part and the other parts of a multipart/related body."""
    header = _content_type(content_type)
    boundary = header.get_boundary()
    if not boundary:
        raise MimeError("the Content-Type has no boundary parameter")
    raw_parts = _raw_parts(body, boundary.encode("latin-1", "replace"))
    if not raw_parts:
        raise MimeError("the multipart body has no parts")
    parts = [_part(raw) for raw in raw_parts]
    start = (header.get_param("start") or "").strip("<> ")
    if start:
        root = next((p for p in parts if _cid(p) == start), None)
        if root is None:
            raise MimeError(f"the start parameter names <{start}>, which no part has as Content-ID")
    else:
        # RFC 2387: without a start parameter the root is the first part.
        root = parts[0]
    if root.get_content_maintype() == "multipart":
        raise MimeError(
            "the root part is itself multipart: send the cXML document as a part of its own"
        )
    others = []
    for part in parts:
        if part is root:
            continue
        cid = _cid(part)
        if not cid:
            raise MimeError("an attachment part has no Content-ID to reference it by")
        others.append(Part(cid, part.get_content_type(), part.get_filename(), _payload(part)))
    return _payload(root), others


def _payload(part: EmailMessage) -> bytes:
    if part.is_multipart():
        raise MimeError(f"part <{_cid(part)}> is itself multipart; attachments must be flat")
    return part.get_payload(decode=True) or b""
