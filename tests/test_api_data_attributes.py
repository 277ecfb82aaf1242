"""REST API: the workspace's data attributes (the schema of custom attributes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server, make_workspace
from tests.helpers import error_of, ok


def listed(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    body = ok(api.get("/data_attributes", params=params))
    assert body["type"] == "list"
    return list(body["data"])


def test_a_new_workspace_has_no_custom_attributes(api: httpx.Client) -> None:
    assert listed(api) == []
    assert listed(api, model="contact") == []


def test_create_returns_the_intercom_shape_and_list_shows_it(api: httpx.Client) -> None:
    created = ok(
        api.post(
            "/data_attributes",
            json={"name": "plan", "model": "contact", "data_type": "string", "description": "Billing plan"},
        )
    )
    assert created["type"] == "data_attribute"
    assert isinstance(created["id"], int)
    assert (created["name"], created["full_name"], created["label"]) == (
        "plan",
        "custom_attributes.plan",
        "plan",
    )
    assert (created["model"], created["data_type"], created["description"]) == (
        "contact",
        "string",
        "Billing plan",
    )
    assert created["custom"] is True and created["archived"] is False
    assert created["created_at"] > 0
    assert listed(api) == [created]


@pytest.mark.parametrize("data_type", ["string", "integer", "float", "boolean", "date"])
def test_every_data_type_can_be_created(api: httpx.Client, data_type: str) -> None:
    created = ok(api.post("/data_attributes", json={"name": f"a {data_type}", "data_type": data_type}))
    assert created["data_type"] == data_type
    assert [a["name"] for a in listed(api)] == [f"a {data_type}"]


def test_ids_are_distinct_and_list_keeps_creation_order(api: httpx.Client) -> None:
    names = ["seats", "plan", "trial_end"]
    ids = [ok(api.post("/data_attributes", json={"name": n, "data_type": "string"}))["id"] for n in names]
    assert len(set(ids)) == 3
    assert [(a["id"], a["name"]) for a in listed(api)] == list(zip(ids, names, strict=True))


def test_a_duplicate_name_is_a_conflict(api: httpx.Client) -> None:
    first = ok(api.post("/data_attributes", json={"name": "plan", "data_type": "string"}))
    error = error_of(
        api.post("/data_attributes", json={"name": "plan", "data_type": "integer"}), 409, "conflict", "name"
    )
    assert "plan" in error["message"]
    assert listed(api) == [first]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"name": "x", "data_type": "datetime"}, "parameter_invalid", "data_type"),
        ({"name": "x", "data_type": "STRING"}, "parameter_invalid", "data_type"),
        ({"name": "x", "data_type": None}, "parameter_invalid", "data_type"),
        ({"name": "x"}, "parameter_not_found", "data_type"),
        ({"data_type": "string"}, "parameter_not_found", "name"),
        ({"name": "", "data_type": "string"}, "parameter_invalid", "name"),
        ({"name": "a.b", "data_type": "string"}, "parameter_invalid", "name"),
        ({"name": "plan!", "data_type": "string"}, "parameter_invalid", "name"),
        ({"name": "x" * 191, "data_type": "string"}, "parameter_invalid", "name"),
        ({"name": "email", "data_type": "string"}, "parameter_invalid", "name"),
        ({"name": "External_ID", "data_type": "string"}, "parameter_invalid", "name"),
        ({"name": "x", "data_type": "string", "model": "company"}, "parameter_invalid", "model"),
        ({"name": "x", "data_type": "string", "format": "x"}, "parameter_invalid", "format"),
        ({"name": "x", "data_type": "string", "options": "a,b"}, "parameter_invalid", "options"),
    ],
)
def test_a_bad_attribute_is_refused(api: httpx.Client, body: dict[str, Any], code: str, field: str) -> None:
    error_of(api.post("/data_attributes", json=body), 400, code, field)
    assert listed(api, include_archived=True) == []


def test_update_changes_the_description_and_nothing_else(api: httpx.Client) -> None:
    created = ok(
        api.post("/data_attributes", json={"name": "plan", "data_type": "string", "description": "old"})
    )
    updated = ok(api.put(f"/data_attributes/{created['id']}", json={"description": "Billing plan"}))
    assert updated["description"] == "Billing plan"
    assert {k: v for k, v in updated.items() if k not in ("description", "updated_at")} == {
        k: v for k, v in created.items() if k not in ("description", "updated_at")
    }
    assert updated["updated_at"] >= created["updated_at"]
    assert listed(api) == [updated]


def test_archive_hides_the_attribute_and_unarchive_brings_it_back(api: httpx.Client) -> None:
    created = ok(api.post("/data_attributes", json={"name": "plan", "data_type": "string"}))
    contact = ok(api.post("/contacts", json={"role": "lead", "custom_attributes": {"plan": "gold"}}))

    archived = ok(api.put(f"/data_attributes/{created['id']}", json={"archived": True}))
    assert archived["archived"] is True
    assert listed(api) == []
    assert listed(api, include_archived=True) == [archived]
    # values already written are kept and still shown; new writes are refused
    assert ok(api.get(f"/contacts/{contact['id']}"))["custom_attributes"] == {"plan": "gold"}
    refused = api.put(f"/contacts/{contact['id']}", json={"custom_attributes": {"plan": "silver"}})
    error_of(refused, 400, "parameter_invalid", "custom_attributes.plan")
    # an archived attribute still holds its name
    error_of(
        api.post("/data_attributes", json={"name": "plan", "data_type": "string"}), 409, "conflict", "name"
    )

    unarchived = ok(api.put(f"/data_attributes/{created['id']}", json={"archived": False}))
    assert unarchived["archived"] is False
    assert [a["id"] for a in listed(api)] == [created["id"]]
    assert ok(api.put(f"/contacts/{contact['id']}", json={"custom_attributes": {"plan": "silver"}}))[
        "custom_attributes"
    ] == {"plan": "silver"}


def test_an_empty_update_changes_nothing(api: httpx.Client) -> None:
    created = ok(
        api.post("/data_attributes", json={"name": "plan", "data_type": "string", "description": "d"})
    )
    updated = ok(api.put(f"/data_attributes/{created['id']}", json={}))
    assert (updated["description"], updated["archived"]) == ("d", False)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"archived": "perhaps"}, "archived"),
        ({"description": 5}, "description"),
        ({"data_type": "integer"}, "data_type"),
        ({"name": "renamed"}, "name"),
    ],
)
def test_a_bad_update_is_refused_and_changes_nothing(
    api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    created = ok(api.post("/data_attributes", json={"name": "plan", "data_type": "string"}))
    error_of(api.put(f"/data_attributes/{created['id']}", json=body), 400, "parameter_invalid", field)
    assert listed(api) == [created]


@pytest.mark.parametrize("attribute_id", ["999", "0", "-1", "99999999999999999999"])
def test_update_of_an_unknown_attribute_is_404(api: httpx.Client, attribute_id: str) -> None:
    error_of(api.put(f"/data_attributes/{attribute_id}", json={"archived": True}), 404, "not_found", "id")


def test_update_with_a_non_numeric_id_is_400(api: httpx.Client) -> None:
    error_of(
        api.put("/data_attributes/plan", json={"archived": True}), 400, "parameter_invalid", "attribute_id"
    )


@pytest.mark.parametrize(
    ("params", "field"), [({"model": "company"}, "model"), ({"include_archived": "sure"}, "include_archived")]
)
def test_list_refuses_bad_parameters(api: httpx.Client, params: dict[str, str], field: str) -> None:
    error_of(api.get("/data_attributes", params=params), 400, "parameter_invalid", field)


@pytest.fixture
def other(server: Server) -> Iterator[httpx.Client]:
    keys = make_workspace(server.database, "Other workspace")
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {keys.token}"}, timeout=30
    ) as client:
        yield client


def test_data_attributes_belong_to_one_workspace(api: httpx.Client, other: httpx.Client) -> None:
    mine = ok(api.post("/data_attributes", json={"name": "plan", "data_type": "string"}))
    assert listed(other) == []
    error_of(other.put(f"/data_attributes/{mine['id']}", json={"archived": True}), 404, "not_found", "id")
    refused = other.post("/contacts", json={"role": "lead", "custom_attributes": {"plan": "gold"}})
    error_of(refused, 400, "parameter_invalid", "custom_attributes.plan")
    # the same name, even another type, is free in the other workspace
    theirs = ok(other.post("/data_attributes", json={"name": "plan", "data_type": "integer"}))
    assert ok(other.post("/contacts", json={"role": "lead", "custom_attributes": {"plan": 3}}))[
        "custom_attributes"
    ] == {"plan": 3}
    assert listed(api) == [mine]
    assert theirs["data_type"] == "integer"
