"""An upload waiting for a person to confirm its column mapping (R3), the admin's two-step import.

A draft is an import in state ``mapping`` holding its stored file: the worker claims only ``pending``
imports, so nothing is read into contacts until ``start`` checks the chosen mapping against the file's
header and makes it pending, exactly what POST /imports with ``map`` would have stored. The file is
examined once, at upload, so a file that is not a CSV is refused before any draft exists.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from itertools import islice

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.importing import CUSTOM_PREFIX, IGNORE, STANDARD_FIELDS, auto_map
from contactmerge.errors import BadRequest, Conflict
from contactmerge.services import data_attributes
from contactmerge.services.importing import jobs as importing
from contactmerge.services.importing.files import opener_in
from contactmerge.services.importing.source import CsvFormat, read_rows, sniff
from contactmerge.storage import imports as repo
from contactmerge.storage.tables import Import, Workspace

MAPPING = "mapping"
SAMPLE_ROWS = 5


@dataclass(frozen=True)
class Draft:
    """What the mapping step shows: per column its header and proposed field (``ignore`` for none),
    every field a column may feed, the first rows, and why the proposal cannot run as it is (if so)."""

    job: Import
    header: tuple[str, ...]
    proposed: tuple[str, ...]
    targets: tuple[str, ...]
    samples: list[list[str]]
    clash: str | None


def create(
    db: DbSession,
    workspace: Workspace,
    *,
    filename: str,
    role: str,
    dry_run: bool,
    chunks: Iterable[bytes],
    max_bytes: int,
    region: str | None = None,
    actor: str,
) -> Import:
    """Store an upload as a draft, once its file reads as a CSV (400 naming ``file`` otherwise);
    ``region`` reads its national phone numbers (400 naming ``region`` when it is no region code)."""
    job = importing.upload(
        db,
        workspace,
        filename=filename,
        role=role,
        mapping={},
        dry_run=dry_run,
        chunks=chunks,
        max_bytes=max_bytes,
        state=MAPPING,
        region=region,
        actor=actor,
    )
    fmt = sniff(opener_in(db, job))
    job.file_format = {"encoding": fmt.encoding, "delimiter": fmt.delimiter, "header": list(fmt.header)}
    db.flush()
    return job


def show(db: DbSession, workspace: Workspace, import_id: str) -> Draft:
    """The draft with the auto-mapping proposed for each column and its first rows."""
    job = _draft(db, workspace, import_id)
    fmt = _format(job)
    custom_types = data_attributes.field_types(db, workspace)
    try:
        proposed = tuple(field or IGNORE for field in auto_map(fmt.header, custom_types, {}).fields)
        clash = None
    except ValueError as error:
        # two columns guess the same field: show each column's own guess and let the person settle it
        proposed = tuple(auto_map([text], custom_types, {}).fields[0] or IGNORE for text in fmt.header)
        clash = str(error)
    with closing(read_rows(opener_in(db, job), fmt)) as rows:
        samples = [_fitted(cells, len(fmt.header)) for _, cells in islice(rows, SAMPLE_ROWS)]
    targets = (*STANDARD_FIELDS, *(CUSTOM_PREFIX + name for name in sorted(custom_types)), IGNORE)
    return Draft(job, fmt.header, proposed, targets, samples, clash)


def start(db: DbSession, workspace: Workspace, import_id: str, mapping: Mapping[str, str]) -> Import:
    """Run the draft with this mapping (column → field or ``ignore``): it becomes pending for a worker.
    A mapping the file cannot take is refused naming ``map``, and the draft stays as it was."""
    job = _draft(db, workspace, import_id, lock=True)
    try:
        auto_map(_format(job).header, data_attributes.field_types(db, workspace), mapping)
    except ValueError as error:
        raise BadRequest(str(error), field="map") from error
    job.mapping, job.state, job.heartbeat_at = dict(mapping), "pending", time.time()
    db.flush()
    return job


def discard(db: DbSession, workspace: Workspace, import_id: str) -> None:
    """Delete a draft and its stored file; an import that started is kept (undo it instead)."""
    repo.delete_import(db, _draft(db, workspace, import_id, lock=True))


def _draft(db: DbSession, workspace: Workspace, import_id: str, *, lock: bool = False) -> Import:
    job = repo.get(db, workspace.id, import_id, lock=lock)
    if job is None:
        return importing.get_import(db, workspace, import_id)  # its NotFound, worded as everywhere
    if job.state != MAPPING:
        raise Conflict(
            f"import {job.id} is {job.state}: its columns were mapped already",
            field="id",
            code="import_started",
        )
    return job


def _format(job: Import) -> CsvFormat:
    stored = job.file_format or {}
    return CsvFormat(stored["encoding"], stored["delimiter"], tuple(stored["header"]))


def _fitted(cells: list[str], width: int) -> list[str]:
    """A row as wide as the header, for a table: short rows padded, extra cells dropped."""
    return (cells + [""] * width)[:width]
