"""request log, disabled users, audit log filters

Revision ID: 0014
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

import gateway.models

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("buyer_id", sa.String(length=64), nullable=True),
        sa.Column("sender", sa.String(length=300), nullable=True),
        sa.Column("user_email", sa.String(length=320), nullable=True),
        sa.Column("doc_type", sa.String(length=60), nullable=True),
        sa.Column("payload_id", sa.String(length=300), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("cxml_code", sa.Integer(), nullable=True),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("document", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_requests")),
    )
    with op.batch_alter_table("inbound_requests", schema=None) as batch_op:
        batch_op.create_index("ix_inbound_requests_at", ["at"], unique=False)
        batch_op.create_index("ix_inbound_requests_failed", ["failed", "id"], unique=False)
        batch_op.create_index(
            "ix_inbound_requests_buyer", ["buyer_id", "failed", "id"], unique=False
        )
        batch_op.create_index("ix_inbound_requests_type", ["doc_type", "id"], unique=False)
        batch_op.create_index("ix_inbound_requests_request_id", ["request_id"], unique=False)
        batch_op.create_index("ix_inbound_requests_payload", ["payload_id"], unique=False)
        batch_op.create_index("ix_inbound_requests_email", ["user_email", "id"], unique=False)
        batch_op.create_index("ix_inbound_requests_session", ["session_id"], unique=False)
    with op.batch_alter_table("punchout_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_punchout_sessions_payload", ["payload_id"], unique=False)
        batch_op.create_index(
            "ix_punchout_sessions_leak", ["buyer_id", "status", "transferred_at"], unique=False
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disabled_at", gateway.models.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("flagged", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index("ix_orders_flagged", ["flagged", "id"], unique=False)
        batch_op.create_index(
            "ix_orders_buyer_flagged", ["buyer_id", "flagged", "id"], unique=False
        )
        batch_op.create_index("ix_orders_payload", ["payload_id"], unique=False)
        batch_op.create_index("ix_orders_status", ["status", "id"], unique=False)
    # Orders already taken: flagged lines, rejected or held.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE orders SET flagged = TRUE WHERE status IN ('rejected', 'pending') "
            "OR json_array_length(details -> 'flags') > 0"
        )
    else:
        op.execute(
            "UPDATE orders SET flagged = 1 WHERE status IN ('rejected', 'pending') "
            "OR json_array_length(json_extract(details, '$.flags')) > 0"
        )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_agent", ["agent_email", "id"], unique=False)
        batch_op.create_index("ix_audit_log_action", ["action", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_action")
        batch_op.drop_index("ix_audit_log_agent")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status")
        batch_op.drop_index("ix_orders_payload")
        batch_op.drop_index("ix_orders_buyer_flagged")
        batch_op.drop_index("ix_orders_flagged")
        batch_op.drop_column("flagged")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
    with op.batch_alter_table("punchout_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_punchout_sessions_leak")
        batch_op.drop_index("ix_punchout_sessions_payload")
    op.drop_table("inbound_requests")
