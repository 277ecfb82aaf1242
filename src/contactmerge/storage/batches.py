"""Bulk-merge batches and people's verdicts on duplicate clusters."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.tables import Batch, DuplicateDecision


def add(db: DbSession, batch: Batch) -> Batch:
    db.add(batch)
    db.flush()
    return batch


def get(db: DbSession, workspace_id: str, batch_id: str, *, lock: bool = False) -> Batch | None:
    if lock:
        return db.get(Batch, (workspace_id, batch_id), with_for_update=True, populate_existing=True)
    return db.get(Batch, (workspace_id, batch_id))


def next_pending(db: DbSession) -> Batch | None:
    """The batch ``claim_pending`` would claim now, read without a lock."""
    return db.scalar(_pending())


def claim_pending(db: DbSession) -> Batch | None:
    stmt = _pending()
    if db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return db.scalar(stmt.execution_options(populate_existing=True))


def _pending() -> Select[Batch]:
    return select(Batch).where(Batch.state == "pending").order_by(Batch.created_at, Batch.id).limit(1)


def newest(db: DbSession, workspace_id: str, kind: str, states: Iterable[str]) -> Batch | None:
    """The batch of ``kind`` in one of ``states`` that was created last (ids sort by creation)."""
    return db.scalar(
        select(Batch)
        .where(Batch.workspace_id == workspace_id, Batch.kind == kind, Batch.state.in_(list(states)))
        .order_by(Batch.created_at.desc(), Batch.id.desc())
        .limit(1)
    )


def count(db: DbSession, workspace_id: str, kind: str) -> int:
    """How many batches of ``kind`` the workspace ever started."""
    return (
        db.scalar(
            select(func.count())
            .select_from(Batch)
            .where(Batch.workspace_id == workspace_id, Batch.kind == kind)
        )
        or 0
    )


def decisions(db: DbSession, workspace_id: str) -> dict[str, DuplicateDecision]:
    rows = db.scalars(select(DuplicateDecision).where(DuplicateDecision.workspace_id == workspace_id))
    return {row.subject: row for row in rows}


def decide(db: DbSession, decision: DuplicateDecision) -> DuplicateDecision:
    return db.merge(decision)
