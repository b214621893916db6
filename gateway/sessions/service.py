"""Punchout sessions: open, start (single-use token), cart changes, transfer."""

from __future__ import annotations

import hashlib
import secrets
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from gateway import money
from gateway.catalog import PricedProduct, product_for, quantity_problem
from gateway.limits import check_rows
from gateway.models import Buyer, CartLine, ContractPrice, Product, PunchoutSession, User, utcnow
from gateway.ranges import MAX_QUANTITY
from gateway.sessions.events import record
from gateway.statements import Prepared
from provisioning.roles import Permissions, permissions


class SessionError(Exception):
    """A session operation refused; ``status`` is the HTTP status to answer with."""

    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


def permissions_of(session: PunchoutSession) -> Permissions:
    """What the session's user may see and do, from their roles."""
    roles = list(session.user.roles) if session.user else []
    return permissions(session.buyer.settings, roles)


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens are random, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_aux_id() -> str:
    return f"PG-{secrets.token_hex(8)}"


# Built once: constructing a statement costs more than executing it here.
_INSERT_SESSION = Prepared(
    insert(PunchoutSession.__table__).returning(PunchoutSession.__table__.c.id)
)
_HAS_SAVED = (
    select(PunchoutSession.id)
    .where(PunchoutSession.user_id == bindparam("user_id"), PunchoutSession.status == "saved")
    .limit(1)
)


_SAVED_KNOWN = "punchgate.saved_cart_known"


def saved_cart_known(db: Session, user_id: int, saved: bool) -> None:
    """Whether a saved cart waits for this user, read by the caller along with the user."""
    db.info.setdefault(_SAVED_KNOWN, {})[user_id] = bool(saved)


def _has_saved_cart(db: Session, user_id: int) -> bool:
    known = db.info.get(_SAVED_KNOWN, {}).get(user_id)
    if known is not None:
        return known
    return bool(db.connection().scalar(_HAS_SAVED, {"user_id": user_id}))


@dataclass
class Opened:
    id: int
    start_token: str
    _db: Session
    _values: dict
    _session: PunchoutSession | None = None
    session_token: str | None = None  # opened already started (``started_ttl``)

    @property
    def session(self) -> PunchoutSession:
        """The new session as an ORM object, attached on first use.

        Every column is known, so this costs no query; a plain setup request never
        asks, and spares the unit of work an object to look after.
        """
        if self._session is None:
            self._session = attached(self._db, PunchoutSession, {"id": self.id, **self._values})
        return self._session


def open_session(
    db: Session,
    *,
    buyer: Buyer,
    user: User | None,
    protocol: str,
    operation: str,
    token_ttl: int,
    buyer_cookie: str | None = None,
    return_url: str | None = None,
    payload_id: str | None = None,
    cxml_version: str | None = None,
    selected_sku: str | None = None,
    details: dict | None = None,
    load_saved: bool = True,
    started_ttl: int | None = None,
) -> Opened:
    """Store a new session and its single-use start token.

    ``started_ttl``: open it already started, with a session token valid that many
    seconds, for a caller that is itself the user's browser (an OCI catalog call):
    what ``start`` would do next, without a second statement on the new row (the
    caller logs the start).
    """
    token = new_token()
    now = utcnow()
    session_token = new_token() if started_ttl is not None else None
    values = dict(
        buyer_id=buyer.id,
        user_id=user.id if user else None,
        protocol=protocol,
        operation=operation,
        status="open",
        buyer_cookie=buyer_cookie,
        return_url=return_url,
        payload_id=payload_id,
        cxml_version=cxml_version,
        selected_sku=selected_sku,
        details=details or {},
        start_token_hash=hash_token(token),
        start_token_expires_at=now + timedelta(seconds=token_ttl),
        session_token_hash=hash_token(session_token) if session_token else None,
        created_at=now,
        started_at=now if session_token else None,
        expires_at=now + timedelta(seconds=started_ttl) if session_token else None,
        transferred_at=None,
    )
    # A Core INSERT ... RETURNING instead of an ORM flush (the hot path of every
    # setup request).
    check_rows(PunchoutSession, [values])
    session_id = _INSERT_SESSION.insert(db.connection(), [values])
    opened = Opened(session_id, token, db, values, session_token=session_token)
    # Not for calls answered without a page (OCI VALIDATE, BACKGROUND_SEARCH): the
    # user would never see the agent's cart before it went back. The common case, no
    # saved cart, costs no statement when the user's lookup already told.
    if load_saved and operation == "create" and user is not None and _has_saved_cart(db, user.id):
        load_saved_cart(db, opened.session)
    return opened


