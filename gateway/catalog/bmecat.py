"""BMEcat 2005 (and 1.2) catalogs: T_NEW_CATALOG and T_UPDATE_PRODUCTS.

Parsed only through ``gateway.xml`` (no DTD, no entities). PRODUCT (1.2:
ARTICLE) with its details, order details (unit, minimum, interval, price
quantity), prices by type (net_list is the list price, net_customer the
``--buyer``'s contract price), MIME_INFO images, ECLASS/UNSPSC classification
and the catalog group of each product as its category.
"""

from __future__ import annotations

from urllib.parse import urljoin

from lxml import etree

from gateway.catalog.records import LoadError, Parsed, RawRow
from gateway.xml import MalformedXML, UnsafeXML, local_name, parse

MAX_BYTES = 512 * 1024 * 1024
TRANSACTIONS = ("T_NEW_CATALOG", "T_UPDATE_PRODUCTS")
LIST_PRICES = ("net_list", "gros_list", "nrp")


def _children(element, *names):
    return [c for c in element if local_name(c) in names]


def _first(element, *names):
    if element is None:
        return None
    found = _children(element, *names)
    return found[0] if found else None


def _text(element, *names) -> str:
    found = _first(element, *names)
    return (found.text or "").strip() if found is not None else ""


def read(data: bytes, encoding: str | None = None) -> Parsed:
    parsed = Parsed(encoding="xml")
    if encoding:
        # The XML declaration names the encoding; a given one replaces it.
        try:
            data = data.decode(encoding).encode("utf-8")
            data = _drop_declaration(data)
        except (LookupError, UnicodeDecodeError) as exc:
            parsed.errors.append(LoadError("document", "", encoding, f"cannot be read: {exc}"))
            return parsed
    try:
        root = parse(data, max_bytes=MAX_BYTES).root
    except (UnsafeXML, MalformedXML) as exc:
        parsed.errors.append(LoadError("document", "", "", str(exc)))
        return parsed
    if local_name(root) != "BMECAT":
        parsed.errors.append(
            LoadError("document", local_name(root), "", "is not a BMECAT root element")
        )
        return parsed
    header = _first(root, "HEADER")
    catalog = _first(header, "CATALOG")
    currency = _text(catalog, "CURRENCY")
    mime_root = _text(catalog, "MIME_ROOT")
    transaction = next((c for c in root if local_name(c) in TRANSACTIONS), None)
    if transaction is None:
        parsed.errors.append(LoadError("BMECAT", "", "", f"has none of {', '.join(TRANSACTIONS)}"))
        return parsed
    kind = local_name(transaction)
    parsed.full = kind == "T_NEW_CATALOG"
    groups = _groups(transaction)
    mapped = {
        _text(m, "PROD_ID", "ART_ID"): _text(m, "CATALOG_GROUP_ID")
        for m in _children(
            transaction, "PRODUCT_TO_CATALOGGROUP_MAP", "ARTICLE_TO_CATALOGGROUP_MAP"
        )
    }
    products = _children(transaction, "PRODUCT", "ARTICLE")
    for n, product in enumerate(products, start=1):
        parsed.rows.append(_row(kind, n, product, currency, groups, mapped, mime_root))
    return parsed


def _drop_declaration(data: bytes) -> bytes:
    if data.startswith(b"<?xml"):
        end = data.find(b"?>")
        return data[end + 2 :] if end > 0 else data
    return data


def _groups(transaction) -> dict[str, str]:
    system = _first(transaction, "CATALOG_GROUP_SYSTEM")
    if system is None:
        return {}
    return {
        _text(g, "GROUP_ID"): _text(g, "GROUP_NAME")
        for g in _children(system, "CATALOG_STRUCTURE")
        if _text(g, "GROUP_ID")
    }


def _image_url(source: str, mime_root: str) -> str:
    """An image's URL: absolute as given, or relative to the header's MIME_ROOT.

    Files named relative to a folder shipped beside the catalog (no http MIME_ROOT)
    cannot be served; they are left out rather than failing the product.
    """
    if source.startswith(("http://", "https://")):
        return source
    if mime_root.startswith(("http://", "https://")):
        return urljoin(mime_root.rstrip("/") + "/", source.lstrip("/"))
    return ""


