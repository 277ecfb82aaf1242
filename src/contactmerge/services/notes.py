"""Notes that admins leave on a contact."""

from __future__ import annotations

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import new_id, now
from contactmerge.errors import BadRequest
from contactmerge.services.contacts import get_contact
from contactmerge.storage import contacts as contacts_repo
from contactmerge.storage.tables import Note, Workspace

MAX_BODY = 65_536


def add_note(db: DbSession, workspace: Workspace, contact_id: str, body: str, admin_id: str | None) -> Note:
    contact = get_contact(db, workspace, contact_id, forward=True)
    if not body.strip():
        raise BadRequest("a note needs a body", field="body")
    if len(body) > MAX_BODY:
        raise BadRequest(f"a note is at most {MAX_BODY:,} characters", field="body")
    return contacts_repo.add_note(
        db,
        Note(
            workspace_id=workspace.id,
            id=new_id(),
            contact_id=contact.id,
            author_id=admin_id,
            body=body,
            created_at=now(),
        ),
    )


def notes_of(db: DbSession, workspace: Workspace, contact_id: str) -> list[Note]:
    contact = get_contact(db, workspace, contact_id)
    return contacts_repo.notes_of(db, workspace.id, [contact.id])[contact.id]
