"""Fuzzy suggestions over HTTP and the CLI (R5, issue 6): a rejected pair is remembered as "not the same
person" and never suggested again; exact clusters keep their verdict while their members stay the same."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Database, Server, WorkspaceKeys, make_workspace
from tests.helpers import error_of, ok
from tests.test_api_duplicates import make
from tests.test_cli import run

PAIRS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "kim": (
        {"role": "lead", "name": "Kim Lee", "email": "kim.lee@example.com"},
        {"role": "lead", "name": "Kim  Lee", "email": "kimlee@example.com"},
    ),
    "phone": (
        {"role": "lead", "name": "Grace Hopper", "phone": "+1 (512) 555-0142"},
        {"role": "lead", "name": "Grace  Hoper", "phone": "512.555.0142"},
    ),
    "email": (
        {"role": "user", "external_id": "js", "name": "John Smith", "email": "john.smith@gmail.com"},
        {"role": "lead", "name": "smith john", "email": "JohnSmith+promo@googlemail.com"},
    ),
}


def seed(api: httpx.Client) -> dict[str, str]:
    """The pair id of each of ``PAIRS``, as the API names it (smaller contact id first)."""
    ids = {}
    for key, (a, b) in PAIRS.items():
        ids[key] = ":".join(sorted((make(api, **a), make(api, **b))))
    return ids


def suggested(api: httpx.Client, **params: Any) -> list[str]:
    return [s["id"] for s in ok(api.get("/duplicates/suggestions", params=params))["data"]]


def client_for(server: Server, keys: WorkspaceKeys) -> httpx.Client:
    headers = {"Authorization": f"Bearer {keys.token}", "Accept": "application/json"}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=30)


def test_a_rejected_suggestion_never_comes_back(api: httpx.Client, server: Server) -> None:
    pairs = seed(api)
    listed = ok(api.get("/duplicates/suggestions"))
    assert sorted(s["id"] for s in listed["data"]) == sorted(pairs.values())
    assert all(0.8 <= s["score"] <= 1 and s["reasons"] and s["decision"] is None for s in listed["data"])
    assert listed["total_count"] == 3 and listed["skipped_blocks"] == []

    first, second = pairs["kim"].split(":")
    rejected = ok(api.post(f"/duplicates/{second}:{first}/reject"))  # either order names the pair
    assert rejected == {
        "type": "duplicate_suggestion",
        "id": pairs["kim"],
        "contacts": [first, second],
        "decision": "rejected",
    }
    assert sorted(suggested(api)) == sorted([pairs["phone"], pairs["email"]])  # the others are still there
    assert pairs["kim"] not in suggested(api, min_score=0.0)
    make(api, role="lead", name="Kim Lee", email="k.im.lee@example.com")  # a third Kim: two new pairs
    again = suggested(api)
    assert pairs["kim"] not in again and len(again) == 4
    assert sorted(suggested(api, per_page=1, page=2)) == [again[1]]

    # Another workspace with the same people: its suggestions are its own, and it cannot name ours.
    with client_for(server, make_workspace(server.database, "other")) as other:
        theirs = seed(other)
        assert sorted(suggested(other)) == sorted(theirs.values())
        error_of(other.post(f"/duplicates/{pairs['phone']}/reject"), 404, "not_found", "id")
    assert pairs["phone"] in suggested(api)


def test_suggestion_ids_and_parameters_are_checked(api: httpx.Client) -> None:
    pairs = seed(api)
    error_of(api.post("/duplicates/a:b:c/reject"), 400, "parameter_invalid", "id")
    a = pairs["phone"].split(":")[0]
    error_of(api.post(f"/duplicates/{a}:{a}/reject"), 400, "parameter_invalid", "id")
    error_of(api.post(f"/duplicates/{a}:nobody/reject"), 404, "not_found", "id")
    error_of(
        api.get("/duplicates/suggestions", params={"min_score": 2}), 400, "parameter_invalid", "min_score"
    )
    error_of(
        api.get("/duplicates/suggestions", params={"block_cap": 1}), 400, "parameter_invalid", "block_cap"
    )
    error_of(api.get("/duplicates/suggestions", params={"per_page": 0}), 400, "parameter_invalid", "per_page")
    assert sorted(suggested(api)) == sorted(pairs.values())  # nothing was remembered


def test_a_rejected_cluster_stays_apart_while_its_members_stay_the_same(api: httpx.Client) -> None:
    bo = [make(api, role="lead", email="bo@example.com", name="Bo") for _ in range(2)]
    [cluster] = ok(api.get("/duplicates", params={"type": "cluster"}))["data"]
    assert ok(api.post(f"/duplicates/{cluster['id']}/reject"))["decision"] == "rejected"
    assert [c["decision"] for c in ok(api.get("/duplicates", params={"type": "cluster"}))["data"]] == [
        "rejected"
    ]
    third = make(api, role="lead", email="BO@example.com", name="Bo")  # the cluster changed: ask again
    [grown] = ok(api.get("/duplicates", params={"type": "cluster"}))["data"]
    assert sorted(grown["members"]) == sorted([*bo, third]) and grown["decision"] is None


def test_cli_lists_and_rejects_suggestions(
    database: Database, workspace: WorkspaceKeys, server: Server
) -> None:
    ws = ["--workspace", workspace.app_id]
    with client_for(server, workspace) as api:
        pairs = seed(api)
        for _ in range(2):
            make(api, role="lead", email="bo@example.com", name="Bo")
        [cluster] = ok(api.get("/duplicates", params={"type": "cluster"}))["data"]
        by_cli = run(database.url, "dedupe", "--reject", cluster["id"], *ws)
        assert by_cli.returncode == 0 and f"rejected cluster {cluster['id']}" in by_cli.stdout, by_cli.stderr
        assert [c["decision"] for c in ok(api.get("/duplicates", params={"type": "cluster"}))["data"]] == [
            "rejected"
        ]
    listed = run(database.url, "dedupe", "--fuzzy", *ws)
    assert listed.returncode == 0, listed.stderr
    assert all(pair in listed.stdout for pair in pairs.values()) and "3 suggestions" in listed.stdout
    rejected = run(database.url, "dedupe", "--fuzzy", "--reject", pairs["email"], *ws)
    assert rejected.returncode == 0, rejected.stderr
    assert f"rejected suggestion {pairs['email']}" in rejected.stdout and "2 suggestions" in rejected.stdout
    assert pairs["email"] not in run(database.url, "dedupe", "--fuzzy", "--min-score", "0", *ws).stdout
    refused = run(database.url, "dedupe", "--fuzzy", "--apply", *ws)
    assert refused.returncode == 1 and "never applied in bulk" in refused.stderr


def test_an_approved_suggestion_merges_its_pair_and_the_queue_lists_both_kinds(api: httpx.Client) -> None:
    pairs = seed(api)
    bo = sorted(make(api, role="lead", email="bo@example.com", name="Bo") for _ in range(2))
    queue = ok(api.get("/duplicates"))["data"]
    assert [(i["type"], i["id"]) for i in queue][:1] == [("duplicate_cluster", queue[0]["id"])]
    assert sorted(queue[0]["members"]) == bo  # the exact cluster; its pair is not suggested again
    assert sorted(i["id"] for i in queue[1:]) == sorted(pairs.values())
    assert [i["id"] for i in ok(api.get("/duplicates", params={"type": "suggestion"}))["data"]] == [
        i["id"] for i in queue[1:]
    ]
    error_of(api.get("/duplicates", params={"type": "pairs"}), 400, "parameter_invalid", "type")

    approved = ok(api.post(f"/duplicates/{pairs['email']}/approve"))
    assert approved["decision"] == "approved" and approved["id"] == pairs["email"]
    user = ok(api.get(f"/contacts/{approved['survivor']}"))
    assert user["role"] == "user" and user["external_id"] == "js"  # the lead folded into the user
    lead = next(c for c in pairs["email"].split(":") if c != approved["survivor"])
    assert api.get(f"/contacts/{lead}").status_code == 410
    history = ok(api.get("/merges", params={"contact_id": approved["survivor"]}))["data"]
    assert [m["id"] for m in history] == [approved["merge_id"]]
    assert pairs["email"] not in suggested(api)
    ok(api.post(f"/merges/{approved['merge_id']}/undo"))  # reversible like every merge
    assert ok(api.get(f"/contacts/{lead}"))["role"] == "lead"
