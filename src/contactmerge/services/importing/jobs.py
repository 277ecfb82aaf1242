"""CSV import (R3): start, run in chunks (resumable), dry-run, report, undo as one batch.

Each chunk of rows commits in its own transaction together with the import's progress, so an
interrupted import resumes where it stopped and no row is ever half-written. A dry run does the same
work in one transaction and rolls it back, so its report is exactly what a real run would do.

A running import writes a heartbeat from a thread of its own, several times per ``stale_seconds``
however long a chunk takes, and a worker takes over an uploaded import whose heartbeat is older than that.
While a chunk is written its lock on the import row (PostgreSQL) or the write lock (SQLite) keeps other
workers off it; each chunk checks that the import's progress is still the one it left, so if two runners
ever overlap (one frozen long enough to look dead), one of them stops and no row is applied twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from contactmerge.domain.ids import new_id, now
from contactmerge.domain.importing import auto_map
from contactmerge.errors import BadRequest, NotFound
from contactmerge.services import data_attributes, faults, workspaces
from contactmerge.services.importing.chunk import SAMPLE_LIMIT, ChunkContext, ChunkOutcome, process_chunk
from contactmerge.services.importing.source import CsvFormat, CsvRow, read_records, sniff
from contactmerge.services.importing.validation import POOL_MIN_BYTES, Validation
from contactmerge.services.normalizing import check_region
from contactmerge.storage import imports as repo
from contactmerge.storage import statistics
from contactmerge.storage.db import transaction
from contactmerge.storage.tables import Import, ImportFileChunk, Workspace

Progress = Callable[[Import], None]
ROLES = ("user", "lead")
# Rows an import did not apply; errors.csv also lists the applied rows that lost a cell (their column).
NOT_APPLIED = ("invalid", "duplicate", "conflict", "no_identifier")
APPLIED = ("created", "updated", "folded", "unchanged")
CHUNK_ROWS = 2000
ANALYZE_EVERY_CHUNKS = 50
STALE_SECONDS = 30.0  # the setting import_stale_seconds
PROCESSES = 0  # the setting import_processes
BEATS_PER_WINDOW = 6
log = logging.getLogger("contactmerge.importing")


class _Superseded(Exception):
    """Another runner took the import over while this one looked dead: stop, and leave it to that one."""


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """``column=field`` options (``--map``) into a dict; 400 naming ``map`` for a malformed one."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, target = pair.partition("=")
        if not sep or not column.strip() or not target.strip():
            raise BadRequest(f"'{pair}' is not column=field", field="map")
        mapping[column.strip()] = target.strip()
    return mapping


def create_import(
    db: DbSession,
    workspace: Workspace,
    *,
    filename: str,
    role: str,
    mapping: dict[str, str],
    dry_run: bool,
    size_bytes: int,
    state: str = "running",
    region: str | None = None,
    actor: str,
) -> Import:
    """A new import; ``region`` reads its national phone numbers (else the workspace's phone_region);
    ``actor`` is who started it, and who its merges name."""
    if role not in ROLES:
        raise BadRequest("role must be 'user' or 'lead'", field="role")
    options = {"region": check_region(region, field="region")} if region else {}
    return repo.add(
        db,
        Import(
            workspace_id=workspace.id,
            id=new_id(),
            filename=filename[:255],
            role=role,
            mapping=mapping,
            options=options,
            dry_run=dry_run,
            state=state,
            size_bytes=size_bytes,
            bytes_done=0,
            rows_done=0,
            counts={},
            unknown_columns=[],
            heartbeat_at=time.time(),
            created_by=actor,
            created_at=now(),
        ),
    )


def get_import(db: DbSession, workspace: Workspace, import_id: str) -> Import:
    found = repo.get(db, workspace.id, import_id)
    if found is None:
        raise NotFound(f"Import Not Found: no import has id '{import_id}'", field="id")
    return found