def saved_cart(db: Session, user_id: int) -> PunchoutSession | None:
    """The cart a support agent saved for this user and no punchout has loaded yet."""
    return db.scalar(
        select(PunchoutSession)
        .where(PunchoutSession.user_id == user_id, PunchoutSession.status == "saved")
        .order_by(PunchoutSession.id.desc())
        .limit(1)
    )


def load_saved_cart(db: Session, session: PunchoutSession) -> None:
    """Fill a new cart with the one a support agent saved for this user, if any.

    Prices are taken again from today's catalog and contract: the user
    transfers what they would pay now, not what the agent saw.
    """
    saved = saved_cart(db, session.user_id)
    if saved is None:
        return
    agent = (saved.details.get("on_behalf") or {}).get("agent", "a support agent")
    dropped, repriced = [], []
    for line in saved.lines:
        try:
            set_quantity(db, session, line.sku, line.quantity, log=False, check_open=False)
        except SessionError as exc:
            dropped.append(f"{line.sku}: {exc.message}")
            continue
        now = next(li for li in session.lines if li.sku == line.sku)
        if now.unit_price != line.unit_price:
            repriced.append(
                f"{line.sku}: {money.amount(line.unit_price)} -> {money.amount(now.unit_price)}"
            )
    saved.status = "loaded"
    saved.details = {**saved.details, "loaded_into": session.id}
    session.details = {**session.details, "loaded_from": {"session": saved.id, "agent": agent}}
    notes = "".join(
        f"; {label}: {', '.join(items)}"
        for label, items in (("dropped", dropped), ("price changed", repriced))
        if items
    )
    record(
        db,
        "cart.loaded",
        f"{len(session.lines)} line(s) prepared by support agent {agent} "
        f"(session #{saved.id}) loaded into this cart{notes}",
        buyer_id=session.buyer_id,
        session_id=session.id,
        level="warning" if dropped else "info",
        data={"from_session": saved.id, "agent": agent, "dropped": dropped, "repriced": repriced},
    )
    record(
        db,
        "on_behalf.loaded",
        f"loaded into the user's punchout session #{session.id}",
        buyer_id=session.buyer_id,
        session_id=saved.id,
        data={"into_session": session.id},
    )


def rebuild_cart(db: Session, session: PunchoutSession, items) -> list[str]:
    """Re-create a cart from ItemOut lines (edit/inspect); returns warnings.

    A line is recognised by its SupplierPartAuxiliaryID among this buyer's
    earlier carts, which keeps its identity for order matching; an unknown
    aux id falls back to the SupplierPartID.
    """
    warnings: list[str] = []
    for item in items:
        sku = item.supplier_part_id
        aux_id = None
        if item.aux_id:
            known = db.execute(
                select(CartLine.sku, CartLine.aux_id)
                .join(PunchoutSession, CartLine.session_id == PunchoutSession.id)
                .where(PunchoutSession.buyer_id == session.buyer_id, CartLine.aux_id == item.aux_id)
                .limit(1)
            ).first()
            if known:
                sku, aux_id = known
            else:
                warnings.append(
                    f"SupplierPartAuxiliaryID {item.aux_id!r} is not from an earlier cart of "
                    f"this buyer; line taken by SupplierPartID {sku!r}"
                )
        if not sku:
            warnings.append(
                f"line {item.line_number or '?'} has no SupplierPartID and is not from an "
                "earlier cart; line dropped"
            )
            continue
        if product_for(db, session.buyer_id, sku) is None:
            warnings.append(f"product {sku!r} is no longer in the catalog; line dropped")
            continue
        if item.quantity <= 0:
            continue
        try:
            set_quantity(
                db, session, sku, item.quantity, aux_id=aux_id, log=False, check_open=False
            )
        except SessionError as exc:
            warnings.append(f"line {sku!r} dropped: {exc.message}")
    return warnings


