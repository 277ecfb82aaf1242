"""What an import did (R3), reported and taken back: errors.csv, and undo as one batch."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import now
from contactmerge.errors import Conflict
from contactmerge.services import csv_export, merging
from contactmerge.services.importing.chunk import SAMPLE_LIMIT
from contactmerge.services.importing.jobs import APPLIED, NOT_APPLIED, get_import, locked
from contactmerge.storage import imports as repo
from contactmerge.storage import merges as merges_repo
from contactmerge.storage.tables import Contact, Import, Workspace


def problem_rows(db: DbSession, workspace: Workspace, import_id: str) -> Iterator[Any]:
    """The rows not applied, and the applied rows that lost a cell (R3), in file order."""
    get_import(db, workspace, import_id)
    rows = repo.rows_with_actions(db, workspace.id, import_id, (*NOT_APPLIED, *APPLIED))
    return (row for row in rows if row.action in NOT_APPLIED or row.column)


def undo_import(db: DbSession, workspace: Workspace, import_id: str, *, actor: str) -> Import:
    """Take a whole import back: its merges undone, its updates reverted and the contacts it created
    removed, except what someone changed since (reported as conflicts)."""
    job = locked(db, workspace.id, import_id)
    if job.state != "done" or job.dry_run:
        what = "a dry run" if job.dry_run else job.state
        raise Conflict(
            f"import {job.id} is {what}; only a finished real import can be undone",
            field="id",
            code="import_not_undoable",
        )
    finished = job.finished_at or now()
    candidates = [c.id for c in repo.created_contacts(db, workspace.id, job.id) if c.updated_at <= finished]
    batch = merging.undo_batch(db, workspace, job.id, actor=actor)
    job.undone_by = actor
    conflicts: list[dict[str, Any]] = list(batch["conflicts"])
    undone = batch["merges_undone"]
    reverted = 0
    for row in list(repo.rows_with_actions(db, workspace.id, job.id, ("updated", "folded"))):
        before = dict(row.before or {})
        stamp = before.pop("_stamp", None)
        contact = db.get(Contact, (workspace.id, row.contact_id)) if row.contact_id else None
        if contact is None or contact.updated_at != stamp:
            conflicts.append(
                {
                    "row_number": row.row_number,
                    "contact_id": row.contact_id,
                    "reason": "changed since the import: kept as it is",
                }
            )
            continue
        for name, value in before.items():
            setattr(contact, name, value)
        contact.last_import_id = None
        reverted += 1
    owned = merges_repo.count_rows_of(db, workspace.id, candidates)
    removable = [
        c
        for c in candidates
        if not any(owned[c][k] for k in ("conversations", "notes", "sessions", "events"))
    ]
    kept = sorted(set(candidates) - set(removable))
    conflicts.extend(
        {"contact_id": c, "reason": "has conversations, notes or events now: kept"} for c in kept
    )
    repo.delete_contacts(db, workspace.id, removable)
    job.state = "undone"
    job.undo_report = {
        "merges_undone": undone,
        "updates_reverted": reverted,
        "contacts_removed": len(removable),
        "conflicts": conflicts[:SAMPLE_LIMIT],
    }
    db.flush()
    return job


def problem_csv(db: DbSession, workspace: Workspace, import_id: str) -> Iterator[str]:
    """errors.csv of an import, streamed in pieces: row, problem, column, reason, then the row's cells.
    An applied row that lost a cell is there too, its problem the action (created, updated…) and its
    column and reason naming each cell.
    The import is looked up now (NotFound before anything is sent), its rows as the text is read."""
    rows = problem_rows(db, workspace, import_id)

    def pieces() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv_export.writer(buffer)
        writer.writerow(["row", "problem", "column", "reason", "cells"])
        for row in rows:
            writer.writerow(
                [row.row_number, row.action, row.column or "", row.reason or "", *(row.cells or [])]
            )
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return pieces()
