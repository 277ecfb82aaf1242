"""The admin web UI on the real server: sign-in, the duplicates queue, batches, contacts and merges.

Browser tests drive a real Chromium through the pages as an admin would; the security checks (another
workspace's data, forms without their CSRF token) are plain HTTP, where a refusal is easiest to see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from contactmerge.services import workspaces
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Workspace
from tests.conftest import Server, Teammate, WorkspaceKeys, make_teammate, make_workspace
from tests.helpers import finished

expect.set_options(timeout=10_000)


@pytest.fixture
def page(chromium: Browser, server: Server) -> Iterator[Page]:
    """A page in a browser context of its own (its own cookie jar), failing the test on a script error."""
    context = chromium.new_context(base_url=server.base_url)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []


def make(api: httpx.Client, **fields: Any) -> str:
    response = api.post("/contacts", json=fields)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def sign_in(page: Page, who: Teammate, password: str | None = None) -> None:
    page.fill("input[name=email]", who.email)
    page.fill("input[name=password]", who.password if password is None else password)
    page.get_by_role("button", name="Sign in").click()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@contextmanager
def signed_in_client(server: Server, who: Teammate) -> Iterator[httpx.Client]:
    """An HTTP client holding a teammate's session, as a browser would after the sign-in form."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        form = client.get("/admin/login")
        data = {"email": who.email, "password": who.password, "csrf": csrf_of(form.text)}
        response = client.post("/admin/login", data=data)
        assert response.status_code == 303, response.text
        yield client


@pytest.mark.browser
def test_review_queue_apply_and_undo_in_the_browser(api: httpx.Client, owner: Teammate, page: Page) -> None:
    user = make(api, role="user", external_id="u1", email="ada@example.com", name="Ada Lovelace")
    lead = make(api, role="lead", email="Ada@Example.com")  # a lead with no name: nobody disagrees
    make(api, role="lead", email="bo@example.com", name="Bo")
    make(api, role="lead", email="bo@example.com", name="Bo")
    zed1 = make(api, role="user", external_id="z1", phone="+15125550199", name="Zed")
    zed2 = make(api, role="user", external_id="z2", phone="+1 512 555 0199", name="Zed")

    page.goto("/admin/duplicates")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin/duplicates$"))
    sign_in(page, owner, "not the password")
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")
    sign_in(page, owner)
    expect(page).to_have_url(re.compile(r"/admin/duplicates$"))
    expect(page.get_by_role("status")).to_contain_text("Signed in to Test workspace as Olive Owner")

    clusters = page.locator("section.cluster")
    expect(clusters).to_have_count(3)
    ada = clusters.filter(has_text="ada@example.com")
    expect(ada.locator("li.survivor")).to_contain_text("Ada Lovelace")
    expect(ada).to_contain_text("Tied by email ada@example.com")
    zeds = clusters.filter(has_text="Zed")
    expect(zeds).to_contain_text("2 users: merged only on explicit, forced approval")
    zeds.get_by_role("button", name="Approve").click()
    expect(zeds.locator(".badge.approved")).to_be_visible()
    bos = clusters.filter(has_text="bo@example.com")
    bos.get_by_role("button", name="Reject").click()
    expect(bos.locator(".badge.rejected")).to_be_visible()

    page.get_by_role("button", name="Apply all safe clusters").click()
    expect(page).to_have_url(re.compile(r"/admin/batches/\w+$"))
    expect(page.locator("#batch-state")).to_have_text("done")  # the page refreshes itself while running
    expect(page.locator("#count-merged")).to_have_text("2")
    assert api.get(f"/contacts/{lead}").status_code == 410
    assert sorted(api.get(f"/contacts/{c}").status_code for c in (zed1, zed2)) == [200, 410]

    page.get_by_role("button", name="Undo this batch").click()
    expect(page.locator("#batch-state")).to_have_text("undone")
    expect(page.get_by_role("status")).to_contain_text("2 merges reversed")
    assert all(api.get(f"/contacts/{c}").status_code == 200 for c in (user, lead, zed1, zed2))

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/admin/login$"))
    page.goto("/admin/duplicates")
    expect(page).to_have_url(re.compile(r"/admin/login"))


