"""Teammates (issue 13): roles, sign-in by email and password, sessions that end, the Team page, the CLI,
and every change naming its actor (a teammate, or an API token by its label)."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select, update

from contactmerge.domain.teammates import Role
from contactmerge.errors import BadRequest, Conflict
from contactmerge.services import demo, teammates
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Admin, AdminSession, Import, Workspace
from tests.conftest import Database, Server, Teammate, WorkspaceKeys, make_teammate, make_workspace
from tests.helpers import finished, run_cli
from tests.test_admin_pages import csrf_of, make, signed_in_client

# --- the service --------------------------------------------------------------------------------------


def test_bad_teammates_are_refused_naming_the_field(database: Database, workspace: WorkspaceKeys) -> None:
    good = {"email": "kim@example.com", "name": "Kim", "role": "agent", "password": "long enough pw"}
    bad = [
        ({"email": "not an email"}, "email"),
        ({"name": "  "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"role": "admin"}, "role"),
        ({"password": "short"}, "password"),
        ({"password": "x" * 1025}, "password"),
    ]
    sessions = make_sessionmaker(database.engine)
    for change, field in bad:
        with pytest.raises(BadRequest) as refused, transaction(sessions) as db:
            teammates.create_teammate(db, db.get_one(Workspace, workspace.app_id), **(good | change))
        assert refused.value.field == field
    with transaction(sessions) as db:
        assert teammates.list_teammates(db, db.get_one(Workspace, workspace.app_id)) == []
        teammates.create_teammate(db, db.get_one(Workspace, workspace.app_id), **good)
    with pytest.raises(Conflict) as twice, transaction(sessions) as db:
        teammates.create_teammate(
            db, db.get_one(Workspace, workspace.app_id), **(good | {"email": "KIM@example.com"})
        )
    assert twice.value.field == "email"


def test_the_last_owner_stays_an_owner(database: Database, workspace: WorkspaceKeys) -> None:
    only = make_teammate(database, workspace, "owner")
    sessions = make_sessionmaker(database.engine)
    for act in (
        lambda db, space: teammates.change_role(db, space, only.id, "agent"),
        lambda db, space: teammates.remove_teammate(db, space, only.id),
    ):
        with pytest.raises(Conflict), transaction(sessions) as db:
            act(db, db.get_one(Workspace, workspace.app_id))
    second = make_teammate(database, workspace, "owner")
    with transaction(sessions) as db:
        space = db.get_one(Workspace, workspace.app_id)
        assert teammates.change_role(db, space, only.id, "agent").role == Role.AGENT
        with pytest.raises(Conflict):
            teammates.remove_teammate(db, space, second.id)


def test_a_password_signs_in_only_to_its_own_teammate(database: Database) -> None:
    first, second = make_workspace(database, "First"), make_workspace(database, "Second")
    ann = make_teammate(database, first, "agent")
    with transaction(make_sessionmaker(database.engine)) as db:
        # the same email in another workspace, with another password
        twin = teammates.create_teammate(
            db,
            db.get_one(Workspace, second.app_id),
            email=ann.email,
            name="Ann 2",
            role="owner",
            password="another one!",
        )
        assert [(a.id, w.app_id) for a, w in teammates.verify(db, ann.email, ann.password)] == [
            (ann.id, first.app_id)
        ]
        assert [a.id for a, _ in teammates.verify(db, ann.email.upper(), "another one!")] == [twin.id]
        assert teammates.verify(db, ann.email, "wrong password") == []
        assert teammates.verify(db, "nobody@example.com", ann.password) == []
        assert teammates.verify(db, "not an email", ann.password) == []


# --- sign-in, sessions --------------------------------------------------------------------------------


def sign_in(client: httpx.Client, email: str, password: str, **extra: str) -> httpx.Response:
    form = client.get("/admin/login")
    return client.post(
        "/admin/login", data={"email": email, "password": password, "csrf": csrf_of(form.text), **extra}
    )


def test_an_api_token_no_longer_signs_in_to_the_pages(server: Server, workspace: WorkspaceKeys) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        form = client.get("/admin/login")
        assert 'name="token"' not in form.text and 'name="password"' in form.text
        answer = client.post("/admin/login", data={"token": workspace.token, "csrf": csrf_of(form.text)})
        assert answer.status_code == 401 and "cm_admin=" not in answer.headers.get("set-cookie", "")
        client.cookies.set("cm_admin", workspace.token, path="/admin")  # nor as a cookie
        assert client.get("/admin/contacts").status_code == 303


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(server: Server, owner: Teammate) -> None:
    with signed_in_client(server, owner) as client:
        cookie = client.cookies.get("cm_admin")
        page = client.get("/admin/contacts")
        assert page.status_code == 200 and "Olive Owner" in page.text
        assert client.post("/admin/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    with httpx.Client(base_url=server.base_url) as copy:
        copy.cookies.set("cm_admin", cookie or "", path="/admin")
        assert copy.get("/admin/contacts").status_code == 303  # to the sign-in form


def test_an_expired_session_signs_in_again(server: Server, owner: Teammate) -> None:
    with signed_in_client(server, owner) as client:
        assert client.get("/admin/contacts").status_code == 200
        with transaction(make_sessionmaker(server.database.engine)) as db:
            db.execute(update(AdminSession).where(AdminSession.admin_id == owner.id).values(expires_at=1))
        answer = client.get("/admin/contacts")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/admin/login")


def test_a_removed_teammate_is_signed_out_and_cannot_sign_in(
    server: Server, workspace: WorkspaceKeys, owner: Teammate, agent: Teammate
) -> None:
    with signed_in_client(server, owner) as boss, signed_in_client(server, agent) as them:
        team = boss.get("/admin/team")
        assert team.status_code == 200 and agent.email in team.text
        removed = boss.post(f"/admin/team/{agent.id}/remove", data={"csrf": csrf_of(team.text)})
        assert removed.status_code == 303
        assert them.get("/admin/contacts").status_code == 303
        assert sign_in(them, agent.email, agent.password).status_code == 401
        assert agent.email not in boss.get("/admin/team").text


def test_one_email_in_two_workspaces_chooses_one(server: Server) -> None:
    first, second = make_workspace(server.database, "Alpha"), make_workspace(server.database, "Beta")
    ann = make_teammate(server.database, first, "agent")
    with transaction(make_sessionmaker(server.database.engine)) as db:
        teammates.create_teammate(
            db,
            db.get_one(Workspace, second.app_id),
            email=ann.email,
            name="Ann",
            role="agent",
            password=ann.password,
        )
    with httpx.Client(base_url=server.base_url) as client:
        asked = sign_in(client, ann.email, ann.password)
        assert asked.status_code == 200 and "cm_admin=" not in asked.headers.get("set-cookie", "")
        assert "choose one" in asked.text and "Alpha" in asked.text and "Beta" in asked.text
        chosen = sign_in(client, ann.email, ann.password, workspace=second.app_id)
        assert chosen.status_code == 303
        assert "Beta" in client.get("/admin/contacts").text


# --- roles on the pages -------------------------------------------------------------------------------


def test_an_agent_may_not_force_merge_undo_apply_batches_import_or_manage_the_team(
    server: Server, api: httpx.Client, workspace: WorkspaceKeys, owner: Teammate, agent: Teammate
) -> None:
    zed1 = make(api, role="user", external_id="z1", phone="+15125550199", name="Zed")
    zed2 = make(api, role="user", external_id="z2", phone="+15125550199", name="Zed")
    user = make(api, role="user", external_id="u1", email="ada@example.com", name="Ada")
    lead = make(api, role="lead", email="ada@example.com")
    assert api.post("/contacts/merge", json={"from": lead, "into": user}).status_code == 200
    [merged] = api.get("/merges", params={"contact_id": user}).json()["data"]
    batch = finished(
        api, "/batches/" + api.post("/duplicates/apply", json={"cluster_ids": ["none"]}).json()["id"]
    )
    with signed_in_client(server, agent) as client:
        csrf = csrf_of(client.get("/admin/contacts").text)
        refused = [
            client.post("/admin/merges", data={"csrf": csrf, "from": zed1, "into": zed2, "force": "true"}),
            client.post(f"/admin/merges/{merged['id']}/undo", data={"csrf": csrf}),
            client.post("/admin/duplicates/apply", data={"csrf": csrf}),
            client.post(f"/admin/batches/{batch['id']}/undo", data={"csrf": csrf}),
            client.post(
                "/admin/imports",
                data={"csrf": csrf, "role": "lead"},
                files={"file": ("a.csv", b"email\nx@example.com\n")},
            ),
            client.get("/admin/team"),
            client.post("/admin/tokens", data={"csrf": csrf, "name": "mine"}),
            client.post(f"/admin/team/{owner.id}/role", data={"csrf": csrf, "role": "agent"}),
        ]
        for answer in refused:
            assert answer.status_code == 403, answer.request.url
            assert "only an owner may" in answer.text
        assert "/admin/team" not in client.get("/admin/contacts").text  # no Team link for an agent
    assert api.get(f"/contacts/{zed1}").status_code == 200 and api.get(f"/contacts/{zed2}").status_code == 200
    assert api.get(f"/merges/{merged['id']}").json()["state"] == "applied"
    with make_sessionmaker(server.database.engine)() as db:
        assert (
            db.scalar(select(func.count()).select_from(Import).where(Import.workspace_id == workspace.app_id))
            == 0
        )
        assert db.get_one(Admin, (workspace.app_id, owner.id)).role == "owner"


def test_merges_and_undos_through_the_pages_name_the_teammate(
    server: Server, api: httpx.Client, owner: Teammate, agent: Teammate
) -> None:
    user = make(api, role="user", external_id="g1", email="grace@example.com", name="Grace")
    lead = make(api, role="lead", email="grace.h@example.com")
    with signed_in_client(server, agent) as client:
        csrf = csrf_of(client.get("/admin/contacts").text)
        assert (
            client.post("/admin/merges", data={"csrf": csrf, "from": lead, "into": user}).status_code == 303
        )
    [record] = api.get("/merges", params={"contact_id": user}).json()["data"]
    assert record["requested_by"] == f"admin:{agent.id}"
    with signed_in_client(server, owner) as client:
        page = client.get(f"/admin/contacts/{user}").text
        assert '<span class="actor">Aggie Agent</span>' in page
        assert (
            client.post(f"/admin/merges/{record['id']}/undo", data={"csrf": csrf_of(page)}).status_code == 303
        )
        assert 'by <span class="actor">Olive Owner</span>' in client.get(f"/admin/contacts/{user}").text
    assert api.get(f"/merges/{record['id']}").json()["undone_by"] == f"admin:{owner.id}"


def test_the_api_records_its_token_by_label(
    server: Server, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    user = make(api, role="user", external_id="t1", email="tess@example.com")
    lead = make(api, role="lead", email="tess@example.com")
    assert api.post("/contacts/merge", json={"from": lead, "into": user}).status_code == 200
    [merge] = api.get("/merges", params={"contact_id": user}).json()["data"]
    assert merge["requested_by"] == "token:default"
    undone = api.post(f"/merges/{merge['id']}/undo").json()
    assert undone["undone_by"] == "token:default"


def test_the_team_page_adds_teammates_and_makes_and_revokes_tokens(
    server: Server, workspace: WorkspaceKeys, owner: Teammate
) -> None:
    with signed_in_client(server, owner) as client:
        page = client.get("/admin/team").text
        bad = client.post(
            "/admin/team",
            data={
                "csrf": csrf_of(page),
                "email": "kim@example.com",
                "name": "Kim",
                "role": "agent",
                "password": "short",
            },
        )
        assert bad.status_code == 400 and "at least 10 characters" in bad.text and "(password)" in bad.text
        added = client.post(
            "/admin/team",
            data={
                "csrf": csrf_of(page),
                "email": "kim@example.com",
                "name": "Kim",
                "role": "agent",
                "password": "kim's long password",
            },
        )
        assert added.status_code == 303
        made = client.post("/admin/tokens", data={"csrf": csrf_of(page), "name": "zapier"})
        assert made.status_code == 200
        token = made.text.split('id="new-token"')[1].split("<code>")[1].split("</code>")[0]
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as zapier:
            assert zapier.get("/me").json()["id"] == owner.id  # the token acts for the teammate who made it
            lead = zapier.post("/contacts", json={"role": "lead", "email": "z@example.com"}).json()["id"]
            user = zapier.post(
                "/contacts", json={"role": "user", "external_id": "z", "email": "z@example.com"}
            ).json()["id"]
            assert zapier.post("/contacts/merge", json={"from": lead, "into": user}).status_code == 200
            [merge] = zapier.get("/merges", params={"contact_id": user}).json()["data"]
            assert merge["requested_by"] == "token:zapier"
            [row] = [
                t for t in client.get("/admin/team").text.split('<tr class="token">')[1:] if "zapier" in t
            ]
            token_id = row.split("/admin/tokens/")[1].split("/revoke")[0]
            assert (
                client.post(f"/admin/tokens/{token_id}/revoke", data={"csrf": csrf_of(page)}).status_code
                == 303
            )
            assert zapier.get("/me").status_code == 401
    with httpx.Client(base_url=server.base_url) as kim:
        assert sign_in(kim, "kim@example.com", "kim's long password").status_code == 303


def test_another_workspaces_owner_gets_404_on_this_team(
    server: Server, owner: Teammate, agent: Teammate
) -> None:
    stranger = make_teammate(server.database, make_workspace(server.database, "Elsewhere"), "owner")
    with signed_in_client(server, stranger) as client:
        csrf = csrf_of(client.get("/admin/team").text)
        for path in (f"/admin/team/{agent.id}/remove", f"/admin/team/{agent.id}/password"):
            assert (
                client.post(path, data={"csrf": csrf, "password": "a long new password"}).status_code == 404
            )
        assert (
            client.post(f"/admin/team/{agent.id}/role", data={"csrf": csrf, "role": "owner"}).status_code
            == 404
        )
        assert agent.email not in client.get("/admin/team").text
    with signed_in_client(server, agent):
        pass  # still signs in: nothing above touched them


# --- the CLI and the demo -----------------------------------------------------------------------------


def test_admin_create_list_password_and_remove_from_the_cli(database: Database) -> None:
    keys = make_workspace(database, "CLI team")
    where = ("--workspace", keys.app_id)
    made = run_cli(
        database.url,
        "admin",
        "create",
        "Ops@Example.com",
        "--name",
        "Ops",
        "--role",
        "owner",
        *where,
        "--json",
    )
    assert made.returncode == 0, made.stderr
    shown = json.loads(made.stdout)
    assert (shown["email"], shown["role"], shown["workspace"]) == ("Ops@Example.com", "owner", keys.app_id)
    with transaction(make_sessionmaker(database.engine)) as db:
        assert [a.id for a, _ in teammates.verify(db, "ops@example.com", shown["password"])] == [shown["id"]]
    again = run_cli(database.url, "admin", "create", "ops@example.com", "--name", "Ops", *where)
    assert again.returncode == 1 and "already has the email" in again.stdout + again.stderr
    typed = run_cli(
        database.url,
        "admin",
        "create",
        "a@example.com",
        "--name",
        "A",
        *where,
        "--password-stdin",
        input="typed password\n",
    )
    assert typed.returncode == 0 and "typed password" not in typed.stdout
    listed = run_cli(database.url, "admin", "list", *where, "--json")
    assert sorted(r["email"] for r in json.loads(listed.stdout)) == ["Ops@Example.com", "a@example.com"]
    assert (
        run_cli(
            database.url, "admin", "password", "a@example.com", *where, "--password-stdin", input="x\n"
        ).returncode
        == 1
    )
    assert run_cli(database.url, "admin", "remove", "a@example.com", *where).returncode == 0
    assert (
        run_cli(database.url, "admin", "remove", "ops@example.com", *where).returncode == 1
    )  # the last owner
    with transaction(make_sessionmaker(database.engine)) as db:
        assert teammates.verify(db, "a@example.com", "typed password") == []


def test_the_demo_prints_an_owner_and_an_agent_who_can_sign_in(isolated_database: Database) -> None:
    sessions = make_sessionmaker(isolated_database.engine)
    for _ in range(2):  # made, then given new passwords on the next start
        with transaction(sessions) as db:
            loaded = demo.ensure_demo(db)
        with transaction(sessions) as db:
            for email, _, role in demo.DEMO_TEAM:
                [(admin, _)] = teammates.verify(db, email, loaded.passwords[email])
                assert admin.role == role


def test_review_decisions_and_batches_through_the_pages_name_the_teammate(
    server: Server, api: httpx.Client, owner: Teammate, agent: Teammate
) -> None:
    make(api, role="lead", email="bo@example.com", name="Bo")
    make(api, role="lead", email="bo@example.com", name="Bo")
    make(api, role="lead", email="cy@example.com", name="Cy")
    make(api, role="lead", email="cy@example.com", name="Cy")
    clusters = {c["keys"][0]["value"]: c for c in api.get("/duplicates").json()["data"]}
    with signed_in_client(server, agent) as client:
        csrf = csrf_of(client.get("/admin/duplicates").text)
        bo = clusters["bo@example.com"]["id"]
        assert client.post(f"/admin/duplicates/{bo}/reject", data={"csrf": csrf}).status_code == 303
        assert f"by {agent.name}" in client.get("/admin/duplicates").text
    [rejected] = [c for c in api.get("/duplicates").json()["data"] if c["id"] == bo]
    assert (rejected["decision"], rejected["decided_by"]) == ("rejected", f"admin:{agent.id}")
    with signed_in_client(server, owner) as client:
        csrf = csrf_of(client.get("/admin/duplicates").text)
        started = client.post("/admin/duplicates/apply", data={"csrf": csrf})
        assert started.status_code == 303
        batch = finished(api, started.headers["location"].replace("/admin", ""))
        assert batch["requested_by"] == f"admin:{owner.id}" and batch["counts"]["merged"] == 1
        assert owner.name in client.get(started.headers["location"]).text
    [merge] = api.get("/merges", params={"batch_id": batch["id"]}).json()["data"]
    assert merge["requested_by"] == f"admin:{owner.id}"


def test_a_note_from_the_contact_page_names_its_teammate_and_bad_ones_change_nothing(
    server: Server, api: httpx.Client, agent: Teammate
) -> None:
    user = make(api, role="user", external_id="n1", email="nora@example.com", name="Nora")
    with signed_in_client(server, agent) as client:
        csrf = csrf_of(client.get(f"/admin/contacts/{user}").text)
        for body in ("", "   ", "x" * 65_537):
            refused = client.post(f"/admin/contacts/{user}/notes", data={"csrf": csrf, "body": body})
            assert refused.status_code == 400
        added = client.post(
            f"/admin/contacts/{user}/notes", data={"csrf": csrf, "body": "Asked for a refund."}
        )
        assert added.status_code == 303
        page = client.get(f"/admin/contacts/{user}").text
        assert "Asked for a refund." in page and f'by <span class="actor">{agent.name}</span>' in page
    [note] = api.get(f"/contacts/{user}/notes").json()["data"]
    assert note["body"] == "Asked for a refund." and note["author"]["id"] == agent.id


def test_signing_in_lands_in_the_inbox(server: Server, agent: Teammate) -> None:
    with signed_in_client(server, agent) as client:
        landed = client.get("/admin", follow_redirects=True)
        assert landed.status_code == 200 and str(landed.url).endswith("/admin/inbox")
