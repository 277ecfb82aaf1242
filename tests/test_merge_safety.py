"""Merges under concurrency (separate processes, PostgreSQL) and crashes (a process killed mid-merge)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from contactmerge.services import contacts, conversations, events, merging, tags, workspaces
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Merge, Workspace
from tests.conftest import Database
from tests.test_merge_properties import snapshot

ROOT = Path(__file__).resolve().parents[1]
STEPS = [
    "locked",
    "rows_moved",
    "tags_unioned",
    "summaries_combined",
    "attributes_adopted",
    "tombstoned",
    "recorded",
]


def seed(database: Database, users: int = 1) -> tuple[str, str, list[str]]:
    """A workspace with a busy lead and ``users`` users; returns (workspace_id, lead_id, user_ids)."""
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = workspaces.create_workspace(db, "safety").workspace
        lead = contacts.create_contact(
            db, workspace, {"role": "lead", "email": "lead@example.com", "name": "L"}, region="US"
        )
        conversation, _ = conversations.start_conversation(db, workspace, lead, "hello")
        conversations.reply_as_admin(db, conversation, "1", "hi", message_type="comment")
        for i in range(20):
            events.record_event(
                db, workspace, lead, event_name=f"e{i % 3}", created_at=1_700_000_000 + i, metadata={}
            )
        tags.attach(db, workspace, lead.id, tags.create_or_update_tag(db, workspace, "vip").id)
        user_ids = [
            contacts.create_contact(
                db, workspace, {"role": "user", "email": f"u{i}@example.com"}, region="US"
            ).id
            for i in range(users)
        ]
        return workspace.id, lead.id, user_ids


def child(
    database: Database, workspace_id: str, source: str, target: str, *extra: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.merge_child", database.url, workspace_id, source, target, *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def outcomes(processes: list[subprocess.Popen[str]]) -> list[dict[str, str]]:
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(json.loads(out))
    return results


def applied_merges(database: Database, workspace_id: str) -> list[Merge]:
    with make_sessionmaker(database.engine)() as db:
        return list(
            db.scalars(select(Merge).where(Merge.workspace_id == workspace_id, Merge.state == "applied"))
        )


def test_the_same_merge_from_eight_processes_happens_once(database: Database, tmp_path: Path) -> None:
    """On PostgreSQL the row locks decide; on SQLite the write lock does. Either way: once."""
    workspace_id, lead, (user,) = seed(database)
    go = tmp_path / "go"
    processes = [child(database, workspace_id, lead, user, "--go", str(go)) for _ in range(8)]
    go.touch()
    results = outcomes(processes)
    assert sorted(r["status"] for r in results) == ["merged"] + ["replayed"] * 7
    assert len({r["merge_id"] for r in results}) == 1
    assert len(applied_merges(database, workspace_id)) == 1


def test_one_lead_into_two_users_at_once_exactly_one_wins(database: Database, tmp_path: Path) -> None:
    workspace_id, lead, users = seed(database, users=2)
    go = tmp_path / "go"
    processes = [child(database, workspace_id, lead, users[i % 2], "--go", str(go)) for i in range(8)]
    go.touch()
    results = outcomes(processes)
    merges = applied_merges(database, workspace_id)
    assert len(merges) == 1
    winner = merges[0].target_id
    for i, result in enumerate(results):
        if users[i % 2] == winner:
            assert result["status"] in ("merged", "replayed")
        else:
            assert result == {"status": "refused", "code": "already_merged"}


@pytest.mark.parametrize("step", STEPS)
def test_a_process_killed_mid_merge_leaves_no_trace(database: Database, step: str) -> None:
    workspace_id, lead, (user,) = seed(database)
    with make_sessionmaker(database.engine)() as db:
        before = snapshot(db, workspace_id)
    process = child(database, workspace_id, lead, user, "--die-at", step)
    process.communicate(timeout=120)
    assert process.returncode == -9
    with make_sessionmaker(database.engine)() as db:
        assert snapshot(db, workspace_id) == before
        assert (
            db.scalar(select(func.count()).select_from(Merge).where(Merge.workspace_id == workspace_id)) == 0
        )


def test_a_process_killed_after_commit_leaves_the_merge_whole(database: Database) -> None:
    workspace_id, lead, (user,) = seed(database)
    process = child(database, workspace_id, lead, user, "--die-at", "committed")
    process.communicate(timeout=120)
    assert process.returncode == -9
    (merge,) = applied_merges(database, workspace_id)
    assert merge.moved["events"] == 20
    with transaction(make_sessionmaker(database.engine)) as db:
        assert merging.canonical_id(db, db.get_one(Workspace, workspace_id), lead) == user
