"""The messenger as an attacker uses it (design §4): what a signature covers is all that is trusted, and a
merge moves data into a user, never access. Every test here failed before issue 10's fixes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from contactmerge.domain.identity import user_hash
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.merges import identifiers_of
from contactmerge.storage.tables import Workspace
from tests.conftest import Database, Server, Teammate, WorkspaceKeys, make_teammate
from tests.helpers import finished
from tests.test_admin_pages import csrf_of, signed_in_client
from tests.test_messenger import ping, readable, say, settle


@pytest.fixture
def browser(server: Server) -> Iterator[httpx.Client]:
    """The attacker's browser: no token, only the public app_id."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def victim_browser(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def set_mode(database: Database, keys: WorkspaceKeys, mode: str, email_match: str | None = None) -> None:
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = db.get_one(Workspace, keys.app_id)
        workspace.identity_verification = mode
        if email_match:
            workspace.settings = {**workspace.settings, "email_match": email_match}


def signed(keys: WorkspaceKeys, identifier: str) -> str:
    return user_hash(keys.identity_secret, identifier)


def token(keys: WorkspaceKeys, secret: str | None = None, **claims: Any) -> str:
    return jwt.encode(claims, secret or keys.identity_secret, algorithm="HS256")


def victim_with_history(
    api: httpx.Client, victim_browser: httpx.Client, keys: WorkspaceKeys, **fields: Any
) -> dict[str, Any]:
    """A user who logged in with a valid signature and wrote something private."""
    user = api.post("/contacts", json={"role": "user", **fields}).json()
    identifier = fields.get("external_id") or fields["email"]
    login = ping(
        victim_browser,
        keys,
        **({"user_id": identifier} if "external_id" in fields else {"email": identifier}),
        user_hash=signed(keys, identifier),
    )
    assert login["logged_in"] is True and login["contact"]["id"] == user["id"]
    say(victim_browser, keys, login["anonymous_id"], "my card ends in 4242")
    return user


def type_email(client: httpx.Client, keys: WorkspaceKeys, anonymous_id: str, email: str) -> httpx.Response:
    """The widget's "leave your email": a claim."""
    return client.post(
        "/messenger/email", json={"app_id": keys.app_id, "anonymous_id": anonymous_id, "email": email}
    )


def post_json(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    """JSON as any client may send it: ASCII with escapes, so a lone surrogate (``\\ud800``) gets through."""
    return client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})


def all_contacts(api: httpx.Client) -> list[dict[str, Any]]:
    return list(api.get("/contacts", params={"per_page": 150}).json()["data"])


def test_a_signed_own_user_id_with_the_victims_email_logs_in_as_the_attacker_only(
    server: Server,
    browser: httpx.Client,
    victim_browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    database: Database,
) -> None:
    # The victim has no external_id yet: before, the attacker's signed id was written onto the victim.
    victim = victim_with_history(api, victim_browser, workspace, email="victim@example.com", name="Vic")
    login = ping(
        browser,
        workspace,
        user_id="attacker",
        email="Victim@Example.com",
        user_hash=signed(workspace, "attacker"),
    )
    assert login["logged_in"] is True
    assert login["contact"]["id"] != victim["id"]
    assert login["contact"]["user_id"] == "attacker" and login["contact"]["email"] is None
    assert readable(browser, workspace, login["anonymous_id"]) == []
    after = api.get(f"/contacts/{victim['id']}").json()
    assert (after["external_id"], after["email"], after["name"]) == (None, "victim@example.com", "Vic")
    attacker = api.get(f"/contacts/{login['contact']['id']}").json()
    assert attacker["email"] is None  # the typed email is a claim, not the attacker's address
    with transaction(make_sessionmaker(database.engine)) as db:
        claims = identifiers_of(db, workspace.app_id, attacker["id"])
        assert [(c.kind, c.normalized, c.provenance) for c in claims] == [
            ("email", "victim@example.com", "claimed")
        ]
    assert api.get("/merge_marks").json()["total_count"] == 0
    with signed_in_client(server, make_teammate(server.database, workspace)) as admin:
        page = admin.get(f"/admin/contacts/{attacker['id']}").text
    assert 'email <code>victim@example.com</code> <span class="badge">claimed</span>' in page


