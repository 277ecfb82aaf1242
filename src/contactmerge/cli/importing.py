"""``contactmerge import FILE.csv`` and ``contactmerge imports show|errors|undo``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from contactmerge.cli.common import CLI_ACTOR, console, err_console, fail, settings, unit_of_work
from contactmerge.domain.importing import COUNT_LABELS
from contactmerge.domain.teammates import describe
from contactmerge.errors import ContactMergeError
from contactmerge.services import teammates, workspaces
from contactmerge.services.importing import jobs as importing
from contactmerge.services.importing import outcomes
from contactmerge.storage.db import make_engine, make_sessionmaker
from contactmerge.storage.tables import Import

imports_app = typer.Typer(help="CSV imports: show, errors, undo.", no_args_is_help=True)
WorkspaceOption = typer.Option(None, "--workspace", help="The workspace's app_id (default: the only one).")


def import_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The CSV file."),
    role: str = typer.Option(..., "--role", help="Import the rows as users or as leads."),
    mapping: list[str] = typer.Option(
        [],
        "--map",
        help="column=field, e.g. 'E-mail=email' or 'Plan=custom_attributes.plan' or 'Notes=ignore'.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would happen; write nothing."),
    region: str | None = typer.Option(
        None,
        "--region",
        help="ISO country (GB, DE…) of phone numbers written without +country "
        "(default: the workspace's phone region, else the server's); a row's country column wins.",
    ),
    resume: str | None = typer.Option(
        None, "--resume", metavar="IMPORT_ID", help="Continue an interrupted import."
    ),
    workspace: str | None = WorkspaceOption,
) -> None:
    """Import contacts from a CSV (R3): matching users absorb their leads; a report says what each row did."""
    config = settings()
    with unit_of_work(config) as db:
        chosen = workspaces.resolve(db, workspace)
        if resume:
            job = importing.get_import(db, chosen, resume)
        else:
            job = importing.create_import(
                db,
                chosen,
                actor=CLI_ACTOR,
                filename=file.name,
                role=role,
                mapping=importing.parse_mapping(mapping),
                dry_run=dry_run,
                size_bytes=file.stat().st_size,
                region=region,
            )
        workspace_id, import_id = chosen.id, job.id
    engine = make_engine(config.database_url)
    columns = (
        TextColumn("[bold]importing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=err_console, transient=True) as bar:
            task = bar.add_task("import", total=file.stat().st_size, rows=0)

            def advance(current: Import) -> None:
                bar.update(task, completed=current.bytes_done, rows=current.rows_done)

            job = importing.run_import(
                make_sessionmaker(engine),
                workspace_id,
                import_id,
                lambda: file.open("rb"),
                region=config.default_phone_region,
                progress=advance,
                stale_seconds=config.import_stale_seconds,
                processes=config.import_processes,
            )
    except ContactMergeError as error:
        fail(f"{error.message} (import {import_id}; fix and rerun with --resume {import_id})")
    finally:
        engine.dispose()
    print_report(job)


def print_report(job: Import) -> None:
    title = "dry run: nothing was written" if job.dry_run else f"import {job.id}"
    table = Table("rows", "count", title=title, title_justify="left")
    for key, label in COUNT_LABELS.items():
        if job.counts.get(key):
            table.add_row(label, f"{job.counts[key]:,}")
    console.print(table)
    if job.unknown_columns:
        console.print(
            "columns ignored (no such field or data attribute): " + ", ".join(job.unknown_columns),
            highlight=False,
        )
    if job.counts.get("rows_with_cell_problems"):
        console.print(
            "rows are applied without the cells that did not validate; errors.csv names each cell",
            highlight=False,
        )
    if not job.dry_run and job.state == "done":
        console.print(
            f"problems: contactmerge imports errors {job.id} > errors.csv; "
            f"undo: contactmerge imports undo {job.id}",
            highlight=False,
        )


@imports_app.command("show")
def show_command(import_id: str = typer.Argument(...), workspace: str | None = WorkspaceOption) -> None:
    """An import's state, progress and counts."""
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        job = importing.get_import(db, chosen, import_id)
        names = teammates.all_names(db, chosen)
    console.print(
        f"{job.id} {job.filename}: {job.state}, {job.rows_done:,} rows, "
        f"{job.bytes_done:,} of {job.size_bytes:,} bytes",
        highlight=False,
    )
    if job.created_by:
        console.print(f"started by {describe(job.created_by, names)}", highlight=False)
    if job.undone_by:
        console.print(f"undone by {describe(job.undone_by, names)}", highlight=False)
    if job.error:
        console.print(f"error: {job.error}", highlight=False)
    print_report(job)


@imports_app.command("errors")
def errors_command(import_id: str = typer.Argument(...), workspace: str | None = WorkspaceOption) -> None:
    """The rows an import did not apply, as CSV: row, problem, column, reason, then the row's cells."""
    with unit_of_work() as db:
        for piece in outcomes.problem_csv(db, workspaces.resolve(db, workspace), import_id):
            sys.stdout.write(piece)


@imports_app.command("undo")
def undo_command(import_id: str = typer.Argument(...), workspace: str | None = WorkspaceOption) -> None:
    """Undo a whole import: its merges, its updates, and the contacts it created (unless changed since)."""
    with unit_of_work() as db:
        job = outcomes.undo_import(db, workspaces.resolve(db, workspace), import_id, actor=CLI_ACTOR)
        report = dict(job.undo_report or {})
    console.print(
        f"undone: {report['merges_undone']} merges, {report['updates_reverted']} updates, "
        f"{report['contacts_removed']} contacts removed",
        highlight=False,
    )
    for conflict in report.get("conflicts", [])[:20]:
        console.print(f"[yellow]kept[/] {conflict}", highlight=False)
