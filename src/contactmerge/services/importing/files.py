"""An uploaded CSV kept in the database (R3), read back chunk by chunk so any worker can run it.

Reading is constant memory: one stored chunk at a time. The worker reads through short transactions of
its own; a request that just stored the file (the admin's upload, examined before it is mapped) reads
it back through its own session, where the chunks are already flushed.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, BinaryIO

from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from contactmerge.services.importing.jobs import PROCESSES, STALE_SECONDS, run_import
from contactmerge.storage import imports as repo
from contactmerge.storage.db import read_only
from contactmerge.storage.tables import Import

ChunkAt = Callable[[int], bytes | None]


class StoredFile(io.RawIOBase):
    """An uploaded file as a stream: ``chunk_at(position)`` gives each stored chunk in turn."""

    def __init__(self, chunk_at: ChunkAt) -> None:
        self._chunk_at = chunk_at
        self._position, self._buffer = 0, b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            chunk = self._chunk_at(self._position)
            if chunk is None:
                return 0
            self._position += 1
            self._buffer = chunk
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def opener(sessions: sessionmaker[DbSession], job: Import) -> Callable[[], BinaryIO]:
    """Fresh streams over the import's file, one short read-only transaction per chunk."""
    workspace_id, import_id = job.workspace_id, job.id

    def chunk_at(position: int) -> bytes | None:
        with sessions() as db:
            return repo.chunk_at(read_only(db), workspace_id, import_id, position)

    return lambda: io.BufferedReader(StoredFile(chunk_at))


def opener_in(db: DbSession, job: Import) -> Callable[[], BinaryIO]:
    """Fresh streams over the import's file, read through the caller's session (and transaction)."""
    workspace_id, import_id = job.workspace_id, job.id

    def chunk_at(position: int) -> bytes | None:
        return repo.chunk_at(db, workspace_id, import_id, position)

    return lambda: io.BufferedReader(StoredFile(chunk_at))


def run_stored(
    sessions: sessionmaker[DbSession],
    job: Import,
    *,
    region: str,
    stale_seconds: float = STALE_SECONDS,
    processes: int = PROCESSES,
) -> Import:
    """Run (or resume) an uploaded import: the worker's job."""
    return run_import(
        sessions,
        job.workspace_id,
        job.id,
        opener(sessions, job),
        region=region,
        stale_seconds=stale_seconds,
        processes=processes,
    )
