"""Ariba CIF 3.0 (Catalog Interchange Format): a header, FIELDNAMES, DATA rows, ENDOFDATA.

The rows are CSV (comma, double quotes, a quote doubled inside quotes). The
header's CHARSET names the encoding unless --encoding is given; LOADMODE F
makes the file the whole catalog (missing products are retired), I adds and
changes; a row whose Delete field is true retires its product.
"""

from __future__ import annotations

import csv as stdcsv
import io

from gateway.catalog.decoding import decode
from gateway.catalog.records import LoadError, Parsed, RawRow

# CIF field names (case-insensitive) to ours; other CIF fields are accepted and ignored.
FIELDS = {
    "supplier part id": "sku",
    "item description": "description",
    "spsc code": "unspsc",
    "unspsc code": "unspsc",
    "unit price": "unit_price",
    "unit of measure": "uom",
    "lead time": "lead_time_days",
    "manufacturer name": "manufacturer",
    "manufacturer part id": "manufacturer_part_id",
    "currency": "currency",
    "market price": "list_price",
    "image": "image_url",
    "thumbnail": "image_url",
    "keywords": "keywords",
    "long description": "long_description",
    "category": "category",
}
REQUIRED = ("supplier id", "supplier part id", "item description", "unit price", "unit of measure")
# CHARSET values seen in CIF files (Java names) to Python codecs.
CHARSETS = {"8859_1": "latin-1", "iso8859_1": "latin-1", "cp1252": "cp1252", "utf8": "utf-8"}
TRUE = ("t", "true", "y", "yes", "x", "1")


def _charset(name: str) -> str:
    key = name.strip().lower().replace("-", "")
    return CHARSETS.get(key, name.strip())


def read(data: bytes, encoding: str | None = None) -> Parsed:
    if not encoding:
        head = data[:4000].decode("latin-1")
        for line in head.splitlines():
            if line.upper().startswith("CHARSET:"):
                encoding = _charset(line.split(":", 1)[1])
                break
    text, used = decode(data, encoding)
    parsed = Parsed(encoding=used)
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or not lines[0].strip().upper().startswith("CIF_I_V3"):
        parsed.errors.append(
            LoadError(
                "line 1",
                "",
                lines[0].strip() if lines else "",
                "is not a CIF 3.0 signature (CIF_I_V3.0)",
            )
        )
        return parsed
    header: dict[str, str] = {}
    number = 1
    data_at = None
    for number, line in enumerate(lines[1:], start=2):
        stripped = line.strip()
        if stripped.upper() == "DATA":
            data_at = number
            break
        if not stripped:
            continue
        name, sep, value = stripped.partition(":")
        if not sep:
            parsed.errors.append(
                LoadError(f"line {number}", "", stripped[:40], "is not a 'NAME: value' header line")
            )
            continue
        header[name.strip().upper()] = value.strip()
    if data_at is None:
        parsed.errors.append(LoadError(f"line {number}", "", "", "no DATA line was found"))
        return parsed
    mode = header.get("LOADMODE", "I").upper()
    if mode not in ("F", "I", "FULL", "INCREMENTAL"):
        parsed.errors.append(LoadError("header", "LOADMODE", mode, "must be F or I"))
    parsed.full = mode in ("F", "FULL")
    parsed.buyer_prices = True
    names = next(stdcsv.reader([header.get("FIELDNAMES", "")]), [])
    fields = [n.strip().lower() for n in names]
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        parsed.errors.append(LoadError("header", "FIELDNAMES", "", f"misses {', '.join(missing)}"))
    if parsed.errors:
        return parsed
    parsed.fields = {FIELDS[f] for f in fields if f in FIELDS} | {"currency"}
    default_currency = header.get("CURRENCY", "")
    body, end_at = [], None
    for number, line in enumerate(lines[data_at:], start=data_at + 1):
        if line.strip().upper() == "ENDOFDATA":
            end_at = number
            break
        body.append(line)
    if end_at is None:
        parsed.errors.append(LoadError(f"line {number}", "", "", "ENDOFDATA is missing"))
        return parsed
    reader = stdcsv.reader(io.StringIO("".join(body), newline=""))
    try:
        for values in reader:
            line_no = data_at + reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(fields):
                parsed.errors.append(
                    LoadError(
                        f"line {line_no}",
                        "",
                        "",
                        f"has {len(values)} fields, FIELDNAMES names {len(fields)}",
                    )
                )
                continue
            row = dict(zip(fields, values, strict=True))
            ours = {FIELDS[k]: v for k, v in row.items() if k in FIELDS and v.strip()}
            ours.setdefault("currency", default_currency)
            parsed.rows.append(
                RawRow(
                    f"line {line_no}",
                    ours,
                    delete=row.get("delete", "").strip().lower() in TRUE,
                )
            )
    except stdcsv.Error as exc:
        parsed.errors.append(LoadError(f"line {data_at + reader.line_num}", "", "", str(exc)))
    count = header.get("ITEMCOUNT")
    if count and count.isdigit() and int(count) != len(parsed.rows) and not parsed.errors:
        parsed.errors.append(
            LoadError("header", "ITEMCOUNT", count, f"but DATA has {len(parsed.rows)} item(s)")
        )
    return parsed
