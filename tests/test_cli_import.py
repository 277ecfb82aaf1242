"""``contactmerge import`` and ``contactmerge imports`` as real processes, with real files."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import Database, make_workspace
from tests.helpers import run_cli as run

DATA = Path(__file__).parent / "data" / "csv"


def test_dry_run_then_import_then_errors_then_undo(isolated_database: Database, tmp_path: Path) -> None:
    database = isolated_database
    ws = ["--workspace", make_workspace(database).app_id]
    path = tmp_path / "users.csv"
    path.write_text(
        "User ID,E-Mail,Name,Colour\nu1,ada@example.com,Ada,red\n,not-an-email,Bob,blue\n"
        "u3,cy@example.com,Cy,green\n",
        encoding="utf-8",
    )
    dry = run(database.url, "import", str(path), "--role", "user", "--dry-run", *ws)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was written" in dry.stdout
    assert re.search(r"created\s+│\s+2", dry.stdout) and re.search(r"invalid rows.*│\s+1", dry.stdout)
    assert "columns ignored (no such field or data attribute): Colour" in dry.stdout

    real = run(database.url, "import", str(path), "--role", "user", *ws)
    assert real.returncode == 0, real.stderr
    import_id = re.search(r"imports undo (\w+)", real.stdout)
    assert import_id, real.stdout
    errors = run(database.url, "imports", "errors", import_id.group(1), *ws)
    assert errors.stdout.splitlines()[1].startswith("2,invalid,E-Mail,")

    again = run(database.url, "import", str(path), "--role", "user", *ws)
    assert re.search(r"unchanged\s+│\s+2", again.stdout), again.stdout

    undone = run(database.url, "imports", "undo", import_id.group(1), *ws)
    assert undone.returncode == 0, undone.stderr
    assert "0 merges, 0 updates, 2 contacts removed" in undone.stdout
    shown = run(database.url, "imports", "show", import_id.group(1), *ws)
    assert "started by cli" in shown.stdout and "undone by cli" in shown.stdout


def test_bad_options_are_one_line_errors(isolated_database: Database, tmp_path: Path) -> None:
    database = isolated_database
    ws = ["--workspace", make_workspace(database).app_id]
    path = tmp_path / "u.csv"
    path.write_text("email\na@example.com\n", encoding="utf-8")
    bad_role = run(database.url, "import", str(path), "--role", "admin", *ws)
    assert bad_role.returncode == 1 and "role must be 'user' or 'lead'" in bad_role.stderr
    bad_map = run(database.url, "import", str(path), "--role", "user", "--map", "nonsense", *ws)
    assert bad_map.returncode == 1 and "'nonsense' is not column=field" in bad_map.stderr
    missing = run(database.url, "import", str(tmp_path / "nope.csv"), "--role", "user", *ws)
    assert missing.returncode == 2
