"""Input an attacker or a broken buyer system sends: never a 500, the same 4xx on every database.

Each test sends what a buyer's system could, asserts the answer names the field at fault,
and that nothing of the refused request is stored. The suite runs on SQLite and
PostgreSQL; PostgreSQL used to answer several of these with "transient" 500s.
"""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import pytest
from sqlalchemy import func, select

from gateway.models import AuthThrottle, Event, Order, PunchoutSession
from tests.documents import ACME_SECRET, order_request, setup_request, status
from tests.helpers import sign_in
from tests.test_oci_endpoint import LOGIN


def count(gateway, model) -> int:
    with gateway.db.transaction() as db:
        return db.scalar(select(func.count()).select_from(model))


def stored_documents(gateway) -> list[str]:
    with gateway.db.transaction() as db:
        return [d for d in db.scalars(select(Event.document)) if d]


def post(client, body: bytes, content_type: str = "text/xml"):
    r = client.post("/cxml", data=body, content_type=content_type)
    assert r.status_code < 500, r.data[:500]
    return r


def utf(encoding: str, doc: bytes) -> bytes:
    text = doc.decode("utf-8")
    if encoding.startswith(("utf-16", "utf-32")):
        text = text.replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"')
    return text.encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_setup_in_any_unicode_encoding_is_served_and_logged_readable(client, demo, encoding):
    r = post(client, utf(encoding, setup_request()))
    assert status(r.data)[0] == 200
    documents = stored_documents(demo)
    incoming = [d for d in documents if "PunchOutSetupRequest" in d]
    assert incoming, "the setup request is kept as readable text"
    assert all("\x00" not in d for d in documents)
    assert all(ACME_SECRET not in d for d in documents)
    assert "<SharedSecret>[redacted]</SharedSecret>" in incoming[0]


def test_declared_encoding_that_does_not_match_the_bytes_is_a_400(client, demo):
    doc = setup_request().replace(b'encoding="UTF-8"', b'encoding="UTF-16"')
    r = post(client, doc)
    assert status(r.data)[0] in (200, 400)
    assert all(ACME_SECRET not in d for d in stored_documents(demo))


def test_nul_bytes_and_invalid_utf8_are_refused_not_stored(client, demo):
    doc = setup_request(cookie="abc").replace(b"abc", b"a\x00\xff\xfe")
    r = post(client, doc)
    assert status(r.data)[0] == 400
    assert count(demo, PunchoutSession) == 0


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"payload_id": "p" * 10_000}, "payloadID"),
        ({"cookie": "c" * 10_000}, "BuyerCookie"),
        (
            {"extrinsics": {"UserEmail": "u" * 10_000 + "@acme.example", "UniqueName": "u"}},
            "UserEmail",
        ),
    ],
)
def test_oversized_setup_fields_are_406_naming_the_field(client, demo, kwargs, field):
    code, text = status(post(client, setup_request(**kwargs)).data)
    assert code == 406
    assert field in text
    assert count(demo, PunchoutSession) == 0


@pytest.mark.parametrize(
    "order_kwargs, field",
    [
        ({"order_id": "O" * 1_000}, "orderID"),
        ({"lines": [{"sku": "S" * 1_000, "qty": "1", "price": "1.00"}]}, "SupplierPartID"),
        ({"lines": [{"sku": "BOLT-M8", "qty": "9" * 400, "price": "1.00"}]}, "quantity"),
        ({"lines": [{"sku": "BOLT-M8", "qty": "1", "price": "9" * 400}]}, "UnitPrice"),
        (
            {"lines": [{"sku": "BOLT-M8", "qty": "1", "price": "1.00", "number": "9" * 100}]},
            "lineNumber",
        ),
        ({"total": "1" + "0" * 20}, "Total"),
    ],
)
def test_order_values_out_of_range_are_406_naming_the_field(client, demo, order_kwargs, field):
    kwargs = {"lines": [{"sku": "BOLT-M8", "qty": "1", "price": "1.00"}], **order_kwargs}
    code, text = status(post(client, order_request(**kwargs)).data)
    assert code == 406, text
    assert field in text
    assert count(demo, Order) == 0


@pytest.mark.parametrize("transport", ["urlencoded", "base64"])
def test_a_refused_form_body_keeps_no_secret_in_its_excerpt(client, demo, transport):
    doc = setup_request()
    field = (
        "cxml-urlencoded=" + quote_plus(doc.decode())
        if transport == "urlencoded"
        else "cxml-base64=" + quote_plus(base64.b64encode(doc).decode())
    )
    r = post(client, field.encode(), "application/x-www-form-urlencoded")
    assert status(r.data)[0] == 400
    documents = stored_documents(demo)
    assert documents, "the refusal keeps an excerpt for support"
    assert all(ACME_SECRET not in d for d in documents)


