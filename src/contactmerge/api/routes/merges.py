"""Merging: Intercom's ``POST /contacts/merge``, and ``/merges`` for preview, history and undo."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import Field

from contactmerge.api import paging
from contactmerge.api.deps import ApiContext, api_context
from contactmerge.api.routes.contacts import present_one
from contactmerge.api.schemas import Body
from contactmerge.errors import Conflict
from contactmerge.services import merging
from contactmerge.storage.paging import Page
from contactmerge.storage.tables import Merge

router = APIRouter(tags=["merges"])


class MergeRequest(Body):
    from_: str = Field(alias="from", min_length=1, description="The contact to fold in (a lead).")
    into: str = Field(min_length=1, description="The contact that survives (a user).")
    force: bool = Field(
        default=False, description="Allow merging two users (they must share a verified identifier)."
    )
    skip_duplicate_validation: bool = Field(
        default=False, description="With force: merge users sharing nothing."
    )


def shape(merge: Merge) -> dict[str, Any]:
    return {
        "type": "merge",
        "id": merge.id,
        "from": merge.source_id,
        "into": merge.target_id,
        "reason": merge.reason,
        "state": merge.state,
        "forced": merge.forced,
        "requested_by": merge.requested_by,
        "batch_id": merge.batch_id,
        "created_at": merge.created_at,
        "undone_at": merge.undone_at,
        "undone_by": merge.undone_by,
        "moved": merge.moved,
        "plan": merge.plan,
        "undo_report": merge.undo_report,
    }


def merge_list(page: Page[Merge], cursor: paging.Cursor, size: int) -> dict[str, Any]:
    return paging.listing([shape(m) for m in page.items], page, cursor, size)


@router.post("/contacts/merge")
def merge_contacts(body: MergeRequest, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    result = merging.merge_contacts(
        ctx.db,
        ctx.workspace,
        body.from_,
        body.into,
        force=body.force,
        skip_duplicate_validation=body.skip_duplicate_validation,
        requested_by=ctx.actor,
    )
    ctx.commit()
    if result.held:
        raise Conflict(
            f"merge {result.merge.id} is held for review: {result.merge.plan.get('refusal', '')}",
            field="into",
            code="merge_held",
        )
    return present_one(ctx, result.survivor)


@router.post("/merges/preview")
def preview(body: MergeRequest, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    return {
        "type": "merge.preview",
        "from": body.from_,
        "into": body.into,
        **merging.preview_merge(
            ctx.db,
            ctx.workspace,
            body.from_,
            body.into,
            force=body.force,
            skip_duplicate_validation=body.skip_duplicate_validation,
        ),
    }


@router.get("/merges")
def list_merges(
    contact_id: str | None = None,
    per_page: int | None = None,
    starting_after: str | None = None,
    ctx: ApiContext = Depends(api_context),
) -> dict[str, Any]:
    size = paging.per_page(per_page, ctx.settings)
    cursor = paging.decode(starting_after)
    page = merging.list_merges(ctx.db, ctx.workspace, contact_id, per_page=size, after_id=cursor.after_id)
    return merge_list(page, cursor, size)


@router.get("/contacts/{contact_id}/merge_history")
def merge_history(
    contact_id: str,
    per_page: int | None = None,
    starting_after: str | None = None,
    ctx: ApiContext = Depends(api_context),
) -> dict[str, Any]:
    """The merges a contact took part in: ``GET /merges?contact_id=…`` under the contact's own path."""
    return list_merges(contact_id, per_page, starting_after, ctx)


@router.get("/merges/{merge_id}")
def get_merge(merge_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    return shape(merging.get_merge(ctx.db, ctx.workspace, merge_id))


@router.post("/merges/{merge_id}/undo")
def undo_merge(merge_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    merge = merging.undo_merge(ctx.db, ctx.workspace, merge_id, actor=ctx.actor)
    ctx.commit()
    return shape(merge)
