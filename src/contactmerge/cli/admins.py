"""``contactmerge admin create|list|remove|password``: teammates, from the command line (the first owner
of a new workspace is made here; later ones on the Team page too)."""

from __future__ import annotations

import json
import secrets
import sys

import typer
from rich.table import Table

from contactmerge.cli.common import console, fail, unit_of_work
from contactmerge.domain.teammates import Role
from contactmerge.services import teammates, workspaces
from contactmerge.storage.tables import Admin, Workspace

admin_app = typer.Typer(help="Teammates: who signs in to the pages, as owner or agent.", no_args_is_help=True)
WorkspaceOption = typer.Option(None, "--workspace", help="The workspace's app_id (default: the only one).")
PasswordStdin = typer.Option(
    False,
    "--password-stdin",
    help="Read the password from the first line of standard input (else a new one is made and printed).",
)


def _password(from_stdin: bool) -> tuple[str, bool]:
    """The password to set, and whether it was made here (so it must be printed)."""
    if not from_stdin:
        return secrets.token_urlsafe(12), True
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        fail("--password-stdin: standard input has no password on its first line")
    return line, False


def _by_email(workspace: Workspace, found: list[Admin], email: str) -> Admin:
    wanted = email.strip().lower()
    for admin in found:
        if admin.email_normalized == wanted:
            return admin
    fail(f"no teammate of workspace {workspace.app_id} has the email {email}")
    raise AssertionError  # fail() exits


@admin_app.command("create")
def create(
    email: str = typer.Argument(..., help="The teammate's email: what they sign in with."),
    name: str = typer.Option(..., "--name", help="How the inbox and the records name them."),
    role: Role = typer.Option(Role.AGENT, "--role", help="owner: everything; agent: read, answer, merge."),
    password_stdin: bool = PasswordStdin,
    workspace: str | None = WorkspaceOption,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of lines."),
) -> None:
    """Add a teammate who signs in to the pages with EMAIL and a password."""
    password, made = _password(password_stdin)
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        admin = teammates.create_teammate(
            db, chosen, email=email, name=name, role=role.value, password=password
        )
        shown = {"id": admin.id, "email": admin.email, "name": admin.name, "role": admin.role}
        where = chosen.app_id
    if as_json:
        console.print_json(json.dumps({**shown, "workspace": where, "password": password if made else None}))
        return
    console.print(
        f"{shown['role']} {shown['name']} <{shown['email']}> added to workspace {where}", highlight=False
    )
    if made:
        console.print(
            f"password: {password}   (shown once; change it with `contactmerge admin password`)",
            highlight=False,
        )


@admin_app.command("list")
def list_command(
    workspace: str | None = WorkspaceOption,
    removed: bool = typer.Option(False, "--removed", help="Include removed teammates."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """The workspace's teammates."""
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        rows = [
            {
                "id": a.id,
                "email": a.email,
                "name": a.name,
                "role": a.role,
                "removed": a.removed_at is not None,
            }
            for a in teammates.list_teammates(db, chosen, removed=removed)
        ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("id", "email", "name", "role", *(("removed",) if removed else ()))
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["email"]),
            str(row["name"]),
            str(row["role"]),
            *(("yes" if row["removed"] else "",) if removed else ()),
        )
    console.print(table)
    console.print(f"{len(rows)} teammates", highlight=False)


@admin_app.command("remove")
def remove(
    email: str = typer.Argument(..., help="The teammate's email."), workspace: str | None = WorkspaceOption
) -> None:
    """Sign a teammate out everywhere and keep them from signing in (their records keep their name)."""
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        admin = _by_email(chosen, teammates.list_teammates(db, chosen), email)
        teammates.remove_teammate(db, chosen, admin.id)
        name = admin.name
    console.print(f"removed {name} <{email}>: signed out everywhere", highlight=False)


@admin_app.command("password")
def password(
    email: str = typer.Argument(..., help="The teammate's email."),
    password_stdin: bool = PasswordStdin,
    workspace: str | None = WorkspaceOption,
) -> None:
    """Give a teammate a new password; their sessions end."""
    new, made = _password(password_stdin)
    with unit_of_work() as db:
        chosen = workspaces.resolve(db, workspace)
        admin = _by_email(chosen, teammates.list_teammates(db, chosen), email)
        teammates.set_password(db, chosen, admin.id, new)
    console.print(f"new password for {email}; their sessions ended", highlight=False)
    if made:
        console.print(f"password: {new}   (shown once)", highlight=False)
