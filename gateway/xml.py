"""The only place untrusted XML is parsed.

Policy: no network, no DTD loading, no entity expansion. A DOCTYPE is allowed
(every cXML document carries one) but only without an internal subset, or with
an empty one (``[]``). Any entity reference, any declaration in an internal
subset, nesting deeper than a limit and bodies over a size cap are rejected
before anything else looks at the document.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from lxml import etree

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_DEPTH = 100
# Elements per document: a 10,000-line OrderRequest has about 200,000.
DEFAULT_MAX_ELEMENTS = 250_000

# The internal subset is everything between '[' and the matching ']>' of the
# DOCTYPE. libxml2 has already refused a malformed one when this runs.
_DOCTYPE_SUBSET = re.compile(rb"<!DOCTYPE[^\[>]*\[(.*?)\]\s*>", re.DOTALL | re.IGNORECASE)


class UnsafeXML(ValueError):
    """The document is refused by policy (entities, DTD subset, size, depth)."""


class MalformedXML(ValueError):
    """The document is not well-formed XML."""


@dataclass(frozen=True)
class ParsedDocument:
    root: etree._Element
    doctype: str
    system_url: str | None
    raw: bytes


def _parser() -> etree.XMLParser:
    # A parser per call: lxml parsers are not meant to be shared across threads
    # and creating one costs microseconds.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_pis=True,
        remove_blank_text=False,
        # collect_ids=False must not be set: with lxml 6.1 / libxml2 2.14 it
        # makes the parser open the DOCTYPE's external subset (a local file
        # read driven by the sender). tests/test_xml.py pins this.
    )


def parse(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> ParsedDocument:
    """Parse untrusted bytes under the gateway's XML policy.

    Every check here costs time linear in the size of the document and runs in
    C (libxml2, XPath), so a refused document costs no Python work per element.
    """
    if not isinstance(data, bytes):
        raise TypeError("parse() takes bytes; let the XML declaration choose the charset")
    if len(data) > max_bytes:
        raise UnsafeXML(f"document is {len(data)} bytes, over the limit of {max_bytes} bytes")
    if not data.strip():
        raise MalformedXML("the body is empty")
    # Refuse declarations before libxml2 sees them: it would otherwise spend
    # its amplification budget on a billion-laughs subset before failing.
    head = data[:65536]
    if b"<!ENTITY" in head:
        raise UnsafeXML("entity declarations are not allowed")
    subset = _DOCTYPE_SUBSET.search(head)
    if subset and subset.group(1).strip():
        raise UnsafeXML("a DOCTYPE with an internal subset is not allowed")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        message = str(exc.msg or exc).splitlines()[0] if str(exc) else "syntax error"
        raise MalformedXML(f"not well-formed XML: {message}") from None
    except ValueError as exc:
        raise MalformedXML(f"not well-formed XML: {exc}") from None
    tree = root.getroottree()
    docinfo = tree.docinfo
    internal = docinfo.internalDTD
    if internal is not None and (list(internal.iterentities()) or list(internal.iterelements())):
        raise UnsafeXML("a DOCTYPE with an internal subset is not allowed")
    for _ in root.iter(etree.Entity):
        raise UnsafeXML("entity references are not allowed")
    _check_depth(root, max_depth)
    # Start tags minus end tags bounds the element count from above in a single
    # byte scan; only a document near the limit is counted exactly.
    if data.count(b"<") - data.count(b"</") > max_elements:
        elements = int(root.xpath("count(//*)"))
        if elements > max_elements:
            raise UnsafeXML(f"document has {elements} elements, over the limit of {max_elements}")
    return ParsedDocument(
        root=root, doctype=docinfo.doctype or "", system_url=docinfo.system_url, raw=data
    )


def _check_depth(root: etree._Element, max_depth: int) -> None:
    # "Is there an element max_depth + 1 levels down?" in XPath: libxml2 walks
    # the tree in C, where a Python walk took 0.5 s for 300,000 elements.
    if root.xpath("boolean(" + "/*" * (max_depth + 1) + ")"):
        raise UnsafeXML(f"elements are nested deeper than {max_depth} levels")


# Byte order marks, longest first (the UTF-32 LE mark starts like UTF-16 LE's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# How '<?' looks without a BOM (XML 1.0 appendix F).
_UNMARKED = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]{1,40})[\"']")


def detect_encoding(data: bytes) -> tuple[str, int]:
    """The encoding of an XML document and the length of its BOM.

    The bytes decide first (BOM, then the shape of '<?'); the declaration is
    only believed for 8-bit encodings, so a document that says UTF-16 but is
    written in ASCII is still read correctly.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, len(bom)
    for head, name in _UNMARKED:
        if data.startswith(head):
            return name, 0
    declared = _DECLARED.match(data[:200])
    if declared:
        try:
            name = codecs.lookup(declared.group(1).decode("ascii")).name
        except LookupError:
            return "utf-8", 0
        if not name.startswith(("utf-16", "utf-32")):
            return name, 0
    return "utf-8", 0


def decode_document(data: bytes) -> str:
    """The document as text, whatever its encoding; never holds a NUL character.

    Undecodable bytes become U+FFFD, so this never fails: it is what the
    session log and the support console show of a document.
    """
    encoding, skip = detect_encoding(data)
    text = data[skip:].decode(encoding, errors="replace")
    return text.replace("\x00", "\ufffd")


def local_name(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]
