"""Shared helpers: fresh databases for each backend, timing, and the report."""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from contactmerge.storage.db import make_engine
from contactmerge.storage.migrate import upgrade

POSTGRES_ENV = "CONTACTMERGE_TEST_POSTGRES_URL"


@dataclass
class Result:
    name: str
    backend: str
    figures: dict[str, float] = field(default_factory=dict)
    note: str = ""


def backends() -> list[str]:
    return ["sqlite", "postgres"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


@contextmanager
def fresh_database(backend: str) -> Iterator[Engine]:
    """A migrated, empty database of one backend, dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
            upgrade(engine)
            try:
                yield engine
            finally:
                engine.dispose()
        return
    base = os.environ[POSTGRES_ENV]
    name = f"cm_bench_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(base).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start
