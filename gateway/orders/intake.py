"""Taking an OrderRequest: idempotency, matching to the cart, mismatch policy, handoff.

The order, its lines, attachments, events and the outbox message that hands it
to the marketplace are written in one transaction; the 200 goes out only after
it commits.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import partial
from operator import is_not, itemgetter

from sqlalchemy import ARRAY, Row, any_, bindparam, func, insert, select
from sqlalchemy.orm import Session

from gateway import money
from gateway.cxml.errors import Conflict, NotAcceptable
from gateway.cxml.order import (
    DEFAULT_MAX_ORDER_LINES,
    OrderLineIn,
    OrderRequestIn,
    parse_order_header,
    parse_order_request,
)
from gateway.cxml.values import Problems
from gateway.limits import check_rows
from gateway.mime import Part
from gateway.models import (
    Attachment,
    CartLine,
    ContractPrice,
    Order,
    OrderLine,
    OutboxMessage,
    Product,
    PunchoutSession,
)
from gateway.sessions.events import record
from gateway.statements import Prepared
from provisioning.roles import permissions

POLICIES = ("accept_and_flag", "reject")
# Differences between the order and its cart or contract: ``mismatch_policy``
# decides. Other flags (lines nothing identifies, line numbering) never reject
# an order on their own; ``lines_without_part`` decides for unidentified lines.
MISMATCH_KINDS = frozenset({"sku", "price_vs_cart", "quantity_vs_cart", "price_vs_contract"})


def body_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def replay(db: Session, buyer_id: str, payload_id: str, raw: bytes) -> Order | None:
    """The order this exact document already created, or Conflict for a reused payloadID."""
    existing = db.scalar(
        select(Order).where(Order.buyer_id == buyer_id, Order.payload_id == payload_id)
    )
    if existing is None:
        return None
    if existing.body_sha256 != body_hash(raw):
        raise Conflict(
            f"payloadID {payload_id!r} was already used by a different document "
            f"(order {existing.order_id})"
        )
    return existing


def _version(db: Session, buyer_id: str, request) -> int:
    if request.version is not None:
        return request.version
    if request.type == "new":
        return 1
    latest = db.scalar(
        select(func.max(Order.version)).where(
            Order.buyer_id == buyer_id, Order.order_id == request.order_id
        )
    )
    return (latest or 0) + 1


# Values per IN list: well under SQLite's limit on bound parameters (999 before 3.32).
CHUNK = 500


def _among(db: Session, column, values: list) -> list:
    """Conditions, one per query, that together select the rows whose ``column`` is in ``values``.

    PostgreSQL: one query, the values as one array parameter (= ANY): an IN list
    of thousands of parameters costs more to send than to run (psycopg converts
    such a long statement again on every execution). Elsewhere IN lists of CHUNK.
    """
    if not values:
        return []
    if db.get_bind().dialect.name == "postgresql":
        return [column == any_(bindparam(None, values, type_=ARRAY(column.type)))]
    return [column.in_(values[start : start + CHUNK]) for start in range(0, len(values), CHUNK)]


def _cart_lines(db: Session, buyer_id: str, aux_ids: list[str]) -> dict[str, Row]:
    """This buyer's cart lines by line id (the newest wins), in a few queries.

    Only the columns matching reads, as rows: a large order matched to its cart
    would otherwise load (and track) one ORM object per line.
    """
    found: dict[str, Row] = {}
    with db.no_autoflush:
        for among in _among(db, CartLine.aux_id, list(dict.fromkeys(aux_ids))):
            # Only this buyer's carts: a line id from another buyer never matches.
            rows = db.execute(
                select(
                    CartLine.id,
                    CartLine.session_id,
                    CartLine.aux_id,
                    CartLine.sku,
                    CartLine.quantity,
                    CartLine.unit_price,
                )
                .join(PunchoutSession, CartLine.session_id == PunchoutSession.id)
                .where(PunchoutSession.buyer_id == buyer_id, among)
                .order_by(CartLine.id)
            )
            for row in rows:
                found[row.aux_id] = row
    return found


def _by_manufacturer_part(db: Session, lines: list[OrderLineIn]) -> dict[str, str]:
    """Catalog SKUs for manufacturer part numbers that name exactly one product."""
    wanted = sorted({line.manufacturer_part_id for line in lines if line.manufacturer_part_id})
    found: dict[str, list[str]] = {}
    for among in _among(db, Product.manufacturer_part_id, wanted):
        for mpn, sku in db.execute(select(Product.manufacturer_part_id, Product.sku).where(among)):
            found.setdefault(mpn, []).append(sku)
    return {mpn: skus[0] for mpn, skus in found.items() if len(skus) == 1}


def _unidentified(line_in: OrderLineIn) -> dict:
    known = [
        f"{name} {value!r}"
        for name, value in (
            ("BuyerPartID", line_in.buyer_part_id),
            ("ManufacturerPartID", line_in.manufacturer_part_id),
        )
        if value
    ]
    what = ", ".join(known + ([repr(line_in.description[:60])] if line_in.description else []))
    kind = "non-catalog " if line_in.ad_hoc else ""
    return {
        "line": line_in.line_number,
        "kind": "unidentified_line",
        "message": (
            f"line {line_in.line_number}: {kind}{line_in.item_type} line without SupplierPartID, "
            f"not matched to the catalog; passed on as {what or 'sent'}"
        ),
    }


def _match(
    db: Session, buyer_id: str, request: OrderRequestIn, rows: list[dict], prices: list
) -> tuple[list[dict], int | None]:
    """Link line rows to the cart lines and products they came from.

    Returns what differs, and the session most lines came from. ``prices`` are
    the lines' effective prices (pack pricing applied), computed once.
    """
    flags = []
    sessions: Counter[int] = Counter()
    carts = _cart_lines(db, buyer_id, [line.aux_id for line in request.lines if line.aux_id])
    by_mpn = _by_manufacturer_part(db, [line for line in request.lines if not line.sku])
    for line_in, line, price in zip(request.lines, rows, prices, strict=True):
        cart = carts.get(line_in.aux_id) if line_in.aux_id else None
        identified_by = "SupplierPartID" if line_in.sku else None
        if not line_in.sku and cart is not None:
            line["sku"], identified_by = cart.sku, "SupplierPartAuxiliaryID"
        elif not line_in.sku and line_in.manufacturer_part_id in by_mpn:
            line["sku"], identified_by = by_mpn[line_in.manufacturer_part_id], "ManufacturerPartID"
        details = line["details"]  # this line's own dict, built by _line_details
        details["identified_by"] = identified_by
        if identified_by is None:
            flags.append(_unidentified(line_in))
        if cart is None:
            details["matched"] = False
            continue
        sessions[cart.session_id] += 1
        line["cart_line_id"] = cart.id
        line["cart_quantity"] = cart.quantity
        line["cart_price"] = cart.unit_price
        if line_in.sku and cart.sku != line_in.sku:
            flags.append(
                {"line": line_in.line_number, "kind": "sku", "order": line_in.sku, "cart": cart.sku}
            )
        if price is not None and price != cart.unit_price:
            flags.append(
                {
                    "line": line_in.line_number,
                    "kind": "price_vs_cart",
                    "order": money.amount(price),
                    "cart": money.amount(cart.unit_price),
                }
            )
        if line_in.quantity != cart.quantity:
            flags.append(
                {
                    "line": line_in.line_number,
                    "kind": "quantity_vs_cart",
                    "order": money.quantity(line_in.quantity),
                    "cart": money.quantity(cart.quantity),
                }
            )
    contracts: dict[str, Decimal] = {}
    skus = sorted({line["sku"] for line in rows if line["sku"]})
    for among in _among(db, ContractPrice.sku, skus):
        contracts.update(
            db.execute(
                select(ContractPrice.sku, ContractPrice.price).where(
                    ContractPrice.buyer_id == buyer_id, among
                )
            ).all()
        )
    if contracts:
        for line, price in zip(rows, prices, strict=True):
            contract = line["contract_price"] = contracts.get(line["sku"])
            if contract is not None and price is not None and price != contract:
                flags.append(
                    {
                        "line": line["line_number"],
                        "kind": "price_vs_contract",
                        "order": money.amount(price),
                        "contract": money.amount(contract),
                    }
                )
    session_id = sessions.most_common(1)[0][0] if sessions else None
    return flags, session_id


def line_amount(line: OrderLine) -> Decimal:
    """Quantity times the price of one ordered unit (pack pricing applied)."""
    return _amount(line.quantity, line.unit_price, line.details)


def _amount(quantity: Decimal, unit_price: Decimal | None, details: dict | None) -> Decimal:
    effective = details.get("effective_price") if details else None
    price = Decimal(effective) if effective is not None else unit_price
    return quantity * (price or 0)


def role_limit(
    db: Session, buyer, order: Order, amounts: Iterable[Decimal] | None = None
) -> dict | None:
    """A flag when the order is over the limit of its user's roles.

    ``amounts``: the lines' amounts when the order's lines are not ORM objects
    (read only when the session's user has a limit to check).
    """
    session = db.get(PunchoutSession, order.session_id) if order.session_id else None
    if session is None or session.user is None:
        return None
    limit = permissions(buyer.settings, list(session.user.roles)).max_order_value
    if amounts is None:
        amounts = (line_amount(line) for line in order.lines)
    total = sum(amounts, Decimal(0))
    if limit is None or total <= limit:
        return None
    return {
        "line": 0,
        "kind": "over_role_limit",
        "order": money.amount(total),
        "limit": money.amount(limit),
        "user": session.user.email or session.user.unique_name,
    }


def describe(flag: dict) -> str:
    if "message" in flag:
        return flag["message"]
    if flag["kind"] == "over_role_limit":
        return (
            f"order total {flag['order']} is over the {flag['limit']} limit of "
            f"{flag['user']}'s role"
        )
    other = "contract" if "contract" in flag else "cart"
    return (
        f"line {flag['line']}: {flag['kind'].replace('_', ' ')} ({flag['order']} ordered, "
        f"{flag[other]} in the {other})"
    )


def marketplace_payload(
    order: Order, lines: list[dict] | None = None, attachments: list[Attachment] | None = None
) -> dict:
    """The JSON the marketplace receives (documented in the README).

    ``lines``: the order's line rows (column names as keys; a NULL column may be
    absent), when they were written without ORM objects; ``attachments``
    likewise. Else both are read from the order.
    """
    if lines is None:
        lines = [{key: getattr(line, key) for key in LINE_COLUMNS} for line in order.lines]
    if attachments is None:
        attachments = order.attachments

    def line_payload(line: dict) -> dict:
        details = line["details"] or {}
        price = line.get("unit_price")
        return {
            "line_number": line["line_number"],
            "sku": line["sku"],
            "line_id": line.get("aux_id"),
            # Orders repeat a few prices and quantities over many lines: ``money`` keeps
            # each one's text per process.
            "quantity": money.quantity(line["quantity"]),
            "unit_price": None if price is None else money.amount(price),
            "currency": line.get("currency"),
            "uom": line.get("uom"),
            "description": line["description"],
            "requested_delivery_date": line.get("requested_delivery_date"),
            # How the line was identified, and what else the buyer sent
            # for it (service and non-catalog lines have no SKU).
            "matched": bool(details.get("identified_by")),
            "identified_by": details.get("identified_by"),
            "supplier_part_id": details.get("supplier_part_id"),
            "buyer_part_id": details.get("buyer_part_id"),
            "manufacturer_part_id": details.get("manufacturer_part_id"),
            "manufacturer_name": details.get("manufacturer_name"),
            "item_type": details.get("item_type", "item"),
            "ad_hoc": details.get("ad_hoc", False),
            "price_basis": details.get("price_basis"),
            "effective_unit_price": details.get("effective_price"),
            "max_amount": details.get("max_amount"),
        }

    return {
        "order": {
            "id": order.id,
            "buyer": order.buyer_id,
            "order_id": order.order_id,
            "version": order.version,
            "type": order.type,
            "order_date": order.order_date,
            "total": None if order.total is None else money.amount(order.total),
            "currency": order.currency,
            "session_id": order.session_id,
            "ship_to": order.details.get("ship_to"),
            "bill_to": order.details.get("bill_to"),
            "payment": order.details.get("payment"),
            "comments": order.details.get("comments"),
            "flags": order.details.get("flags", []),
            # Set when a support agent placed the order for the user (the buyer's
            # procurement system has no record of it).
            "placed_on_behalf": order.details.get("on_behalf"),
            "lines": [line_payload(line) for line in lines],
            "attachments": [
                {
                    "content_id": a.content_id,
                    "content_type": a.content_type,
                    "filename": a.filename,
                    "size": a.size,
                }
                for a in attachments
            ],
        }
    }


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while an order is taken.

    A large order allocates a few hundred thousand containers (lines, their
    dicts, the payload) that all live until the request ends, and CPython's
    collector runs after every 700 of them: a 10,000-line order spent about
    150 ms in collections that found nothing to free. What the order leaves
    behind is freed by reference counting; cycles wait for the next collection.
    """
    if not gc.isenabled():  # already paused (another thread's order, a caller)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def take_order(
    db: Session,
    *,
    buyer,
    envelope,
    raw: bytes,
    parts: list[Part],
    max_lines: int = DEFAULT_MAX_ORDER_LINES,
) -> Order:
    """Store an OrderRequest and hand it to the marketplace; raise a CxmlError to refuse it.

    Checks run in the order the README documents: the header (orderID, type,
    version), then whether the order is a repeat or refers to an order known
    here, then the lines (every problem at once), then attachments and policies.
    """
    with _collector_paused():
        return _take_order(db, buyer, envelope, raw, parts, max_lines)


