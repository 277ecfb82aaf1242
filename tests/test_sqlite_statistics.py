"""SQLite keeps no planner statistics until ANALYZE, and without them it answered a search by email by
walking the workspace's whole primary key (60 ms at 200,000 contacts instead of 0.6 ms). The worker
refreshes them when a table fills or grows tenfold; an import refreshes them as it loads."""

from __future__ import annotations

import itertools

from sqlalchemy import insert, text

from contactmerge.services import workspaces
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact
from contactmerge.worker.runner import Worker
from tests.conftest import Database
from tests.test_worker import contact_row

LOOKUP = (
    "EXPLAIN QUERY PLAN SELECT id FROM contacts WHERE workspace_id = :ws AND email_normalized = :email"
    " AND merged_into_id IS NULL ORDER BY id LIMIT 50"
)


def load(database: Database, workspace_id: str, start: int, count: int) -> None:
    rows = [contact_row(workspace_id, "lead", email_normalized=f"p{i}@x.com", email_domain="x.com")
            for i in range(start, start + count)]  # fmt: skip
    with database.engine.begin() as connection:
        connection.execute(insert(Contact), rows)
        if database.backend == "postgres":  # the load's row counts reach pg_stat at once, not within 10 s
            connection.execute(text("SELECT pg_stat_force_next_flush()"))


def plan(database: Database, workspace_id: str) -> str:
    with database.engine.connect() as connection:
        rows = connection.execute(text(LOOKUP), {"ws": workspace_id, "email": "p7@x.com"})
        return " ".join(str(r[-1]) for r in rows)


def test_the_worker_gives_sqlite_statistics_when_contacts_fill_up_and_grow(
    isolated_database: Database,
) -> None:
    database = isolated_database
    if database.backend == "postgres":  # so that only the worker can refresh them in this test's database
        with database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE contacts SET (autovacuum_enabled = false)"))
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace_id = workspaces.create_workspace(db, "load").workspace.id
    ticks = itertools.count(step=600)
    worker = Worker(make_sessionmaker(database.engine), clock=lambda: float(next(ticks)))

    load(database, workspace_id, 0, 500)
    worker.maintain()  # too few contacts for a plan to matter: nothing analyzed
    if database.backend == "sqlite":
        assert "ix_contacts_ws_email" not in plan(database, workspace_id)  # the primary-key walk

    load(database, workspace_id, 500, 1_500)
    worker.maintain()
    if database.backend == "sqlite":
        assert "USING INDEX ix_contacts_ws_email" in plan(database, workspace_id)
        with database.engine.connect() as connection:
            analyzed = connection.execute(
                text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'contacts' LIMIT 1")
            ).scalar()
            assert 1_500 <= int(str(analyzed).split()[0]) <= 2_500  # sampled: about the 2,000 there are
    else:
        with database.engine.connect() as connection:
            tuples = connection.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = 'contacts'")
            ).one()
            assert tuples[0] == 2_000  # the worker refreshed PostgreSQL's stale statistics too

    load(database, workspace_id, 2_000, 3_000)  # grown 2.5 times: the ratios still hold
    worker.maintain()
    if database.backend == "sqlite":
        assert "USING INDEX ix_contacts_ws_email" in plan(database, workspace_id)
        with database.engine.connect() as connection:
            again = "SELECT stat FROM sqlite_stat1 WHERE tbl = 'contacts' LIMIT 1"
            assert connection.execute(text(again)).scalar() == analyzed  # not analyzed again
