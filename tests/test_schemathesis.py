"""Schema-driven fuzzing: every operation of /openapi.json, on both databases, against a real server.

Schemathesis generates valid and invalid requests from the document (fixed seed, bounded examples) and
checks each answer: never a 5xx, and only statuses, content types, bodies and headers the document states
(api/openapi.py makes it state them), with ``Allow`` on a 405. The server is this file's own, on a database
of its own, with rate limits no fuzzing reaches, so that a burst of wrong tokens blocks nobody else's tests.
Half of the requests are aimed at data seeded first (a user, a lead, a merged lead, a tag, a conversation,
a messenger visitor...), so that fuzzing gets past "not found" into the routes' own rules.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from contactmerge.api.app import create_app
from contactmerge.settings import Settings
from tests.conftest import Database, make_workspace, migrated_database, serve

SEED = 20_251_101
EXAMPLES = 40  # per operation in the fuzzing phase; the coverage phase adds its own deterministic cases
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    unsupported_method,
]
LIMITLESS = 1_000_000

# The document as create_app builds it; test_the_server_serves_the_fuzzed_document: the one served too.
DOCUMENT = create_app(Settings(database_url="sqlite://")).openapi()
CONFIG = schemathesis.Config.from_dict(
    {"seed": SEED, "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"}}
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


@dataclass
class Target:
    base_url: str
    token: str
    seeded: dict[str, dict[str, tuple[Any, ...]]]  # operation ("*": any) -> parameter -> seeded values


@pytest.fixture(scope="module")
def fuzz_target(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A server of its own, on a database of its own, with rate limits fuzzing cannot reach."""
    with migrated_database(database.backend, tmp_path_factory.mktemp("fuzzed")) as fuzzed:
        settings = Settings(
            database_url=fuzzed.url,
            auth_failures_per_address=LIMITLESS,
            auth_failures_per_workspace=LIMITLESS,
        )
        keys = make_workspace(fuzzed, "Fuzzed workspace")
        with serve(settings, fuzzed) as running:
            headers = {"Authorization": f"Bearer {keys.token}"}
            with httpx.Client(base_url=running.base_url, headers=headers, timeout=30) as api:
                seeded = _seed(api, keys.app_id)
            yield Target(running.base_url, keys.token, seeded)


def _seed(api: httpx.Client, app_id: str) -> dict[str, dict[str, tuple[Any, ...]]]:
    def made(response: httpx.Response) -> Any:
        assert response.status_code in (200, 202), response.text
        return response.json()

    user = made(
        api.post("/contacts", json={"role": "user", "external_id": "fuzz-user", "email": "u@example.com"})
    )
    lead = made(api.post("/contacts", json={"role": "lead", "email": "u@example.com", "name": "Lead"}))
    merged, undone, deleted = (
        made(api.post("/contacts", json={"role": "lead", "email": f"{name}@example.com"}))
        for name in ("merged", "undone", "deleted")
    )
    merge_ids = []
    for lead_id in (merged["id"], undone["id"]):
        made(api.post("/contacts/merge", json={"from": lead_id, "into": user["id"]}))
        merge_ids.append(made(api.get("/merges", params={"contact_id": lead_id}))["data"][0]["id"])
    tag = made(api.post("/tags", json={"name": "fuzzed"}))
    made(api.post(f"/contacts/{user['id']}/tags", json={"id": tag["id"]}))
    made(api.post(f"/contacts/{user['id']}/notes", json={"body": "A note"}))
    conversation = made(
        api.post("/conversations", json={"from": {"type": "user", "id": lead["id"]}, "body": "Hi"})
    )
    attribute = made(api.post("/data_attributes", json={"name": "plan", "data_type": "string"}))
    csv = b"email,name\nimported@example.com,Imported\n"
    upload = made(
        api.post("/imports", files={"file": ("people.csv", csv, "text/csv")}, data={"role": "lead"})
    )
    clusters = made(api.get("/duplicates", params={"type": "cluster"}))["data"]
    batch = made(api.post("/duplicates/apply", json={"cluster_ids": []}))
    visitor = made(api.post("/messenger/ping", json={"app_id": app_id, "anonymous_id": "fuzz-browser"}))
    contacts = (user["id"], lead["id"], merged["id"])
    everywhere = {
        "contact_id": contacts,
        "intercom_user_id": contacts,
        "from": contacts,
        "into": contacts,
        "id": (*contacts, tag["id"], visitor["contact"]["id"]),
        "external_id": ("fuzz-user",),
        "user_id": ("fuzz-user", "fuzz-browser"),
        "email": ("u@example.com",),
        "tag_id": (tag["id"],),
        "conversation_id": (conversation["id"],),
        "merge_id": (merge_ids[0],),
        "attribute_id": (attribute["id"],),
        "import_id": (upload["id"],),
        "batch_id": (batch["id"],),
        "cluster_id": tuple(c["id"] for c in clusters) or ("none",),
        "app_id": (app_id,),
        "anonymous_id": ("fuzz-browser",),
    }
    # what would destroy the seeded data for the operations after it gets data of its own
    return {
        "*": everywhere,
        "DELETE /contacts/{contact_id}": {"contact_id": (deleted["id"],)},
        "POST /merges/{merge_id}/undo": {"merge_id": (merge_ids[1],)},
    }


def _aim(case: schemathesis.Case, seeded: dict[str, dict[str, tuple[Any, ...]]]) -> None:
    """Every other case (by a hash of what was generated, so runs repeat) names seeded data instead."""
    turn = zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode())
    if turn % 2:
        return
    named = seeded["*"] | seeded.get(case.operation.label, {})

    def aim(container: object) -> None:  # scalars only, nested objects too (``from.id``, ``visitor.user_id``)
        if not isinstance(container, dict):
            return
        for name, value in container.items():
            if isinstance(value, dict):
                aim(value)
            elif name in named and not isinstance(value, list):
                container[name] = named[name][turn // 2 % len(named[name])]

    for container in (case.path_parameters, case.query, case.body):
        aim(container)


@schema.parametrize()
def test_every_operation_answers_as_documented(case: schemathesis.Case, fuzz_target: Target) -> None:
    _aim(case, fuzz_target.seeded)
    headers = {"Authorization": f"Bearer {fuzz_target.token}"}
    case.call_and_validate(base_url=fuzz_target.base_url, headers=headers, checks=CHECKS)


def test_the_server_serves_the_fuzzed_document(fuzz_target: Target) -> None:
    assert httpx.get(f"{fuzz_target.base_url}/openapi.json").json() == DOCUMENT


def test_a_wrong_method_names_every_allowed_one(api: httpx.Client) -> None:
    listed = api.patch("/contacts")
    assert listed.status_code == 405
    assert listed.headers["Allow"] == "GET, POST"
    assert listed.json()["errors"][0]["code"] == "method_not_allowed"
    # two routes share the path: Starlette alone would name the first one's method only
    assert api.put("/contacts/someone/notes").headers["Allow"] == "GET, POST"
