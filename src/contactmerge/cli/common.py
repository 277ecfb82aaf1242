"""What every command shares: settings, a database transaction, and errors as one line + exit 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.orm import Session as DbSession

from contactmerge.errors import ContactMergeError
from contactmerge.settings import Settings
from contactmerge.storage.db import make_engine, make_sessionmaker, read_only, transaction

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


def fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)
