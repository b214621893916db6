"""SQLAlchemy models. Migrations live beside this file in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    or_,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in Python on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Money(TypeDecorator):
    """Exact decimals: NUMERIC where the database has it, canonical text on SQLite."""

    impl = Numeric(18, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(18, 4))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Supplier(Base):
    __tablename__ = "suppliers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    credentials: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Buyer(Base):
    __tablename__ = "buyers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    return_url_prefixes: Mapped[list] = mapped_column(JSON, default=list)
    # Non-secret configuration (cxml options, oci, provisioning, outbound url).
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    credentials: Mapped[list[BuyerCredential]] = relationship(
        back_populates="buyer", cascade="all, delete-orphan"
    )


class BuyerCredential(Base):
    """An identity a buyer uses, and its secret (hashed, and encrypted when needed)."""

    __tablename__ = "buyer_credentials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("buyers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # from | sender | oci | outbound
    domain: Mapped[str] = mapped_column(String(200), default="")  # lower-cased
    identity: Mapped[str] = mapped_column(String(200))  # lower-cased
    secret_hash: Mapped[str | None] = mapped_column(String(200))
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    # Keyed HMAC of the secret, the same for every buyer: finds a secret reused
    # across buyers even where secret_hash is salted (Argon2id).
    fingerprint: Mapped[str | None] = mapped_column(String(80), index=True)
    # Set on a replaced secret: it keeps working until then (the overlap window).
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    buyer: Mapped[Buyer] = relationship(back_populates="credentials")

    def valid_at(self, moment: datetime) -> bool:
        return self.valid_until is None or self.valid_until > moment

    __table_args__ = (Index("ix_buyer_credentials_lookup", "kind", "domain", "identity"),)


class User(Base):
    """A person at a buyer, as the procurement system identified them."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("buyers.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(320))  # lower-cased
    unique_name: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    roles: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by support: the user may not punch out until re-enabled.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        Index("ix_users_email", "email"),
        Index("ix_users_buyer_email", "buyer_id", "email"),
        Index("ix_users_buyer_unique_name", "buyer_id", "unique_name"),
    )


class Product(Base):
    __tablename__ = "products"
    sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    uom: Mapped[str] = mapped_column(String(10))
    unspsc: Mapped[str | None] = mapped_column(String(20))
    manufacturer: Mapped[str | None] = mapped_column(String(200))
    manufacturer_part_id: Mapped[str | None] = mapped_column(String(100))
    lead_time_days: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(100))
    eclass: Mapped[str | None] = mapped_column(String(20))
    image_url: Mapped[str | None] = mapped_column(String(1000))
    long_description: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[str | None] = mapped_column(Text)
    min_quantity: Mapped[Decimal | None] = mapped_column(Money)
    quantity_step: Mapped[Decimal | None] = mapped_column(Money)
    # How many units unit_price is for (OCI PRICEUNIT, cXML PriceBasisQuantity).
    price_unit: Mapped[Decimal | None] = mapped_column(Money)
    # Set when a full load (--replace) no longer lists the product: hidden from
    # shop and search, kept for order matching and history.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Folded words for the search engines (see gateway.catalog.text); on
    # PostgreSQL a generated tsvector column beside it is indexed, on SQLite an
    # FTS5 table kept by triggers.
    search_text: Mapped[str] = mapped_column(Text, default="")
    description_terms: Mapped[str] = mapped_column(Text, default="")
    part_keys: Mapped[str] = mapped_column(Text, default="")
    # Also, for the storefront's browsing order over live products, ix_products_browse
    # (by category) and ix_products_browse_all: on (description, sku) on SQLite, on the
    # description's first 400 characters on PostgreSQL (migrations 0021 and 0025).
    __table_args__ = (Index("ix_products_category", "category"),)


class SearchTerm(Base):
    """Every word of the catalog: wildcard terms expand over it, typos are corrected to it."""

    __tablename__ = "search_terms"
    term: Mapped[str] = mapped_column(String(100), primary_key=True)


class SearchTermVariant(Base):
    """A term with one letter left out: words one typo apart share a variant."""

    __tablename__ = "search_term_variants"
    variant: Mapped[str] = mapped_column(String(100), primary_key=True)
    term: Mapped[str] = mapped_column(String(100), primary_key=True)


