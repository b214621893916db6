"""The pure parts: rules built from a preset and overrides, and the pre-flight of lines."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.profiles import presets
from gateway.profiles.preflight import Line, charges, check
from gateway.profiles.rules import CartRules, ProfileError, build


def line(**kw) -> Line:
    values = dict(
        position=1,
        sku="NW-9",
        description="Widget",
        quantity=Decimal(1),
        unit_price=Decimal("2.50"),
        currency="USD",
        uom="EA",
    )
    return Line(**{**values, **kw})


def test_every_preset_has_a_source_for_every_rule_it_sets():
    for name in presets.NAMES:
        data = presets.preset(name)
        rules = set(data) - {"preset", "system", "sources", "needs"}
        assert rules <= set(data["sources"]), (
            f"{name}: no source for {rules - set(data['sources'])}"
        )


def test_rules_survive_the_buyer_settings():
    rules = presets.rules_of(
        "coupa",
        {
            "units": ["EA"],
            "tax_percent": "7.5",
            "extrinsics": [{"name": "Ref", "transform": "template", "template": "{sku}"}],
        },
    )
    assert CartRules.from_dict(rules.as_dict()) == rules


def test_a_missing_code_comes_from_the_category_map_then_the_default():
    rules = presets.rules_of(
        "generic",
        {
            "schemes": ["UNSPSC", "eCl@ss"],
            "category_codes": {"UNSPSC": {"Tools": "27110000"}},
            "default_codes": {"eCl@ss": "21-00-00-00"},
        },
    )
    outcome = check([line(category="Tools")], rules)
    assert outcome.ok
    assert outcome.lines[0].classifications == (("UNSPSC", "27110000"), ("eCl@ss", "21-00-00-00"))
    assert [f.rule for f in outcome.fixes] == ["category_codes", "default_codes"]


def test_a_required_field_that_is_empty_is_a_problem():
    rules = presets.rules_of("generic", {"required": ["manufacturer_part_id"]})
    outcome = check([line()], rules, "Globex")
    assert outcome.problems_of("NW-9") == [
        "the product has no manufacturer part number, which Globex's procurement system requires"
    ]


def test_mapping_errors_are_named_by_key():
    with pytest.raises(ProfileError) as caught:
        build(
            presets.preset("generic"),
            {
                "extrinsics": [
                    {"name": "A", "transform": "template", "template": "{nope}"},
                    {"name": "B", "source": "sku", "transform": "cut"},
                    {"name": "C", "transform": "fixed"},
                ],
                "oci_fields": {"CUST_FIELD9": {"source": "sku"}},
                "lengths": {"colour": 3},
                "totals": "footer",
            },
        )
    keys = [key for key, _ in caught.value.errors]
    assert keys == [
        "buyer.cart.lengths.colour",
        "buyer.cart.totals",
        "buyer.cart.extrinsics[0].template",
        "buyer.cart.extrinsics[1].length",
        "buyer.cart.extrinsics[2].value",
        "buyer.cart.oci_fields.CUST_FIELD9",
    ]


def test_charges_follow_the_totals_mode():
    none = presets.rules_of("generic", {"tax_percent": "10"})
    header = presets.rules_of("generic", {"totals": "header", "tax_percent": "10", "shipping": 4})
    assert charges(none, Decimal(100)) == (0, 0)
    assert charges(header, Decimal("99.99")) == (Decimal("10.00"), Decimal(4))
