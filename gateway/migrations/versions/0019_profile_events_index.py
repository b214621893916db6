"""events: a partial index for the buyer page's profile fixes and refusals

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

PREDICATE = sa.text("kind LIKE 'profile.%'")


def upgrade() -> None:
    op.create_index(
        "ix_events_profile",
        "events",
        ["buyer_id", "id"],
        sqlite_where=PREDICATE,
        postgresql_where=PREDICATE,
    )


def downgrade() -> None:
    op.drop_index("ix_events_profile", table_name="events")
