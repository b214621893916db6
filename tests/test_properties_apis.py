"""Property tests for the parsers and endpoints tests/test_properties.py does not reach.

Catalog files (CSV, CIF 3.0, BMEcat), the fulfil documents and the order status
update, the JSON session API, the credential sync API, StartPage tokens and the
support console's id routes and POST forms. Each asserts: never a 5xx (or an
exception other than the parser's own refusal), and nothing half-stored.
Profile "ci" (tests/conftest.py): fixed seed, 40 cases each.
"""

from __future__ import annotations

import contextlib
import json
import time
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from gateway.catalog.decoding import EncodingError
from gateway.catalog.loader import CatalogError, load, read
from gateway.cxml import fulfil
from gateway.cxml.errors import CxmlError
from gateway.cxml.status_update import parse_status_update
from gateway.marketplace.events import sign
from gateway.models import (
    Agent,
    CartLine,
    Order,
    Product,
    PunchoutSession,
    User,
)
from gateway.xml import MalformedXML, UnsafeXML, parse
from tests.documents import envelope
from tests.helpers import bearer, csrf, open_session, sign_in
from tests.test_marketplace_events import HOOK_SECRET, hook_app  # noqa: F401  (fixture)
from tests.test_properties import JSON, NASTY, VALUE

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = [
    (ROOT / "fixtures" / "demo" / "catalog.csv").read_bytes(),
    (ROOT / "fixtures" / "catalogs" / "northwind.cif").read_bytes(),
    (ROOT / "fixtures" / "catalogs" / "northwind-bmecat.xml").read_bytes(),
]


def count(gateway, model) -> int:
    with gateway.db.transaction() as db:
        return db.scalar(select(func.count()).select_from(model))


# -- catalog files --------------------------------------------------------------------------


@st.composite
def mutated_catalog(draw) -> bytes:
    """A real catalog file with bytes cut, replaced or inserted somewhere."""
    data = draw(st.sampled_from(CATALOGS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        cut = draw(st.integers(0, 40))
        data = data[:at] + draw(st.binary(max_size=20)) + data[at + cut :]
    return data


@st.composite
def generated_csv(draw) -> bytes:
    """The demo header and rows whose cells are anything a spreadsheet could hold."""
    header = CATALOGS[0].split(b"\n", 1)[0].decode()
    width = header.count(",") + 1
    cell = VALUE.map(lambda v: '"' + v.replace('"', '""') + '"')
    rows = draw(st.lists(st.lists(cell, min_size=width, max_size=width), max_size=4))
    text = "\n".join([header, *(",".join(r) for r in rows)])
    return text.encode(draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])), "replace")


CATALOG_BYTES = st.one_of(st.binary(max_size=2000), mutated_catalog(), generated_csv())


@given(
    CATALOG_BYTES,
    st.sampled_from([None, "csv", "cif", "bmecat"]),
    st.sampled_from([None, "utf-8", "latin-1", "utf-16", "no-such-encoding"]),
)
def test_catalog_files_load_or_raise_the_loaders_own_error(demo, data, fmt, encoding):
    """Any bytes, any format and encoding asked for: loaded, or CatalogError/EncodingError."""
    before = count(demo, Product)
    try:
        parsed = read(data, fmt, encoding)
    except EncodingError:
        return
    with demo.db.sessionmaker() as db:
        try:
            summary = load(db, parsed, skip_bad=True)
        except CatalogError as exc:
            assert exc.errors
        else:
            assert summary.products >= 0
        finally:
            db.rollback()
    assert count(demo, Product) == before


# -- fulfil documents and status updates ----------------------------------------------------

ANY_TEXT = st.one_of(NASTY, st.text(max_size=40))
PARTIES = fulfil.Parties(
    ({"domain": "NetworkID", "identity": "AN01000000099"},),
    ({"domain": "NetworkID", "identity": "AN01000000001"},),
    ({"domain": "NetworkID", "identity": "AN01000000099"},),
)
XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=40,
)
LINE = st.builds(
    fulfil.Line,
    line_number=st.integers(1, 2**31 - 1),
    quantity=st.decimals(min_value=Decimal("0.001"), max_value=10**12, places=3),
    uom=st.sampled_from(["EA", "BX"]),
    sku=XML_TEXT,
    aux_id=st.none() | XML_TEXT,
    unit_price=st.none() | st.decimals(min_value=0, max_value=10**13, places=4),
    currency=st.just("USD"),
    description=XML_TEXT,
)


