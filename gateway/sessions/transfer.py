"""Sending the cart back: the PunchOutOrderMessage and the form that carries it."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from gateway import money
from gateway.cxml import documents
from gateway.models import PunchoutSession
from gateway.oci.items import LIMITS, FormatOptions, OciItem, OciValueError, new_item_fields
from gateway.profiles import codes, preflight
from gateway.profiles import service as profiles
from gateway.profiles.preflight import Outcome
from gateway.profiles.rules import CartRules
from gateway.sessions.events import record, redact_document
from gateway.sessions.service import SessionError, mark_transferred


@dataclass(frozen=True)
class TransferForm:
    """An HTML form the browser posts to the buyer's return URL."""

    action: str
    target: str
    fields: tuple[tuple[str, str], ...]


class TransferHeld(SessionError):
    """The cart breaks the buyer's profile where no rule says how to fix it: not sent."""

    def __init__(self, system: str, outcome: Outcome):
        lines = sorted({p.position for p in outcome.problems})
        super().__init__(
            f"{len(lines)} line(s) of your cart cannot go to your {system}: "
            + "; ".join(f"{p.sku}: {p.message}" for p in outcome.problems)
            + ". Change or remove them, then transfer again.",
            409,
        )
        self.problems = [p.as_dict() for p in outcome.problems]


def _charges(rules, items) -> tuple[documents.Charge | None, documents.Charge | None]:
    subtotal = sum((i.total for i in items), Decimal(0))
    tax, shipping = preflight.charges(rules, subtotal)
    return (
        documents.Charge(shipping, "Shipping") if shipping else None,
        documents.Charge(tax, f"Tax {rules.tax_percent}%") if tax else None,
    )


def cxml_order_message(
    session: PunchoutSession, settings_version: str, outcome: Outcome, rules: CartRules
) -> bytes:
    details = session.details
    cxml_settings = session.buyer.settings.get("cxml", {})
    items = [
        documents.ItemIn(
            sku=line.sku,
            aux_id=line.aux_id,
            quantity=line.quantity,
            unit_price=line.unit_price,
            currency=line.currency,
            description=line.description,
            uom=line.uom,
            unspsc=line.unspsc,
            manufacturer_part_id=line.manufacturer_part_id,
            manufacturer=line.manufacturer,
            lead_time_days=line.lead_time_days,
            classifications=tuple(
                (codes.domain_of(scheme), code) for scheme, code in prepared.classifications
            ),
            price_basis=None
            if prepared.price_basis is None
            else documents.PriceBasis(
                Decimal(prepared.price_basis.quantity),
                prepared.price_basis.unit,
                prepared.price_basis.conversion_factor,
            ),
            extrinsics=prepared.extrinsics,
        )
        for prepared in outcome.lines
        for line in (prepared.line,)
    ]
    currency = items[0].currency if items else _default_currency(session)
    shipping, tax = _charges(rules, items)
    if rules.totals == "lines":
        items += [
            documents.ItemIn(
                sku=charge.description.split()[0].upper(),
                aux_id=f"PG-{session.id}-{charge.description.split()[0].lower()}",
                quantity=Decimal(1),
                unit_price=charge.amount,
                currency=currency,
                description=charge.description,
                uom="EA",
            )
            for charge in (shipping, tax)
            if charge is not None
        ]
        shipping = tax = None
    message = documents.OrderMessage(
        buyer_cookie=session.buyer_cookie or "",
        # Mirrored: the buyer addressed us in To, we answer from it.
        from_=tuple(details.get("to") or details.get("supplier") or ()),
        to=tuple(details.get("from") or ()),
        sender=tuple(details.get("supplier") or details.get("to") or ()),
        operation_allowed=cxml_settings.get("operation_allowed", "edit"),
        currency=currency,
        items=tuple(items),
        version=session.cxml_version or settings_version,
        deployment_mode=details.get("deployment_mode", "production"),
        shipping=shipping,
        tax=tax,
    )
    return documents.order_message(message)


def _default_currency(session: PunchoutSession) -> str:
    return session.buyer.settings.get("currency", "USD")


CUSTOM_FIELD_SOURCES = (
    "sku",
    "manufacturer",
    "manufacturer_part_id",
    "unspsc",
    "uom",
    "aux_id",
    "list_price",
    "contract_price",
)


