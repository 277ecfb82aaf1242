"""Workspace tags and the tags on a contact."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import new_id, now
from contactmerge.errors import BadRequest, Conflict, NotFound
from contactmerge.services.contacts import get_contact
from contactmerge.storage import contacts as contacts_repo
from contactmerge.storage import tags as repo
from contactmerge.storage.tables import ContactTag, Tag, Workspace


def create_or_update_tag(db: DbSession, workspace: Workspace, name: str, tag_id: str | None = None) -> Tag:
    """Intercom's ``POST /tags``: with an id, rename that tag; else the tag of that name, made if new."""
    name = name.strip()
    if not name:
        raise BadRequest("a tag needs a name", field="name")
    existing = repo.by_name(db, workspace.id, name)
    if tag_id is not None:
        tag = get_tag(db, workspace, tag_id)
        if existing is not None and existing.id != tag.id:
            raise Conflict(f"a tag named '{name}' already exists with id={existing.id}", field="name")
        tag.name = name
        db.flush()
        return tag
    if existing is not None:
        return existing
    try:
        with db.begin_nested():
            return repo.add(db, Tag(workspace_id=workspace.id, id=new_id(), name=name, created_at=now()))
    except IntegrityError:
        # a concurrent request made the tag first: theirs is the answer ("create or return by name")
        made_meanwhile = repo.by_name(db, workspace.id, name)
        if made_meanwhile is None:
            raise
        return made_meanwhile


def get_tag(db: DbSession, workspace: Workspace, tag_id: str) -> Tag:
    tag = repo.get(db, workspace.id, tag_id)
    if tag is None:
        raise NotFound(f"Tag Not Found: no tag has id '{tag_id}'", field="id")
    return tag


def list_tags(db: DbSession, workspace: Workspace) -> list[Tag]:
    return repo.all_tags(db, workspace.id)


def attach(db: DbSession, workspace: Workspace, contact_id: str, tag_id: str) -> Tag:
    contact = get_contact(db, workspace, contact_id, forward=True)
    tag = get_tag(db, workspace, tag_id)
    link = ContactTag(workspace_id=workspace.id, contact_id=contact.id, tag_id=tag.id, created_at=now())
    try:
        with db.begin_nested():
            contacts_repo.attach_tag(db, link)
    except IntegrityError:
        # attaching is idempotent: a concurrent request attaching the same tag is not a conflict
        if tag.id not in {t.id for t in contacts_repo.tags_of(db, workspace.id, [contact.id])[contact.id]}:
            raise
    return tag


def detach(db: DbSession, workspace: Workspace, contact_id: str, tag_id: str) -> Tag:
    contact = get_contact(db, workspace, contact_id, forward=True)
    tag = get_tag(db, workspace, tag_id)
    contacts_repo.detach_tag(db, workspace.id, contact.id, tag.id)
    return tag


def tags_of(db: DbSession, workspace: Workspace, contact_id: str) -> list[Tag]:
    contact = get_contact(db, workspace, contact_id)
    return contacts_repo.tags_of(db, workspace.id, [contact.id])[contact.id]