@given(
    st.lists(LINE, max_size=5),
    XML_TEXT,
    XML_TEXT,
    st.sampled_from(fulfil.CONFIRMATION_TYPES),
    st.booleans(),
)
def test_fulfil_documents_are_well_formed_for_any_stored_values(lines, carrier, words, kind, memo):
    """What a stored order and a checked event hold always makes a document that parses."""
    ref = fulfil.OrderRef("PO-1", None, "p@buyer.test")
    documents = [
        fulfil.confirmation(
            PARTIES, ref, kind, lines, confirm_id="c-1", version="1.2.069", comment=words
        ),
        fulfil.ship_notice(
            PARTIES,
            ref,
            lines,
            shipment_id="s",
            carrier=carrier,
            tracking_number=words,
            version="1.2.069",
        ),
        fulfil.invoice(
            PARTIES,
            ref,
            lines,
            invoice_id="i-1",
            version="1.2.069",
            currency="USD",
            credit_memo=memo,
        ),
    ]
    for document in documents:
        assert parse(document).root.tag == "cXML"


@given(ANY_TEXT, ANY_TEXT, ANY_TEXT, st.sampled_from(["", "PaymentStatus", "InvoiceStatus"]))
def test_status_update_parser_answers_with_a_status(reference, code, words, kind):
    from xml.sax.saxutils import quoteattr

    ref = f"<DocumentReference payloadID={quoteattr(reference)}/>" if reference != " " else ""
    extra = f"<{kind}/>" if kind else ""
    body = (
        f"<StatusUpdateRequest>{ref}<Status code={quoteattr(code)} text={quoteattr(words)}/>"
        f"{extra}</StatusUpdateRequest>"
    )
    try:
        doc = parse(envelope(body))
        update = parse_status_update(doc.root.find("Request/StatusUpdateRequest"))
    except (UnsafeXML, MalformedXML, CxmlError, ValueError):
        return
    assert update.code >= 0


@given(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["confirmed", "shipped", "invoiced", "rejected"])},
        optional={k: ANY_TEXT for k in ("carrier", "tracking_number", "invoice_id", "reason")},
    ),
    ANY_TEXT,
)
def test_marketplace_events_with_any_text_never_5xx(hook_app, outbound_order, event, event_id):  # noqa: F811
    """Event details become cXML sent to the buyer: text XML cannot hold is a 400, not a 500."""
    event = {**event, "event_id": event_id, "order_id": outbound_order}
    body = json.dumps(event).encode()
    ts = str(int(time.time()))
    r = hook_app.test_client().post(
        "/api/v1/marketplace/events",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Punchgate-Timestamp": ts,
            "X-Punchgate-Signature": sign(HOOK_SECRET, ts, body),
        },
    )
    assert r.status_code < 500, r.data[:300]


# -- JSON session API -----------------------------------------------------------------------

API_CALLS = st.sampled_from(
    [
        ("post", "/api/v1/punchout/cart/items"),
        ("put", "/api/v1/punchout/cart/items/NW-1001"),
        ("put", "/api/v1/punchout/cart/items/%00"),
        ("delete", "/api/v1/punchout/cart/items/NW-1001"),
        ("get", "/api/v1/punchout/session"),
        ("get", "/api/v1/punchout/products"),
        ("post", "/api/v1/punchout/transfer"),
    ]
)
API_BODY = st.one_of(
    JSON,
    st.fixed_dictionaries({}, optional={"sku": JSON | NASTY, "quantity": JSON | NASTY}),
)


@given(
    API_CALLS, API_BODY, st.dictionaries(st.sampled_from(["q", "limit", "offset", "sort"]), VALUE)
)
def test_session_api_never_5xx_whatever_the_json(client, demo, api_token, call, body, args):
    method, path = call
    r = getattr(client, method)(
        path,
        data=json.dumps(body),
        content_type="application/json",
        query_string=args,
        headers={**bearer(api_token), "Accept": "application/json"},
    )
    assert r.status_code < 500, r.data[:300]
    with demo.db.transaction() as db:
        lines = db.scalars(select(CartLine)).all()
    assert all(Decimal(0) < line.quantity <= Decimal(1_000_000) for line in lines)


@given(st.one_of(NASTY, st.text(max_size=80)), API_CALLS)
def test_session_api_never_5xx_whatever_the_token(client, demo, token, call):
    method, path = call
    try:
        r = getattr(client, method)(path, json={"sku": "NW-1001"}, headers=bearer(token))
    except ValueError:  # werkzeug refuses a header with a newline before the gateway sees it
        return
    assert r.status_code in (400, 401, 403, 404, 405, 409, 410), r.status_code
    assert count(demo, CartLine) == 0


# -- credential sync API --------------------------------------------------------------------

SYNC_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "X-Punchgate-Credential": st.one_of(NASTY, st.just("NetworkID/AN01000000001")),
        "X-Punchgate-Timestamp": st.one_of(NASTY, st.just(str(int(time.time())))),
        "X-Punchgate-Nonce": NASTY,
        "X-Punchgate-Signature": st.one_of(NASTY, st.just("sha256=" + "0" * 64)),
    },
)


