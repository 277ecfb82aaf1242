"""The messenger's live feed over plain HTTP: ``GET /messenger/stream`` reads what the history reads (§4).

Streams are read in a thread of their own; a test waits for an event up to a deadline, never for a time,
and proves that something never arrives by waiting for a later event that must come after it.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from contactmerge.domain.identity import user_hash
from contactmerge.settings import Settings
from tests.conftest import Database, Server, Teammate, WorkspaceKeys, make_workspace, serve
from tests.test_messenger import ping, readable, say, settle

Event = tuple[str, dict[str, Any]]


class Stream:
    """One live connection, as an EventSource holds it: its events arrive in a queue."""

    def __init__(self, base_url: str, **params: str | None) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(30, read=None))
        self._opened = self._client.stream(
            "GET", "/messenger/stream", params={k: v for k, v in params.items() if v is not None}
        )
        self.response = self._opened.__enter__()
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.seen: list[Event] = []
        if self.response.status_code == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        kind, data = "message", ""
        try:
            for line in self.response.iter_lines():
                if line.startswith("event:"):
                    kind = line.partition(":")[2].strip()
                elif line.startswith("data:"):
                    data += line.partition(":")[2].strip()
                elif not line and data:
                    self.events.put((kind, json.loads(data)))
                    kind, data = "message", ""
        except (httpx.HTTPError, httpx.StreamError):
            pass  # closed by the test
        finally:
            self.events.put(None)

    def next(self, timeout: float = 10) -> Event | None:
        """The next event, or None once the server closed the stream; fails past the deadline."""
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout}s; so far {self.seen}") from None
        if event is not None:
            self.seen.append(event)
        return event

    def until(self, wanted: Callable[[Event], bool], timeout: float = 10) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if event is None:
                raise AssertionError(f"the stream closed first; it sent {self.seen}")
            if wanted(event):
                return event

    def bodies(self) -> list[str]:
        return [p["body"] for kind, data in self.seen if kind == "parts" for p in parts_of(data)]

    def close(self) -> None:
        # Closing a socket does not wake a thread blocked reading it (nor tell the server): shut it down.
        sock = self.response.extensions["network_stream"].get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        self._opened.__exit__(None, None, None)
        self._client.close()


def parts_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for c in data["conversations"] for p in c["parts"]]


def with_body(body: str) -> Callable[[Event], bool]:
    return lambda event: event[0] == "parts" and body in [p["body"] for p in parts_of(event[1])]


@pytest.fixture
def streams(server: Server) -> Iterator[Callable[..., Stream]]:
    opened: list[Stream] = []

    def open_stream(
        keys: WorkspaceKeys, anonymous_id: str | None, base_url: str | None = None, **more: str
    ) -> Stream:
        made = Stream(base_url or server.base_url, app_id=keys.app_id, anonymous_id=anonymous_id, **more)
        opened.append(made)
        return made

    yield open_stream
    for made in opened:
        made.close()


@pytest.fixture
def browser(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def reply(api: httpx.Client, conversation_id: str, admin: Teammate, body: str, kind: str = "comment") -> None:
    sent = {"type": "admin", "admin_id": admin.id, "message_type": kind, "body": body}
    response = api.post(f"/conversations/{conversation_id}/reply", json=sent)
    assert response.status_code == 200, response.text


def test_an_agents_reply_reaches_the_stream_with_the_agents_name_and_notes_never_do(
    browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    owner: Teammate,
    streams: Callable[..., Stream],
) -> None:
    visitor = ping(browser, workspace)["anonymous_id"]
    conversation = say(browser, workspace, visitor, "Is there a free plan?")
    stream = streams(workspace, visitor)
    assert stream.response.status_code == 200
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    assert stream.response.headers["access-control-allow-origin"] == "*"
    kind, first = stream.next()
    assert (kind, first["complete"]) == ("parts", True)  # without ``after``: everything it may read
    assert [p["body"] for p in parts_of(first)] == ["Is there a free plan?"]

    reply(api, conversation["id"], owner, "Internal: a tyre kicker", kind="note")
    reply(api, conversation["id"], owner, "Yes, up to 3 seats.")
    _, data = stream.until(with_body("Yes, up to 3 seats."))
    assert data["complete"] is False
    [part] = parts_of(data)  # only what is new
    assert (part["from"], part["author_name"]) == ("admin", "Olive Owner")
    assert owner.email not in json.dumps(stream.seen)  # a teammate is named, never their email
    assert "Internal: a tyre kicker" not in stream.bodies()

    say_more = {"app_id": workspace.app_id, "anonymous_id": visitor, "body": "Thanks!"}
    say_more["conversation_id"] = conversation["id"]
    assert browser.post("/messenger/messages", json=say_more).status_code == 200
    stream.until(with_body("Thanks!"))  # the browser's own messages, from another tab, come too
    assert "Internal: a tyre kicker" not in stream.bodies()
    history = browser.get(
        "/messenger/conversations", params={"app_id": workspace.app_id, "anonymous_id": visitor}
    ).json()
    [shown] = history["conversations"]
    assert [(p["from"], p["author_name"]) for p in shown["parts"]] == [
        ("me", None),
        ("admin", "Olive Owner"),
        ("me", None),
    ]


def test_the_teammates_bookkeeping_stays_inside_and_a_closing_message_reaches_the_stream(
    browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    owner: Teammate,
    agent: Teammate,
    streams: Callable[..., Stream],
) -> None:
    visitor = ping(browser, workspace)["anonymous_id"]
    conversation = say(browser, workspace, visitor, "My order is late")
    stream = streams(workspace, visitor)
    stream.next()
    path = f"/conversations/{conversation['id']}/parts"
    managed = [
        {"message_type": "assignment", "assignee_id": agent.id, "body": "Internal: Aggie, yours"},
        {"message_type": "snoozed", "snoozed_until": int(time.time()) + 3600},
        {"message_type": "open"},
        {"message_type": "close", "body": "Sent again today; write if it does not arrive."},
    ]
    for action in managed:
        response = api.post(path, json={"type": "admin", "admin_id": owner.id, **action})
        assert response.status_code == 200, response.text
    _, data = stream.until(with_body("Sent again today; write if it does not arrive."))
    assert [(p["from"], p["author_name"]) for p in parts_of(data)] == [("admin", "Olive Owner")]
    assert stream.bodies() == ["My order is late", "Sent again today; write if it does not arrive."]
    assert readable(browser, workspace, visitor) == stream.bodies()


def test_after_sends_only_later_parts(
    browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    owner: Teammate,
    streams: Callable[..., Stream],
) -> None:
    visitor = ping(browser, workspace)["anonymous_id"]
    conversation = say(browser, workspace, visitor, "First")
    reply(api, conversation["id"], owner, "Answer one")
    history = browser.get(
        "/messenger/conversations", params={"app_id": workspace.app_id, "anonymous_id": visitor}
    ).json()
    newest = max(p["id"] for c in history["conversations"] for p in c["parts"])
    stream = streams(workspace, visitor, after=newest)
    reply(api, conversation["id"], owner, "Answer two")
    stream.until(with_body("Answer two"))
    assert stream.bodies() == ["Answer two"]


def test_another_browser_never_receives_a_visitors_replies(
    browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    owner: Teammate,
    streams: Callable[..., Stream],
) -> None:
    alice = ping(browser, workspace)["anonymous_id"]
    bob = ping(browser, workspace)["anonymous_id"]
    alices = say(browser, workspace, alice, "Alice's question")
    bobs = say(browser, workspace, bob, "Bob's question")
    bob_stream = streams(workspace, bob)
    reply(api, alices["id"], owner, "For Alice only")
    reply(api, bobs["id"], owner, "For Bob")
    bob_stream.until(with_body("For Bob"))  # after Alice's answer was written
    assert set(bob_stream.bodies()) == {"Bob's question", "For Bob"}


def test_a_merged_in_browser_streams_only_what_it_wrote_and_the_answers_to_it(
    browser: httpx.Client,
    api: httpx.Client,
    workspace: WorkspaceKeys,
    owner: Teammate,
    streams: Callable[..., Stream],
) -> None:
    """Design §4: a lead that only claimed a user's email and was merged into that user (R2) keeps reading
    its own messages and their answers, never the user's."""
    user = api.post("/contacts", json={"role": "user", "external_id": "u-7", "email": "ada@example.com"})
    assert user.status_code == 200, user.text
    own = ping(browser, workspace, user_id="u-7", user_hash=user_hash(workspace.identity_secret, "u-7"))
    users = say(browser, workspace, own["anonymous_id"], "The user's own question")
    stranger = ping(browser, workspace)["anonymous_id"]
    strangers = say(browser, workspace, stranger, "I am Ada, honest")
    lead_id = api.get("/conversations").json()["conversations"]
    lead = next(c for c in lead_id if c["id"] == strangers["id"])["contacts"]["contacts"][0]["id"]
    claimed = {"app_id": workspace.app_id, "anonymous_id": stranger, "email": "ada@example.com"}
    assert browser.post("/messenger/email", json=claimed).status_code == 200
    ping(
        browser,
        workspace,
        own["anonymous_id"],
        user_id="u-7",
        user_hash=user_hash(workspace.identity_secret, "u-7"),
    )
    settle(api, lead)

    stream = streams(workspace, stranger)
    reply(api, users["id"], owner, "Private answer for the user")
    reply(api, strangers["id"], owner, "Answer to the lead's question")
    stream.until(with_body("Answer to the lead's question"))
    assert "Private answer for the user" not in stream.bodies()
    assert "The user's own question" not in stream.bodies()
    assert sorted(stream.bodies()) == sorted(readable(browser, workspace, stranger))


