"""The Visitors API over HTTP: visitors made by the messenger, found, updated and converted as in Intercom."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from intercom import Intercom, UpdateVisitorRequestWithId, UpdateVisitorRequestWithUserId, Visitor
from intercom.contacts.types import ContactsMergeLeadInUserResponse
from intercom.errors import NotFoundError
from intercom.visitors import UserWithId, UserWithUserId, VisitorWithId, VisitorWithUserId

from contactmerge.domain.identity import user_hash
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Workspace
from tests.conftest import Database, Server, WorkspaceKeys, make_workspace


@pytest.fixture
def browser(server: Server) -> Iterator[httpx.Client]:
    """The widget: no token, only the public app_id."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def ping(browser: httpx.Client, keys: WorkspaceKeys, **fields: Any) -> dict[str, Any]:
    response = browser.post("/messenger/ping", json={"app_id": keys.app_id, **fields})
    assert response.status_code == 200, response.text
    return dict(response.json())


def new_visitor(browser: httpx.Client, keys: WorkspaceKeys, **fields: Any) -> tuple[str, str]:
    """A visitor made by a first page view: (its contact id, its anonymous id)."""
    seen = ping(browser, keys, **fields)
    assert seen["contact"]["role"] == "visitor"
    return seen["contact"]["id"], seen["anonymous_id"]


def attribute(api: httpx.Client, name: str, data_type: str) -> None:
    response = api.post("/data_attributes", json={"name": name, "model": "contact", "data_type": data_type})
    assert response.status_code == 200, response.text