class ContractPrice(Base):
    __tablename__ = "contract_prices"
    buyer_id: Mapped[str] = mapped_column(
        ForeignKey("buyers.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(
        ForeignKey("products.sku", ondelete="CASCADE"), primary_key=True
    )
    price: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))


class PunchoutSession(Base):
    __tablename__ = "punchout_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("buyers.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    protocol: Mapped[str] = mapped_column(String(8))  # cxml | oci
    operation: Mapped[str] = mapped_column(String(16))  # create | edit | inspect
    status: Mapped[str] = mapped_column(String(16), default="open")
    buyer_cookie: Mapped[str | None] = mapped_column(String(500))
    return_url: Mapped[str | None] = mapped_column(Text)
    payload_id: Mapped[str | None] = mapped_column(String(300))
    cxml_version: Mapped[str | None] = mapped_column(String(16))
    selected_sku: Mapped[str | None] = mapped_column(String(100))
    # Protocol details needed to answer: mirrored credentials, OCI echo parameters,
    # the user identity as received.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    start_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    start_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    buyer: Mapped[Buyer] = relationship()
    user: Mapped[User | None] = relationship()

    @hybrid_property
    def expired(self) -> bool:
        """Past its session expiry, or its StartPage link expired unused."""
        now = utcnow()
        return bool(
            (self.expires_at and self.expires_at < now)
            or (
                self.started_at is None
                and self.start_token_expires_at
                and self.start_token_expires_at < now
            )
        )

    @expired.inplace.expression
    @classmethod
    def _expired_expression(cls):
        now = utcnow()
        # Written so that no NULL makes the negation unknown (open must be ~abandoned).
        return or_(
            and_(cls.expires_at.is_not(None), cls.expires_at < now),
            and_(
                cls.started_at.is_(None),
                cls.start_token_expires_at.is_not(None),
                cls.start_token_expires_at < now,
            ),
        )

    @property
    def state(self) -> str:
        """The status as support sees it: an open session past its expiry was abandoned."""
        return "abandoned" if self.status == "open" and self.expired else self.status

    lines: Mapped[list[CartLine]] = relationship(
        back_populates="session", order_by="CartLine.position", cascade="all, delete-orphan"
    )
    __table_args__ = (
        Index("ix_punchout_sessions_buyer_created", "buyer_id", "created_at"),
        # user_id first serves "this user's sessions"; status second finds a cart an
        # agent saved for the user on every punchout, however many sessions they have.
        Index("ix_punchout_sessions_user_status", "user_id", "status"),
        Index("ix_punchout_sessions_status", "status", "id"),
        Index("ix_punchout_sessions_cookie", "buyer_cookie"),
        Index("ix_punchout_sessions_created", "created_at"),
        Index("ix_punchout_sessions_buyer_id", "buyer_id", "id"),
        Index("ix_punchout_sessions_payload", "payload_id"),
        # Carts transferred and not ordered, per buyer, by age (the leakage alert).
        Index("ix_punchout_sessions_leak", "buyer_id", "status", "transferred_at"),
    )


class CartLine(Base):
    __tablename__ = "cart_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("punchout_sessions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    # The line identity sent as SupplierPartAuxiliaryID / EXT_PRODUCT_ID; kept
    # across edit sessions so orders can be matched to the line they came from.
    aux_id: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[Decimal] = mapped_column(Money)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    list_price: Mapped[Decimal] = mapped_column(Money)
    contract_price: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(Text)
    uom: Mapped[str] = mapped_column(String(10))
    unspsc: Mapped[str | None] = mapped_column(String(20))
    manufacturer: Mapped[str | None] = mapped_column(String(200))
    manufacturer_part_id: Mapped[str | None] = mapped_column(String(100))
    lead_time_days: Mapped[int | None] = mapped_column(Integer)

    session: Mapped[PunchoutSession] = relationship(back_populates="lines")
    __table_args__ = (
        UniqueConstraint("session_id", "sku", name="uq_cart_lines_session_sku"),
        Index("ix_cart_lines_aux_id", "aux_id"),
    )


