"""Rate-limit counters: one row per (workspace, scope, subject, window), counted up in one statement."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.tables import RateLimitHit

KEY = ["workspace_id", "scope", "subject", "window_start"]


def hit(db: DbSession, workspace_id: str, scope: str, subject: str, window_start: int) -> int:
    """Count one more hit and return the window's new count. One upsert, so processes counting the same
    subject at once never lose a hit (a read-then-write would)."""
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(RateLimitHit).values(
        workspace_id=workspace_id, scope=scope, subject=subject, window_start=window_start, count=1
    )
    stmt = stmt.on_conflict_do_update(index_elements=KEY, set_={"count": RateLimitHit.count + 1})
    return int(db.execute(stmt.returning(RateLimitHit.count)).scalar_one())


def count(db: DbSession, workspace_id: str, scope: str, subject: str, window_start: int) -> int:
    found = db.scalar(
        select(RateLimitHit.count).where(
            RateLimitHit.workspace_id == workspace_id,
            RateLimitHit.scope == scope,
            RateLimitHit.subject == subject,
            RateLimitHit.window_start == window_start,
        )
    )
    return found or 0


def forget_before(db: DbSession, window_start: int) -> None:
    """Delete the counters of windows that started before ``window_start``: they are never read again."""
    db.execute(delete(RateLimitHit).where(RateLimitHit.window_start < window_start))
