"""The messenger endpoints over HTTP: visitors, leads, logins (R1, R2) and what each browser may read (§4)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contactmerge.domain.identity import user_hash
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Workspace
from tests.conftest import Database, Server, WorkspaceKeys


@pytest.fixture
def browser(server: Server) -> Iterator[httpx.Client]:
    """What the widget is: no token, only the public app_id."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def ping(
    browser: httpx.Client, keys: WorkspaceKeys, anonymous_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    response = browser.post(
        "/messenger/ping", json={"app_id": keys.app_id, "anonymous_id": anonymous_id, **fields}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def say(browser: httpx.Client, keys: WorkspaceKeys, anonymous_id: str, body: str) -> dict[str, Any]:
    response = browser.post(
        "/messenger/messages", json={"app_id": keys.app_id, "anonymous_id": anonymous_id, "body": body}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def readable(browser: httpx.Client, keys: WorkspaceKeys, anonymous_id: str) -> list[str]:
    response = browser.get(
        "/messenger/conversations", params={"app_id": keys.app_id, "anonymous_id": anonymous_id}
    )
    assert response.status_code == 200, response.text
    return [p["body"] for c in response.json()["conversations"] for p in c["parts"]]


def settle(api: httpx.Client, contact_id: str, timeout: float = 10) -> dict[str, Any]:
    """Wait (bounded) until the in-process worker has merged ``contact_id``; the merge record it made."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = api.get("/merges", params={"contact_id": contact_id}).json()
        applied = [m for m in history["data"] if m["state"] == "applied" and m["from"] == contact_id]
        if applied:
            return dict(applied[0])
        time.sleep(0.05)
    raise AssertionError(f"{contact_id} was not merged within {timeout}s")


def test_a_visitor_becomes_a_lead_by_writing_and_merges_into_the_user_at_login(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    visitor = ping(browser, workspace, page_url="https://example.com/pricing")
    anonymous_id = visitor["anonymous_id"]
    assert visitor["contact"]["role"] == "visitor"
    say(browser, workspace, anonymous_id, "Do you have a free plan?")
    lead_id = visitor["contact"]["id"]
    assert api.get(f"/contacts/{lead_id}").json()["role"] == "lead"

    user = api.post(
        "/contacts", json={"role": "user", "external_id": "u-42", "email": "ada@example.com"}
    ).json()
    login = ping(
        browser,
        workspace,
        anonymous_id,
        user_id="u-42",
        user_hash=user_hash(workspace.identity_secret, "u-42"),
    )
    assert login["contact"]["id"] == user["id"] and login["logged_in"] is True
    record = settle(api, lead_id)
    assert record["reason"] == "session_cookie" and record["into"] == user["id"]
    gone = api.get(f"/contacts/{lead_id}")
    assert gone.status_code == 410 and user["id"] in gone.headers["link"]
    assert readable(browser, workspace, login["anonymous_id"]) == ["Do you have a free plan?"]


def test_a_visitors_events_and_session_join_the_user_at_once(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    visitor = ping(browser, workspace)
    user = api.post("/contacts", json={"role": "user", "external_id": "u-7"}).json()
    login = ping(
        browser,
        workspace,
        visitor["anonymous_id"],
        user_id="u-7",
        user_hash=user_hash(workspace.identity_secret, "u-7"),
    )
    assert login["contact"]["id"] == user["id"]
    assert api.get(f"/contacts/{visitor['contact']['id']}").status_code == 410
    history = api.get(f"/contacts/{user['id']}/merge_history").json()["data"]
    assert [(m["reason"], m["requested_by"]) for m in history] == [("session_cookie", "messenger")]


@pytest.mark.parametrize("bad_hash", ["missing", "wrong", "other user's"])
def test_enforced_identity_verification_refuses_and_changes_nothing(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, database: Database, bad_hash: str
) -> None:
    with transaction(make_sessionmaker(database.engine)) as db:
        db.get_one(Workspace, workspace.app_id).identity_verification = "enforced"
    visitor = ping(browser, workspace)
    say(browser, workspace, visitor["anonymous_id"], "hello")
    api.post("/contacts", json={"role": "user", "external_id": "victim", "email": "victim@example.com"})
    before = api.get("/contacts").json()
    given = {
        "missing": None,
        "wrong": "0" * 64,
        "other user's": user_hash(workspace.identity_secret, "attacker"),
    }[bad_hash]
    refused = browser.post(
        "/messenger/ping",
        json={
            "app_id": workspace.app_id,
            "anonymous_id": visitor["anonymous_id"],
            "user_id": "victim",
            "user_hash": given,
        },
    )
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "user_hash"
    assert api.get("/contacts").json() == before
    assert api.get("/merge_marks").json()["total_count"] == 0
    assert readable(browser, workspace, visitor["anonymous_id"]) == ["hello"]


def test_a_lead_that_typed_a_users_email_is_merged_at_login_but_never_reads_the_users_conversations(
    browser: httpx.Client,
    server: Server,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    request: pytest.FixtureRequest,
) -> None:
    user = api.post(
        "/contacts", json={"role": "user", "external_id": "u-1", "email": "owner@example.com"}
    ).json()
    owner_browser = httpx.Client(base_url=server.base_url, timeout=30)
    request.addfinalizer(owner_browser.close)
    owner = ping(
        owner_browser, workspace, user_id="u-1", user_hash=user_hash(workspace.identity_secret, "u-1")
    )
    say(owner_browser, workspace, owner["anonymous_id"], "my invoice is wrong")

    stranger = ping(browser, workspace)
    say(browser, workspace, stranger["anonymous_id"], "hi, I am the owner")
    typed = browser.post(
        "/messenger/email",
        json={
            "app_id": workspace.app_id,
            "anonymous_id": stranger["anonymous_id"],
            "email": "Owner@Example.com",
        },
    )
    assert typed.status_code == 200, typed.text
    marks = api.get("/merge_marks").json()["data"]
    assert [(m["reason"], m["state"]) for m in marks] == [("email_match", "waiting")]  # on_login: not yet

    ping(
        owner_browser,
        workspace,
        owner["anonymous_id"],
        user_id="u-1",
        user_hash=user_hash(workspace.identity_secret, "u-1"),
    )
    record = settle(api, stranger["contact"]["id"])
    assert record["reason"] == "email_match"
    assert readable(browser, workspace, stranger["anonymous_id"]) == ["hi, I am the owner"]
    again = ping(browser, workspace, stranger["anonymous_id"])
    assert again["contact"] == {"id": None, "role": "lead", "user_id": None, "email": None, "name": None}
    assert sorted(readable(owner_browser, workspace, owner["anonymous_id"])) == [
        "hi, I am the owner",
        "my invoice is wrong",
    ]
    conversation = next(
        c
        for c in api.get("/conversations").json()["conversations"]
        if c["source"]["body"] == "hi, I am the owner"
    )
    assert conversation["contacts"]["contacts"][0]["id"] == user["id"]
    part = api.get(f"/conversations/{conversation['id']}").json()
    assert part["source"]["unverified_sender"] is True


def test_another_user_on_the_same_browser_gets_a_new_session_and_no_merge(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    first = ping(browser, workspace, user_id="a", user_hash=user_hash(workspace.identity_secret, "a"))
    say(browser, workspace, first["anonymous_id"], "from a")
    second = ping(
        browser,
        workspace,
        first["anonymous_id"],
        user_id="b",
        user_hash=user_hash(workspace.identity_secret, "b"),
    )
    assert second["anonymous_id"] != first["anonymous_id"]
    assert readable(browser, workspace, second["anonymous_id"]) == []
    assert api.get("/merges").json()["total_count"] == 0
    assert api.get("/merge_marks").json()["total_count"] == 0


def test_attribute_updates_are_throttled_but_pings_still_count(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    api.post("/data_attributes", json={"name": "clicks", "model": "contact", "data_type": "integer"})
    anonymous_id = ping(browser, workspace)["anonymous_id"]
    results = [ping(browser, workspace, anonymous_id, custom_attributes={"clicks": i}) for i in range(22)]
    assert [r["throttled"] for r in results] == [False] * 20 + [True] * 2
    contact = api.get(f"/contacts/{results[0]['contact']['id']}").json()
    assert contact["custom_attributes"] == {"clicks": 19}
    assert contact["last_seen_at"] is not None


def test_shutdown_forgets_the_browser(browser: httpx.Client, workspace: WorkspaceKeys) -> None:
    login = ping(browser, workspace, user_id="u", user_hash=user_hash(workspace.identity_secret, "u"))
    say(browser, workspace, login["anonymous_id"], "secret")
    assert (
        browser.post(
            "/messenger/shutdown", json={"app_id": workspace.app_id, "anonymous_id": login["anonymous_id"]}
        ).status_code
        == 200
    )
    after = browser.get(
        "/messenger/conversations", params={"app_id": workspace.app_id, "anonymous_id": login["anonymous_id"]}
    )
    assert after.status_code == 404
    fresh = ping(browser, workspace, login["anonymous_id"])
    assert fresh["contact"]["role"] == "visitor" and fresh["anonymous_id"] != login["anonymous_id"]


def test_unknown_app_id_and_bad_payloads(browser: httpx.Client, workspace: WorkspaceKeys) -> None:
    unknown = browser.post("/messenger/ping", json={"app_id": "nope"})
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "app_id"
    bad = browser.post("/messenger/ping", json={"app_id": workspace.app_id, "email": "not-an-email"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "email"
    preflight = browser.options(
        "/messenger/ping", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in browser.get("/contacts").headers


def test_a_returning_browsers_visit_is_recorded(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, database: Database
) -> None:
    """Page views are written in batches; within a few seconds the contact's last_seen_at moves on."""
    first = ping(browser, workspace)
    with transaction(make_sessionmaker(database.engine)) as db:  # as if the first visit were long ago
        from contactmerge.storage.tables import Contact

        db.get_one(Contact, (workspace.app_id, first["contact"]["id"])).last_seen_at = 1_000
    again = ping(browser, workspace, first["anonymous_id"], page_url="https://example.com/docs")
    assert again["contact"]["id"] == first["contact"]["id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        seen = api.get(f"/contacts/{first['contact']['id']}")
        if seen.status_code == 200 and (seen.json()["last_seen_at"] or 0) > 1_000:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the visit was not recorded within 10 s")