def test_an_undone_merge_takes_the_leads_conversation_back_out_of_the_users_stream(
    browser: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, streams: Callable[..., Stream]
) -> None:
    user = api.post("/contacts", json={"role": "user", "external_id": "u-8"}).json()
    signed = ping(browser, workspace, user_id="u-8", user_hash=user_hash(workspace.identity_secret, "u-8"))
    say(browser, workspace, signed["anonymous_id"], "The user's question")
    lead = api.post("/contacts", json={"role": "lead", "email": "lead@example.com"}).json()
    started = {"from": {"type": "lead", "id": lead["id"]}, "body": "The lead's question"}
    assert api.post("/conversations", json=started).status_code == 200
    stream = streams(workspace, signed["anonymous_id"])
    assert stream.bodies() == [] and stream.next() is not None
    assert stream.bodies() == ["The user's question"]

    merged = api.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    assert merged.status_code == 200, merged.text
    _, data = stream.until(with_body("The lead's question"))  # the signed-in user reads it all (§4)
    assert data["complete"] is False
    [record] = api.get("/merges", params={"contact_id": lead["id"]}).json()["data"]
    assert api.post(f"/merges/{record['id']}/undo").status_code == 200
    _, data = stream.until(lambda event: event[0] == "parts" and event[1]["complete"])
    assert [p["body"] for p in parts_of(data)] == ["The user's question"]  # the widget drops the rest


