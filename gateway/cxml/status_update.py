"""StatusUpdateRequest: the buyer (or a network) reports on a document exchanged earlier."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from gateway.cxml.envelope import child, text
from gateway.cxml.errors import NotAcceptable
from gateway.xml import local_name

KINDS = ("PaymentStatus", "SourcingStatus", "InvoiceStatus", "DocumentStatus", "IntegrationStatus")


@dataclass(frozen=True)
class StatusUpdate:
    reference: str | None
    code: int
    text: str
    detail: str
    kind: str | None  # which of KINDS came with it, if any
    kind_detail: dict


def parse_status_update(body: etree._Element) -> StatusUpdate:
    where = "StatusUpdateRequest"
    reference = child(body, "DocumentReference")
    status = child(body, "Status")
    if status is None:
        raise NotAcceptable(f"{where}/Status is missing")
    raw_code = status.get("code", "").strip()
    if not raw_code.isdigit():
        raise NotAcceptable(f"{where}/Status/@code must be a number")
    kind_el = next((c for c in body if isinstance(c.tag, str) and local_name(c) in KINDS), None)
    kind_detail = {}
    if kind_el is not None:
        kind_detail = {k: v for k, v in kind_el.attrib.items()}
        kind_detail["text"] = text(kind_el)
    payload_id = reference.get("payloadID", "").strip() if reference is not None else None
    if reference is not None and not payload_id:
        raise NotAcceptable(f"{where}/DocumentReference/@payloadID is empty")
    if payload_id is None and (kind_el is None or local_name(kind_el) != "InvoiceStatus"):
        raise NotAcceptable(
            f"{where}/DocumentReference is missing (only an InvoiceStatus may leave it out)"
        )
    return StatusUpdate(
        payload_id,
        int(raw_code),
        status.get("text", ""),
        text(status),
        local_name(kind_el) if kind_el is not None else None,
        kind_detail,
    )
