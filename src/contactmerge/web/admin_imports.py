"""CSV imports in the admin (R3): upload, map the columns, watch the worker run it, errors.csv, undo.

The upload is kept as a draft import (state ``mapping``) until its mapping is confirmed, so the file
crosses the network once; the services are those ``/imports`` uses, plus the draft step before them.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.datastructures import FormData, UploadFile

from contactmerge.domain.importing import COUNT_LABELS
from contactmerge.domain.teammates import Action
from contactmerge.errors import BadRequest
from contactmerge.services.importing import drafts as import_drafts
from contactmerge.services.importing import jobs as importing
from contactmerge.services.importing import outcomes
from contactmerge.services.importing.drafts import Draft
from contactmerge.web.admin import (
    AdminContext,
    AdminRoute,
    admin_context,
    checked_form,
    redirect,
    render,
)
from contactmerge.worker.runner import wake_worker

router = APIRouter(include_in_schema=False, route_class=AdminRoute)
PER_PAGE = 50
UPLOAD_CHUNK = 1 << 20
RUNNING = ("uploading", "pending", "running")
PROBLEMS = ("invalid", "duplicate", "conflict", "no_identifier", "rows_with_cell_problems")


def _problem(error: BadRequest) -> str:
    return f"{error.field}: {error.message}" if error.field else error.message


@router.get("/admin/imports", response_class=HTMLResponse)
def import_list(request: Request, page: int = 1, ctx: AdminContext = Depends(admin_context)) -> HTMLResponse:
    if page < 1:
        raise BadRequest("page starts at 1", field="page")
    found = importing.list_imports(ctx.db, ctx.workspace, offset=(page - 1) * PER_PAGE, limit=PER_PAGE + 1)
    shown = found[:PER_PAGE]
    return render(
        request,
        "admin/imports.html",
        ctx,
        imports=[(job, _summary(job.counts or {})) for job in shown],
        refresh=any(job.state in RUNNING for job in shown),
        page=page,
        older=page + 1 if len(found) > PER_PAGE else None,
        running=RUNNING,
    )


def _summary(counts: dict[str, Any]) -> str:
    return ", ".join(f"{name} {counts[name]:,}" for name in COUNT_LABELS if counts.get(name))


def _many(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@router.get("/admin/imports/new", response_class=HTMLResponse)
def upload_form(request: Request, ctx: AdminContext = Depends(admin_context)) -> HTMLResponse:
    return render(
        request,
        "admin/import_new.html",
        ctx,
        role="user",
        dry_run=False,
        region="",
        default_region=_default_region(ctx),
        error=None,
    )


def _default_region(ctx: AdminContext) -> str:
    return ctx.phone_region


@router.post("/admin/imports")
def upload(
    request: Request, ctx: AdminContext = Depends(admin_context), form: FormData = Depends(checked_form)
) -> Response:
    ctx.require(Action.IMPORT)
    role, dry_run = str(form.get("role", "")), form.get("dry_run") == "true"
    region = str(form.get("region") or "").strip()
    file = form.get("file")
    try:
        if not isinstance(file, UploadFile) or not file.filename:
            raise BadRequest("choose a CSV file to upload", field="file")
        job = import_drafts.create(
            ctx.db,
            ctx.workspace,
            filename=file.filename,
            role=role,
            dry_run=dry_run,
            chunks=iter(partial(file.file.read, UPLOAD_CHUNK), b""),
            max_bytes=ctx.settings.max_upload_bytes,
            region=region or None,
            actor=ctx.actor,
        )
    except BadRequest as error:
        ctx.db.rollback()  # the draft and the chunks stored so far: nothing is kept
        return render(
            request,
            "admin/import_new.html",
            ctx,
            status_code=400,
            role=role,
            dry_run=dry_run,
            region=region,
            default_region=_default_region(ctx),
            error=_problem(error),
        )
    ctx.commit()
    return redirect(request, f"/admin/imports/{job.id}/mapping")


@router.get("/admin/imports/{import_id}/mapping", response_class=HTMLResponse)
def mapping_form(
    request: Request, import_id: str, ctx: AdminContext = Depends(admin_context)
) -> HTMLResponse:
    ctx.require(Action.IMPORT)
    draft = import_drafts.show(ctx.db, ctx.workspace, import_id)
    return _mapping_page(request, ctx, draft, list(draft.proposed), error=draft.clash)


def _mapping_page(
    request: Request, ctx: AdminContext, draft: Draft, chosen: list[str], error: str | None, status: int = 200
) -> HTMLResponse:
    return render(
        request,
        "admin/import_mapping.html",
        ctx,
        status_code=status,
        draft=draft,
        job=draft.job,
        columns=list(zip(draft.header, draft.proposed, chosen, strict=True)),
        error=error,
    )


def _choices(form: FormData, draft: Draft) -> list[str]:
    sent = [form.get(f"column-{index}") for index in range(len(draft.header))]
    return [c if isinstance(c, str) and c else p for c, p in zip(sent, draft.proposed, strict=True)]


def _mapping(draft: Draft, chosen: list[str]) -> dict[str, str]:
    """The column → field map POST /imports would take. A column named twice in the header cannot be
    named in a map: left to the auto-mapping unless changed (then the service explains the clash)."""
    named = Counter(text for text in draft.header)
    return {
        text: choice
        for text, proposed, choice in zip(draft.header, draft.proposed, chosen, strict=True)
        if text.strip() and (named[text] == 1 or choice != proposed)
    }


@router.post("/admin/imports/{import_id}/mapping")
def start(
    request: Request,
    import_id: str,
    ctx: AdminContext = Depends(admin_context),
    form: FormData = Depends(checked_form),
) -> Response:
    ctx.require(Action.IMPORT)
    draft = import_drafts.show(ctx.db, ctx.workspace, import_id)
    chosen = _choices(form, draft)
    try:
        job = import_drafts.start(ctx.db, ctx.workspace, import_id, _mapping(draft, chosen))
    except BadRequest as error:
        ctx.db.rollback()
        return _mapping_page(request, ctx, draft, chosen, _problem(error), status=400)
    ctx.commit()
    wake_worker(request)
    what = "dry run" if job.dry_run else "import"
    notice = f"The {what} started: the worker is reading the file."
    return redirect(request, f"/admin/imports/{job.id}", notice)


@router.post("/admin/imports/{import_id}/discard")
def discard(
    request: Request,
    import_id: str,
    ctx: AdminContext = Depends(admin_context),
    form: FormData = Depends(checked_form),
) -> Response:
    ctx.require(Action.IMPORT)
    import_drafts.discard(ctx.db, ctx.workspace, import_id)
    ctx.commit()
    return redirect(request, "/admin/imports", "Upload discarded: nothing was imported.")


@router.get("/admin/imports/{import_id}", response_class=HTMLResponse)
def import_page(request: Request, import_id: str, ctx: AdminContext = Depends(admin_context)) -> Response:
    job = importing.get_import(ctx.db, ctx.workspace, import_id)
    if job.state == import_drafts.MAPPING:
        return redirect(request, f"/admin/imports/{job.id}/mapping")
    counts: dict[str, Any] = job.counts or {}
    return render(
        request,
        "admin/import.html",
        ctx,
        job=job,
        running=job.state in RUNNING,
        percent=_percent(job.bytes_done, job.size_bytes, job.state),
        counts=[(name, label, counts[name]) for name, label in COUNT_LABELS.items() if name in counts],
        problems=sum(int(counts.get(name, 0)) for name in PROBLEMS),
    )


def _percent(done: int, total: int, state: str) -> float:
    if state in ("done", "undone") or not total:
        return 100.0
    return round(100 * min(done, total) / total, 1)


@router.get("/admin/imports/{import_id}/errors.csv")
def errors_csv(import_id: str, ctx: AdminContext = Depends(admin_context)) -> StreamingResponse:
    pieces = outcomes.problem_csv(ctx.db, ctx.workspace, import_id)
    headers = {"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'}
    return StreamingResponse(pieces, media_type="text/csv; charset=utf-8", headers=headers)


@router.post("/admin/imports/{import_id}/undo")
def undo(
    request: Request,
    import_id: str,
    ctx: AdminContext = Depends(admin_context),
    form: FormData = Depends(checked_form),
) -> Response:
    ctx.require(Action.UNDO)
    job = outcomes.undo_import(ctx.db, ctx.workspace, import_id, actor=ctx.actor)
    report = dict(job.undo_report or {})
    ctx.commit()
    notice = (
        f"Import undone: {_many(report['contacts_removed'], 'contact')} removed, "
        f"{_many(report['merges_undone'], 'merge')} reversed, "
        f"{_many(report['updates_reverted'], 'update')} reverted."
    )
    if conflicts := report.get("conflicts"):
        notice += f" {len(conflicts)} kept as they are (changed since the import): see below."
    return redirect(request, f"/admin/imports/{job.id}", notice)
