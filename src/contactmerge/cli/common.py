"""What every command shares: settings, a database transaction, and errors as one line + exit 1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import typer
from rich.console import Console
from sqlalchemy.orm import Session as DbSession

from contactmerge.errors import ContactMergeError
from contactmerge.settings import Settings
from contactmerge.storage.db import make_engine, make_sessionmaker, read_only, transaction

# Who the CLI's changes are recorded as (domain.teammates): the command line, not a teammate or a token
CLI_ACTOR = "cli"

console = Console()
err_console = Console(stderr=True)


def settings() -> Settings:
    return Settings()


@contextmanager
def unit_of_work(config: Settings | None = None) -> Iterator[DbSession]:
    """One transaction for one command; a ContactMergeError becomes ``error: …`` and exit status 1."""
    config = config or settings()
    engine = make_engine(config.database_url)
    try:
        with transaction(make_sessionmaker(engine)) as db:
            yield db
    except ContactMergeError as error:
        fail(error.message)
    finally:
        engine.dispose()


@contextmanager
def reading(config: Settings | None = None) -> Iterator[DbSession]:
    """A read-only transaction for a command's slow reads: on SQLite it never takes the write lock, so
    the server's writers do not wait for it. A ContactMergeError becomes ``error: …`` and exit status 1."""
    config = config or settings()
    engine = make_engine(config.database_url)
    try:
        with make_sessionmaker(engine)() as db:
            yield read_only(db)
    except ContactMergeError as error:
        fail(error.message)
    finally:
        engine.dispose()


def writable(path: Path | None, option: str) -> None:
    """Fail with one line, before any work is done, when an output file option names a file that cannot
    be written (no such folder, a folder, no permission)."""
    if path is None:
        return
    folder = path.parent
    if path.is_dir():
        fail(f"{option}: {path} is a folder; name a file")
    elif not folder.is_dir():
        fail(f"{option}: the folder {folder} does not exist")
    elif not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"{option}: {path} cannot be written")


@contextmanager
def output(path: Path, option: str) -> Iterator[TextIO]:
    """``path`` open for writing text; an error writing it is one line and exit status 1."""
    try:
        with path.open("w", newline="") as handle:
            yield handle
    except OSError as error:
        fail(f"{option}: cannot write {path}: {error.strerror or error}")


def fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)