@dataclass(frozen=True)
class StartOutcome:
    """A redeemed StartPage token, or why it was refused (the refusal is logged)."""

    session: PunchoutSession | None = None
    session_token: str | None = None
    refused: SessionError | None = None


def start(db: Session, token: str, session_ttl: int) -> StartOutcome:
    """Redeem a StartPage token once.

    A refusal is returned, not raised, so that its event commits with the
    transaction instead of being rolled back with it.
    """
    now = utcnow()
    token_hash = hash_token(token)
    session_token = new_token()
    claimed = db.execute(
        update(PunchoutSession)
        .where(
            PunchoutSession.start_token_hash == token_hash,
            PunchoutSession.started_at.is_(None),
            PunchoutSession.start_token_expires_at > now,
        )
        .values(
            started_at=now,
            session_token_hash=hash_token(session_token),
            expires_at=now + timedelta(seconds=session_ttl),
        )
        .execution_options(synchronize_session=False)
    )
    session = db.scalar(
        select(PunchoutSession).where(PunchoutSession.start_token_hash == token_hash)
    )
    if claimed.rowcount == 1:
        db.refresh(session)
        record(
            db,
            "start",
            "StartPage opened; shopping session started",
            buyer_id=session.buyer_id,
            session_id=session.id,
        )
        return StartOutcome(session, session_token)
    if session is None:
        return StartOutcome(refused=SessionError("This punchout link is not valid.", 404))
    if session.started_at is not None:
        kind, message = (
            "start.reused",
            ("This punchout link was already used. Start again from your procurement system."),
        )
    else:
        kind, message = (
            "start.expired",
            ("This punchout link has expired. Start again from your procurement system."),
        )
    record(
        db,
        kind,
        f"StartPage refused: {message}",
        buyer_id=session.buyer_id,
        session_id=session.id,
        level="warning",
    )
    return StartOutcome(refused=SessionError(message, 410))


# The buyer and the user come with the session (every caller reads both: the buyer's
# framing rules, the user's roles), in one statement. The row is made into the three
# objects by hand (``attached``): loading them through the ORM (a joined eager load of
# three entities) cost more than the rest of a cart change.
_SESSIONS, _BUYERS, _USERS = PunchoutSession.__table__, Buyer.__table__, User.__table__
_ROW_PARTS = tuple(
    (model, tuple(c.key for c in table.c))
    for model, table in ((PunchoutSession, _SESSIONS), (Buyer, _BUYERS), (User, _USERS))
)
_BY_TOKEN_SELECT = (
    select(*_SESSIONS.c, *_BUYERS.c, *_USERS.c)
    .select_from(
        _SESSIONS.join(_BUYERS, _BUYERS.c.id == _SESSIONS.c.buyer_id).outerjoin(
            _USERS, _USERS.c.id == _SESSIONS.c.user_id
        )
    )
    .where(_SESSIONS.c.session_token_hash == bindparam("hash"))
)
_BY_TOKEN = Prepared(_BY_TOKEN_SELECT)
_BY_TOKEN_FOR_UPDATE = Prepared(_BY_TOKEN_SELECT.with_for_update(of=_SESSIONS))
_LOCKED = "punchgate.locked_carts"


def attached(db: Session, model, values: dict):
    """The object of ``values`` (every column) as a persistent object of ``db``, with no
    ORM query; the one this unit of work holds already, if it does."""
    found = db.identity_map.get(db.identity_key(model, (values["id"],)))
    if found is not None:
        return found
    obj = model.__mapper__.class_manager.new_instance()
    # Straight into the state, as the ORM's own loading does: every column is known and
    # committed, relationships stay unloaded (lazy), nothing is marked as changed.
    instance_state(obj).dict.update(values)
    make_transient_to_detached(obj)
    db.add(obj)
    return obj


def _session_from_row(db: Session, row: tuple) -> PunchoutSession:
    objects, at = [], 0
    for model, keys in _ROW_PARTS:
        values = dict(zip(keys, row[at : at + len(keys)], strict=True))
        at += len(keys)
        objects.append(None if values["id"] is None else attached(db, model, values))
    session, buyer, user = objects
    if "buyer" not in session.__dict__:
        set_committed_value(session, "buyer", buyer)
    if "user" not in session.__dict__:
        set_committed_value(session, "user", user)
    return session


