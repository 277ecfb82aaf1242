"""Teammates as Intercom's admins: ``GET /me``, ``GET /admins``, ``GET /admins/{id}``."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Depends

from contactmerge.api import shapes
from contactmerge.api.deps import ApiContext, api_context
from contactmerge.errors import NotFound
from contactmerge.services import teammates

router = APIRouter(tags=["admins"])


@router.get("/me")
def me(ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    """The teammate who created the request's API token, else the token itself, with the workspace."""
    token = ctx.token
    found = shapes.token_admin(token.id, token.name)
    if token.admin_id is not None:
        with contextlib.suppress(NotFound):  # a teammate who no longer exists: the token speaks for itself
            found = shapes.teammate(teammates.get_teammate(ctx.db, ctx.workspace, token.admin_id))
    return {**found, "app": shapes.app(ctx.workspace)}


@router.get("/admins")
def list_admins(ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    """The workspace's current teammates."""
    return {
        "type": "admin.list",
        "admins": [shapes.teammate(a) for a in teammates.list_teammates(ctx.db, ctx.workspace)],
    }


@router.get("/admins/{admin_id}")
def get_admin(admin_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    """A teammate of the workspace, a removed one too (conversations and notes still name them)."""
    return shapes.teammate(teammates.get_teammate(ctx.db, ctx.workspace, admin_id))
