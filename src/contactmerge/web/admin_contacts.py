"""Contacts in the admin: list and search, a contact's page with its merge history, merge preview/confirm."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from contactmerge.domain.teammates import Action
from contactmerge.errors import BadRequest, Gone
from contactmerge.services import contacts, conversations, events, merging, notes, tags
from contactmerge.storage.tables import Contact
from contactmerge.web.admin import AdminContext, AdminRoute, admin_context, checked_form, redirect, render

router = APIRouter(include_in_schema=False, route_class=AdminRoute)
PER_PAGE = 50
SHOWN = 20  # conversations and merges on a contact's page
STANDARD = (
    ("external_id", "External id"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("name", "Name"),
    ("owner_id", "Owner"),
    ("signed_up_at", "Signed up"),
    ("last_seen_at", "Last seen"),
    ("created_at", "Created"),
    ("updated_at", "Updated"),
    ("browser", "Browser"),
    ("os", "OS"),
    ("location_country", "Country"),
    ("location_city", "City"),
)


def search_query(text: str) -> dict[str, Any]:
    """The Intercom search a box of text means: part of an email or name, or an exact external_id, id or
    phone (as the workspace writes its numbers, or with its +country code)."""
    return {
        "operator": "OR",
        "value": [
            {"field": "email", "operator": "~", "value": text},
            {"field": "name", "operator": "~", "value": text},
            {"field": "external_id", "operator": "=", "value": text},
            {"field": "id", "operator": "=", "value": text},
            {"field": "phone", "operator": "=", "value": text},
        ],
    }


@router.get("/admin/contacts", response_class=HTMLResponse)
def contact_list(
    request: Request, q: str = "", after: str | None = None, ctx: AdminContext = Depends(admin_context)
) -> HTMLResponse:
    q = q.strip()
    if q:
        found = contacts.search_contacts(
            ctx.db,
            ctx.workspace,
            search_query(q),
            per_page=PER_PAGE,
            after_id=after,
            region=ctx.phone_region,
        )
    else:
        found = contacts.list_contacts(ctx.db, ctx.workspace, per_page=PER_PAGE, after_id=after)
    following = found.items[-1].id if found.has_more and found.items else None
    return render(request, "admin/contacts.html", ctx, q=q, found=found, following=following)


@router.get("/admin/contacts/{contact_id}", response_class=HTMLResponse)
def contact_page(request: Request, contact_id: str, ctx: AdminContext = Depends(admin_context)) -> Response:
    try:
        contact = contacts.get_contact(ctx.db, ctx.workspace, contact_id)
    except Gone as gone:
        notice = f"Contact {contact_id} was merged into this one; it has no page of its own while merged."
        return redirect(request, f"/admin/contacts/{gone.canonical_id}", notice)
    history = merging.list_merges(ctx.db, ctx.workspace, contact.id, per_page=SHOWN, after_id=None)
    threads = conversations.list_conversations(
        ctx.db, ctx.workspace, per_page=SHOWN, after_id=None, contact_id=contact.id
    )
    others = {m.source_id if m.target_id == contact.id else m.target_id for m in history.items}
    return render(
        request,
        "admin/contact.html",
        ctx,
        contact=contact,
        standard=[(label, getattr(contact, name)) for name, label in STANDARD],
        tags=tags.tags_of(ctx.db, ctx.workspace, contact.id),
        notes=notes.notes_of(ctx.db, ctx.workspace, contact.id),
        summaries=events.summaries(ctx.db, ctx.workspace, contact),
        threads=threads,
        history=history,
        people=contacts.by_ids(ctx.db, ctx.workspace, others),
        identifiers=contacts.identifiers_of(ctx.db, ctx.workspace, contact),
    )


def _named(ctx: AdminContext, text: str) -> Contact:
    """The contact an admin typed: an email when it has an @, otherwise an id."""
    text = text.strip()
    if not text:
        raise BadRequest("name the other contact by its id or email", field="other")
    try:
        if "@" in text:
            return contacts.find_contact(ctx.db, ctx.workspace, email=text)
        return contacts.get_contact(ctx.db, ctx.workspace, text)
    except Gone as gone:
        raise BadRequest(
            f"{text} was merged into {gone.canonical_id}: merge with that contact instead", field="other"
        ) from gone


@router.get("/admin/contacts/{contact_id}/merge", response_class=HTMLResponse)
def merge_preview(
    request: Request,
    contact_id: str,
    other: str = "",
    direction: str = "into_this",
    force: bool = False,
    ctx: AdminContext = Depends(admin_context),
) -> HTMLResponse:
    if direction not in ("into_this", "into_other"):
        raise BadRequest("direction is into_this or into_other", field="direction")
    this = contacts.get_contact(ctx.db, ctx.workspace, contact_id)
    that = _named(ctx, other)
    source, target = (that, this) if direction == "into_this" else (this, that)
    preview = merging.preview_merge(ctx.db, ctx.workspace, source.id, target.id, force=force)
    return render(
        request,
        "admin/merge_preview.html",
        ctx,
        this=this,
        that=that,
        source=source,
        target=target,
        direction=direction,
        force=force,
        preview=preview,
        people={source.id: source, target.id: target},
    )


@router.post("/admin/contacts/{contact_id}/notes")
def add_note(
    request: Request,
    contact_id: str,
    ctx: AdminContext = Depends(admin_context),
    form: FormData = Depends(checked_form),
) -> Response:
    ctx.require(Action.ANSWER)
    note = notes.add_note(ctx.db, ctx.workspace, contact_id, str(form.get("body") or ""), ctx.admin.id)
    ctx.commit()
    return redirect(request, f"/admin/contacts/{note.contact_id}", "Note added.")


@router.post("/admin/merges")
def confirm_merge(
    request: Request, ctx: AdminContext = Depends(admin_context), form: FormData = Depends(checked_form)
) -> Response:
    source, target = str(form.get("from", "")), str(form.get("into", ""))
    force = form.get("force") == "true"
    ctx.require(Action.FORCE_MERGE if force else Action.MERGE)
    result = merging.merge_contacts(
        ctx.db, ctx.workspace, source, target, force=force, requested_by=ctx.actor
    )
    ctx.commit()
    if result.held:
        why = result.merge.plan.get("refusal", "")
        return redirect(
            request, f"/admin/contacts/{target}", f"Merge {result.merge.id} is held for review: {why}"
        )
    notice = f"Merged {source} into this contact (merge {result.merge.id}); it can be undone below."
    return redirect(request, f"/admin/contacts/{result.survivor.id}", notice)


@router.post("/admin/merges/{merge_id}/undo")
def undo_merge(
    request: Request,
    merge_id: str,
    ctx: AdminContext = Depends(admin_context),
    form: FormData = Depends(checked_form),
) -> Response:
    ctx.require(Action.UNDO)
    merge = merging.undo_merge(ctx.db, ctx.workspace, merge_id, actor=ctx.actor)
    report = merge.undo_report or {}
    ctx.commit()
    notice = f"Merge {merge.id} undone: contact {merge.source_id} is back with its own data."
    if conflicts := report.get("conflicts"):
        changed = ", ".join(c["name"] for c in conflicts)
        notice += f" Changed since the merge, so kept as they are: {changed}."
    return redirect(request, f"/admin/contacts/{merge.target_id}", notice)