def by_token(db: Session, token: str | None, *, lock: bool = False) -> PunchoutSession:
    """The session a bearer token opens, or SessionError (401) when none.

    ``lock``: the request is about to change the cart, so on PostgreSQL the session row
    is locked by this same statement (see ``_lock_cart``) instead of by one more.
    """
    if not token:
        raise SessionError("No punchout session: the session token is missing.", 401)
    locking = lock and db.get_bind().dialect.name == "postgresql"
    statement = _BY_TOKEN_FOR_UPDATE if locking else _BY_TOKEN
    # What an ORM query's autoflush would do first.
    db.flush()
    row = statement.first(db.connection(), {"hash": hash_token(token)})
    if row is None:
        raise SessionError("This punchout session is not known.", 401)
    session = _session_from_row(db, row)
    if locking:
        # Its lines are read after the lock (nothing loaded them before), so they are
        # the cart as the transactions before this one left it.
        db.info.setdefault(_LOCKED, set()).add(session.id)
    if session.expires_at and session.expires_at < utcnow():
        raise SessionError(
            "This punchout session has expired. Start again from your procurement system.", 401
        )
    return session


def _check_open(session: PunchoutSession) -> None:
    if session.operation == "inspect":
        raise SessionError("This cart was opened for inspection only and cannot be changed.", 409)
    if session.status != "open":
        raise SessionError(f"This cart was already {session.status}; it can no longer change.", 409)


def parse_quantity(value) -> Decimal:
    try:
        quantity = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise SessionError(f"quantity {value!r} is not a number") from None
    if not quantity.is_finite() or quantity < 0 or quantity > MAX_QUANTITY:
        raise SessionError(f"quantity must be between 0 and {MAX_QUANTITY}")
    if quantity != quantity.quantize(Decimal("0.001")):
        raise SessionError("quantity has more than three decimals")
    return quantity


def _lock_cart(db: Session, session: PunchoutSession) -> None:
    """Serialise the changes to one cart (a double click, two tabs, the storefront's script
    and its form): without it two adds of one product both insert a line (a unique
    violation, answered 500) or one increment is lost. PostgreSQL: a row lock on the
    session, taken once per transaction, then the lines read again under it. SQLite's
    write transactions (BEGIN IMMEDIATE) are serialised already."""
    if db.get_bind().dialect.name != "postgresql":
        return
    locked = db.info.setdefault(_LOCKED, set())
    if session.id in locked:
        return
    db.execute(select(PunchoutSession.id).where(PunchoutSession.id == session.id).with_for_update())
    locked.add(session.id)
    db.expire(session, ["lines"])


_LINES = CartLine.__table__
_PRODUCTS = Product.__table__
# The cart with each line's product quantity rules (NULL: the product left the catalog),
# read as rows: a cart change needs no CartLine objects, and loading and flushing them
# cost more than the rest of the request.
_CART = (
    select(
        *_LINES.c,
        _PRODUCTS.c.sku.label("product_sku"),
        _PRODUCTS.c.uom.label("product_uom"),
        _PRODUCTS.c.min_quantity,
        _PRODUCTS.c.quantity_step,
    )
    .select_from(_LINES.outerjoin(_PRODUCTS, _PRODUCTS.c.sku == _LINES.c.sku))
    .where(_LINES.c.session_id == bindparam("session_id"))
    .order_by(_LINES.c.position)
)
_CART_ROWS = Prepared(_CART)
# Rows of the cart as tuples with attribute access: SQLAlchemy's result rows cost more to
# make than the statement to run here.
_CartRow = namedtuple("_CartRow", [c.key for c in _CART.selected_columns])
_INSERT_LINE = Prepared(insert(_LINES).returning(_LINES.c.id))
_SET_LINE_QUANTITY = Prepared(
    update(_LINES)
    .where(_LINES.c.id == bindparam("line_id"))
    .values(quantity=bindparam("new_quantity"))
)
_DELETE_LINE = Prepared(delete(_LINES).where(_LINES.c.id == bindparam("line_id")))


@dataclass(frozen=True)
class _Rules:
    """What ``quantity_problem`` reads of a product."""

    sku: str
    uom: str
    min_quantity: Decimal | None
    quantity_step: Decimal | None


