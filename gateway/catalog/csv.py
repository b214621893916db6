"""Our CSV catalog: one product (or one buyer's contract price) per row.

Headers are matched without regard to case, spaces or a BOM; the delimiter
(comma, semicolon or tab) is found from the header line.
"""

from __future__ import annotations

import csv as stdcsv
import io

from gateway.catalog.decoding import decode
from gateway.catalog.records import FIELDS, LoadError, Parsed, RawRow

REQUIRED = ("sku", "description", "unit_price", "currency", "uom")
DELIMITERS = ",;\t"
# The columns of the Jaggaer CSV we export (gateway.catalog.export), read back as ours.
ALIASES = {
    "supplier_part_number": "sku",
    "product_description": "description",
    "manufacturer_name": "manufacturer",
    "manufacturer_part_number": "manufacturer_part_id",
    "price": "unit_price",
    "packaging_uom": "uom",
    "image_url": "image_url",
    "lead_time": "lead_time_days",
}
IGNORED = ("list_price", "level_2_punchout_url")


def header_name(value: str) -> str:
    name = value.strip().lstrip("\ufeff").strip().lower().replace(" ", "_").replace("-", "_")
    return ALIASES.get(name, name)


def sniff_delimiter(first_line: str) -> str:
    """The delimiter the header line uses most (a header has no quoted delimiters)."""
    return max(DELIMITERS, key=first_line.count) if first_line else ","


# A long field is reported by the row checks (naming its column and length),
# not cut short by the csv module's own 128 KiB limit.
stdcsv.field_size_limit(max(stdcsv.field_size_limit(), 64 * 1024 * 1024))


def read(data: bytes, encoding: str | None = None) -> Parsed:
    text, used = decode(data, encoding)
    text = text.lstrip("\ufeff")
    parsed = Parsed(encoding=used)
    first = text.split("\n", 1)[0]
    reader = stdcsv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(first))
    try:
        header = [header_name(c) for c in next(reader)]
    except StopIteration:
        parsed.errors.append(LoadError("line 1", "", "", "the file is empty"))
        return parsed
    # A file of contract prices alone needs no product columns.
    contracts_only = {"sku", "buyer_id", "contract_price"} <= set(header) and not (
        {"description", "unit_price"} & set(header)
    )
    missing = [] if contracts_only else [c for c in REQUIRED if c not in header]
    if missing:
        parsed.errors.append(
            LoadError("line 1", "", "", f"missing column(s): {', '.join(missing)}")
        )
    unknown = [c for c in header if c and c not in FIELDS and c not in IGNORED]
    if unknown:
        parsed.errors.append(
            LoadError(
                "line 1",
                "",
                "",
                f"unknown column(s): {', '.join(unknown)} (known: {', '.join(FIELDS)})",
            )
        )
    if parsed.errors:
        return parsed
    parsed.fields = set(header)
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(header):
                parsed.errors.append(
                    LoadError(
                        f"line {line}",
                        "",
                        "",
                        f"has {len(values)} fields, the header {len(header)}",
                    )
                )
                continue
            row = {k: v for k, v in zip(header, values, strict=False) if k not in IGNORED}
            parsed.rows.append(RawRow(f"line {line}", row))
    except stdcsv.Error as exc:
        parsed.errors.append(LoadError(f"line {reader.line_num}", "", "", f"bad CSV: {exc}"))
    return parsed
