"""Profiles and the database: a buyer's rules, a session's lines, the pre-flight's events."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cxml.documents import PRICE_BASIS_SINCE, version_tuple
from gateway.models import Buyer, Event, Product, PunchoutSession
from gateway.profiles import presets
from gateway.profiles.preflight import Line, Outcome, check
from gateway.profiles.rules import CartRules, ProfileError
from gateway.sessions.events import record


def profile_settings(
    name: str | None, cart: Mapping | None, cxml_version: str | None = None
) -> dict:
    """What a buyer file's ``profile`` and ``[buyer.cart]`` keep in the buyer's settings.

    Raises ProfileError naming every wrong key at once.
    """
    name = presets.DEFAULT if name is None else name
    if name not in presets.NAMES:
        errors = [
            (
                "buyer.profile",
                f"unknown preset {name!r}; the presets are {', '.join(presets.NAMES)}",
            )
        ]
        try:
            presets.rules_of(presets.DEFAULT, dict(cart or {}))
        except ProfileError as exc:
            errors += exc.errors
        raise ProfileError(errors)
    rules = presets.rules_of(name, dict(cart or {}))
    if rules.pack_sizes and cxml_version and version_tuple(cxml_version) < PRICE_BASIS_SINCE:
        raise ProfileError(
            [
                (
                    "buyer.cart.pack_sizes",
                    f"pack prices need cXML 1.2.036 or later (PriceBasisQuantity); "
                    f"buyer.cxml.version is {cxml_version}",
                )
            ]
        )
    return {"preset": name, "overrides": sorted(cart or {}), "rules": rules.as_dict()}


def rules_of(buyer: Buyer) -> CartRules:
    """The buyer's rules (a buyer loaded before profiles existed gets the generic preset)."""
    stored = (buyer.settings or {}).get("profile")
    if not stored:
        return presets.rules_of(presets.DEFAULT)
    data = stored["rules"]
    # Every OCI call and storefront page asks; the buyer cached per process holds the same
    # dict until it is reloaded. Kept with the dict itself, so its id cannot be reused.
    found = _RULES.get(id(data))
    if found is None or found[0] is not data:
        if len(_RULES) >= 256:
            _RULES.clear()
        found = _RULES[id(data)] = (data, CartRules.from_dict(data))
    return found[1]


_RULES: dict[int, tuple[dict, CartRules]] = {}


def profile_summary(buyer: Buyer) -> dict:
    """The profile in force, for the console: preset, keys the buyer file overrides, rules."""
    stored = (buyer.settings or {}).get("profile") or {}
    rules = rules_of(buyer)
    return {
        "preset": stored.get("preset", presets.DEFAULT),
        "overrides": stored.get("overrides", []),
        "system": rules.system,
        "units": ", ".join(rules.units) or ("Rec 20" if rules.unit_standard == "rec20" else "any"),
        "schemes": ", ".join(rules.schemes) or "none required",
        "currencies": ", ".join(rules.currencies) or "any",
        "cancel": rules.cancel,
        "session_minutes": rules.session_minutes,
    }


def recent_outcomes(db: Session, buyer_id: str, limit: int = 20) -> list[Event]:
    """The buyer's last profile fixes and refusals, newest first (for the buyer page)."""
    return list(
        db.scalars(
            select(Event)
            .where(
                Event.buyer_id == buyer_id,
                # The partial index's own predicate, so both databases' planners use it.
                Event.kind.like("profile.%"),
                Event.kind.in_(("profile.fix", "profile.refused", "profile.dropped")),
            )
            .order_by(Event.id.desc())
            .limit(limit)
        )
    )


def session_rules(session: PunchoutSession) -> CartRules:
    rules = rules_of(session.buyer)
    if session.protocol == "oci":
        rules = rules.for_oci(session.buyer.settings.get("oci", {}).get("unit_map") or {})
    return rules


def lines_of(db: Session, session: PunchoutSession) -> list[Line]:
    skus = [line.sku for line in session.lines]
    categories = (
        dict(db.execute(select(Product.sku, Product.category).where(Product.sku.in_(skus))).all())
        if skus
        else {}
    )
    return [
        Line(
            position=line.position,
            sku=line.sku,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            currency=line.currency,
            uom=line.uom,
            aux_id=line.aux_id,
            unspsc=line.unspsc,
            category=categories.get(line.sku),
            manufacturer=line.manufacturer,
            manufacturer_part_id=line.manufacturer_part_id,
            lead_time_days=line.lead_time_days,
            list_price=line.list_price,
            contract_price=line.contract_price,
        )
        for line in session.lines
    ]


def preflight(db: Session, session: PunchoutSession) -> Outcome:
    """The session's cart checked against its buyer's profile (nothing recorded)."""
    return check(lines_of(db, session), session_rules(session), session.buyer.name)


def record_outcome(db: Session, session: PunchoutSession, outcome: Outcome) -> None:
    """One event per fix, one per refused cart (the support console shows both)."""
    preset = (session.buyer.settings.get("profile") or {}).get("preset", presets.DEFAULT)
    for fix in outcome.fixes:
        record(
            db,
            "profile.fix",
            f"line {fix.position} ({fix.sku}): {fix.message}",
            buyer_id=session.buyer_id,
            session_id=session.id,
            data={**fix.as_dict(), "preset": preset},
        )
    if outcome.problems:
        record(
            db,
            "profile.refused",
            f"cart held: {len(outcome.problems)} problem(s) for the {preset} profile: "
            + "; ".join(f"line {p.position} ({p.sku}): {p.message}" for p in outcome.problems),
            buyer_id=session.buyer_id,
            session_id=session.id,
            level="warning",
            data={"preset": preset, "problems": [p.as_dict() for p in outcome.problems]},
        )