def _cart_rows(db: Session, session_id: int) -> list:
    db.flush()  # what an ORM query's autoflush would do: lines added through the ORM
    return [
        _CartRow._make(row) for row in _CART_ROWS.all(db.connection(), {"session_id": session_id})
    ]


_PRODUCT_KEYS = (*(c.key for c in _PRODUCTS.c), "contract_price")
# The product and this buyer's contract price in one row (``product_for`` takes two
# statements and an ORM object).
_PRICED_PRODUCT = Prepared(
    select(
        *_PRODUCTS.c,
        select(ContractPrice.price)
        .where(
            ContractPrice.buyer_id == bindparam("buyer_id"), ContractPrice.sku == bindparam("sku")
        )
        .scalar_subquery(),
    ).where(_PRODUCTS.c.sku == bindparam("sku"))
)


def _priced_product(db: Session, buyer_id: str, sku: str) -> PricedProduct | None:
    """``product_for`` as one statement: the live product with this buyer's price."""
    row = _PRICED_PRODUCT.first(db.connection(), {"buyer_id": buyer_id, "sku": sku})
    if row is None:
        return None
    product = SimpleNamespace(**dict(zip(_PRODUCT_KEYS, row, strict=True)))
    if product.retired_at is not None:
        return None
    return PricedProduct(product, product.unit_price, product.contract_price)


def _line_written(db: Session, session: PunchoutSession, line_id: int, deleted: bool) -> None:
    """Keep the ORM's view of the cart true after a change written on the connection: a
    loaded ``session.lines`` is read again on next use, a loaded line object with it."""
    if "lines" in session.__dict__:
        db.expire(session, ["lines"])
    line = db.identity_map.get(db.identity_key(CartLine, (line_id,)))
    if line is not None:
        if deleted:
            db.expunge(line)
        else:
            db.expire(line)


def set_quantity(
    db: Session,
    session: PunchoutSession,
    sku: str,
    quantity: Decimal,
    *,
    add: bool = False,
    aux_id: str | None = None,
    log: bool = True,
    check_open: bool = True,
) -> list:
    """Set (or with ``add``, increase) a line's quantity; 0 removes the line.

    Returns the cart's lines after the change (what ``cart_view`` shows), in order.
    """
    if check_open:
        _check_open(session)
    _lock_cart(db, session)
    lines = _cart_rows(db, session.id)
    line = next((line for line in lines if line.sku == sku), None)
    if line is None and quantity == 0:
        if add:
            raise SessionError("quantity must be more than 0")
        raise SessionError(f"product {sku!r} is not in the cart", 404)
    conn = db.connection()
    if line is None:
        found = _priced_product(db, session.buyer_id, sku)
        if found is None:
            raise SessionError(f"product {sku!r} is not in the catalog", 404)
        if not permissions_of(session).sees(found.product.category):
            raise SessionError(f"product {sku!r} is not available to your role", 404)
        p = found.product
        problem = quantity_problem(p, quantity)
        if problem:
            raise SessionError(problem)
        values = dict(
            session_id=session.id,
            position=max((li.position for li in lines), default=0) + 1,
            aux_id=aux_id or new_aux_id(),
            sku=p.sku,
            quantity=quantity,
            unit_price=found.price,
            list_price=found.list_price,
            contract_price=found.contract_price,
            currency=p.currency,
            description=p.description,
            uom=p.uom,
            unspsc=p.unspsc,
            manufacturer=p.manufacturer,
            manufacturer_part_id=p.manufacturer_part_id,
            lead_time_days=p.lead_time_days,
        )
        check_rows(CartLine, [values])
        line_id = _INSERT_LINE.insert(conn, [values])
        _line_written(db, session, line_id, deleted=False)
        if log:
            record(
                db,
                "cart.add",
                f"added {money.quantity(quantity)} x {sku} "
                f"at {money.amount(found.price)} {p.currency}",
                buyer_id=session.buyer_id,
                session_id=session.id,
                data={
                    "sku": sku,
                    "quantity": money.quantity(quantity),
                    "unit_price": money.amount(found.price),
                    "list_price": money.amount(found.list_price),
                    "contract_price": None
                    if found.contract_price is None
                    else money.amount(found.contract_price),
                },
            )
        return [*lines, SimpleNamespace(id=line_id, **values)]
    before = line.quantity
    new = before + quantity if add else quantity
    if new > MAX_QUANTITY:
        raise SessionError(f"quantity must be at most {MAX_QUANTITY}")
    if line.product_sku is not None:
        rules = _Rules(line.sku, line.product_uom, line.min_quantity, line.quantity_step)
        problem = quantity_problem(rules, new)
        if problem:
            raise SessionError(problem)
    if new == 0:
        _DELETE_LINE.run(conn, {"line_id": line.id})
        _line_written(db, session, line.id, deleted=True)
        lines = [li for li in lines if li is not line]
        if log:
            record(
                db,
                "cart.remove",
                f"removed {sku} (was {money.quantity(before)})",
                buyer_id=session.buyer_id,
                session_id=session.id,
                data={"sku": sku, "quantity_before": money.quantity(before)},
            )
    else:
        check_rows(CartLine, [{"quantity": new}])
        _SET_LINE_QUANTITY.run(conn, {"line_id": line.id, "new_quantity": new})
        _line_written(db, session, line.id, deleted=False)
        # Rows are read-only: the changed line alone is copied with its new quantity.
        lines = [li._replace(quantity=new) if li is line else li for li in lines]
        if log:
            record(
                db,
                "cart.update",
                f"{sku}: quantity {money.quantity(before)} -> {money.quantity(new)}",
                buyer_id=session.buyer_id,
                session_id=session.id,
                data={
                    "sku": sku,
                    "quantity_before": money.quantity(before),
                    "quantity": money.quantity(new),
                },
            )
    return lines