def test_a_signed_own_user_id_with_a_leads_typed_email_pulls_no_lead_in(
    browser: httpx.Client,
    victim_browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    database: Database,
) -> None:
    set_mode(database, workspace, "enforced", email_match="immediate")
    lead = ping(victim_browser, workspace)
    say(victim_browser, workspace, lead["anonymous_id"], "my private question")
    typed = type_email(victim_browser, workspace, lead["anonymous_id"], "lead@example.com")
    assert typed.status_code == 200, typed.text
    login = ping(
        browser,
        workspace,
        user_id="attacker",
        email="lead@example.com",
        user_hash=signed(workspace, "attacker"),
    )
    assert readable(browser, workspace, login["anonymous_id"]) == []
    assert api.get("/merge_marks").json()["total_count"] == 0
    assert api.get(f"/contacts/{lead['contact']['id']}").json()["role"] == "lead"  # not merged: 200, not 410
    # a later login of the attacker does not pull it in either
    again = ping(
        browser, workspace, login["anonymous_id"], user_id="attacker", user_hash=signed(workspace, "attacker")
    )
    assert readable(browser, workspace, again["anonymous_id"]) == []
    assert api.get("/merges").json()["total_count"] == 0


def test_a_session_merged_in_by_a_claimed_email_changes_nothing_on_the_user(
    browser: httpx.Client,
    victim_browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    database: Database,
) -> None:
    set_mode(database, workspace, "enforced", email_match="immediate")
    api.post("/data_attributes", json={"name": "plan", "model": "contact", "data_type": "string"})
    user = api.post(
        "/contacts",
        json={"role": "user", "external_id": "u-1", "email": "owner@example.com", "name": "Owner"},
    ).json()
    api.put(f"/contacts/{user['id']}", json={"custom_attributes": {"plan": "pro"}})
    stranger = ping(browser, workspace)
    say(browser, workspace, stranger["anonymous_id"], "hello")
    assert type_email(browser, workspace, stranger["anonymous_id"], "owner@example.com").status_code == 200
    settle(api, stranger["contact"]["id"])
    answer = ping(
        browser, workspace, stranger["anonymous_id"], name="Mallory", custom_attributes={"plan": "free"}
    )
    assert answer["attributes_refused"] is True
    assert answer["contact"] == {"id": None, "role": "lead", "user_id": None, "email": None, "name": None}
    retyped = type_email(browser, workspace, stranger["anonymous_id"], "evil@example.com")
    assert retyped.status_code == 403 and retyped.json()["errors"][0]["field"] == "email"
    after = api.get(f"/contacts/{user['id']}").json()
    assert (after["name"], after["email"], after["custom_attributes"]) == (
        "Owner",
        "owner@example.com",
        {"plan": "pro"},
    )
    # it may still write (marked unverified), and reads only its own messages
    say(browser, workspace, stranger["anonymous_id"], "still me")
    assert sorted(readable(browser, workspace, stranger["anonymous_id"])) == ["hello", "still me"]


def test_an_unsigned_email_login_in_optional_mode_reads_nothing_and_learns_nothing(
    browser: httpx.Client,
    victim_browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    database: Database,
    owner: Teammate,
) -> None:
    set_mode(database, workspace, "optional")
    victim = victim_with_history(api, victim_browser, workspace, email="victim@example.com", name="Vic")
    claim = ping(browser, workspace, email="victim@example.com")
    assert claim["logged_in"] is False
    assert claim["contact"] == {"id": None, "role": "lead", "user_id": None, "email": None, "name": None}
    assert readable(browser, workspace, claim["anonymous_id"]) == []
    refused = ping(browser, workspace, claim["anonymous_id"], name="Mallory")
    assert refused["attributes_refused"] is True
    # a claim may write: the message reaches the user marked as from an unverified sender, and the
    # claimant reads back only what it wrote
    say(browser, workspace, claim["anonymous_id"], "reset my password please")
    assert readable(browser, workspace, claim["anonymous_id"]) == ["reset my password please"]
    conversation = next(
        c
        for c in api.get("/conversations").json()["conversations"]
        if c["source"]["body"] == "reset my password please"
    )
    assert conversation["contacts"]["contacts"][0]["id"] == victim["id"]
    assert api.get(f"/conversations/{conversation['id']}").json()["source"]["unverified_sender"] is True
    assert api.get(f"/contacts/{victim['id']}").json()["name"] == "Vic"
    # an admin's answer in the claimant's own conversation reaches it; the victim's history never does
    reply = api.post(
        f"/conversations/{conversation['id']}/reply",
        json={"type": "admin", "admin_id": owner.id, "message_type": "comment", "body": "who are you?"},
    )
    assert reply.status_code == 200, reply.text
    assert readable(browser, workspace, claim["anonymous_id"]) == ["reset my password please", "who are you?"]


