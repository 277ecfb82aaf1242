"""Fuzzy suggestions over HTTP and the CLI (R5, issues 6 and 12): a scan, run by the worker, stores the
queue that every list pages through; a rejected pair is remembered as "not the same person" and never
suggested again, whichever scan finds it; exact clusters keep their verdict while their members stay the
same."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Database, Server, WorkspaceKeys, make_workspace
from tests.helpers import error_of, finished, ok
from tests.helpers import run_cli as run
from tests.test_api_duplicates import make

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


def bo_cluster(api: httpx.Client) -> dict[str, Any]:
    clusters = ok(api.get("/duplicates", params={"type": "cluster"}))["data"]
    return next(c for c in clusters if c["keys"] == [{"kind": "email", "value": "bo@example.com"}])


def rescan(api: httpx.Client, **options: Any) -> dict[str, Any]:
    """A suggestion scan started over the API and run by the server's worker, finished."""
    started = api.post("/duplicates/suggestions/scan", json=options)
    assert started.status_code == 202, started.text
    assert started.json()["kind"] == "suggest" and started.json()["state"] == "pending"
    return finished(api, "/batches/" + started.json()["id"])


def client_for(server: Server, keys: WorkspaceKeys) -> httpx.Client:
    headers = {"Authorization": f"Bearer {keys.token}", "Accept": "application/json"}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=30)


def test_a_rejected_suggestion_never_comes_back(api: httpx.Client, server: Server) -> None:
    pairs = seed(api)
    before = ok(api.get("/duplicates/suggestions"))
    assert before["scan"] is None and before["total_count"] == 0 and before["data"] == []  # no scan yet
    scan = rescan(api)
    assert scan["state"] == "done" and scan["counts"]["suggestions"] >= 3
    listed = ok(api.get("/duplicates/suggestions"))
    assert sorted(s["id"] for s in listed["data"]) == sorted(pairs.values())
    assert all(0.8 <= s["score"] <= 1 and s["reasons"] and s["decision"] is None for s in listed["data"])
    assert listed["total_count"] == 3 and listed["skipped_blocks"] == []
    assert listed["scan"]["id"] == scan["id"] and listed["scan"]["finished_at"] == scan["finished_at"]
    assert listed["pages"] == {"type": "pages", "page": 1, "per_page": 50, "total_pages": 1}

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
    make(api, role="lead", name="Kim Lee", email="kim.lee@example.com")  # a third Kim: two new pairs
    assert len(suggested(api)) == 2  # found by the next scan, not by reading
    rescan(api)
    again = suggested(api)
    assert pairs["kim"] not in again and len(again) == 4  # a rejected pair never comes back
    paged = ok(api.get("/duplicates/suggestions", params={"per_page": 3, "page": 2}))
    assert [s["id"] for s in paged["data"]] == [again[3]] and paged["total_count"] == 4
    assert paged["pages"] == {"type": "pages", "page": 2, "per_page": 3, "total_pages": 2}
    assert ok(api.get("/duplicates/suggestions", params={"page": 9}))["data"] == []

    # Another workspace with the same people: its suggestions are its own, and it cannot name ours.
    with client_for(server, make_workspace(server.database, "other")) as other:
        theirs = seed(other)
        rescan(other)
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
    scan = "/duplicates/suggestions/scan"
    error_of(api.post(scan, json={"block_cap": 1}), 400, "parameter_invalid", "block_cap")
    error_of(api.post(scan, json={"min_score": -0.1}), 400, "parameter_invalid", "min_score")
    error_of(api.post(scan, json={"shoe": 1}), 400, "parameter_invalid", "shoe")
    error_of(api.get("/duplicates/suggestions", params={"per_page": 0}), 400, "parameter_invalid", "per_page")
    assert ok(api.get("/duplicates/suggestions"))["scan"] is None  # no scan was started
    rescan(api, min_score=0.9, block_cap=2)
    listed = ok(api.get("/duplicates/suggestions", params={"min_score": 0}))
    assert listed["scan"]["min_score"] == 0.9 and listed["scan"]["block_cap"] == 2
    assert all(s["score"] >= 0.9 for s in listed["data"])
    assert sorted(suggested(api, min_score=0.9)) == sorted(s["id"] for s in listed["data"])


