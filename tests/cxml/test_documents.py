"""Every document the gateway emits validates against the DTD of its declared version."""

from decimal import Decimal

import pytest

from gateway.cxml import documents as d
from gateway.xml import parse

VERSIONS = ["1.2.014", "1.2.020", "1.2.036", "1.2.050", "1.2.063", "1.2.069"]
SUPPLIER = ({"domain": "NetworkID", "identity": "AN01000000099"},)
BUYER = ({"domain": "NetworkID", "identity": "AN01000000001"}, {"domain": "DUNS", "identity": "1"})


def _items():
    return (
        d.ItemIn(
            "NW-1",
            "PG-1",
            Decimal("3"),
            Decimal("12.9"),
            "USD",
            "Bolt <M8> & nut",
            "BX",
            "31161501",
            "0057 8 40",
            "Würth",
            2,
        ),
        d.ItemIn("NW-2", "PG-2", Decimal("1.5"), Decimal("0.3333"), "USD", "Tape", "EA"),
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_order_message_is_valid(version, dtd):
    msg = d.OrderMessage("cookie", SUPPLIER, BUYER, SUPPLIER, "edit", "USD", _items(), version)
    body = d.order_message(msg)
    assert dtd.validate(body) == []
    root = parse(body).root
    assert (
        root.findtext("Message/PunchOutOrderMessage/PunchOutOrderMessageHeader/Total/Money")
        == "39.20"
    )
    assert b"SharedSecret" not in body
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')


@pytest.mark.parametrize("version", VERSIONS)
def test_empty_cart_is_valid(version, dtd):
    msg = d.OrderMessage("cookie", SUPPLIER, BUYER, SUPPLIER, "create", "USD", (), version)
    assert dtd.validate(d.order_message(msg)) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_responses_are_valid(version, dtd):
    docs = [
        d.response(200, version=version, body=d.setup_response("https://gw/punchout/start/x")),
        d.response(
            200, version=version, body=d.profile_response([("ProfileRequest", "https://gw/cxml")])
        ),
        d.response(401, "Unauthorized: no", "Sender X not accepted", version=version),
        d.response(406, "Not Acceptable: BuyerCookie is missing", version=version),
    ]
    for doc in docs:
        assert dtd.validate(doc) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_precompiled_setup_answer_is_the_built_one(version, dtd):
    url = 'https://gw.example/punchout/start/a-b_c?x=1&y="2"<3>'
    built = d.response(200, version=version, body=d.setup_response(url))
    fast = d.setup_answer(url, version=version)
    root = parse(built).root
    expected = built.replace(root.get("payloadID").encode(), b"P").replace(
        root.get("timestamp").encode(), b"T"
    )
    fast_root = parse(fast).root
    actual = fast.replace(fast_root.get("payloadID").encode(), b"P").replace(
        fast_root.get("timestamp").encode(), b"T"
    )
    assert actual == expected
    assert dtd.validate(fast) == []
    assert fast_root.findtext("Response/PunchOutSetupResponse/StartPage/URL") == url


def test_money_formatting():
    assert [d.money(Decimal(v)) for v in ("1", "1.5", "0.3333", "12.90", "1E+3")] == [
        "1.00",
        "1.50",
        "0.3333",
        "12.90",
        "1000.00",
    ]