@pytest.mark.browser
def test_fuzzy_suggestions_are_approved_or_rejected_in_the_browser(
    api: httpx.Client, owner: Teammate, page: Page
) -> None:
    user = make(api, role="user", external_id="gh", name="Grace Hopper", phone="+1 (512) 555-0142")
    lead = make(api, role="lead", name="Grace  Hoper", phone="512.555.0142")
    kim1 = make(api, role="lead", name="Kim Lee", email="kim.lee@example.com")
    kim2 = make(api, role="lead", name="Kim  Lee", email="kimlee@example.com")

    page.goto("/admin/duplicates?mode=fuzzy")
    sign_in(page, owner)
    expect(page.locator("#no-scan")).to_contain_text("No suggestion scan has run yet")
    page.get_by_role("button", name="Scan for suggestions").click()
    expect(page).to_have_url(re.compile(r"/admin/batches/\w+$"))
    expect(page.locator("#batch-state")).to_have_text("done")
    expect(page.get_by_role("button", name="Undo this batch")).to_have_count(0)  # a scan merged nothing
    page.get_by_role("link", name="See the suggestions").click()
    rows = page.locator("tr.suggestion")
    expect(rows).to_have_count(2)
    expect(page.locator("#suggestion-total")).to_contain_text("Showing 1\N{EN DASH}2 of 2 suggestions")
    rows.filter(has_text="Kim").get_by_role("button", name="Reject").click()
    expect(page.get_by_role("status")).to_contain_text("will not be suggested again")
    expect(rows).to_have_count(1)
    rows.filter(has_text="Grace").get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text(f"Merged {lead} into {user}")
    expect(rows).to_have_count(0)
    assert api.get(f"/contacts/{lead}").status_code == 410
    assert all(api.get(f"/contacts/{c}").status_code == 200 for c in (user, kim1, kim2))


@pytest.mark.browser
def test_search_preview_merge_and_undo_from_the_contact_page(
    api: httpx.Client, owner: Teammate, page: Page
) -> None:
    assert api.post("/data_attributes", json={"name": "plan", "data_type": "string"}).status_code == 200
    user = make(api, role="user", external_id="g1", email="grace@example.com", name="Grace Hopper")
    lead = make(api, role="lead", email="grace.h@example.com", custom_attributes={"plan": "pro"})
    make(api, role="lead", email="someone@example.com", name="Someone else")

    page.goto("/admin/contacts?q=grace")
    sign_in(page, owner)
    expect(page.locator("tr.contact")).to_have_count(2)  # the search survived the sign-in
    page.get_by_role("link", name="Grace Hopper").click()
    expect(page.locator("#merge-history")).to_contain_text("No merges")

    page.get_by_label("Other contact (id or email)").fill("Grace.H@example.com")
    page.get_by_role("button", name="Preview merge").click()
    expect(page.locator("#plan-attributes")).to_contain_text("custom_attributes.plan")
    assert api.get(f"/contacts/{lead}").status_code == 200  # a preview changes nothing
    page.get_by_role("button", name="Confirm merge").click()
    expect(page).to_have_url(re.compile(f"/admin/contacts/{user}$"))
    expect(page.locator("#merge-history tr.merge")).to_have_count(1)
    expect(page.locator("#merge-history")).to_contain_text("merged into this contact")
    assert api.get(f"/contacts/{lead}").status_code == 410

    page.goto(f"/admin/contacts/{lead}")  # a merged contact's page is its survivor's
    expect(page).to_have_url(re.compile(f"/admin/contacts/{user}$"))
    expect(page.get_by_role("status")).to_contain_text(f"Contact {lead} was merged into this one")

    page.locator("#merge-history").get_by_role("button", name="Undo").click()
    expect(page.get_by_role("status")).to_contain_text("undone")
    expect(page.locator("#merge-history .badge.undone")).to_be_visible()
    restored = api.get(f"/contacts/{lead}")
    assert restored.status_code == 200 and restored.json()["custom_attributes"] == {"plan": "pro"}
    assert api.get(f"/contacts/{user}").json()["custom_attributes"] == {}