class Event(Base):
    """Append-only log: what happened, to which buyer and session, with the document."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    buyer_id: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("punchout_sessions.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(8), default="info")  # info | warning | error
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    document: Mapped[str | None] = mapped_column(Text)
    # The X-Request-Id of the HTTP request that wrote the event (None outside one):
    # a buyer's ticket quoting it leads, through the request log (indexed there), to
    # these rows and to the matching log lines. Not indexed here: nothing looks events up
    # by it, and a random key cost every event insert a page of its own (migration 0024).
    request_id: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        Index("ix_events_session", "session_id", "id"),
        Index("ix_events_buyer_at", "buyer_id", "at"),
        # The buyer page's "last profile fixes and refusals": rare rows among millions of
        # events, so a partial index keeps the lookup a probe (and costs other inserts
        # nothing but the predicate).
        Index(
            "ix_events_profile",
            "buyer_id",
            "id",
            sqlite_where=text("kind LIKE 'profile.%'"),
            postgresql_where=text("kind LIKE 'profile.%'"),
        ),
        # Every OCI call counts its buyer's failed logins of the last minutes; through
        # (buyer_id, at) that read every event of a busy buyer's window.
        Index(
            "ix_events_oci_failures",
            "buyer_id",
            "at",
            sqlite_where=text("kind = 'oci.auth_failed'"),
            postgresql_where=text("kind = 'oci.auth_failed'"),
        ),
    )


FLAGGED_STATUSES = ("rejected", "pending")


class Order(Base):
    """A purchase order as the buyer sent it (one row per orderID and version)."""

    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("buyers.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("punchout_sessions.id", ondelete="SET NULL")
    )
    order_id: Mapped[str] = mapped_column(String(100))  # the buyer's orderID
    version: Mapped[int] = mapped_column(Integer, default=1)
    type: Mapped[str] = mapped_column(String(10), default="new")  # new | update | delete
    payload_id: Mapped[str] = mapped_column(String(300))
    body_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="received")
    status_reason: Mapped[str | None] = mapped_column(Text)
    order_date: Mapped[str | None] = mapped_column(String(60))
    total: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    # Addresses, shipping, tax, masked payment card, comments, extrinsics, flags.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    response_code: Mapped[int] = mapped_column(Integer, default=200)
    response_text: Mapped[str] = mapped_column(Text, default="OK")
    # Needs a look from support: flagged lines, or rejected, or held. Kept in step by
    # _keep_flagged so that the console lists these first along an index.
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @validates("details", "status")
    def _keep_flagged(self, key, value):
        details = value if key == "details" else self.details
        status = value if key == "status" else self.status
        self.flagged = bool((details or {}).get("flags")) or status in FLAGGED_STATUSES
        return value

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.line_number", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(cascade="all, delete-orphan")
    __table_args__ = (
        UniqueConstraint("buyer_id", "payload_id", name="uq_orders_buyer_payload"),
        UniqueConstraint("buyer_id", "order_id", "version", "type", name="uq_orders_buyer_order"),
        Index("ix_orders_session", "session_id"),
        Index("ix_orders_order_id", "order_id"),
        Index("ix_orders_flagged", "flagged", "id"),
        Index("ix_orders_buyer_flagged", "buyer_id", "flagged", "id"),
        Index("ix_orders_payload", "payload_id"),
        Index("ix_orders_status", "status", "id"),
        # The console's orders list by buyer and state, and the alerts' held and recently
        # rejected orders, stay index walks at millions of orders.
        Index("ix_orders_buyer_flagged_status", "buyer_id", "flagged", "status", "id"),
        Index("ix_orders_flagged_status_created", "flagged", "status", "created_at"),
    )


class OrderLine(Base):
    __tablename__ = "order_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    line_number: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(100))
    aux_id: Mapped[str | None] = mapped_column(String(255))
    quantity: Mapped[Decimal] = mapped_column(Money)
    unit_price: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(Text, default="")
    uom: Mapped[str | None] = mapped_column(String(10))
    requested_delivery_date: Mapped[str | None] = mapped_column(String(60))
    # The cart line this order line came from, and what the cart and contract said.
    cart_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("cart_lines.id", ondelete="SET NULL")
    )
    cart_quantity: Mapped[Decimal | None] = mapped_column(Money)
    cart_price: Mapped[Decimal | None] = mapped_column(Money)
    contract_price: Mapped[Decimal | None] = mapped_column(Money)
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # extrinsics, comments, flags

    order: Mapped[Order] = relationship(back_populates="lines")
    __table_args__ = (Index("ix_order_lines_order", "order_pk"),)


class Attachment(Base):
    """A MIME part referenced from an order by ``cid:``."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    content_id: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str | None] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class OutboxMessage(Base):
    """Something the gateway must deliver, written in the transaction that caused it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # marketplace.order | cxml.<Request> ...
    # Sent with every attempt; receivers use it to drop duplicates.
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    buyer_id: Mapped[str | None] = mapped_column(String(64))
    order_pk: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    payload: Mapped[str] = mapped_column(Text)
    # payloadID of a cXML document, so a later StatusUpdateRequest can name it.
    document_id: Mapped[str | None] = mapped_column(String(300), index=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|sent|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class MarketplaceOrder(Base):
    """The embedded marketplace's own record of an order handed to it."""

    __tablename__ = "marketplace_orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="accepted")
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    invoice_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MarketplaceEvent(Base):
    """A webhook event already applied (replay protection)."""

    __tablename__ = "marketplace_events"
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuthThrottle(Base):
    """Failed authentications per sender or user name, for back-off."""

    __tablename__ = "auth_throttle"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConfigVersion(Base):
    """One row counting changes to buyers, their credentials and the supplier.

    Bumped in the transaction of every such change (gateway/cache.py); each
    instance compares it per request with the version of its cached copy.
    """

    __tablename__ = "config_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class SyncNonce(Base):
    """Nonces of credential-sync requests already seen (replay protection)."""

    __tablename__ = "sync_nonces"
    nonce: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportSnapshot(Base):
    """Figures the support console shows that aggregate months of sessions (buyer health,
    adoption), computed ahead by ``punchgate reports refresh`` and read by the pages."""

    __tablename__ = "report_snapshots"
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # health | adoption
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    data: Mapped[list] = mapped_column(JSON, default=list)


