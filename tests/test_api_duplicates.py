"""GET /duplicates, approve/reject, POST /duplicates/apply (run by the worker), GET/undo /batches."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import finished


def make(api: httpx.Client, **fields: Any) -> str:
    response = api.post("/contacts", json=fields)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_review_apply_and_undo_a_batch(api: httpx.Client) -> None:
    user = make(api, role="user", external_id="u1", email="ada@example.com", name="Ada")
    lead = make(api, role="lead", email="Ada@Example.com")
    u2 = make(api, role="user", external_id="z1", phone="+15125550199", name="Zed")
    u3 = make(api, role="user", external_id="z2", phone="+1 512 555 0199", name="Zed")
    other = make(api, role="lead", email="bo@example.com", name="Bo")
    other2 = make(api, role="lead", email="bo@example.com", name="Bo")
    listed = api.get("/duplicates").json()
    assert listed["total_count"] == 3
    by_members = {tuple(sorted(c["members"])): c for c in listed["data"]}
    users_cluster = by_members[tuple(sorted([u2, u3]))]
    assert users_cluster["needs_approval"]
    bo_cluster = by_members[tuple(sorted([other, other2]))]
    assert api.post(f"/duplicates/{bo_cluster['id']}/reject").json()["decision"] == "rejected"
    assert api.post(f"/duplicates/{users_cluster['id']}/approve").json()["decision"] == "approved"

    accepted = api.post("/duplicates/apply", json={})
    assert accepted.status_code == 202, accepted.text
    batch = finished(api, "/batches/" + accepted.json()["id"])
    assert batch["state"] == "done" and batch["counts"]["merged"] == 2
    assert api.get(f"/contacts/{lead}").status_code == 410
    assert api.get(f"/contacts/{other2}").status_code == 200  # rejected: not the same person
    gone = [c for c in (u2, u3) if api.get(f"/contacts/{c}").status_code == 410]
    assert len(gone) == 1  # the approved two-user cluster was merged, forced
    assert api.get("/duplicates").json()["total_count"] == 1  # only the rejected one is still there

    undone = api.post(f"/batches/{batch['id']}/undo")
    assert undone.status_code == 200 and undone.json()["state"] == "undone"
    assert undone.json()["counts"]["undone"] == 2
    assert all(api.get(f"/contacts/{c}").status_code == 200 for c in (user, lead, u2, u3))
    again = api.post(f"/batches/{batch['id']}/undo")
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "batch_not_undoable"


def test_bad_requests_name_the_field(api: httpx.Client) -> None:
    assert api.get("/duplicates", params={"key": "shoe"}).json()["errors"][0]["field"] == "keys"
    assert api.get("/duplicates", params={"per_page": 0}).json()["errors"][0]["field"] == "per_page"
    assert api.post("/duplicates/nope/approve").status_code == 404
    assert api.get("/batches/nope").status_code == 404
    assert api.post("/duplicates/apply", json={"keys": ["shoe"]}).json()["errors"][0]["field"] == "keys"


def test_clusters_page_with_their_true_total(api: httpx.Client) -> None:
    for n in range(5):
        for _ in range(2):
            make(api, role="lead", email=f"twin{n}@example.com", name=f"Twin {n}")
    every = api.get("/duplicates", params={"type": "cluster"}).json()
    assert every["total_count"] == 5 and len(every["data"]) == 5
    pages = [
        api.get("/duplicates", params={"type": "cluster", "per_page": 2, "page": p}).json() for p in (1, 2, 3)
    ]
    assert [c["id"] for page in pages for c in page["data"]] == [c["id"] for c in every["data"]]
    assert all(page["total_count"] == 5 and page["pages"]["total_pages"] == 3 for page in pages)
    assert api.get("/duplicates", params={"page": 4, "per_page": 2}).json()["data"] == []
