"""Playing the buyer's procurement system: setup (cXML or OCI), the cart back, an order.

The simulator listens on the buyer's own allowed return URL, so the gateway's
allowlist applies to it exactly as to the real system. That URL must point at
this machine (127.0.0.1 or localhost).
"""

from __future__ import annotations

import base64
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from gateway.cxml.timestamps import format_timestamp
from gateway.oci.items import parse_new_item_fields
from gateway.replay import Credentials
from gateway.xml import parse

LOCAL_HOSTS = ("127.0.0.1", "localhost")


class SimulatorError(Exception):
    pass


@dataclass
class CartLine:
    sku: str
    line_id: str
    quantity: str
    unit: str
    price: str
    currency: str
    description: str


class ReturnListener:
    """The procurement system's BrowserFormPost / HOOK_URL endpoint, on loopback."""

    def __init__(self, prefix: str):
        parts = urllib.parse.urlsplit(prefix)
        if parts.hostname not in LOCAL_HOSTS or parts.scheme != "http":
            raise SimulatorError(
                f"the buyer's return URL prefix {prefix!r} is not on this machine; add an "
                "http://127.0.0.1:<port>/… prefix to the buyer's return_url_prefixes"
            )
        self.path = (parts.path or "/") + "simulator-return"
        self.url = f"http://{parts.hostname}:{parts.port or 80}{self.path}"
        self.fields: list[tuple[str, str]] | None = None
        self.done = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                listener.fields = urllib.parse.parse_qsl(
                    body.decode("utf-8"), keep_blank_values=True
                )
                page = (
                    b"<!doctype html><title>Cart received</title><h1>Cart received by the "
                    b"simulated procurement system</h1><p>Return to your terminal.</p>"
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                listener.done.set()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((parts.hostname, parts.port or 80), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, timeout: float) -> list[tuple[str, str]]:
        if not self.done.wait(timeout):
            raise SimulatorError(f"no cart came back within {timeout:.0f} seconds")
        return self.fields or []

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _envelope(creds: Credentials, body: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.069/cXML.dtd">
<cXML payloadID="sim-{secrets.token_hex(8)}@punchgate" timestamp="{format_timestamp()}" version="1.2.069" xml:lang="en-US">
  <Header>
    <From><Credential domain="{escape(creds.from_domain)}"><Identity>{escape(creds.from_identity)}</Identity></Credential></From>
    <To><Credential domain="NetworkID"><Identity>supplier</Identity></Credential></To>
    <Sender><Credential domain="{escape(creds.sender_domain)}"><Identity>{escape(creds.sender_identity)}</Identity><SharedSecret>{escape(creds.shared_secret)}</SharedSecret></Credential><UserAgent>Punchgate buyer simulator</UserAgent></Sender>
  </Header>
  <Request deploymentMode="test">{body}</Request>
</cXML>""".encode()  # noqa: E501


def post_cxml(url: str, document: bytes) -> tuple[int, str, bytes]:
    # The operator's --url, checked to be http(s) by the command.
    request = urllib.request.Request(  # noqa: S310
        url.rstrip("/") + "/cxml",
        data=document,
        method="POST",
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answer = response.read()
    except urllib.error.HTTPError as exc:
        answer = exc.read()
    status = parse(answer).root.find("Response/Status")
    return int(status.get("code")), status.get("text", ""), answer


def setup_request(creds: Credentials, return_url: str, email: str) -> bytes:
    return _envelope(
        creds,
        f"""<PunchOutSetupRequest operation="create">
      <BuyerCookie>sim-{secrets.token_hex(6)}</BuyerCookie>
      <Extrinsic name="UserEmail">{escape(email)}</Extrinsic>
      <BrowserFormPost><URL>{escape(return_url)}</URL></BrowserFormPost>
    </PunchOutSetupRequest>""",
    )


def oci_url(url: str, buyer: str, username: str, password: str, hook: str, email: str) -> str:
    query = urllib.parse.urlencode(
        {
            "USERNAME": username,
            "PASSWORD": password,
            "HOOK_URL": hook,
            "~OkCode": "ADDI",
            "~TARGET": "_top",
            "~CALLER": "CTLG",
            "email": email,
        }
    )
    return f"{url.rstrip('/')}/oci/{buyer}?{query}"


def read_cart(fields: list[tuple[str, str]]) -> tuple[list[CartLine], bytes | None]:
    """The cart lines from the posted form, and the cXML document when it was cXML."""
    values = {name.lower(): value for name, value in fields}
    document = None
    if "cxml-base64" in values:
        document = base64.b64decode(values["cxml-base64"])
    elif "cxml-urlencoded" in values:
        document = values["cxml-urlencoded"].encode("utf-8")
    if document is not None:
        root = parse(document).root
        lines = []
        for item in root.iter("ItemIn"):
            price = item.find("ItemDetail/UnitPrice/Money")
            lines.append(
                CartLine(
                    item.findtext("ItemID/SupplierPartID") or "",
                    item.findtext("ItemID/SupplierPartAuxiliaryID") or "",
                    item.get("quantity", ""),
                    item.findtext("ItemDetail/UnitOfMeasure") or "",
                    price.text if price is not None else "",
                    price.get("currency", "") if price is not None else "",
                    item.findtext("ItemDetail/Description") or "",
                )
            )
        return lines, document
    lines = [
        CartLine(
            i.get("VENDORMAT", ""),
            i.get("EXT_PRODUCT_ID", ""),
            i.get("QUANTITY", ""),
            i.get("UNIT", ""),
            i.get("PRICE", ""),
            i.get("CURRENCY", ""),
            i.get("DESCRIPTION", ""),
        )
        for i in parse_new_item_fields(fields)
    ]
    return lines, None


def order_request(creds: Credentials, lines: list[CartLine]) -> bytes:
    items = "".join(
        f'<ItemOut quantity="{escape(line.quantity)}" lineNumber="{n}"><ItemID>'
        f"<SupplierPartID>{escape(line.sku)}</SupplierPartID>"
        f"<SupplierPartAuxiliaryID>{escape(line.line_id)}</SupplierPartAuxiliaryID></ItemID>"
        f'<ItemDetail><UnitPrice><Money currency="{escape(line.currency or "USD")}">'
        f"{escape(line.price)}</Money></UnitPrice>"
        f'<Description xml:lang="en">{escape(line.description)}</Description>'
        f"<UnitOfMeasure>{escape(line.unit)}</UnitOfMeasure>"
        f'<Classification domain="UNSPSC"/></ItemDetail></ItemOut>'
        for n, line in enumerate(lines, start=1)
    )
    order_id = f"SIM-{secrets.token_hex(4).upper()}"
    header = (
        f'<OrderRequestHeader orderID="{order_id}" orderDate="{format_timestamp()}" '
        'type="new"><Total><Money currency="USD">0.00</Money></Total></OrderRequestHeader>'
    )
    return _envelope(creds, f"<OrderRequest>{header}{items}</OrderRequest>")
