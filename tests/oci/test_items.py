"""NEW_ITEM fields out, and read back, including a real shop's form."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import render_template
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import create_app
from gateway.config import Settings
from gateway.oci.items import (
    LIMITS,
    FormatOptions,
    OciItem,
    clean,
    new_item_fields,
    parse_decimal,
    parse_form_html,
    parse_new_item_fields,
)
from gateway.sessions.transfer import TransferForm
from tests.conftest import INTEROP, requires_shared

SAPOCI = INTEROP / "oci" / "sapoci"


def _html_body(path) -> bytes:
    raw = path.read_bytes()
    # The files are captured HTTP responses: headers first.
    return raw.split(b"\r\n\r\n", 1)[-1] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[-1]


@requires_shared
def test_real_world_form_is_read():
    action, pairs = parse_form_html(_html_body(SAPOCI / "real_world.html"))
    items = parse_new_item_fields(pairs)
    assert action == "http://return.to/me"
    assert len(items) == 10
    first = items[0]
    assert first["DESCRIPTION"].startswith("MantisRegistered Elite Stereo")
    assert parse_decimal(first["PRICE"]) == Decimal("1730.9")
    assert (first["QUANTITY"], first["UNIT"], first["CURRENCY"]) == ("1.0", "PCE", "EUR")
    assert first["EXT_PRODUCT_ID"] == first["MANUFACTMAT"] == "491901E"
    assert first["LONGTEXT"].startswith("Klare, verzerrungsfreie")
    assert all("LONGTEXT" in item for item in items)
    assert "HEADER-PAGE" not in first


@requires_shared
def test_meplato_extensions_form_is_read():
    _, pairs = parse_form_html(_html_body(SAPOCI / "meplato_extensions.html"))
    items = parse_new_item_fields(pairs)
    assert items and all("DESCRIPTION" in i and "PRICE" in i for i in items)


@pytest.mark.parametrize(
    "name",
    [
        "NEW_ITEM-LONGTEXT_1:132[]",
        "NEW_ITEM-LONGTEXT_1:132",
        "NEW_ITEM-LONGTEXT_1:132[1]",
        "NEW_ITEM_LONGTEXT_1:132",
        "NEW_ITEM-LONGTEXT[1]",
        "new_item-longtext_1:132[]",
    ],
)
def test_longtext_variants_seen_in_the_wild(name):
    items = parse_new_item_fields([("NEW_ITEM-DESCRIPTION[1]", "x"), (name, "long text")])
    assert items == [{"DESCRIPTION": "x", "LONGTEXT": "long text"}]


def _item(**kw) -> OciItem:
    base = dict(
        description="Bolt",
        quantity=Decimal("2"),
        unit="EA",
        price=Decimal("12.9"),
        currency="USD",
        vendormat="NW-1001",
        ext_product_id="PG-1",
    )
    return OciItem(**{**base, **kw})


def test_numbers_use_a_decimal_point_and_configured_decimals():
    fields, _ = new_item_fields([_item(quantity=Decimal("1.5"), price=Decimal("1234.5"))])
    values = dict(fields)
    assert values["NEW_ITEM-QUANTITY[1]"] == "1.500"
    assert values["NEW_ITEM-PRICE[1]"] == "1234.500"
    two, _ = new_item_fields([_item()], FormatOptions(decimals=2))
    assert dict(two)["NEW_ITEM-PRICE[1]"] == "12.90"


def test_units_mapped_and_index_base():
    fields, _ = new_item_fields(
        [_item(), _item(unit="BX")],
        FormatOptions(index_base=0, unit_map={"EA": "PCE", "BX": "BOX"}),
    )
    values = dict(fields)
    assert values["NEW_ITEM-UNIT[0]"] == "PCE" and values["NEW_ITEM-UNIT[1]"] == "BOX"
    assert "NEW_ITEM-UNIT[2]" not in values


def test_long_values_are_cut_and_reported():
    description = "Cordless drill driver 18 V with two batteries and a case"
    fields, cuts = new_item_fields([_item(description=description, vendormat="X" * 45)])
    values = dict(fields)
    assert values["NEW_ITEM-DESCRIPTION[1]"] == description[:40].rstrip()
    assert values["NEW_ITEM-LONGTEXT_1:132[]"] == description  # nothing of the text is lost
    assert values["NEW_ITEM-VENDORMAT[1]"] == "X" * 40
    assert {(c.field, c.line) for c in cuts} == {("DESCRIPTION", 1), ("VENDORMAT", 1)}
    for name, value in fields:
        field = name.split("-", 1)[1].split("[", 1)[0]
        if field in LIMITS:
            assert len(value) <= LIMITS[field]


def test_control_characters_are_removed():
    fields, _ = new_item_fields([_item(description="Bolt\x00 M8\x1b", longtext="a\x00b\r\nc\td")])
    values = dict(fields)
    assert values["NEW_ITEM-DESCRIPTION[1]"] == "Bolt M8"
    assert values["NEW_ITEM-LONGTEXT_1:132[]"] == "ab\nc\td"


def test_empty_cart_gives_no_item_fields():
    assert new_item_fields([]) == ([], [])


# The property: whatever cart the gateway sends, the buyer reads back the same items.

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)
short = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs")),
    min_size=1,
    max_size=10,
)
money = st.decimals(min_value=0, max_value=Decimal("99999999"), places=3, allow_nan=False)
qty = st.decimals(
    min_value=Decimal("0.001"), max_value=Decimal("999999"), places=3, allow_nan=False
)
items = st.builds(
    OciItem,
    description=text.map(str.strip).filter(bool),
    quantity=qty,
    unit=st.sampled_from(["EA", "BX", "PCE", "KGM", "C62"]),
    price=money,
    currency=st.sampled_from(["EUR", "USD", "CHF"]),
    vendormat=short,
    ext_product_id=st.from_regex(r"PG-[0-9a-f]{16}", fullmatch=True),
    leadtime=st.none() | st.integers(0, 99999),
    manufactmat=text.map(str.strip),
    longtext=st.text(max_size=300).map(lambda s: s.replace("\r", "").strip()),
)

APP = create_app(Settings(database_url="sqlite://", secret_key="k"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items, max_size=6), st.sampled_from([0, 1]))
def test_every_cart_parses_back_to_the_same_items(cart, base):
    fields, cuts = new_item_fields(cart, FormatOptions(index_base=base))
    assert cuts == []
    form = TransferForm(
        action="https://srm.example/hook?a=1&b=<2>",
        target="_top",
        fields=(("~OkCode", "ADDI"),) + tuple(fields),
    )
    with APP.test_request_context():
        page = render_template("transfer.html", form=form, buyer={"name": "B"})
    action, pairs = parse_form_html(page)
    assert action == "https://srm.example/hook?a=1&b=<2>"
    parsed = parse_new_item_fields(pairs)
    assert len(parsed) == len(cart)
    for sent, got in zip(cart, parsed, strict=True):
        assert got["DESCRIPTION"] == sent.description
        assert parse_decimal(got["QUANTITY"]) == sent.quantity
        assert parse_decimal(got["PRICE"]) == sent.price
        assert got["UNIT"] == sent.unit and got["CURRENCY"] == sent.currency
        assert got["VENDORMAT"] == sent.vendormat
        assert got["EXT_PRODUCT_ID"] == sent.ext_product_id
        assert got.get("MANUFACTMAT", "") == sent.manufactmat
        assert got.get("LEADTIME") == (None if sent.leadtime is None else str(sent.leadtime))
        assert got.get("LONGTEXT", "") == clean(sent.longtext)
