"""PostgreSQL: documents and payloads compressed with lz4

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03

PostgreSQL compresses a large value (over about 2 KB) when it stores it, with pglz
unless told otherwise. pglz compresses about 35 MB/s here: a 10,000-line order stores a
2 MB document and a 4.7 MB marketplace payload, about 200 ms of the server's time in its
transaction. lz4 does the same in about a quarter of that, for slightly larger values.
Only values written from now on are affected; reading either kind needs nothing.
SQLite stores values as they are: nothing to do there. A server built without lz4
keeps pglz.
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

COLUMNS = (
    ("events", "document"),
    ("events", "data"),
    ("inbound_requests", "document"),
    ("outbox", "payload"),
    ("orders", "details"),
    ("attachments", "data"),
)


def _lz4_available(bind) -> bool:
    found = bind.execute(
        sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    ).scalar()
    return bool(found) and "lz4" in found


def _set(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _lz4_available(bind):
        return
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("pglz")
