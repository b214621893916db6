"""Builders for the cXML documents the tests send."""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape

ACME_FROM = ("NetworkID", "AN01000000001")
ACME_SECRET = "demo-acme-shared-secret-2026"
ACME_RETURN = "http://127.0.0.1:9000/punchout/return"


def credential(domain: str, identity: str, secret: str | None = None, mac: str = "") -> str:
    inner = f"<Identity>{escape(identity)}</Identity>"
    if secret is not None:
        inner += f"<SharedSecret>{escape(secret)}</SharedSecret>"
    inner += mac
    return f'<Credential domain="{escape(domain)}">{inner}</Credential>'


def envelope(
    body: str,
    *,
    from_: tuple[str, str] = ACME_FROM,
    sender: tuple[str, str] = ACME_FROM,
    secret: str | None = ACME_SECRET,
    sender_xml: str | None = None,
    version: str = "1.2.069",
    payload_id: str | None = None,
    doctype: bool = True,
    kind: str = "Request",
) -> bytes:
    sender_xml = sender_xml or credential(*sender, secret)
    head = (
        f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{version}/cXML.dtd">'
        if doctype
        else ""
    )
    doc = f"""<?xml version="1.0" encoding="UTF-8"?>
{head}
<cXML payloadID="{payload_id or uuid.uuid4()}@buyer.test" timestamp="2026-11-24T10:00:00-05:00"
      version="{version}" xml:lang="en-US">
  <Header>
    <From>{credential(*from_)}</From>
    <To>{credential("NetworkID", "AN01000000099")}</To>
    <Sender>{sender_xml}<UserAgent>Test procurement 1.0</UserAgent></Sender>
  </Header>
  <{kind}>{body}</{kind}>
</cXML>"""
    return doc.encode("utf-8")


def setup_request(
    *,
    operation: str = "create",
    cookie: str = "cookie-1",
    return_url: str | None = ACME_RETURN,
    extrinsics: dict[str, str] | None = None,
    contact: str = "",
    selected: str | None = None,
    items: list[tuple[str, str, str]] = (),
    **kw,
) -> bytes:
    if extrinsics is None:
        extrinsics = {
            "UserEmail": "jane.doe@acme.example",
            "FirstName": "Jane",
            "LastName": "Doe",
            "UniqueName": "jdoe",
        }
    parts = [f"<BuyerCookie>{escape(cookie)}</BuyerCookie>"]
    parts += [
        f'<Extrinsic name="{escape(k)}">{escape(v)}</Extrinsic>' for k, v in extrinsics.items()
    ]
    if return_url is not None:
        parts.append(f"<BrowserFormPost><URL>{escape(return_url)}</URL></BrowserFormPost>")
    parts.append(contact)
    if selected:
        parts.append(
            f"<SelectedItem><ItemID><SupplierPartID>{escape(selected)}</SupplierPartID>"
            "</ItemID></SelectedItem>"
        )
    for sku, aux, qty in items:
        parts.append(
            f'<ItemOut quantity="{qty}"><ItemID><SupplierPartID>{escape(sku)}</SupplierPartID>'
            f"<SupplierPartAuxiliaryID>{escape(aux)}</SupplierPartAuxiliaryID></ItemID></ItemOut>"
        )
    body = f'<PunchOutSetupRequest operation="{operation}">{"".join(parts)}</PunchOutSetupRequest>'
    return envelope(body, **kw)


def status(body: bytes) -> tuple[int, str]:
    """The (code, text) of a cXML Response."""
    from lxml import etree

    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    el = root.find("Response/Status")
    return int(el.get("code")), el.get("text")


def start_path(body: bytes) -> str:
    from lxml import etree

    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    url = root.findtext("Response/PunchOutSetupResponse/StartPage/URL")
    return url.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def order_request(
    lines: list[dict],
    *,
    order_id: str = "PO-1001",
    kind: str = "new",
    version: int | None = None,
    total: str = "100.00",
    extra_header: str = "",
    **kw,
) -> bytes:
    """An OrderRequest; each line: sku, qty, price, aux (optional), number (optional)."""
    items = []
    for index, line in enumerate(lines, start=1):
        aux = line.get("aux")
        aux_xml = f"<SupplierPartAuxiliaryID>{escape(aux)}</SupplierPartAuxiliaryID>" if aux else ""
        items.append(
            f'<ItemOut quantity="{line["qty"]}" lineNumber="{line.get("number", index)}">'
            f"<ItemID><SupplierPartID>{escape(line['sku'])}</SupplierPartID>{aux_xml}</ItemID>"
            f'<ItemDetail><UnitPrice><Money currency="USD">{line["price"]}</Money></UnitPrice>'
            f'<Description xml:lang="en">{escape(line.get("description", "item"))}</Description>'
            f'<UnitOfMeasure>EA</UnitOfMeasure><Classification domain="UNSPSC">1</Classification>'
            f"</ItemDetail></ItemOut>"
        )
    version_attr = f' orderVersion="{version}"' if version else ""
    body = (
        f'<OrderRequest><OrderRequestHeader orderID="{order_id}" orderDate="2026-11-24T10:00:00-05:00" '
        f'type="{kind}"{version_attr}><Total><Money currency="USD">{total}</Money></Total>'
        f"{extra_header}</OrderRequestHeader>{''.join(items)}</OrderRequest>"
    )
    return envelope(body, **kw)
