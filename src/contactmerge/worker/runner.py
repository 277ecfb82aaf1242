"""Claims ready merge marks and applies them through the merging service, a batch per transaction;
runs duplicate batches (bulk merges, suggestion scans), then uploaded CSV imports, when no mark is waiting.

The merges and the marks' new states commit together, so a mark is applied exactly once however many
workers run and whenever one of them dies: a killed worker's transaction rolls back and its marks are
claimed again. A batch is applied with ``merge_many`` (one set-based statement per kind of row for all
of it); when that fails for a reason outside the merge rules, each mark is retried alone in its own
savepoint, so one broken mark never holds back the others. Refusals park the mark with their reason;
other failures retry with backoff, then park.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from contactmerge.domain.merging import Reason
from contactmerge.errors import ContactMergeError
from contactmerge.services import merging
from contactmerge.services.duplicates import batches, queue
from contactmerge.services.duplicates.suggest import FuzzyScan
from contactmerge.services.importing import files as import_files
from contactmerge.services.importing import jobs as importing
from contactmerge.services.merging import MergeRequest, MergeResult, MergeSkipped
from contactmerge.storage import batches as batches_repo
from contactmerge.storage import imports as imports_repo
from contactmerge.storage import marks as marks_repo
from contactmerge.storage import statistics
from contactmerge.storage.db import read_only, transaction
from contactmerge.storage.tables import MergeMark, Workspace

log = logging.getLogger("contactmerge.worker")
MAX_ATTEMPTS = 5
BATCH_SIZE = 50


def backoff(attempts: int) -> float:
    """Seconds before the next try: 1, 2, 4, 8… capped at five minutes."""
    return float(min(300, 2 ** max(0, attempts - 1)))


@dataclass
class Worker:
    sessions: sessionmaker[DbSession]
    poll_interval: float = 0.25
    name: str = "worker"
    batch_size: int = BATCH_SIZE
    region: str = "US"
    clock: Callable[[], float] = time.time
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    processed: int = 0
    maintenance_interval: float = 600.0
    _maintained_at: float = float("-inf")
    import_stale_seconds: float = importing.STALE_SECONDS
    import_processes: int = importing.PROCESSES

    def wake(self) -> None:
        """Look for work now (a request just committed a mark)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run_once(self) -> bool:
        """Apply one batch of ready marks, else run one uploaded import; False when there was neither."""
        return self._run_marks() or self._run_batch() or self._run_import()

    def _run_batch(self) -> bool:
        """Claim a batch (R5: a bulk merge, or a suggestion scan) and run it through the one batch runner the
        CLI uses too, in one transaction: all of it or none."""
        ahead = self._scan_ahead()
        with transaction(self.sessions) as db:
            batch = batches_repo.claim_pending(db)
            if batch is None:
                return False
            batch_ref = (batch.workspace_id, batch.id)
            found = ahead[1] if ahead is not None and ahead[0] == batch_ref else None
            try:
                with db.begin_nested():
                    batches.run_batch(db, batch, found=found)
            except Exception as error:
                log.warning("batch %s failed: %s", batch.id, error)
                batch.state, batch.error = "failed", f"{type(error).__name__}: {error}"[:2000]
        log.info("batch %s finished", batch_ref[1])
        return True

    def _scan_ahead(self) -> tuple[tuple[str, str], FuzzyScan] | None:
        """On SQLite, the next pending batch when it is a suggestion scan, and what it finds, computed in a
        read-only transaction before the batch is claimed: the claim takes the database's one write lock,
        which writers then wait for only while the suggestions are stored (``queue.compute``). Another
        worker may claim it first; its scan is then wasted, not wrong. PostgreSQL locks only the batch."""
        with self.sessions() as db:
            if db.get_bind().dialect.name != "sqlite":
                return None
            read_only(db)
            batch = batches_repo.next_pending(db)
            if batch is None or batch.kind != queue.KIND:
                return None
            try:
                found = queue.compute(db, db.get_one(Workspace, batch.workspace_id), batch.options)
            except Exception as error:  # run again once claimed, where a failure marks the batch failed
                log.warning("suggestion scan %s could not run ahead: %s", batch.id, error)
                return None
            return (batch.workspace_id, batch.id), found

    def _run_import(self) -> bool:
        """Claim an uploaded CSV import (or one whose worker stopped beating) and run it to the end."""
        with transaction(self.sessions) as db:
            job = imports_repo.claim_pending(db, self.clock() - self.import_stale_seconds)
            if job is None:
                return False
            if job.state == "running":
                log.info("import %s: its heartbeat stopped; resuming it at row %d", job.id, job.rows_done)
            job.state, job.heartbeat_at = "running", self.clock()
        try:
            import_files.run_stored(
                self.sessions,
                job,
                region=self.region,
                stale_seconds=self.import_stale_seconds,
                processes=self.import_processes,
            )
        except Exception as error:  # recorded on the import by run_import; the loop goes on
            log.warning("import %s failed: %s", job.id, error)
        return True

    def _run_marks(self) -> bool:
        claimed: list[tuple[str, str]] = []
        try:
            with transaction(self.sessions) as db:
                batch = marks_repo.claim(db, self.clock(), limit=self.batch_size)
                if not batch:
                    return False
                claimed = [(mark.workspace_id, mark.id) for mark in batch]
                self._apply_batch(db, batch)
        except Exception as error:  # the transaction itself failed (connection lost…): retry them all later
            if not claimed:
                raise
            log.warning("a batch of %d marks failed: %s", len(claimed), error)
            self._retry_later(claimed, error)
        self.processed += len(claimed)
        return True

    def _apply_batch(self, db: DbSession, batch: list[MergeMark]) -> None:
        by_workspace: dict[str, list[MergeMark]] = {}
        for mark in batch:
            by_workspace.setdefault(mark.workspace_id, []).append(mark)
        for workspace_id, marks in by_workspace.items():
            workspace = db.get_one(Workspace, workspace_id)
            # A source marked twice (into two users, or a pair marked twice by racing requests) is applied
            # alone after the batch, so it sees the batch's outcome exactly as a worker applying marks one
            # by one would.
            first: list[MergeMark] = []
            later: list[MergeMark] = []
            sources: set[str] = set()
            for mark in marks:
                (later if mark.source_id in sources else first).append(mark)
                sources.add(mark.source_id)
            try:
                with db.begin_nested():
                    outcomes = merging.merge_many(
                        db, workspace, [request_of(mark) for mark in first], requested_by=self.name
                    )
            except Exception as error:
                log.info("batch of %d marks failed (%s); applying them one by one", len(first), error)
                later = first + later
            else:
                for mark, outcome in zip(first, outcomes, strict=True):
                    self._settle(mark, outcome)
            for mark in later:
                self._apply_one(db, workspace, mark)

    def _apply_one(self, db: DbSession, workspace: Workspace, mark: MergeMark) -> None:
        outcome: MergeResult | MergeSkipped
        try:
            with db.begin_nested():
                outcome = merging.merge_contacts(
                    db,
                    workspace,
                    mark.source_id,
                    mark.target_id,
                    reason=cast(Reason, mark.reason),
                    evidence=dict(mark.evidence),
                    requested_by=self.name,
                )
        except ContactMergeError as refused:
            outcome = MergeSkipped(request_of(mark), refused.code, refused.message)
        except Exception as error:  # a failure outside the merge rules: retry later
            log.warning("mark %s failed: %s", mark.id, error)
            self._failed(mark, error)
            return
        self._settle(mark, outcome)

    def _settle(self, mark: MergeMark, outcome: MergeResult | MergeSkipped) -> None:
        if isinstance(outcome, MergeSkipped):
            mark.state, mark.last_error = "parked", f"{outcome.code}: {outcome.message}"
        else:
            mark.merge_id = outcome.merge.id
            if outcome.held:
                refusal = outcome.merge.plan.get("refusal", "")
                mark.state, mark.last_error = "parked", f"merge_held: {refusal}"
            else:
                mark.state = "done"
        mark.attempts += 1
        mark.updated_at = self.clock()

    def _failed(self, mark: MergeMark, error: Exception) -> None:
        now = self.clock()
        mark.attempts += 1
        mark.last_error = f"{type(error).__name__}: {error}"[:2000]
        mark.updated_at = now
        if mark.attempts >= MAX_ATTEMPTS:
            mark.state = "parked"
        else:
            mark.next_attempt_at = now + backoff(mark.attempts)

    def _retry_later(self, claimed: list[tuple[str, str]], error: Exception) -> None:
        with transaction(self.sessions) as db:
            for key in claimed:
                mark = marks_repo.get(db, *key)
                if mark is not None and mark.state == "ready":
                    self._failed(mark, error)

    def drain(self) -> int:
        """Apply every ready mark; how many were handled."""
        before = self.processed
        while self.run_once():
            pass
        return self.processed - before

    def maintain(self) -> None:
        """Planner statistics refreshed when missing or stale (at start, then every ten minutes)."""
        if self.clock() - self._maintained_at < self.maintenance_interval:
            return
        self._maintained_at = self.clock()
        with transaction(self.sessions) as db:
            statistics.maintain(db)

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.maintain()
                busy = self.run_once()
            except Exception:
                log.exception("worker loop error")
                busy = False
            if not busy:
                self._wake.wait(self.poll_interval)
                self._wake.clear()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name=self.name, daemon=True)
        thread.start()
        return thread


def wake_worker(request: Any) -> None:
    """Tell the in-process worker (``serve``) that a job is waiting; a separate worker polls anyway."""
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.wake()


def request_of(mark: MergeMark) -> MergeRequest:
    return MergeRequest(mark.source_id, mark.target_id, cast(Reason, mark.reason), dict(mark.evidence))


class Every:
    """Calls ``action`` every ``seconds`` in a daemon thread until stopped (errors are logged, not raised)."""

    def __init__(self, seconds: float, action: Callable[[], object], *, name: str) -> None:
        self._stop = threading.Event()
        self._seconds, self._action = seconds, action
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._seconds):
            try:
                self._action()
            except Exception:
                log.exception("periodic task failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