def test_session_cookie_is_http_only_and_same_site_strict(server: Server, owner: Teammate) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        form = client.get("/admin/login")
        data = {"email": owner.email, "password": owner.password, "csrf": csrf_of(form.text)}
        answer = client.post("/admin/login", data=data)
    assert answer.status_code == 303
    [session] = [c for c in answer.headers.get_list("set-cookie") if c.startswith("cm_admin=")]
    assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/admin" in session
    assert "frame-ancestors 'none'" in form.headers["content-security-policy"]


def test_sign_in_refuses_a_form_not_served_to_this_browser(server: Server, owner: Teammate) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        data = {"email": owner.email, "password": owner.password, "csrf": "0" * 64}
        answer = client.post("/admin/login", data=data)
    assert answer.status_code == 403
    assert "cm_admin=" not in answer.headers.get("set-cookie", "")


def test_a_post_without_the_csrf_token_changes_nothing(
    server: Server, api: httpx.Client, owner: Teammate
) -> None:
    make(api, role="lead", email="bo@example.com", name="Bo")
    make(api, role="lead", email="bo@example.com", name="Bo")
    [cluster] = api.get("/duplicates").json()["data"]
    other = make_teammate(server.database, make_workspace(server.database, "Other"))
    with signed_in_client(server, owner) as client, signed_in_client(server, other) as them:
        forged = csrf_of(them.get("/admin/duplicates").text)  # a valid token, of another session
        for data in ({}, {"csrf": ""}, {"csrf": forged}):
            answer = client.post(f"/admin/duplicates/{cluster['id']}/reject", data=data)
            assert answer.status_code == 403 and "came from another site" in answer.text
        assert client.post("/admin/duplicates/apply", data={}).status_code == 403
        assert client.post("/admin/logout", data={}).status_code == 403
        assert client.get("/admin/duplicates").status_code == 200  # still signed in
    [after] = api.get("/duplicates").json()["data"]
    assert after["decision"] is None


def test_an_admin_never_sees_another_workspace(server: Server, api: httpx.Client) -> None:
    make(api, role="lead", email="secret@example.com", name="Their lead")
    make(api, role="lead", email="secret@example.com", name="Their lead")
    [cluster] = api.get("/duplicates").json()["data"]
    batch = api.post("/duplicates/apply", json={"cluster_ids": ["none"]}).json()
    theirs = make(api, role="user", email="owner@example.com", name="Their user")
    lead = make(api, role="lead", email="lead@example.com")
    merge = api.post("/contacts/merge", json={"from": lead, "into": theirs})
    assert merge.status_code == 200
    [record] = api.get("/merges", params={"contact_id": theirs}).json()["data"]
    mine = make_teammate(server.database, make_workspace(server.database, "Mine"))
    with signed_in_client(server, mine) as client:
        queue = client.get("/admin/duplicates")
        assert queue.status_code == 200 and "secret@example.com" not in queue.text
        csrf = csrf_of(queue.text)
        found = client.get("/admin/contacts", params={"q": "example.com"})
        assert found.status_code == 200 and "@example.com" not in found.text
        assert client.get(f"/admin/contacts/{theirs}").status_code == 404
        assert client.get(f"/admin/contacts/{lead}").status_code == 404  # not even a redirect
        assert client.get(f"/admin/contacts/{theirs}/merge", params={"other": lead}).status_code == 404
        assert client.get(f"/admin/batches/{batch['id']}").status_code == 404
        refused = client.post(f"/admin/duplicates/{cluster['id']}/approve", data={"csrf": csrf})
        assert refused.status_code == 404
        assert client.post(f"/admin/batches/{batch['id']}/undo", data={"csrf": csrf}).status_code == 404
        assert client.post(f"/admin/merges/{record['id']}/undo", data={"csrf": csrf}).status_code == 404
        merged = client.post("/admin/merges", data={"csrf": csrf, "from": theirs, "into": lead})
        assert merged.status_code == 404
    assert api.get("/duplicates").json()["data"][0]["decision"] is None
    assert api.get(f"/merges/{record['id']}").json()["state"] == "applied"


