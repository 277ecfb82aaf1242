"""POST /imports through the real server: the upload is stored, the in-process worker runs it."""

from __future__ import annotations

import csv
import io
import json

import httpx
from sqlalchemy import func, select

from contactmerge.settings import Settings
from contactmerge.storage.tables import Import
from tests.conftest import Database, make_workspace, serve
from tests.helpers import finished


def upload(api: httpx.Client, text: str, role: str = "user", **form: str) -> httpx.Response:
    return api.post(
        "/imports",
        files={"file": ("people.csv", text.encode("utf-8"), "text/csv")},
        data={"role": role, **form},
    )


def test_upload_runs_in_the_worker_and_reports(api: httpx.Client) -> None:
    lead = api.post("/contacts", json={"role": "lead", "email": "ada@example.com"}).json()
    text = (
        "user_id;Email;Name\nu1;ADA@example.com;Ada\nu2;not-an-email;Bob\nu3;cy@example.com;Cy\n"
        ";not-an-email;Dee\n"
    )
    accepted = upload(api, text)
    assert accepted.status_code == 202, accepted.text
    body = finished(api, "/imports/" + accepted.json()["id"])
    assert body["state"] == "done", body
    # Bob is kept without his email (R3: a bad cell costs its value); Dee has nothing else to be found by
    assert body["counts"] == {
        "created": 3,
        "merged": 1,
        "invalid": 1,
        "rows_with_cell_problems": 1,
        "cells_dropped": 1,
    }
    assert body["format"]["delimiter"] == ";"
    assert body["progress"]["percent"] == 100.0
    assert api.get(f"/contacts/{lead['id']}").status_code == 410
    errors = api.get(f"/imports/{body['id']}/errors.csv")
    assert errors.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(errors.text)))
    assert rows[0] == ["row", "problem", "column", "reason", "cells"]
    assert rows[1][:3] == ["2", "created", "Email"] and rows[1][-3:] == ["u2", "not-an-email", "Bob"]
    assert rows[2][:3] == ["4", "invalid", "Email"] and rows[2][-3:] == ["", "not-an-email", "Dee"]

    undone = api.post(f"/imports/{body['id']}/undo")
    assert undone.status_code == 200, undone.text
    assert undone.json()["undo_report"]["contacts_removed"] == 3
    assert api.get(f"/contacts/{lead['id']}").status_code == 200
    again = api.post(f"/imports/{body['id']}/undo")
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "import_not_undoable"


def test_dry_run_over_http_writes_nothing(api: httpx.Client) -> None:
    dry = upload(api, "email\na@example.com\nb@example.com\n", dry_run="true")
    body = finished(api, "/imports/" + dry.json()["id"])
    assert body["dry_run"] is True and body["counts"] == {"created": 2}
    assert api.get("/contacts").json()["total_count"] == 0


def test_an_upload_reads_national_phones_in_its_region(api: httpx.Client) -> None:
    text = "email,phone\nuk@example.com,020 7946 0958\n"
    accepted = upload(api, text, region="gb")
    assert accepted.status_code == 202 and accepted.json()["region"] == "GB", accepted.text
    assert finished(api, "/imports/" + accepted.json()["id"])["counts"] == {"created": 1}
    [contact] = api.get("/contacts").json()["data"]
    assert contact["phone"] == "020 7946 0958"
    found = api.post(
        "/contacts/search", json={"query": {"field": "phone", "operator": "=", "value": "+442079460958"}}
    )
    assert found.json()["total_count"] == 1, found.text


def test_bad_uploads_are_refused_naming_the_field(api: httpx.Client) -> None:
    assert upload(api, "email\na@example.com\n", role="admin").json()["errors"][0]["field"] == "role"
    refused = upload(api, "email\na@example.com\n", region="XX")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "region"
    assert upload(api, "").json()["errors"][0]["field"] == "file"
    bad_map = upload(api, "email\na@example.com\n", map="{not json")
    assert bad_map.status_code == 400 and bad_map.json()["errors"][0]["field"] == "map"
    wrong_map = upload(api, "email\na@example.com\n", map=json.dumps({"email": "nonsense"}))
    wrong_target = finished(api, "/imports/" + wrong_map.json()["id"])
    assert wrong_target["state"] == "failed" and "map" in wrong_target["error"]
    missing = api.post("/imports", data={"role": "user"})
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "file"
    assert api.get("/imports/nope").status_code == 404


def test_an_upload_over_the_size_limit_is_refused_and_nothing_is_kept(database: Database) -> None:
    keys = make_workspace(database, "limited")
    headers = {"Authorization": f"Bearer {keys.token}"}
    fits = "email\n" + "".join(f"p{i}@example.com\n" for i in range(3))
    too_big = fits + "p3@example.com\n"
    with (
        serve(Settings(database_url=database.url, max_upload_bytes=len(fits)), database) as small,
        httpx.Client(base_url=small.base_url, headers=headers, timeout=30) as api,
    ):
        refused = upload(api, too_big)
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["field"] == "file"
        assert f"limit of {len(fits):,} bytes" in refused.json()["errors"][0]["message"]
        with database.engine.connect() as connection:
            kept = connection.execute(
                select(func.count()).select_from(Import).where(Import.workspace_id == keys.app_id)
            ).scalar_one()
        assert kept == 0  # no import, no stored chunk
        accepted = upload(api, fits)
        assert accepted.status_code == 202
        assert finished(api, "/imports/" + accepted.json()["id"])["counts"]["created"] == 3
