"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import gateway.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "buyers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("return_url_prefixes", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buyers")),
    )
    op.create_table(
        "products",
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("unit_price", gateway.models.Money(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("uom", sa.String(length=10), nullable=False),
        sa.Column("unspsc", sa.String(length=20), nullable=True),
        sa.Column("manufacturer", sa.String(length=200), nullable=True),
        sa.Column("manufacturer_part_id", sa.String(length=100), nullable=True),
        sa.Column("lead_time_days", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_products")),
    )
    op.create_table(
        "suppliers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("credentials", sa.JSON(), nullable=False),
        sa.Column("updated_at", gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
    )
    op.create_table(
        "buyer_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("domain", sa.String(length=200), nullable=False),
        sa.Column("identity", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=True),
        sa.Column("secret_encrypted", sa.Text(), nullable=True),
        sa.Column("created_at", gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["buyers.id"],
            name=op.f("fk_buyer_credentials_buyer_id_buyers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buyer_credentials")),
    )
    with op.batch_alter_table("buyer_credentials", schema=None) as batch_op:
        batch_op.create_index(
            "ix_buyer_credentials_lookup", ["kind", "domain", "identity"], unique=False
        )

    op.create_table(
        "contract_prices",
        sa.Column("buyer_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("price", gateway.models.Money(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["buyers.id"],
            name=op.f("fk_contract_prices_buyer_id_buyers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sku"],
            ["products.sku"],
            name=op.f("fk_contract_prices_sku_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("buyer_id", "sku", name=op.f("pk_contract_prices")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("unique_name", sa.String(length=200), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("created_at", gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", gateway.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["buyers.id"], name=op.f("fk_users_buyer_id_buyers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index("ix_users_buyer_email", ["buyer_id", "email"], unique=False)
        batch_op.create_index(
            "ix_users_buyer_unique_name", ["buyer_id", "unique_name"], unique=False
        )

    op.create_table(
        "punchout_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("buyer_cookie", sa.String(length=500), nullable=True),
        sa.Column("return_url", sa.Text(), nullable=True),
        sa.Column("payload_id", sa.String(length=300), nullable=True),
        sa.Column("cxml_version", sa.String(length=16), nullable=True),
        sa.Column("selected_sku", sa.String(length=100), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("start_token_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "start_token_expires_at", gateway.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("session_token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", gateway.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", gateway.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("transferred_at", gateway.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["buyers.id"],
            name=op.f("fk_punchout_sessions_buyer_id_buyers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_punchout_sessions_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_punchout_sessions")),
        sa.UniqueConstraint(
            "session_token_hash", name=op.f("uq_punchout_sessions_session_token_hash")
        ),
        sa.UniqueConstraint("start_token_hash", name=op.f("uq_punchout_sessions_start_token_hash")),
    )
    with op.batch_alter_table("punchout_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_punchout_sessions_buyer_created", ["buyer_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_punchout_sessions_user", ["user_id"], unique=False)

    op.create_table(
        "cart_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("aux_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("quantity", gateway.models.Money(precision=18, scale=4), nullable=False),
        sa.Column("unit_price", gateway.models.Money(precision=18, scale=4), nullable=False),
        sa.Column("list_price", gateway.models.Money(precision=18, scale=4), nullable=False),
        sa.Column("contract_price", gateway.models.Money(precision=18, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("uom", sa.String(length=10), nullable=False),
        sa.Column("unspsc", sa.String(length=20), nullable=True),
        sa.Column("manufacturer", sa.String(length=200), nullable=True),
        sa.Column("manufacturer_part_id", sa.String(length=100), nullable=True),
        sa.Column("lead_time_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["punchout_sessions.id"],
            name=op.f("fk_cart_lines_session_id_punchout_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cart_lines")),
        sa.UniqueConstraint("session_id", "sku", name="uq_cart_lines_session_sku"),
    )
    with op.batch_alter_table("cart_lines", schema=None) as batch_op:
        batch_op.create_index("ix_cart_lines_aux_id", ["aux_id"], unique=False)

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("buyer_id", sa.String(length=64), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("document", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["punchout_sessions.id"],
            name=op.f("fk_events_session_id_punchout_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_buyer_at", ["buyer_id", "at"], unique=False)
        batch_op.create_index("ix_events_session", ["session_id", "id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_session")
        batch_op.drop_index("ix_events_buyer_at")

    op.drop_table("events")
    with op.batch_alter_table("cart_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_cart_lines_aux_id")

    op.drop_table("cart_lines")
    with op.batch_alter_table("punchout_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_punchout_sessions_user")
        batch_op.drop_index("ix_punchout_sessions_buyer_created")

    op.drop_table("punchout_sessions")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_buyer_unique_name")
        batch_op.drop_index("ix_users_buyer_email")

    op.drop_table("users")
    op.drop_table("contract_prices")
    with op.batch_alter_table("buyer_credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_buyer_credentials_lookup")

    op.drop_table("buyer_credentials")
    op.drop_table("suppliers")
    op.drop_table("products")
    op.drop_table("buyers")
