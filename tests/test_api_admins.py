"""Teammates as Intercom's admins through the real server: ``GET /me``, ``/admins``, ``/admins/{id}``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contactmerge.services import teammates, workspaces
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Workspace
from tests.conftest import Database, Server, Teammate, WorkspaceKeys, make_teammate, make_workspace
from tests.helpers import error_of, ok


def admin_shape(mate: Teammate) -> dict[str, object]:
    return {
        "type": "admin",
        "id": mate.id,
        "name": mate.name,
        "email": mate.email,
        "email_verified": True,
        "job_title": None,
        "away_mode_enabled": False,
        "away_mode_reassign": False,
        "has_inbox_seat": True,
        "team_ids": [],
    }


def remove(database: Database, keys: WorkspaceKeys, admin_id: str) -> None:
    with transaction(make_sessionmaker(database.engine)) as db:
        teammates.remove_teammate(db, db.get_one(Workspace, keys.app_id), admin_id)


@pytest.fixture
def token_of(
    server: Server, database: Database, workspace: WorkspaceKeys
) -> Iterator[tuple[httpx.Client, Teammate]]:
    """A client whose API token a teammate made (the pages record who), and that teammate."""
    mate = make_teammate(database, workspace, "owner", "Tina Token")
    with transaction(make_sessionmaker(database.engine)) as db:
        token = workspaces.issue_token(
            db, db.get_one(Workspace, workspace.app_id), "zapier", admin_id=mate.id
        )
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        yield client, mate


def test_me_is_the_teammate_who_made_the_token(
    token_of: tuple[httpx.Client, Teammate], workspace: WorkspaceKeys
) -> None:
    client, mate = token_of
    me = ok(client.get("/me"))
    assert {k: v for k, v in me.items() if k != "app"} == admin_shape(mate)
    assert me["app"]["type"] == "app" and me["app"]["id_code"] == workspace.app_id
    assert me["app"]["name"] == "Test workspace"
    assert me["app"]["identity_verification"] is True  # new workspaces enforce it


def test_me_without_a_teammate_is_the_token_itself(api: httpx.Client, workspace: WorkspaceKeys) -> None:
    me = ok(api.get("/me"))
    assert me["type"] == "admin" and me["id"].startswith("token_")
    assert me["email"] is None and me["name"]
    assert me["app"]["id_code"] == workspace.app_id


def test_admins_lists_the_current_teammates_only(
    api: httpx.Client, owner: Teammate, agent: Teammate, database: Database, workspace: WorkspaceKeys
) -> None:
    leaver = make_teammate(database, workspace, "agent", "Lee Leaver")
    listed = ok(api.get("/admins"))
    assert listed["type"] == "admin.list"
    assert {a["id"] for a in listed["admins"]} == {owner.id, agent.id, leaver.id}
    assert admin_shape(agent) in listed["admins"]

    remove(database, workspace, leaver.id)
    assert {a["id"] for a in ok(api.get("/admins"))["admins"]} == {owner.id, agent.id}
    # records still name a removed teammate, so they can still be looked up
    assert ok(api.get(f"/admins/{leaver.id}"))["name"] == "Lee Leaver"


def test_one_admin(api: httpx.Client, agent: Teammate) -> None:
    assert ok(api.get(f"/admins/{agent.id}")) == admin_shape(agent)


def test_another_workspaces_teammates_are_invisible(
    api: httpx.Client, owner: Teammate, server: Server, database: Database
) -> None:
    keys = make_workspace(database, "Elsewhere")
    theirs = make_teammate(database, keys, "owner", "Their Owner")
    error_of(api.get(f"/admins/{theirs.id}"), 404, "not_found", "id")
    error_of(api.get("/admins/0000nope"), 404, "not_found", "id")
    assert theirs.id not in {a["id"] for a in ok(api.get("/admins"))["admins"]}
    headers = {"Authorization": f"Bearer {keys.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as other:
        assert [a["id"] for a in ok(other.get("/admins"))["admins"]] == [theirs.id]
        error_of(other.get(f"/admins/{owner.id}"), 404, "not_found", "id")
        assert ok(other.get("/me"))["app"]["id_code"] == keys.app_id


def test_admins_need_a_token(server: Server) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as anonymous:
        for path in ("/me", "/admins", "/admins/x"):
            assert anonymous.get(path).status_code == 401
