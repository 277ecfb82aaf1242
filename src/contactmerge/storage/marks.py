"""Merge marks: rows the worker claims (``FOR UPDATE SKIP LOCKED`` on PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.paging import Page
from contactmerge.storage.tables import MergeMark


def add(db: DbSession, mark: MergeMark) -> MergeMark:
    db.add(mark)
    db.flush()
    return mark


def open_mark(db: DbSession, workspace_id: str, source_id: str, target_id: str) -> MergeMark | None:
    """A mark for this pair that is not finished yet (so a rule never marks the same pair twice)."""
    return db.scalar(
        select(MergeMark).where(
            MergeMark.workspace_id == workspace_id,
            MergeMark.source_id == source_id,
            MergeMark.target_id == target_id,
            MergeMark.state.in_(("waiting", "ready")),
        )
    )


def release_waiting(db: DbSession, workspace_id: str, target_id: str, now: float) -> int:
    """R2 on_login: the user logged in, so its waiting marks become ready."""
    result = db.execute(
        update(MergeMark)
        .where(
            MergeMark.workspace_id == workspace_id,
            MergeMark.target_id == target_id,
            MergeMark.state == "waiting",
        )
        .values(state="ready", next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def claim(db: DbSession, now: float, *, limit: int = 1) -> list[MergeMark]:
    """The oldest ready marks no other worker holds, locked for this transaction."""
    stmt = (
        select(MergeMark)
        .where(MergeMark.state == "ready", MergeMark.next_attempt_at <= now)
        .order_by(MergeMark.next_attempt_at, MergeMark.created_at)
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(db.scalars(stmt.execution_options(populate_existing=True)))


def get(db: DbSession, workspace_id: str, mark_id: str) -> MergeMark | None:
    return db.get(MergeMark, (workspace_id, mark_id))


def page(
    db: DbSession, workspace_id: str, *, state: str | None, per_page: int, after_id: str | None
) -> Page[MergeMark]:
    stmt = select(MergeMark).where(MergeMark.workspace_id == workspace_id)
    if state is not None:
        stmt = stmt.where(MergeMark.state == state)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if after_id is not None:
        stmt = stmt.where(MergeMark.id < after_id)
    rows = list(db.scalars(stmt.order_by(MergeMark.id.desc()).limit(per_page + 1)))
    return Page(items=rows[:per_page], total_count=total, has_more=len(rows) > per_page)


def count_by_state(db: DbSession) -> dict[str, int]:
    return {
        state: n for state, n in db.execute(select(MergeMark.state, func.count()).group_by(MergeMark.state))
    }
