"""The workspace's data attributes (custom attribute schema)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from contactmerge.api.deps import ApiContext, api_context
from contactmerge.api.schemas import DataAttributeCreate, DataAttributeUpdate
from contactmerge.errors import BadRequest
from contactmerge.services import data_attributes
from contactmerge.storage.tables import DataAttribute

router = APIRouter(tags=["data attributes"])


def shape(row: DataAttribute) -> dict[str, Any]:
    return {
        "type": "data_attribute",
        "id": row.id,
        "model": row.model,
        "name": row.name,
        "full_name": f"custom_attributes.{row.name}",
        "label": row.label,
        "description": row.description,
        "data_type": row.data_type,
        "options": row.options,
        "api_writable": True,
        "messenger_writable": True,
        "ui_writable": True,
        "custom": True,
        "archived": row.archived,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


@router.get("/data_attributes")
def list_attributes(
    model: str | None = None, include_archived: bool = False, ctx: ApiContext = Depends(api_context)
) -> dict[str, Any]:
    if model not in (None, "contact"):
        raise BadRequest(
            "model must be 'contact' (companies and conversations are not stored)", field="model"
        )
    rows = data_attributes.list_attributes(ctx.db, ctx.workspace)
    return {"type": "list", "data": [shape(r) for r in rows if include_archived or not r.archived]}


@router.post("/data_attributes")
def create_attribute(body: DataAttributeCreate, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    row = data_attributes.create_attribute(
        ctx.db,
        ctx.workspace,
        name=body.name,
        data_type=body.data_type,
        description=body.description,
        options=body.options,
    )
    ctx.commit()
    return shape(row)


@router.put("/data_attributes/{attribute_id}")
def update_attribute(
    attribute_id: int, body: DataAttributeUpdate, ctx: ApiContext = Depends(api_context)
) -> dict[str, Any]:
    row = data_attributes.update_attribute(
        ctx.db, ctx.workspace, attribute_id, body.model_dump(exclude_unset=True)
    )
    ctx.commit()
    return shape(row)