def test_a_stream_is_refused_for_another_workspace_an_unknown_or_an_ended_session(
    browser: httpx.Client, workspace: WorkspaceKeys, database: Database, streams: Callable[..., Stream]
) -> None:
    visitor = ping(browser, workspace)["anonymous_id"]
    say(browser, workspace, visitor, "Mine")
    other = make_workspace(database, "Another shop")
    elsewhere = streams(other, visitor)  # the right anonymous id with another workspace's app_id
    assert elsewhere.response.status_code == 404
    elsewhere.response.read()
    assert elsewhere.response.json()["errors"][0]["field"] == "anonymous_id"
    unknown = streams(WorkspaceKeys("nosuchapp", "", ""), visitor)
    assert unknown.response.status_code == 404
    guessed = streams(workspace, "A" * 24)
    assert guessed.response.status_code == 404

    live = streams(workspace, visitor)
    assert live.next() is not None  # its history
    ended = {"app_id": workspace.app_id, "anonymous_id": visitor}
    assert browser.post("/messenger/shutdown", json=ended).status_code == 200
    assert live.until(lambda event: event[0] == "ended")
    assert live.next() is None  # and the server closed it
    again = streams(workspace, visitor)
    assert again.response.status_code == 404


def test_connections_are_capped_and_live_a_bounded_time(
    browser: httpx.Client, workspace: WorkspaceKeys, database: Database
) -> None:
    settings = Settings(
        database_url=database.url,
        in_process_worker=False,
        messenger_streams_per_address=3,
        messenger_stream_seconds=3,
    )
    opened: list[Stream] = []

    def stream(anonymous_id: str) -> Stream:
        opened.append(Stream(capped.base_url, app_id=workspace.app_id, anonymous_id=anonymous_id))
        return opened[-1]

    with serve(settings, database) as capped:
        try:
            visitors = [ping(browser, workspace)["anonymous_id"] for _ in range(3)]
            first, second = stream(visitors[0]), stream(visitors[0])
            one_browser = stream(visitors[0])
            assert one_browser.response.status_code == 429  # two per browser session
            assert one_browser.response.headers["retry-after"] == "10"
            assert stream(visitors[1]).response.status_code == 200
            flood = stream(visitors[2])
            assert flood.response.status_code == 429  # three per address
            flood.response.read()
            assert flood.response.json()["errors"][0]["code"] == "rate_limit_exceeded"

            second.close()  # a closed connection gives its place back
            deadline = time.monotonic() + 10
            while stream(visitors[2]).response.status_code == 429:
                assert time.monotonic() < deadline, "the closed connection's place never came back"
                time.sleep(0.05)

            # at the end of its life the server says so, and closes the connection
            assert first.until(lambda event: event[0] == "reconnect", timeout=10)
            assert first.next() is None
        finally:
            for made in opened:
                made.close()