def test_an_unsigned_user_id_login_in_optional_mode_reads_nothing(
    browser: httpx.Client,
    victim_browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    database: Database,
) -> None:
    set_mode(database, workspace, "optional")
    victim_with_history(api, victim_browser, workspace, external_id="v-1", email="victim@example.com")
    claim = ping(browser, workspace, user_id="v-1")
    assert claim["logged_in"] is False and claim["contact"]["email"] is None
    assert readable(browser, workspace, claim["anonymous_id"]) == []
    wrong = browser.post(
        "/messenger/ping", json={"app_id": workspace.app_id, "user_id": "v-1", "user_hash": "0" * 64}
    )
    assert wrong.status_code == 403 and wrong.json()["errors"][0]["field"] == "user_hash"


@pytest.mark.parametrize(
    "bad",
    ["é" * 64, "", "\x00" * 64, "a" * 128, "\ud800", "0" * 10_000, "\uff21\uff22"],
    ids=["non-ascii", "empty", "nul", "long-hex", "lone-surrogate", "10kB", "fullwidth"],
)
def test_any_user_hash_value_is_a_clean_refusal(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, database: Database, bad: str
) -> None:
    set_mode(database, workspace, "optional")
    before = all_contacts(api)
    answer = post_json(
        browser, "/messenger/ping", {"app_id": workspace.app_id, "user_id": "someone", "user_hash": bad}
    )
    assert 400 <= answer.status_code < 500, answer.text
    body = answer.json()
    assert body["type"] == "error.list" and body["errors"][0]["field"] in ("user_hash", None)
    assert all_contacts(api) == before


@pytest.mark.parametrize(
    "bad",
    ["é", "", "\x00", "x" * 10_000, "\ud800", "a.b.c"],
    ids=["non-ascii", "empty", "nul", "10kB", "lone-surrogate", "garbage"],
)
def test_any_jwt_value_is_a_clean_refusal(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, bad: str
) -> None:
    before = all_contacts(api)
    answer = post_json(browser, "/messenger/ping", {"app_id": workspace.app_id, "intercom_user_jwt": bad})
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["type"] == "error.list"
    assert all_contacts(api) == before


@pytest.mark.parametrize(
    "bad", ["é" * 64, "", "\x00", "x" * 10_000], ids=["non-ascii", "empty", "nul", "10kB"]
)
def test_any_admin_csrf_value_is_a_clean_refusal(server: Server, owner: Teammate, bad: str) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        client.get("/admin/login")
        sign_in = client.post(
            "/admin/login", data={"email": owner.email, "password": owner.password, "csrf": bad}
        )
        assert 400 <= sign_in.status_code < 500
        assert "cm_admin=" not in sign_in.headers.get("set-cookie", "")
        form = client.get("/admin/login")
        assert (
            client.post(
                "/admin/login",
                data={"email": owner.email, "password": owner.password, "csrf": csrf_of(form.text)},
            ).status_code
            == 303
        )
        assert 400 <= client.post("/admin/logout", data={"csrf": bad}).status_code < 500
        assert client.get("/admin/duplicates").status_code == 200  # still signed in


