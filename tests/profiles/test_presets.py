"""Each preset through the real gateway: a cart the profile reshapes, a cart it stops.

The demo buyer ACME is reloaded with ``profile = "<preset>"`` and a ``[buyer.cart]``
table; the cart goes through the JSON session API and the transfer endpoint like
a storefront's, and what the buyer's system would receive is read back.
"""

from __future__ import annotations

import textwrap
from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway.models import Event, PunchoutSession
from gateway.xml import parse
from tests.conftest import DEMO, write_buyers
from tests.helpers import add_items, bearer, decoded_cart, open_session, transfer_form
from tests.test_oci_endpoint import call, form_of, session_token


def with_profile(gateway, tmp_path, preset: str, cart: str = "") -> None:
    text = (DEMO / "buyers.toml").read_text()
    text = text.replace('profile = "ariba"\n', f'profile = "{preset}"\n', 1)  # ACME's
    if cart:
        table = "[buyer.cart]\n" + textwrap.dedent(cart).strip() + "\n"
        text = text.replace("[buyer.provisioning]", table + "[buyer.provisioning]", 1)
    write_buyers(gateway, tmp_path, text)


def cxml_cart(client, items) -> str:
    token = open_session(client)
    add_items(client, token, items)
    return token


def oci_cart(client, items) -> str:
    token = session_token(call(client))
    add_items(client, token, items)
    return token


def transfer_cxml(client, token, dtd):
    r = client.post("/api/v1/punchout/transfer", data={"session": token})
    assert r.status_code == 200, r.data[:800]
    document = decoded_cart(transfer_form(r.data)[1])
    assert dtd.validate(document) == []
    return parse(document).root


def transfer_oci(client, token):
    r = client.post("/api/v1/punchout/transfer", data={"session": token})
    assert r.status_code == 200, r.data[:800]
    return form_of(r.data)[2]


