"""Migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from contactmerge.storage.db import make_engine
from contactmerge.storage.migrate import current_revision, head_revision, upgrade
from contactmerge.storage.tables import Base
from tests.conftest import Database


def test_migrated_schema_matches_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(database: Database) -> None:
    upgrade(database.engine)
    assert current_revision(database.engine) == head_revision()


def test_upgrading_keeps_existing_rows(tmp_path: Path) -> None:
    """Rows written under the first schema survive later migrations (SQLite copies tables to alter them)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO workspaces VALUES ('w', 'W', 'w', 's', 'off', '{}', 1)"))
        connection.execute(
            text(
                "INSERT INTO contacts (workspace_id, id, role, unsubscribed_from_emails, custom_attributes,"
                " archived, created_at, updated_at) VALUES ('w', 'c', 'lead', 0, '{}', 0, 1, 1)"
            )
        )
        connection.execute(text("INSERT INTO conversations VALUES ('w', 'v', 'c', NULL, 'open', 1, 1)"))
        connection.execute(text("INSERT INTO events VALUES ('w', 'e', 'c', 'seen', 1, '{}')"))
        connection.execute(text("INSERT INTO tags VALUES ('w', 't', 'vip', 1)"))
        connection.execute(text("INSERT INTO contact_tags VALUES ('w', 'c', 't', 1)"))
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT contact_id, origin_contact_id FROM events")).all() == [
            ("c", "c")
        ]
        assert connection.execute(text("SELECT origin_contact_id FROM conversations")).all() == [("c",)]
        assert connection.execute(text("SELECT origin_contact_id FROM contact_tags")).all() == [("c",)]
    engine.dispose()