def _row(kind, n, product, currency, groups, mapped, mime_root="") -> RawRow:
    element = local_name(product)
    sku = _text(product, "SUPPLIER_PID", "SUPPLIER_AID")
    where = f"{element}[{n}]" + (f" ({sku})" if sku else "")
    details = _first(product, "PRODUCT_DETAILS", "ARTICLE_DETAILS")
    order = _first(product, "PRODUCT_ORDER_DETAILS", "ARTICLE_ORDER_DETAILS")
    prices = _first(product, "PRODUCT_PRICE_DETAILS", "ARTICLE_PRICE_DETAILS")
    values = {
        "sku": sku,
        "description": _text(details, "DESCRIPTION_SHORT"),
        "long_description": _text(details, "DESCRIPTION_LONG"),
        "manufacturer": _text(details, "MANUFACTURER_NAME"),
        "manufacturer_part_id": _text(details, "MANUFACTURER_PID", "MANUFACTURER_AID"),
        "keywords": " ".join(
            (k.text or "").strip() for k in _children(details, "KEYWORD") if details is not None
        )
        if details is not None
        else "",
        "lead_time_days": _text(details, "DELIVERY_TIME") or _text(product, "DELIVERY_TIME"),
        "uom": _text(order, "ORDER_UNIT"),
        "min_quantity": _text(order, "QUANTITY_MIN"),
        "quantity_step": _text(order, "QUANTITY_INTERVAL"),
        "price_unit": _text(order, "PRICE_QUANTITY"),
    }
    labels = {
        "sku": f"{element}/SUPPLIER_PID",
        "description": "DESCRIPTION_SHORT",
        "long_description": "DESCRIPTION_LONG",
        "uom": "ORDER_UNIT",
        "unit_price": "PRICE_AMOUNT",
        "currency": "PRICE_CURRENCY",
        "min_quantity": "QUANTITY_MIN",
        "quantity_step": "QUANTITY_INTERVAL",
        "price_unit": "PRICE_QUANTITY",
        "lead_time_days": "DELIVERY_TIME",
        "image_url": "MIME_SOURCE",
        "unspsc": "REFERENCE_FEATURE_GROUP_ID",
    }
    if prices is not None:
        by_type: dict[str, etree._Element] = {}
        for price in _children(prices, "PRODUCT_PRICE", "ARTICLE_PRICE"):
            by_type.setdefault(price.get("price_type", ""), price)
        listed = next((by_type[t] for t in LIST_PRICES if t in by_type), None)
        if listed is None and by_type:
            listed = next(iter(by_type.values()))
        if listed is not None:
            values["unit_price"] = _text(listed, "PRICE_AMOUNT")
            values["currency"] = _text(listed, "PRICE_CURRENCY") or currency
        customer = by_type.get("net_customer")
        if customer is not None and customer is not listed:
            values["customer_price"] = _text(customer, "PRICE_AMOUNT")
    mime_info = _first(product, "MIME_INFO")
    for mime in _children(mime_info, "MIME") if mime_info is not None else []:
        if _text(mime, "MIME_TYPE").startswith("image/") or _text(mime, "MIME_PURPOSE") in (
            "normal",
            "thumbnail",
        ):
            values["image_url"] = _image_url(_text(mime, "MIME_SOURCE"), mime_root)
            break
    for features in _children(product, "PRODUCT_FEATURES", "ARTICLE_FEATURES"):
        system = _text(features, "REFERENCE_FEATURE_SYSTEM_NAME").upper()
        group = _text(features, "REFERENCE_FEATURE_GROUP_ID")
        if system.startswith("UNSPSC"):
            values["unspsc"] = group
        elif system.startswith(("ECLASS", "ECL@SS")):
            values["eclass"] = group
    group = mapped.get(sku)
    if group:
        values["category"] = groups.get(group, group)
    mode = product.get("mode", "new")
    return RawRow(
        where,
        {k: v for k, v in values.items() if v},
        delete=kind != "T_NEW_CATALOG" and mode == "delete",
        labels=labels,
    )
