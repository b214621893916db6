"""Code lists a profile is checked against: units of measure, classification schemes.

Units: the UN/CEFACT Recommendation 20 codes punchout carts use in practice
(cXML's UnitOfMeasure "must be a UN/CEFACT Rec. 20 code", Business::cXML
ItemIn), the legacy Rec 20 packaging codes (BX, CS, PK ...) that Ariba and
Coupa catalogs still carry, and the ISO codes SAP's unit table (T006) maps its
units to, which SRM and S/4HANA expect in NEW_ITEM-UNIT (PCE, PAC ...). A
buyer's private code is declared in ``extra_units`` and is then known too.
"""

from __future__ import annotations

import re

# One string, split: the list reads like the code tables it is copied from.
REC20 = frozenset(
    """
    C62 EA H87 NAR NPR PR PCE SET NMP LTR MLT CLT DLT HLT MTQ CMQ DMQ MMQ FTQ INQ GLL GLI QT PT
    OZA OZI KGM GRM MGM TNE LBR ONZ MTR CMT MMT KMT DMT FOT INH YRD MTK CMK MMK FTK INK KTM
    HUR MIN SEC DAY WEE MON ANN E48 KWH WTT KWT MWH AMP VLT HTZ KPA BAR CEL FAH
    BX CS PK PA PL RL BG BO CA CT CR DR DZ GRO JR KT LO PC PF RM SA ST TB TU CN CY BE BL BN CO
    PAC BOX ROL PLT CAR BOT BAG DRM KIT LOT PAI RLL
    XBX XCS XPK XPA XPL XRO XBG XBO XCA XCT XCR XDR XJR XKI XSA XTU XCN XBE XBL XBN
    """.split()  # noqa: SIM905
)
# Unit codes are short upper-case tokens; anything else is a typo.
UNIT_CODE = re.compile(r"^[A-Z0-9]{1,4}$")

UNSPSC = "UNSPSC"
ECLASS = "eCl@ss"
SCHEMES = (UNSPSC, ECLASS)
# The buyer's own commodity codes: "custom:<domain>", the domain sent in the cart.
CUSTOM_PREFIX = "custom:"
_CUSTOM = re.compile(r"^custom:[A-Za-z][A-Za-z0-9_.@-]{0,39}$")
# OCI names the scheme in NEW_ITEM-EXT_SCHEMA_TYPE (10 characters).
OCI_SCHEMA_TYPE = {UNSPSC: "UNSPSC", ECLASS: "ECLASS"}

CURRENCY = re.compile(r"^[A-Z]{3}$")


def is_scheme(name: str) -> bool:
    return name in SCHEMES or bool(_CUSTOM.match(name))


def domain_of(scheme: str) -> str:
    """The cXML Classification domain a scheme is sent as."""
    return scheme.removeprefix(CUSTOM_PREFIX)


def unit_known(code: str, extra: frozenset[str] | tuple[str, ...] = ()) -> bool:
    return code in REC20 or code in extra
