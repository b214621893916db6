"""Every document of ../shared/interop/more/manifest.toml through the real HTTP app.

The manifest says, for each real document, what a real gateway answers. Each
[[doc]] is one test case, so a document added to the manifest is tested without
a code change. The gateway runs as a real WSGI server on loopback; the buyer's
BrowserFormPost / HOOK_URL is moved to a local listener (path and query kept),
and a missing or empty Sender SharedSecret or Identity is filled in, as the
manifest asks of whoever sends the documents.
"""

from __future__ import annotations

import csv
import json
import re
import secrets
import threading
import tomllib
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from click.testing import CliRunner
from lxml import html
from sqlalchemy import func, select
from werkzeug.serving import WSGIRequestHandler, make_server

from gateway.catalog.loader import load_path
from gateway.cxml.envelope import parse_envelope
from gateway.cxml.setup import parse_setup_request
from gateway.models import Product
from gateway.xml import MalformedXML, UnsafeXML, parse
from tests.conftest import (
    DEMO,
    INTEROP,
    SECRET_KEY,
    remember_secret,
    requires_shared,
    write_buyers,
)
from tests.documents import status
from tests.e2e.conftest import ReturnListener, free_port
from tests.helpers import decoded_cart

MORE = INTEROP / "more"
MANIFEST = MORE / "manifest.toml"
DOCS = tomllib.loads(MANIFEST.read_text())["doc"] if MANIFEST.exists() else []

pytestmark = requires_shared

# One product per search term the manifest's OCI calls use, beside the demo catalog.
EXTRA_PRODUCTS = (
    "sku,description,unit_price,currency,uom,unspsc,manufacturer,manufacturer_part_id,"
    "lead_time_days,category,buyer_id,contract_price\n"
    'TN-2001,"Toner cartridge, black, 3,000 pages",59.00,USD,EA,44103103,Brother,TN-2420,'
    "2,Office,,\n"
)


SUPPLIER = (
    "[supplier]",
    'name = "Interop Supplier"',
    "[[supplier.credential]]",
    'domain = "NetworkID"',
    'identity = "AN-SUPPLIER"',
)


class QuietHandler(WSGIRequestHandler):
    """No access log: this test server is not what the secret scan is about."""

    def log_request(self, *args, **kwargs):
        pass


class Gateway:
    """The app under a real WSGI server on a free loopback port."""

    def __init__(self, app):
        self.server = make_server(
            "127.0.0.1", free_port(), app, threaded=True, request_handler=QuietHandler
        )
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body) without following redirects."""

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        req = urllib.request.Request(
            self.base + path, data=body, headers=headers or {}, method=method
        )
        if body is not None and not any(k.lower() == "content-type" for k in headers or {}):
            # urllib would add application/x-www-form-urlencoded; "none" means none.
            req.add_unredirected_header("Content-Type", "")
        try:
            with opener.open(req, timeout=30) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live(app):
    server = Gateway(app)
    yield server
    server.close()


@pytest.fixture
def catalog(gateway, tmp_path):
    """The demo catalog's list prices (no demo buyers: their identities stay free)."""
    with (DEMO / "catalog.csv").open(newline="") as f:
        rows = [row for row in csv.DictReader(f) if not row["buyer_id"]]
    path = tmp_path / "catalog.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        f.write(EXTRA_PRODUCTS.split("\n", 1)[1])
    with gateway.db.transaction() as db:
        load_path(db, path)
    return gateway


