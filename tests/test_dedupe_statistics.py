"""The exact duplicate scan refreshes PostgreSQL's statistics when a bulk load made them stale (issue 6):
right after a load its plan was ~450 times slower until ANALYZE. SQLite plans without them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, text

from contactmerge.services import workspaces
from contactmerge.services.duplicates import scan
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact, Workspace
from tests.conftest import Database
from tests.test_worker import contact_row

LOAD = 2_000


def bulk_load(database: Database, workspace_id: str, start: int, count: int) -> None:
    """``count`` leads, every tenth sharing its email with the next one, inserted as a bulk load is."""
    rows = [contact_row(workspace_id, "lead", email_normalized=f"p{i // 2 if i % 10 < 2 else i}@x.com",
                        email_domain="x.com") for i in range(start, start + count)]  # fmt: skip
    with database.engine.begin() as connection:
        connection.execute(insert(Contact), rows)
        if database.backend == "postgres":  # the load's row counts reach pg_stat at once, not within 10 s
            connection.execute(text("SELECT pg_stat_force_next_flush()"))


def planner_rows(connection: Connection) -> float:
    return float(
        connection.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'contacts'")).one()[0]
    )


def scan_workspace(database: Database, workspace_id: str) -> Any:
    with make_sessionmaker(database.engine)() as db:
        return scan.scan(db, db.get_one(Workspace, workspace_id))


def test_the_scan_analyzes_contacts_after_a_bulk_load_and_only_then(isolated_database: Database) -> None:
    database = isolated_database
    postgres = database.backend == "postgres"
    if postgres:  # so that only the scan can refresh them in this test's database
        with database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE contacts SET (autovacuum_enabled = false)"))
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace_id = workspaces.create_workspace(db, "load").workspace.id
    bulk_load(database, workspace_id, 0, LOAD)
    if postgres:
        with database.engine.connect() as connection:
            assert planner_rows(connection) < 0  # never analyzed: the planner guesses

    assert scan_workspace(database, workspace_id).summary()["clusters"] == LOAD // 10
    if postgres:
        with database.engine.connect() as connection:
            assert planner_rows(connection) == LOAD

    bulk_load(database, workspace_id, LOAD, 20)  # a few rows: not worth an ANALYZE
    assert scan_workspace(database, workspace_id).summary()["clusters"] == LOAD // 10 + 2
    if postgres:
        with database.engine.connect() as connection:
            assert planner_rows(connection) == LOAD

    bulk_load(database, workspace_id, LOAD + 20, LOAD)  # doubled: stale again
    assert scan_workspace(database, workspace_id).summary()["clusters"] == 2 * LOAD // 10 + 2
    if postgres:
        with database.engine.connect() as connection:
            assert planner_rows(connection) == 2 * LOAD + 20