def oci(client, **params):
    r = client.post("/oci/acme", data={**LOGIN, **params})
    assert r.status_code < 500, r.data[:500]
    return r


def test_oci_nul_bytes_in_a_failed_login_still_count_towards_the_back_off(client, demo):
    for _ in range(6):
        r = oci(client, USERNAME="acme_srm\x00", PASSWORD="wrong\x00")
    assert r.status_code in (401, 429)
    assert count(demo, AuthThrottle) == 1
    assert r.status_code == 429 or count(demo, Event) >= 6


def test_oci_nul_bytes_in_a_parameter_are_a_400_naming_it(client, demo):
    r = oci(client, email="max\x00@acme.example")
    assert r.status_code == 400
    assert "email" in r.get_data(as_text=True)
    assert count(demo, PunchoutSession) == 0


def test_oci_validate_with_a_huge_quantity_is_a_400_and_opens_no_session(client, demo):
    r = oci(client, FUNCTION="VALIDATE", PRODUCTID="BOLT-M8", QUANTITY="9" * 35)
    assert r.status_code == 400
    assert "QUANTITY" in r.get_data(as_text=True)
    assert count(demo, PunchoutSession) == 0


HUGE = "9" * 23


@pytest.mark.parametrize(
    "path, code",
    [
        (f"/support/sessions/{HUGE}", 404),
        (f"/support/orders/{HUGE}", 404),
        (f"/support/?before={HUGE}", 400),
    ],
)
def test_console_ids_out_of_range_are_not_found(client, agents, path, code):
    sign_in(client)
    assert client.get(path).status_code == code


def test_storefront_page_out_of_range_is_a_400(client, demo):
    assert client.get(f"/shop/?page={HUGE}").status_code == 400


def many_elements(count: int, secret: str | None) -> bytes:
    from tests.documents import envelope

    body = (
        '<PunchOutSetupRequest operation="create"><BuyerCookie>c</BuyerCookie>'
        + "<Extrinsic name='x'>y</Extrinsic>" * count
        + "</PunchOutSetupRequest>"
    )
    return envelope(body, **({"secret": secret} if secret else {}))


def test_a_document_over_the_element_limit_is_refused_before_authentication(client, demo):
    code, text = status(post(client, many_elements(300_000, "wrong-secret")).data)
    assert code == 400
    assert "300016 elements, over the limit of 250000" in text
    assert count(demo, PunchoutSession) == 0


def test_the_element_limit_is_configurable(demo, settings):
    from dataclasses import replace

    from gateway import create_app

    small = create_app(replace(settings, max_xml_elements=1_000)).test_client()
    code, text = status(post(small, many_elements(2_000, None)).data)
    assert (code, "over the limit of 1000" in text) == (400, True)


def test_a_multipart_body_over_its_part_limit_is_a_clear_400(client, demo):
    parts = b"".join(b"--B\r\nContent-ID: <p%d>\r\n\r\nx\r\n" % i for i in range(20_001))
    r = post(client, parts + b"--B--\r\n", "multipart/related; boundary=B")
    code, text = status(r.data)
    assert code == 400 and "more than 50 parts" in text


ESCAPES = [
    "http://127.0.0.1:9000/punchout/../../elsewhere",
    "http://127.0.0.1:9000/punchout/%2e%2e/elsewhere",
    "http://127.0.0.1:9000/punchout%2f..%2felsewhere",
]


@pytest.mark.parametrize("url", ESCAPES)
def test_browser_form_post_cannot_escape_the_allowed_path(client, demo, url):
    code, text = status(post(client, setup_request(return_url=url)).data)
    assert code == 400 and "not among the return URLs allowed" in text
    assert count(demo, PunchoutSession) == 0


@pytest.mark.parametrize("url", ESCAPES)
def test_hook_url_cannot_escape_the_allowed_path(client, demo, url):
    r = oci(client, HOOK_URL=url)
    assert r.status_code == 400 and "not among the return addresses" in r.get_data(as_text=True)
    assert count(demo, PunchoutSession) == 0


def test_equivalent_spellings_of_an_allowed_url_are_accepted(client, demo):
    url = "HTTP://127.0.0.1:9000/punchout/x/../return"
    assert status(post(client, setup_request(return_url=url)).data)[0] == 200