def _take_order(db: Session, buyer, envelope, raw: bytes, parts: list[Part], max_lines: int):
    header_problems = Problems()
    head = parse_order_header(envelope.body, header_problems)
    if header_problems:
        # Refuses with the header's and the lines' problems.
        parse_order_request(envelope.body, max_lines=max_lines)
    version = _version(db, buyer.id, head)
    duplicate = db.scalar(
        select(Order).where(
            Order.buyer_id == buyer.id,
            Order.order_id == head.order_id,
            Order.version == version,
            Order.type == head.type,
        )
    )
    if duplicate is not None:
        return duplicate  # same orderID and version: answered as the first time
    request = head
    if request.type != "new":
        previous = db.scalar(
            select(Order)
            .where(Order.buyer_id == buyer.id, Order.order_id == request.order_id)
            .order_by(Order.id.desc())
            .limit(1)
        )
        if previous is None:
            raise Conflict(
                f"order {request.order_id!r} is not known here; a {request.type} "
                "needs the original order first"
            )
        if previous.type == "delete":
            raise Conflict(
                f"order {request.order_id!r} was deleted; it cannot be "
                f"{'updated' if request.type == 'update' else 'deleted'} again"
            )
    request = parse_order_request(envelope.body, max_lines=max_lines)
    orders_policy = buyer.settings.get("orders", {})
    cids = {p.content_id for p in parts}
    missing = [ref for ref in request.attachment_refs if ref[4:] not in cids]
    if missing:
        raise NotAcceptable(f"attachment {missing[0]} is referenced but not in the message")
    order = Order(
        buyer_id=buyer.id,
        order_id=request.order_id,
        version=version,
        type=request.type,
        payload_id=envelope.payload_id,
        body_sha256=body_hash(raw),
        order_date=request.order_date,
        total=request.total,
        currency=request.currency,
        details={
            **request.details,
            "document_reference": request.document_reference,
            "from": [c.public() for c in envelope.from_],
            "to": [c.public() for c in envelope.to],
            "cxml_version": envelope.declared_version,
        },
        attachments=[
            Attachment(
                content_id=part.content_id,
                content_type=part.content_type,
                filename=part.filename,
                size=len(part.data),
                data=part.data,
            )
            for part in parts
        ],
    )
    # The lines stay out of the ORM (plain rows, one bulk INSERT once matching has
    # settled them): a large order would otherwise spend most of its time on one
    # object per line and the unit of work's bookkeeping for it.
    prices = [line_in.effective_price for line_in in request.lines]
    lines = [
        _line_row(line_in, price) for line_in, price in zip(request.lines, prices, strict=True)
    ]
    match_flags, order.session_id = _match(db, buyer.id, request, lines, prices)
    flags = [*request.notes, *match_flags]
    unidentified = [f for f in flags if f["kind"] == "unidentified_line"]
    if unidentified and orders_policy.get("lines_without_part") == "reject":
        raise NotAcceptable(
            "; ".join(f["message"] for f in unidentified)[:1000]
            + f"; buyer {buyer.id!r} accepts only lines that name a catalog item"
        )
    over_limit = role_limit(
        db,
        buyer,
        order,
        (_amount(line["quantity"], line["unit_price"], line["details"]) for line in lines),
    )
    # Complete before the order's one INSERT: no UPDATE follows on an accepted order.
    order.details = {**order.details, "flags": flags}
    policy = orders_policy.get("mismatch_policy", "accept_and_flag")
    mismatches = [f for f in flags if f["kind"] in MISMATCH_KINDS]
    db.add(order)
    db.flush()
    _insert_lines(db, order.id, lines)
    record(
        db,
        "order.received",
        f"OrderRequest {request.type} {request.order_id} v{version}: {len(lines)} "
        f"line(s), total {order.total} {order.currency or ''}".strip(),
        buyer_id=buyer.id,
        session_id=order.session_id,
        data={"order": order.id, "order_id": order.order_id, "payload_id": order.payload_id},
    )
    for flag in flags:
        record(
            db,
            "order.mismatch" if flag["kind"] in MISMATCH_KINDS else "order.flagged",
            describe(flag),
            buyer_id=buyer.id,
            session_id=order.session_id,
            level="warning",
            data={"order": order.id, **flag},
        )
    if mismatches and policy == "reject":
        order.status = "rejected"
        if order.session_id is not None:
            session = db.get(PunchoutSession, order.session_id)
            if session is not None and session.status == "transferred":
                session.status = "failed"
        order.status_reason = "; ".join(describe(f) for f in mismatches)
        order.response_code = NotAcceptable.code
        order.response_text = (
            f"{NotAcceptable.reason}: order differs from the punchout "
            f"cart or contract: {order.status_reason}"
        )
        record(
            db,
            "order.rejected",
            order.status_reason,
            buyer_id=buyer.id,
            session_id=order.session_id,
            level="error",
            data={"order": order.id},
        )
        return order
    if over_limit is not None:
        order.details = {**order.details, "flags": [*flags, over_limit]}
        hold = buyer.settings.get("provisioning", {}).get("hold_over_limit", False)
        record(
            db,
            "order.held" if hold else "order.mismatch",
            describe(over_limit),
            buyer_id=buyer.id,
            session_id=order.session_id,
            level="warning",
            data={"order": order.id, **over_limit},
        )
        if hold:
            order.status = "pending"
            order.status_reason = describe(over_limit) + "; held for approval"
            return order
    if order.session_id is not None:
        session = db.get(PunchoutSession, order.session_id)
        if session is not None and session.status in ("open", "transferred", "failed"):
            session.status = "ordered"
    queue_for_marketplace(db, order, lines)
    return order