class Agent(Base):
    """A support agent (role agent) or administrator (role admin)."""

    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10), default="agent")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """What an agent did, when, to what (never changed or deleted)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    agent_email: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_agent", "agent_email", "id"),
        Index("ix_audit_log_action", "action", "id"),
    )


class KeyFingerprint(Base):
    """What the keys every instance must share looked like at first start.

    Only a keyed digest is kept; an instance whose keys give another digest
    refuses to start instead of failing every request the others signed.
    """

    __tablename__ = "key_fingerprints"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)  # the variable's name
    fingerprint: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundRequest(Base):
    """One request a buyer system or the marketplace sent, refused ones included.

    Written in the handler's own transaction when it knows its answer there (setup
    requests, orders, OCI calls), else by the web layer once the answer is built, in a
    transaction of its own: a failure to write it never changes the answer.
    ``document`` is redacted and size-capped, and cleared before the row itself is
    purged (retention).
    """

    __tablename__ = "inbound_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_id: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))  # cxml | oci | session_api | sync_api | ...
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    buyer_id: Mapped[str | None] = mapped_column(String(64))
    sender: Mapped[str | None] = mapped_column(String(300))  # domain/identity, OCI login
    user_email: Mapped[str | None] = mapped_column(String(320))  # lower-cased
    doc_type: Mapped[str | None] = mapped_column(String(60))
    payload_id: Mapped[str | None] = mapped_column(String(300))
    http_status: Mapped[int] = mapped_column(Integer)
    cxml_code: Mapped[int | None] = mapped_column(Integer)
    failed: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(Integer, default=0)
    session_id: Mapped[int | None] = mapped_column(Integer)
    document: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index("ix_inbound_requests_at", "at"),
        Index("ix_inbound_requests_failed", "failed", "id"),
        Index("ix_inbound_requests_buyer", "buyer_id", "failed", "id"),
        Index("ix_inbound_requests_type", "doc_type", "id"),
        Index("ix_inbound_requests_request_id", "request_id"),
        Index("ix_inbound_requests_payload", "payload_id"),
        Index("ix_inbound_requests_email", "user_email", "id"),
        Index("ix_inbound_requests_session", "session_id"),
    )
