"""``contactmerge worker``, ``marks`` and ``workspace set`` as real processes."""

from __future__ import annotations

from contactmerge.domain.identity import user_hash
from contactmerge.services import contacts, merging, messenger
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Workspace
from tests.conftest import Database, WorkspaceKeys, make_workspace
from tests.helpers import run_cli as run


def lead_logs_in(database: Database, keys: WorkspaceKeys, external_id: str) -> str:
    """A lead writes, then logs in as a user on the same browser: an R1 mark. Returns the lead's id."""
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = db.get_one(Workspace, keys.app_id)
        visit = messenger.ping(db, workspace, anonymous_id=None)
        messenger.send_message(db, workspace, visit.session.id, "hello", None)
        messenger.ping(
            db,
            workspace,
            anonymous_id=visit.session.id,
            user_id=external_id,
            user_hash=user_hash(keys.identity_secret, external_id),
        )
        return visit.contact.id


def test_worker_drain_applies_marks_and_marks_list_shows_them(isolated_database: Database) -> None:
    database = isolated_database
    workspace = make_workspace(database)
    ws = ["--workspace", workspace.app_id]
    lead = lead_logs_in(database, workspace, "u-1")
    assert run(database.url, "marks", "list", "--state", "ready", *ws).stdout.strip().endswith("1 of 1")
    drained = run(database.url, "worker", "--drain")
    assert drained.returncode == 0, drained.stderr
    assert "applied" in drained.stdout
    listed = run(database.url, "marks", "list", "--state", "done", *ws)
    assert lead in listed.stdout and "1 of 1" in listed.stdout


def test_a_parked_mark_can_be_retried(isolated_database: Database) -> None:
    database = isolated_database
    workspace = make_workspace(database)
    ws = ["--workspace", workspace.app_id]
    lead = lead_logs_in(database, workspace, "u-2")
    with transaction(make_sessionmaker(database.engine)) as db:
        chosen = db.get_one(Workspace, workspace.app_id)
        other = contacts.create_contact(
            db, chosen, {"role": "user", "external_id": "someone-else"}, region="US"
        )
        merging.merge_contacts(db, chosen, lead, other.id)  # the lead is gone before the worker gets to it
    run(database.url, "worker", "--drain")
    parked = run(database.url, "marks", "list", "--state", "parked", *ws)
    assert "already_merged" in parked.stdout
    mark_id = parked.stdout.split("\n")[3].split("│")[1].strip()
    retried = run(database.url, "marks", "retry", mark_id, *ws)
    assert retried.returncode == 0 and "ready again" in retried.stdout
    again = run(database.url, "marks", "retry", mark_id, *ws)
    assert again.returncode == 1 and "only parked marks are retried" in again.stderr


def test_workspace_set_changes_settings_and_refuses_bad_values(
    database: Database, workspace: WorkspaceKeys
) -> None:
    ws = ["--workspace", workspace.app_id]
    changed = run(
        database.url,
        "workspace",
        "set",
        "--email-match",
        "immediate",
        "--identity-verification",
        "enforced",
        "--fan-in-cap",
        "5",
        *ws,
    )
    assert changed.returncode == 0, changed.stderr
    assert "identity verification enforced, email match immediate, fan-in cap 5" in changed.stdout
    refused = run(database.url, "workspace", "set", "--email-match", "sometimes", *ws)
    assert refused.returncode == 1 and "email match must be one of on_login, immediate, off" in refused.stderr
    with make_sessionmaker(database.engine)() as db:
        assert db.get_one(Workspace, workspace.app_id).settings["email_match"] == "immediate"
