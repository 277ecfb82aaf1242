"""Bulk duplicate merges (R5) as batches: one runner that the worker, the CLI, the API and the pages all
apply through, so a person's verdict on a cluster holds whichever of them starts the merge."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.dedupe import KEYS
from contactmerge.domain.ids import new_id, now
from contactmerge.errors import BadRequest, Conflict, NotFound
from contactmerge.services import merging
from contactmerge.services.duplicates import queue, review, suggest
from contactmerge.services.duplicates.scan import PlannedCluster
from contactmerge.storage import batches as repo
from contactmerge.storage.tables import Batch, Workspace


def start_batch(
    db: DbSession, workspace: Workspace, *, keys: Iterable[str], cluster_ids: list[str], actor: str
) -> Batch:
    """A bulk merge for a worker: it scans again when it runs, so it applies what is true then. Its merges
    name ``actor`` as who requested them."""
    return repo.add(
        db,
        Batch(
            workspace_id=workspace.id,
            id=new_id(),
            kind="dedupe",
            state="pending",
            options={"keys": list(keys), "cluster_ids": cluster_ids},
            counts={},
            requested_by=actor,
            created_at=now(),
        ),
    )


def run_batch(
    db: DbSession,
    batch: Batch,
    progress: queue.Progress | None = None,
    *,
    strict: bool = False,
    found: suggest.FuzzyScan | None = None,
    actor: str | None = None,
) -> Batch:
    """The one runner of every batch, in its caller's transaction (the worker's, or the CLI's): a
    suggestion scan stores its queue (``found``: what ``queue.compute`` found for it beforehand); a bulk
    merge merges every wanted cluster not rejected (R5). ``strict``: a wanted cluster the scan no longer
    finds is an error (the caller's transaction then rolls back), not skipped as a worker skips a cluster
    that changed since the batch was asked for."""
    if batch.kind == queue.KIND:
        return queue.run_scan(db, batch, progress, found)
    return _merge_clusters(db, batch, strict=strict)


def _merge_clusters(db: DbSession, batch: Batch, *, strict: bool) -> Batch:
    workspace = db.get_one(Workspace, batch.workspace_id)
    wanted = set(batch.options.get("cluster_ids") or ())
    found = review.review(db, workspace, batch.options.get("keys") or KEYS)
    unknown = sorted(wanted - {r.planned.cluster.id for r in found}) if strict else []
    if unknown:
        raise BadRequest(f"no duplicate cluster {', '.join(unknown)} in a scan now", field="cluster")
    reviewed = [
        r for r in found if r.decision != "rejected" and (not wanted or r.planned.cluster.id in wanted)
    ]
    results: list[merging.MergeResult | merging.MergeSkipped] = []
    for forced, chosen in (
        (False, [r.planned for r in reviewed if r.planned.blocked is None]),
        (True, [r.planned for r in reviewed if r.planned.blocked and r.decision == "approved"]),
    ):
        requests = merge_requests(chosen)
        if requests:
            results.extend(
                merging.merge_many(
                    db,
                    workspace,
                    requests,
                    requested_by=batch.requested_by or "dedupe",
                    batch_id=batch.id,
                    force=forced,
                )
            )
    batch.counts = {
        "clusters": len(reviewed),
        "merged": sum(
            1 for r in results if isinstance(r, merging.MergeResult) and not r.held and not r.replayed
        ),
        "refused": sum(1 for r in results if isinstance(r, merging.MergeSkipped)),
        "held": sum(1 for r in results if isinstance(r, merging.MergeResult) and r.held),
    }
    batch.state, batch.finished_at = "done", now()
    return batch


def apply_now(
    db: DbSession,
    workspace: Workspace,
    *,
    keys: Iterable[str] = KEYS,
    cluster_ids: Iterable[str] = (),
    actor: str,
) -> Batch:
    """R5 at once, in the caller's transaction: the batch a worker would run, run here (the CLI's apply);
    one scan, and a cluster id it does not find is refused with nothing merged."""
    wanted = list(dict.fromkeys(cluster_ids))
    return run_batch(db, start_batch(db, workspace, keys=keys, cluster_ids=wanted, actor=actor), strict=True)


def suggest_now(
    db: DbSession,
    workspace: Workspace,
    *,
    min_score: float = queue.DEFAULT_FLOOR,
    block_cap: int = suggest.DEFAULT_BLOCK_CAP,
    progress: queue.Progress | None = None,
    found: suggest.FuzzyScan | None = None,
    actor: str | None = None,
) -> Batch:
    """R5 suggestion scan at once, in the caller's transaction: the batch a worker would run (the CLI's);
    ``found``: what ``queue.compute`` found with these options beforehand, in a read-only transaction."""
    scan = queue.start_scan(
        db, workspace, min_score=min_score, block_cap=block_cap, queued=False, actor=actor
    )
    return run_batch(db, scan, progress, found=found)


def get_batch(db: DbSession, workspace: Workspace, batch_id: str) -> Batch:
    found = repo.get(db, workspace.id, batch_id)
    if found is None:
        raise NotFound(f"Batch Not Found: no batch has id '{batch_id}'", field="id")
    return found


def undo(db: DbSession, workspace: Workspace, batch_id: str, *, actor: str) -> Batch:
    """Undo a whole batch: every merge it made."""
    batch = repo.get(db, workspace.id, batch_id, lock=True)
    if batch is None:
        raise NotFound(f"Batch Not Found: no batch has id '{batch_id}'", field="id")
    if batch.kind == queue.KIND:
        raise Conflict(
            f"batch {batch_id} is a suggestion scan: it merged nothing, so there is nothing to undo",
            field="id",
            code="batch_not_undoable",
        )
    if batch.state != "done":
        raise Conflict(
            f"batch {batch_id} is {batch.state}; only a finished batch can be undone",
            field="id",
            code="batch_not_undoable",
        )
    report = merging.undo_batch(db, workspace, batch_id, actor=actor)
    batch.undone_by = actor
    batch.state, batch.counts = "undone", {**batch.counts, "undone": report["merges_undone"]}
    return batch


def merge_requests(clusters: Iterable[PlannedCluster]) -> list[merging.MergeRequest]:
    """R5: each absorbed member of each cluster into its survivor, with the cluster and keys as evidence."""
    return [
        merging.MergeRequest(
            member,
            p.survivor,
            "bulk",
            {"cluster": p.cluster.id, "keys": [f"{k.kind}:{k.value}" for k in p.cluster.keys]},
        )
        for p in clusters
        for member in p.absorbed
    ]
