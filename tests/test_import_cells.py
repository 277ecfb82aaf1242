"""R3: a cell that does not validate costs that value, not the row (issue 12). Phones are read with the
``00``/``011`` prefixes, in the row's country, the import's region, the workspace's or the server's, and a
number valid only elsewhere never becomes a fake one. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from contactmerge.domain.importing import auto_map
from contactmerge.errors import BadRequest
from contactmerge.services import contacts, workspaces
from contactmerge.services.importing import jobs as importing
from contactmerge.services.importing import outcomes
from contactmerge.services.importing.chunk import ChunkContext, process_chunk
from contactmerge.services.importing.source import CsvRow
from contactmerge.services.importing.validation import prepare_rows
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact, Import, Workspace
from tests.conftest import Database, make_workspace
from tests.helpers import run_cli as cli
from tests.test_importing import count, new_workspace, write_csv

HEADER = ["user_id", "email", "name", "phone", "country", "signed_up_at", "seats"]
ROWS = [
    ["u1", "a1@example.com", "Intl 00", "00 44 20 7946 0958", "", "", ""],
    ["u2", "a2@example.com", "US via 001", "001 512 555 0100", "", "", ""],
    ["u3", "a3@example.com", "NANP 011", "011 44 20 7946 0958", "", "", ""],
    ["u4", "a4@example.com", "UK national", "020 7946 0958", "GB", "", ""],
    ["u5", "a5@example.com", "German national", "030 12345678", "Deutschland", "", ""],
    ["u6", "a6@example.com", "French mobile", "06 12 34 56 78", "", "", ""],  # 10 digits, not +1
    ["u7", "a7@example.com", "Bad date", "", "", "15/01/2024", "3"],
    ["u8", "a8@example.com", "Bad seats", "", "", "2024-01-15", "many"],
    ["u9", "not-an-email", "Bad email, has an external_id", "", "", "", ""],
    ["", "not-an-email", "Bad email, nothing else", "", "", "", ""],
    ["u11", "a11@example.com", "Unknown country", "020 7946 0958", "Narnia", "", ""],
    ["null", "a12@example.com", "Junk external_id", "(512) 555-0199", "USA", "", ""],
]
JAN_15 = 1705276800


def run(
    database: Database,
    workspace_id: str,
    path: Path,
    *,
    dry_run: bool = False,
    region: str | None = None,
    server_region: str = "US",
) -> Import:
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        job = importing.create_import(
            db,
            db.get_one(Workspace, workspace_id),
            filename=path.name,
            role="user",
            mapping={},
            dry_run=dry_run,
            size_bytes=path.stat().st_size,
            region=region,
            actor="test",
        )
    return importing.run_import(
        sessions, workspace_id, job.id, lambda: path.open("rb"), region=server_region, chunk_rows=5
    )


def stored(database: Database, workspace_id: str) -> dict[str, tuple[Any, ...]]:
    """Each live contact by name: external_id, email, phone as given, E.164, country, signed_up_at, seats."""
    with make_sessionmaker(database.engine)() as db:
        found = db.scalars(
            select(Contact).where(Contact.workspace_id == workspace_id, Contact.merged_into_id.is_(None))
        )
        return {
            c.name or "": (
                c.external_id,
                c.email,
                c.phone,
                c.phone_e164,
                c.location_country,
                c.signed_up_at,
                c.custom_attributes.get("seats"),
            )
            for c in found
        }


def problems(database: Database, workspace_id: str, import_id: str) -> list[list[str]]:
    """errors.csv as a user downloads it: row, problem, column, reason (the cells left out)."""
    with make_sessionmaker(database.engine)() as db:
        text = "".join(outcomes.problem_csv(db, db.get_one(Workspace, workspace_id), import_id))
    return [line[:4] for line in csv.reader(io.StringIO(text))][1:]


EXPECTED_COUNTS = {
    "created": 11,
    "invalid": 1,
    "rows_with_cell_problems": 6,
    "cells_dropped": 5,
    "phones_kept_as_given": 2,
}


def test_a_bad_cell_costs_its_value_and_phones_are_read_where_they_belong(
    database: Database, tmp_path: Path
) -> None:
    workspace_id = new_workspace(database)
    path = write_csv(tmp_path / "messy.csv", HEADER, ROWS)
    job = run(database, workspace_id, path)
    assert job.state == "done", job.error
    assert job.counts == EXPECTED_COUNTS
    assert stored(database, workspace_id) == {
        "Intl 00": ("u1", "a1@example.com", "00 44 20 7946 0958", "+442079460958", None, None, None),
        "US via 001": ("u2", "a2@example.com", "001 512 555 0100", "+15125550100", None, None, None),
        "NANP 011": ("u3", "a3@example.com", "011 44 20 7946 0958", "+442079460958", None, None, None),
        "UK national": (
            "u4",
            "a4@example.com",
            "020 7946 0958",
            "+442079460958",
            "United Kingdom",
            None,
            None,
        ),
        "German national": ("u5", "a5@example.com", "030 12345678", "+493012345678", "Germany", None, None),
        # valid only in France: kept as given, never +10612345678
        "French mobile": ("u6", "a6@example.com", "06 12 34 56 78", None, None, None, None),
        "Bad date": ("u7", "a7@example.com", None, None, None, None, 3),
        "Bad seats": ("u8", "a8@example.com", None, None, None, JAN_15, None),
        "Bad email, has an external_id": ("u9", None, None, None, None, None, None),
        "Unknown country": ("u11", "a11@example.com", "020 7946 0958", None, None, None, None),
        "Junk external_id": (
            None,
            "a12@example.com",
            "(512) 555-0199",
            "+15125550199",
            "United States",
            None,
            None,
        ),
    }
    reported = problems(database, workspace_id, job.id)
    assert [row[:3] for row in reported] == [
        ["6", "created", "phone"],
        ["7", "created", "signed_up_at"],
        ["8", "created", "seats"],
        ["9", "created", "email"],
        ["10", "invalid", "email"],
        ["11", "created", "country, phone"],
        ["12", "created", "user_id"],
    ]
    reasons = {int(row[0]): row[3] for row in reported}
    assert reasons[6] == (
        "phone: '06 12 34 56 78' is not a valid phone number in region US "
        "(kept as given, without an E.164 form)"
    )
    assert reasons[7] == "signed_up_at: '15/01/2024' must be a Unix timestamp or an ISO 8601 date"
    assert reasons[8] == "seats: 'many' must be a whole number"
    assert reasons[9].startswith("email: 'not-an-email' is not a valid email address")
    assert reasons[10].startswith("email: 'not-an-email' is not a valid email address")
    assert reasons[10].endswith("(the row has no other identifier)")
    assert reasons[11].startswith("country: 'Narnia' is not a country")
    assert "phone: '020 7946 0958' is not a valid phone number in region US (kept as given" in reasons[11]
    assert reasons[12] == "user_id: 'null' cannot identify a contact"


def test_a_dry_run_reports_the_same_cells_and_writes_nothing(database: Database, tmp_path: Path) -> None:
    workspace_id = new_workspace(database)
    path = write_csv(tmp_path / "messy.csv", HEADER, ROWS)
    dry = run(database, workspace_id, path, dry_run=True)
    assert dry.counts == EXPECTED_COUNTS
    assert count(database, workspace_id) == 0
    real = run(database, workspace_id, path)
    assert problems(database, workspace_id, dry.id) == problems(database, workspace_id, real.id)


def test_the_import_region_then_the_workspace_then_the_server_reads_national_numbers(
    database: Database, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "national.csv",
        ["email", "name", "phone"],
        [["uk@example.com", "UK", "020 7946 0958"], ["us@example.com", "US", "001 512 555 0100"]],
    )

    def phones(**options: Any) -> dict[str, Any]:
        workspace_id = new_workspace(database)
        job = run(database, workspace_id, path, **options)
        assert job.state == "done", job.error
        return {name: values[3] for name, values in stored(database, workspace_id).items()}

    assert phones() == {"UK": None, "US": "+15125550100"}
    assert phones(region="GB") == {"UK": "+442079460958", "US": "+15125550100"}
    assert phones(server_region="GB") == {"UK": "+442079460958", "US": "+15125550100"}
    # the workspace's region wins over the server's, the import's over both
    workspace_id = new_workspace(database)
    with transaction(make_sessionmaker(database.engine)) as db:
        workspaces.update_settings(db, db.get_one(Workspace, workspace_id), phone_region="gb")
    run(database, workspace_id, path)
    assert stored(database, workspace_id)["UK"][3] == "+442079460958"
    other = write_csv(
        tmp_path / "fr.csv", ["email", "name", "phone"], [["fr@example.com", "FR", "06 12 34 56 78"]]
    )
    run(database, workspace_id, other, region="FR")
    assert stored(database, workspace_id)["FR"][3] == "+33612345678"


def test_an_unknown_region_is_refused_naming_the_field_and_nothing_changes(database: Database) -> None:
    workspace_id = new_workspace(database)
    sessions = make_sessionmaker(database.engine)
    for region in ("XX", "Germany", "0"):
        try:
            with transaction(sessions) as db:
                importing.create_import(
                    db,
                    db.get_one(Workspace, workspace_id),
                    filename="a.csv",
                    role="user",
                    mapping={},
                    dry_run=False,
                    size_bytes=1,
                    region=region,
                    actor="test",
                )
        except BadRequest as error:
            assert error.field == "region" and f"'{region}' is not a region code" in error.message
        else:
            raise AssertionError(f"region {region!r} was accepted")
        try:
            with transaction(sessions) as db:
                workspaces.update_settings(db, db.get_one(Workspace, workspace_id), phone_region=region)
        except BadRequest as error:
            assert error.field == "phone_region"
        else:
            raise AssertionError(f"phone_region {region!r} was accepted")
    with sessions() as db:
        assert importing.list_imports(db, db.get_one(Workspace, workspace_id), offset=0, limit=10) == []
        assert "phone_region" not in db.get_one(Workspace, workspace_id).settings


def test_undo_takes_back_rows_that_lost_a_cell(database: Database, tmp_path: Path) -> None:
    workspace_id = new_workspace(database)
    with transaction(make_sessionmaker(database.engine)) as db:
        contacts.create_contact(
            db,
            db.get_one(Workspace, workspace_id),
            {"role": "user", "external_id": "u7", "email": "a7@example.com", "name": "Before"},
            region="US",
        )
    job = run(database, workspace_id, write_csv(tmp_path / "messy.csv", HEADER, ROWS))
    assert job.counts["updated"] == 1 and job.counts["created"] == 10
    assert ["7", "updated", "signed_up_at"] in [row[:3] for row in problems(database, workspace_id, job.id)]
    assert stored(database, workspace_id)["Bad date"][6] == 3
    with transaction(make_sessionmaker(database.engine)) as db:
        undone = outcomes.undo_import(db, db.get_one(Workspace, workspace_id), job.id, actor="test")
        assert undone.undo_report == {
            "merges_undone": 0,
            "updates_reverted": 1,
            "contacts_removed": 10,
            "conflicts": [],
        }
    assert stored(database, workspace_id) == {
        "Before": ("u7", "a7@example.com", None, None, None, None, None)
    }


def test_the_cli_takes_a_region_and_the_workspace_a_phone_region(
    isolated_database: Database, tmp_path: Path
) -> None:
    database = isolated_database
    ws = ["--workspace", make_workspace(database).app_id]
    path = write_csv(tmp_path / "messy.csv", HEADER, ROWS)
    bad = cli(database.url, "import", str(path), "--role", "user", "--region", "XX", *ws)
    assert bad.returncode == 1 and "'XX' is not a region code" in bad.stderr
    bad = cli(database.url, "workspace", "set", "--phone-region", "Narnia", *ws)
    assert bad.returncode == 1 and "'Narnia' is not a region code" in bad.stderr
    changed = cli(database.url, "workspace", "set", "--phone-region", "gb", *ws)
    assert changed.returncode == 0, changed.stderr
    assert "import phone region GB" in changed.stdout
    dry = cli(database.url, "import", str(path), "--role", "user", "--dry-run", "--region", "US", *ws)
    assert dry.returncode == 0, dry.stderr
    # this workspace has no "seats" data attribute: that column is ignored, not dropped cell by cell
    assert "columns ignored (no such field or data attribute): seats" in dry.stdout
    assert re.search(r"cells dropped.*│\s+4", dry.stdout), dry.stdout
    assert re.search(r"phones kept as given.*│\s+2", dry.stdout), dry.stdout
    real = cli(database.url, "import", str(path), "--role", "user", *ws)  # the workspace's GB
    assert real.returncode == 0, real.stderr
    # "020 7946 0958" of the row whose country is unknown is now read in GB: one phone fewer kept as given
    assert re.search(r"phones kept as given.*│\s+1", real.stdout), real.stdout
    assert "errors.csv names each cell" in real.stdout
    import_id = re.search(r"imports undo (\w+)", real.stdout)
    assert import_id, real.stdout
    errors = cli(database.url, "imports", "errors", import_id.group(1), *ws)
    lines = list(csv.reader(io.StringIO(errors.stdout)))
    assert [line[:3] for line in lines[1:3]] == [["6", "created", "phone"], ["7", "created", "signed_up_at"]]


# Any text a CSV file can hold: its reader decodes strictly and refuses NUL bytes.
GARBAGE = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(GARBAGE, GARBAGE, GARBAGE, GARBAGE, GARBAGE, GARBAGE), min_size=1, max_size=8))
def test_garbage_in_other_cells_never_costs_a_row_with_a_valid_email(
    database: Database, garbage: list[tuple[str, ...]]
) -> None:
    workspace_id = property_workspace(database)
    header = ("email", "name", "phone", "country", "signed_up_at", "seats", "tags")
    rows = [
        CsvRow(number, number + 1, [f"p{number}@example.com", *cells], 0)
        for number, cells in enumerate(garbage, start=1)
    ]
    sessions = make_sessionmaker(database.engine)
    with sessions() as db, db.begin() as tx:
        workspace = db.get_one(Workspace, workspace_id)
        job = importing.create_import(
            db,
            workspace,
            filename="g.csv",
            role="lead",
            mapping={},
            dry_run=True,
            size_bytes=1,
            actor="test",
        )
        types = {"seats": "integer"}
        ctx = ChunkContext(workspace, job, auto_map(header, types, {}), header, types, "US")
        outcome = process_chunk(db, ctx, prepare_rows(ctx.rules, rows))
        db.flush()
        created = db.scalars(
            select(Contact.email).where(Contact.workspace_id == workspace_id, Contact.import_id == job.id)
        ).all()
        tx.rollback()
    assert outcome.counts["created"] == len(rows)
    assert sorted(e or "" for e in created) == sorted(f"p{n}@example.com" for n in range(1, len(rows) + 1))
    noted = {r["row_number"] for r in outcome.rows}
    assert outcome.counts["rows_with_cell_problems"] == len(noted)
    assert all(r["action"] == "created" and r["column"] for r in outcome.rows)


_PROPERTY_WORKSPACES: dict[str, str] = {}


def property_workspace(database: Database) -> str:
    """One workspace per database for every example (each example rolls back what it wrote)."""
    if database.url not in _PROPERTY_WORKSPACES:
        _PROPERTY_WORKSPACES[database.url] = new_workspace(database)
    return _PROPERTY_WORKSPACES[database.url]