@pytest.fixture
def listener():
    listener = ReturnListener()
    yield listener
    listener.close()


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def prepare_cxml(raw: bytes, listener: ReturnListener) -> tuple[bytes, str]:
    """The document as the sender sends it, and a buyer file that accepts it.

    Only what the manifest allows is changed, as text, so every serializer quirk
    (BOM, CRLF, quotes, DOCTYPE case) stays as it is.
    """
    try:
        parse(raw)
    except (UnsafeXML, MalformedXML):
        return raw, "\n".join(SUPPLIER) + "\n"  # refused before anyone is identified
    secret = "interop-" + secrets.token_hex(12)
    sender = re.search(rb"<Sender\b.*?</Sender>", raw, re.DOTALL)
    block = sender.group(0)
    fixed = re.sub(
        rb"<Identity\s*/>|<Identity>\s*</Identity>", b"<Identity>interop</Identity>", block
    )
    if re.search(rb"<SharedSecret>\s*[^<\s][^<]*</SharedSecret>", fixed) is None:
        fixed = re.sub(rb"<SharedSecret\s*/>|<SharedSecret>\s*</SharedSecret>", b"", fixed)
        fixed = re.sub(
            rb"(</Identity>)",
            rb"\1<SharedSecret>" + secret.encode() + rb"</SharedSecret>",
            fixed,
            count=1,
        )
    raw = raw.replace(block, fixed)
    env = parse_envelope(parse(raw))
    lines = [*SUPPLIER, "[[buyer]]", 'id = "interop"', 'name = "Interop Buyer"']
    prefixes = [listener.url("/")]
    if env.name == "PunchOutSetupRequest":
        url = parse_setup_request(env.body).browser_form_post
        if url:
            origin = _origin(url)
            # The document carries the URL as XML text: replace its origin as written.
            raw = raw.replace(origin.encode(), listener.url("").encode(), 1)
    lines.append(f"return_url_prefixes = [{', '.join(_toml(p) for p in prefixes)}]")
    for cred in env.from_:
        lines += ["[[buyer.cxml.from]]", f"domain = {_toml(cred.domain)}"]
        lines.append(f"identity = {_toml(cred.identity)}")
    for cred in env.sender:
        if cred.shared_secret:
            remember_secret(cred.shared_secret)
            lines += ["[[buyer.cxml.sender]]", f"domain = {_toml(cred.domain)}"]
            lines += [f"identity = {_toml(cred.identity)}"]
            lines += [f"shared_secret = {_toml(cred.shared_secret)}"]
    # Real documents carry short demo secrets ("ALD", "XXXX"); no user is named in some.
    lines += ["[buyer.credentials]", "allow_weak = true"]
    lines += ["[buyer.provisioning]", "auto_create_users = true", 'unidentified_users = "generic"']
    return raw, "\n".join(lines) + "\n"


