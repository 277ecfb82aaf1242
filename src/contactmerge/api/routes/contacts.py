"""Contacts: CRUD, list, search, find_by_external_id, archive, tags and notes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from contactmerge.api import paging, shapes
from contactmerge.api.deps import ApiContext, api_context
from contactmerge.api.schemas import ContactWrite, NoteWrite, SearchRequest, TagRef
from contactmerge.services import contacts, notes, tags, teammates
from contactmerge.storage import contacts as contacts_repo
from contactmerge.storage.paging import Page
from contactmerge.storage.tables import Contact

router = APIRouter(tags=["contacts"])


def present(ctx: ApiContext, rows: list[Contact]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    tag_map = contacts_repo.tags_of(ctx.db, ctx.workspace.id, ids)
    note_map = contacts_repo.notes_of(ctx.db, ctx.workspace.id, ids)
    return [shapes.contact(r, tag_map[r.id], note_map[r.id]) for r in rows]


def present_one(ctx: ApiContext, row: Contact) -> dict[str, Any]:
    return present(ctx, [row])[0]


def contact_list(ctx: ApiContext, page: Page[Contact], cursor: paging.Cursor, size: int) -> dict[str, Any]:
    return paging.listing(present(ctx, page.items), page, cursor, size)


@router.post("/contacts")
def create_contact(body: ContactWrite, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    row = contacts.create_contact(
        ctx.db,
        ctx.workspace,
        body.model_dump(exclude_unset=True),
        region=ctx.phone_region,
    )
    result = present_one(ctx, row)
    ctx.commit()
    return result


@router.get("/contacts")
def list_contacts(
    per_page: int | None = None, starting_after: str | None = None, ctx: ApiContext = Depends(api_context)
) -> dict[str, Any]:
    size = paging.per_page(per_page, ctx.settings)
    cursor = paging.decode(starting_after)
    page = contacts.list_contacts(ctx.db, ctx.workspace, per_page=size, after_id=cursor.after_id)
    return contact_list(ctx, page, cursor, size)


@router.post("/contacts/search")
def search_contacts(body: SearchRequest, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    pagination = body.pagination
    size = paging.per_page(
        pagination.per_page if pagination else None, ctx.settings, field="pagination.per_page"
    )
    cursor = paging.decode(
        pagination.starting_after if pagination else None, field="pagination.starting_after"
    )
    page = contacts.search_contacts(
        ctx.db,
        ctx.workspace,
        body.query,
        per_page=size,
        after_id=cursor.after_id,
        region=ctx.phone_region,
    )
    return contact_list(ctx, page, cursor, size)


@router.get("/contacts/find_by_external_id/{external_id:path}")  # external ids may hold "/"
def find_by_external_id(external_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    return present_one(ctx, contacts.find_by_external_id(ctx.db, ctx.workspace, external_id))


@router.get("/contacts/{contact_id}")
def get_contact(contact_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    return present_one(ctx, contacts.get_contact(ctx.db, ctx.workspace, contact_id))


@router.put("/contacts/{contact_id}")
def update_contact(
    contact_id: str, body: ContactWrite, ctx: ApiContext = Depends(api_context)
) -> dict[str, Any]:
    row = contacts.update_contact(
        ctx.db,
        ctx.workspace,
        contact_id,
        body.model_dump(exclude_unset=True),
        region=ctx.phone_region,
    )
    result = present_one(ctx, row)
    ctx.commit()
    return result


@router.delete("/contacts/{contact_id}")
def delete_contact(contact_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    row = contacts.delete_contact(ctx.db, ctx.workspace, contact_id)
    ctx.commit()
    return shapes.contact_reference(row, deleted=True)


@router.post("/contacts/{contact_id}/archive")
def archive_contact(contact_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    row = contacts.set_archived(ctx.db, ctx.workspace, contact_id, True)
    ctx.commit()
    return shapes.contact_reference(row, archived=True)


@router.post("/contacts/{contact_id}/unarchive")
def unarchive_contact(contact_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    row = contacts.set_archived(ctx.db, ctx.workspace, contact_id, False)
    ctx.commit()
    return shapes.contact_reference(row, archived=False)


@router.get("/contacts/{contact_id}/tags")
def list_contact_tags(contact_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    return {"type": "list", "data": [shapes.tag(t) for t in tags.tags_of(ctx.db, ctx.workspace, contact_id)]}


@router.post("/contacts/{contact_id}/tags")
def attach_tag(contact_id: str, body: TagRef, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    tag = tags.attach(ctx.db, ctx.workspace, contact_id, body.id)
    ctx.commit()
    return shapes.tag(tag)


@router.delete("/contacts/{contact_id}/tags/{tag_id}")
def detach_tag(contact_id: str, tag_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    tag = tags.detach(ctx.db, ctx.workspace, contact_id, tag_id)
    ctx.commit()
    return shapes.tag(tag)


@router.get("/contacts/{contact_id}/notes")
def list_notes(
    contact_id: str, page: int = 1, per_page: int | None = None, ctx: ApiContext = Depends(api_context)
) -> dict[str, Any]:
    # Intercom's clients page notes by number and stop at the first empty page, so a page past the end
    # must come back empty.
    paging.page_number(page)
    size = paging.per_page(per_page, ctx.settings)
    rows = notes.notes_of(ctx.db, ctx.workspace, contact_id)
    shown = rows[(page - 1) * size : page * size]
    return {
        "type": "list",
        "data": [shapes.note(n) for n in shown],
        "total_count": len(rows),
        "pages": {
            "type": "pages",
            "page": page,
            "per_page": size,
            "total_pages": max(1, -(-len(rows) // size)),
        },
    }


@router.post("/contacts/{contact_id}/notes")
def create_note(contact_id: str, body: NoteWrite, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    # A note names its author, when it has one, as a current teammate of the workspace (400 otherwise).
    admin = (
        None if body.admin_id is None else teammates.check_admin_id(ctx.db, ctx.workspace, body.admin_id).id
    )
    row = notes.add_note(ctx.db, ctx.workspace, contact_id, body.body, admin)
    ctx.commit()
    return shapes.note(row)