def run_import(
    sessions: sessionmaker[DbSession],
    workspace_id: str,
    import_id: str,
    open_bytes: Callable[[], BinaryIO],
    *,
    region: str = "US",
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
    stale_seconds: float = STALE_SECONDS,
    processes: int = PROCESSES,
    pool_min_bytes: int = POOL_MIN_BYTES,
) -> Import:
    """Run (or resume) an import to the end; the Import row says what happened. ``stale_seconds`` is the
    window after which a worker takes over an import whose heartbeat stopped (import_stale_seconds).
    ``region`` is the server's default_phone_region: the import's own region and then the workspace's
    phone_region win over it (``phone_region``). ``processes`` validate rows ahead of the writer when
    ``pool_min_bytes`` or more of the file are left (import_processes; 0: validated while written)."""
    done: int | None = None  # the progress this runner last saw committed
    try:
        fmt = sniff(open_bytes)
        with transaction(sessions) as db:
            job, ctx = _start(db, workspace_id, import_id, fmt, region)
            done = job.rows_done
        remaining = job.size_bytes - job.bytes_done
        with (
            _heartbeat(sessions, workspace_id, import_id, stale_seconds / BEATS_PER_WINDOW),
            Validation(processes if remaining >= pool_min_bytes else 0) as validation,
        ):
            if job.dry_run:
                return _dry_run(
                    sessions,
                    workspace_id,
                    import_id,
                    open_bytes,
                    fmt,
                    region,
                    chunk_rows,
                    progress,
                    validation,
                )
            chunks = validation.chunks(_chunks(open_bytes, fmt, done, chunk_rows), ctx.rules)
            for number, chunk in enumerate(chunks):
                rows, consumed = chunk.rows, chunk.consumed
                faults.step("import_chunk_read")
                if number % ANALYZE_EVERY_CHUNKS == 0:
                    with transaction(sessions) as db:
                        statistics.refresh_statistics(db)
                with transaction(sessions) as db:
                    job, ctx = _context(db, workspace_id, import_id, fmt, region)
                    _still_ours(job, done)
                    outcome = process_chunk(db, ctx, chunk.prepared(ctx.rules))
                    _record(db, job, outcome, rows, consumed, store_all=True)
                    faults.step("import_chunk_recorded")
                done = job.rows_done
                if progress:
                    progress(job)
            with transaction(sessions) as db:
                job = locked(db, workspace_id, import_id)
                _still_ours(job, done)
                job.state, job.finished_at = "done", now()
                statistics.refresh_if_stale(db)  # the last chunks: for the duplicate scan that often follows
        return job
    except _Superseded:
        log.info("import %s was taken over by another worker; this one stops", import_id)
        with transaction(sessions) as db:
            return locked(db, workspace_id, import_id)
    except BadRequest as error:
        _fail(
            sessions,
            workspace_id,
            import_id,
            f"{error.field}: {error.message}" if error.field else error.message,
            done,
        )
        raise
    except Exception as error:
        _fail(sessions, workspace_id, import_id, f"{type(error).__name__}: {error}", done)
        raise


@contextmanager
def _heartbeat(
    sessions: sessionmaker[DbSession], workspace_id: str, import_id: str, every: float
) -> Iterator[None]:
    """The import's heartbeat written every ``every`` seconds while the block runs, from a thread, so it
    does not wait for a chunk to end (on PostgreSQL a beat waits for the chunk's row lock, which keeps
    other workers off the import as well as a beat would)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                with transaction(sessions) as db:
                    repo.touch(db, workspace_id, import_id, time.time())
            except Exception as error:  # the next beat tries again; a worker takes over if they all fail
                log.warning("import %s heartbeat failed: %s", import_id, error)

    thread = threading.Thread(target=beat, name=f"import-heartbeat-{import_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 1)


def _still_ours(job: Import, done: int | None) -> None:
    """Inside the chunk's transaction, with the import row locked: still running from where we left it."""
    if job.state != "running" or job.rows_done != done:
        raise _Superseded


def _start(
    db: DbSession, workspace_id: str, import_id: str, fmt: CsvFormat, region: str
) -> tuple[Import, ChunkContext]:
    job, ctx = _context(db, workspace_id, import_id, fmt, region)
    if job.state not in ("pending", "running", "failed"):
        raise BadRequest(
            f"import {job.id} is {job.state}; only a pending, running or failed one can run", field="id"
        )
    job.state, job.error, job.heartbeat_at = "running", None, time.time()
    job.file_format = {"encoding": fmt.encoding, "delimiter": fmt.delimiter, "header": list(fmt.header)}
    job.unknown_columns = list(ctx.column_map.unknown)
    return job, ctx


def _context(
    db: DbSession, workspace_id: str, import_id: str, fmt: CsvFormat, region: str
) -> tuple[Import, ChunkContext]:
    job = locked(db, workspace_id, import_id)
    workspace = db.get_one(Workspace, workspace_id)
    custom_types = data_attributes.field_types(db, workspace)
    try:
        column_map = auto_map(fmt.header, custom_types, job.mapping)
    except ValueError as error:
        raise BadRequest(str(error), field="map") from error
    return job, ChunkContext(
        workspace, job, column_map, tuple(fmt.header), custom_types, phone_region(job, workspace, region)
    )


def phone_region(job: Import, workspace: Workspace, default: str) -> str:
    """Where the import reads national phone numbers (R3): its own region, else the workspace's
    ``phone_region`` setting, else ``default`` (the server's default_phone_region). A row's country column
    wins over all three, row by row."""
    return str((job.options or {}).get("region") or workspaces.phone_region(workspace, default))


def locked(db: DbSession, workspace_id: str, import_id: str) -> Import:
    job = repo.get(db, workspace_id, import_id, lock=True)
    if job is None:
        raise NotFound(f"Import Not Found: no import has id '{import_id}'", field="id")
    return job


