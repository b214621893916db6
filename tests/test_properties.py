"""Property and fuzz tests: every parser and endpoint, fed what Hypothesis can think of.

Asserted for every case: no 5xx and no exception other than the parser's own
refusal; nothing half-stored (a refused request leaves no session or order);
round trips hold. CI runs the "ci" profile (fixed seed, bounded cases: see
tests/conftest.py); `make fuzz` runs many more.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
import uuid
from decimal import Decimal
from urllib.parse import quote_plus

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from gateway.cxml.documents import ItemIn, OrderMessage, order_message
from gateway.cxml.envelope import parse_envelope
from gateway.cxml.errors import CxmlError
from gateway.cxml.order import parse_order_request
from gateway.cxml.setup import parse_setup_request
from gateway.marketplace.events import sign
from gateway.mime import MimeError, split_related
from gateway.models import Order, PunchoutSession
from gateway.oci.call import OciCallError, parse_call
from gateway.sessions.events import redact_document
from gateway.xml import MalformedXML, UnsafeXML, decode_document, parse
from provisioning.buyers import ConfigError, parse_config
from provisioning.urls import normalise, url_allowed
from tests.documents import envelope, order_request, setup_request, status
from tests.helpers import sign_in
from tests.test_marketplace_events import HOOK_SECRET, hook_app  # noqa: F401  (fixture)
from tests.test_oci_endpoint import LOGIN

# Values a hostile or broken sender puts where a short string or number belongs.
NASTY = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "9" * 400,
        "1E+999999999",
        "-1",
        "0",
        "NaN",
        "Infinity",
        "x" * 10_000,
        "../../etc/passwd",
        "%2e%2e%2f",
        "' OR 1=1 --",
        "%_%",
        "<script>alert(1)</script>",
        "\u202e\ufeff",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "\r\nSet-Cookie: a=b",
        "9999-99-99",
    ]
)
VALUE = st.one_of(NASTY, st.text(max_size=60))
XML_SAFE = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<>&\"'"),
    max_size=40,
)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])


def encoded(doc: bytes, encoding: str) -> bytes:
    text = doc.decode("utf-8")
    if encoding.startswith(("utf-16", "utf-32")):
        text = text.replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"')
    return text.encode(encoding)


def count(gateway, model) -> int:
    with gateway.db.transaction() as db:
        return db.scalar(select(func.count()).select_from(model))


# -- pure parsers --------------------------------------------------------------------------


@given(st.one_of(st.binary(max_size=2000), ENCODINGS.flatmap(lambda e: st.just(e))))
def test_xml_parser_refuses_or_parses_anything(data):
    data = data if isinstance(data, bytes) else encoded(setup_request(), data)
    with contextlib.suppress(UnsafeXML, MalformedXML):
        parse(data)
    text = decode_document(data)
    assert isinstance(text, str) and "\x00" not in text


@given(VALUE, VALUE, VALUE, VALUE, ENCODINGS)
def test_cxml_envelope_and_setup_parsers_answer_with_a_status(cookie, url, email, pid, encoding):
    doc = setup_request(
        cookie=cookie,
        return_url=url,
        extrinsics={"UserEmail": email},
        payload_id=pid.replace('"', "") or None,
    )
    try:
        parsed = parse(encoded(doc, encoding))
        parse_setup_request(parse_envelope(parsed).body)
    except (UnsafeXML, MalformedXML, CxmlError):
        pass


@given(VALUE, VALUE, VALUE, VALUE, VALUE)
def test_order_parser_answers_with_a_status(qty, price, number, order_id, total):
    doc = order_request(
        [{"sku": "NW-1001", "qty": qty, "price": price, "number": number}],
        order_id=order_id,
        total=total,
    )
    try:
        order = parse_order_request(parse_envelope(parse(doc)).body)
    except (UnsafeXML, MalformedXML, CxmlError):
        return
    assert order.lines and all(line.quantity.is_finite() for line in order.lines)


@given(st.text(max_size=200), st.binary(max_size=3000))
def test_multipart_splitter_refuses_or_splits_anything(content_type, body):
    with contextlib.suppress(MimeError):
        split_related(content_type, body)


@given(st.lists(st.binary(max_size=200), max_size=60), st.booleans())
def test_multipart_round_trip(contents, with_start):
    parts = b"".join(
        b"--B\r\nContent-ID: <p%d>\r\nContent-Transfer-Encoding: base64\r\n\r\n" % i
        + base64.b64encode(c)
        + b"\r\n"
        for i, c in enumerate(contents)
    )
    ctype = "multipart/related; boundary=B" + ('; start="<p0>"' if with_start else "")
    try:
        root, others = split_related(ctype, parts + b"--B--\r\n")
    except MimeError as exc:
        assert not contents or len(contents) > 50, exc
        return
    assert [root] + [p.data for p in others] == contents


@given(st.one_of(st.text(max_size=200), VALUE.map(lambda v: f"http://127.0.0.1:9000/punchout/{v}")))
def test_return_urls_allowed_only_inside_the_allowed_path(url):
    if url_allowed(url, ["http://127.0.0.1:9000/punchout/"]):
        normal = normalise(url)
        assert normal is not None and normal.path.startswith("/punchout/")
        assert "/../" not in normal.path + "/" and "\\" not in url


@given(st.lists(st.tuples(st.sampled_from([*LOGIN, "FUNCTION", "QUANTITY", "PRODUCTID"]), VALUE)))
def test_oci_call_parser_refuses_or_parses_anything(pairs):
    try:
        call = parse_call(list(LOGIN.items()) + pairs)
    except OciCallError as exc:
        assert exc.message
        return
    assert call.quantity is None or Decimal(0) < call.quantity <= Decimal(1_000_000)


@given(st.text(max_size=500))
def test_buyer_file_parser_refuses_or_parses_anything(text):
    with contextlib.suppress(ConfigError):
        parse_config(text, env={})


# -- redaction: by meaning, in every encoding and transport ---------------------------------

# "Zq" keeps a generated secret from being a substring of the rest of the document.
SECRET = st.text(
    st.characters(whitelist_categories=("Lu", "Ll", "Nd"), max_codepoint=0x2FFF), min_size=10
).map(lambda s: "Zq" + s)


@given(SECRET, ENCODINGS, st.sampled_from(["raw", "urlencoded", "base64", "truncated"]))
def test_no_secret_survives_redaction(secret, encoding, transport):
    doc = encoded(setup_request(secret=secret), encoding)
    if transport == "urlencoded":
        doc = ("cxml-urlencoded=" + quote_plus(doc.decode(encoding))).encode()
    elif transport == "base64":
        doc = b"cxml-base64=" + quote_plus(base64.b64encode(doc).decode()).encode()
    elif transport == "truncated":
        doc = doc[: doc.find(secret.encode(encoding)[:8]) + 8] if encoding == "utf-8" else doc
    kept = redact_document(doc, secrets=[secret])
    assert secret not in kept and secret[:8] not in kept
    assert "\x00" not in kept


# -- round trip: cart -> PunchOutOrderMessage -> read back ----------------------------------

ITEM = st.builds(
    ItemIn,
    sku=XML_SAFE.filter(str.strip).map(str.strip),
    aux_id=st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
    quantity=st.decimals(min_value=1, max_value=1_000_000, places=3),
    unit_price=st.decimals(min_value=0, max_value=10**9, places=2),
    currency=st.just("USD"),
    description=XML_SAFE,
    uom=st.sampled_from(["EA", "BX", "PK"]),
)


@given(st.lists(ITEM, min_size=1, max_size=8))
def test_cart_round_trips_through_the_order_message(dtd, items):
    message = OrderMessage(
        buyer_cookie="cookie",
        from_=({"domain": "NetworkID", "identity": "AN1"},),
        to=({"domain": "NetworkID", "identity": "AN2"},),
        sender=({"domain": "NetworkID", "identity": "AN1"},),
        operation_allowed="edit",
        currency="USD",
        items=tuple(items),
        version="1.2.069",
    )
    raw = order_message(message)
    assert dtd.validate(raw) == []
    doc = parse(raw)
    back = [
        (
            i.findtext("ItemID/SupplierPartID"),
            i.findtext("ItemID/SupplierPartAuxiliaryID"),
            Decimal(i.get("quantity")),
            Decimal(i.findtext("ItemDetail/UnitPrice/Money")),
            i.findtext("ItemDetail/Description") or "",
        )
        for i in doc.root.iter("ItemIn")
    ]
    assert back == [(i.sku, i.aux_id, i.quantity, i.unit_price, i.description) for i in items]


# -- HTTP endpoints -------------------------------------------------------------------------


@given(VALUE, VALUE, VALUE, ENCODINGS)
def test_cxml_setup_endpoint_never_5xx_nor_half_stored(client, demo, cookie, url, email, enc):
    before = count(demo, PunchoutSession)
    doc = setup_request(cookie=cookie, return_url=url, extrinsics={"UserEmail": email})
    r = client.post("/cxml", data=encoded(doc, enc), content_type="text/xml")
    assert r.status_code < 500
    code, _ = status(r.data)
    assert code < 500
    assert count(demo, PunchoutSession) == before + (1 if code == 200 else 0)


@given(VALUE, VALUE, VALUE, VALUE)
def test_cxml_order_endpoint_never_5xx_nor_half_stored(client, demo, qty, price, number, total):
    before = count(demo, Order)
    doc = order_request(
        [{"sku": "NW-1001", "qty": qty, "price": price, "number": number}],
        order_id=f"PO-{uuid.uuid4().hex[:12]}",
        total=total,
    )
    r = client.post("/cxml", data=doc, content_type="text/xml")
    assert r.status_code < 500
    code, _ = status(r.data)
    assert code < 500
    assert count(demo, Order) - before in ((0, 1) if code == 200 else (0,))


@given(st.binary(max_size=3000), st.sampled_from(["text/xml", "multipart/related; boundary=B"]))
def test_cxml_endpoint_takes_any_bytes(client, demo, body, content_type):
    r = client.post("/cxml", data=body, content_type=content_type)
    assert r.status_code < 500 and status(r.data)[0] < 500
    assert count(demo, PunchoutSession) == 0


@given(st.dictionaries(st.sampled_from([*LOGIN, "FUNCTION", "QUANTITY", "PRODUCTID"]), VALUE))
def test_oci_endpoint_never_5xx(client, demo, params):
    r = client.post("/oci/acme", data={**LOGIN, **params})
    assert r.status_code < 500


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | NASTY,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)
EVENT = st.fixed_dictionaries(
    {},
    optional={
        k: JSON | NASTY
        for k in ("event_id", "type", "order_id", "carrier", "lines", "invoice_id", "reason")
    },
)


@given(EVENT, st.one_of(st.none(), NASTY))
def test_marketplace_webhook_never_5xx(hook_app, demo, event, timestamp):  # noqa: F811
    body = json.dumps(event).encode()
    ts = timestamp if timestamp is not None else str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Punchgate-Timestamp": ts}
    headers["X-Punchgate-Signature"] = sign(HOOK_SECRET, ts, body)
    try:
        r = hook_app.test_client().post("/api/v1/marketplace/events", data=body, headers=headers)
    except ValueError:  # werkzeug refuses a header with a newline before we see it
        return
    assert r.status_code < 500


@given(st.dictionaries(st.sampled_from(["q", "page", "category", "session"]), VALUE))
def test_storefront_never_5xx(client, demo, args):
    assert client.get("/shop/", query_string=args).status_code < 500


@given(
    st.sampled_from(["/support/", "/support/buyers", "/support/callers"]),
    st.dictionaries(
        st.sampled_from(
            ["q", "before", "buyer", "user", "status", "protocol", "from", "to", "days"]
        ),
        VALUE,
    ),
)
def test_console_never_5xx(client, agents, path, args):
    sign_in(client)
    assert client.get(path, query_string=args).status_code < 500


def test_an_envelope_helper_for_fuzzing_exists():
    # The fuzz tests above build their documents with tests.documents.envelope.
    assert envelope("<ProfileRequest/>").startswith(b"<?xml")