_CART_SIZE = Prepared(
    select(func.count()).select_from(_LINES).where(_LINES.c.session_id == bindparam("session_id"))
)


def cart_size(db: Session, session: PunchoutSession) -> int:
    """How many lines the cart has (the storefront's badge), without loading them."""
    if "lines" in session.__dict__:
        return len(session.lines)
    db.flush()  # lines added through the ORM and not yet written count too
    return _CART_SIZE.first(db.connection(), {"session_id": session.id})[0]


def remove(db: Session, session: PunchoutSession, sku: str) -> list:
    return set_quantity(db, session, sku, Decimal(0))


def cart_view(session: PunchoutSession, show_prices: bool | None = None, lines=None) -> dict:
    """The cart as the API shows it; prices left out where the user's role may not see them
    (``show_prices=True`` for support tools). ``lines``: the cart ``set_quantity`` returned
    (else ``session.lines``)."""
    if show_prices is None:
        show_prices = permissions_of(session).show_prices
    if lines is None:
        lines = session.lines
    items = [
        {
            "sku": line.sku,
            "line_id": line.aux_id,
            "description": line.description,
            "quantity": money.quantity(line.quantity),
            "unit_price": money.amount(line.unit_price),
            "list_price": money.amount(line.list_price),
            "contract_price": None
            if line.contract_price is None
            else money.amount(line.contract_price),
            "currency": line.currency,
            "uom": line.uom,
            "line_total": money.amount(line.unit_price * line.quantity),
        }
        for line in lines
    ]
    total = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    currency = lines[0].currency if lines else None
    if not show_prices:
        for item in items:
            for key in ("unit_price", "list_price", "contract_price", "line_total"):
                item[key] = None
        return {"items": items, "total": None, "currency": currency, "prices_hidden": True}
    return {"items": items, "total": money.amount(total), "currency": currency}


def session_view(session: PunchoutSession) -> dict:
    user = session.user
    return {
        "id": session.id,
        "buyer": {"id": session.buyer_id, "name": session.buyer.name},
        "user": {
            "email": user.email if user else None,
            "name": user.name if user else None,
            "roles": list(user.roles) if user else [],
        },
        "protocol": session.protocol,
        "operation": session.operation,
        "cart": cart_view(session),
        "status": session.status,
    }


def mark_transferred(
    db: Session, session: PunchoutSession, status: str = "transferred"
) -> datetime:
    """Close an open session as transferred (or ``cancelled``: returned without a cart)."""
    now = utcnow()
    claimed = db.execute(
        update(PunchoutSession)
        .where(PunchoutSession.id == session.id, PunchoutSession.status == "open")
        .values(status=status, transferred_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise SessionError(f"This cart was already {session.status}.", 409)
    session.status = status
    session.transferred_at = now
    return now
