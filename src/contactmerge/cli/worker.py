"""``contactmerge worker`` and ``contactmerge marks list|retry``."""

from __future__ import annotations

import datetime as dt
import signal
import socket
from types import FrameType

import typer
from rich.table import Table

from contactmerge.cli.common import console, settings, unit_of_work
from contactmerge.services import marks, workspaces
from contactmerge.storage.db import make_engine, make_sessionmaker
from contactmerge.worker.runner import Worker

marks_app = typer.Typer(
    help="Merge marks found by R1/R2, waiting for or parked by the worker.", no_args_is_help=True
)
WorkspaceOption = typer.Option(None, "--workspace", help="The workspace's app_id (default: the only one).")


def worker_command(
    poll_interval: float = typer.Option(None, min=0.01, max=60, help="Seconds between looks for work."),
    drain: bool = typer.Option(False, "--drain", help="Apply every ready mark, then exit."),
) -> None:
    """Apply merge marks from CONTACTMERGE_DATABASE_URL; run as many as you like, anywhere."""
    config = settings()
    engine = make_engine(config.database_url)
    worker = Worker(
        make_sessionmaker(engine),
        poll_interval=poll_interval or config.worker_poll_interval,
        name=f"worker@{socket.gethostname()}",
        region=config.default_phone_region,
        import_stale_seconds=config.import_stale_seconds,
        import_processes=config.import_processes,
    )

    def stop(_signum: int, _frame: FrameType | None) -> None:
        console.print("stopping after the current mark", highlight=False)
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if drain:
            console.print(f"applied {worker.drain()} marks", highlight=False)
        else:
            console.print(f"{worker.name} waiting for merge marks (Ctrl+C to stop)", highlight=False)
            worker.run_forever()
            console.print(f"applied {worker.processed} marks", highlight=False)
    finally:
        engine.dispose()


@marks_app.command("list")
def list_command(
    state: str | None = typer.Option(None, help="waiting, ready, done or parked."),
    limit: int = typer.Option(20, min=1, max=150, help="How many, newest first."),
    workspace: str | None = WorkspaceOption,
) -> None:
    """List merge marks, newest first."""
    with unit_of_work() as db:
        page = marks.list_marks(
            db, workspaces.resolve(db, workspace), state=state, per_page=limit, after_id=None
        )
    table = Table("mark", "when", "from", "into", "reason", "state", "last error")
    for mark in page.items:
        when = dt.datetime.fromtimestamp(mark.created_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            mark.id, when, mark.source_id, mark.target_id, mark.reason, mark.state, mark.last_error or ""
        )
    console.print(table)
    console.print(f"{len(page.items)} of {page.total_count}", highlight=False)


@marks_app.command("retry")
def retry_command(
    mark_id: str = typer.Argument(..., help="A parked mark's id."), workspace: str | None = WorkspaceOption
) -> None:
    """Put a parked mark back in the queue."""
    with unit_of_work() as db:
        mark = marks.retry(db, workspaces.resolve(db, workspace), mark_id)
    console.print(f"mark {mark.id} is ready again", highlight=False)
