"""CSV imports over HTTP: upload (run by the worker), status, errors.csv, undo."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from contactmerge.api.deps import ApiContext, api_context
from contactmerge.api.schemas import unstorable
from contactmerge.errors import BadRequest
from contactmerge.services.importing import jobs as importing
from contactmerge.services.importing import outcomes
from contactmerge.storage.tables import Import
from contactmerge.worker.runner import wake_worker

router = APIRouter(tags=["imports"])
UPLOAD_CHUNK = 1 << 20


def shape(job: Import) -> dict[str, Any]:
    return {
        "type": "import",
        "id": job.id,
        "filename": job.filename,
        "role": job.role,
        "dry_run": job.dry_run,
        "state": job.state,
        "mapping": job.mapping,
        "region": (job.options or {}).get("region"),
        "format": job.file_format,
        "progress": {
            "rows": job.rows_done,
            "bytes": job.bytes_done,
            "total_bytes": job.size_bytes,
            "percent": round(100 * job.bytes_done / job.size_bytes, 1) if job.size_bytes else 100.0,
        },
        "counts": job.counts,
        "unknown_columns": job.unknown_columns,
        "error": job.error,
        "undo_report": job.undo_report,
        "created_by": job.created_by,
        "undone_by": job.undone_by,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


@router.post("/imports", status_code=202)
def upload(
    request: Request,
    file: UploadFile = File(..., description="The CSV file."),
    role: str = Form(..., description="user or lead"),
    map: str | None = Form(
        default=None, description='JSON object {"column": "field"} overriding the auto-mapping'
    ),
    dry_run: bool = Form(default=False),
    region: str | None = Form(
        default=None,
        description="ISO country of phone numbers written without +country (default: the workspace's)",
    ),
    ctx: ApiContext = Depends(api_context),
) -> JSONResponse:
    mapping: dict[str, str] = {}
    if map:
        try:
            mapping = json.loads(map)
        except (ValueError, RecursionError) as error:
            raise BadRequest("map must be a JSON object of column → field", field="map") from error
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise BadRequest("map must be a JSON object of column → field", field="map")
        if (found := unstorable(mapping)) is not None:
            place, reason = found
            raise BadRequest(f"map{'.' if place else ''}{place} {reason}", field="map")
    job = importing.upload(
        ctx.db,
        ctx.workspace,
        actor=ctx.actor,
        filename=file.filename or "upload.csv",
        role=role,
        mapping=mapping,
        dry_run=dry_run,
        chunks=iter(partial(file.file.read, UPLOAD_CHUNK), b""),
        max_bytes=ctx.settings.max_upload_bytes,
        region=region or None,
    )
    ctx.commit()
    wake_worker(request)
    return JSONResponse(shape(job), status_code=202)


@router.get("/imports/{import_id}")
def get_import(import_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    return shape(importing.get_import(ctx.db, ctx.workspace, import_id))


@router.get("/imports/{import_id}/errors.csv")
def errors_csv(import_id: str, ctx: ApiContext = Depends(api_context)) -> StreamingResponse:
    pieces = outcomes.problem_csv(ctx.db, ctx.workspace, import_id)
    headers = {"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'}
    return StreamingResponse(pieces, media_type="text/csv; charset=utf-8", headers=headers)


@router.post("/imports/{import_id}/undo")
def undo(import_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    job = outcomes.undo_import(ctx.db, ctx.workspace, import_id, actor=ctx.actor)
    ctx.commit()
    return shape(job)
