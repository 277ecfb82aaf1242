"""merges

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 08:13:33.011648
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ORIGIN_TABLES = ("conversations", "events", "notes", "sessions", "contact_tags")
LIVE_USERS = "role = 'user' AND external_id IS NOT NULL AND merged_into_id IS NULL"
USERS = "role = 'user' AND external_id IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "merges",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=True),
        sa.Column(
            "plan",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "moved",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "undo_report",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("undone_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_merges_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_merges")),
    )
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.create_index("ix_merges_ws_batch", ["workspace_id", "batch_id"], unique=False)
        batch_op.create_index("ix_merges_ws_source", ["workspace_id", "source_id"], unique=False)
        batch_op.create_index(
            "ix_merges_ws_target_created", ["workspace_id", "target_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "uq_merges_one_applied_per_source",
            ["workspace_id", "source_id"],
            unique=True,
            sqlite_where=sa.text("state = 'applied'"),
            postgresql_where=sa.text("state = 'applied'"),
        )

    op.create_table(
        "contact_identifiers",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("normalized", sa.String(length=320), nullable=False),
        sa.Column("provenance", sa.String(length=16), nullable=False),
        sa.Column("merge_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "contact_id"],
            ["contacts.workspace_id", "contacts.id"],
            name=op.f("fk_contact_identifiers_workspace_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_contact_identifiers")),
    )
    with op.batch_alter_table("contact_identifiers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_identifiers_ws_kind_normalized", ["workspace_id", "kind", "normalized"], unique=False
        )
        batch_op.create_index("ix_contact_identifiers_ws_merge", ["workspace_id", "merge_id"], unique=False)

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_verified", sa.Boolean(), server_default=sa.text("true"), nullable=False)
        )
        batch_op.add_column(sa.Column("merged_into_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("merged_at", sa.BigInteger(), nullable=True))

    # One live user per external_id: a merged user keeps its external_id on its tombstone.
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("uq_contacts_user_external_id")
        batch_op.create_index(
            "uq_contacts_user_external_id",
            ["workspace_id", "external_id"],
            unique=True,
            sqlite_where=sa.text(LIVE_USERS),
            postgresql_where=sa.text(LIVE_USERS),
        )

    # Every row starts out owned by the contact it belongs to now.
    for table in ORIGIN_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("origin_contact_id", sa.String(length=32), nullable=True))
        op.execute(f"UPDATE {table} SET origin_contact_id = contact_id")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("origin_contact_id", existing_type=sa.String(length=32), nullable=False)
            batch_op.create_index(
                f"ix_{table}_ws_origin", ["workspace_id", "origin_contact_id"], unique=False
            )


def downgrade() -> None:
    for table in ORIGIN_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_ws_origin")
            batch_op.drop_column("origin_contact_id")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("merged_at")
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("email_verified")

    with op.batch_alter_table("contact_identifiers", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_identifiers_ws_merge")
        batch_op.drop_index("ix_contact_identifiers_ws_kind_normalized")

    op.drop_table("contact_identifiers")
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_merges_one_applied_per_source",
            sqlite_where=sa.text("state = 'applied'"),
            postgresql_where=sa.text("state = 'applied'"),
        )
        batch_op.drop_index("ix_merges_ws_target_created")
        batch_op.drop_index("ix_merges_ws_source")
        batch_op.drop_index("ix_merges_ws_batch")

    op.drop_table("merges")
