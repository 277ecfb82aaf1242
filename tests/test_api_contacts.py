"""REST API: contacts CRUD, list pagination, role rules, identifiers, custom attributes, isolation."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from contactmerge.services import workspaces
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact, Workspace
from tests.conftest import Server, WorkspaceKeys, make_workspace
from tests.helpers import error_of


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/contacts", json=fields)
    assert response.status_code == 200, response.text
    return dict(response.json())


def all_contacts(api: httpx.Client) -> list[dict[str, Any]]:
    response = api.get("/contacts", params={"per_page": 150})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "next" not in body["pages"], "helper expects a single page"
    return list(body["data"])


def search(api: httpx.Client, field: str, value: Any) -> list[str]:
    response = api.post("/contacts/search", json={"query": {"field": field, "operator": "=", "value": value}})
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["data"]]


def data_attribute(api: httpx.Client, name: str, data_type: str) -> dict[str, Any]:
    response = api.post("/data_attributes", json={"name": name, "data_type": data_type})
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- create, retrieve, update, delete -------------------------------------------------------------------


def test_create_user_returns_the_intercom_contact_and_get_reads_it_back(api: httpx.Client) -> None:
    created = create(
        api, role="user", external_id="u-1", email="ada@example.com", name="Ada", signed_up_at=10
    )
    assert created["type"] == "contact"
    assert created["role"] == "user"
    assert created["external_id"] == "u-1"
    assert created["email"] == "ada@example.com"
    assert created["email_domain"] == "example.com"
    assert created["name"] == "Ada"
    assert created["signed_up_at"] == 10
    assert created["archived"] is False
    assert created["custom_attributes"] == {}
    assert created["tags"]["data"] == [] and created["notes"]["data"] == []
    assert created["created_at"] > 0 and created["updated_at"] >= created["created_at"]

    got = api.get(f"/contacts/{created['id']}")
    assert got.status_code == 200
    assert got.json() == created


def test_create_lead_needs_no_identifier(api: httpx.Client) -> None:
    lead = create(api, role="lead", name="Anonymous visitor")
    assert lead["role"] == "lead"
    assert lead["external_id"] is None and lead["email"] is None
    assert [c["id"] for c in all_contacts(api)] == [lead["id"]]


def test_role_defaults_to_user(api: httpx.Client) -> None:
    assert create(api, email="someone@example.com")["role"] == "user"


@pytest.mark.parametrize("role", ["visitor", "admin", "USER", ""])
def test_create_with_an_unknown_role_is_refused(api: httpx.Client, role: str) -> None:
    error_of(
        api.post("/contacts", json={"role": role, "email": "a@example.com"}), 400, "parameter_invalid", "role"
    )
    assert all_contacts(api) == []


def test_a_user_needs_an_external_id_or_an_email(api: httpx.Client) -> None:
    error_of(
        api.post("/contacts", json={"role": "user", "name": "Nobody"}),
        400,
        "parameter_invalid",
        "external_id",
    )
    assert all_contacts(api) == []


def test_retrieve_unknown_contact_is_404(api: httpx.Client) -> None:
    error = error_of(api.get("/contacts/0000nope"), 404, "not_found", "id")
    assert "0000nope" in error["message"]


def test_update_sets_the_given_fields_and_keeps_the_others(api: httpx.Client) -> None:
    contact = create(api, role="user", external_id="u-1", email="ada@example.com", name="Ada", owner_id=7)
    response = api.put(
        f"/contacts/{contact['id']}", json={"name": "Ada Lovelace", "last_seen_at": 1_700_000_000}
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "Ada Lovelace"
    assert updated["last_seen_at"] == 1_700_000_000
    assert (updated["email"], updated["external_id"], updated["owner_id"]) == ("ada@example.com", "u-1", 7)
    assert updated["updated_at"] >= contact["updated_at"]
    assert api.get(f"/contacts/{contact['id']}").json() == updated


def test_national_phones_are_read_in_the_workspaces_phone_region(
    api: httpx.Client, server: Server, workspace: WorkspaceKeys
) -> None:
    """A workspace whose phone_region is GB (``workspace set --phone-region``) reads a national number
    written through the API as British, as its imports do; another workspace keeps the server's US."""
    with transaction(make_sessionmaker(server.database.engine)) as db:
        workspaces.update_settings(db, db.get_one(Workspace, workspace.app_id), phone_region="GB")
    made = create(api, role="lead", name="Ada", phone="020 7946 0958")
    assert made["phone"] == "020 7946 0958"
    with make_sessionmaker(server.database.engine)() as db:
        assert db.get_one(Contact, (workspace.app_id, made["id"])).phone_e164 == "+442079460958"
    updated = api.put(f"/contacts/{made['id']}", json={"phone": "0161 496 0000"})
    assert updated.status_code == 200, updated.text
    with make_sessionmaker(server.database.engine)() as db:
        assert db.get_one(Contact, (workspace.app_id, made["id"])).phone_e164 == "+441614960000"
    # searched for as written there, or with its country code, it is found (read in the US it is no number)
    assert search(api, "phone", "0161 496 0000") == [made["id"]]
    assert search(api, "phone", "+44 161 496 0000") == [made["id"]]
    either = {"field": "phone", "operator": "IN", "value": ["0161 496 0000", "x"]}
    found = api.post("/contacts/search", json={"query": either})
    assert [c["id"] for c in found.json()["data"]] == [made["id"]]
    assert search(api, "phone", "0161 496 0001") == []
    elsewhere = make_workspace(server.database, "US workspace")
    headers = {"Authorization": f"Bearer {elsewhere.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as other:
        american = create(other, role="lead", name="Bo", phone="(512) 555-0100")
        with make_sessionmaker(server.database.engine)() as db:
            assert db.get_one(Contact, (elsewhere.app_id, american["id"])).phone_e164 == "+15125550100"


def test_update_with_null_clears_a_field(api: httpx.Client) -> None:
    contact = create(api, role="user", external_id="u-1", email="ada@example.com", phone="+15125550100")
    updated = api.put(f"/contacts/{contact['id']}", json={"email": None, "phone": None}).json()
    assert (updated["email"], updated["email_domain"], updated["phone"], updated["formatted_phone"]) == (
        None,
        None,
        None,
        None,
    )
    assert search(api, "email", "ada@example.com") == []


def test_update_that_leaves_a_user_without_identifiers_is_refused(api: httpx.Client) -> None:
    contact = create(api, role="user", email="ada@example.com")
    error_of(
        api.put(f"/contacts/{contact['id']}", json={"email": None}), 400, "parameter_invalid", "external_id"
    )
    assert api.get(f"/contacts/{contact['id']}").json() == contact


def test_update_unknown_contact_is_404(api: httpx.Client) -> None:
    error_of(api.put("/contacts/0000nope", json={"name": "x"}), 404, "not_found", "id")


def test_delete_removes_the_contact_with_its_tags_and_notes(api: httpx.Client) -> None:
    keep = create(api, role="lead", name="keep")
    contact = create(api, role="user", email="ada@example.com")
    tag = api.post("/tags", json={"name": "VIP"}).json()
    assert api.post(f"/contacts/{contact['id']}/tags", json={"id": tag["id"]}).status_code == 200
    assert api.post(f"/contacts/{contact['id']}/notes", json={"body": "hello"}).status_code == 200

    response = api.delete(f"/contacts/{contact['id']}")
    assert response.status_code == 200, response.text
    assert response.json() == {"type": "contact", "id": contact["id"], "external_id": None, "deleted": True}

    error_of(api.get(f"/contacts/{contact['id']}"), 404, "not_found", "id")
    error_of(api.delete(f"/contacts/{contact['id']}"), 404, "not_found", "id")
    assert [c["id"] for c in all_contacts(api)] == [keep["id"]]
    assert search(api, "email", "ada@example.com") == []
    # the email is free again for a new user, and the workspace's tag survives
    assert create(api, role="user", email="ada@example.com")["tags"]["data"] == []
    assert [t["id"] for t in api.get("/tags").json()["data"]] == [tag["id"]]


def test_archive_and_unarchive(api: httpx.Client) -> None:
    contact = create(api, role="user", external_id="u-1")
    archived = api.post(f"/contacts/{contact['id']}/archive")
    assert archived.status_code == 200, archived.text
    assert archived.json() == {"type": "contact", "id": contact["id"], "external_id": "u-1", "archived": True}
    assert api.get(f"/contacts/{contact['id']}").json()["archived"] is True

    unarchived = api.post(f"/contacts/{contact['id']}/unarchive")
    assert unarchived.status_code == 200, unarchived.text
    assert unarchived.json()["archived"] is False
    assert api.get(f"/contacts/{contact['id']}").json()["archived"] is False


@pytest.mark.parametrize("action", ["archive", "unarchive"])
def test_archive_unknown_contact_is_404(api: httpx.Client, action: str) -> None:
    error_of(api.post(f"/contacts/0000nope/{action}"), 404, "not_found", "id")


def test_find_by_external_id(api: httpx.Client) -> None:
    create(api, role="user", external_id="other")
    contact = create(api, role="user", external_id="u-42", email="ada@example.com")
    found = api.get("/contacts/find_by_external_id/u-42")
    assert found.status_code == 200, found.text
    assert found.json()["id"] == contact["id"]
    error = error_of(api.get("/contacts/find_by_external_id/u-43"), 404, "not_found", "external_id")
    assert "u-43" in error["message"]


# --- list and cursor pagination -------------------------------------------------------------------------


def pages_of(api: httpx.Client, per_page: int | None) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {} if per_page is None else {"per_page": per_page}
    while True:
        response = api.get("/contacts", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        yield body
        following = body["pages"].get("next")
        if following is None:
            return
        params = {**params, "starting_after": following["starting_after"]}


@pytest.mark.parametrize(("count", "per_page"), [(7, 3), (6, 3), (1, 1), (0, 5)])
def test_list_follows_the_cursor_and_sees_every_contact_once(
    api: httpx.Client, count: int, per_page: int
) -> None:
    made = {create(api, role="lead", name=f"lead {n}")["id"] for n in range(count)}
    seen: list[str] = []
    pages = list(pages_of(api, per_page))
    for number, body in enumerate(pages, start=1):
        assert body["type"] == "list"
        assert body["total_count"] == count
        assert body["pages"]["page"] == number
        assert body["pages"]["per_page"] == per_page
        assert body["pages"]["total_pages"] == max(1, -(-count // per_page))
        assert len(body["data"]) <= per_page
        seen.extend(c["id"] for c in body["data"])
    assert len(seen) == len(made) and set(seen) == made
    assert len(pages) == max(1, -(-count // per_page))


def test_list_pages_50_by_default(api: httpx.Client) -> None:
    for n in range(51):
        create(api, role="lead", name=f"lead {n}")
    first, second = list(pages_of(api, None))
    assert first["pages"]["per_page"] == 50
    assert len(first["data"]) == 50 and len(second["data"]) == 1
    assert first["total_count"] == second["total_count"] == 51


def test_list_accepts_the_largest_page(api: httpx.Client) -> None:
    create(api, role="lead")
    response = api.get("/contacts", params={"per_page": 150})
    assert response.status_code == 200, response.text
    assert response.json()["pages"]["per_page"] == 150


@pytest.mark.parametrize("per_page", ["151", "0", "-1", "many"])
def test_list_refuses_a_bad_page_size(api: httpx.Client, per_page: str) -> None:
    error_of(api.get("/contacts", params={"per_page": per_page}), 400, "parameter_invalid", "per_page")


@pytest.mark.parametrize("cursor", ["garbage!", "WzEsIDJd", "bnVsbA"])
def test_list_refuses_a_cursor_it_did_not_give_out(api: httpx.Client, cursor: str) -> None:
    error_of(
        api.get("/contacts", params={"starting_after": cursor}), 400, "parameter_invalid", "starting_after"
    )


# --- role rules -----------------------------------------------------------------------------------------


def test_a_lead_becomes_a_user(api: httpx.Client) -> None:
    lead = create(api, role="lead", email="ada@example.com")
    response = api.put(f"/contacts/{lead['id']}", json={"role": "user", "external_id": "u-1"})
    assert response.status_code == 200, response.text
    assert (response.json()["role"], response.json()["id"]) == ("user", lead["id"])
    assert api.get("/contacts/find_by_external_id/u-1").json()["id"] == lead["id"]


def test_a_lead_without_identifiers_cannot_become_a_user(api: httpx.Client) -> None:
    lead = create(api, role="lead", name="anon")
    error_of(
        api.put(f"/contacts/{lead['id']}", json={"role": "user"}), 400, "parameter_invalid", "external_id"
    )
    assert api.get(f"/contacts/{lead['id']}").json() == lead


def test_a_user_cannot_become_a_lead(api: httpx.Client) -> None:
    user = create(api, role="user", email="ada@example.com")
    response = api.put(f"/contacts/{user['id']}", json={"role": "lead", "name": "changed"})
    error_of(response, 400, "parameter_invalid", "role")
    assert api.get(f"/contacts/{user['id']}").json() == user


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        ({"external_id": "u-1"}, {"external_id": "u-1"}, "external_id"),
        ({"external_id": "u-1"}, {"external_id": " u-1 "}, "external_id"),
        ({"email": "ada@example.com"}, {"email": "ada@example.com"}, "email"),
        ({"email": "ada@example.com"}, {"email": "  ADA@Example.COM "}, "email"),
        ({"email": "ada@bücher.de"}, {"email": "ada@BÜCHER.de"}, "email"),
        ({"email": "ada@bücher.de"}, {"email": "ada@xn--bcher-kva.de"}, "email"),
        (
            {"external_id": "u-1", "email": "a@example.com"},
            {"external_id": "u-2", "email": "A@example.com"},
            "email",
        ),
    ],
)
def test_a_second_user_with_the_same_identifier_is_a_conflict(
    api: httpx.Client, first: dict[str, str], second: dict[str, str], field: str
) -> None:
    existing = create(api, role="user", **first)
    error = error_of(api.post("/contacts", json={"role": "user", **second}), 409, "conflict", field)
    assert existing["id"] in error["message"]
    assert [c["id"] for c in all_contacts(api)] == [existing["id"]]


def test_an_update_onto_another_users_email_is_a_conflict(api: httpx.Client) -> None:
    ada = create(api, role="user", email="ada@example.com")
    bob = create(api, role="user", email="bob@example.com")
    error = error_of(
        api.put(f"/contacts/{bob['id']}", json={"email": "ADA@example.com"}), 409, "conflict", "email"
    )
    assert ada["id"] in error["message"]
    assert api.get(f"/contacts/{bob['id']}").json() == bob


def test_an_update_onto_another_users_external_id_is_a_conflict(api: httpx.Client) -> None:
    ada = create(api, role="user", external_id="u-1")
    bob = create(api, role="user", external_id="u-2")
    error = error_of(
        api.put(f"/contacts/{bob['id']}", json={"external_id": "u-1"}), 409, "conflict", "external_id"
    )
    assert ada["id"] in error["message"]
    assert api.get(f"/contacts/{bob['id']}").json() == bob


def test_a_lead_promoted_onto_a_users_email_is_a_conflict(api: httpx.Client) -> None:
    user = create(api, role="user", email="ada@example.com")
    lead = create(api, role="lead", email="ada@example.com")
    error = error_of(api.put(f"/contacts/{lead['id']}", json={"role": "user"}), 409, "conflict", "email")
    assert user["id"] in error["message"]
    assert api.get(f"/contacts/{lead['id']}").json()["role"] == "lead"


def test_a_lead_may_share_a_users_email_and_external_id(api: httpx.Client) -> None:
    user = create(api, role="user", external_id="u-1", email="ada@example.com")
    lead = create(api, role="lead", external_id="u-1", email="ADA@example.com")
    assert lead["id"] != user["id"]
    assert sorted(search(api, "email", "ada@example.com")) == sorted([user["id"], lead["id"]])
    # find_by_external_id prefers the user
    assert api.get("/contacts/find_by_external_id/u-1").json()["id"] == user["id"]


def test_a_user_may_keep_its_own_identifiers_on_update(api: httpx.Client) -> None:
    user = create(api, role="user", external_id="u-1", email="ada@example.com")
    response = api.put(f"/contacts/{user['id']}", json={"external_id": "u-1", "email": "Ada@example.com"})
    assert response.status_code == 200, response.text


# --- identifiers: normalized beside the given value -------------------------------------------------------


def test_email_is_trimmed_and_matched_case_insensitively(api: httpx.Client) -> None:
    contact = create(api, role="user", email="  Ada@Example.COM ")
    assert contact["email"] == "Ada@Example.COM"
    assert contact["email_domain"] == "example.com"
    assert search(api, "email", "ada@example.com") == [contact["id"]]
    assert search(api, "email", "ADA@EXAMPLE.COM") == [contact["id"]]


@pytest.mark.parametrize(
    ("given", "formatted"),
    [
        ("+1 (512) 555-0100", "+15125550100"),
        ("(512) 555-0100", "+15125550100"),
        ("+44 20 7946 0958", "+442079460958"),
        (" +33 1 23 45 67 89 ", "+33123456789"),
    ],
)
def test_phone_is_stored_with_its_e164_form(api: httpx.Client, given: str, formatted: str) -> None:
    contact = create(api, role="lead", phone=given)
    assert contact["phone"] == given.strip()
    assert contact["formatted_phone"] == formatted
    assert search(api, "phone", formatted) == [contact["id"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("email", "ada@"),
        ("email", "@example.com"),
        ("email", "ada lovelace@example.com"),
        ("email", "ada@@example.com"),
        ("email", ""),
        ("phone", "call me"),
        ("phone", "123"),
        ("phone", "+1 555"),
        ("phone", ""),
    ],
)
def test_an_invalid_identifier_is_refused_and_nothing_is_written(
    api: httpx.Client, field: str, value: str
) -> None:
    error_of(
        api.post("/contacts", json={"role": "lead", "name": "x", field: value}),
        400,
        "parameter_invalid",
        field,
    )
    assert all_contacts(api) == []

    contact = create(api, role="lead", name="before")
    response = api.put(f"/contacts/{contact['id']}", json={"name": "after", field: value})
    error_of(response, 400, "parameter_invalid", field)
    assert api.get(f"/contacts/{contact['id']}").json() == contact


@pytest.mark.parametrize(
    "junk", ["null", "NULL", "undefined", "anonymous", "0", "-1", "[object Object]", "NaN", "None", "", "   "]
)
def test_a_junk_external_id_is_refused(api: httpx.Client, junk: str) -> None:
    response = api.post("/contacts", json={"role": "user", "external_id": junk, "email": "a@example.com"})
    error_of(response, 400, "parameter_invalid", "external_id")
    assert all_contacts(api) == []

    contact = create(api, role="user", external_id="u-1")
    error_of(
        api.put(f"/contacts/{contact['id']}", json={"external_id": junk}),
        400,
        "parameter_invalid",
        "external_id",
    )
    assert api.get(f"/contacts/{contact['id']}").json() == contact


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "x" * 256),
        ("email", "a" * 300 + "@example.com"),
        ("external_id", "x" * 256),
        ("signed_up_at", -1),
        ("signed_up_at", "yesterday"),
        ("signed_up_at", 10**20),
        ("last_seen_at", 10**20),
        ("owner_id", 10**20),
        ("owner_id", "me"),
        ("unsubscribed_from_emails", "perhaps"),
        ("custom_attributes", ["not", "an", "object"]),
        ("name", "nul\u0000byte"),
    ],
)
def test_a_badly_typed_field_is_refused_naming_it(api: httpx.Client, field: str, value: Any) -> None:
    error_of(api.post("/contacts", json={"role": "lead", field: value}), 400, "parameter_invalid", field)
    assert all_contacts(api) == []


# --- custom attributes ----------------------------------------------------------------------------------


def test_an_unknown_custom_attribute_is_refused_naming_it(api: httpx.Client) -> None:
    response = api.post("/contacts", json={"role": "lead", "custom_attributes": {"plan": "gold"}})
    error = error_of(response, 400, "parameter_invalid", "custom_attributes.plan")
    assert "plan" in error["message"]
    assert all_contacts(api) == []


ACCEPTED = [
    ("string", "gold", "gold"),
    ("string", "", ""),
    ("string", "é" * 255, "é" * 255),
    ("integer", 42, 42),
    ("integer", -3, -3),
    ("integer", 0, 0),
    ("float", 1.5, 1.5),
    ("float", 2, 2.0),
    ("float", -0.25, -0.25),
    ("boolean", True, True),
    ("boolean", False, False),
    ("date", 1_700_000_000, 1_700_000_000),
    ("date", "2024-01-02", 1_704_153_600),
    ("date", "2024-01-02T03:04:05Z", 1_704_164_645),
    ("date", "2024-01-02T03:04:05+01:00", 1_704_161_045),
]
REFUSED = [
    ("string", 5),
    ("string", True),
    ("string", ["a"]),
    ("string", {"a": 1}),
    ("string", "x" * 256),
    ("string", "nul\u0000byte"),
    ("integer", 1.5),
    ("integer", "5"),
    ("integer", True),
    ("float", "1.5"),
    ("float", False),
    ("float", [1.0]),
    ("boolean", "true"),
    ("boolean", 1),
    ("boolean", 0),
    ("date", "tomorrow"),
    ("date", True),
    ("date", 1.5),
    ("date", {"at": 1}),
]


@pytest.mark.parametrize(("data_type", "value", "stored"), ACCEPTED)
def test_a_custom_attribute_accepts_values_of_its_type(
    api: httpx.Client, data_type: str, value: Any, stored: Any
) -> None:
    data_attribute(api, "attr", data_type)
    contact = create(api, role="lead", custom_attributes={"attr": value})
    assert contact["custom_attributes"] == {"attr": stored}
    assert api.get(f"/contacts/{contact['id']}").json()["custom_attributes"] == {"attr": stored}


@pytest.mark.parametrize(("data_type", "value"), REFUSED)
def test_a_custom_attribute_refuses_values_of_another_type(
    api: httpx.Client, data_type: str, value: Any
) -> None:
    data_attribute(api, "attr", data_type)
    response = api.post("/contacts", json={"role": "lead", "custom_attributes": {"attr": value}})
    error_of(response, 400, "parameter_invalid", "custom_attributes.attr")
    assert all_contacts(api) == []


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_float_attribute_refuses_non_numbers(api: httpx.Client, literal: str) -> None:
    # Python's JSON parser reads these non-standard literals; nothing downstream can store them.
    data_attribute(api, "score", "float")
    response = api.post(
        "/contacts",
        content=f'{{"role": "lead", "custom_attributes": {{"score": {literal}}}}}',
        headers={"Content-Type": "application/json"},
    )
    error_of(response, 400, "parameter_invalid", "custom_attributes.score")
    assert all_contacts(api) == []


def test_an_archived_attribute_refuses_writes_and_keeps_its_value(api: httpx.Client) -> None:
    attribute = data_attribute(api, "plan", "string")
    contact = create(api, role="lead", custom_attributes={"plan": "gold"})
    assert api.put(f"/data_attributes/{attribute['id']}", json={"archived": True}).status_code == 200

    for value in ("silver", None):
        response = api.put(
            f"/contacts/{contact['id']}", json={"name": "x", "custom_attributes": {"plan": value}}
        )
        error_of(response, 400, "parameter_invalid", "custom_attributes.plan")
    error_of(
        api.post("/contacts", json={"role": "lead", "custom_attributes": {"plan": "silver"}}),
        400,
        "parameter_invalid",
        "custom_attributes.plan",
    )
    assert api.get(f"/contacts/{contact['id']}").json() == contact
    assert len(all_contacts(api)) == 1


def test_update_merges_custom_attributes_and_null_clears_one(api: httpx.Client) -> None:
    data_attribute(api, "plan", "string")
    data_attribute(api, "seats", "integer")
    data_attribute(api, "trial", "boolean")
    contact = create(api, role="lead", custom_attributes={"plan": "gold", "seats": 3})

    def put(body: dict[str, Any]) -> dict[str, Any]:
        response = api.put(f"/contacts/{contact['id']}", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json()["custom_attributes"])

    assert put({"custom_attributes": {"seats": 5, "trial": False}}) == {
        "plan": "gold",
        "seats": 5,
        "trial": False,
    }
    assert put({"name": "no attributes given"}) == {"plan": "gold", "seats": 5, "trial": False}
    assert put({"custom_attributes": {}}) == {"plan": "gold", "seats": 5, "trial": False}
    assert put({"custom_attributes": {"plan": None}}) == {"seats": 5, "trial": False}
    assert api.get(f"/contacts/{contact['id']}").json()["custom_attributes"] == {"seats": 5, "trial": False}


def test_one_bad_custom_attribute_refuses_the_whole_update(api: httpx.Client) -> None:
    data_attribute(api, "plan", "string")
    data_attribute(api, "seats", "integer")
    contact = create(api, role="lead", name="before", custom_attributes={"plan": "gold"})
    response = api.put(
        f"/contacts/{contact['id']}",
        json={
            "name": "after",
            "email": "new@example.com",
            "custom_attributes": {"plan": "silver", "seats": "many"},
        },
    )
    error_of(response, 400, "parameter_invalid", "custom_attributes.seats")
    assert api.get(f"/contacts/{contact['id']}").json() == contact


# --- workspace isolation --------------------------------------------------------------------------------


@pytest.fixture
def other(server: Server) -> Iterator[httpx.Client]:
    """A client for a second workspace on the same server."""
    keys = make_workspace(server.database, "Other workspace")
    headers = {"Authorization": f"Bearer {keys.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        yield client


def test_another_workspace_cannot_see_or_touch_a_contact(api: httpx.Client, other: httpx.Client) -> None:
    data_attribute(api, "plan", "string")
    contact = create(
        api, role="user", external_id="u-1", email="ada@example.com", custom_attributes={"plan": "a"}
    )
    tag = api.post("/tags", json={"name": "VIP"}).json()
    assert api.post(f"/contacts/{contact['id']}/tags", json={"id": tag["id"]}).status_code == 200
    assert api.post(f"/contacts/{contact['id']}/notes", json={"body": "secret"}).status_code == 200
    contact = api.get(f"/contacts/{contact['id']}").json()
    cid = contact["id"]

    their_tag = other.post("/tags", json={"name": "VIP"}).json()
    refused = [
        other.get(f"/contacts/{cid}"),
        other.put(f"/contacts/{cid}", json={"name": "stolen"}),
        other.delete(f"/contacts/{cid}"),
        other.post(f"/contacts/{cid}/archive"),
        other.post(f"/contacts/{cid}/unarchive"),
        other.get(f"/contacts/{cid}/tags"),
        other.post(f"/contacts/{cid}/tags", json={"id": their_tag["id"]}),
        other.post(f"/contacts/{cid}/tags", json={"id": tag["id"]}),
        other.delete(f"/contacts/{cid}/tags/{tag['id']}"),
        other.get(f"/contacts/{cid}/notes"),
        other.post(f"/contacts/{cid}/notes", json={"body": "hi"}),
        other.get("/contacts/find_by_external_id/u-1"),
        other.get(f"/tags/{tag['id']}"),
    ]
    for response in refused:
        assert response.status_code == 404, (response.request.method, response.request.url, response.text)
        assert response.json()["errors"][0]["code"] == "not_found"

    listing = other.get("/contacts").json()
    assert (listing["data"], listing["total_count"]) == ([], 0)
    for field, value in [("email", "ada@example.com"), ("external_id", "u-1"), ("id", cid)]:
        assert search(other, field, value) == []
    # the same identifiers are free in the other workspace
    assert (
        other.post(
            "/contacts", json={"role": "user", "external_id": "u-1", "email": "ada@example.com"}
        ).status_code
        == 200
    )
    assert api.get(f"/contacts/{cid}").json() == contact


@pytest.mark.parametrize("identifier", [{"email": "race@example.com"}, {"external_id": "race"}])
def test_concurrent_users_with_one_identifier_make_one_contact(
    api: httpx.Client, identifier: dict[str, str]
) -> None:
    def attempt(_: int) -> int:
        with httpx.Client(base_url=str(api.base_url), headers=api.headers, timeout=30) as client:
            return client.post("/contacts", json={"role": "user", **identifier}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(attempt, range(8)))
    assert statuses == [200] + [409] * 7
    assert len(all_contacts(api)) == 1


@pytest.mark.parametrize("external_id", ["org/42", "a b", "ünï", "x?y#z", "50%"])
def test_find_by_external_id_with_url_special_characters(api: httpx.Client, external_id: str) -> None:
    contact = create(api, role="user", external_id=external_id)
    found = api.get(f"/contacts/find_by_external_id/{quote(external_id, safe='')}")
    assert found.status_code == 200, found.text
    assert found.json()["id"] == contact["id"]
