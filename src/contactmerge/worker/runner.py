"""Claims ready merge marks and applies them through the merging service, one transaction each.

The merge and the mark's new state commit together, so a mark is applied exactly once however many
workers run and whenever one of them dies: a killed worker's transaction rolls back and its mark is
claimed again. Refusals park the mark with their reason; other failures retry with backoff, then park.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from contactmerge.errors import ContactMergeError
from contactmerge.services import merging
from contactmerge.storage import marks as marks_repo
from contactmerge.storage.db import transaction
from contactmerge.storage.tables import MergeMark, Workspace

log = logging.getLogger("contactmerge.worker")
MAX_ATTEMPTS = 5


def backoff(attempts: int) -> float:
    """Seconds before the next try: 1, 2, 4, 8… capped at five minutes."""
    return float(min(300, 2 ** max(0, attempts - 1)))


@dataclass
class Worker:
    sessions: sessionmaker[DbSession]
    poll_interval: float = 0.25
    name: str = "worker"
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    processed: int = 0

    def wake(self) -> None:
        """Look for work now (a request just committed a mark)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run_once(self) -> bool:
        """Apply one ready mark; False when there was none."""
        claimed: tuple[str, str] | None = None
        try:
            with transaction(self.sessions) as db:
                mark = marks_repo.claim(db, time.time())
                if mark is None:
                    return False
                claimed = (mark.workspace_id, mark.id)
                self._apply(db, mark)
        except Exception as error:  # a failure outside the merge rules: retry later
            if claimed is None:
                raise
            log.warning("mark %s failed: %s", claimed[1], error)
            self._retry_later(claimed, error)
        self.processed += 1
        return True

    def _apply(self, db: DbSession, mark: MergeMark) -> None:
        workspace = db.get_one(Workspace, mark.workspace_id)
        now = time.time()
        try:
            with db.begin_nested():
                result = merging.merge_contacts(
                    db,
                    workspace,
                    mark.source_id,
                    mark.target_id,
                    reason=mark.reason,  # type: ignore[arg-type]
                    evidence=dict(mark.evidence),
                    requested_by=self.name,
                )
        except ContactMergeError as refused:
            mark.state, mark.last_error = "parked", f"{refused.code}: {refused.message}"
        else:
            mark.merge_id = result.merge.id
            if result.held:
                mark.state, mark.last_error = "parked", f"merge_held: {result.merge.plan.get('refusal', '')}"
            else:
                mark.state = "done"
        mark.attempts += 1
        mark.updated_at = now

    def _retry_later(self, claimed: tuple[str, str], error: Exception) -> None:
        with transaction(self.sessions) as db:
            mark = marks_repo.get(db, *claimed)
            if mark is None or mark.state != "ready":
                return
            mark.attempts += 1
            mark.last_error = f"{type(error).__name__}: {error}"[:2000]
            now = time.time()
            mark.updated_at = now
            if mark.attempts >= MAX_ATTEMPTS:
                mark.state = "parked"
            else:
                mark.next_attempt_at = now + backoff(mark.attempts)

    def drain(self) -> int:
        """Apply every ready mark; how many were handled."""
        handled = 0
        while self.run_once():
            handled += 1
        return handled

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
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
