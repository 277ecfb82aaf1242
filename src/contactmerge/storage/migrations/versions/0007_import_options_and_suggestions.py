"""imports keep their options (phone region); fuzzy duplicate suggestions become a stored queue

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 17:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("imports") as batch:
        batch.add_column(sa.Column("options", JSON, nullable=False, server_default="{}"))
    # One row per suggested pair of one suggestion scan (a batch of kind "suggest"): the queue people page
    # through until the next scan replaces it.
    op.create_table(
        "duplicate_suggestions",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("scan_id", sa.String(length=32), nullable=False),
        sa.Column("contact_a", sa.String(length=32), nullable=False),
        sa.Column("contact_b", sa.String(length=32), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_duplicate_suggestions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "scan_id", "contact_a", "contact_b", name=op.f("pk_duplicate_suggestions")
        ),
    )
    op.create_index(
        "ix_duplicate_suggestions_queue", "duplicate_suggestions", ["workspace_id", "scan_id", "rank"]
    )


def downgrade() -> None:
    op.drop_index("ix_duplicate_suggestions_queue", table_name="duplicate_suggestions")
    op.drop_table("duplicate_suggestions")
    with op.batch_alter_table("imports") as batch:
        batch.drop_column("options")
