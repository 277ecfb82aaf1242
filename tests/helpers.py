"""Small assertions the API tests share."""

from __future__ import annotations

import signal
import subprocess
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


def run_cli(
    url: str, *args: str, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``contactmerge ARGS`` against ``url``, run in this process: its exit status, stdout and stderr.

    A subprocess per call costs a second and a half of imports; tests/test_cli.py runs the real entry
    point as a process. An exception the command does not turn into an exit status is raised here (a
    process would have printed a traceback). ``timeout`` is accepted for the callers written for
    processes; a command run here cannot be cut off.
    """
    from typer.testing import CliRunner

    from contactmerge.cli.main import app

    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    env = {"CONTACTMERGE_DATABASE_URL": url, "NO_COLOR": "1", "COLUMNS": "200"}
    try:
        result = CliRunner().invoke(app, list(args), env=env, prog_name="contactmerge", input=input)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(
        ["contactmerge", *args], result.exit_code, result.stdout, result.stderr
    )
