"""Pre-flight: a cart checked against the buyer's rules before it leaves.

Pure: cart lines and rules in, the lines as they will be sent out, with every
fix a rule made (a unit mapped, a code filled in, a text cut) and every problem
no rule can fix. A cart with problems is not sent; the storefront shows each
problem on its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from gateway import money
from gateway.profiles import codes
from gateway.profiles.rules import CartRules

FIELD_NAMES = {
    "sku": "part number",
    "description": "description",
    "uom": "unit of measure",
    "unspsc": "UNSPSC code",
    "category": "category",
    "manufacturer": "manufacturer",
    "manufacturer_part_id": "manufacturer part number",
    "aux_id": "line id",
    "currency": "currency",
    "lead_time_days": "lead time",
    "unit_price": "price",
    "list_price": "list price",
    "contract_price": "contract price",
    "quantity": "quantity",
}


@dataclass(frozen=True)
class Line:
    """One cart line as the catalog has it."""

    position: int
    sku: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    currency: str
    uom: str
    aux_id: str = ""
    unspsc: str | None = None
    category: str | None = None
    manufacturer: str | None = None
    manufacturer_part_id: str | None = None
    lead_time_days: int | None = None
    list_price: Decimal | None = None
    contract_price: Decimal | None = None

    def values(self) -> dict[str, str]:
        """Each field as the text it is sent as (empty when the line has none)."""
        out = {}
        for name in FIELD_NAMES:
            value = getattr(self, name)
            if value is None:
                out[name] = ""
            elif isinstance(value, Decimal):
                out[name] = money.quantity(value) if name == "quantity" else money.amount(value)
            else:
                out[name] = str(value)
        return out


@dataclass(frozen=True)
class PriceBasis:
    """The price is for ``quantity`` units of ``unit`` (cXML PriceBasisQuantity, OCI PRICEUNIT)."""

    quantity: int
    unit: str
    conversion_factor: Decimal = Decimal(1)


@dataclass(frozen=True)
class Prepared:
    """A line as it will be sent."""

    line: Line
    classifications: tuple[tuple[str, str], ...] = ()  # (scheme, code)
    extrinsics: tuple[tuple[str, str], ...] = ()
    oci_fields: dict[int, str] = field(default_factory=dict)
    price_basis: PriceBasis | None = None

    def code(self, scheme: str) -> str:
        return next((c for s, c in self.classifications if s == scheme), "")


@dataclass(frozen=True)
class Finding:
    position: int
    sku: str
    rule: str
    message: str

    def as_dict(self) -> dict:
        return {"line": self.position, "sku": self.sku, "rule": self.rule, "message": self.message}


@dataclass
class Outcome:
    lines: list[Prepared]
    fixes: list[Finding]
    problems: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.problems

    def problems_of(self, sku: str) -> list[str]:
        return [p.message for p in self.problems if p.sku == sku]


def check(lines: list[Line], rules: CartRules, buyer: str = "") -> Outcome:
    """Shape every line by the rules; collect what was fixed and what cannot go."""
    where = f"{buyer}'s {rules.system}" if buyer else rules.system
    outcome = Outcome([], [], [])
    for line in lines:
        outcome.lines.append(_line(line, rules, where, outcome))
    return outcome


def _line(line: Line, rules: CartRules, where: str, outcome: Outcome) -> Prepared:
    def fix(rule: str, message: str) -> None:
        outcome.fixes.append(Finding(line.position, line.sku, rule, message))

    def problem(rule: str, message: str) -> None:
        outcome.problems.append(Finding(line.position, line.sku, rule, message))

    price_basis = None
    size = rules.pack_sizes.get(line.sku)
    if size and rules.pack_unit:
        # Priced per pack, ordered per piece: the quantity goes out in pieces and the
        # price says how many pieces it is for.
        sent = line.quantity * size
        fix(
            "pack",
            f"{money.quantity(line.quantity)} {line.uom} sent as {money.quantity(sent)} "
            f"{rules.pack_unit}, priced per {size}",
        )
        line = replace(line, quantity=sent, uom=rules.pack_unit)
        price_basis = PriceBasis(size, rules.unit_map.get(rules.pack_unit, rules.pack_unit))

    mapped = rules.unit_map.get(line.uom, line.uom)
    if mapped != line.uom:
        fix("unit_map", f"unit {line.uom} sent as {mapped}")
        line = replace(line, uom=mapped)
    if rules.units and line.uom not in rules.units:
        problem(
            "units",
            f"the unit {line.uom!r} is not enabled in {where} (enabled: {', '.join(rules.units)})",
        )
    elif rules.unit_standard == "rec20" and not codes.unit_known(line.uom, rules.extra_units):
        problem(
            "units",
            f"the unit {line.uom!r} is not a UN/CEFACT Rec 20 code, which {where} requires",
        )

    if rules.currencies and line.currency not in rules.currencies:
        problem(
            "currencies",
            f"the currency {line.currency} is not accepted by {where} "
            f"(accepted: {', '.join(rules.currencies)})",
        )

    classifications = []
    schemes = list(rules.schemes)
    if codes.UNSPSC not in schemes and line.unspsc:
        schemes.append(codes.UNSPSC)  # sent when known, even where not required
    for scheme in schemes:
        required = scheme in rules.schemes
        code = (line.unspsc or "") if scheme == codes.UNSPSC else ""
        if not code and line.category:
            code = (rules.category_codes.get(scheme) or {}).get(line.category, "")
            if code:
                fix("category_codes", f"{scheme} {code} from category {line.category!r}")
        if not code and required and rules.default_codes.get(scheme):
            code = rules.default_codes[scheme]
            fix("default_codes", f"no {scheme} code: the default {code} sent")
        if code:
            classifications.append((scheme, code))
        elif required:
            problem(
                "schemes",
                f"the product has no {codes.domain_of(scheme)} code, which {where} requires",
            )

    values = line.values()
    for name in rules.required:
        if not values.get(name, "").strip():
            problem("required", f"the product has no {FIELD_NAMES[name]}, which {where} requires")

    for name, limit in rules.lengths.items():
        value = values.get(name, "")
        if len(value) <= limit:
            continue
        if rules.too_long == "cut":
            cut = value[:limit].rstrip()
            fix("lengths", f"{FIELD_NAMES[name]} cut from {len(value)} to {len(cut)} characters")
            line = replace(line, **{name: cut})
        else:
            problem(
                "lengths",
                f"the {FIELD_NAMES[name]} has {len(value)} characters; {where} takes {limit}",
            )

    values = line.values()
    extrinsics = tuple((m.name, text) for m in rules.extrinsics if (text := m.apply(values)) != "")
    oci_fields = {
        int(m.name.removeprefix("CUST_FIELD")): text
        for m in rules.oci_fields
        if (text := m.apply(values)) != ""
    }
    return Prepared(line, tuple(classifications), extrinsics, oci_fields, price_basis)


def charges(rules: CartRules, subtotal: Decimal) -> tuple[Decimal, Decimal]:
    """(tax, shipping) the profile adds to a cart of ``subtotal``; both 0 with totals none."""
    if rules.totals == "none":
        return Decimal(0), Decimal(0)
    tax = (subtotal * rules.tax_percent / 100).quantize(Decimal("0.01"))
    return tax, rules.shipping
