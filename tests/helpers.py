"""Small assertions the API tests share."""

from __future__ import annotations

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
