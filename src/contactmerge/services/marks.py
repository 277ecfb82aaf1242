"""Merge marks (R1, R2): written in the transaction of the evidence, applied by the worker."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import new_id
from contactmerge.errors import BadRequest, NotFound
from contactmerge.services.workspaces import EMAIL_MATCH_MODES
from contactmerge.storage import marks as repo
from contactmerge.storage.paging import Page
from contactmerge.storage.tables import MergeMark, Workspace

STATES = ("waiting", "ready", "done", "parked")


def email_match_mode(workspace: Workspace) -> str:
    mode = (workspace.settings or {}).get("email_match", "on_login")
    return str(mode) if mode in EMAIL_MATCH_MODES else "on_login"


def mark(
    db: DbSession,
    workspace: Workspace,
    source_id: str,
    target_id: str,
    *,
    reason: str,
    evidence: dict[str, Any],
    ready: bool = True,
) -> MergeMark:
    """Mark ``source`` for merging into ``target``; the same open pair is marked once."""
    existing = repo.open_mark(db, workspace.id, source_id, target_id)
    stamp = time.time()
    if existing is not None:
        if ready and existing.state == "waiting":
            existing.state, existing.next_attempt_at, existing.updated_at = "ready", stamp, stamp
        return existing
    return repo.add(
        db,
        MergeMark(
            workspace_id=workspace.id,
            id=new_id(),
            source_id=source_id,
            target_id=target_id,
            reason=reason,
            evidence=evidence,
            state="ready" if ready else "waiting",
            attempts=0,
            next_attempt_at=stamp,
            created_at=stamp,
            updated_at=stamp,
        ),
    )


def release_waiting(db: DbSession, workspace: Workspace, user_id: str) -> int:
    """R2 on_login: the user logged in, so the email-match marks waiting for it can be applied."""
    return repo.release_waiting(db, workspace.id, user_id, time.time())


def list_marks(
    db: DbSession, workspace: Workspace, *, state: str | None, per_page: int, after_id: str | None
) -> Page[MergeMark]:
    if state is not None and state not in STATES:
        raise BadRequest(f"state must be one of {', '.join(STATES)}", field="state")
    return repo.page(db, workspace.id, state=state, per_page=per_page, after_id=after_id)


def retry(db: DbSession, workspace: Workspace, mark_id: str) -> MergeMark:
    """Put a parked mark back in the queue."""
    found = repo.get(db, workspace.id, mark_id)
    if found is None:
        raise NotFound(f"Merge mark Not Found: no mark has id '{mark_id}'", field="id")
    if found.state != "parked":
        raise BadRequest(f"mark {mark_id} is {found.state}; only parked marks are retried", field="id")
    stamp = time.time()
    found.state, found.attempts, found.next_attempt_at, found.updated_at = "ready", 0, stamp, stamp
    db.flush()
    return found
