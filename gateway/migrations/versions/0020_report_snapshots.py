"""report_snapshots (buyer health and adoption computed ahead); orders indexes by state

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from gateway.models import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_snapshots",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("computed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_report_snapshots")),
    )
    op.create_index(
        "ix_orders_buyer_flagged_status", "orders", ["buyer_id", "flagged", "status", "id"]
    )
    op.create_index(
        "ix_orders_flagged_status_created", "orders", ["flagged", "status", "created_at"]
    )
    if op.get_bind().dialect.name == "postgresql":
        # Flagged orders are never "accepted": without statistics of the three columns
        # together the planner expects thousands of such rows and walks the primary key
        # backwards through every order of the buyer looking for them (64 ms at 500,000
        # orders; 0.1 ms through the index once it knows).
        op.execute(
            "CREATE STATISTICS IF NOT EXISTS orders_buyer_flagged_status (mcv) "
            "ON buyer_id, flagged, status FROM orders"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS orders_buyer_flagged_status")
    op.drop_index("ix_orders_flagged_status_created", table_name="orders")
    op.drop_index("ix_orders_buyer_flagged_status", table_name="orders")
    op.drop_table("report_snapshots")