def test_a_scan_is_a_batch_a_worker_runs_and_cannot_be_undone(api: httpx.Client) -> None:
    seed(api)
    scan = rescan(api)
    assert scan["kind"] == "suggest" and scan["options"] == {"min_score": 0.5, "block_cap": 50}
    assert {"suggestions", "pairs_compared", "blocks_skipped"} <= set(scan["counts"])
    error_of(api.post(f"/batches/{scan['id']}/undo"), 409, "batch_not_undoable", "id")
    newer = rescan(api)
    assert ok(api.get("/duplicates/suggestions"))["scan"]["id"] == newer["id"] != scan["id"]
    assert ok(api.get(f"/batches/{scan['id']}"))["state"] == "done"  # the older scan is kept as a record


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
        cluster = bo_cluster(api)
        by_cli = run(database.url, "dedupe", "reject", cluster["id"], *ws)
        assert by_cli.returncode == 0 and f"rejected cluster {cluster['id']}" in by_cli.stdout, by_cli.stderr
        assert bo_cluster(api)["decision"] == "rejected"
        scan = rescan(api)  # a scan the worker ran is the queue the CLI reads
    listed = run(database.url, "dedupe", "suggest", *ws)
    assert listed.returncode == 0, listed.stderr
    assert all(pair in listed.stdout for pair in pairs.values()), listed.stdout
    assert f"showing 1\N{EN DASH}3 of 3 suggestions (scan {scan['id']} at" in listed.stdout
    rejected = run(database.url, "dedupe", "reject", pairs["email"], *ws)
    assert rejected.returncode == 0, rejected.stderr
    assert f"rejected suggestion {pairs['email']}" in rejected.stdout
    after = run(database.url, "dedupe", "suggest", "--min-score", "0", *ws).stdout
    assert pairs["email"] not in after and "of 2 suggestions" in after
    refused = run(database.url, "dedupe", "apply", "--fuzzy", *ws)
    assert refused.returncode == 2 and "No such option" in refused.stderr


def test_an_approved_suggestion_merges_its_pair_and_the_queue_lists_both_kinds(api: httpx.Client) -> None:
    pairs = seed(api)
    bo = sorted(make(api, role="lead", email="bo@example.com", name="Bo") for _ in range(2))
    before = ok(api.get("/duplicates"))
    assert before["scan"] is None and {i["type"] for i in before["data"]} == {"duplicate_cluster"}  # no scan
    scan = rescan(api)
    listed = ok(api.get("/duplicates"))
    queue = listed["data"]
    assert listed["total_count"] == len(queue) and listed["scan"]["id"] == scan["id"]
    clusters = [i for i in queue if i["type"] == "duplicate_cluster"]
    assert clusters == queue[: len(clusters)] and bo in [sorted(c["members"]) for c in clusters]
    loose = [p for p in pairs.values() if not any(set(p.split(":")) <= set(c["members"]) for c in clusters)]
    assert pairs["kim"] in loose  # a pair no exact key ties is suggested; a tied pair is the cluster's
    assert sorted(i["id"] for i in queue[len(clusters) :]) == sorted(loose)
    assert [i["id"] for i in ok(api.get("/duplicates", params={"type": "suggestion"}))["data"]] == [
        i["id"] for i in queue[len(clusters) :]
    ]
    for page in range(1, len(queue) + 1):  # pages of one: clusters, then suggestions, with the true total
        one = ok(api.get("/duplicates", params={"per_page": 1, "page": page}))
        assert [i["id"] for i in one["data"]] == [queue[page - 1]["id"]]
        assert one["total_count"] == len(queue) == one["pages"]["total_pages"]
    two = ok(api.get("/duplicates", params={"per_page": 2, "page": 2}))
    assert [i["id"] for i in two["data"]] == [i["id"] for i in queue[2:4]]
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
