"""The cXML envelope: version, payloadID, timestamp, Header credentials, the request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from gateway.cxml import versions
from gateway.cxml.errors import BadRequest, NotAcceptable, NotImplementedRequest
from gateway.cxml.timestamps import parse_timestamp
from gateway.xml import ParsedDocument, local_name


def text(element: etree._Element | None) -> str:
    """The element's text content without comments, stripped ('' when absent)."""
    if element is None:
        return ""
    if len(element) == 0:  # the common case, a leaf: its own text is all of it
        return (element.text or "").strip()
    # itertext() skips comments and processing instructions, as XPath string() does,
    # at a fraction of the cost (an order reads a dozen texts per line).
    return "".join(element.itertext()).strip()


# Children are matched by local name, in any namespace or none ("{*}name"), by
# lxml's own tag matcher: a dozen lookups per order line, so this is a hot path.


def children(element: etree._Element, name: str) -> list[etree._Element]:
    return list(element.iterchildren("{*}" + name))


def child(element: etree._Element | None, name: str) -> etree._Element | None:
    if element is None:
        return None
    return next(element.iterchildren("{*}" + name), None)


def first_children(element: etree._Element | None) -> dict[str, etree._Element]:
    """The first child element of each local name, as ``child`` finds it, in one pass.

    For elements read field by field (an order line reads a dozen children of
    each ItemOut): one walk over the children instead of one lookup per name.
    """
    found: dict[str, etree._Element] = {}
    if element is None:
        return found
    for el in element.iterchildren(etree.Element):  # elements only, as "{*}name" matches
        tag = el.tag
        if tag[0] == "{":
            tag = tag[tag.index("}") + 1 :]
        if tag not in found:
            found[tag] = el
    return found


@dataclass(frozen=True)
class CredentialMac:
    value: str
    type: str
    algorithm: str
    creation_date: str
    expiration_date: str


@dataclass(frozen=True)
class Credential:
    domain: str
    identity: str
    shared_secret: str | None = None
    mac: CredentialMac | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The case-insensitive identity used for lookups."""
        return (self.domain.casefold(), self.identity.casefold())

    def public(self) -> dict:
        """Domain and identity only: safe to store, log and mirror."""
        return {"domain": self.domain, "identity": self.identity}


@dataclass(frozen=True)
class Envelope:
    version: str
    payload_id: str
    timestamp_raw: str
    timestamp: datetime | None
    lang: str | None
    from_: tuple[Credential, ...]
    to: tuple[Credential, ...]
    sender: tuple[Credential, ...]
    user_agent: str
    kind: str  # Request | Message
    name: str  # e.g. PunchOutSetupRequest
    body: etree._Element
    deployment_mode: str = "production"
    extra: dict = field(default_factory=dict)
    declared_version: str | None = None  # None: neither DOCTYPE nor attribute names one


def _credentials(party: etree._Element | None, where: str) -> tuple[Credential, ...]:
    if party is None:
        raise NotAcceptable(f"Header/{where} is missing")
    creds = []
    for el in children(party, "Credential"):
        identity = text(child(el, "Identity"))
        if not identity:
            raise NotAcceptable(f"Header/{where}/Credential has no Identity")
        mac_el = child(el, "CredentialMac")
        mac = None
        if mac_el is not None:
            mac = CredentialMac(
                value=text(mac_el),
                type=mac_el.get("type", ""),
                algorithm=mac_el.get("algorithm", ""),
                creation_date=mac_el.get("creationDate", ""),
                expiration_date=mac_el.get("expirationDate", ""),
            )
        secret_el = child(el, "SharedSecret")
        creds.append(
            Credential(
                domain=el.get("domain", "").strip(),
                identity=identity,
                shared_secret=text(secret_el) if secret_el is not None else None,
                mac=mac,
            )
        )
    if not creds:
        raise NotAcceptable(f"Header/{where} has no Credential")
    return tuple(creds)


def document_version(doc: ParsedDocument) -> str | None:
    """The cXML version the document declares (DOCTYPE system id, else the attribute)."""
    return versions.declared(doc.system_url, doc.root.get("version"))


def parse_envelope(doc: ParsedDocument) -> Envelope:
    """Read the envelope of an inbound Request or Message."""
    root = doc.root
    if local_name(root).lower() != "cxml":
        raise BadRequest(
            f"the root element is <{local_name(root)}>, not <cXML>: not a cXML document"
        )
    declared = document_version(doc)
    version = declared or versions.DEFAULT
    if not versions.readable(version):
        raise NotAcceptable(
            f"cXML version {version[:20]!r} is not one this gateway reads (1.0 to 1.2.x)"
        )
    payload_id = root.get("payloadID", "").strip()
    if not payload_id:
        raise NotAcceptable("cXML/@payloadID is missing")
    timestamp_raw = root.get("timestamp", "").strip()
    header = child(root, "Header")
    request = child(root, "Request")
    message = child(root, "Message")
    if child(root, "Response") is not None and request is None and message is None:
        raise NotImplementedRequest("a Response is not a request this endpoint accepts")
    if header is None:
        raise NotAcceptable("cXML/Header is missing")
    container = request if request is not None else message
    if container is None:
        raise NotAcceptable("cXML has neither Request nor Message")
    kind = "Request" if request is not None else "Message"
    body = next(
        (c for c in container if isinstance(c.tag, str) and local_name(c) != "Status"), None
    )
    if body is None:
        raise NotAcceptable(f"cXML/{kind} is empty")
    sender_el = child(header, "Sender")
    return Envelope(
        version=version,
        payload_id=payload_id,
        timestamp_raw=timestamp_raw,
        timestamp=parse_timestamp(timestamp_raw),
        lang=root.get("{http://www.w3.org/XML/1998/namespace}lang"),
        from_=_credentials(child(header, "From"), "From"),
        to=_credentials(child(header, "To"), "To"),
        sender=_credentials(sender_el, "Sender"),
        user_agent=text(child(sender_el, "UserAgent")),
        kind=kind,
        name=local_name(body),
        body=body,
        deployment_mode=container.get("deploymentMode", "production"),
        declared_version=declared,
    )
