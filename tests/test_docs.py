"""The docs name every setting, CLI command and route, so what the code offers is written down."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from contactmerge.api.app import create_app
from contactmerge.cli.main import app as cli_app
from contactmerge.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"CONTACTMERGE_{name.upper()}" in read("configuration.md")


def cli_commands() -> list[str]:
    def walk(command: Any, prefix: str) -> list[str]:
        subcommands = getattr(command, "commands", None)  # a group (typer may bring its own click)
        if subcommands:
            return [path for name, sub in subcommands.items() for path in walk(sub, f"{prefix} {name}")]
        return [prefix.strip()]

    found = walk(typer.main.get_command(cli_app), "")
    assert len(found) > 5, found
    return found


@pytest.mark.parametrize("command", cli_commands())
def test_every_cli_command_is_documented(command: str) -> None:
    assert f"`contactmerge {command}" in read("cli.md")


def api_routes() -> list[tuple[str, str]]:
    paths = create_app().openapi()["paths"]
    return sorted((method.upper(), path) for path, operations in paths.items() for method in operations)


@pytest.mark.parametrize(("method", "path"), api_routes())
def test_every_route_is_documented(method: str, path: str) -> None:
    assert re.search(rf"\| {method} \| `{re.escape(path)}` \|", read("api.md")), (
        f"{method} {path} not in api.md"
    )


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```(?:sh|bash)?\n(.*?)```", readme, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make run", "make test"]
