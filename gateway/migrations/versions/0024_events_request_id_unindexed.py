"""events: no index on request_id

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04

No query looks events up by request id: a request id a buyer quotes is found in the
request log (``inbound_requests.request_id``, indexed), whose row leads to the session and
its events. The index cost every event a write at a random place: request ids are random,
and a setup writes three or more events, so at millions of events each insert touched a
leaf page of its own, to be read from disk where it was not cached, and written again.
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_events_request_id", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_request_id", "events", ["request_id"])
