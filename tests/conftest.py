"""Fixtures: real databases (SQLite file, PostgreSQL) built by the migrations, and a real server.

Each backend gets a fresh database per test session; each test gets a fresh workspace in it, which also
keeps tests apart because no data crosses workspaces. PostgreSQL runs when CONTACTMERGE_TEST_POSTGRES_URL
is set; otherwise its tests skip with that reason, except under CI=true, where a skip is a failure.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from contactmerge.api.app import create_app
from contactmerge.services import teammates, workspaces
from contactmerge.settings import Settings
from contactmerge.storage.db import make_engine, make_sessionmaker, transaction
from contactmerge.storage.migrate import upgrade
from contactmerge.storage.tables import Workspace

POSTGRES_ENV = "CONTACTMERGE_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require(reason: str) -> None:
    """Skip with a visible reason on a laptop; fail under CI, where every test must run."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@dataclass
class Database:
    backend: str
    url: str
    engine: Engine


def _fresh_postgres(base_url: str) -> Iterator[str]:
    name = f"cm_test_{secrets.token_hex(5)}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def migrated_database(backend: str, folder: Path) -> Iterator[Database]:
    """A fresh database of ``backend`` built by the migrations (a file in ``folder``, or a new PostgreSQL
    database beside the one CONTACTMERGE_TEST_POSTGRES_URL names), dropped afterwards."""
    if backend == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{folder / 'contactmerge.db'}"])
    else:
        base = os.environ.get(POSTGRES_ENV)
        if not base:
            require(f"{POSTGRES_ENV} is not set, so PostgreSQL tests cannot run")
        urls = _fresh_postgres(str(base))
    url = next(urls)
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield Database(backend, url, engine)
    finally:
        engine.dispose()
        for _ in urls:  # runs the PostgreSQL clean-up
            pass


@pytest.fixture(scope="session", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated database of each backend, made fresh for this test session."""
    with migrated_database(request.param, tmp_path_factory.mktemp(request.param)) as made:
        yield made


@pytest.fixture
def isolated_database(database: Database, tmp_path: Path) -> Iterator[Database]:
    """A fresh database of the same backend that no test server (nor its worker) uses."""
    with migrated_database(database.backend, tmp_path) as isolated:
        yield isolated


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    base_url: str
    database: Database


@pytest.fixture(scope="session")
def server(database: Database) -> Iterator[Server]:
    """A real uvicorn server on a free port, serving the session's database of one backend."""
    with serve(Settings(database_url=database.url), database) as running:
        yield running


@contextmanager
def serve(settings: Settings, database: Database) -> Iterator[Server]:
    """``create_app(settings)`` on a real uvicorn server on a free port, for as long as the block runs."""
    with serving(create_app(settings)) as base_url:
        yield Server(base_url, database)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Any ASGI app on a real uvicorn server on a free port; its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@dataclass
class WorkspaceKeys:
    app_id: str
    token: str
    identity_secret: str


def make_workspace(database: Database, name: str = "Test workspace") -> WorkspaceKeys:
    with transaction(make_sessionmaker(database.engine)) as db:
        created = workspaces.create_workspace(db, name)
        return WorkspaceKeys(created.workspace.app_id, created.token, created.workspace.identity_secret)


@pytest.fixture
def workspace(database: Database) -> WorkspaceKeys:
    return make_workspace(database)


@dataclass(frozen=True)
class Teammate:
    id: str
    email: str
    password: str
    name: str
    role: str


def make_teammate(
    database: Database, keys: WorkspaceKeys, role: str = "owner", name: str | None = None
) -> Teammate:
    """A teammate of the workspace with a fresh email and password, to sign in to the pages as."""
    name = name or f"{role.title()} {secrets.token_hex(2)}"
    email = f"{role}-{secrets.token_hex(4)}@example.com"
    password = secrets.token_urlsafe(12)
    with transaction(make_sessionmaker(database.engine)) as db:
        space = db.get_one(Workspace, keys.app_id)
        admin = teammates.create_teammate(db, space, email=email, name=name, role=role, password=password)
        return Teammate(admin.id, email, password, name, role)


@pytest.fixture
def owner(database: Database, workspace: WorkspaceKeys) -> Teammate:
    return make_teammate(database, workspace, "owner", "Olive Owner")


@pytest.fixture
def agent(database: Database, workspace: WorkspaceKeys) -> Teammate:
    return make_teammate(database, workspace, "agent", "Aggie Agent")


@pytest.fixture
def api(server: Server, workspace: WorkspaceKeys) -> Iterator[httpx.Client]:
    """An HTTP client for the real server, authenticated as a fresh workspace."""
    headers = {"Authorization": f"Bearer {workspace.token}", "Accept": "application/json"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """The session's one Chromium, shared by every browser test (one Playwright runs per process)."""
    if not os.access(CHROMIUM, os.X_OK):
        require(f"{CHROMIUM} is missing, so the browser tests cannot run")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
