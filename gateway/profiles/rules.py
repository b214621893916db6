"""Cart rules: what a buyer's system accepts, as one frozen value.

A profile is a preset (``presets.py``) with the buyer's ``[buyer.cart]`` table
laid over it key by key. ``build`` checks the result and returns every error at
once, each naming its key, so a buyer file is fixed in one pass.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation

from gateway.profiles import codes

# Cart line fields a rule can read (mappings, templates, required fields, lengths).
SOURCES = (
    "sku",
    "description",
    "uom",
    "unspsc",
    "category",
    "manufacturer",
    "manufacturer_part_id",
    "aux_id",
    "currency",
    "lead_time_days",
    "unit_price",
    "list_price",
    "contract_price",
    "quantity",
)
# Text fields whose length a buyer system limits.
_FIELDS = ", ".join(SOURCES)
LENGTH_FIELDS = ("sku", "description", "manufacturer", "manufacturer_part_id", "aux_id", "uom")
TRANSFORMS = ("upper", "cut", "fixed", "template")
OCI_FIELDS = tuple(f"CUST_FIELD{n}" for n in range(1, 6))
TOTALS = ("header", "lines", "none")
TOO_LONG = ("cut", "refuse")
CANCEL = ("empty", "none", "ocicancel")
UNIT_STANDARDS = ("rec20", "any")


class ProfileError(ValueError):
    """Every problem of one profile; ``errors`` are ``(key, message)`` pairs."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{key}: {message}" for key, message in errors))
        self.errors = errors


@dataclass(frozen=True)
class Mapping_:
    """One outbound value: a cart field (or a fixed value, or a template) and transforms."""

    name: str
    source: str = ""
    transforms: tuple[str, ...] = ()
    value: str = ""
    template: str = ""
    length: int = 0

    def apply(self, values: Mapping[str, str]) -> str:
        result = values.get(self.source, "") if self.source else ""
        for transform in self.transforms:
            if transform == "fixed":
                result = self.value
            elif transform == "template":
                result = self.template.format_map(_Blank(values))
            elif transform == "upper":
                result = result.upper()
            elif transform == "cut":
                result = result[: self.length].rstrip()
        return result

    def as_dict(self) -> dict:
        data: dict = {"name": self.name}
        if self.source:
            data["source"] = self.source
        if self.transforms:
            data["transform"] = list(self.transforms)
        for key in ("value", "template", "length"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


class _Blank(dict):
    """Template values; a field the line does not have renders as nothing."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class CartRules:
    """The rules one buyer's carts are checked and shaped by."""

    preset: str = "generic"
    system: str = "procurement system"  # how messages name the buyer's system
    unit_standard: str = "any"  # rec20: a unit outside Rec 20 (and extra_units) is stopped
    units: tuple[str, ...] = ()  # the buyer's enabled units; empty: any
    unit_map: Mapping[str, str] = field(default_factory=dict)
    extra_units: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()  # required classification schemes
    category_codes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    default_codes: Mapping[str, str] = field(default_factory=dict)
    lengths: Mapping[str, int] = field(default_factory=dict)
    too_long: str = "cut"
    currencies: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    totals: str = "none"
    tax_percent: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)
    extrinsics: tuple[Mapping_, ...] = ()
    oci_fields: tuple[Mapping_, ...] = ()
    pack_unit: str = ""
    pack_sizes: Mapping[str, int] = field(default_factory=dict)
    cancel: str = "empty"
    validate_direct: bool = False
    session_minutes: int = 0  # the buyer-side session length; 0: unknown, no warning
    order_lag_hours: int = 48  # a transferred cart with no order after this is reported
    needs: tuple[str, ...] = ()  # keys the buyer file must set (the preset cannot know them)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict:
        """JSON-able form kept in the buyer's settings (``from_dict`` reads it back)."""
        data = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("extrinsics", "oci_fields"):
                value = [m.as_dict() for m in value]
            elif isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = {k: dict(v) if isinstance(v, Mapping) else v for k, v in value.items()}
            data[f.name] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> CartRules:
        """Rebuild checked rules (no checking: ``build`` did that at load)."""
        kwargs = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name in ("extrinsics", "oci_fields"):
                value = tuple(_mapping(m) for m in value)
            elif f.name in ("tax_percent", "shipping"):
                value = Decimal(value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)

    def for_oci(self, oci_unit_map: Mapping[str, str]) -> CartRules:
        """The rules with the OCI connection's own unit map under the profile's."""
        from dataclasses import replace

        return replace(self, unit_map={**oci_unit_map, **self.unit_map})


