"""``contactmerge``: serve, db, workspace, demo."""

from __future__ import annotations

import json

import typer
import uvicorn
from sqlalchemy.exc import OperationalError

from contactmerge.cli.admins import admin_app
from contactmerge.cli.common import console, fail, settings, unit_of_work
from contactmerge.cli.dedupe import dedupe_app
from contactmerge.cli.importing import import_command, imports_app
from contactmerge.cli.merges import merge_command, merges_app
from contactmerge.cli.worker import marks_app, worker_command
from contactmerge.services import demo, workspaces
from contactmerge.storage import migrate
from contactmerge.storage.db import make_engine

app = typer.Typer(
    help="contactmerge: one profile per person.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces (tenants) and their API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(workspace_app, name="workspace")
app.add_typer(merges_app, name="merges")
app.add_typer(marks_app, name="marks")
app.command("merge")(merge_command)
app.command("worker")(worker_command)
app.add_typer(imports_app, name="imports")
app.command("import")(import_command)
app.add_typer(dedupe_app, name="dedupe")
app.add_typer(admin_app, name="admin")


WorkspaceOption = typer.Option(None, "--workspace", help="The workspace's app_id (default: the only one).")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema of CONTACTMERGE_DATABASE_URL to the latest version."""
    config = settings()
    engine = make_engine(config.database_url)
    try:
        migrate.upgrade(engine)
        console.print(f"database at revision {migrate.current_revision(engine)}")
    except OperationalError as error:
        fail(f"cannot reach the database {engine.url.render_as_string(hide_password=True)}: {error.orig}")
    finally:
        engine.dispose()


@workspace_app.command("create")
def workspace_create(
    name: str = typer.Argument(..., help="A name people will recognise."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    identity_verification: str = typer.Option(
        "enforced", help="Identity verification of messenger logins: off, optional or enforced."
    ),
) -> None:
    """Create a workspace; prints its app_id, an API token (shown only now) and its identity secret."""
    with unit_of_work() as db:
        created = workspaces.create_workspace(db, name, identity_verification=identity_verification)
        info = {
            "name": created.workspace.name,
            "app_id": created.workspace.app_id,
            "token": created.token,
            "identity_secret": created.workspace.identity_secret,
            "identity_verification": created.workspace.identity_verification,
        }
    if as_json:
        typer.echo(json.dumps(info))
        return
    for key, value in info.items():
        console.print(f"[bold]{key:>22}[/]  {value}", highlight=False)
    console.print("Keep the token: it is stored hashed and cannot be shown again.")


@workspace_app.command("set")
def workspace_set(
    workspace: str | None = WorkspaceOption,
    identity_verification: str | None = typer.Option(None, help="off, optional or enforced."),
    email_match: str | None = typer.Option(None, help="R2: on_login, immediate or off."),
    fan_in_cap: int | None = typer.Option(None, help="Merges one contact may absorb in 24 hours."),
    dedupe_provider_rules: bool | None = typer.Option(
        None,
        "--dedupe-provider-rules/--no-dedupe-provider-rules",
        help="Duplicate scan: read Gmail-style emails as the provider does (dots, +tag ignored).",
    ),
    phone_region: str | None = typer.Option(
        None, help="CSV imports: ISO country (GB, DE…) of phone numbers written without +country."
    ),
) -> None:
    """Change a workspace's identity verification, email matching (R2), merge fan-in cap, duplicate
    scan email rules (R5) and the phone region of its CSV imports (R3)."""
    with unit_of_work() as db:
        chosen = workspaces.update_settings(
            db,
            workspaces.resolve(db, workspace),
            identity_verification=identity_verification,
            email_match=email_match,
            fan_in_cap=fan_in_cap,
            dedupe_provider_rules=dedupe_provider_rules,
            phone_region=phone_region,
        )
        provider_rules = "on" if chosen.settings.get("dedupe_provider_rules") else "off"
        summary = (
            f"{chosen.app_id}: identity verification {chosen.identity_verification}, "
            f"email match {chosen.settings.get('email_match', 'on_login')}, "
            f"fan-in cap {chosen.settings.get('merge_fan_in_cap', 50)}, "
            f"dedupe provider rules {provider_rules}, "
            f"import phone region {chosen.settings.get('phone_region') or 'the server default'}"
        )
    console.print(summary, highlight=False)


@workspace_app.command("list")
def workspace_list() -> None:
    """List the workspaces."""
    with unit_of_work() as db:
        for w in workspaces.list_workspaces(db):
            console.print(
                f"{w.app_id}  {w.name}  identity verification {w.identity_verification}", highlight=False
            )


@workspace_app.command("token")
def workspace_token(
    workspace: str | None = WorkspaceOption,
    name: str = typer.Option("cli", help="A label for the token."),
) -> None:
    """Issue a new API token for a workspace (prints it once)."""
    with unit_of_work() as db:
        token = workspaces.issue_token(db, workspaces.resolve(db, workspace), name)
    typer.echo(token)


@app.command("demo")
def demo_command() -> None:
    """Load the demo workspace (realistic contacts, conversations and events) and print its token."""
    with unit_of_work() as db:
        loaded = demo.ensure_demo(db)
    demo.print_welcome(console, loaded, base_url=None)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    load_demo: bool = typer.Option(
        False, "--demo", help="Load the demo workspace on first run, print a token."
    ),
) -> None:
    """Serve the REST API and admin pages."""
    from contactmerge.api.app import create_app

    config = settings()
    engine = make_engine(config.database_url)
    try:
        current, head = migrate.current_revision(engine), migrate.head_revision()
    except OperationalError as error:
        fail(f"cannot reach the database: {error.orig}")
    finally:
        engine.dispose()
    if current != head:
        fail(f"the database is at revision {current}, the code needs {head}: run 'contactmerge db upgrade'")
    if load_demo:
        with unit_of_work(config) as db:
            loaded = demo.ensure_demo(db)
        demo.print_welcome(console, loaded, base_url=f"http://{host}:{port}")
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")