@given(
    st.one_of(NASTY, st.sampled_from(["acme", "globex", "initech"])),
    SYNC_HEADERS,
    st.one_of(st.binary(max_size=300), JSON.map(lambda v: json.dumps(v).encode())),
)
def test_credential_sync_api_never_5xx_nor_changes_anything(client, demo, buyer, headers, body):
    from gateway.models import BuyerCredential

    before = count(demo, BuyerCredential)
    from urllib.parse import quote

    path = f"/api/v1/buyers/{quote(buyer, safe='')}/credentials"
    try:
        r = client.post(path, data=body, headers=headers, content_type="application/json")
    except ValueError:  # a header value with a newline never reaches the gateway
        return
    # 4xx, or a redirect where the URL itself normalises ("..", "."): never stored.
    assert 300 <= r.status_code < 500, r.status_code
    assert count(demo, BuyerCredential) == before


# -- StartPage tokens -----------------------------------------------------------------------


@given(st.one_of(NASTY, st.text(min_size=1, max_size=200)))
def test_start_page_with_any_token_never_5xx_nor_opens_a_session(client, demo, token):
    from urllib.parse import quote

    r = client.get("/punchout/start/" + quote(token, safe=""))
    assert r.status_code in (400, 404, 410), r.status_code
    with demo.db.transaction() as db:
        assert not db.scalars(
            select(PunchoutSession).where(PunchoutSession.started_at.is_not(None))
        ).all()


# -- support console: id routes and POST forms ----------------------------------------------

ID = st.one_of(
    st.integers(min_value=0, max_value=2**70),
    st.sampled_from(["-1", "1e3", "%00", "abc", "9" * 40]),
)


def console_paths(app, method: str) -> list[str]:
    return sorted(
        r.rule
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("support.") and method in r.methods and "<" in r.rule
    )


def fill(rule: str, value, buyer: str) -> str:
    import re

    rule = rule.replace("<buyer_id>", buyer)
    return re.sub(r"<[^>]+>", str(value), rule)


@given(st.data(), ID, st.one_of(st.sampled_from(["acme", "globex"]), NASTY))
def test_console_id_routes_never_5xx(app, client, agents, data, value, buyer):
    from urllib.parse import quote

    sign_in(client, "admin@supplier.example", __import__("tests.helpers").helpers.ADMIN_PASSWORD)
    rule = data.draw(st.sampled_from(console_paths(app, "GET")))
    r = client.get(fill(rule, value, quote(buyer, safe="")))
    assert r.status_code < 500, (rule, r.status_code)


@given(
    st.data(),
    ID,
    st.dictionaries(
        st.sampled_from(["email", "name", "role", "roles", "password", "next", "reason", "note"]),
        VALUE,
    ),
)
def test_console_post_forms_never_5xx_nor_half_stored(app, client, agents, data, value, form):
    """Every console POST, any id and any field, with a valid CSRF token: a 4xx or a redirect."""
    from tests.helpers import ADMIN_PASSWORD

    sign_in(client, "admin@supplier.example", ADMIN_PASSWORD)
    rules = [
        r.rule
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("support.")
        and "POST" in r.methods
        and r.endpoint not in ("support.sign_in", "support.sign_out")
    ]
    rule = data.draw(st.sampled_from(sorted(rules)))
    users, orders, agents_before = count(agents, User), count(agents, Order), count(agents, Agent)
    token = csrf(client, "/support/")
    r = client.post(fill(rule, value, "acme"), data={**form, "csrf_token": token})
    assert r.status_code < 500, (rule, r.status_code)
    if r.status_code >= 400:
        assert (count(agents, User), count(agents, Order), count(agents, Agent)) == (
            users,
            orders,
            agents_before,
        )


# -- fixtures -------------------------------------------------------------------------------

import pytest  # noqa: E402


@pytest.fixture
def api_token(client, demo) -> str:
    return open_session(client)


@pytest.fixture
def outbound_order(client, demo, tmp_path) -> int:
    """An order of a buyer with an outbound URL: events about it build cXML documents."""
    from gateway import outbox
    from tests.conftest import demo_buyers_with, write_buyers
    from tests.documents import order_request, status

    toml = demo_buyers_with(
        '[buyer.outbound]\nurl = "http://127.0.0.1:9/never"\n'
        'shared_secret = "outbound-secret-for-property-tests"'
    )
    write_buyers(demo, tmp_path, toml)
    body = order_request([{"sku": "NW-1001", "qty": "2", "price": "12.90"}], order_id="PO-EV")
    assert status(client.post("/cxml", data=body).data)[0] == 200
    with contextlib.suppress(Exception):
        outbox.run_once(demo)
    with demo.db.transaction() as db:
        return db.scalars(select(Order)).one().id
