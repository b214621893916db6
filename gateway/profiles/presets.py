"""Presets: what each buyer system is known to accept, with where that is written.

Every rule a preset sets carries its source in ``sources`` (the README's
"Buyer profiles" table is this data). A preset holds only what is true of every
customer of that system; what differs per customer (which units a Coupa
instance has enabled, which currencies a D365 legal entity knows) the buyer
file sets in ``[buyer.cart]``, and ``needs`` makes the load refuse a buyer file
that leaves it out.
"""

from __future__ import annotations

from types import MappingProxyType

from gateway.profiles.rules import CartRules, build

_GENERIC_SOURCES = {
    "cancel": "an empty PunchOutOrderMessage is a valid cart (ItemIn*) and means the user "
    "returned without a basket: cxml-php PR #50, Ariba KB 188136",
}

_PRESETS: dict[str, dict] = {
    "generic": {
        "system": "procurement system",
        "cancel": "empty",
        "sources": _GENERIC_SOURCES,
    },
    "ariba": {
        "system": "SAP Ariba",
        "unit_standard": "rec20",
        "schemes": ["UNSPSC"],
        "cancel": "empty",
        "session_minutes": 30,
        "sources": {
            **_GENERIC_SOURCES,
            "unit_standard": "cXML UnitOfMeasure must be a UN/CEFACT Rec 20 code "
            "(cXML User's Guide; Business::cXML ItemIn)",
            "schemes": "Ariba may require UNSPSC or eCl@ss classification "
            "(punchcommerce.de, PunchOut via SAP Ariba cXML)",
            "pack_unit": "pack prices travel as PriceBasisQuantity with conversionFactor "
            "(support.ariba.com/item/view/172303_en)",
            "session_minutes": "Ariba's requisition session times out while the user "
            "shops; 30 minutes is a conservative default (equallevel proposal "
            "'Extend eProcurement Session during a cXML PunchOut Session')",
        },
    },
    "coupa": {
        "system": "Coupa",
        "unit_standard": "rec20",
        "schemes": ["UNSPSC"],
        "required": ["sku", "uom", "quantity", "description"],
        "totals": "none",
        "cancel": "empty",
        "session_minutes": 30,
        "sources": {
            **_GENERIC_SOURCES,
            "unit_standard": "a UOM not enabled in the customer's Coupa fails the "
            "PunchOutOrderMessage and the cart is lost "
            "(compass.coupa.com, punchout-failed-to-return-a-cart)",
            "units": "set to the units the customer has enabled in Coupa (same page)",
            "schemes": "Coupa's minimum POOM content includes UNSPSC "
            "(success.coupa.com punchout FAQ)",
            "required": "part number, UOM, quantity and description on every line "
            "(success.coupa.com punchout FAQ)",
            "totals": "'Extra shipping/handling/misc charges are not permitted' unless the "
            "customer allows them (compass.coupa.com cxml-error-handling)",
            "session_minutes": "conservative default; Coupa's session length is set per "
            "instance (no public figure)",
        },
    },
    "jaggaer": {
        "system": "Jaggaer",
        "unit_standard": "rec20",
        "schemes": ["UNSPSC"],
        "required": ["uom"],
        "cancel": "empty",
        "session_minutes": 30,
        "sources": {
            **_GENERIC_SOURCES,
            "unit_standard": "the Jaggaer handbook has 'UOM mapping' and 'unmapped UOM "
            "values' sections (Supplier Network Portal cXML Integration Specification "
            "Handbook v20.3, pdfslide.us)",
            "unit_map": "map catalog units to the customer's Jaggaer UOMs (same handbook)",
            "required": "every line needs a UOM the customer has mapped (same handbook)",
            "schemes": "UNSPSC, as in Jaggaer's L2 CSV catalog (TradeCentric, "
            "b2beaorg-new.pages.dev level-2-punchout-catalog)",
            "session_minutes": "conservative default (no public figure)",
        },
    },
    "oracle": {
        "system": "Oracle Procurement",
        "schemes": ["UNSPSC"],
        "lengths": {
            "description": 240,
            "sku": 300,
            "aux_id": 255,
            "manufacturer_part_id": 30,
            "manufacturer": 240,
        },
        "cancel": "empty",
        "sources": {
            **_GENERIC_SOURCES,
            "lengths": "Oracle stores punchout lines in POR_PUNCHOUT_ITEMS: ITEM_DESCRIPTION "
            "240, SUPPLIER_ITEM 300, SUPPLIER_PART_AUX_ID 255, MANUFACTURER_PART_NUMBER 30, "
            "MANUFACTURER 240 (docs.oracle.com)",
            "schemes": "Oracle's punchout cart carries categoryCode as UNSPSC "
            "(docs.oracle.com attributes-supported-in-oracle-xml-punchout)",
        },
    },
    "d365": {
        "system": "Dynamics 365",
        "unit_standard": "rec20",
        "cancel": "empty",
        "session_minutes": 30,
        "needs": ["units", "currencies"],
        "sources": {
            **_GENERIC_SOURCES,
            "units": "a UOM that does not already exist in D365 makes the line fail silently: "
            "list the legal entity's units (github.com/wadejbeckett/punchout-woocommerce)",
            "currencies": "a currency unknown to the D365 legal entity fails the line "
            "silently (same README)",
            "unit_standard": "D365 units are UN/CEFACT codes; anything else is dropped "
            "(same README: 'a UOM that does not already exist')",
            "session_minutes": "D365's own session can be lost on the cart post; keep "
            "shopping short (same README)",
        },
    },
    "sap-srm": {
        "system": "SAP SRM",
        "unit_map": {"EA": "PCE", "PK": "PAC", "BX": "BOX"},
        "lengths": {"manufacturer_part_id": 40, "uom": 3},
        "cancel": "ocicancel",
        "validate_direct": True,
        "session_minutes": 30,
        "sources": {
            "unit_map": "SAP expects ISO unit codes from its unit table (PCE for piece, PAC "
            "for pack); NEW_ITEM-UNIT has 3 characters (BBP_OCI_ITEM)",
            "lengths": "NEW_ITEM field lengths of SAP's BBP_OCI_ITEM structure (a longer "
            "DESCRIPTION is always cut to 40 and sent whole in LONGTEXT)",
            "cancel": "OCI buyers may send a separate OCICANCEL URL "
            "(docs.ifs.com 300_punchout_catalog_procurement); without one the cart goes "
            "back empty to HOOK_URL",
            "validate_direct": "SRM 7.0 sends VALIDATE without HOOK_URL and expects the "
            "answer directly (archive.sap.com/discussions/thread/3210132)",
            "session_minutes": "conservative default; the SRM session length is set by "
            "the customer's basis team",
        },
    },
    "sap-s4": {
        "system": "SAP S/4HANA",
        "unit_map": {"EA": "PCE", "PK": "PAC", "BX": "BOX"},
        "lengths": {"manufacturer_part_id": 40, "uom": 3},
        "cancel": "ocicancel",
        "session_minutes": 30,
        "sources": {
            "unit_map": "SAP expects ISO unit codes from its unit table (PCE for piece, PAC "
            "for pack); NEW_ITEM-UNIT has 3 characters (BBP_OCI_ITEM)",
            "lengths": "NEW_ITEM field lengths of SAP's BBP_OCI_ITEM structure (a longer "
            "DESCRIPTION is always cut to 40 and sent whole in LONGTEXT)",
            "cancel": "OCI buyers may send a separate OCICANCEL URL "
            "(docs.ifs.com 300_punchout_catalog_procurement)",
            "session_minutes": "conservative default",
        },
    },
}

PRESETS = MappingProxyType(_PRESETS)
NAMES = tuple(_PRESETS)
DEFAULT = "generic"


def preset(name: str) -> dict:
    """The preset's rule values (with ``preset`` and ``sources``); KeyError when unknown."""
    return {"preset": name, **_PRESETS[name]}


def rules_of(name: str = DEFAULT, overrides: dict | None = None) -> CartRules:
    """Checked rules of a preset with the buyer's overrides (raises ProfileError)."""
    return build(preset(name), overrides or {})