def user(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/contacts", json={"role": "user", **fields})
    assert response.status_code == 200, response.text
    return dict(response.json())


def state(api: httpx.Client, anonymous_id: str) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    visitor = api.get("/visitors", params={"user_id": anonymous_id})
    found = {k: v for k, v in visitor.json().items() if k != "request_id"}
    return {
        "visitor": (visitor.status_code, found),
        "contacts": api.get("/contacts").json()["data"],
        "merges": api.get("/merges").json()["data"],
    }


def error(response: httpx.Response, status: int) -> tuple[str, str | None]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error.list"
    (entry,) = body["errors"]
    return entry["code"], entry.get("field")


# --- GET /visitors -------------------------------------------------------------------------------------


def test_a_visitor_is_found_by_its_anonymous_id_in_intercoms_shape(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    visitor_id, anonymous_id = new_visitor(browser, workspace, name="Curious Cat")
    tag = api.post("/tags", json={"name": "pricing-page"}).json()
    assert api.post(f"/contacts/{visitor_id}/tags", json={"id": tag["id"]}).status_code == 200

    response = api.get("/visitors", params={"user_id": anonymous_id})

    assert response.status_code == 200, response.text
    found = response.json()
    assert {k: found[k] for k in ("type", "id", "user_id", "anonymous", "name", "app_id", "email")} == {
        "type": "visitor",
        "id": visitor_id,
        "user_id": anonymous_id,
        "anonymous": True,
        "name": "Curious Cat",
        "app_id": workspace.app_id,
        "email": None,
    }
    assert found["tags"] == {
        "type": "tag.list",
        "tags": [{"type": "tag", "id": tag["id"], "name": "pricing-page"}],
    }
    assert found["segments"] == {"type": "segment.list", "segments": []}
    assert found["custom_attributes"] == {}
    assert found["last_request_at"] == found["las_request_at"] >= found["created_at"] > 0
    assert found["updated_at"] >= found["created_at"]


def test_a_claimed_email_shows_on_the_visitor(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    _, anonymous_id = new_visitor(browser, workspace)
    typed = browser.post(
        "/messenger/email",
        json={"app_id": workspace.app_id, "anonymous_id": anonymous_id, "email": "Kit@Example.com"},
    )
    assert typed.status_code == 200, typed.text
    assert api.get("/visitors", params={"user_id": anonymous_id}).json()["email"] == "Kit@Example.com"


def _lead(browser: httpx.Client, api: httpx.Client, keys: WorkspaceKeys) -> tuple[str, str]:
    """A visitor that wrote a message, so it is a lead now (same id, same anonymous id)."""
    visitor_id, anonymous_id = new_visitor(browser, keys)
    said = browser.post(
        "/messenger/messages", json={"app_id": keys.app_id, "anonymous_id": anonymous_id, "body": "hi"}
    )
    assert said.status_code == 200, said.text
    return visitor_id, anonymous_id


def _logged_in_user(browser: httpx.Client, api: httpx.Client, keys: WorkspaceKeys) -> tuple[str, str]:
    """A session opened by a user's own login: its anonymous id names no visitor."""
    signed = ping(browser, keys, user_id="u-login", user_hash=user_hash(keys.identity_secret, "u-login"))
    return signed["contact"]["id"], signed["anonymous_id"]


FIND_MISSES: dict[str, Callable[[httpx.Client, httpx.Client, WorkspaceKeys], tuple[str, str]]] = {
    "unknown anonymous id": lambda b, a, k: ("", "A" * 24),
    "malformed anonymous id": lambda b, a, k: ("", "not an id!"),
    "the visitor became a lead": _lead,
    "a user's own session": _logged_in_user,
}


@pytest.mark.parametrize("case", sorted(FIND_MISSES))
def test_no_visitor_answers_404_naming_user_id(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, case: str
) -> None:
    contact_id, anonymous_id = FIND_MISSES[case](browser, api, workspace)
    response = api.get("/visitors", params={"user_id": anonymous_id})
    assert error(response, 404) == ("not_found", "user_id")
    if contact_id:  # the message says where the contact went
        assert f"/contacts/{contact_id}" in response.json()["errors"][0]["message"]


def test_user_id_is_required(api: httpx.Client) -> None:
    assert error(api.get("/visitors"), 400) == ("parameter_not_found", "user_id")


def test_a_visitor_merged_at_login_answers_410_pointing_at_the_user(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    visitor_id, anonymous_id = new_visitor(browser, workspace)
    person = user(api, external_id="u-9")
    ping(
        browser,
        workspace,
        anonymous_id=anonymous_id,
        user_id="u-9",
        user_hash=user_hash(workspace.identity_secret, "u-9"),
    )

    response = api.get("/visitors", params={"user_id": anonymous_id})

    assert error(response, 410) == ("contact_merged", "user_id")
    assert response.headers["link"] == f'</contacts/{person["id"]}>; rel="canonical"'
    assert visitor_id in response.json()["errors"][0]["message"]


# --- PUT /visitors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("named_by", ["id", "user_id"])
def test_update_sets_the_name_and_merges_custom_attributes(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, named_by: str
) -> None:
    attribute(api, "plan", "string")
    attribute(api, "visits", "integer")
    visitor_id, anonymous_id = new_visitor(browser, workspace)
    name = {"id": visitor_id, "user_id": anonymous_id}[named_by]
    first = api.put("/visitors", json={named_by: name, "custom_attributes": {"plan": "pro", "visits": 2}})
    assert first.status_code == 200, first.text

    second = api.put("/visitors", json={named_by: name, "name": "Ada", "custom_attributes": {"plan": None}})

    assert second.status_code == 200, second.text
    body = second.json()
    assert (body["type"], body["id"], body["user_id"]) == ("visitor", visitor_id, anonymous_id)
    assert (body["name"], body["custom_attributes"]) == ("Ada", {"visits": 2})
    assert api.get("/visitors", params={"user_id": anonymous_id}).json() == body


INVALID = "parameter_invalid"
UPDATE_REFUSALS: list[tuple[str, dict[str, Any], int, str, str]] = [
    ("no name for the visitor", {"name": "X"}, 400, "parameter_not_found", "id"),
    ("unknown id", {"id": "0" * 24, "name": "X"}, 404, "not_found", "id"),
    ("unknown user_id", {"user_id": "B" * 24, "name": "X"}, 404, "not_found", "user_id"),
    ("undefined attribute", {"custom_attributes": {"no": 1}}, 400, INVALID, "custom_attributes.no"),
    ("mistyped attribute", {"custom_attributes": {"visits": "x"}}, 400, INVALID, "custom_attributes.visits"),
    ("unknown body field", {"email": "a@example.com"}, 400, "parameter_invalid", "email"),
    ("overlong name", {"name": "x" * 256}, 400, "parameter_invalid", "name"),
]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"), [c[1:] for c in UPDATE_REFUSALS], ids=[c[0] for c in UPDATE_REFUSALS]
)
def test_a_refused_update_names_the_field_and_changes_nothing(
    browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    body: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    attribute(api, "visits", "integer")
    visitor_id, anonymous_id = new_visitor(browser, workspace, name="Before")
    before = state(api, anonymous_id)
    named = {"id": visitor_id} if "id" not in body and "user_id" not in body and field != "id" else {}

    response = api.put("/visitors", json={**named, **body})

    assert error(response, status) == (code, field)
    assert state(api, anonymous_id) == before


def test_updating_a_merged_visitor_answers_410_and_writes_nothing(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    visitor_id, anonymous_id = new_visitor(browser, workspace)
    person = user(api, external_id="u-10", name="Grace")
    ping(
        browser,
        workspace,
        anonymous_id=anonymous_id,
        user_id="u-10",
        user_hash=user_hash(workspace.identity_secret, "u-10"),
    )
    after_login = api.get(f"/contacts/{person['id']}").json()

    response = api.put("/visitors", json={"id": visitor_id, "name": "Overwritten"})

    assert error(response, 410) == ("contact_merged", "id")
    assert response.headers["link"] == f'</contacts/{person["id"]}>; rel="canonical"'
    assert api.get(f"/contacts/{person['id']}").json() == after_login


# --- POST /visitors/convert ----------------------------------------------------------------------------


def convert(
    api: httpx.Client, kind: str, visitor: dict[str, Any], user: dict[str, Any] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"type": kind, "visitor": visitor}
    if user is not None:
        body["user"] = user
    return api.post("/visitors/convert", json=body)


def test_convert_to_a_lead_keeps_the_visitor_in_place(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    visitor_id, anonymous_id = new_visitor(browser, workspace, name="Lee")

    response = convert(api, "lead", {"user_id": anonymous_id}, {"email": "lee@example.com"})

    assert response.status_code == 200, response.text
    lead = response.json()
    assert (lead["type"], lead["id"], lead["role"]) == ("contact", visitor_id, "lead")
    assert (lead["email"], lead["name"], lead["external_id"]) == ("lee@example.com", "Lee", None)
    assert api.get(f"/contacts/{visitor_id}").json() == lead
    assert error(api.get("/visitors", params={"user_id": anonymous_id}), 404) == ("not_found", "user_id")
    # the browser is still this contact: its next ping and messages are the lead's
    assert ping(browser, workspace, anonymous_id=anonymous_id)["contact"]["id"] == visitor_id
    assert api.get("/merges").json()["data"] == []


def test_convert_to_a_new_user_in_place(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    visitor_id, anonymous_id = new_visitor(browser, workspace)

    response = convert(api, "user", {"id": visitor_id}, {"user_id": "u-new", "email": "new@example.com"})

    assert response.status_code == 200, response.text
    made = response.json()
    assert (made["id"], made["role"], made["external_id"], made["email"]) == (
        visitor_id,
        "user",
        "u-new",
        "new@example.com",
    )
    assert api.get("/contacts/find_by_external_id/u-new").json()["id"] == visitor_id
    assert error(api.get("/visitors", params={"user_id": anonymous_id}), 404) == ("not_found", "user_id")
    # Now a user like any other: a second with the same identifiers is refused.
    assert error(api.post("/contacts", json={"external_id": "u-new"}), 409)[0] == "conflict"
    assert api.get("/merges").json()["data"] == []


def test_a_claimed_email_names_the_visitor_to_convert(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    visitor_id, anonymous_id = new_visitor(browser, workspace)
    browser.post(
        "/messenger/email",
        json={"app_id": workspace.app_id, "anonymous_id": anonymous_id, "email": "typed@example.com"},
    )

    response = convert(api, "user", {"email": "TYPED@example.com"}, {"user_id": "u-typed"})

    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["email"]) == (visitor_id, "typed@example.com")


@pytest.mark.parametrize(("vouched", "unverified"), [(True, False), (False, True)])
def test_an_email_given_by_the_api_is_no_longer_only_claimed(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, vouched: bool, unverified: bool
) -> None:
    # Design §4: a lead's messages carry unverified_sender after a merge when its email was only typed in.
    visitor_id, anonymous_id = new_visitor(browser, workspace)
    browser.post(
        "/messenger/email",
        json={"app_id": workspace.app_id, "anonymous_id": anonymous_id, "email": "typed@example.com"},
    )
    given = {"email": "typed@example.com"} if vouched else None
    assert convert(api, "lead", {"user_id": anonymous_id}, given).status_code == 200
    said = browser.post(
        "/messenger/messages", json={"app_id": workspace.app_id, "anonymous_id": anonymous_id, "body": "hi"}
    ).json()
    person = user(api, external_id="u-owner")
    merged = api.post("/contacts/merge", json={"from": visitor_id, "into": person["id"]})
    assert merged.status_code == 200, merged.text
    conversation = api.get(f"/conversations/{said['id']}").json()
    assert conversation["source"]["unverified_sender"] is unverified


@pytest.mark.parametrize("named_by", ["id", "user_id", "email"])
def test_convert_into_an_existing_user_merges_audited_and_reversibly(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, named_by: str
) -> None:
    attribute(api, "plan", "string")
    visitor_id, anonymous_id = new_visitor(
        browser, workspace, name="Anon", custom_attributes={"plan": "trial"}
    )
    person = user(api, external_id="u-1", email="ada@example.com")
    names = {"id": person["id"], "user_id": "u-1", "email": "ADA@example.com"}

    response = convert(api, "user", {"user_id": anonymous_id}, {named_by: names[named_by]})

    assert response.status_code == 200, response.text
    survivor = response.json()
    assert (survivor["id"], survivor["role"], survivor["external_id"]) == (person["id"], "user", "u-1")
    assert (survivor["name"], survivor["custom_attributes"]) == ("Anon", {"plan": "trial"})
    gone = api.get("/visitors", params={"user_id": anonymous_id})
    assert error(gone, 410) == ("contact_merged", "user_id")
    assert person["id"] in gone.headers["link"]
    assert api.get(f"/contacts/{visitor_id}").status_code == 410
    (record,) = api.get(f"/contacts/{person['id']}/merge_history").json()["data"]
    assert (record["from"], record["into"], record["reason"], record["requested_by"]) == (
        visitor_id,
        person["id"],
        "api",
        "token:default",  # the token's label: who converted the visitor
    )

    undone = api.post(f"/merges/{record['id']}/undo")

    assert undone.status_code == 200, undone.text
    back = api.get("/visitors", params={"user_id": anonymous_id})
    assert back.status_code == 200, back.text
    assert (back.json()["id"], back.json()["name"]) == (visitor_id, "Anon")
    assert api.get(f"/contacts/{person['id']}").json()["name"] is None


def test_convert_into_an_existing_lead_by_id_merges(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    lead = api.post("/contacts", json={"role": "lead", "email": "l@example.com"}).json()
    visitor_id, anonymous_id = new_visitor(browser, workspace)
    response = convert(api, "lead", {"user_id": anonymous_id}, {"id": lead["id"]})
    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["role"]) == (lead["id"], "lead")
    assert api.get(f"/contacts/{visitor_id}").status_code == 410


def _another_users_email(api: httpx.Client) -> dict[str, Any]:
    user(api, external_id="taken", email="taken@example.com")
    return {"user_id": "u-fresh", "email": "taken@example.com"}


def _a_leads_id(api: httpx.Client) -> dict[str, Any]:
    return {"id": api.post("/contacts", json={"role": "lead", "email": "x@example.com"}).json()["id"]}


def _a_users_id(api: httpx.Client) -> dict[str, Any]:
    return {"id": user(api, external_id="someone")["id"]}


# (name, type, visitor given as, user or a function of the api making it, status, code, field)
CONVERT_REFUSALS: list[tuple[str, str, str, Any, int, str, str]] = [
    ("unknown type", "admin", "user_id", {"user_id": "u"}, 400, "parameter_invalid", "type"),
    ("no user for a user", "user", "user_id", None, 400, "parameter_not_found", "user"),
    ("empty user for a user", "user", "user_id", {}, 400, "parameter_not_found", "user"),
    ("a user in place needs an identifier", "user", "user_id", "own id", 400, "parameter_not_found", "user"),
    ("junk user_id", "user", "user_id", {"user_id": "undefined"}, 400, "parameter_invalid", "user.user_id"),
    ("invalid email", "user", "user_id", {"email": "not-an-email"}, 400, "parameter_invalid", "user.email"),
    ("unknown user.id", "user", "user_id", {"id": "0" * 24}, 404, "not_found", "user.id"),
    ("user.id names a lead", "user", "user_id", _a_leads_id, 400, "parameter_invalid", "user.id"),
    ("user.id names a user for a lead", "lead", "user_id", _a_users_id, 400, "parameter_invalid", "user.id"),
    ("email of another user", "user", "user_id", _another_users_email, 409, "conflict", "user.email"),
    ("visitor not named", "user", "nothing", {"user_id": "u"}, 400, "parameter_not_found", "visitor.id"),
    ("unknown visitor id", "user", "unknown id", {"user_id": "u"}, 404, "not_found", "visitor.id"),
    ("unknown visitor email", "lead", "unknown email", None, 404, "not_found", "visitor.email"),
    ("unknown body field", "user", "extra field", {"user_id": "u"}, 400, "parameter_invalid", "visitor.role"),
]


@pytest.mark.parametrize(
    ("kind", "named_by", "given", "status", "code", "field"),
    [c[1:] for c in CONVERT_REFUSALS],
    ids=[c[0] for c in CONVERT_REFUSALS],
)
def test_a_refused_conversion_names_the_field_and_changes_nothing(
    browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    kind: str,
    named_by: str,
    given: Any,
    status: int,
    code: str,
    field: str,
) -> None:
    visitor_id, anonymous_id = new_visitor(browser, workspace, name="Still me")
    given_user = {"id": visitor_id} if given == "own id" else given(api) if callable(given) else given
    visitor = {
        "user_id": {"user_id": anonymous_id},
        "nothing": {},
        "unknown id": {"id": "0" * 24},
        "unknown email": {"email": "nobody@example.com"},
        "extra field": {"id": visitor_id, "role": "user"},
    }[named_by]
    before = state(api, anonymous_id)

    response = convert(api, kind, visitor, given_user)

    assert error(response, status) == (code, field)
    assert state(api, anonymous_id) == before


def test_a_converted_visitor_cannot_be_converted_again(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    visitor_id, anonymous_id = new_visitor(browser, workspace)
    assert convert(api, "lead", {"id": visitor_id}).status_code == 200
    before = state(api, anonymous_id)
    assert error(convert(api, "user", {"id": visitor_id}, {"user_id": "u-2"}), 404) == (
        "not_found",
        "visitor.id",
    )
    assert state(api, anonymous_id) == before


def test_a_merged_visitor_answers_410_on_convert(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    _, anonymous_id = new_visitor(browser, workspace)
    person = user(api, external_id="u-3")
    assert convert(api, "user", {"user_id": anonymous_id}, {"user_id": "u-3"}).status_code == 200
    before = state(api, anonymous_id)

    again = convert(api, "user", {"user_id": anonymous_id}, {"user_id": "u-other"})

    assert error(again, 410) == ("contact_merged", "visitor.user_id")
    assert person["id"] in again.headers["link"]
    assert state(api, anonymous_id) == before


def test_past_the_fan_in_cap_the_conversion_is_held_and_the_visitor_stays(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, database: Database
) -> None:
    with transaction(make_sessionmaker(database.engine)) as db:
        db.get_one(Workspace, workspace.app_id).settings = {"merge_fan_in_cap": 0}
    visitor_id, anonymous_id = new_visitor(browser, workspace)
    person = user(api, external_id="u-cap")

    response = convert(api, "user", {"user_id": anonymous_id}, {"user_id": "u-cap"})

    assert error(response, 409) == ("merge_held", "user")
    assert api.get("/visitors", params={"user_id": anonymous_id}).json()["id"] == visitor_id
    (held,) = api.get("/merges").json()["data"]
    assert (held["state"], held["from"], held["into"]) == ("held", visitor_id, person["id"])


# --- workspaces ----------------------------------------------------------------------------------------


def test_another_workspace_can_neither_see_nor_change_nor_convert_a_visitor(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, server: Server, database: Database
) -> None:
    visitor_id, anonymous_id = new_visitor(browser, workspace, name="Mine")
    user(api, external_id="shared-id")
    before = state(api, anonymous_id)
    other = make_workspace(database, "Other")
    headers = {"Authorization": f"Bearer {other.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as intruder:
        user(intruder, external_id="shared-id")
        found = intruder.get("/visitors", params={"user_id": anonymous_id})
        updated = intruder.put("/visitors", json={"id": visitor_id, "name": "Theirs"})
        by_id = convert(intruder, "user", {"id": visitor_id}, {"user_id": "shared-id"})
        by_anonymous_id = convert(intruder, "lead", {"user_id": anonymous_id})

    assert error(found, 404) == ("not_found", "user_id")
    assert error(updated, 404) == ("not_found", "id")
    assert error(by_id, 404) == ("not_found", "visitor.id")
    assert error(by_anonymous_id, 404) == ("not_found", "visitor.user_id")
    assert state(api, anonymous_id) == before


def test_the_visitors_api_needs_a_token(
    server: Server, browser: httpx.Client, workspace: WorkspaceKeys
) -> None:
    _, anonymous_id = new_visitor(browser, workspace)
    assert error(browser.get("/visitors", params={"user_id": anonymous_id}), 401)[0] == "unauthorized"
    assert (
        error(browser.put("/visitors", json={"user_id": anonymous_id, "name": "x"}), 401)[0] == "unauthorized"
    )
    assert error(convert(browser, "lead", {"user_id": anonymous_id}), 401)[0] == "unauthorized"


# --- Intercom's Python client --------------------------------------------------------------------------


@pytest.fixture
def client(server: Server, workspace: WorkspaceKeys) -> Iterator[tuple[Intercom, list[httpx.Response]]]:
    """Intercom's official client pointed at the server, with every response it received."""
    seen: list[httpx.Response] = []

    def keep(response: httpx.Response) -> None:
        response.read()
        seen.append(response)

    with httpx.Client(timeout=30, event_hooks={"response": [keep]}) as http:
        yield Intercom(token=workspace.token, base_url=server.base_url, httpx_client=http), seen


def test_intercoms_client_finds_updates_and_converts_visitors(
    browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    client: tuple[Intercom, list[httpx.Response]],
) -> None:
    intercom, seen = client
    attribute(api, "plan", "string")
    visitor_id, anonymous_id = new_visitor(browser, workspace)
    other_id, other_anonymous_id = new_visitor(browser, workspace)
    person = user(api, external_id="sdk-user", email="sdk@example.com")

    found = intercom.visitors.find(user_id=anonymous_id)
    # The client parses leniently; validating its own model strictly catches a wrong type or shape.
    Visitor.model_validate(seen[-1].json())
    assert found is not None
    assert (found.type, found.id, found.user_id, found.anonymous) == (
        "visitor",
        visitor_id,
        anonymous_id,
        True,
    )
    assert found.las_request_at is not None and found.tags is not None and found.tags.tags == []

    updated = intercom.visitors.update(
        request=UpdateVisitorRequestWithUserId(
            user_id=anonymous_id, name="SDK", custom_attributes={"plan": "pro"}
        )
    )
    assert updated is not None
    assert (updated.name, updated.custom_attributes) == ("SDK", {"plan": "pro"})
    by_id = intercom.visitors.update(request=UpdateVisitorRequestWithId(id=visitor_id, name="SDK 2"))
    assert by_id is not None and by_id.name == "SDK 2"

    merged = intercom.visitors.merge_to_contact(
        type="user", user=UserWithUserId(user_id="sdk-user"), visitor=VisitorWithUserId(user_id=anonymous_id)
    )
    ContactsMergeLeadInUserResponse.model_validate(seen[-1].json())
    assert (merged.id, merged.role, merged.name) == (person["id"], "user", "SDK 2")

    lead = intercom.visitors.merge_to_contact(
        type="lead",
        user=UserWithId(id=other_id, email="lead@example.com"),
        visitor=VisitorWithId(id=other_id),
    )
    assert (lead.id, lead.role, lead.email) == (other_id, "lead", "lead@example.com")

    with pytest.raises(NotFoundError):
        intercom.visitors.find(user_id=other_anonymous_id)
