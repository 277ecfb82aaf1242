"""Duplicates (R5): review clusters and the stored fuzzy suggestion queue, approve or reject them, scan for
suggestions and apply clusters as worker batches, undo a bulk merge."""

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
from contactmerge.services.duplicates import batches, queue, review, scan, suggest
from contactmerge.storage.tables import Batch
from contactmerge.worker.runner import wake_worker

router = APIRouter(tags=["duplicates"])


class ApplyRequest(Body):
    keys: list[str] | None = Field(default=None, description="email, external_id, phone (default: all)")
    cluster_ids: list[str] = Field(
        default_factory=list, description="Only these clusters (default: all ready)"
    )


class ScanRequest(Body):
    min_score: float = Field(
        default=queue.DEFAULT_FLOOR, description="Keep the pairs scoring this or more (0 to 1)."
    )
    block_cap: int = Field(
        default=suggest.DEFAULT_BLOCK_CAP,
        description="Blocks of more contacts than this are skipped and reported, not compared.",
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
        "decided_by": reviewed.decided_by,
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
        "requested_by": batch.requested_by,
        "undone_by": batch.undone_by,
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
    """Exact clusters of a fresh scan, then the stored suggestions (``type=cluster`` or ``type=suggestion``
    for one kind), one page, with the true total."""
    _page_checked(per_page, page, ctx)
    if type not in (None, "cluster", "suggestion"):
        raise BadRequest("type must be 'cluster' or 'suggestion'", field="type")
    kinds = [type] if type else ["cluster", "suggestion"]
    found = review.listing(
        ctx.db,
        ctx.workspace,
        scan.parse_keys(key),
        kinds=kinds,
        min_score=min_score,
        page=page,
        per_page=per_page,
    )
    data = [cluster_json(i) if isinstance(i, review.Reviewed) else suggestion_json(i) for i in found.items]
    listing = _listing(data, found.total, per_page, page)
    if "suggestion" in kinds:
        listing |= _scan_info(found.scan, found.pending)
    return listing


@router.get("/duplicates/suggestions")
def list_suggestions(
    min_score: float = 0.8,
    per_page: int = 50,
    page: int = 1,
    ctx: ApiContext = Depends(api_context),
) -> dict[str, Any]:
    """The stored suggestion queue of the latest scan, best first, one page (never a scan per request);
    pairs decided on, and pairs whose contacts were merged or archived since, are left out."""
    _page_checked(per_page, page, ctx)
    found = queue.page(ctx.db, ctx.workspace, min_score=min_score, page=page, per_page=per_page)
    listing = _listing([suggestion_json(s) for s in found.suggestions], found.total, per_page, page)
    return listing | _scan_info(found.scan, found.pending)


def _scan_info(current: Batch | None, pending: Batch | None) -> dict[str, Any]:
    return {
        "scan": queue.scan_json(current),
        "scan_pending": pending.id if pending is not None else None,
        "skipped_blocks": queue.skipped_blocks(current),
    }


@router.post("/duplicates/suggestions/scan", status_code=202)
def scan_suggestions(
    request: Request, body: ScanRequest | None = None, ctx: ApiContext = Depends(api_context)
) -> JSONResponse:
    """Start a suggestion scan, run by a worker; its suggestions replace the queue when it finishes."""
    options = body or ScanRequest()
    batch = queue.start_scan(ctx.db, ctx.workspace, min_score=options.min_score, block_cap=options.block_cap)
    response = batch_json(batch)
    ctx.commit()
    wake_worker(request)
    return JSONResponse(response, status_code=202)


@router.post("/duplicates/{cluster_id}/approve")
def approve(cluster_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    """A cluster is marked for the next batch; a suggestion (``a:b``) is merged at once."""
    if review.is_pair(cluster_id):
        result = review.approve_pair(ctx.db, ctx.workspace, cluster_id, actor=ctx.actor)
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
    reviewed = review.decide(ctx.db, ctx.workspace, cluster_id, "approved", actor=ctx.actor)
    ctx.commit()
    return cluster_json(reviewed)


@router.post("/duplicates/{cluster_id}/reject")
def reject(cluster_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    """A cluster, or a suggestion (``a:b``): "not the same person"."""
    if review.is_pair(cluster_id):
        first, second = review.reject_pair(ctx.db, ctx.workspace, cluster_id, actor=ctx.actor)
        ctx.commit()
        return {
            "type": "duplicate_suggestion",
            "id": review.pair_id(first, second),
            "contacts": [first, second],
            "decision": "rejected",
        }
    reviewed = review.decide(ctx.db, ctx.workspace, cluster_id, "rejected", actor=ctx.actor)
    ctx.commit()
    return cluster_json(reviewed)


@router.post("/duplicates/apply", status_code=202)
def apply(body: ApplyRequest, request: Request, ctx: ApiContext = Depends(api_context)) -> JSONResponse:
    keys = scan.parse_keys(",".join(body.keys) if body.keys else None)
    batch = batches.start_batch(
        ctx.db, ctx.workspace, keys=keys, cluster_ids=body.cluster_ids, actor=ctx.actor
    )
    response = batch_json(batch)
    ctx.commit()
    wake_worker(request)
    return JSONResponse(response, status_code=202)


@router.get("/batches/{batch_id}")
def get_batch(batch_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    return batch_json(batches.get_batch(ctx.db, ctx.workspace, batch_id))


@router.post("/batches/{batch_id}/undo")
def undo_batch(batch_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    batch = batches.undo(ctx.db, ctx.workspace, batch_id, actor=ctx.actor)
    response = batch_json(batch)
    ctx.commit()
    return response
