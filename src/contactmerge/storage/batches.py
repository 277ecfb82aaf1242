"""Bulk-merge batches and people's verdicts on duplicate clusters."""

from __future__ import annotations

from sqlalchemy import select
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


def claim_pending(db: DbSession) -> Batch | None:
    stmt = select(Batch).where(Batch.state == "pending").order_by(Batch.created_at).limit(1)
    if db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return db.scalar(stmt.execution_options(populate_existing=True))


def decisions(db: DbSession, workspace_id: str) -> dict[str, DuplicateDecision]:
    rows = db.scalars(select(DuplicateDecision).where(DuplicateDecision.workspace_id == workspace_id))
    return {row.subject: row for row in rows}


def decide(db: DbSession, decision: DuplicateDecision) -> DuplicateDecision:
    return db.merge(decision)


def rejected_pairs(db: DbSession, workspace_id: str) -> set[str]:
    """The subjects (``a:b``) of the suggested pairs people rejected in this workspace."""
    return set(
        db.scalars(
            select(DuplicateDecision.subject).where(
                DuplicateDecision.workspace_id == workspace_id,
                DuplicateDecision.verdict == "rejected",
                DuplicateDecision.subject.contains(":"),
            )
        )
    )