def oci_items(session: PunchoutSession, outcome: Outcome, rules: CartRules) -> list[OciItem]:
    oci = session.buyer.settings.get("oci", {})
    custom = {int(k): v for k, v in (oci.get("custom_fields") or {}).items()}
    originals = {line.aux_id: line.description for line in session.lines}
    items = []
    for prepared in outcome.lines:
        line = prepared.line
        values = {}
        for index, source in custom.items():
            value = getattr(line, source, None)
            values[index] = (
                ""
                if value is None
                else (money.amount(value) if isinstance(value, Decimal) else str(value))
            )
        # The profile's fields win over the connection's fixed list.
        values.update(prepared.oci_fields)
        other = next(((s, c) for s, c in prepared.classifications if s != codes.UNSPSC), ("", ""))
        # The whole text always travels in LONGTEXT, even when a rule cut DESCRIPTION.
        full = originals.get(line.aux_id, line.description)
        items.append(
            OciItem(
                description=line.description,
                quantity=line.quantity,
                unit=line.uom,
                price=line.unit_price,
                currency=line.currency,
                vendormat=line.sku,
                # The line identity orders are matched by later.
                ext_product_id=line.aux_id,
                price_unit=Decimal(prepared.price_basis.quantity if prepared.price_basis else 1),
                leadtime=line.lead_time_days,
                vendor=oci.get("vendor_number", ""),
                manufactmat=line.manufacturer_part_id or "",
                matgroup=prepared.code(codes.UNSPSC),
                ext_schema_type=codes.OCI_SCHEMA_TYPE.get(other[0], codes.domain_of(other[0])),
                ext_category_id=other[1],
                contract=oci.get("contract", "") if line.contract_price is not None else "",
                ext_quote_id=f"PG-{session.id}",
                ext_quote_item=str(line.position),
                longtext=full if len(full) > LIMITS["DESCRIPTION"] else "",
                custom=values,
            )
        )
    return items


def oci_form(
    db: Session, session: PunchoutSession, outcome: Outcome | None = None, rules=None
) -> TransferForm:
    """The NEW_ITEM form (no items for an empty ``outcome``: a cancel)."""
    oci = session.buyer.settings.get("oci", {})
    options = FormatOptions(
        decimals=int(oci.get("decimals", 3)),
        index_base=int(oci.get("index_base", 1)),
        # Units were mapped by the profile (which includes the connection's unit_map).
        unit_map={},
    )
    try:
        items = oci_items(session, outcome, rules) if outcome else []
        fields, cuts = new_item_fields(items, options)
    except OciValueError as exc:
        raise SessionError(f"the cart cannot be sent over OCI: {exc}", 409) from None
    for cut in cuts:
        record(
            db,
            "transfer.cut",
            f"line {cut.line}: {cut.field} cut from {len(cut.original)} to "
            f"{len(cut.sent)} characters (OCI limit {LIMITS[cut.field]})",
            buyer_id=session.buyer_id,
            session_id=session.id,
            level="warning",
            data={"line": cut.line, "field": cut.field, "original": cut.original, "sent": cut.sent},
        )
    echo = tuple((name, value) for name, value in session.details.get("echo", []))
    return TransferForm(
        action=session.return_url,
        target=session.details.get("target") or "_top",
        fields=echo + tuple(fields),
    )


def cxml_form(document: bytes, session: PunchoutSession) -> tuple[TransferForm, str, str]:
    encoding = session.buyer.settings.get("cxml", {}).get("form_encoding", "cxml-base64")
    if encoding == "cxml-urlencoded":
        fields = (("cxml-urlencoded", document.decode("utf-8")),)
    else:
        fields = (("cxml-base64", base64.b64encode(document).decode("ascii")),)
    target = session.details.get("extrinsics", {}).get("returnframe") or "_top"
    form = TransferForm(action=session.return_url, target=target, fields=fields)
    return form, encoding, redact_document(document)