def _mapping(data: Mapping) -> Mapping_:
    transform = data.get("transform") or ()
    if isinstance(transform, str):
        transform = (transform,)
    return Mapping_(
        name=data.get("name", ""),
        source=data.get("source", ""),
        transforms=tuple(transform),
        value=str(data.get("value", "")),
        template=str(data.get("template", "")),
        length=int(data.get("length", 0) or 0),
    )


# Checking ------------------------------------------------------------------------------

_TYPES: dict[str, type | tuple] = {
    "system": str,
    "unit_standard": str,
    "units": list,
    "unit_map": dict,
    "extra_units": list,
    "schemes": list,
    "category_codes": dict,
    "default_codes": dict,
    "lengths": dict,
    "too_long": str,
    "currencies": list,
    "required": list,
    "totals": str,
    "tax_percent": (str, int, float),
    "shipping": (str, int, float),
    "extrinsics": list,
    "oci_fields": dict,
    "pack_unit": str,
    "pack_sizes": dict,
    "cancel": str,
    "validate_direct": bool,
    "session_minutes": int,
    "order_lag_hours": int,
}
KEYS = tuple(_TYPES)


def build(preset: Mapping, overrides: Mapping, prefix: str = "buyer.cart") -> CartRules:
    """The preset's rules with ``overrides`` laid over them; raise ProfileError with
    every problem (each named by its key under ``prefix``)."""
    err = _Errors(prefix)

    merged = dict(preset)
    for key, value in overrides.items():
        if key not in _TYPES:
            err(key, f"unknown key; the keys are {', '.join(KEYS)}")
            continue
        wanted = _TYPES[key]
        if isinstance(value, bool) and wanted is not bool or not isinstance(value, wanted):
            name = wanted.__name__ if isinstance(wanted, type) else "number or string"
            err(key, f"must be a {name.replace('dict', 'table').replace('str', 'string')}")
            continue
        merged[key] = value

    extra = tuple(merged.get("extra_units", ()))
    for index, code in enumerate(extra):
        if not isinstance(code, str) or not codes.UNIT_CODE.match(code):
            err(f"extra_units[{index}]", f"{code!r} is not a unit code (1 to 4 A-Z, 0-9)")

    def unit(key: str, code) -> None:
        if not isinstance(code, str) or not codes.unit_known(code, extra):
            err(
                key,
                f"unknown unit of measure {code!r}: not a UN/CEFACT Rec 20 code; "
                "declare a buyer's own code in extra_units",
            )

    if merged.get("unit_standard", "any") not in UNIT_STANDARDS:
        err("unit_standard", f"must be one of {', '.join(UNIT_STANDARDS)}")
    for index, code in enumerate(merged.get("units", ())):
        unit(f"units[{index}]", code)
    for source, target in (merged.get("unit_map") or {}).items():
        unit(f"unit_map.{source}", target)
    if merged.get("pack_unit"):
        unit("pack_unit", merged["pack_unit"])

    schemes = merged.get("schemes", ())
    for index, scheme in enumerate(schemes):
        if not isinstance(scheme, str) or not codes.is_scheme(scheme):
            err(
                f"schemes[{index}]",
                f"unknown classification scheme {scheme!r}; use UNSPSC, eCl@ss or "
                "custom:<domain> for the buyer's own commodity codes",
            )
    for table in ("category_codes", "default_codes"):
        for scheme, value in (merged.get(table) or {}).items():
            if not codes.is_scheme(scheme):
                err(f"{table}.{scheme}", "unknown classification scheme")
            elif table == "category_codes" and not (
                isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
            ):
                err(f"{table}.{scheme}", "must be a table of category = code")
            elif table == "default_codes" and not (isinstance(value, str) and value.strip()):
                err(f"{table}.{scheme}", "must be a non-empty code")

    for name, limit in (merged.get("lengths") or {}).items():
        if name not in LENGTH_FIELDS:
            err(f"lengths.{name}", f"unknown field; the fields are {', '.join(LENGTH_FIELDS)}")
        elif isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            err(f"lengths.{name}", "must be a whole number of characters, at least 1")
    for index, currency in enumerate(merged.get("currencies", ())):
        if not isinstance(currency, str) or not codes.CURRENCY.match(currency):
            err(f"currencies[{index}]", f"{currency!r} is not an ISO 4217 code such as USD")
    for index, name in enumerate(merged.get("required", ())):
        if name not in SOURCES:
            err(f"required[{index}]", f"unknown field {name!r}; the fields are {_FIELDS}")

    for key, allowed in (
        ("too_long", TOO_LONG),
        ("totals", TOTALS),
        ("cancel", CANCEL),
    ):
        if merged.get(key) is not None and merged[key] not in allowed:
            err(key, f"{merged[key]!r} must be one of {', '.join(allowed)}")
    for key in ("tax_percent", "shipping"):
        try:
            amount = Decimal(str(merged.get(key, 0)))
            if not amount.is_finite() or amount < 0:
                raise InvalidOperation
        except InvalidOperation:
            err(key, f"{merged[key]!r} must be an amount of 0 or more")
    for key in ("session_minutes", "order_lag_hours"):
        value = merged.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            err(key, "must be a whole number, 0 or more")

    extrinsics = []
    for index, raw in enumerate(merged.get("extrinsics", ())):
        mapping = _check_mapping(raw, f"extrinsics[{index}]", err)
        if mapping is not None:
            extrinsics.append(mapping)
    oci_fields = []
    for name, raw in (merged.get("oci_fields") or {}).items():
        if name not in OCI_FIELDS:
            err(f"oci_fields.{name}", f"unknown OCI field; the fields are {', '.join(OCI_FIELDS)}")
            continue
        mapping = _check_mapping(
            {**raw, "name": name} if isinstance(raw, dict) else raw, f"oci_fields.{name}", err
        )
        if mapping is not None:
            oci_fields.append(mapping)
    for sku, size in (merged.get("pack_sizes") or {}).items():
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            err(f"pack_sizes.{sku}", "must be a whole number of units per pack, at least 1")
    if merged.get("pack_sizes") and not merged.get("pack_unit"):
        err("pack_unit", "pack_sizes needs the unit the pack is priced in (pack_unit)")

    for key in merged.get("needs", ()):
        if not merged.get(key):
            err(
                key,
                f"the {preset.get('preset')} preset needs it: "
                f"{(preset.get('sources') or {}).get(key, 'the buyer system requires it')}",
            )

    if err.items:
        raise ProfileError(err.items)
    data = {k: v for k, v in merged.items() if k not in ("extrinsics", "oci_fields")}
    rules = CartRules.from_dict(data)
    from dataclasses import replace

    return replace(
        rules,
        extrinsics=tuple(extrinsics),
        oci_fields=tuple(oci_fields),
        tax_percent=Decimal(str(merged.get("tax_percent", 0))),
        shipping=Decimal(str(merged.get("shipping", 0))),
        unit_map=dict(merged.get("unit_map") or {}),
        sources=dict(merged.get("sources") or {}),
    )