LINE_COLUMNS = [c.key for c in OrderLine.__table__.columns if c.key not in ("id", "order_pk")]


def _line_row(line_in: OrderLineIn, effective_price: Decimal | None) -> dict:
    """An order line as the row written (LINE_COLUMNS); matching fills in the cart's side."""
    return {
        "line_number": line_in.line_number,
        "sku": line_in.sku,
        "aux_id": line_in.aux_id or None,
        "quantity": line_in.quantity,
        "unit_price": line_in.unit_price,
        "currency": line_in.currency,
        "description": line_in.description,
        "uom": line_in.uom,
        "requested_delivery_date": line_in.requested_delivery_date,
        "cart_line_id": None,
        "cart_quantity": None,
        "cart_price": None,
        "contract_price": None,
        "details": _line_details(line_in, effective_price),
    }


_INSERT_LINES = Prepared(insert(OrderLine.__table__))
# Columns that are NULL unless given (no default).
_OPTIONAL_COLUMNS = [
    c.key
    for c in OrderLine.__table__.columns
    if c.nullable and c.default is None and c.server_default is None
]


def _insert_lines(db: Session, order_pk: int, lines: list[dict]) -> None:
    """The order's lines in one multi-row INSERT (the order itself is flushed).

    A column no line has a value for (an order not punched out has no cart
    prices) is left out of the INSERT, and of the rows: the database writes the
    same NULL without a parameter per line to process and send.
    """
    if not lines:
        return
    absent = [
        key
        for key in _OPTIONAL_COLUMNS
        if not any(map(partial(is_not, None), map(itemgetter(key), lines)))
    ]
    for line in lines:
        line["order_pk"] = order_pk
        for key in absent:
            del line[key]
    check_rows(OrderLine, lines)
    _INSERT_LINES.insert_all(db.connection(), lines)


