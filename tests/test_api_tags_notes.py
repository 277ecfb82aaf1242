"""REST API: workspace tags, tags on a contact, and notes."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import Server, Teammate, make_workspace
from tests.helpers import error_of, ok


def make_tag(api: httpx.Client, name: str) -> dict[str, Any]:
    return ok(api.post("/tags", json={"name": name}))


def tag_names(api: httpx.Client) -> list[str]:
    return [t["name"] for t in ok(api.get("/tags"))["data"]]


def contact_tags(api: httpx.Client, contact_id: str) -> list[str]:
    return [t["id"] for t in ok(api.get(f"/contacts/{contact_id}/tags"))["data"]]


@pytest.fixture
def contact(api: httpx.Client) -> dict[str, Any]:
    return ok(api.post("/contacts", json={"role": "user", "email": "ada@example.com"}))


@pytest.fixture
def other(server: Server) -> Iterator[httpx.Client]:
    keys = make_workspace(server.database, "Other workspace")
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {keys.token}"}, timeout=30
    ) as client:
        yield client


# --- workspace tags -------------------------------------------------------------------------------------


def test_post_tags_creates_a_tag_once_per_name(api: httpx.Client) -> None:
    vip = make_tag(api, "VIP")
    assert vip["type"] == "tag" and vip["name"] == "VIP" and vip["id"]
    assert make_tag(api, "VIP") == vip
    assert make_tag(api, "  VIP ") == vip
    assert ok(api.get(f"/tags/{vip['id']}")) == vip
    assert tag_names(api) == ["VIP"]


def test_get_tags_lists_the_workspace_tags_by_name(api: httpx.Client) -> None:
    assert ok(api.get("/tags")) == {"type": "list", "data": []}
    for name in ("beta", "Alpha", "churned"):
        make_tag(api, name)
    assert sorted(tag_names(api)) == ["Alpha", "beta", "churned"]
    assert len(tag_names(api)) == 3


def test_post_tags_with_an_id_renames_that_tag(api: httpx.Client, contact: dict[str, Any]) -> None:
    tag = make_tag(api, "vip")
    ok(api.post(f"/contacts/{contact['id']}/tags", json={"id": tag["id"]}))
    renamed = ok(api.post("/tags", json={"id": tag["id"], "name": "VIP customer"}))
    assert renamed == {"type": "tag", "id": tag["id"], "name": "VIP customer"}
    assert tag_names(api) == ["VIP customer"]
    assert ok(api.get(f"/contacts/{contact['id']}/tags"))["data"] == [renamed]
    # renaming to its own name is fine
    assert ok(api.post("/tags", json={"id": tag["id"], "name": "VIP customer"})) == renamed


def test_renaming_onto_another_tags_name_is_a_conflict(api: httpx.Client) -> None:
    first = make_tag(api, "first")
    second = make_tag(api, "second")
    error = error_of(api.post("/tags", json={"id": second["id"], "name": "first"}), 409, "conflict", "name")
    assert first["id"] in error["message"]
    assert sorted(tag_names(api)) == ["first", "second"]


def test_renaming_an_unknown_tag_is_404(api: httpx.Client) -> None:
    error_of(api.post("/tags", json={"id": "0000nope", "name": "x"}), 404, "not_found", "id")
    assert tag_names(api) == []


def test_get_unknown_tag_is_404(api: httpx.Client) -> None:
    error_of(api.get("/tags/0000nope"), 404, "not_found", "id")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"name": ""}, "parameter_invalid", "name"),
        ({"name": "   "}, "parameter_invalid", "name"),
        ({"name": "x" * 256}, "parameter_invalid", "name"),
        ({"name": 5}, "parameter_invalid", "name"),
        ({}, "parameter_not_found", "name"),
        ({"name": "ok", "colour": "red"}, "parameter_invalid", "colour"),
    ],
)
def test_a_bad_tag_is_refused(api: httpx.Client, body: dict[str, Any], code: str, field: str) -> None:
    error_of(api.post("/tags", json=body), 400, code, field)
    assert tag_names(api) == []


# --- tags on a contact ----------------------------------------------------------------------------------


def test_attach_list_and_detach_a_tag(api: httpx.Client, contact: dict[str, Any]) -> None:
    vip = make_tag(api, "VIP")
    beta = make_tag(api, "beta")
    assert ok(api.post(f"/contacts/{contact['id']}/tags", json={"id": vip["id"]})) == vip
    assert ok(api.post(f"/contacts/{contact['id']}/tags", json={"id": beta["id"]})) == beta
    assert ok(api.post(f"/contacts/{contact['id']}/tags", json={"id": vip["id"]})) == vip  # idempotent

    listed = ok(api.get(f"/contacts/{contact['id']}/tags"))
    assert listed["type"] == "list"
    assert sorted(t["id"] for t in listed["data"]) == sorted([vip["id"], beta["id"]])
    embedded = ok(api.get(f"/contacts/{contact['id']}"))["tags"]
    assert sorted(t["id"] for t in embedded["data"]) == sorted([vip["id"], beta["id"]])
    assert embedded["total_count"] == 2

    assert ok(api.delete(f"/contacts/{contact['id']}/tags/{vip['id']}")) == vip
    assert contact_tags(api, contact["id"]) == [beta["id"]]
    # detaching a tag that is not attached changes nothing
    assert ok(api.delete(f"/contacts/{contact['id']}/tags/{vip['id']}")) == vip
    assert contact_tags(api, contact["id"]) == [beta["id"]]
    assert sorted(tag_names(api)) == ["VIP", "beta"]


def test_search_by_tag_finds_the_tagged_contacts(api: httpx.Client, contact: dict[str, Any]) -> None:
    api.post("/contacts", json={"role": "lead"})
    vip = make_tag(api, "VIP")
    ok(api.post(f"/contacts/{contact['id']}/tags", json={"id": vip["id"]}))
    found = ok(
        api.post("/contacts/search", json={"query": {"field": "tag_id", "operator": "=", "value": vip["id"]}})
    )
    assert [c["id"] for c in found["data"]] == [contact["id"]]


def test_a_contact_shows_ten_tags_and_counts_all(api: httpx.Client, contact: dict[str, Any]) -> None:
    for n in range(11):
        tag = make_tag(api, f"tag {n:02}")
        ok(api.post(f"/contacts/{contact['id']}/tags", json={"id": tag["id"]}))
    embedded = ok(api.get(f"/contacts/{contact['id']}"))["tags"]
    assert (len(embedded["data"]), embedded["total_count"], embedded["has_more"]) == (10, 11, True)
    assert len(contact_tags(api, contact["id"])) == 11


def test_attach_unknown_tag_or_to_unknown_contact_is_404(api: httpx.Client, contact: dict[str, Any]) -> None:
    tag = make_tag(api, "VIP")
    error_of(api.post(f"/contacts/{contact['id']}/tags", json={"id": "0000nope"}), 404, "not_found", "id")
    error_of(api.post("/contacts/0000nope/tags", json={"id": tag["id"]}), 404, "not_found", "id")
    error_of(api.delete(f"/contacts/0000nope/tags/{tag['id']}"), 404, "not_found", "id")
    error_of(api.delete(f"/contacts/{contact['id']}/tags/0000nope"), 404, "not_found", "id")
    error_of(api.get("/contacts/0000nope/tags"), 404, "not_found", "id")
    error_of(api.post(f"/contacts/{contact['id']}/tags", json={}), 400, "parameter_not_found", "id")
    assert contact_tags(api, contact["id"]) == []


def test_a_tag_of_another_workspace_cannot_be_attached(
    api: httpx.Client, other: httpx.Client, contact: dict[str, Any]
) -> None:
    theirs = make_tag(other, "VIP")
    error_of(api.post(f"/contacts/{contact['id']}/tags", json={"id": theirs["id"]}), 404, "not_found", "id")
    error_of(api.get(f"/tags/{theirs['id']}"), 404, "not_found", "id")
    error_of(api.post("/tags", json={"id": theirs["id"], "name": "renamed"}), 404, "not_found", "id")
    assert contact_tags(api, contact["id"]) == []
    assert tag_names(api) == []
    assert tag_names(other) == ["VIP"]
    # a tag of the same name in this workspace is a different tag
    mine = make_tag(api, "VIP")
    assert mine["id"] != theirs["id"]


# --- notes ----------------------------------------------------------------------------------------------


def test_create_and_list_notes(api: httpx.Client, contact: dict[str, Any], owner: Teammate) -> None:
    empty = ok(api.get(f"/contacts/{contact['id']}/notes"))
    assert (empty["type"], empty["data"], empty["total_count"]) == ("list", [], 0)

    first = ok(
        api.post(f"/contacts/{contact['id']}/notes", json={"body": "<p>Called</p>", "admin_id": owner.id})
    )
    assert first["type"] == "note"
    assert first["body"] == "<p>Called</p>"
    assert first["contact"] == {"type": "contact", "id": contact["id"]}
    assert (first["author"]["type"], first["author"]["id"]) == ("admin", owner.id)
    assert first["created_at"] > 0
    second = ok(api.post(f"/contacts/{contact['id']}/notes", json={"body": "Follow up"}))
    assert second["author"] is None

    listed = ok(api.get(f"/contacts/{contact['id']}/notes"))
    assert listed["total_count"] == 2
    assert sorted(n["id"] for n in listed["data"]) == sorted([first["id"], second["id"]])
    assert {n["id"]: n for n in listed["data"]}[first["id"]] == first
    embedded = ok(api.get(f"/contacts/{contact['id']}"))["notes"]
    assert embedded["total_count"] == 2


def test_notes_page_by_number_and_end_with_an_empty_page(api: httpx.Client, contact: dict[str, Any]) -> None:
    made = [
        ok(api.post(f"/contacts/{contact['id']}/notes", json={"body": f"note {n}"}))["id"] for n in range(5)
    ]
    seen: list[str] = []
    for page in (1, 2, 3):
        body = ok(api.get(f"/contacts/{contact['id']}/notes", params={"per_page": 2, "page": page}))
        assert body["total_count"] == 5 and body["pages"]["total_pages"] == 3
        seen.extend(n["id"] for n in body["data"])
    assert sorted(seen) == sorted(made) and len(seen) == 5
    assert ok(api.get(f"/contacts/{contact['id']}/notes", params={"per_page": 2, "page": 4}))["data"] == []


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"body": ""}, "parameter_invalid", "body"),
        ({"body": "  \n "}, "parameter_invalid", "body"),
        ({}, "parameter_not_found", "body"),
        ({"body": 5}, "parameter_invalid", "body"),
        ({"body": "x", "admin_id": "a" * 65}, "parameter_invalid", "admin_id"),
        ({"body": "x", "admin_id": 1.5}, "parameter_invalid", "admin_id"),
        ({"body": "x", "admin_id": True}, "parameter_invalid", "admin_id"),
        ({"body": "x", "admin_id": 991}, "parameter_invalid", "admin_id"),  # not a teammate
        ({"body": "x", "admin_id": ""}, "parameter_invalid", "admin_id"),
        ({"body": "x", "pinned": True}, "parameter_invalid", "pinned"),
        ({"body": "nul \u0000 byte"}, "parameter_invalid", "body"),
    ],
)
def test_a_bad_note_is_refused(
    api: httpx.Client, contact: dict[str, Any], body: dict[str, Any], code: str, field: str
) -> None:
    error_of(api.post(f"/contacts/{contact['id']}/notes", json=body), 400, code, field)
    assert ok(api.get(f"/contacts/{contact['id']}/notes"))["data"] == []


def test_notes_of_unknown_contact_are_404(api: httpx.Client) -> None:
    error_of(api.post("/contacts/0000nope/notes", json={"body": "x"}), 404, "not_found", "id")
    error_of(api.get("/contacts/0000nope/notes"), 404, "not_found", "id")


def test_notes_and_tags_are_not_visible_from_another_workspace(
    api: httpx.Client, other: httpx.Client, contact: dict[str, Any]
) -> None:
    ok(api.post(f"/contacts/{contact['id']}/notes", json={"body": "private"}))
    their_contact = ok(other.post("/contacts", json={"role": "lead"}))
    assert ok(other.get(f"/contacts/{their_contact['id']}/notes"))["data"] == []
    error_of(other.get(f"/contacts/{contact['id']}/notes"), 404, "not_found", "id")
    error_of(other.post(f"/contacts/{contact['id']}/notes", json={"body": "x"}), 404, "not_found", "id")
    assert ok(api.get(f"/contacts/{contact['id']}/notes"))["total_count"] == 1


def test_concurrent_posts_of_one_tag_name_return_one_tag(api: httpx.Client) -> None:
    def attempt(_: int) -> httpx.Response:
        with httpx.Client(base_url=str(api.base_url), headers=api.headers, timeout=30) as client:
            return client.post("/tags", json={"name": "launch"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(attempt, range(8)))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert tag_names(api) == ["launch"]


def test_concurrent_attaches_of_one_tag_all_succeed(api: httpx.Client, contact: dict[str, Any]) -> None:
    tag = make_tag(api, "VIP")

    def attempt(_: int) -> httpx.Response:
        with httpx.Client(base_url=str(api.base_url), headers=api.headers, timeout=30) as client:
            return client.post(f"/contacts/{contact['id']}/tags", json={"id": tag["id"]})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(attempt, range(8)))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert contact_tags(api, contact["id"]) == [tag["id"]]