def _check_document(document: bytes, version: str, dtd_dir: str | None, outcome: Outcome):
    """The DTD's word on the document, as problems of the whole cart."""
    has_basis = any(p.price_basis for p in outcome.lines)
    if has_basis and documents.version_tuple(version) < documents.PRICE_BASIS_SINCE:
        outcome.problems.append(
            preflight.Finding(
                0, "", "pack", f"pack prices need cXML 1.2.036 or later; this cart is {version}"
            )
        )
    if not dtd_dir:
        return
    from gateway.cxml.dtd import DtdCatalog

    errors = DtdCatalog(dtd_dir).validate(document)
    if errors and not errors[0].startswith("no local DTD"):
        outcome.problems += [preflight.Finding(0, "", "dtd", f"DTD: {e}") for e in errors[:5]]


def transfer(
    db: Session, session: PunchoutSession, default_version: str, dtd_dir: str | None = None
) -> TransferForm:
    """Check the cart against the buyer's profile, close the session, and build the form
    that returns the cart; raise TransferHeld (session left open) when it cannot go."""
    if session.protocol == "support":
        raise SessionError(
            "This cart was built by a support agent for the user and has no procurement "
            "system to return to: save it for the user, or place the order, from the cart page.",
            409,
        )
    if not session.return_url and not session.details.get("direct"):
        # Nothing the user can do in this session gets the cart back.
        session.status = "failed"
        record(
            db,
            "transfer.failed",
            "no return URL: the setup request had no BrowserFormPost",
            buyer_id=session.buyer_id,
            session_id=session.id,
            level="error",
        )
        raise SessionError(
            "Your procurement system did not say where to send the cart back "
            "(no BrowserFormPost in the setup request). Please contact the supplier.",
            409,
        )
    rules = profiles.session_rules(session)
    outcome = profiles.preflight(db, session)
    raw = None
    if session.protocol != "oci" and outcome.ok:
        version = session.cxml_version or default_version
        raw = cxml_order_message(session, default_version, outcome, rules)
        _check_document(raw, version, dtd_dir, outcome)
    profiles.record_outcome(db, session, outcome)
    if not outcome.ok:
        raise TransferHeld(rules.system, outcome)
    mark_transferred(db, session)
    if session.protocol == "oci":
        form = oci_form(db, session, outcome, rules)
        encoding = "OCI NEW_ITEM form"
        document = "\n".join(f"{name}={value}" for name, value in form.fields)
    else:
        form, encoding, document = cxml_form(raw, session)
    record(
        db,
        "transfer",
        f"cart of {len(session.lines)} line(s) sent to the buyer as {encoding}",
        buyer_id=session.buyer_id,
        session_id=session.id,
        data={"lines": len(session.lines), "encoding": encoding, "return_url": session.return_url},
        document=document,
    )
    return form


@dataclass(frozen=True)
class Cancelled:
    """What the browser does after "Cancel and return": post ``form``, go to ``url``,
    or (neither) show a page saying the window can be closed."""

    form: TransferForm | None = None
    url: str | None = None


def cancel(db: Session, session: PunchoutSession, default_version: str) -> Cancelled:
    """Close the session without a cart, the way the buyer's profile says."""
    if session.protocol == "support":
        raise SessionError("An agent's cart has no procurement system to return to.", 409)
    rules = profiles.session_rules(session)
    cancel_url = session.details.get("cancel_url")
    mode = rules.cancel
    if mode == "ocicancel" and not cancel_url:
        mode = "empty"  # no OCICANCEL in the call: the empty cart is the cancel
    mark_transferred(db, session, status="cancelled")
    outcome, document = Cancelled(), None
    if mode == "ocicancel":
        outcome = Cancelled(url=cancel_url)
        message = "cancelled: the browser goes to the buyer's OCICANCEL URL"
    elif mode == "empty" and session.return_url:
        if session.protocol == "oci":
            form = oci_form(db, session)
            document = "\n".join(f"{name}={value}" for name, value in form.fields)
        else:
            raw = cxml_order_message(session, default_version, Outcome([], [], []), rules)
            form, _, document = cxml_form(raw, session)
        outcome = Cancelled(form=form)
        message = "cancelled: an empty cart is returned"
    else:
        message = "cancelled: nothing is sent back (the profile's cancel is none)"
    record(
        db,
        "session.cancelled",
        message,
        buyer_id=session.buyer_id,
        session_id=session.id,
        data={"cancel": mode, "lines_dropped": len(session.lines)},
        document=document,
    )
    return outcome
