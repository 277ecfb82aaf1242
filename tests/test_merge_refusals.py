"""Every refusal of design §3, through the merging service on both backends: its code, and nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from contactmerge.errors import ContactMergeError, NotFound
from contactmerge.services import contacts, merging, workspaces
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Merge, Workspace
from tests.conftest import Database
from tests.test_merge_properties import snapshot


def contact(db: DbSession, workspace: Workspace, **fields: Any) -> str:
    return contacts.create_contact(db, workspace, fields, region="US").id


def setup(database: Database) -> dict[str, str]:
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = workspaces.create_workspace(db, "refusals").workspace
        other = workspaces.create_workspace(db, "other").workspace
        ids = {
            "workspace": workspace.id,
            "lead": contact(db, workspace, role="lead", email="lead@example.com"),
            "lead2": contact(db, workspace, role="lead", email="lead2@example.com"),
            "user": contact(db, workspace, role="user", email="user@example.com", phone="+15125550100"),
            "user2": contact(db, workspace, role="user", email="user2@example.com"),
            "other_user": contact(db, other, role="user", email="user@example.com"),
        }
        merging.merge_contacts(db, workspace, ids["lead2"], ids["user2"])
    return ids


CASES: dict[str, tuple[Callable[[dict[str, str]], tuple[str, str, dict[str, Any]]], str]] = {
    "across workspaces": (lambda i: (i["lead"], i["other_user"], {}), "not_found"),
    "into itself": (lambda i: (i["lead"], i["lead"], {}), "merge_into_self"),
    "user into lead": (lambda i: (i["user"], i["lead"], {}), "invalid_merge"),
    "two users without force": (lambda i: (i["user2"], i["user"], {}), "invalid_merge"),
    "two users sharing nothing": (
        lambda i: (i["user2"], i["user"], {"force": True}),
        "users_share_no_identifier",
    ),
    "junk evidence": (
        lambda i: (i["lead"], i["user"], {"reason": "email_match", "evidence": {"email": "null"}}),
        "junk_identifier",
    ),
    "blocklisted evidence": (
        lambda i: (
            i["lead"],
            i["user"],
            {"reason": "email_match", "evidence": {"email": "test@example.com"}},
        ),
        "junk_identifier",
    ),
    "already merged elsewhere": (lambda i: (i["lead2"], i["user"], {}), "already_merged"),
    "into a merged contact": (lambda i: (i["lead"], i["lead2"], {}), "target_merged"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refusal_has_its_code_and_changes_nothing(database: Database, case: str) -> None:
    ids = setup(database)
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        workspace = db.get_one(Workspace, ids["workspace"])
        workspace.settings = {**workspace.settings, "identifier_blocklist": ["test@example.com"]}
    with sessions() as db:
        before = snapshot(db, ids["workspace"])
    describe, code = CASES[case]
    source, target, options = describe(ids)
    with pytest.raises(ContactMergeError) as raised, transaction(sessions) as db:
        merging.merge_contacts(db, db.get_one(Workspace, ids["workspace"]), source, target, **options)
    assert raised.value.code == code
    if code == "not_found":
        assert isinstance(raised.value, NotFound) and raised.value.field == "into"
    with sessions() as db:
        assert snapshot(db, ids["workspace"]) == before


def test_past_the_fan_in_cap_a_merge_is_held_not_applied_not_dropped(database: Database) -> None:
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        workspace = workspaces.create_workspace(db, "fan-in").workspace
        workspace.settings = {"merge_fan_in_cap": 2}
        user = contact(db, workspace, role="user", email="hub@example.com")
        leads = [contact(db, workspace, role="lead", email=f"l{i}@example.com") for i in range(3)]
        workspace_id = workspace.id
    results = []
    for lead in leads:
        with transaction(sessions) as db:
            results.append(merging.merge_contacts(db, db.get_one(Workspace, workspace_id), lead, user))
    assert [r.merge.state for r in results] == ["applied", "applied", "held"]
    with sessions() as db:
        held = db.scalars(
            select(Merge).where(Merge.workspace_id == workspace_id, Merge.state == "held")
        ).one()
        assert held.source_id == leads[2] and "cap 2" in held.plan["refusal"]
        live = merging.canonical_id(db, db.get_one(Workspace, workspace_id), leads[2])
        assert live == leads[2]  # not merged
        assert (
            db.scalar(select(func.count()).select_from(Merge).where(Merge.workspace_id == workspace_id)) == 3
        )


def test_two_users_sharing_a_verified_identifier_merge_with_force(database: Database) -> None:
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        workspace = workspaces.create_workspace(db, "force").workspace
        old = contact(db, workspace, role="user", external_id="old-1", phone="+15125550100")
        new = contact(db, workspace, role="user", external_id="new-1", phone="+1 (512) 555-0100")
        result = merging.merge_contacts(db, workspace, old, new, force=True)
        assert result.merge.forced and result.survivor.id == new
        # the tombstoned user keeps its external_id; the survivor keeps its own
        assert contacts.find_by_external_id(db, workspace, "old-1", forward=True).id == new
