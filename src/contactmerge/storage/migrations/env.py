"""Alembic environment: run by ``contactmerge db upgrade`` and by the tests, never at import time."""

from __future__ import annotations

from alembic import context

from contactmerge.storage.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through contactmerge.storage.migrate, which passes a connection")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
