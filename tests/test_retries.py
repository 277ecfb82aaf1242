"""Transient database conflicts are retried inside the request, then answered 503 with Retry-After, never
500 (design §3). A deadlock cannot be produced on demand through the product's own routes (its lock order
prevents them), so these tests raise the driver's real error classes from a route of a small app built
with the product's own error handlers and middleware."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx
import psycopg.errors
import pytest
from fastapi import FastAPI, Request
from sqlalchemy.exc import OperationalError

from contactmerge.api import errors
from contactmerge.api.retries import ATTEMPTS, MARKER, RetryTransient, is_transient
from tests.conftest import serving

SENT = json.dumps({"note": "hello"}).encode()


def flaky_app(failures: int, error: BaseException) -> tuple[FastAPI, list[bytes]]:
    app = FastAPI()
    app.add_middleware(RetryTransient)
    errors.install(app)
    bodies: list[bytes] = []

    @app.post("/write")
    async def write(request: Request) -> dict[str, Any]:
        bodies.append(await request.body())
        if len(bodies) <= failures:
            raise OperationalError("UPDATE contacts …", {}, error)
        return {"attempts": len(bodies)}

    return app, bodies


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.DeadlockDetected(),
        psycopg.errors.SerializationFailure(),
        sqlite3.OperationalError("database is locked"),
    ],
    ids=["deadlock", "serialization", "sqlite-locked"],
)
def test_a_transient_failure_is_run_again_with_the_same_body(error: BaseException) -> None:
    app, bodies = flaky_app(ATTEMPTS - 1, error)
    with serving(app) as base_url, httpx.Client(base_url=base_url) as client:
        answer = client.post("/write", content=SENT, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json() == {"attempts": ATTEMPTS}
    assert bodies == [SENT] * ATTEMPTS
    assert MARKER.decode() not in answer.headers


def test_past_the_attempts_it_is_a_503_with_retry_after_never_a_500() -> None:
    app, bodies = flaky_app(ATTEMPTS + 5, psycopg.errors.DeadlockDetected())
    with serving(app) as base_url, httpx.Client(base_url=base_url) as client:
        answer = client.post("/write", json={"note": "hello"})
    assert len(bodies) == ATTEMPTS
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert MARKER.decode() not in answer.headers
    assert answer.json()["errors"][0]["code"] == "service_unavailable"


def test_other_database_errors_stay_server_errors_and_are_not_retried() -> None:
    app, bodies = flaky_app(1, psycopg.errors.UndefinedTable())
    with serving(app) as base_url, httpx.Client(base_url=base_url) as client:
        answer = client.post("/write", json={})
    assert answer.status_code == 500 and len(bodies) == 1
    assert not is_transient(OperationalError("x", {}, sqlite3.OperationalError("no such table: x")))


def test_an_upload_is_not_buffered_for_a_replay() -> None:
    app, bodies = flaky_app(1, psycopg.errors.DeadlockDetected())
    with serving(app) as base_url, httpx.Client(base_url=base_url) as client:
        answer = client.post("/write", files={"file": ("a.csv", b"email\na@example.com\n", "text/csv")})
    assert answer.status_code == 503 and len(bodies) == 1
