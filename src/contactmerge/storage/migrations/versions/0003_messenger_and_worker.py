"""messenger and worker

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 08:29:03.188123
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merge_marks",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("merge_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_merge_marks_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_merge_marks")),
    )
    with op.batch_alter_table("merge_marks", schema=None) as batch_op:
        batch_op.create_index("ix_merge_marks_ready", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_merge_marks_ws_source", ["workspace_id", "source_id"], unique=False)
        batch_op.create_index(
            "ix_merge_marks_ws_target_state", ["workspace_id", "target_id", "state"], unique=False
        )

    with op.batch_alter_table("conversation_parts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unverified_sender", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )

    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("logged_in_contact_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("attribute_window_start", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("attribute_updates", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("last_page_url", sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("ended_at")
        batch_op.drop_column("last_page_url")
        batch_op.drop_column("attribute_updates")
        batch_op.drop_column("attribute_window_start")
        batch_op.drop_column("logged_in_contact_id")

    with op.batch_alter_table("conversation_parts", schema=None) as batch_op:
        batch_op.drop_column("unverified_sender")

    with op.batch_alter_table("merge_marks", schema=None) as batch_op:
        batch_op.drop_index("ix_merge_marks_ws_target_state")
        batch_op.drop_index("ix_merge_marks_ws_source")
        batch_op.drop_index("ix_merge_marks_ready")

    op.drop_table("merge_marks")
