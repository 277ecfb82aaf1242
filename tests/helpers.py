"""Small assertions the API tests share."""

from __future__ import annotations

import time
from typing import Any

import httpx


def error_of(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The single error of an ``error.list`` response, after checking its status, code and field."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error.list"
    [error] = body["errors"]
    assert error["code"] == code, error
    assert error.get("field") == field, error
    return dict(error)


def ok(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a 200 response."""
    assert response.status_code == 200, response.text
    return dict(response.json())


def finished(api: httpx.Client, path: str, timeout: float = 20) -> dict[str, Any]:
    """Poll a worker-run resource (an import, a batch) until it is done or failed, at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(path).json()
        if body["state"] in ("done", "failed"):
            return dict(body)
        time.sleep(0.05)
    raise AssertionError(f"{path} did not finish in {timeout}s")