def _check_mapping(raw, key: str, err: _Errors) -> Mapping_ | None:
    if not isinstance(raw, dict):
        err(key, "must be a table with name, source and transform")
        return None
    before = len(err.items)
    unknown = set(raw) - {"name", "source", "transform", "value", "template", "length"}
    for name in sorted(unknown):
        err(f"{key}.{name}", "unknown key; use name, source, transform, value, template, length")
    if not isinstance(raw.get("name"), str) or not raw.get("name", "").strip():
        err(f"{key}.name", "is missing")
    source = raw.get("source", "")
    if source and source not in SOURCES:
        err(f"{key}.source", f"unknown field {source!r}; the fields are {_FIELDS}")
    transform = raw.get("transform") or ()
    transforms = (transform,) if isinstance(transform, str) else tuple(transform)
    for name in transforms:
        if name not in TRANSFORMS:
            err(f"{key}.transform", f"unknown transform {name!r}; use {', '.join(TRANSFORMS)}")
    if "fixed" in transforms and not isinstance(raw.get("value"), str):
        err(f"{key}.value", "the fixed transform needs a value")
    if "cut" in transforms:
        length = raw.get("length")
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            err(f"{key}.length", "the cut transform needs a length of at least 1")
    if "template" in transforms:
        template = raw.get("template")
        if not isinstance(template, str):
            err(f"{key}.template", "the template transform needs a template")
        else:
            try:
                parsed = string.Formatter().parse(template)
                names = [name for _, name, _, _ in parsed if name is not None]
                bad = [n for n in names if n not in SOURCES]
            except ValueError as exc:
                err(f"{key}.template", f"is not a template: {exc}")
            else:
                for name in bad:
                    err(f"{key}.template", f"unknown field {{{name}}}; the fields are {_FIELDS}")
    if not source and not ({"fixed", "template"} & set(transforms)):
        err(f"{key}.source", "is missing (or use the fixed or template transform)")
    if len(err.items) != before:
        return None
    return _mapping(raw)


class _Errors:
    """Collects ``(key, message)`` pairs, keys under one prefix."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.items: list[tuple[str, str]] = []

    def __call__(self, key: str, message: str) -> None:
        self.items.append((f"{self.prefix}.{key}" if key else self.prefix, message))
