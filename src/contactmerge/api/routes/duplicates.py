"""Duplicates (R5): review clusters, approve or reject them, apply them as a worker batch, undo it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from contactmerge.api.deps import ApiContext, api_context
from contactmerge.api.schemas import Body
from contactmerge.errors import BadRequest
from contactmerge.services import dedupe, duplicates
from contactmerge.storage.tables import Batch

router = APIRouter(tags=["duplicates"])


class ApplyRequest(Body):
    keys: list[str] | None = Field(default=None, description="email, external_id, phone (default: all)")
    cluster_ids: list[str] = Field(
        default_factory=list, description="Only these clusters (default: all ready)"
    )


def cluster_json(reviewed: duplicates.Reviewed) -> dict[str, Any]:
    planned = reviewed.planned
    return {
        "type": "duplicate_cluster",
        "id": planned.cluster.id,
        "members": list(planned.cluster.members),
        "survivor": planned.survivor,
        "merge": list(planned.absorbed),
        "keys": [{"kind": k.kind, "value": k.value} for k in planned.cluster.keys],
        "needs_approval": planned.blocked,
        "decision": reviewed.decision,
    }


def batch_json(batch: Batch) -> dict[str, Any]:
    return {
        "type": "batch",
        "id": batch.id,
        "kind": batch.kind,
        "state": batch.state,
        "options": batch.options,
        "counts": batch.counts,
        "error": batch.error,
        "created_at": batch.created_at,
        "finished_at": batch.finished_at,
    }


@router.get("/duplicates")
def list_duplicates(
    key: str | None = None,
    per_page: int = 50,
    page: int = 1,
    ctx: ApiContext = Depends(api_context),
) -> dict[str, Any]:
    if not 1 <= per_page <= ctx.settings.max_per_page:
        raise BadRequest(f"per_page must be between 1 and {ctx.settings.max_per_page}", field="per_page")
    if page < 1:
        raise BadRequest("page starts at 1", field="page")
    found = duplicates.review(ctx.db, ctx.workspace, dedupe.parse_keys(key))
    shown = found[(page - 1) * per_page : page * per_page]
    total_pages = max(1, -(-len(found) // per_page))
    return {
        "type": "list",
        "data": [cluster_json(r) for r in shown],
        "total_count": len(found),
        "pages": {"type": "pages", "page": page, "per_page": per_page, "total_pages": total_pages},
    }


@router.post("/duplicates/{cluster_id}/approve")
def approve(cluster_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    reviewed = duplicates.decide(ctx.db, ctx.workspace, cluster_id, "approved")
    ctx.commit()
    return cluster_json(reviewed)


@router.post("/duplicates/{cluster_id}/reject")
def reject(cluster_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    reviewed = duplicates.decide(ctx.db, ctx.workspace, cluster_id, "rejected")
    ctx.commit()
    return cluster_json(reviewed)


@router.post("/duplicates/apply", status_code=202)
def apply(body: ApplyRequest, request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    keys = dedupe.parse_keys(",".join(body.keys) if body.keys else None)
    batch = duplicates.start_batch(ctx.db, ctx.workspace, keys=keys, cluster_ids=body.cluster_ids)
    response = batch_json(batch)
    ctx.commit()
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.wake()
    return JSONResponse(response, status_code=202)


@router.get("/batches/{batch_id}")
def get_batch(batch_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    return batch_json(duplicates.get_batch(ctx.db, ctx.workspace, batch_id))


@router.post("/batches/{batch_id}/undo")
def undo_batch(batch_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    batch = duplicates.undo(ctx.db, ctx.workspace, batch_id)
    response = batch_json(batch)
    ctx.commit()
    return response
