"""``contactmerge dedupe``: scan for duplicates by exact keys, write the plan, apply it as one batch."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from contactmerge.cli.common import console, err_console, unit_of_work
from contactmerge.services import dedupe, merging, workspaces

WorkspaceOption = typer.Option(None, "--workspace", help="The workspace's app_id (default: the only one).")


def dedupe_command(
    keys: str = typer.Option("email,external_id,phone", "--keys", help="Which shared keys link contacts."),
    apply: bool = typer.Option(
        False, "--apply", help="Merge the clusters that need no approval, as one batch."
    ),
    clusters: list[str] = typer.Option([], "--cluster", help="With --apply: only these cluster ids."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the plan as JSON to this file."),
    csv_out: Path | None = typer.Option(None, "--csv", help="Write the plan as CSV (one row per contact)."),
    workspace: str | None = WorkspaceOption,
) -> None:
    """Find duplicate clusters by shared normalized email, external_id or E.164 phone (R5) and show the plan;
    --apply merges them as one batch that `contactmerge merges undo --batch ID` takes back."""
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        plan = dedupe.scan(db, chosen, dedupe.parse_keys(keys))
        summary = plan.summary()
        if json_out:
            json_out.write_text(json.dumps(_as_json(plan), indent=2))
        if csv_out:
            _write_csv(csv_out, plan)
        outcome = None
        if apply:
            with Progress(console=err_console, transient=True) as bar:
                bar.add_task("merging", total=None)
                outcome = dedupe.apply(db, chosen, plan, cluster_ids=clusters)
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
    batch_id, results = outcome
    merged = sum(1 for r in results if isinstance(r, merging.MergeResult) and not r.held and not r.replayed)
    console.print(
        f"merged {merged} contacts in batch {batch_id}; undo with: "
        f"contactmerge merges undo --batch {batch_id}",
        highlight=False,
    )


def _as_json(plan: dedupe.DedupePlan) -> dict[str, object]:
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


def _write_csv(path: Path, plan: dedupe.DedupePlan) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
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
