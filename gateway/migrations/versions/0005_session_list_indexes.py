"""session indexes: by creation time, by buyer in id order, by user and status

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("punchout_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_punchout_sessions_created", ["created_at"], unique=False)
        batch_op.create_index("ix_punchout_sessions_buyer_id", ["buyer_id", "id"], unique=False)
        batch_op.drop_index("ix_punchout_sessions_user")
        batch_op.create_index(
            "ix_punchout_sessions_user_status", ["user_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("punchout_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_punchout_sessions_user_status")
        batch_op.create_index("ix_punchout_sessions_user", ["user_id"], unique=False)
        batch_op.drop_index("ix_punchout_sessions_buyer_id")
        batch_op.drop_index("ix_punchout_sessions_created")
