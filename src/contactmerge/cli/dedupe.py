"""``contactmerge dedupe``: scan for duplicates by exact keys, write the plan, apply it as one batch."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.orm import Session as DbSession

from contactmerge.cli.common import console, err_console, unit_of_work
from contactmerge.errors import BadRequest
from contactmerge.services import csv_export, workspaces
from contactmerge.services.duplicates import batches, review, scan
from contactmerge.storage.tables import Workspace

WorkspaceOption = typer.Option(None, "--workspace", help="The workspace's app_id (default: the only one).")


def dedupe_command(
    keys: str = typer.Option("email,external_id,phone", "--keys", help="Which shared keys link contacts."),
    apply: bool = typer.Option(
        False, "--apply", help="Merge the clusters that need no approval, as one batch."
    ),
    clusters: list[str] = typer.Option([], "--cluster", help="With --apply: only these cluster ids."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the plan as JSON to this file."),
    csv_out: Path | None = typer.Option(None, "--csv", help="Write the plan as CSV (one row per contact)."),
    fuzzy: bool = typer.Option(
        False,
        "--fuzzy",
        help="Show fuzzy suggestions (similar names, emails, phones) instead; never applied.",
    ),
    min_score: float = typer.Option(0.8, "--min-score", help="With --fuzzy: the lowest score shown."),
    reject: list[str] = typer.Option(
        [], "--reject", help="A cluster id or suggestion id (a:b) that is not the same person: remembered."
    ),
    workspace: str | None = WorkspaceOption,
) -> None:
    """Find duplicate clusters by shared normalized email, external_id or E.164 phone (R5) and show the plan;
    --apply merges them as one batch that `contactmerge merges undo --batch ID` takes back. --fuzzy shows
    suggestions; --reject remembers a cluster or suggestion as not the same person."""
    if fuzzy and (apply or clusters or csv_out):
        raise BadRequest("fuzzy suggestions are never applied in bulk: review them one by one", field="fuzzy")
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        for subject in reject:
            _reject(db, chosen, subject)
        if fuzzy:
            _show_suggestions(db, chosen, min_score, json_out)
            return
        plan = scan.scan(db, chosen, scan.parse_keys(keys))
        summary = plan.summary()
        if json_out:
            json_out.write_text(json.dumps(_as_json(plan), indent=2))
        if csv_out:
            _write_csv(csv_out, plan)
        outcome = None
        if apply:
            with Progress(console=err_console, transient=True) as bar:
                bar.add_task("merging", total=None)
                outcome = batches.apply_now(db, chosen, keys=scan.parse_keys(keys), cluster_ids=clusters)
    table = Table("duplicates", "count", title="dedupe plan", title_justify="left")
    for name, value in summary.items():
        shown = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else f"{value:,}"
        table.add_row(name.replace("_", " "), shown)
    console.print(table)
    for held in plan.held[:10]:
        console.print(f"[yellow]held[/] {held.key.kind} {held.key.value}: {held.reason}", highlight=False)
    if outcome is None:
        console.print(
            "nothing was changed; --apply merges the clusters that need no approval", highlight=False
        )
        return
    batch_id, merged = outcome.id, outcome.counts["merged"]
    console.print(
        f"merged {merged} contacts in batch {batch_id}; undo with: "
        f"contactmerge merges undo --batch {batch_id}",
        highlight=False,
    )


def _reject(db: DbSession, workspace: Workspace, subject: str) -> None:
    if review.is_pair(subject):
        first, second = review.reject_pair(db, workspace, subject)
        console.print(f"rejected suggestion {first}:{second}: not suggested again", highlight=False)
    else:
        review.decide(db, workspace, subject, "rejected")
        console.print(
            f"rejected cluster {subject}: kept apart while its members stay the same", highlight=False
        )


def _show_suggestions(db: DbSession, workspace: Workspace, min_score: float, json_out: Path | None) -> None:
    found = review.suggestions(db, workspace, min_score=min_score)
    if json_out:
        rows = [
            {"id": review.pair_id(s.contact_a, s.contact_b), "score": s.score, "reasons": list(s.reasons)}
            for s in found.suggestions
        ]
        json_out.write_text(json.dumps({"suggestions": rows}, indent=2))
    table = Table("suggestion", "score", "why", title="fuzzy suggestions", title_justify="left")
    for s in found.suggestions:
        table.add_row(review.pair_id(s.contact_a, s.contact_b), f"{s.score:.2f}", "; ".join(s.reasons))
    console.print(table)
    for block in found.skipped_blocks[:10]:
        console.print(
            f"[yellow]skipped[/] {block.kind} {block.value}: {block.size} contacts, too many to compare",
            highlight=False,
        )
    console.print(
        f"{len(found.suggestions)} suggestions; never applied: merge a pair with POST /contacts/merge, "
        "or --reject ID to never see it again",
        highlight=False,
    )


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
    with path.open("w", newline="") as handle:
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
