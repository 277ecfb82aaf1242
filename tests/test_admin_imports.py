"""The admin's import pages on the real server: upload, column mapping, progress, errors.csv, undo.

The browser test goes through the whole flow as an admin would; refusals (bad files, forms without their
CSRF token, another workspace's imports) are plain HTTP, where the status and the message are easiest
to see.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Server, Teammate, WorkspaceKeys, make_teammate, make_workspace
from tests.helpers import finished
from tests.test_admin_pages import csrf_of, make, page, sign_in, signed_in_client

__all__ = ["page"]  # the browser page fixture, shared with the other admin pages' tests

# A spreadsheet export as people send them: ";" delimited, header words spelled their own way, and an
# email column named so that no auto-mapping can guess it.
PEOPLE = (
    "User-Id;Work Email;Full Name;Plan\n"
    "u1;ADA@example.com;Ada Lovelace;pro\n"
    "u2;not-an-email;Bob;free\n"
    "u3;cy@example.com;Cy;free\n"
)


@pytest.mark.browser
def test_upload_map_run_download_errors_and_undo_in_the_browser(
    api: httpx.Client, owner: Teammate, page: Page, tmp_path: Path
) -> None:
    assert api.post("/data_attributes", json={"name": "plan", "data_type": "string"}).status_code == 200
    lead = make(api, role="lead", email="ada@example.com", name="Website visitor")

    page.goto("/admin/imports")
    sign_in(page, owner)
    expect(page.locator("tr.import")).to_have_count(0)
    page.get_by_role("link", name="Import a CSV file").click()
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": PEOPLE.encode()}]
    )
    page.get_by_role("button", name="Upload").click()

    expect(page).to_have_url(re.compile(r"/admin/imports/\w+/mapping$"))
    expect(page.get_by_label("User-Id")).to_have_value("external_id")
    expect(page.get_by_label("Full Name")).to_have_value("name")
    expect(page.get_by_label("Plan")).to_have_value("custom_attributes.plan")
    expect(page.get_by_label("Work Email")).to_have_value("ignore")
    expect(page.locator("tr.column").filter(has_text="Work Email")).to_contain_text("not-an-email")
    assert api.get("/contacts").json()["total_count"] == 1  # nothing imported before the mapping
    page.get_by_label("Work Email").select_option("email")
    page.get_by_role("button", name="Start the import").click()

    expect(page).to_have_url(re.compile(r"/admin/imports/\w+$"))
    expect(page.locator("#import-state")).to_have_text("done")  # the page refreshes itself while running
    # Bob's email is no email: he is imported without it (R3: a bad cell costs its value, not the row)
    expect(page.locator("#count-created")).to_have_text("3")
    expect(page.locator("#count-merged")).to_have_text("1")
    expect(page.locator("#count-cells_dropped")).to_have_text("1")
    expect(page.locator("#count-invalid")).to_have_count(0)
    expect(page.locator("#import-progress")).to_have_attribute("value", "100.0")
    assert api.get(f"/contacts/{lead}").status_code == 410
    [ada] = api.post(
        "/contacts/search", json={"query": {"field": "external_id", "operator": "=", "value": "u1"}}
    ).json()["data"]
    assert ada["email"] == "ADA@example.com" and ada["custom_attributes"] == {"plan": "pro"}

    with page.expect_download() as download:
        page.get_by_role("link", name="Download errors.csv").click()
    saved = tmp_path / "errors.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert rows[0] == ["row", "problem", "column", "reason", "cells"]
    assert rows[1][:3] == ["2", "created", "Work Email"] and rows[1][-4:] == [
        "u2",
        "not-an-email",
        "Bob",
        "free",
    ]
    assert len(rows) == 2

    page.get_by_role("button", name="Undo this import").click()
    expect(page.locator("#import-state")).to_have_text("undone")
    expect(page.get_by_role("status")).to_contain_text("3 contacts removed, 1 merge reversed")
    expect(page.locator("#undo-contacts_removed")).to_have_text("3")
    restored = api.get(f"/contacts/{lead}")
    assert restored.status_code == 200 and restored.json()["name"] == "Website visitor"
    assert api.get("/contacts").json()["total_count"] == 1

    page.get_by_role("link", name="Imports", exact=True).click()
    listed = page.locator("tr.import")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("people.csv")
    expect(listed).to_contain_text("undone")
    expect(listed).to_contain_text("created 3, merged 1, rows_with_cell_problems 1, cells_dropped 1")


def upload(client: httpx.Client, csrf: str, name: str, content: bytes, role: str = "user") -> httpx.Response:
    return client.post(
        "/admin/imports",
        data={"csrf": csrf, "role": role},
        files={"file": (name, content, "text/csv")},
    )


def test_bad_uploads_and_mappings_are_refused_on_the_page_and_keep_nothing(
    server: Server, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    with signed_in_client(server, make_teammate(server.database, workspace)) as client:
        csrf = csrf_of(client.get("/admin/imports/new").text)
        no_file = client.post("/admin/imports", data={"csrf": csrf, "role": "user"})
        assert no_file.status_code == 400 and "file: choose a CSV file to upload" in no_file.text
        empty = upload(client, csrf, "empty.csv", b"")
        assert empty.status_code == 400 and "file: the uploaded file is empty" in empty.text
        image = upload(client, csrf, "photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
        assert image.status_code == 400 and "not a CSV text file" in image.text
        role = upload(client, csrf, "people.csv", b"email\na@example.com\n", role="admin")
        assert role.status_code == 400 and "role: role must be" in role.text
        assert "No imports yet" in client.get("/admin/imports").text

        accepted = upload(client, csrf, "people.csv", PEOPLE.encode())
        assert accepted.status_code == 303, accepted.text
        mapping = accepted.headers["location"]
        import_id = mapping.split("/")[-2]
        unknown = client.post(mapping, data={"csrf": csrf, "column-1": "nonsense"})
        assert unknown.status_code == 400
        assert "unknown field &#39;nonsense&#39;" in unknown.text and 'id="mapping"' in unknown.text
        twice = client.post(mapping, data={"csrf": csrf, "column-1": "external_id"})
        assert twice.status_code == 400 and "would be read from two columns" in twice.text
        assert api.get(f"/imports/{import_id}").json()["state"] == "mapping"  # the worker leaves it alone

        discarded = client.post(f"/admin/imports/{import_id}/discard", data={"csrf": csrf})
        assert discarded.status_code == 303
        assert api.get(f"/imports/{import_id}").status_code == 404

        clashing = upload(client, csrf, "two.csv", b"Email;E-mail Address\na@example.com;b@example.com\n")
        shown = client.get(clashing.headers["location"])
        assert shown.status_code == 200 and "would be read from two columns" in shown.text
        settled = client.post(clashing.headers["location"], data={"csrf": csrf, "column-1": "ignore"})
        assert settled.status_code == 303
        assert finished(api, f"/imports/{settled.headers['location'].split('/')[-1]}")["counts"] == {
            "created": 1
        }
    [created] = api.get("/contacts").json()["data"]
    assert created["email"] == "a@example.com"  # the bad uploads and mappings created nothing


def test_an_upload_takes_a_phone_region_and_its_page_shows_the_cells_dropped(
    server: Server, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    people = b"email,phone,signed_up_at\nuk@example.com,020 7946 0958,yesterday\n"
    with signed_in_client(server, make_teammate(server.database, workspace)) as client:
        form = client.get("/admin/imports/new").text
        assert 'name="region"' in form and 'placeholder="US"' in form
        csrf = csrf_of(form)
        files = {"file": ("people.csv", people, "text/csv")}
        refused = client.post(
            "/admin/imports", data={"csrf": csrf, "role": "user", "region": "XX"}, files=files
        )
        assert refused.status_code == 400 and "region: &#39;XX&#39; is not a region code" in refused.text
        assert "No imports yet" in client.get("/admin/imports").text
        accepted = client.post(
            "/admin/imports", data={"csrf": csrf, "role": "user", "region": "GB"}, files=files
        )
        assert accepted.status_code == 303, accepted.text
        started = client.post(accepted.headers["location"], data={"csrf": csrf})
        assert started.status_code == 303, started.text
        import_id = started.headers["location"].split("/")[-1]
        assert finished(api, f"/imports/{import_id}")["state"] == "done"
        shown = client.get(f"/admin/imports/{import_id}").text
        assert "<dt>Phone region</dt><dd>GB</dd>" in shown
        assert 'id="count-cells_dropped">1<' in shown and "Download errors.csv" in shown
        errors = list(csv.reader(io.StringIO(client.get(f"/admin/imports/{import_id}/errors.csv").text)))
        assert errors[1][:3] == ["1", "created", "signed_up_at"]
    [contact] = api.get("/contacts").json()["data"]
    assert (contact["phone"], contact["signed_up_at"]) == ("020 7946 0958", None)
    found = api.post(
        "/contacts/search", json={"query": {"field": "phone", "operator": "=", "value": "+442079460958"}}
    )
    assert found.json()["total_count"] == 1


def test_import_forms_without_the_csrf_token_change_nothing(
    server: Server, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    done = api.post(
        "/imports", files={"file": ("a.csv", b"email\na@example.com\n", "text/csv")}, data={"role": "lead"}
    )
    import_id = finished(api, f"/imports/{done.json()['id']}")["id"]
    with signed_in_client(server, make_teammate(server.database, workspace)) as client:
        csrf = csrf_of(client.get("/admin/imports/new").text)
        draft = upload(client, csrf, "people.csv", PEOPLE.encode()).headers["location"].split("/")[-2]
        refused = [
            client.post(
                "/admin/imports", data={"role": "user"}, files={"file": ("b.csv", b"email\nb@x.com\n")}
            ),
            client.post(f"/admin/imports/{draft}/mapping", data={"csrf": "0" * 64}),
            client.post(f"/admin/imports/{draft}/discard", data={}),
            client.post(f"/admin/imports/{import_id}/undo", data={}),
        ]
        assert [r.status_code for r in refused] == [403] * 4
        assert all("came from another site" in r.text for r in refused)
    assert api.get(f"/imports/{draft}").json()["state"] == "mapping"
    assert api.get(f"/imports/{import_id}").json()["state"] == "done"
    assert api.get("/contacts").json()["total_count"] == 1


def test_an_admin_never_sees_another_workspaces_imports(server: Server, api: httpx.Client) -> None:
    theirs = api.post(
        "/imports",
        files={"file": ("secret-list.csv", b"email\nnot-an-email\n", "text/csv")},
        data={"role": "lead"},
    )
    import_id = finished(api, f"/imports/{theirs.json()['id']}")["id"]
    mine = make_workspace(server.database, "Mine")
    with signed_in_client(server, make_teammate(server.database, mine)) as client:
        listed = client.get("/admin/imports")
        assert listed.status_code == 200 and "secret-list.csv" not in listed.text
        csrf = csrf_of(listed.text)
        for path in ("", "/mapping", "/errors.csv"):
            assert client.get(f"/admin/imports/{import_id}{path}").status_code == 404, path
        for action in ("undo", "discard", "mapping"):
            answer = client.post(f"/admin/imports/{import_id}/{action}", data={"csrf": csrf})
            assert answer.status_code == 404, action
    assert api.get(f"/imports/{import_id}").json()["state"] == "done"
