"""Driving a punchout through the test client."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, urlsplit

from lxml import html

from tests.documents import setup_request, start_path, status


def open_session(client, **kwargs) -> str:
    """Send a setup request, open the StartPage; return the session token."""
    r = client.post("/cxml", data=setup_request(**kwargs), content_type="text/xml")
    assert status(r.data)[0] == 200, status(r.data)
    start = client.get(start_path(r.data))
    assert start.status_code == 302
    return parse_qs(urlsplit(start.headers["Location"]).query)["session"][0]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def transfer_form(page: bytes) -> tuple[str, dict[str, str]]:
    """The action and fields of the auto-submitting transfer form."""
    doc = html.fromstring(page)
    form = doc.get_element_by_id("transfer-form")
    fields = {i.get("name"): i.get("value") for i in form.findall(".//input")}
    return form.get("action"), fields


def decoded_cart(fields: dict[str, str]) -> bytes:
    if "cxml-base64" in fields:
        return base64.b64decode(fields["cxml-base64"])
    return fields["cxml-urlencoded"].encode("utf-8")


def add_items(client, token: str, items) -> None:
    for sku, qty in items:
        client.post(
            "/api/v1/punchout/cart/items", json={"sku": sku, "quantity": qty}, headers=bearer(token)
        )


def transfer_lines(client, token: str) -> list[tuple[str, str, str]]:
    """Transfer the session's cart; return (sku, line id, unit price) per line sent back."""
    from gateway.xml import parse

    _, fields = transfer_form(
        client.post("/api/v1/punchout/transfer", data={"session": token}).data
    )
    root = parse(decoded_cart(fields)).root
    return [
        (
            i.findtext("ItemID/SupplierPartID"),
            i.findtext("ItemID/SupplierPartAuxiliaryID"),
            i.findtext("ItemDetail/UnitPrice/Money"),
        )
        for i in root.iter("ItemIn")
    ]


def transferred_cart(client, items, **session_kwargs) -> list[tuple[str, str, str]]:
    """Punch out, fill a cart, transfer it; return (sku, line id, unit price) per line."""
    token = open_session(client, **session_kwargs)
    add_items(client, token, items)
    return transfer_lines(client, token)


AGENT_PASSWORD = "agent-password-2026!"
ADMIN_PASSWORD = "admin-password-2026!"


def csrf(client, path="/support/login") -> str:
    """The console's CSRF token, as a page the client can see carries it."""
    return re.search(
        r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)
    ).group(1)


def sign_in(client, email="agent@supplier.example", password=AGENT_PASSWORD):
    return client.post(
        "/support/login", data={"email": email, "password": password, "csrf_token": csrf(client)}
    )