def _line_details(line_in: OrderLineIn, effective_price: Decimal | None) -> dict:
    details = {
        "extrinsics": line_in.extrinsics,
        "comments": line_in.comments,
        "supplier_part_id": line_in.sku,
        "item_type": line_in.item_type,
    }
    for key, value in (
        ("buyer_part_id", line_in.buyer_part_id),
        ("manufacturer_part_id", line_in.manufacturer_part_id),
        ("manufacturer_name", line_in.manufacturer_name),
    ):
        if value:
            details[key] = value
    if line_in.ad_hoc:
        details["ad_hoc"] = True
    if line_in.price_basis is not None:
        details["price_basis"] = line_in.price_basis.public()
        if effective_price is not None:  # a pack price needs a UnitPrice to apply to
            details["effective_price"] = str(effective_price)
    if line_in.max_amount is not None:
        details["max_amount"] = money.amount(line_in.max_amount)
    return details


def queue_for_marketplace(db: Session, order: Order, lines: list[dict] | None = None) -> None:
    """The delivery to the marketplace, committed with the order itself.

    ``lines``: the order's line rows, when they were written without ORM objects.
    """
    db.add(
        OutboxMessage(
            kind="marketplace.order",
            idempotency_key=f"order-{order.id}",
            buyer_id=order.buyer_id,
            order_pk=order.id,
            payload=json.dumps(marketplace_payload(order, lines)),
        )
    )


def find_reference(db: Session, buyer_id: str, payload_id: str | None):
    """The buyer's order, or our outbound document, with this payloadID."""
    if not payload_id:
        return None, None
    order = db.scalar(
        select(Order).where(Order.buyer_id == buyer_id, Order.payload_id == payload_id)
    )
    if order is not None:
        return order, None
    message = db.scalar(
        select(OutboxMessage).where(
            OutboxMessage.buyer_id == buyer_id, OutboxMessage.document_id == payload_id
        )
    )
    if message is not None and message.order_pk is not None:
        order = db.get(Order, message.order_pk)
    return order, message
