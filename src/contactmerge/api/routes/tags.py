"""Workspace tags."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from contactmerge.api import shapes
from contactmerge.api.deps import ApiContext, api_context
from contactmerge.api.schemas import TagWrite
from contactmerge.services import tags

router = APIRouter(tags=["tags"])


@router.post("/tags")
def create_or_update_tag(body: TagWrite, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    tag = tags.create_or_update_tag(ctx.db, ctx.workspace, body.name, body.id)
    ctx.commit()
    return shapes.tag(tag)


@router.get("/tags")
def list_tags(ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    return {"type": "list", "data": [shapes.tag(t) for t in tags.list_tags(ctx.db, ctx.workspace)]}


@router.get("/tags/{tag_id}")
def get_tag(tag_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    return shapes.tag(tags.get_tag(ctx.db, ctx.workspace, tag_id))
