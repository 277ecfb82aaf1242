"""Duplicates (R5): review clusters and fuzzy suggestions, approve or reject them, apply clusters as a worker
batch, undo it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from contactmerge.api.deps import ApiContext, api_context
from contactmerge.api.paging import page_number
from contactmerge.api.schemas import Body
from contactmerge.domain.fuzzy import Suggestion
from contactmerge.errors import BadRequest
from contactmerge.services.duplicates import batches, review, scan
from contactmerge.storage.tables import Batch
from contactmerge.worker.runner import wake_worker

router = APIRouter(tags=["duplicates"])


class ApplyRequest(Body):
    keys: list[str] | None = Field(default=None, description="email, external_id, phone (default: all)")
    cluster_ids: list[str] = Field(
        default_factory=list, description="Only these clusters (default: all ready)"
    )


def cluster_json(reviewed: review.Reviewed) -> dict[str, Any]:
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


def suggestion_json(suggestion: Suggestion) -> dict[str, Any]:
    return {
        "type": "duplicate_suggestion",
        "id": review.pair_id(suggestion.contact_a, suggestion.contact_b),
        "contacts": [suggestion.contact_a, suggestion.contact_b],
        "score": suggestion.score,
        "reasons": list(suggestion.reasons),
        "decision": None,
    }


def _page_checked(per_page: int, page: int, ctx: ApiContext) -> None:
    if not 1 <= per_page <= ctx.settings.max_per_page:
        raise BadRequest(f"per_page must be between 1 and {ctx.settings.max_per_page}", field="per_page")
    page_number(page)


def _listing(data: list[dict[str, Any]], total: int, per_page: int, page: int) -> dict[str, Any]:
    total_pages = max(1, -(-total // per_page))
    return {
        "type": "list",
        "data": data,
        "total_count": total,
        "pages": {"type": "pages", "page": page, "per_page": per_page, "total_pages": total_pages},
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
    type: str | None = None,
    min_score: float = 0.8,
    per_page: int = 50,
    page: int = 1,
    ctx: ApiContext = Depends(api_context),
) -> dict[str, Any]:
    """Exact clusters, then fuzzy suggestions (``type=cluster`` or ``type=suggestion`` for one kind)."""
    _page_checked(per_page, page, ctx)
    if type not in (None, "cluster", "suggestion"):
        raise BadRequest("type must be 'cluster' or 'suggestion'", field="type")
    if not 0 <= min_score <= 1:
        raise BadRequest("min_score must be between 0 and 1", field="min_score")
    kinds = [type] if type else ["cluster", "suggestion"]
    queue = review.clusters_and_suggestions(
        ctx.db, ctx.workspace, scan.parse_keys(key), kinds=kinds, min_score=min_score
    )
    found = [cluster_json(i) if isinstance(i, review.Reviewed) else suggestion_json(i) for i in queue]
    return _listing(found[(page - 1) * per_page : page * per_page], len(found), per_page, page)


@router.get("/duplicates/suggestions")
def list_suggestions(
    min_score: float = 0.8,
    block_cap: int = 50,
    per_page: int = 50,
    page: int = 1,
    ctx: ApiContext = Depends(api_context),
) -> dict[str, Any]:
    """Fuzzy suggestions, best first; pairs rejected before never come back."""
    _page_checked(per_page, page, ctx)
    found = review.suggestions(ctx.db, ctx.workspace, min_score=min_score, limit=None, block_cap=block_cap)
    shown = found.suggestions[(page - 1) * per_page : page * per_page]
    listing = _listing([suggestion_json(s) for s in shown], len(found.suggestions), per_page, page)
    listing["skipped_blocks"] = [
        {"kind": b.kind, "value": b.value, "size": b.size} for b in found.skipped_blocks
    ]
    return listing


@router.post("/duplicates/{cluster_id}/approve")
def approve(cluster_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    """A cluster is marked for the next batch; a suggestion (``a:b``) is merged at once."""
    if review.is_pair(cluster_id):
        result = review.approve_pair(ctx.db, ctx.workspace, cluster_id)
        ctx.commit()
        absorbed = result.merge.source_id
        return {
            "type": "duplicate_suggestion",
            "id": review.pair_id(absorbed, result.survivor.id),
            "contacts": sorted((absorbed, result.survivor.id)),
            "decision": "approved",
            "survivor": result.survivor.id,
            "merge_id": result.merge.id,
        }
    reviewed = review.decide(ctx.db, ctx.workspace, cluster_id, "approved")
    ctx.commit()
    return cluster_json(reviewed)


@router.post("/duplicates/{cluster_id}/reject")
def reject(cluster_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    """A cluster, or a suggestion (``a:b``): "not the same person"."""
    if review.is_pair(cluster_id):
        first, second = review.reject_pair(ctx.db, ctx.workspace, cluster_id)
        ctx.commit()
        return {
            "type": "duplicate_suggestion",
            "id": review.pair_id(first, second),
            "contacts": [first, second],
            "decision": "rejected",
        }
    reviewed = review.decide(ctx.db, ctx.workspace, cluster_id, "rejected")
    ctx.commit()
    return cluster_json(reviewed)


@router.post("/duplicates/apply", status_code=202)
def apply(body: ApplyRequest, request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    keys = scan.parse_keys(",".join(body.keys) if body.keys else None)
    batch = batches.start_batch(ctx.db, ctx.workspace, keys=keys, cluster_ids=body.cluster_ids)
    response = batch_json(batch)
    ctx.commit()
    wake_worker(request)
    return JSONResponse(response, status_code=202)


@router.get("/batches/{batch_id}")
def get_batch(batch_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    return batch_json(batches.get_batch(ctx.db, ctx.workspace, batch_id))


@router.post("/batches/{batch_id}/undo")
def undo_batch(batch_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    batch = batches.undo(ctx.db, ctx.workspace, batch_id)
    response = batch_json(batch)
    ctx.commit()
    return response