def test_the_search_box_finds_a_phone_as_the_workspace_writes_it(
    server: Server, api: httpx.Client, workspace: WorkspaceKeys, owner: Teammate
) -> None:
    with transaction(make_sessionmaker(server.database.engine)) as db:
        workspaces.update_settings(db, db.get_one(Workspace, workspace.app_id), phone_region="GB")
    make(api, role="lead", name="Caller From Leeds", phone="+44 113 496 0000")
    with signed_in_client(server, owner) as client:
        for typed in ("0113 496 0000", "+441134960000"):
            found = client.get("/admin/contacts", params={"q": typed})
            assert found.status_code == 200 and "Caller From Leeds" in found.text, typed
        assert "Caller From Leeds" not in client.get("/admin/contacts", params={"q": "0113 496 0001"}).text


SURNAMES = [
    "Abbott",
    "Barker",
    "Carver",
    "Dalton",
    "Ellison",
    "Fowler",
    "Garrison",
    "Holland",
    "Ingram",
    "Jarvis",
    "Keller",
    "Lawson",
    "Mercer",
    "Norton",
    "Oakley",
    "Preston",
    "Quincy",
    "Rowland",
    "Sutton",
    "Thayer",
    "Upton",
]


def test_the_suggestion_pages_read_the_stored_queue_with_its_true_total(
    server: Server, api: httpx.Client, owner: Teammate
) -> None:
    for surname in SURNAMES:  # 21 pairs: one more than a page holds
        make(api, role="lead", name=f"Robin {surname}", email=f"robin.{surname.lower()}@example.com")
        make(api, role="lead", name=f"Robin  {surname}", email=f"robin{surname.lower()}@example.com")
    with signed_in_client(server, owner) as client:
        empty = client.get("/admin/duplicates", params={"mode": "fuzzy"})
        assert "No suggestion scan has run yet" in empty.text and 'class="suggestion"' not in empty.text
        started = client.post("/admin/duplicates/suggestions/scan", data={"csrf": csrf_of(empty.text)})
        assert started.status_code == 303, started.text
        batch = finished(api, started.headers["location"].replace("/admin", ""))
        assert batch["kind"] == "suggest" and batch["state"] == "done"
        first = client.get("/admin/duplicates", params={"mode": "fuzzy"}).text
        assert first.count('<tr class="suggestion">') == 20
        assert "Showing 1\N{EN DASH}20 of <strong>21</strong>" in first and "Page 1 of 2" in first
        second = client.get(
            "/admin/duplicates", params={"mode": "fuzzy", "min_score": "0.8", "page": "2"}
        ).text
        assert second.count('<tr class="suggestion">') == 1
        assert "Showing 21\N{EN DASH}21 of <strong>21</strong>" in second and "Previous" in second
        shown = set(re.findall(r"/admin/duplicates/(\w+:\w+)/reject", first + second))
        assert len(shown) == 21  # every pair once, over two pages
        rejected = sorted(shown)[0]
        answer = client.post(f"/admin/duplicates/{rejected}/reject", data={"csrf": csrf_of(first)})
        assert answer.status_code == 303
        after = client.get("/admin/duplicates", params={"mode": "fuzzy"}).text
        assert "of <strong>20</strong>" in after and rejected not in after
    assert api.get("/duplicates/suggestions").json()["total_count"] == 20
