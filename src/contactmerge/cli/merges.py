"""``contactmerge merge`` and ``contactmerge merges list|show|undo``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import typer
from rich.table import Table

from contactmerge.cli.common import CLI_ACTOR, console, fail, unit_of_work
from contactmerge.domain.teammates import describe
from contactmerge.services import merging, teammates, workspaces
from contactmerge.storage.tables import Merge

merges_app = typer.Typer(help="Merge history: list, show, undo.", no_args_is_help=True)
WorkspaceOption = typer.Option(None, "--workspace", help="The workspace's app_id (default: the only one).")


def merge_command(
    source: str = typer.Argument(..., metavar="FROM", help="The contact to fold in (a lead)."),
    target: str = typer.Argument(..., metavar="INTO", help="The contact that survives (a user)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; change nothing."),
    force: bool = typer.Option(
        False, "--force", help="Allow merging two users that share a verified identifier."
    ),
    skip_duplicate_validation: bool = typer.Option(
        False, "--skip-duplicate-validation", help="With --force: merge users that share nothing."
    ),
    workspace: str | None = WorkspaceOption,
) -> None:
    """Merge FROM into INTO (atomic, audited, reversible with `contactmerge merges undo`)."""
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        if dry_run:
            preview = merging.preview_merge(
                db, chosen, source, target, force=force, skip_duplicate_validation=skip_duplicate_validation
            )
            _print_preview(preview)
            if "refusal" in preview:
                raise typer.Exit(1)
            return
        result = merging.merge_contacts(
            db,
            chosen,
            source,
            target,
            force=force,
            skip_duplicate_validation=skip_duplicate_validation,
            requested_by=CLI_ACTOR,
        )
        merge = result.merge
    if result.held:
        fail(f"merge {merge.id} is held for review: {merge.plan.get('refusal', '')}")
    verb = "was already merged" if result.replayed else "merged"
    console.print(f"{source} {verb} into {target} (merge {merge.id})", highlight=False)
    console.print("moved: " + ", ".join(f"{k} {v}" for k, v in merge.moved.items()), highlight=False)
    console.print(f"undo with: contactmerge merges undo {merge.id}", highlight=False)


def _print_preview(preview: dict[str, Any]) -> None:
    if "refusal" in preview:
        refusal = preview["refusal"]
        console.print(
            f"[bold red]would be refused[/] ({refusal['code']}): {refusal['message']}", highlight=False
        )
        return
    if preview.get("already_merged"):
        console.print(f"already merged (merge {preview['merge_id']}): nothing to do", highlight=False)
        return
    console.print(
        "rows that would move: " + ", ".join(f"{k} {v}" for k, v in preview["rows"].items()), highlight=False
    )
    table = Table("attribute", "outcome", "survivor", "from the lead", "why")
    for decision in preview["plan"]["attributes"]:
        table.add_row(
            decision["name"],
            decision["outcome"],
            _show(decision["survivor_value"]),
            _show(decision["source_value"]),
            decision["reason"],
        )
    console.print(table)
    for identifier in preview["plan"]["secondary_identifiers"]:
        console.print(f"kept as a secondary {identifier['kind']}: {identifier['value']}", highlight=False)


def _show(value: Any) -> str:
    return "" if value is None else json.dumps(value) if not isinstance(value, str) else value


@merges_app.command("list")
def list_command(
    contact: str | None = typer.Option(None, "--contact", help="Only merges this contact took part in."),
    limit: int = typer.Option(20, min=1, max=150, help="How many, newest first."),
    workspace: str | None = WorkspaceOption,
) -> None:
    """List merges, newest first."""
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        page = merging.list_merges(db, chosen, contact, per_page=limit, after_id=None)
        names = teammates.all_names(db, chosen)
    table = Table("merge", "when", "from", "into", "reason", "state", "by")
    for merge in page.items:
        table.add_row(
            merge.id,
            _when(merge.created_at),
            merge.source_id,
            merge.target_id,
            merge.reason,
            merge.state,
            describe(merge.requested_by, names),
        )
    console.print(table)
    console.print(f"{len(page.items)} of {page.total_count}", highlight=False)


@merges_app.command("show")
def show_command(
    merge_id: str = typer.Argument(..., help="The merge's id."), workspace: str | None = WorkspaceOption
) -> None:
    """Show one merge record as JSON: who, when, why, what moved, each attribute's outcome."""
    with unit_of_work() as db:
        merge = merging.get_merge(db, workspaces.resolve(db, workspace), merge_id)
    typer.echo(json.dumps(_record(merge), indent=2))


@merges_app.command("undo")
def undo_command(
    merge_id: str | None = typer.Argument(None, help="The merge's id."),
    batch: str | None = typer.Option(None, "--batch", help="Undo every merge of this batch (a dedupe run)."),
    workspace: str | None = WorkspaceOption,
) -> None:
    """Undo a merge (the lead comes back with its own rows and values), or a whole batch with --batch."""
    if (merge_id is None) == (batch is None):
        fail("name a merge id, or a batch with --batch")
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        if batch is not None:
            report = merging.undo_batch(db, chosen, batch, actor=CLI_ACTOR)
            console.print(f"undone: {report['merges_undone']} merges of batch {batch}", highlight=False)
            for conflict in report["conflicts"][:20]:
                console.print(f"[yellow]kept[/] {conflict}", highlight=False)
            return
        merge = merging.undo_merge(db, chosen, str(merge_id), actor=CLI_ACTOR)
        report = merge.undo_report or {}
    console.print(f"undone: {merge.source_id} is back, separate from {merge.target_id}", highlight=False)
    restored = ", ".join(f"{k} {v}" for k, v in report.get("restored", {}).items())
    console.print(f"restored: {restored}", highlight=False)
    for conflict in report.get("conflicts", []):
        now_value = _show(conflict["current_value"])
        console.print(
            f"[yellow]kept[/] {conflict['name']}: changed since the merge to {now_value}", highlight=False
        )


def _record(merge: Merge) -> dict[str, Any]:
    return {
        "id": merge.id,
        "from": merge.source_id,
        "into": merge.target_id,
        "reason": merge.reason,
        "state": merge.state,
        "requested_by": merge.requested_by,
        "created_at": merge.created_at,
        "undone_at": merge.undone_at,
        "undone_by": merge.undone_by,
        "moved": merge.moved,
        "plan": merge.plan,
        "undo_report": merge.undo_report,
    }


def _when(stamp: int) -> str:
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%d %H:%M")
