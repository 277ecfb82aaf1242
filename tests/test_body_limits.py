"""Bodies are limited before they are read (design §4): 413 in the envelope, before routing and auth.

The server runs as its own process (``contactmerge serve``) so that its memory can be read from /proc while
50 MB are sent to it. The bodies are made as they are sent, so this process never holds them either, and
they are valid requests that would create something if the server read them whole.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from contactmerge.api.app import create_app
from contactmerge.settings import Settings
from contactmerge.storage.tables import Contact, Import
from tests.conftest import Database, Server, free_port, make_teammate, make_workspace
from tests.test_admin_pages import csrf_of, signed_in_client

MiB = 1 << 20
FLOOD = 50 * MiB
MAX_BODY = MiB  # the default
MAX_UPLOAD = 2 * MiB  # above MAX_BODY, so an upload that fits proves its route is an upload route
UPLOAD_LIMIT = MAX_UPLOAD + MAX_BODY
GROWTH_ALLOWED = 10 * MiB
BOUNDARY = "floodboundary"


@dataclass
class Process:
    server: Server
    pid: int

    def status(self, field: str) -> int:
        """A memory figure of the server process from /proc, in bytes."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} in /proc/{self.pid}/status")

    def reset_peak(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # VmHWM starts again from VmRSS


@pytest.fixture(scope="module")
def process(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """``contactmerge serve`` as a child process on a free port, serving the session's database."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONTACTMERGE_")},
        "CONTACTMERGE_DATABASE_URL": database.url,
        "CONTACTMERGE_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        "CONTACTMERGE_IN_PROCESS_WORKER": "false",
    }
    serve = Path(sys.executable).parent / "contactmerge"
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("wb") as output:
        child = subprocess.Popen(
            [str(serve), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base_url}/admin/login", timeout=1)
                break
            except httpx.TransportError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield Process(Server(base_url, database), child.pid)
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class Flood:
    """``size`` bytes: ``head``, filler, ``tail``, made as they are sent; ``sent`` counts what went out."""

    def __init__(self, head: bytes, tail: bytes, size: int = FLOOD, filler: bytes = b" ") -> None:
        self.head, self.tail, self.size, self.filler, self.sent = head, tail, size, filler, 0

    def __iter__(self) -> Iterator[bytes]:
        chunk = self.filler * (64 * 1024 // len(self.filler))
        left = self.size - len(self.head) - len(self.tail)
        assert left >= 0
        for piece in self._pieces(chunk, left):
            self.sent += len(piece)
            yield piece

    def _pieces(self, chunk: bytes, left: int) -> Iterator[bytes]:
        yield self.head
        while left > 0:
            yield chunk[:left]
            left -= len(chunk)
        yield self.tail


def json_flood(fields: dict[str, str], size: int = FLOOD) -> Flood:
    """A JSON object of ``fields`` padded with whitespace to ``size`` bytes: valid, were it read whole."""
    head = "{" + ", ".join(f'"{k}": "{v}"' for k, v in fields.items())
    return Flood(head.encode(), b"}", size)


def csv_upload(size: int, fields: dict[str, str] | None = None) -> Flood:
    """A multipart upload of a CSV naming one person, padded with blank lines to ``size`` bytes."""
    parts = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in {"role": "user", **(fields or {})}.items()
    )
    head = (
        f'{parts}--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="people.csv"\r\n'
        "Content-Type: text/csv\r\n\r\nemail\nflood@example.com\n"
    )
    return Flood(head.encode(), f"\r\n--{BOUNDARY}--\r\n".encode(), size, filler=b"\n")


UPLOAD_TYPE = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
JSON_TYPE = {"Content-Type": "application/json"}


def send(
    client: httpx.Client, path: str, body: Flood, headers: dict[str, str], *, sized: bool
) -> httpx.Response:
    """POST ``body`` with its Content-Length when ``sized``, else chunked (httpx's way for an iterator).

    When the server answers early and closes, httpx stops writing and reads the answer."""
    length = {"Content-Length": str(body.size)} if sized else {}
    return client.post(path, content=body, headers={**headers, **length})


def count(database: Database, table: type[Contact] | type[Import], app_id: str) -> int:
    with database.engine.connect() as connection:
        query = select(func.count()).select_from(table).where(table.workspace_id == app_id)
        return int(connection.execute(query).scalar_one())


def refused(response: httpx.Response, limit: int) -> dict[str, Any]:
    """The 413 envelope, with its request id in the header and the connection closed."""
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["type"] == "error.list" and body["request_id"] == response.headers["x-request-id"]
    [error] = body["errors"]
    assert error["code"] == "request_too_large"
    assert f"at most {limit:,} bytes" in error["message"]
    assert error.get("field") is None
    assert response.headers["connection"] == "close"
    return dict(body)


def measured(process: Process, request: Callable[[], httpx.Response]) -> tuple[httpx.Response, int]:
    """The response to ``request()`` and how far the server's peak memory rose above its memory before."""
    process.reset_peak()
    before = process.status("VmRSS")
    response = request()
    return response, process.status("VmHWM") - before


ROUTES = {
    "contacts with a token": ("/contacts", True),
    "contacts without a token": ("/contacts", False),
    "messenger ping": ("/messenger/ping", False),
}


@pytest.mark.parametrize("sized", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("route", ROUTES)
def test_a_50_mb_json_body_is_refused_without_being_read(process: Process, route: str, sized: bool) -> None:
    keys = make_workspace(process.server.database)
    path, with_token = ROUTES[route]
    headers = {**JSON_TYPE, **({"Authorization": f"Bearer {keys.token}"} if with_token else {})}
    fields = (
        {"app_id": keys.app_id}  # a ping that names no one makes a visitor
        if path.startswith("/messenger")
        else {"role": "user", "email": "flood@example.com"}
    )
    body = json_flood(fields)
    with httpx.Client(base_url=process.server.base_url, timeout=30) as client:
        response, growth = measured(process, lambda: send(client, path, body, headers, sized=sized))
    refused(response, MAX_BODY)
    if path.startswith("/messenger"):  # the widget on another site can read why
        assert response.headers["access-control-allow-origin"] == "*"
    assert growth < GROWTH_ALLOWED, f"the server grew by {growth / MiB:.1f} MiB"
    assert body.sent < FLOOD / 2, "the client was let to send the whole body"
    assert count(process.server.database, Contact, keys.app_id) == 0


@pytest.mark.parametrize("sized", [True, False], ids=["content-length", "chunked"])
def test_an_upload_over_the_limit_is_refused_without_being_read(process: Process, sized: bool) -> None:
    keys = make_workspace(process.server.database)
    headers = {**UPLOAD_TYPE, "Authorization": f"Bearer {keys.token}"}
    body = csv_upload(FLOOD)
    with httpx.Client(base_url=process.server.base_url, timeout=30) as client:
        response, growth = measured(process, lambda: send(client, "/imports", body, headers, sized=sized))
    refused(response, UPLOAD_LIMIT)
    assert growth < GROWTH_ALLOWED, f"the server grew by {growth / MiB:.1f} MiB"
    assert body.sent < FLOOD / 2
    assert count(process.server.database, Import, keys.app_id) == 0


def test_the_admin_upload_is_refused_with_a_page_before_sign_in(process: Process) -> None:
    keys = make_workspace(process.server.database)
    body = csv_upload(FLOOD)
    with httpx.Client(base_url=process.server.base_url, timeout=30) as client:
        response, growth = measured(
            process, lambda: send(client, "/admin/imports", body, UPLOAD_TYPE, sized=True)
        )
    assert response.status_code == 413 and response.headers["content-type"].startswith("text/html")
    assert f"at most {UPLOAD_LIMIT:,} bytes" in response.text
    assert response.headers["x-frame-options"]  # the admin pages' own headers
    assert growth < GROWTH_ALLOWED, f"the server grew by {growth / MiB:.1f} MiB"
    with signed_in_client(process.server, make_teammate(process.server.database, keys)) as client:
        csrf = csrf_of(client.get("/admin/imports/new").text)
        chunked = send(client, "/admin/imports", csv_upload(FLOOD, {"csrf": csrf}), UPLOAD_TYPE, sized=False)
        assert chunked.status_code == 413 and f"at most {UPLOAD_LIMIT:,} bytes" in chunked.text
    assert count(process.server.database, Import, keys.app_id) == 0


@pytest.mark.parametrize("sized", [True, False], ids=["content-length", "chunked"])
def test_a_body_at_the_limit_is_served_and_one_byte_more_is_not(process: Process, sized: bool) -> None:
    keys = make_workspace(process.server.database)
    headers = {**JSON_TYPE, "Authorization": f"Bearer {keys.token}"}
    with httpx.Client(base_url=process.server.base_url, timeout=30) as client:
        fits = json_flood({"role": "user", "email": "fits@example.com"}, MAX_BODY)
        created = send(client, "/contacts", fits, headers, sized=sized)
        assert created.status_code == 200, created.text
        assert created.json()["email"] == "fits@example.com"
        over = json_flood({"role": "user", "email": "over@example.com"}, MAX_BODY + 1)
        refused(send(client, "/contacts", over, headers, sized=sized), MAX_BODY)
    assert count(process.server.database, Contact, keys.app_id) == 1


def test_uploads_larger_than_a_json_body_reach_both_upload_routes(process: Process) -> None:
    keys = make_workspace(process.server.database)
    size = MAX_UPLOAD  # the file is a little smaller: the other fields and the framing take the rest
    with httpx.Client(base_url=process.server.base_url, timeout=30) as client:
        headers = {**UPLOAD_TYPE, "Authorization": f"Bearer {keys.token}"}
        accepted = send(client, "/imports", csv_upload(size), headers, sized=True)
        assert accepted.status_code == 202, accepted.text
    with signed_in_client(process.server, make_teammate(process.server.database, keys)) as client:
        csrf = csrf_of(client.get("/admin/imports/new").text)
        draft = send(client, "/admin/imports", csv_upload(size, {"csrf": csrf}), UPLOAD_TYPE, sized=False)
        assert draft.status_code == 303 and draft.headers["location"].endswith("/mapping"), draft.text
    assert count(process.server.database, Import, keys.app_id) == 2


def call(headers: list[tuple[bytes, bytes]], tmp_path: Path) -> tuple[int, dict[bytes, bytes], bytes]:
    """One POST /contacts straight into the ASGI app, whose ``receive`` fails the test if it is called."""
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def record(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/contacts",
        "raw_path": b"/contacts",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    with ThreadPoolExecutor(1) as thread:  # its own event loop, whatever runs in this one (Playwright's)
        thread.submit(lambda: asyncio.run(app(scope, receive, record))).result()
    start, *bodies = sent
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in bodies)


def test_a_declared_length_over_the_limit_is_answered_before_anything_is_received(tmp_path: Path) -> None:
    status, headers, _ = call([(b"content-length", str(FLOOD).encode())], tmp_path)
    assert status == 413 and headers[b"connection"] == b"close"


@pytest.mark.parametrize("length", [b"12abc", b"-1", b"5, 6", b"1" * 5000])
def test_a_malformed_content_length_is_refused(length: bytes, tmp_path: Path) -> None:
    status, _, body = call([(b"content-length", length)], tmp_path)
    assert status == 400 and b"Content-Length" in body and b"parameter_invalid" in body
