"""NEW_ITEM fields: the cart as an OCI 4.0 form, and the same form read back.

Field lengths are those of SAP's BBP_OCI_ITEM structure. A value longer than
its field is cut by one rule, applied everywhere and reported: keep the first
``max`` characters, then drop trailing white space. A cut DESCRIPTION loses
nothing, because the full text always travels in LONGTEXT. Numbers are never
cut: a number that does not fit is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

LIMITS = {
    "DESCRIPTION": 40,
    "MATNR": 40,
    "QUANTITY": 15,
    "UNIT": 3,
    "PRICE": 15,
    "PRICEUNIT": 5,
    "CURRENCY": 5,
    "LEADTIME": 5,
    "VENDOR": 10,
    "VENDORMAT": 40,
    "MANUFACTCODE": 10,
    "MANUFACTMAT": 40,
    "MATGROUP": 10,
    "SERVICE": 1,
    "CONTRACT": 10,
    "CONTRACT_ITEM": 5,
    "EXT_QUOTE_ID": 35,
    "EXT_QUOTE_ITEM": 10,
    "EXT_PRODUCT_ID": 40,
    "EXT_SCHEMA_TYPE": 10,
    "EXT_CATEGORY_ID": 60,
    "ATTACHMENT": 255,
    "ATTACHMENT_TITLE": 255,
    "ATTACHMENT_PURPOSE": 1,
    "CUST_FIELD1": 10,
    "CUST_FIELD2": 10,
    "CUST_FIELD3": 10,
    "CUST_FIELD4": 20,
    "CUST_FIELD5": 50,
}
# The order fields are written in: the one SAP's documentation lists them in.
ORDER = tuple(LIMITS)
NUMERIC = {"QUANTITY", "PRICE", "PRICEUNIT", "LEADTIME"}


class OciValueError(ValueError):
    """A number does not fit its OCI field."""


@dataclass(frozen=True)
class OciItem:
    """One cart line in OCI terms (values before formatting and cutting)."""

    description: str
    quantity: Decimal
    unit: str
    price: Decimal
    currency: str
    vendormat: str = ""
    ext_product_id: str = ""
    price_unit: Decimal = Decimal(1)
    leadtime: int | None = None
    matnr: str = ""
    vendor: str = ""
    manufactcode: str = ""
    manufactmat: str = ""
    matgroup: str = ""
    service: str = ""
    contract: str = ""
    contract_item: str = ""
    ext_quote_id: str = ""
    ext_quote_item: str = ""
    ext_schema_type: str = ""  # a classification other than MATGROUP's, e.g. ECLASS
    ext_category_id: str = ""
    attachment: str = ""
    attachment_title: str = ""
    attachment_purpose: str = ""
    longtext: str = ""
    custom: Mapping[int, str] = field(default_factory=dict)  # CUST_FIELD1..5


@dataclass(frozen=True)
class FormatOptions:
    decimals: int = 3
    index_base: int = 1
    unit_map: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Cut:
    """A value that was cut to fit its field (for the session log)."""

    line: int
    field: str
    original: str
    sent: str


def number(value: Decimal, decimals: int, field_name: str) -> str:
    """Decimal point, never a comma; a fixed number of decimals."""
    quantum = Decimal(1).scaleb(-decimals)
    rendered = format(Decimal(value).quantize(quantum), "f")
    if len(rendered) > LIMITS[field_name]:
        raise OciValueError(f"{field_name} {rendered} does not fit {LIMITS[field_name]} characters")
    return rendered


# C0 controls (but tab and newline) cannot travel in an HTML form: browsers turn
# them into U+FFFD. They are removed before anything is measured or cut.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(value: str) -> str:
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def _cut(value: str, limit: int) -> str:
    return value[:limit].rstrip()


def item_values(item: OciItem, options: FormatOptions) -> dict[str, str]:
    """The uncut value of each field for one item (empty fields left out)."""
    unit = options.unit_map.get(item.unit, item.unit)
    values = {
        "DESCRIPTION": item.description,
        "MATNR": item.matnr,
        "QUANTITY": number(item.quantity, options.decimals, "QUANTITY"),
        "UNIT": unit,
        "PRICE": number(item.price, options.decimals, "PRICE"),
        "PRICEUNIT": number(item.price_unit, 0, "PRICEUNIT"),
        "CURRENCY": item.currency,
        "LEADTIME": str(item.leadtime) if item.leadtime is not None else "",
        "VENDOR": item.vendor,
        "VENDORMAT": item.vendormat,
        "MANUFACTCODE": item.manufactcode,
        "MANUFACTMAT": item.manufactmat,
        "MATGROUP": item.matgroup,
        "SERVICE": item.service,
        "CONTRACT": item.contract,
        "CONTRACT_ITEM": item.contract_item,
        "EXT_QUOTE_ID": item.ext_quote_id,
        "EXT_QUOTE_ITEM": item.ext_quote_item,
        "EXT_PRODUCT_ID": item.ext_product_id,
        "EXT_SCHEMA_TYPE": item.ext_schema_type,
        "EXT_CATEGORY_ID": item.ext_category_id,
        "ATTACHMENT": item.attachment,
        "ATTACHMENT_TITLE": item.attachment_title,
        "ATTACHMENT_PURPOSE": item.attachment_purpose,
    }
    for index, value in item.custom.items():
        values[f"CUST_FIELD{index}"] = value
    return {k: v for k, v in values.items() if v != ""}


def new_item_fields(
    items: Iterable[OciItem], options: FormatOptions = FormatOptions()
) -> tuple[list[tuple[str, str]], list[Cut]]:
    """The NEW_ITEM form fields for a cart, and every value that had to be cut."""
    fields: list[tuple[str, str]] = []
    cuts: list[Cut] = []
    for offset, item in enumerate(items):
        n = offset + options.index_base
        values = item_values(item, options)
        for name in ORDER:
            if name not in values:
                continue
            value = clean(values[name])
            sent = value if name in NUMERIC else _cut(value, LIMITS[name])
            if sent != value:
                cuts.append(Cut(n, name, value, sent))
            fields.append((f"NEW_ITEM-{name}[{n}]", sent))
        longtext = clean(item.longtext or (item.description if len(item.description) > 40 else ""))
        if longtext:
            fields.append((f"NEW_ITEM-LONGTEXT_{n}:132[]", longtext))
    return fields, cuts


# Reading forms back ------------------------------------------------------------

_FIELD = re.compile(r"^NEW_ITEM-([A-Z0-9_]+)\[(\d+)\]$", re.IGNORECASE)
# LONGTEXT as specified (LONGTEXT_1:132[]) and the variants seen in the wild.
_LONGTEXT = re.compile(r"^NEW_ITEM[-_]LONGTEXT(?:_(\d+):132(?:\[\d*\])?|\[(\d+)\])$", re.IGNORECASE)


def parse_new_item_fields(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """Group NEW_ITEM form fields into items, ordered by their index.

    Lenient like the parsers buyers use: field names in any case, every LONGTEXT
    variant, other fields (HEADER-*, ~OkCode, tokens) ignored.
    """
    items: dict[int, dict[str, str]] = {}
    for name, value in pairs:
        long = _LONGTEXT.match(name)
        if long:
            index = int(long.group(1) or long.group(2))
            entry = items.setdefault(index, {})
            entry["LONGTEXT"] = entry.get("LONGTEXT", "") + value
            continue
        match = _FIELD.match(name)
        if match:
            items.setdefault(int(match.group(2)), {})[match.group(1).upper()] = value
    return [items[i] for i in sorted(items)]


def parse_decimal(value: str) -> Decimal:
    """An OCI number as sent: zero-padded, decimal point (a comma is tolerated)."""
    try:
        return Decimal(value.strip().replace(",", "."))
    except InvalidOperation:
        raise OciValueError(f"{value!r} is not a number") from None


def parse_form_html(html: str | bytes) -> tuple[str | None, list[tuple[str, str]]]:
    """The action and the (name, value) inputs of the first form in an HTML page."""
    from lxml import html as lxml_html

    parser = lxml_html.HTMLParser(no_network=True, remove_comments=True)
    doc = lxml_html.fromstring(html, parser=parser)
    forms = doc.forms
    if not forms:
        return None, []
    form = forms[0]
    pairs = [(i.get("name"), i.get("value") or "") for i in form.iter("input") if i.get("name")]
    return form.get("action"), pairs