def multipart_related(raw: bytes, folder: Path) -> tuple[bytes, str]:
    """The document as Ariba sends attachments: multipart/related, one part per cid:."""
    boundary = "interop-" + uuid.uuid4().hex
    root_id = "cxml-root@interop.test"
    cids = re.findall(rb"<URL\b[^>]*>\s*cid:([^<\s]+)\s*</URL>", raw)
    parts = [
        (
            f"--{boundary}\r\nContent-Type: text/xml; charset=UTF-8\r\n"
            f"Content-ID: <{root_id}>\r\n\r\n"
        ).encode()
        + raw
        + b"\r\n"
    ]
    for cid in dict.fromkeys(cids):
        name = cid.decode()
        parts.append(
            (
                f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-ID: <{name}>\r\n"
                f'Content-Disposition: attachment; filename="{name.split("@")[0]}"\r\n\r\n'
            ).encode()
            + f"attachment {name} of {folder.name}".encode()
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    content_type = f'multipart/related; boundary="{boundary}"; type="text/xml"; start="<{root_id}>"'
    return body, content_type


def send_cxml(live, raw: bytes, doc: dict) -> tuple[int, str, bytes]:
    transport = doc.get("transport", "text/xml")
    if transport == "multipart":
        body, content_type = multipart_related(raw, MORE / doc["file"])
        headers = {"Content-Type": content_type}
    elif transport == "none":
        body, headers = raw, {}
    else:
        body, headers = raw, {"Content-Type": transport}
    http, _, answer = live.request("POST", "/cxml", body, headers)
    assert http in (200, 500), answer[:500]
    code, text = status(answer)
    assert http == 200, f"HTTP {http}: {code} {text}"
    return code, text, answer


def orders_listed(database_url: str) -> list[dict]:
    from gateway.cli import main

    result = CliRunner().invoke(
        main,
        ["orders", "list", "--json"],
        env={"PUNCHGATE_DATABASE_URL": database_url, "PUNCHGATE_SECRET_KEY": SECRET_KEY},
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def session_token(location: str) -> str:
    return dict(parse_qsl(urlsplit(location).query))["session"]


def shop_and_transfer(live, token: str):
    """Add one product through the session API and ask for the transfer page."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    http, _, body = live.request(
        "POST",
        "/api/v1/punchout/cart/items",
        json.dumps({"sku": "NW-1001", "quantity": 2}).encode(),
        auth,
    )
    assert http in (200, 201), body[:300]
    return live.request(
        "POST",
        "/api/v1/punchout/transfer",
        urlencode({"session": token}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )


def post_form(page: bytes) -> tuple[str, list[tuple[str, str]]]:
    """What the browser posts: the auto-submitting form's action and fields."""
    form = html.fromstring(page).get_element_by_id("transfer-form")
    return form.get("action"), [(i.get("name"), i.get("value") or "") for i in form.iter("input")]


def deliver(action: str, fields: list[tuple[str, str]]) -> None:
    req = urllib.request.Request(
        action,
        data=urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback listener
        assert r.status == 200


def run_setup(doc, live, catalog, tmp_path, listener, dtd):
    raw, config = prepare_cxml((MORE / doc["file"]).read_bytes(), listener)
    write_buyers(catalog, tmp_path, config)
    code, text, answer = send_cxml(live, raw, doc)
    assert code == 200, text
    assert dtd.validate(answer) == [], "the PunchOutSetupResponse is not DTD-valid"
    start_url = parse(answer).root.findtext("Response/PunchOutSetupResponse/StartPage/URL")
    http, headers, _ = live.request(
        "GET", urlsplit(start_url).path + "?" + urlsplit(start_url).query
    )
    assert http == 302
    location = headers["Location"]
    http, _, page = live.request("GET", urlsplit(location).path + "?" + urlsplit(location).query)
    assert http == 200, page[:300]
    http, _, page = shop_and_transfer(live, session_token(location))
    if doc["expect"] == "punchout-noreturn":
        assert http in (400, 409), page[:300]
        assert b"BrowserFormPost" in page
        return
    assert http == 200, page[:500]
    action, fields = post_form(page)
    assert action.startswith(listener.url("/"))
    poom = decoded_cart(dict(fields))
    assert dtd.validate(poom) == [], "the PunchOutOrderMessage is not DTD-valid"
    root = parse(poom).root
    assert [i.findtext("ItemID/SupplierPartID") for i in root.iter("ItemIn")] == ["NW-1001"]
    deliver(action, fields)
    assert listener.wait()


def run_order(doc, live, catalog, tmp_path, listener, database_url):
    raw, config = prepare_cxml((MORE / doc["file"]).read_bytes(), listener)
    write_buyers(catalog, tmp_path, config)
    code, text, _ = send_cxml(live, raw, doc)
    assert str(code) in doc["expect_codes"], f"{code} {text}"
    if code >= 400 and doc.get("expect_text"):
        assert any(t.casefold() in text.casefold() for t in doc["expect_text"]), text
    if code in (200, 201):
        order_id = parse(raw).root.find(".//OrderRequestHeader").get("orderID")
        listed = orders_listed(database_url)
        assert order_id in [o["order_id"] for o in listed], listed


def multipart_form(fields: list[tuple[str, str]]) -> tuple[bytes, str]:
    boundary = "----oci" + uuid.uuid4().hex
    body = b"".join(
        (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n').encode()
        + value.encode()
        + b"\r\n"
        for name, value in fields
    )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def run_oci(doc, live, catalog, tmp_path, listener):
    call = json.loads((MORE / doc["file"]).read_text())
    oci = doc["oci"]
    remember_secret(oci["password"])
    hook_field = "HOOK_URL"

    def moved(pairs):
        out = []
        for name, value in pairs:
            if name.upper() == hook_field:
                parts = urlsplit(value)
                value = listener.url(
                    (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                )
            out.append((name, value))
        return out

    query = moved(parse_qsl(call["query"], keep_blank_values=True))
    form = moved([tuple(p) for p in call["form"]])
    config = [
        *SUPPLIER,
        "[[buyer]]",
        'id = "interop"',
        'name = "Interop Buyer"',
        f"return_url_prefixes = [{_toml(listener.url('/'))}]",
        "[buyer.oci]",
        f"username = {_toml(oci['username'])}",
        f"password = {_toml(oci['password'])}",
    ]
    for key in ("username_fields", "password_fields"):
        if key in oci:
            config.append(f"{key} = [{', '.join(_toml(v) for v in oci[key])}]")
    config += ["[buyer.credentials]", "allow_weak = true"]
    config += ["[buyer.provisioning]", "auto_create_users = true", 'unidentified_users = "generic"']
    write_buyers(catalog, tmp_path, "\n".join(config) + "\n")
    path = "/oci/interop?" + urlencode(query)
    if call["method"] == "GET":
        http, headers, page = live.request("GET", path)
    elif call["enctype"] == "multipart/form-data":
        body, content_type = multipart_form(form)
        http, headers, page = live.request("POST", path, body, {"Content-Type": content_type})
    else:
        http, headers, page = live.request(
            "POST", path, urlencode(form).encode(), {"Content-Type": call["enctype"]}
        )
    if doc["expect"] == "refused":
        assert 400 <= http < 500, page[:300]
        return
    if doc["expect"] == "shop":
        assert http == 302, page[:500]
        http, _, page = shop_and_transfer(live, session_token(headers["Location"]))
        assert http == 200, page[:500]
        action, fields = post_form(page)
        names = dict(fields)
        assert names["NEW_ITEM-VENDORMAT[1]"] == "NW-1001"
    else:  # background: no page, the hits go straight back to HOOK_URL
        assert http == 200, page[:500]
        action, fields = post_form(page)
        found = [v for k, v in fields if k.startswith("NEW_ITEM-VENDORMAT[")]
        if doc.get("search") == "*":
            # The SAP wildcard: the whole catalog (demo products plus the extra ones).
            with catalog.db.transaction() as db:
                everything = db.scalar(select(func.count()).select_from(Product))
            assert len(found) == everything, found
        else:
            assert found, f"nothing found for {doc.get('search')!r}"
    assert action.startswith(listener.url("/"))
    deliver(action, fields)
    assert listener.wait()


@pytest.mark.parametrize("doc", DOCS, ids=[d["id"] for d in DOCS])
def test_manifest_document(doc, live, catalog, tmp_path, listener, dtd, database_url):
    if doc["kind"] == "setup":
        run_setup(doc, live, catalog, tmp_path, listener, dtd)
    elif doc["kind"] == "order":
        run_order(doc, live, catalog, tmp_path, listener, database_url)
    elif doc["kind"] == "oci":
        run_oci(doc, live, catalog, tmp_path, listener)
    else:
        pytest.fail(f"manifest kind {doc['kind']!r} is not known to this test")


def test_manifest_is_complete():
    """Each document the manifest names is there, and each kind is one this test runs."""
    assert DOCS
    for doc in DOCS:
        assert (MORE / doc["file"]).exists(), doc["file"]
        assert doc["kind"] in ("setup", "order", "oci"), doc["id"]
