"""The ``contactmerge`` command, run as a real process against real databases."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import Database, free_port

CLI = [sys.executable, "-m", "contactmerge.cli"]


def run(url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTACTMERGE_DATABASE_URL": url, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_db_upgrade_creates_the_schema_in_a_new_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = run(url, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "database at revision" in result.stdout
    assert (tmp_path / "fresh.db").exists()


def test_db_upgrade_names_an_unreachable_database() -> None:
    result = run("postgresql+psycopg://nobody@127.0.0.1:1/none", "db", "upgrade")
    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr


def test_workspace_create_json_prints_working_credentials(database: Database) -> None:
    result = run(database.url, "workspace", "create", "Acme", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert set(info) >= {"app_id", "token", "identity_secret"}
    assert info["token"].startswith("cm_")
    listed = run(database.url, "workspace", "list")
    assert info["app_id"] in listed.stdout


def test_workspace_create_refuses_an_unknown_verification_mode(database: Database) -> None:
    before = run(database.url, "workspace", "list").stdout
    result = run(database.url, "workspace", "create", "Acme", "--identity-verification", "maybe")
    assert result.returncode == 1
    assert "identity verification must be one of" in result.stderr
    assert run(database.url, "workspace", "list").stdout == before


def test_workspace_option_is_required_when_several_exist(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'two.db'}"
    run(url, "db", "upgrade")
    first = json.loads(run(url, "workspace", "create", "One", "--json").stdout)
    only = run(url, "workspace", "token")
    assert only.returncode == 0 and only.stdout.startswith("cm_")
    second = json.loads(run(url, "workspace", "create", "Two", "--json").stdout)
    ambiguous = run(url, "workspace", "token")
    assert ambiguous.returncode == 1
    assert first["app_id"] in ambiguous.stderr and second["app_id"] in ambiguous.stderr
    chosen = run(url, "workspace", "token", "--workspace", second["app_id"])
    assert chosen.returncode == 0 and chosen.stdout.startswith("cm_")
    unknown = run(url, "workspace", "token", "--workspace", "nope")
    assert unknown.returncode == 1 and "no workspace has app_id 'nope'" in unknown.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = run(f"sqlite:///{tmp_path / 'empty.db'}", "serve", "--port", str(free_port()))
    assert result.returncode == 1
    assert "contactmerge db upgrade" in result.stderr


def test_serve_with_demo_prints_a_token_that_lists_the_demo_contacts(tmp_path: Path) -> None:
    """What `make run` does: migrate, load the demo on first run, serve, print how to use it."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert run(url, "db", "upgrade").returncode == 0
    port = free_port()
    env = {**os.environ, "CONTACTMERGE_DATABASE_URL": url, "NO_COLOR": "1", "COLUMNS": "200"}
    with subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        _check_served_demo(process, port)


def _check_served_demo(process: subprocess.Popen[str], port: int) -> None:
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line)
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
        output = "".join(lines)
        token = re.search(r"cm_[A-Za-z0-9_-]+", output)
        assert token, output
        assert f"http://127.0.0.1:{port}/contacts" in output
        response = httpx.get(
            f"http://127.0.0.1:{port}/contacts",
            headers={"Authorization": f"Bearer {token.group()}"},
            timeout=30,
        )
        assert response.status_code == 200
        body = response.json()
        assert body["total_count"] >= 40
        assert any(c["role"] == "lead" for c in body["data"]) or body["total_count"] > len(body["data"])
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_demo_loads_once_and_then_only_issues_tokens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    run(url, "db", "upgrade")
    first = run(url, "demo")
    assert first.returncode == 0, first.stderr
    assert "Loaded the demo workspace" in first.stdout
    second = run(url, "demo")
    assert second.returncode == 0
    assert "Loaded the demo workspace" not in second.stdout
    assert len(run(url, "workspace", "list").stdout.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["nonsense"], ["workspace", "create"], ["serve", "--port", "notaport"]])
def test_bad_arguments_exit_non_zero_with_usage(args: list[str], tmp_path: Path) -> None:
    result = run(f"sqlite:///{tmp_path / 'x.db'}", *args)
    assert result.returncode == 2
    assert "Usage" in result.stderr or "Usage" in result.stdout