def held(client, token) -> list[dict]:
    """Transfer a cart the profile stops: 409 with the problems, the session still open."""
    r = client.post(
        "/api/v1/punchout/transfer",
        data={"session": token},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 409, r.data[:500]
    assert client.get("/api/v1/punchout/session", headers=bearer(token)).json["status"] == "open"
    return r.json["problems"]


def item(root, sku):
    return next(i for i in root.iter("ItemIn") if i.findtext("ItemID/SupplierPartID") == sku)


def fixes(gateway) -> list[str]:
    with gateway.db.transaction() as db:
        return list(db.scalars(select(Event.message).where(Event.kind == "profile.fix")))


# generic -------------------------------------------------------------------------------


def test_generic_sends_outbound_extrinsics(client, demo, gateway, tmp_path, dtd):
    with_profile(
        gateway,
        tmp_path,
        "generic",
        """
        extrinsics = [
          { name = "SupplierRef", transform = "template", template = "{sku}/{uom}" },
          { name = "Brand", source = "manufacturer", transform = ["upper", "cut"], length = 4 },
        ]
        """,
    )
    root = transfer_cxml(client, cxml_cart(client, [("NW-1001", 1)]), dtd)
    extrinsics = {e.get("name"): e.text for e in item(root, "NW-1001").iter("Extrinsic")}
    assert extrinsics == {"SupplierRef": "NW-1001/BX", "Brand": "WÜRT"}


def test_generic_stops_a_currency_the_buyer_does_not_take(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "generic", 'currencies = ["EUR"]')
    problems = held(client, cxml_cart(client, [("NW-2002", 1)]))
    assert problems[0]["sku"] == "NW-2002"
    assert "currency USD is not accepted" in problems[0]["message"]


# ariba ---------------------------------------------------------------------------------


def test_ariba_prices_a_pack_with_price_basis_quantity(client, demo, gateway, tmp_path, dtd):
    with_profile(gateway, tmp_path, "ariba", 'pack_unit = "EA"\npack_sizes = { "NW-1002" = 200 }')
    root = transfer_cxml(client, cxml_cart(client, [("NW-1002", 2)]), dtd)
    line = item(root, "NW-1002")
    basis = line.find("ItemDetail/PriceBasisQuantity")
    assert line.get("quantity") == "400"
    assert line.findtext("ItemDetail/UnitOfMeasure") == "EA"
    assert (basis.get("quantity"), basis.get("conversionFactor")) == ("200", "1")
    assert basis.findtext("UnitOfMeasure") == "EA"
    # 400 pieces at 9.80 per 200: the buyer's total is the cart's total.
    assert root.findtext(".//PunchOutOrderMessageHeader/Total/Money") == "19.60"
    assert any("2 BX sent as 400 EA, priced per 200" in m for m in fixes(gateway))


def test_ariba_stops_a_line_without_the_required_eclass(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "ariba", 'schemes = ["UNSPSC", "eCl@ss"]')
    problems = held(client, cxml_cart(client, [("NW-3001", 1)]))
    assert [p["rule"] for p in problems] == ["schemes"]
    assert "no eCl@ss code, which ACME Corp's SAP Ariba requires" in problems[0]["message"]


# coupa ---------------------------------------------------------------------------------


def test_coupa_adds_the_buyers_commodity_code(client, demo, gateway, tmp_path, dtd):
    with_profile(
        gateway,
        tmp_path,
        "coupa",
        """
        units = ["EA", "BX"]
        schemes = ["UNSPSC", "custom:CoupaCommodity"]
        category_codes = { "custom:CoupaCommodity" = { Fasteners = "MRO-FAST" } }
        """,
    )
    root = transfer_cxml(client, cxml_cart(client, [("NW-1001", 1)]), dtd)
    codes = {c.get("domain"): c.text for c in item(root, "NW-1001").iter("Classification")}
    assert codes == {"UNSPSC": "31161501", "CoupaCommodity": "MRO-FAST"}


def test_coupa_stops_a_unit_not_enabled_in_the_instance(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "coupa", 'units = ["EA"]')
    problems = held(client, cxml_cart(client, [("NW-2002", 1), ("NW-1001", 1)]))
    assert [p["sku"] for p in problems] == ["NW-1001"]
    assert "the unit 'BX' is not enabled in ACME Corp's Coupa" in problems[0]["message"]


# jaggaer -------------------------------------------------------------------------------


def test_jaggaer_maps_catalog_units(client, demo, gateway, tmp_path, dtd):
    with_profile(gateway, tmp_path, "jaggaer", 'unit_map = { PK = "PA" }')
    root = transfer_cxml(client, cxml_cart(client, [("NW-5002", 3)]), dtd)
    assert item(root, "NW-5002").findtext("ItemDetail/UnitOfMeasure") == "PA"
    assert any("unit PK sent as PA" in m for m in fixes(gateway))


def test_jaggaer_stops_an_unmapped_unit(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "jaggaer", 'units = ["EA", "PA"]')
    problems = held(client, cxml_cart(client, [("NW-4001", 1)]))
    assert "the unit 'SET' is not enabled" in problems[0]["message"]


# oracle --------------------------------------------------------------------------------


def test_oracle_cuts_fields_to_its_column_lengths(client, demo, gateway, tmp_path, dtd):
    with_profile(gateway, tmp_path, "oracle", "lengths = { manufacturer_part_id = 5 }")
    root = transfer_cxml(client, cxml_cart(client, [("NW-1004", 1)]), dtd)
    assert item(root, "NW-1004").findtext("ItemDetail/ManufacturerPartID") == "01910"
    assert any("manufacturer part number cut from 13 to 5" in m for m in fixes(gateway))


def test_oracle_refuses_a_long_field_when_told_not_to_cut(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "oracle", 'lengths = { description = 20 }\ntoo_long = "refuse"')
    problems = held(client, cxml_cart(client, [("NW-1001", 1)]))
    assert (
        "the description has 44 characters; ACME Corp's Oracle Procurement takes 20"
        in (problems[0]["message"])
    )


# d365 ----------------------------------------------------------------------------------


def test_d365_sends_a_fixed_extrinsic(client, demo, gateway, tmp_path, dtd):
    with_profile(
        gateway,
        tmp_path,
        "d365",
        """
        units = ["EA", "BX"]
        currencies = ["USD"]
        extrinsics = [{ name = "LegalEntity", transform = "fixed", value = "USMF" }]
        """,
    )
    root = transfer_cxml(client, cxml_cart(client, [("NW-2002", 1)]), dtd)
    assert item(root, "NW-2002").findtext("ItemDetail/Extrinsic[@name='LegalEntity']") == "USMF"


def test_d365_stops_a_line_it_would_drop_silently(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "d365", 'units = ["EA"]\ncurrencies = ["USD"]')
    problems = held(client, cxml_cart(client, [("NW-6002", 1)]))
    assert "the unit 'PK' is not enabled in ACME Corp's Dynamics 365" in problems[0]["message"]


# sap-srm (OCI) -------------------------------------------------------------------------


def test_sap_srm_sends_sap_units_eclass_and_custom_fields(client, demo, gateway, tmp_path):
    with_profile(
        gateway,
        tmp_path,
        "sap-srm",
        """
        schemes = ["eCl@ss"]
        category_codes = { "eCl@ss" = { Safety = "40-05-01-01" } }
        oci_fields = { CUST_FIELD2 = { source = "manufacturer", transform = "upper" } }
        """,
    )
    items = transfer_oci(client, oci_cart(client, [("NW-2002", 1)]))
    assert items[0]["UNIT"] == "PCE"
    assert items[0]["EXT_SCHEMA_TYPE"] == "ECLASS"
    assert items[0]["EXT_CATEGORY_ID"] == "40-05-01-01"
    assert items[0]["MATGROUP"] == "46181802"
    assert items[0]["CUST_FIELD2"] == "3M"


def test_sap_srm_stops_a_unit_the_srm_does_not_know(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "sap-srm", 'units = ["PCE"]')
    problems = held(client, oci_cart(client, [("NW-1001", 1)]))
    # BX is mapped to BOX first (the fix is made), then BOX is not among the units.
    assert "the unit 'BOX' is not enabled in ACME Corp's SAP SRM" in problems[0]["message"]


# sap-s4 (OCI) --------------------------------------------------------------------------


def test_sap_s4_sends_a_pack_price_as_priceunit(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "sap-s4", 'pack_unit = "EA"\npack_sizes = { "NW-1001" = 100 }')
    items = transfer_oci(client, oci_cart(client, [("NW-1001", 2)]))
    assert (items[0]["QUANTITY"], items[0]["UNIT"]) == ("200.000", "PCE")
    assert (items[0]["PRICE"], items[0]["PRICEUNIT"]) == ("12.900", "100")


def test_sap_s4_refuses_a_description_longer_than_allowed(client, demo, gateway, tmp_path):
    with_profile(gateway, tmp_path, "sap-s4", 'lengths = { sku = 5 }\ntoo_long = "refuse"')
    problems = held(client, oci_cart(client, [("NW-2002", 1)]))
    assert "the part number has 7 characters" in problems[0]["message"]


# The load and the events ---------------------------------------------------------------


def test_a_wrong_profile_is_refused_at_load_with_every_key_named(demo, gateway, tmp_path):
    from provisioning.buyers import ConfigError

    with pytest.raises(ConfigError) as caught:
        with_profile(
            gateway,
            tmp_path,
            "cupa",
            """
            units = ["EA", "XQZ"]
            schemes = ["UNSPC"]
            extrinsics = [{ name = "A", source = "manufacturer", transform = "shout" }]
            """,
        )
    message = str(caught.value)
    assert len(caught.value.problems) == 4  # every wrong key, each on its own line
    for key in (
        "buyer.profile: unknown preset 'cupa'",
        "buyer.cart.units[1]: unknown unit of measure 'XQZ'",
        "buyer.cart.schemes[0]: unknown classification scheme 'UNSPC'",
        "buyer.cart.extrinsics[0].transform: unknown transform 'shout'",
    ):
        assert key in message


def test_d365_without_units_is_refused_at_load(demo, gateway, tmp_path):
    from provisioning.buyers import ConfigError

    with pytest.raises(ConfigError, match=r"buyer.cart.units: the d365 preset needs it"):
        with_profile(gateway, tmp_path, "d365")


def test_a_held_cart_is_logged_and_goes_once_fixed(client, demo, gateway, tmp_path, dtd):
    with_profile(gateway, tmp_path, "coupa", 'units = ["EA"]')
    token = cxml_cart(client, [("NW-2002", 1), ("NW-1001", 1)])
    r = client.post("/api/v1/punchout/transfer", data={"session": token})
    assert r.status_code == 302 and "held=1" in r.headers["Location"]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Cannot go to your Coupa: the unit &#39;BX&#39; is not enabled" in page
    client.delete("/api/v1/punchout/cart/items/NW-1001", headers=bearer(token))
    root = transfer_cxml(client, token, dtd)
    assert [i.findtext("ItemID/SupplierPartID") for i in root.iter("ItemIn")] == ["NW-2002"]
    with gateway.db.transaction() as db:
        refused = db.scalars(select(Event).where(Event.kind == "profile.refused")).one()
        assert refused.data["problems"][0]["sku"] == "NW-1001"
        assert db.scalars(select(PunchoutSession)).one().status == "transferred"


def test_pack_pricing_on_an_old_cxml_version(client, demo, gateway, tmp_path, settings):
    from provisioning.buyers import ConfigError

    pack = 'pack_unit = "EA"\npack_sizes = { "NW-1002" = 200 }'
    old = (
        (DEMO / "buyers.toml")
        .read_text()
        .replace('operation_allowed = "edit"', 'version = "1.2.014"\noperation_allowed = "edit"', 1)
    )
    text = old.replace("[buyer.provisioning]", f"[buyer.cart]\n{pack}\n[buyer.provisioning]", 1)
    with pytest.raises(ConfigError, match="pack prices need cXML 1.2.036 or later"):
        write_buyers(gateway, tmp_path, text)


def test_totals_in_the_header(client, demo, gateway, tmp_path, dtd):
    with_profile(
        gateway, tmp_path, "generic", 'totals = "header"\ntax_percent = "10"\nshipping = "5"'
    )
    root = transfer_cxml(client, cxml_cart(client, [("NW-2002", 2)]), dtd)
    head = root.find(".//PunchOutOrderMessageHeader")
    assert Decimal(head.findtext("Tax/Money")) == Decimal("1.35")
    assert Decimal(head.findtext("Shipping/Money")) == Decimal("5.00")
