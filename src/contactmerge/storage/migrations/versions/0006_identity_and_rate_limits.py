"""identity: the session that wrote each conversation part, claimed identifiers, rate-limit counters

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_parts") as batch:
        batch.add_column(sa.Column("session_id", sa.String(length=64), nullable=True))
    # Parts written before: the browser is the first session opened for their author (a lead's or
    # visitor's own cookie). A session that logged in as a user with a valid signature reads all of that
    # user's conversations anyway, so no other part needs a session to stay readable.
    op.execute(
        """
        UPDATE conversation_parts SET session_id = (
            SELECT s.id FROM sessions s
            WHERE s.workspace_id = conversation_parts.workspace_id
              AND s.origin_contact_id = conversation_parts.author_id
            ORDER BY s.created_at, s.id
            LIMIT 1
        )
        WHERE author_type <> 'admin'
        """
    )
    op.create_index("ix_conversation_parts_ws_session", "conversation_parts", ["workspace_id", "session_id"])
    op.create_table(
        "rate_limit_hits",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace_id", "scope", "subject", "window_start", name=op.f("pk_rate_limit_hits")
        ),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_hits")
    op.drop_index("ix_conversation_parts_ws_session", table_name="conversation_parts")
    with op.batch_alter_table("conversation_parts") as batch:
        batch.drop_column("session_id")