def test_a_valid_jwt_logs_in_and_its_signed_email_is_trusted(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    login = ping(
        browser,
        workspace,
        intercom_user_jwt=token(
            workspace, user_id="j-1", email="Jo@Example.com", name="Jo", exp=int(time.time()) + 600
        ),
    )
    assert login["logged_in"] is True
    assert (login["contact"]["user_id"], login["contact"]["email"], login["contact"]["name"]) == (
        "j-1",
        "jo@example.com",
        "Jo",
    )
    say(browser, workspace, login["anonymous_id"], "hi from Jo")
    assert readable(browser, workspace, login["anonymous_id"]) == ["hi from Jo"]


@pytest.mark.parametrize(
    "case", ["expired", "other secret", "tampered", "alg none", "no user_id", "id mismatch"]
)
def test_an_invalid_jwt_is_refused_and_writes_nothing(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, case: str
) -> None:
    victim = api.post("/contacts", json={"role": "user", "external_id": "victim"}).json()
    before = all_contacts(api)
    good = token(workspace, user_id="attacker")
    extra: dict[str, Any] = {}
    if case == "expired":
        sent = token(workspace, user_id="victim", exp=int(time.time()) - 3600)
    elif case == "other secret":
        sent = token(workspace, secret="s" * 64, user_id="victim")
    elif case == "tampered":  # the attacker's own valid token with the payload swapped for the victim's
        header, _, signature = good.split(".")
        payload = token(workspace, user_id="victim").split(".")[1]
        sent = f"{header}.{payload}.{signature}"
    elif case == "alg none":
        sent = jwt.encode({"user_id": "victim"}, None, algorithm="none")
    elif case == "no user_id":
        sent = token(workspace, email="victim@example.com")
    else:
        sent, extra = good, {"user_id": "victim"}
    answer = browser.post(
        "/messenger/ping", json={"app_id": workspace.app_id, "intercom_user_jwt": sent, **extra}
    )
    assert answer.status_code == 403, answer.text
    assert answer.json()["errors"][0]["field"] == "intercom_user_jwt"
    assert all_contacts(api) == before
    assert api.get(f"/contacts/{victim['id']}").json()["external_id"] == "victim"


def test_new_workspaces_enforce_identity_verification(
    browser: httpx.Client, workspace: WorkspaceKeys
) -> None:
    refused = browser.post("/messenger/ping", json={"app_id": workspace.app_id, "user_id": "anyone"})
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "user_hash"


def test_an_email_a_user_took_over_from_a_claim_never_names_that_user(
    browser: httpx.Client,
    victim_browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    database: Database,
) -> None:
    """The attacker types the victim's email as a lead, then logs in as their own signed user: R1 gives
    the attacker's user the email, but only as a claim. It logs nobody in, pulls no lead (R2), and a CSV
    row with that email is not written onto the attacker."""
    set_mode(database, workspace, "enforced", email_match="immediate")
    lead = ping(browser, workspace)
    say(browser, workspace, lead["anonymous_id"], "hi")
    type_email(browser, workspace, lead["anonymous_id"], "victim@example.com")
    login = ping(
        browser, workspace, lead["anonymous_id"], user_id="attacker", user_hash=signed(workspace, "attacker")
    )
    settle(api, lead["contact"]["id"])
    attacker_id = login["contact"]["id"]
    assert api.get(f"/contacts/{attacker_id}").json()["email"] == "victim@example.com"

    other_lead = ping(victim_browser, workspace)
    say(victim_browser, workspace, other_lead["anonymous_id"], "the victim's own question")
    type_email(victim_browser, workspace, other_lead["anonymous_id"], "victim@example.com")
    assert (
        api.get(f"/contacts/{other_lead['contact']['id']}").status_code == 200
    )  # not merged into the attacker
    assert readable(browser, workspace, login["anonymous_id"]) == ["hi"]

    victim = ping(
        victim_browser,
        workspace,
        email="victim@example.com",
        user_hash=signed(workspace, "victim@example.com"),
    )
    assert victim["contact"]["id"] != attacker_id and victim["logged_in"] is True
    assert readable(browser, workspace, login["anonymous_id"]) == ["hi"]

    imported = api.post(
        "/imports",
        files={"file": ("people.csv", b"email,name\nvictim@example.com,Real Victim\n", "text/csv")},
        data={"role": "user"},
    )
    assert imported.status_code == 202, imported.text
    finished(api, "/imports/" + imported.json()["id"])
    assert api.get(f"/contacts/{attacker_id}").json()["name"] is None
