"""teammates (admins) sign in with email and password; every change records its actor; the inbox's
conversation state (read, assignee, snooze, waiting time, statistics, custom attributes)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
ACTOR = sa.String(length=300)

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admins",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("removed_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_admins_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_admins")),
        sa.UniqueConstraint(
            "workspace_id", "email_normalized", name=op.f("uq_admins_workspace_id_email_normalized")
        ),
    )
    op.create_table(
        "admin_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("admin_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id", "admin_id"],
            ["admins.workspace_id", "admins.id"],
            name=op.f("fk_admin_sessions_workspace_id_admin_id_admins"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_sessions")),
    )
    op.create_index("ix_admin_sessions_ws_admin", "admin_sessions", ["workspace_id", "admin_id"])
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("admin_id", sa.String(length=32), nullable=True))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("read", sa.Boolean(), nullable=False, server_default=sa.text("false")))
        batch.add_column(sa.Column("admin_assignee_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("snoozed_until", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("waiting_since", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("custom_attributes", JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("statistics", JSON, nullable=False, server_default="{}"))
    op.create_index(
        "ix_conversations_ws_state_updated", "conversations", ["workspace_id", "state", "updated_at"]
    )
    with op.batch_alter_table("conversation_parts") as batch:
        batch.add_column(sa.Column("assigned_to_id", sa.String(length=32), nullable=True))
    with op.batch_alter_table("merges") as batch:
        batch.alter_column("requested_by", type_=ACTOR, existing_type=sa.String(length=64))
        batch.add_column(sa.Column("undone_by", ACTOR, nullable=True))
    with op.batch_alter_table("imports") as batch:
        batch.add_column(sa.Column("created_by", ACTOR, nullable=True))
        batch.add_column(sa.Column("undone_by", ACTOR, nullable=True))
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("requested_by", ACTOR, nullable=True))
        batch.add_column(sa.Column("undone_by", ACTOR, nullable=True))
    with op.batch_alter_table("duplicate_decisions") as batch:
        batch.add_column(sa.Column("decided_by", ACTOR, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("duplicate_decisions") as batch:
        batch.drop_column("decided_by")
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("undone_by")
        batch.drop_column("requested_by")
    with op.batch_alter_table("imports") as batch:
        batch.drop_column("undone_by")
        batch.drop_column("created_by")
    with op.batch_alter_table("merges") as batch:
        batch.drop_column("undone_by")
        batch.alter_column("requested_by", type_=sa.String(length=64), existing_type=ACTOR)
    with op.batch_alter_table("conversation_parts") as batch:
        batch.drop_column("assigned_to_id")
    op.drop_index("ix_conversations_ws_state_updated", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        for column in (
            "statistics",
            "custom_attributes",
            "waiting_since",
            "snoozed_until",
            "admin_assignee_id",
            "read",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("admin_id")
    op.drop_index("ix_admin_sessions_ws_admin", table_name="admin_sessions")
    op.drop_table("admin_sessions")
    op.drop_table("admins")
