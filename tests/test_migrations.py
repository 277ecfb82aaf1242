"""Migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

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
