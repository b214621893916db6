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


def downgrade() -> None:
    op.drop_index("ix_orders_flagged_status_created", table_name="orders")
    op.drop_index("ix_orders_buyer_flagged_status", table_name="orders")
    op.drop_table("report_snapshots")
