"""The duplicates review queue, the stored suggestion queue, and batches (R5), over the services
``/duplicates`` uses."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from contactmerge.domain.dedupe import KEYS
from contactmerge.domain.teammates import Action
from contactmerge.errors import BadRequest
from contactmerge.services import contacts
from contactmerge.services.duplicates import batches, queue, review, scan
from contactmerge.web.admin import (
    AdminContext,
    AdminRoute,
    admin_context,
    back_to,
    checked_form,
    redirect,
    render,
)
from contactmerge.worker.runner import wake_worker

router = APIRouter(include_in_schema=False, route_class=AdminRoute)
PER_PAGE = 20
RUNNING = ("pending", "running")


def _pages(total: int, page: int, query: dict[str, str]) -> dict[str, object]:
    last = max(1, -(-total // PER_PAGE))
    if page < 1:
        raise BadRequest("page starts at 1", field="page")

    def link(number: int) -> str:
        return "?" + urlencode({**query, "page": str(number)})

    return {
        "page": page,
        "last": last,
        "previous": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < last else None,
    }


@router.get("/admin/duplicates", response_class=HTMLResponse)
def review_queue(
    request: Request,
    mode: str = "exact",
    key: str = "",
    min_score: float = 0.8,
    page: int = 1,
    ctx: AdminContext = Depends(admin_context),
) -> HTMLResponse:
    if mode not in ("exact", "fuzzy"):
        raise BadRequest("mode is exact or fuzzy", field="mode")
    here = request.url.path + ("?" + request.url.query if request.url.query else "")
    common: dict[str, Any] = {"mode": mode, "key": key, "min_score": min_score, "keys": KEYS, "here": here}
    if mode == "fuzzy":
        common |= _suggestions(ctx, min_score, page)
    else:
        common |= _clusters(ctx, key, page)
    return render(request, "admin/duplicates.html", ctx, **common)


def _clusters(ctx: AdminContext, key: str, page: int) -> dict[str, Any]:
    reviewed = review.queue(ctx.db, ctx.workspace, scan.parse_keys(key or None))
    pages = _pages(len(reviewed.clusters), page, {"mode": "exact", "key": key})
    shown = reviewed.clusters[(page - 1) * PER_PAGE : page * PER_PAGE]
    members = [m for r in shown for m in r.planned.cluster.members]
    return {
        "clusters": shown,
        "held": reviewed.held,
        "total": len(reviewed.clusters),
        "people": contacts.by_ids(ctx.db, ctx.workspace, members),
        "pages": pages,
    }


def _suggestions(ctx: AdminContext, min_score: float, page: int) -> dict[str, Any]:
    found = queue.page(ctx.db, ctx.workspace, min_score=min_score, page=page, per_page=PER_PAGE)
    pages = _pages(found.total, page, {"mode": "fuzzy", "min_score": str(min_score)})
    pair_members = [c for s in found.suggestions for c in (s.contact_a, s.contact_b)]
    return {
        "suggestions": found.suggestions,
        "total": found.total,
        "first": (page - 1) * PER_PAGE + 1,
        "scan": found.scan,
        "pending": found.pending,
        "skipped": queue.skipped_blocks(found.scan),
        "people": contacts.by_ids(ctx.db, ctx.workspace, pair_members),
        "pages": pages,
    }


def _decide(request: Request, ctx: AdminContext, form: FormData, subject: str, verdict: str) -> Response:
    back = back_to(form.get("back"), "/admin/duplicates")
    ctx.require(Action.REVIEW)
    if not review.is_pair(subject):
        review.decide(ctx.db, ctx.workspace, subject, verdict, actor=ctx.actor)
        ctx.commit()
        return redirect(request, back, f"Cluster {subject} {verdict}.")
    if verdict == "rejected":
        review.reject_pair(ctx.db, ctx.workspace, subject, actor=ctx.actor)
        ctx.commit()
        return redirect(request, back, "Suggestion rejected: this pair will not be suggested again.")
    if all(c.role == "user" for c in review.pair_contacts(ctx.db, ctx.workspace, subject)):
        ctx.require(Action.FORCE_MERGE)  # approving two users merges them, forced
    result = review.approve_pair(ctx.db, ctx.workspace, subject, actor=ctx.actor)
    ctx.commit()
    return redirect(request, back, f"Merged {result.merge.source_id} into {result.survivor.id}.")


@router.post("/admin/duplicates/{cluster_id}/approve")
def approve(
    request: Request,
    cluster_id: str,
    ctx: AdminContext = Depends(admin_context),
    form: FormData = Depends(checked_form),
) -> Response:
    return _decide(request, ctx, form, cluster_id, "approved")


@router.post("/admin/duplicates/{cluster_id}/reject")
def reject(
    request: Request,
    cluster_id: str,
    ctx: AdminContext = Depends(admin_context),
    form: FormData = Depends(checked_form),
) -> Response:
    return _decide(request, ctx, form, cluster_id, "rejected")


@router.post("/admin/duplicates/apply")
def apply(
    request: Request, ctx: AdminContext = Depends(admin_context), form: FormData = Depends(checked_form)
) -> Response:
    key = form.get("key")
    keys = scan.parse_keys(key if isinstance(key, str) and key else None)
    ctx.require(Action.APPLY_BATCH)
    batch = batches.start_batch(ctx.db, ctx.workspace, keys=keys, cluster_ids=[], actor=ctx.actor)
    ctx.commit()
    wake_worker(request)
    return redirect(
        request, f"/admin/batches/{batch.id}", "Batch started: the worker is merging the clusters."
    )


@router.post("/admin/duplicates/suggestions/scan")
def scan_suggestions(
    request: Request, ctx: AdminContext = Depends(admin_context), form: FormData = Depends(checked_form)
) -> Response:
    batch = queue.start_scan(ctx.db, ctx.workspace, actor=ctx.actor)
    ctx.commit()
    wake_worker(request)
    return redirect(
        request, f"/admin/batches/{batch.id}", "Scan started: the worker is looking for suggestions."
    )


@router.get("/admin/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(request: Request, batch_id: str, ctx: AdminContext = Depends(admin_context)) -> HTMLResponse:
    batch = batches.get_batch(ctx.db, ctx.workspace, batch_id)
    return render(request, "admin/batch.html", ctx, batch=batch, running=batch.state in RUNNING)


@router.post("/admin/batches/{batch_id}/undo")
def undo_batch(
    request: Request,
    batch_id: str,
    ctx: AdminContext = Depends(admin_context),
    form: FormData = Depends(checked_form),
) -> Response:
    ctx.require(Action.UNDO)
    batch = batches.undo(ctx.db, ctx.workspace, batch_id, actor=ctx.actor)
    undone = batch.counts.get("undone", 0)
    ctx.commit()
    return redirect(request, f"/admin/batches/{batch_id}", f"Batch undone: {undone} merges reversed.")
