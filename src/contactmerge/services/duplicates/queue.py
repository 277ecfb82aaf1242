"""The fuzzy suggestion queue (R5): a suggestion scan is a batch of kind ``suggest`` that stores every
scored pair, ranked, under its id; people page through the stored queue of the latest finished scan.

Reading never scans. A pair people approved or rejected (``duplicate_decisions``, subject ``a:b``) and a
pair one of whose contacts was merged or archived since are left out when read, so a decision holds on
every page and across every later scan. A new scan replaces the queue when it finishes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.attributes import INT64_RANGE
from contactmerge.domain.fuzzy import Suggestion
from contactmerge.domain.ids import new_id, now
from contactmerge.errors import BadRequest, Conflict
from contactmerge.services.duplicates import suggest
from contactmerge.storage import batches as batches_repo
from contactmerge.storage import suggestions as repo
from contactmerge.storage.tables import Batch, Workspace

KIND = "suggest"
# A scan stores every pair scoring this or more, so one scan serves any min_score people page with above it.
DEFAULT_FLOOR = 0.5
SKIPPED_SHOWN = 20  # the largest blocks skipped, kept on the batch; the count says how many in all

# phase ("scanning", "storing"), done, total (None while unknown)
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class QueuePage:
    scan: Batch | None  # the latest finished scan, None when none has run
    suggestions: list[Suggestion]
    total: int
    pending: Batch | None  # a scan waiting for or run by a worker


def start_scan(
    db: DbSession,
    workspace: Workspace,
    *,
    min_score: float = DEFAULT_FLOOR,
    block_cap: int = suggest.DEFAULT_BLOCK_CAP,
    queued: bool = True,
    actor: str | None = None,
) -> Batch:
    """R5: a suggestion scan for a worker, keeping pairs that score ``min_score`` or more.

    One queued scan a workspace waits at a time: asking again while it waits answers that scan (the same
    work, and a workspace asking in a loop would hold up every other workspace's merges and imports
    behind its scans); asking with other options is a conflict until it has run. ``queued=False``: a scan
    its caller runs at once, in this transaction (the CLI's), never one a worker may be running."""
    check_options(min_score, block_cap)
    options = {"min_score": min_score, "block_cap": block_cap}
    waiting = batches_repo.newest(db, workspace.id, KIND, ("pending",)) if queued else None
    if waiting is not None:
        if waiting.options == options:
            return waiting
        raise Conflict(
            f"suggestion scan {waiting.id} (min_score {waiting.options.get('min_score')}, block_cap "
            f"{waiting.options.get('block_cap')}) is waiting for a worker; ask again once it has run"
        )
    return batches_repo.add(
        db,
        Batch(
            workspace_id=workspace.id,
            id=new_id(),
            kind=KIND,
            state="pending",
            options=options,
            counts={},
            requested_by=actor,
            created_at=now(),
        ),
    )


def check_options(min_score: float, block_cap: int) -> None:
    if not 0.0 <= min_score <= 1.0:
        raise BadRequest("min_score is a number between 0 and 1", field="min_score")
    if not 2 <= block_cap <= INT64_RANGE[1]:  # SQL compares it with a count: a 64-bit integer
        raise BadRequest("block_cap is at least 2, and fits in 64 bits", field="block_cap")


def compute(db: DbSession, workspace: Workspace, options: Mapping[str, Any]) -> suggest.FuzzyScan:
    """What a suggestion scan with ``options`` (a batch's) finds, writing nothing: the slow half of a scan,
    which a caller may run in a read-only transaction of its own before it claims the batch, so that on
    SQLite the database's one write lock is held only while the suggestions are stored (a scan of a
    million contacts takes half a minute, past the busy timeout of every writer waiting meanwhile)."""
    return suggest.scan(
        db,
        workspace,
        min_score=float(options.get("min_score", DEFAULT_FLOOR)),
        limit=None,
        block_cap=int(options.get("block_cap", suggest.DEFAULT_BLOCK_CAP)),
    )


def run_scan(
    db: DbSession, batch: Batch, progress: Progress | None = None, found: suggest.FuzzyScan | None = None
) -> Batch:
    """The scan, in the caller's transaction (or ``found``, what ``compute`` found for this batch's options
    in a transaction before it): every suggestion stored with its rank, then the workspace's other scans
    dropped; unless a scan started after this one has already finished, whose queue then stays."""
    workspace = db.get_one(Workspace, batch.workspace_id)
    report = progress or (lambda phase, done, total: None)
    if found is None:
        report("scanning", 0, None)
        found = compute(db, workspace, batch.options)
    ranked = sorted(found.suggestions, key=lambda s: (-s.score, s.contact_a, s.contact_b))  # rank 0: best
    total = len(ranked)
    repo.lock_queue(db, workspace.id)  # scans that finish together replace the queue one after the other
    newer = current(db, workspace)
    extra: dict[str, Any] = {}
    if newer is not None and (newer.created_at, newer.id) > (batch.created_at, batch.id):
        # a scan started after this one has finished first: its queue is the newer one and stays
        total, extra["superseded_by"] = 0, newer.id
    else:
        report("storing", 0, total)
        repo.write(
            db,
            workspace.id,
            batch.id,
            ((s.contact_a, s.contact_b, s.score, s.reasons) for s in ranked),
            progress=lambda done: report("storing", done, total),
        )
        repo.drop_other_scans(db, workspace.id, batch.id)
    batch.counts = {
        **extra,
        "suggestions": total,
        "pairs_compared": found.pairs_compared,
        "blocks_skipped": len(found.skipped_blocks),
        "skipped_blocks": [
            {"kind": b.kind, "value": b.value, "size": b.size} for b in found.skipped_blocks[:SKIPPED_SHOWN]
        ],
    }
    batch.state, batch.finished_at = "done", now()
    return batch


def current(db: DbSession, workspace: Workspace) -> Batch | None:
    """The scan whose suggestions people page through: of the finished ones, the one started last (a scan
    that finishes after a newer one stores nothing: ``superseded_by`` in its counts)."""
    return batches_repo.newest(db, workspace.id, KIND, ("done",))


def pending(db: DbSession, workspace: Workspace) -> Batch | None:
    return batches_repo.newest(db, workspace.id, KIND, ("pending", "running"))


def check_paging(min_score: float, page: int, per_page: int) -> None:
    if not 0.0 <= min_score <= 1.0:
        raise BadRequest("min_score is a number between 0 and 1", field="min_score")
    if page < 1:
        raise BadRequest("page starts at 1", field="page")
    if per_page < 1:
        raise BadRequest("per_page is at least 1", field="per_page")


def page(db: DbSession, workspace: Workspace, *, min_score: float, page: int, per_page: int) -> QueuePage:
    """R5: one page of the open suggestions of the current scan, best first, and how many there are."""
    check_paging(min_score, page, per_page)
    scan = current(db, workspace)
    waiting = pending(db, workspace)
    if scan is None:
        return QueuePage(None, [], 0, waiting)
    rows, total = repo.page(
        db, workspace.id, scan.id, min_score=min_score, offset=(page - 1) * per_page, limit=per_page
    )
    return QueuePage(scan, [_suggestion(r) for r in rows], total, waiting)


def loose_page(
    db: DbSession,
    workspace: Workspace,
    *,
    tied: Mapping[str, str],
    min_score: float,
    offset: int,
    limit: int,
) -> QueuePage:
    """Like ``page``, without the pairs that one exact cluster already ties (``tied``: contact → cluster),
    ``limit`` of them from ``offset``. Only the open pairs' ids are read to count them."""
    scan = current(db, workspace)
    waiting = pending(db, workspace)
    if scan is None:
        return QueuePage(None, [], 0, waiting)
    total, shown = 0, []
    for rank, a, b in repo.open_pairs(db, workspace.id, scan.id, min_score=min_score):
        if a in tied and tied.get(a) == tied.get(b):
            continue
        if offset <= total < offset + limit:
            shown.append(rank)
        total += 1
    rows = repo.by_ranks(db, workspace.id, scan.id, shown)
    return QueuePage(scan, [_suggestion(r) for r in rows], total, waiting)


def scan_json(batch: Batch | None) -> dict[str, Any] | None:
    """What a list says about the scan it shows."""
    if batch is None:
        return None
    return {
        "id": batch.id,
        "finished_at": batch.finished_at,
        "min_score": batch.options.get("min_score"),
        "block_cap": batch.options.get("block_cap"),
        "suggestions": batch.counts.get("suggestions", 0),
        "pairs_compared": batch.counts.get("pairs_compared", 0),
        "blocks_skipped": batch.counts.get("blocks_skipped", 0),
    }


def skipped_blocks(batch: Batch | None) -> list[dict[str, Any]]:
    return list((batch.counts.get("skipped_blocks") or []) if batch is not None else [])


def _suggestion(row: repo.Stored) -> Suggestion:
    return Suggestion(row.contact_a, row.contact_b, row.score, row.reasons)
