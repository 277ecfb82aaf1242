"""Merge marks waiting for, or parked by, the worker (``/merge_marks``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from contactmerge.api import paging
from contactmerge.api.deps import ApiContext, api_context
from contactmerge.services import marks
from contactmerge.storage.tables import MergeMark

router = APIRouter(tags=["merge marks"])


def shape(mark: MergeMark) -> dict[str, Any]:
    return {
        "type": "merge_mark",
        "id": mark.id,
        "from": mark.source_id,
        "into": mark.target_id,
        "reason": mark.reason,
        "evidence": mark.evidence,
        "state": mark.state,
        "attempts": mark.attempts,
        "last_error": mark.last_error,
        "merge_id": mark.merge_id,
        "created_at": int(mark.created_at),
        "updated_at": int(mark.updated_at),
    }


@router.get("/merge_marks")
def list_marks(
    state: str | None = None,
    per_page: int | None = None,
    starting_after: str | None = None,
    ctx: ApiContext = Depends(api_context),
) -> dict[str, Any]:
    size = paging.per_page(per_page, ctx.settings)
    cursor = paging.decode(starting_after)
    page = marks.list_marks(ctx.db, ctx.workspace, state=state, per_page=size, after_id=cursor.after_id)
    return paging.listing([shape(m) for m in page.items], page, cursor, size)


@router.post("/merge_marks/{mark_id}/retry")
def retry_mark(mark_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    mark = marks.retry(ctx.db, ctx.workspace, mark_id)
    ctx.commit()
    return shape(mark)
