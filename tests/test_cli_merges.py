"""``contactmerge merge`` and ``contactmerge merges`` as real processes."""

from __future__ import annotations

import json
import re

from contactmerge.services import contacts
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Workspace
from tests.conftest import Database, WorkspaceKeys
from tests.helpers import run_cli as run


def two_contacts(database: Database, keys: WorkspaceKeys) -> tuple[str, str]:
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = db.get_one(Workspace, keys.app_id)
        lead = contacts.create_contact(
            db, workspace, {"role": "lead", "email": "l@example.com", "name": "L"}, region="US"
        )
        user = contacts.create_contact(db, workspace, {"role": "user", "email": "u@example.com"}, region="US")
        return lead.id, user.id


def test_dry_run_then_merge_then_undo(database: Database, workspace: WorkspaceKeys) -> None:
    lead, user = two_contacts(database, workspace)
    ws = ["--workspace", workspace.app_id]
    dry = run(database.url, "merge", lead, user, "--dry-run", *ws)
    assert dry.returncode == 0, dry.stderr
    assert "rows that would move" in dry.stdout and "adopted" in dry.stdout
    assert run(database.url, "merges", "list", *ws).stdout.strip().endswith("0 of 0")

    merged = run(database.url, "merge", lead, user, *ws)
    assert merged.returncode == 0, merged.stderr
    merge_id = re.search(r"merges undo (\w+)", merged.stdout)
    assert merge_id
    shown = json.loads(run(database.url, "merges", "show", merge_id.group(1), *ws).stdout)
    assert shown["state"] == "applied" and shown["from"] == lead

    undone = run(database.url, "merges", "undo", merge_id.group(1), *ws)
    assert undone.returncode == 0, undone.stderr
    assert "is back" in undone.stdout
    again = run(database.url, "merges", "undo", merge_id.group(1), *ws)
    assert again.returncode == 1 and "nothing to undo" in again.stderr


def test_refused_merge_is_one_line_and_exit_1(database: Database, workspace: WorkspaceKeys) -> None:
    lead, user = two_contacts(database, workspace)
    result = run(database.url, "merge", user, lead, "--workspace", workspace.app_id)
    assert result.returncode == 1
    assert "a user cannot be merged into a lead" in result.stderr
    dry = run(database.url, "merge", user, lead, "--dry-run", "--workspace", workspace.app_id)
    assert dry.returncode == 1 and "would be refused" in dry.stdout
    missing = run(database.url, "merge", "nope", user, "--workspace", workspace.app_id)
    assert missing.returncode == 1 and "no contact has id 'nope'" in missing.stderr
