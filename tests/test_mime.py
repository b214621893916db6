"""multipart/related bodies: refused early and clearly, whatever the sender built."""

from __future__ import annotations

import pytest

from gateway.mime import MAX_PARTS, MimeError, split_related

CT = "multipart/related; boundary=B"


def body(*parts: bytes) -> bytes:
    return b"".join(b"--B\r\n" + p + b"\r\n" for p in parts) + b"--B--\r\n"


def part(cid: str, content: bytes = b"x", extra: bytes = b"") -> bytes:
    return b"Content-ID: <" + cid.encode() + b">\r\n" + extra + b"\r\n" + content


def test_root_and_attachments():
    root, others = split_related(CT, body(part("root", b"<cXML/>"), part("a", b"pdf")))
    assert root == b"<cXML/>"
    assert [(p.content_id, p.data) for p in others] == [("a", b"pdf")]


def test_start_names_the_root():
    root, others = split_related(
        CT + '; start="<r>"', body(part("a", b"pdf"), part("r", b"<cXML/>"))
    )
    assert root == b"<cXML/>" and [p.content_id for p in others] == ["a"]


def test_too_many_parts_is_refused_without_reading_the_rest():
    many = body(*(part(f"p{i}") for i in range(20_001)))
    # Everything after part 51 is garbage: a parser that read on would say so.
    cut = many.index(b"Content-ID: <p60>")
    with pytest.raises(MimeError, match=f"more than {MAX_PARTS} parts"):
        split_related(CT, many[:cut] + b"\xff" * 1000)


@pytest.mark.parametrize(
    "content_type, data, words",
    [
        (CT + '; start="<nope>"', body(part("a"), part("b")), "start parameter names <nope>"),
        (
            CT,
            body(b"Content-Type: multipart/mixed; boundary=C\r\n\r\n--C\r\n\r\nx\r\n--C--"),
            "root part is itself multipart",
        ),
        (CT, body(b"X-A: 1\r\n" * 50_000 + b"\r\nx"), "headers are over"),
        ("multipart/related", b"--B\r\n\r\nx\r\n--B--", "no boundary"),
        (CT, b"no delimiter at all", "no parts"),
        (CT, b"--B\r\nContent-ID: <a>\r\n\r\nx", "truncated"),
        (CT, body(part("root"), b"\r\nno content id"), "no Content-ID"),
    ],
)
def test_unusable_bodies_say_why(content_type, data, words):
    with pytest.raises(MimeError, match=words):
        split_related(content_type, data)