def _chunks(
    open_bytes: Callable[[], BinaryIO], fmt: CsvFormat, start_row: int, size: int
) -> Iterator[tuple[list[CsvRow], int]]:
    batch: list[CsvRow] = []
    for row in read_records(open_bytes, fmt, start_row=start_row):
        batch.append(row)
        if len(batch) >= size:
            yield batch, row.consumed
            batch = []
    if batch:
        yield batch, batch[-1].consumed


def _record(
    db: DbSession,
    job: Import,
    outcome: ChunkOutcome,
    rows: list[CsvRow],
    consumed: int,
    *,
    store_all: bool,
) -> None:
    counts = Counter(job.counts)
    counts.update(outcome.counts)
    job.counts = dict(counts)
    job.rows_done = rows[-1].number if rows else job.rows_done
    job.bytes_done = max(job.bytes_done, consumed)
    job.heartbeat_at = time.time()
    if store_all:
        repo.add_rows(
            db,
            [
                {
                    "workspace_id": job.workspace_id,
                    "import_id": job.id,
                    "contact_id": None,
                    "before": None,
                    **r,
                }
                for r in outcome.rows
            ],
        )


def _dry_run(
    sessions: sessionmaker[DbSession],
    workspace_id: str,
    import_id: str,
    open_bytes: Callable[[], BinaryIO],
    fmt: CsvFormat,
    region: str,
    chunk_rows: int,
    progress: Progress | None,
    validation: Validation,
) -> Import:
    counts: Counter[str] = Counter()
    samples: list[dict[str, Any]] = []
    with sessions() as db, db.begin() as tx:
        job, ctx = _context(db, workspace_id, import_id, fmt, region)
        for chunk in validation.chunks(_chunks(open_bytes, fmt, 0, chunk_rows), ctx.rules):
            rows, consumed = chunk.rows, chunk.consumed
            outcome = process_chunk(db, ctx, chunk.prepared(ctx.rules))
            counts.update(outcome.counts)
            # the problems, and the applied rows that lost a cell; nothing to undo, so no "before"
            samples.extend(
                {**r, "before": None, "contact_id": None}
                for r in outcome.rows
                if r["action"] not in APPLIED or r.get("column")
            )
            del samples[SAMPLE_LIMIT:]
            job.rows_done, job.bytes_done = rows[-1].number, consumed
            if progress:
                progress(job)
        tx.rollback()
    with transaction(sessions) as db:
        job = locked(db, workspace_id, import_id)
        job.counts, job.state, job.finished_at = dict(counts), "done", now()
        job.bytes_done = job.size_bytes
        repo.add_rows(
            db,
            [
                {
                    "workspace_id": workspace_id,
                    "import_id": import_id,
                    "contact_id": None,
                    "before": None,
                    **r,
                }
                for r in samples
            ],
        )
    return job


def _fail(
    sessions: sessionmaker[DbSession], workspace_id: str, import_id: str, message: str, done: int | None
) -> None:
    """Mark the import failed, unless another runner has moved it on since (``done``: the progress this
    one last saw, None before it started)."""
    with transaction(sessions) as db:
        job = repo.get(db, workspace_id, import_id, lock=True)
        if job is None or job.state not in ("running", "pending"):
            return
        if done is None or job.rows_done == done:
            job.state, job.error = "failed", message[:2000]


def upload(
    db: DbSession,
    workspace: Workspace,
    *,
    filename: str,
    role: str,
    mapping: dict[str, str],
    dry_run: bool,
    chunks: Iterable[bytes],
    max_bytes: int,
    state: str = "pending",
    region: str | None = None,
    actor: str,
) -> Import:
    """An uploaded file stored under a new import (R3) in ``state``: ``pending`` is the worker's to run.
    A file over ``max_bytes`` is refused (400 naming ``file``); the caller's rollback keeps nothing."""
    job = create_import(
        db,
        workspace,
        filename=filename or "upload.csv",
        role=role,
        mapping=mapping,
        dry_run=dry_run,
        size_bytes=0,
        state="uploading",
        region=region,
        actor=actor,
    )
    size = 0
    for position, chunk in enumerate(chunks):
        size += len(chunk)
        if size > max_bytes:
            raise BadRequest(
                f"the uploaded file is larger than the limit of {max_bytes:,} bytes", field="file"
            )
        store_chunk(db, job, position, chunk)
    if size == 0:
        raise BadRequest("the uploaded file is empty", field="file")
    job.size_bytes, job.state = size, state
    db.flush()
    return job


def list_imports(db: DbSession, workspace: Workspace, *, offset: int, limit: int) -> list[Import]:
    """The workspace's imports, newest first."""
    return repo.newest(db, workspace.id, offset=offset, limit=limit)


def store_chunk(db: DbSession, job: Import, position: int, data: bytes) -> None:
    """Part of an uploaded file, kept in the database so a worker on any machine can read it."""
    repo.add_chunk(
        db, ImportFileChunk(workspace_id=job.workspace_id, import_id=job.id, position=position, data=data)
    )
