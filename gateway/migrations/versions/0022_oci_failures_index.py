"""events: a partial index for the OCI login rate limit

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

PREDICATE = sa.text("kind = 'oci.auth_failed'")


def upgrade() -> None:
    op.create_index(
        "ix_events_oci_failures",
        "events",
        ["buyer_id", "at"],
        sqlite_where=PREDICATE,
        postgresql_where=PREDICATE,
    )


def downgrade() -> None:
    op.drop_index("ix_events_oci_failures", table_name="events")
