"""``contactmerge dedupe scan|suggest|apply|reject|undo``: a thin shell over services/duplicates, whose
batch runner the worker uses too, so a verdict given anywhere holds here."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import Progress, TextColumn
from rich.table import Table
from sqlalchemy.orm import Session as DbSession

from contactmerge.cli.common import (
    CLI_ACTOR,
    console,
    err_console,
    fail,
    output,
    reading,
    unit_of_work,
    writable,
)
from contactmerge.services import csv_export, workspaces
from contactmerge.services.duplicates import batches, queue, review, scan, suggest
from contactmerge.storage.tables import Workspace

dedupe_app = typer.Typer(help="Duplicates (R5): scan, suggest, apply, reject, undo.", no_args_is_help=True)
WorkspaceOption = typer.Option(None, "--workspace", help="The workspace's app_id (default: the only one).")
KeysOption = typer.Option("email,external_id,phone", "--keys", help="Which shared keys link contacts.")


@dedupe_app.command("scan")
def scan_command(
    keys: str = KeysOption,
    json_out: Path | None = typer.Option(None, "--json", help="Write the plan as JSON to this file."),
    csv_out: Path | None = typer.Option(None, "--csv", help="Write the plan as CSV (one row per contact)."),
    workspace: str | None = WorkspaceOption,
) -> None:
    """Find duplicate clusters by shared normalized email, external_id or E.164 phone (R5) and show the
    plan; nothing is changed (`contactmerge dedupe apply` merges)."""
    writable(json_out, "--json")
    writable(csv_out, "--csv")
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        reviewed = review.queue(db, chosen, scan.parse_keys(keys))
        plan = scan.DedupePlan(tuple(r.planned for r in reviewed.clusters), reviewed.held)
        rejected = sum(1 for r in reviewed.clusters if r.decision == "rejected")
        if json_out:
            with output(json_out, "--json") as handle:
                handle.write(json.dumps(_as_json(plan), indent=2))
        if csv_out:
            _write_csv(csv_out, plan)
    table = Table("duplicates", "count", title="dedupe plan", title_justify="left")
    for name, value in plan.summary().items():
        shown = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else f"{value:,}"
        table.add_row(name.replace("_", " "), shown)
    table.add_row("clusters rejected (never applied)", f"{rejected:,}")
    console.print(table)
    for held in plan.held[:10]:
        value = escape(held.key.value)
        console.print(f"[yellow]held[/] {held.key.kind} {value}: {held.reason}", highlight=False)
    console.print(
        "nothing was changed; `contactmerge dedupe apply` merges the clusters not rejected", highlight=False
    )


@dedupe_app.command("suggest")
def suggest_command(
    min_score: float = typer.Option(0.8, "--min-score", help="The lowest score shown."),
    page: int = typer.Option(1, "--page", help="Which page of the queue, from 1."),
    per_page: int = typer.Option(50, "--per-page", help="Suggestions per page."),
    json_out: Path | None = typer.Option(None, "--json", help="Write this page as JSON to this file."),
    rescan: bool = typer.Option(
        False, "--rescan", help="Scan for suggestions now (replaces the queue), then show it."
    ),
    block_cap: int = typer.Option(
        suggest.DEFAULT_BLOCK_CAP, "--block-cap", help="With --rescan: blocks larger than this are skipped."
    ),
    workspace: str | None = WorkspaceOption,
) -> None:
    """Page through the stored queue of fuzzy suggestions (similar names, emails, phones), best first;
    never applied in bulk. --rescan scans first, as a worker would."""
    writable(json_out, "--json")
    floor = min(min_score, queue.DEFAULT_FLOOR)
    ahead = None
    if rescan:  # scanned in a read-only transaction: on SQLite the server's writers do not wait for it
        with reading() as db:
            queue.check_paging(min_score, page, per_page)
            queue.check_options(floor, block_cap)
            ahead = _scan(db, workspaces.resolve(db, workspace), floor, block_cap)
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        queue.check_paging(min_score, page, per_page)
        if ahead is not None:
            _store(db, chosen, floor, block_cap, ahead)
        found = queue.page(db, chosen, min_score=min_score, page=page, per_page=per_page)
    if found.scan is None:
        waiting = f" (scan {found.pending.id} is waiting for a worker)" if found.pending else ""
        fail(
            f"no suggestion scan has run in this workspace yet{waiting}; start one with "
            "`contactmerge dedupe suggest --rescan`, POST /duplicates/suggestions/scan or the duplicates page"
        )
        return
    if json_out:
        rows = [
            {"id": review.pair_id(s.contact_a, s.contact_b), "score": s.score, "reasons": list(s.reasons)}
            for s in found.suggestions
        ]
        document = {"scan": queue.scan_json(found.scan), "total_count": found.total, "suggestions": rows}
        with output(json_out, "--json") as handle:
            handle.write(json.dumps(document, indent=2))
    table = Table("suggestion", "score", "why", title="fuzzy suggestions", title_justify="left")
    for s in found.suggestions:
        table.add_row(review.pair_id(s.contact_a, s.contact_b), f"{s.score:.2f}", "; ".join(s.reasons))
    console.print(table)
    for block in queue.skipped_blocks(found.scan)[:10]:
        kind, value, size = block["kind"], escape(str(block["value"])), block["size"]
        console.print(
            f"[yellow]skipped[/] {kind} {value}: {size} contacts, too many to compare", highlight=False
        )
    first = (page - 1) * per_page + 1
    last = first + len(found.suggestions) - 1
    shown = f"{first:,}\N{EN DASH}{last:,}" if found.suggestions else f"none (page {page:,} is past the end)"
    console.print(
        f"showing {shown} of {found.total:,} suggestions (scan {found.scan.id} at "
        f"{_when(found.scan.finished_at)}); never applied in bulk: "
        "`contactmerge dedupe reject A:B` to never see a pair again",
        highlight=False,
    )


def _bar() -> Progress:
    return Progress(
        *Progress.get_default_columns(),
        TextColumn("{task.fields[phase]}"),
        console=err_console,
        transient=True,
    )


def _scan(db: DbSession, workspace: Workspace, floor: float, block_cap: int) -> suggest.FuzzyScan:
    with _bar() as bar:
        bar.add_task("suggestions", total=None, phase="scanning")
        return queue.compute(db, workspace, {"min_score": floor, "block_cap": block_cap})


def _store(
    db: DbSession, workspace: Workspace, floor: float, block_cap: int, found: suggest.FuzzyScan
) -> None:
    with _bar() as bar:
        task = bar.add_task("suggestions", total=None, phase="storing")

        def advance(phase: str, done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total, phase=phase)

        done = batches.suggest_now(
            db, workspace, min_score=floor, block_cap=block_cap, progress=advance, found=found
        )
    counts = done.counts
    console.print(
        f"scan {done.id}: {counts['suggestions']:,} suggestions from {counts['pairs_compared']:,} pairs "
        f"compared; {counts['blocks_skipped']:,} blocks too large skipped",
        highlight=False,
    )


@dedupe_app.command("apply")
def apply_command(
    keys: str = KeysOption,
    clusters: list[str] = typer.Option([], "--cluster", help="Only these cluster ids."),
    workspace: str | None = WorkspaceOption,
) -> None:
    """Merge the clusters of a fresh scan as one batch, through the worker's batch runner: a rejected
    cluster is never applied, a cluster of two users only once approved."""
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        with Progress(console=err_console, transient=True) as bar:
            bar.add_task("merging", total=None)
            outcome = batches.apply_now(
                db, chosen, keys=scan.parse_keys(keys), cluster_ids=clusters, actor=CLI_ACTOR
            )
    counts = outcome.counts
    console.print(
        f"merged {counts['merged']} contacts in batch {outcome.id} ({counts['clusters']} clusters not "
        f"rejected; merges refused {counts['refused']}, held {counts['held']}); undo with: "
        f"contactmerge dedupe undo {outcome.id}",
        highlight=False,
    )


@dedupe_app.command("reject")
def reject_command(
    subjects: list[str] = typer.Argument(..., metavar="ID…", help="Cluster ids, or suggestion ids A:B."),
    workspace: str | None = WorkspaceOption,
) -> None:
    """Remember clusters or suggested pairs as "not the same person": never applied nor suggested again."""
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        done = [_reject(db, chosen, subject) for subject in subjects]
    for line in done:
        console.print(line, highlight=False)


def _reject(db: DbSession, workspace: Workspace, subject: str) -> str:
    if review.is_pair(subject):
        first, second = review.reject_pair(db, workspace, subject, actor=CLI_ACTOR)
        return f"rejected suggestion {first}:{second}: not suggested again"
    review.decide(db, workspace, subject, "rejected", actor=CLI_ACTOR)
    return f"rejected cluster {subject}: kept apart while its members stay the same"


@dedupe_app.command("undo")
def undo_command(
    batch_id: str = typer.Argument(..., metavar="BATCH_ID", help="The batch `dedupe apply` printed."),
    workspace: str | None = WorkspaceOption,
) -> None:
    """Undo every merge of a bulk-merge batch."""
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        batch = batches.undo(db, chosen, batch_id, actor=CLI_ACTOR)
        undone = batch.counts.get("undone", 0)
    console.print(f"batch {batch_id} undone: {undone} merges", highlight=False)


def _when(stamp: int | None) -> str:
    if stamp is None:
        return "—"
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _as_json(plan: scan.DedupePlan) -> dict[str, object]:
    return {
        "summary": plan.summary(),
        "clusters": [
            {
                "id": p.cluster.id,
                "survivor": p.survivor,
                "merge": list(p.absorbed),
                "needs_approval": p.blocked,
                "keys": [{"kind": k.kind, "value": k.value} for k in p.cluster.keys],
            }
            for p in plan.clusters
        ],
        "held": [
            {
                "kind": h.key.kind,
                "value": h.key.value,
                "contacts": list(h.key.contact_ids),
                "reason": h.reason,
            }
            for h in plan.held
        ],
    }


def _write_csv(path: Path, plan: scan.DedupePlan) -> None:
    with output(path, "--csv") as handle:
        writer = csv_export.writer(handle)
        writer.writerow(["cluster", "contact", "action", "keys", "needs_approval"])
        for p in plan.clusters:
            keys = " ".join(f"{k.kind}:{k.value}" for k in p.cluster.keys)
            for member in p.cluster.members:
                writer.writerow(
                    [
                        p.cluster.id,
                        member,
                        "survives" if member == p.survivor else "merged into survivor",
                        keys,
                        p.blocked or "",
                    ]
                )
