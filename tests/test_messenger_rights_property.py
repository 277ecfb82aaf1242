"""Issue 10: what a browser may read, as a property over the real server (design §3 R1/R2, §4).

For random sequences of messenger steps across a few browsers — anonymous pings (new, returning, or
replaying a logged-out cookie), messages, signed / unsigned / badly signed logins, a signed user_id with
someone else's email, email-only logins, JWT logins, emails typed into the widget, logouts, admin replies
and API merges whose follow-up merge marks the worker applies — no session ever reads a conversation part
it did not write, unless it logged in with a valid signature as the user that owns the conversation now.
A session that did not log in with a signature is told nothing about a user (no user_id, email, name).
No request ever answers 5xx.

The model tracks, per live session (anonymous id), the contact it last logged in as with a valid signature
(its only source of rights), and, per message body, the session that wrote it. Owners come from the API
(``GET /conversations/{id}``, then ``GET /contacts/{id}`` 410 + ``Link`` for a merged one).

Every example uses a fresh workspace, in which each browser first opens a page (an anonymous ping). The
test runs its own server on a fresh database with generous brute-force limits: the steps make many
deliberately failed logins, which would otherwise use up the per-address messenger-login budget (counted
in the database) of the shared ``server``.
``pytest --hypothesis-show-statistics`` shows how often each kind of step and outcome came up.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from contactmerge.domain.identity import user_hash
from contactmerge.services import identity_tokens
from contactmerge.settings import Settings
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Workspace
from tests.conftest import Database, Server, WorkspaceKeys, make_teammate, make_workspace, serve

USERS = ("u1", "u2")
# u1 is the one most steps are about, so that browsers meet over it; u2 is the other person
user_name = st.sampled_from(("u1", "u1", "u1", "u2"))
BROWSERS = 3
SIGNED = ("signed", "signed_other_email", "email_signed", "jwt")
UNSIGNED = ("unsigned", "email_unsigned")
LOGINS = (*SIGNED, *UNSIGNED, "wrong_hash")
SETTLE_SECONDS = 10.0
LINK = re.compile(r"</contacts/([^>]+)>")

browser_index = st.integers(0, BROWSERS - 1)
ping_step = st.tuples(st.just("ping"), browser_index, st.booleans())
say_step = st.tuples(st.just("say"), browser_index, st.one_of(st.none(), st.integers(0, 7)))
answer_step = st.tuples(st.just("answer"), browser_index, st.integers(0, 3))
login_step = st.tuples(st.just("login"), browser_index, st.sampled_from(LOGINS), user_name)
email_step = st.tuples(st.just("email"), browser_index, user_name)
logout_step = st.tuples(st.just("logout"), browser_index)
reply_step = st.tuples(st.just("reply"), st.integers(0, 7))
merge_step = st.tuples(st.just("merge"), st.integers(0, 7), st.integers(0, 7))
STEPS = {
    "say": say_step,
    "answer": answer_step,
    "login": login_step,
    "ping": ping_step,
    "email": email_step,
    "logout": logout_step,
    "reply": reply_step,
    "merge": merge_step,
}
# messages and logins are what the property is about: they come up more often than the rest
WEIGHTS = {"say": 3, "answer": 3, "login": 5, "ping": 1, "email": 2, "logout": 1, "reply": 1, "merge": 2}
step = st.sampled_from([kind for kind, weight in WEIGHTS.items() for _ in range(weight)]).flatmap(
    STEPS.__getitem__
)


def email_of(user: str) -> str:
    return f"{user}@example.com"


def other(user: str) -> str:
    return USERS[(USERS.index(user) + 1) % len(USERS)]


@pytest.fixture
def rights_server(isolated_database: Database) -> Iterator[Server]:
    """A real server (with its in-process worker) on a fresh database, brute-force limits raised."""
    limits = Settings(
        database_url=isolated_database.url,
        auth_failures_per_address=1_000_000,
        auth_failures_per_workspace=1_000_000,
    )
    with serve(limits, isolated_database) as running:
        yield running


@dataclass
class Browsing:
    """One live messenger session, as the model sees it."""

    anonymous_id: str
    origin: str | None = None  # its own visitor, when an anonymous ping opened it
    signed: str | None = None  # the contact it logged in as with a valid signature: its only rights
    typed_email: str | None = None


@dataclass
class World:
    client: httpx.Client
    keys: WorkspaceKeys
    mode: str
    admin_id: str  # a teammate of the workspace, who answers in conversations
    tabs: list[str | None] = field(default_factory=lambda: [None] * BROWSERS)
    stale: list[str | None] = field(default_factory=lambda: [None] * BROWSERS)
    sessions: dict[str, Browsing] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    written: dict[str, str] = field(default_factory=dict)  # body -> anonymous id that wrote it
    admin_bodies: set[str] = field(default_factory=set)
    conversations: list[str] = field(default_factory=list)  # in creation order
    known: list[str] = field(default_factory=list)  # contact ids in the order the model met them
    signed_users: set[str] = field(default_factory=set)
    vouched: dict[str, set[str]] = field(default_factory=dict)  # email -> users a signature gave it to
    counter: int = 0

    # -- HTTP ---------------------------------------------------------------------------------------------

    def request(self, method: str, url: str, *, api: bool = False, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys.token}"} if api else {}
        response = self.client.request(method, url, headers=headers, **kwargs)
        assert response.status_code < 500, f"{method} {url} answered {response.status_code}: {response.text}"
        return response

    def messenger(self, path: str, **fields: Any) -> httpx.Response:
        return self.request("POST", f"/messenger/{path}", json={"app_id": self.keys.app_id, **fields})

    def api(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.request(method, url, api=True, **kwargs)

    def next_number(self) -> int:
        self.counter += 1
        return self.counter

    # -- steps ----------------------------------------------------------------------------------------------

    def run(self, action: tuple[Any, ...]) -> None:
        kind = action[0]
        event(kind)
        marks_possible = getattr(self, f"step_{kind}")(*action[1:])
        if marks_possible:
            self.check()  # before the worker caught up: the property holds at every moment
            self.settle()
        self.check()

    def step_ping(self, browser: int, replay_stale: bool) -> bool:
        sent = self.stale[browser] if replay_stale and self.stale[browser] else self.tabs[browser]
        answer = self.messenger("ping", anonymous_id=sent)
        assert answer.status_code == 200, answer.text
        got = answer.json()
        anonymous_id = got["anonymous_id"]
        if sent is not None and sent == self.tabs[browser]:
            assert anonymous_id == sent, "a returning browser's ping opened another session"
        else:
            assert anonymous_id not in self.sessions and anonymous_id not in self.ended, (
                f"a ping with {'an ended' if sent else 'no'} anonymous id resumed session {anonymous_id}"
            )
            self.sessions[anonymous_id] = Browsing(anonymous_id, origin=got["contact"]["id"])
            assert got["contact"]["role"] == "visitor" and got["contact"]["id"] is not None
            self.known.append(got["contact"]["id"])
            self.tabs[browser] = anonymous_id
        self.check_answer(self.sessions[anonymous_id], got)
        return False

    def step_say(self, browser: int, target: int | None) -> bool:
        anonymous_id = self.tabs[browser]
        if anonymous_id is None:
            return self.step_ping(browser, False)
        body = f"b{browser}-m{self.next_number()}"
        conversation_id = None
        may_write = True
        if target is not None and self.conversations:
            conversation_id = self.conversations[target % len(self.conversations)]
            may_write = conversation_id in {c["id"] for c in self.read(anonymous_id)}
        response = self.messenger(
            "messages", anonymous_id=anonymous_id, body=body, conversation_id=conversation_id
        )
        if not may_write:
            assert response.status_code == 404, (
                f"session {anonymous_id} wrote in conversation {conversation_id}, which it cannot read: "
                f"{response.status_code} {response.text}"
            )
            parts = self.api("GET", f"/conversations/{conversation_id}").json()
            assert body not in str(parts), "a refused message was written all the same"
            event("say refused")
            return False
        assert response.status_code == 200, response.text
        self.written[body] = anonymous_id
        thread = response.json()
        if conversation_id is None:
            self.conversations.append(thread["id"])
        else:
            assert thread["id"] == conversation_id
        self.check_thread(self.sessions[anonymous_id], thread, {})
        return False

    def step_answer(self, browser: int, pick: int) -> bool:
        """Write in one of the conversations this browser reads (a new one when it reads none)."""
        anonymous_id = self.tabs[browser]
        if anonymous_id is None:
            return self.step_ping(browser, False)
        threads = self.read(anonymous_id)
        # first those where other sessions wrote too: an answer there is what another session must not read
        shared = {
            c["id"]
            for c in threads
            if any(self.written.get(p["body"], anonymous_id) != anonymous_id for p in c["parts"])
        }
        readable = shared or {c["id"] for c in threads}
        mine = [i for i, conversation_id in enumerate(self.conversations) if conversation_id in readable]
        if shared:
            event("answers in a shared conversation")
        return self.step_say(browser, mine[pick % len(mine)] if mine else None)

    def step_login(self, browser: int, kind: str, user: str) -> bool:
        secret = self.keys.identity_secret
        fields: dict[str, Any] = {
            "signed": {"user_id": user, "user_hash": user_hash(secret, user)},
            "signed_other_email": {
                "user_id": user,
                "email": email_of(other(user)),
                "user_hash": user_hash(secret, user),
            },
            "email_signed": {"email": email_of(user), "user_hash": user_hash(secret, email_of(user))},
            "jwt": {
                "intercom_user_jwt": identity_tokens.make(secret, {"user_id": user, "email": email_of(user)})
            },
            "unsigned": {"user_id": user, "name": "Claimed Name"},
            "email_unsigned": {"email": email_of(user), "name": "Claimed Name"},
            "wrong_hash": {"user_id": user, "user_hash": user_hash(secret, other(user))},
        }[kind]
        sent = self.tabs[browser]
        response = self.messenger("ping", anonymous_id=sent, **fields)
        refused = kind == "wrong_hash" or (kind in UNSIGNED and self.mode == "enforced")
        if refused:
            assert response.status_code == 403, f"{kind} login in {self.mode} mode: {response.text}"
            event("login refused")
            return False
        assert response.status_code == 200, f"{kind} login in {self.mode} mode: {response.text}"
        got = response.json()
        anonymous_id = got["anonymous_id"]
        if anonymous_id != sent:
            if sent is not None:  # another user on this browser: the old session ended
                self.sessions.pop(sent)
                self.ended.add(sent)
            assert anonymous_id not in self.sessions and anonymous_id not in self.ended
            self.sessions[anonymous_id] = Browsing(anonymous_id)
            self.tabs[browser] = anonymous_id
        session = self.sessions[anonymous_id]
        contact = got["contact"]
        if kind in SIGNED:
            assert got["logged_in"] is True and contact["id"] is not None, got
            assert session.signed in (None, contact["id"]), "one session logged in as two users"
            if kind in ("signed", "signed_other_email", "jwt"):
                assert contact["user_id"] == user, f"a signed login as {user} landed on {contact}"
            if kind == "email_signed":
                assert contact["email"] == email_of(user), (
                    f"a signed login as {email_of(user)} gave {contact}"
                )
            if kind == "signed_other_email":
                assert contact["email"] != email_of(other(user)), "a claimed email became the user's own"
            session.signed = contact["id"]
            self.signed_users.add(contact["id"])
            if kind in ("email_signed", "jwt"):
                self.vouched.setdefault(email_of(user), set()).add(contact["id"])
            if contact["id"] not in self.known:
                self.known.append(contact["id"])
        else:
            assert got["attributes_refused"] is (session.signed is None), got
        self.check_answer(session, got)
        return True

    def step_email(self, browser: int, user: str) -> bool:
        anonymous_id = self.tabs[browser]
        if anonymous_id is None:
            return self.step_ping(browser, False)
        session = self.sessions[anonymous_id]
        response = self.messenger("email", anonymous_id=anonymous_id, email=email_of(user).upper())
        if session.signed is not None:
            assert response.status_code == 400, response.text  # a user's email is the site's to set
            return False
        # 403: this browser's contact is a user now (an unsigned login, a merge): it changes nothing there
        assert response.status_code in (200, 403), response.text
        event(f"email {response.status_code}")
        if response.status_code == 200:
            session.typed_email = email_of(user)
            self.check_answer(session, response.json())
        return True

    def step_logout(self, browser: int) -> bool:
        anonymous_id = self.tabs[browser]
        if anonymous_id is None:
            return False
        assert self.messenger("shutdown", anonymous_id=anonymous_id).status_code == 200
        self.sessions.pop(anonymous_id)
        self.ended.add(anonymous_id)
        self.tabs[browser], self.stale[browser] = None, anonymous_id
        gone = self.request(
            "GET",
            "/messenger/conversations",
            params={"app_id": self.keys.app_id, "anonymous_id": anonymous_id},
        )
        assert gone.status_code == 404, f"an ended session still reads: {gone.text}"
        return False

    def step_reply(self, target: int) -> bool:
        if not self.conversations:
            return False
        conversation_id = self.conversations[target % len(self.conversations)]
        body = f"admin-{self.next_number()}"
        reply = {"message_type": "comment", "type": "admin", "admin_id": self.admin_id, "body": body}
        response = self.api("POST", f"/conversations/{conversation_id}/reply", json=reply)
        assert response.status_code == 200, response.text
        self.admin_bodies.add(body)
        return False

    def step_merge(self, lead_pick: int, user_pick: int) -> bool:
        listed = self.api("GET", "/contacts", params={"per_page": 150}).json()["data"]
        order = {contact_id: i for i, contact_id in enumerate(self.known)}
        leads = sorted(
            (c for c in listed if c["role"] == "lead"),
            key=lambda c: (order.get(c["id"], len(order)), c["id"]),
        )
        users = sorted(
            (c for c in listed if c["role"] == "user"),
            key=lambda c: (c.get("external_id") or "", c.get("email") or "", c["id"]),
        )
        if not leads or not users:
            return False
        lead, user = leads[lead_pick % len(leads)], users[user_pick % len(users)]
        response = self.api("POST", "/contacts/merge", json={"from": lead["id"], "into": user["id"]})
        event(f"merge {response.status_code}")
        if response.status_code == 200:
            assert response.json()["id"] == user["id"]
        return True

    # -- waiting for the worker -----------------------------------------------------------------------------

    def settle(self) -> None:
        """Wait (bounded) until the worker has handled every ready merge mark; users are never merged away."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            ready = self.api("GET", "/merge_marks", params={"state": "ready", "per_page": 150}).json()
            failing = [m for m in ready["data"] if m["attempts"] > 0]
            assert not failing, f"the worker failed to apply merge marks: {failing}"
            if ready["total_count"] == 0:
                break
            assert time.monotonic() < deadline, f"merge marks still ready after {SETTLE_SECONDS}s: {ready}"
            time.sleep(0.02)
        self.check_merge_evidence()
        for contact_id in sorted(self.signed_users):
            got = self.api("GET", f"/contacts/{contact_id}")
            assert got.status_code == 200 and got.json()["role"] == "user", (
                f"user {contact_id}, which a session logged in as, was merged away: {got.status_code}"
            )

    def check_merge_evidence(self) -> None:
        """A claim never merges: R2 only into a user a signature gave that email to; R1, when the workspace
        enforces verification, only into a user some session logged in as with a signature."""
        marks = self.api("GET", "/merge_marks", params={"per_page": 150}).json()["data"]
        merges = self.api("GET", "/merges", params={"per_page": 150}).json()["data"]
        found = [(m["reason"], m["into"], m["evidence"] or {}, m) for m in marks]
        found += [(m["reason"], m["into"], (m["plan"] or {}).get("evidence") or {}, m) for m in merges]
        for reason, into, evidence, record in found:
            if reason == "email_match":
                assert into in self.vouched.get(evidence.get("email", ""), set()), (
                    f"an email match into a user no signature gave that email to: {record}"
                )
            if reason == "session_cookie" and self.mode == "enforced":
                assert into in self.signed_users, f"an unsigned login merged a lead (enforced mode): {record}"

    # -- the property ---------------------------------------------------------------------------------------

    def read(self, anonymous_id: str) -> list[dict[str, Any]]:
        response = self.request(
            "GET",
            "/messenger/conversations",
            params={"app_id": self.keys.app_id, "anonymous_id": anonymous_id},
        )
        assert response.status_code == 200, f"live session {anonymous_id} cannot read: {response.text}"
        return list(response.json()["conversations"])

    def owner(self, conversation_id: str, owners: dict[str, str]) -> str:
        """The contact that owns the conversation now, merges followed, asked of the API."""
        if conversation_id not in owners:
            got = self.api("GET", f"/conversations/{conversation_id}")
            assert got.status_code == 200, got.text
            contact_id = got.json()["contacts"]["contacts"][0]["id"]
            for _ in range(20):
                contact = self.api("GET", f"/contacts/{contact_id}")
                if contact.status_code != 410:
                    assert contact.status_code == 200, contact.text
                    break
                found = LINK.search(contact.headers.get("link", ""))
                assert found, f"410 without a canonical Link for {contact_id}: {contact.headers}"
                contact_id = found.group(1)
            owners[conversation_id] = contact_id
        return owners[conversation_id]

    def check(self) -> None:
        """After every step, every live session: what it reads, and what a plain ping tells it."""
        owners: dict[str, str] = {}
        for anonymous_id in self.tabs:
            if anonymous_id is None:
                continue
            session = self.sessions[anonymous_id]
            for thread in self.read(anonymous_id):
                self.check_thread(session, thread, owners)
            answer = self.messenger("ping", anonymous_id=anonymous_id)
            assert answer.status_code == 200, answer.text
            self.check_answer(session, answer.json())

    def check_thread(self, session: Browsing, thread: dict[str, Any], owners: dict[str, str]) -> None:
        conversation_id = thread["id"]
        entitled: bool | None = None  # asked of the API only when it matters

        def may_read_all() -> bool:
            nonlocal entitled
            if entitled is None:
                entitled = (
                    session.signed is not None and self.owner(conversation_id, owners) == session.signed
                )
            return entitled

        own = False
        for part in thread["parts"]:
            body = part["body"]
            event("parts read")
            if body in self.admin_bodies:
                assert part["from"] == "admin", part
                continue
            assert body in self.written, f"session {session.anonymous_id} reads a part nobody wrote: {part}"
            assert part["from"] == "me", part
            writer = self.written[body]
            if writer == session.anonymous_id:
                own = True
                continue
            assert may_read_all(), (
                f"session {session.anonymous_id} (signed as {session.signed}) reads {body!r}, written by "
                f"session {writer}, in conversation {conversation_id} owned by "
                f"{self.owner(conversation_id, owners)}"
            )
            event("parts of others read by their owner")
        if not own:
            assert may_read_all(), (
                f"session {session.anonymous_id} (signed as {session.signed}) sees conversation "
                f"{conversation_id}, owned by {self.owner(conversation_id, owners)}, without writing in it: "
                f"{thread['parts']}"
            )

    def check_answer(self, session: Browsing, answer: dict[str, Any]) -> None:
        contact = answer["contact"]
        assert answer["anonymous_id"] == session.anonymous_id, answer
        if session.signed is None:
            assert answer["logged_in"] is False, answer
            assert contact["role"] in ("visitor", "lead"), (
                f"an unsigned session learns it is a user: {answer}"
            )
            assert contact["user_id"] is None and contact["name"] is None, f"a user's details leak: {answer}"
            assert (contact["email"] or "").lower() in ("", session.typed_email or ""), (
                f"an email leaks: {answer}"
            )
            assert contact["id"] in (None, session.origin), f"another contact's id leaks: {answer}"
        else:
            assert answer["logged_in"] is True and contact["id"] == session.signed, answer
            assert contact["role"] == "user", answer


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The paths the property is about, whatever the random examples happen to draw:
# a lead typed the owner's email (R2), and the owner logs in by a signed email.
@example(
    mode="optional",
    email_match="on_login",
    steps=[
        ("say", 0, None),
        ("email", 0, "u1"),
        ("login", 1, "email_signed", "u1"),
        ("say", 1, None),
        ("reply", 0),
        ("say", 0, 0),
        ("say", 1, 0),
        ("ping", 0, False),
        ("login", 0, "signed", "u1"),
        ("say", 0, 1),
    ],
)
# An unsigned login claims u1 before u1 ever logs in; u1 then logs in on two browsers; an API merge.
@example(
    mode="optional",
    email_match="immediate",
    steps=[
        ("login", 0, "unsigned", "u1"),
        ("say", 0, None),
        ("login", 1, "signed", "u1"),
        ("say", 1, None),
        ("say", 1, 0),
        ("reply", 0),
        ("say", 2, None),
        ("login", 2, "signed_other_email", "u2"),
        ("email", 2, "u2"),
        ("login", 0, "signed", "u1"),
        ("say", 0, 1),
        ("merge", 0, 0),
        ("logout", 1),
        ("ping", 1, True),
        ("say", 1, 1),
    ],
)
# An API merge makes a lead's conversation the user's, and the user's signed session answers in it.
@example(
    mode="enforced",
    email_match="on_login",
    steps=[("say", 0, None), ("login", 1, "signed", "u1"), ("merge", 0, 0), ("answer", 1, 0), ("say", 0, 0)],
)
# Enforced: refused logins change nothing; R1 by a signed login; a claimed email merged by the API; a JWT.
@example(
    mode="enforced",
    email_match="on_login",
    steps=[
        ("say", 0, None),
        ("login", 0, "wrong_hash", "u1"),
        ("login", 0, "unsigned", "u1"),
        ("login", 0, "signed", "u1"),
        ("say", 1, None),
        ("email", 1, "u1"),
        ("merge", 0, 0),
        ("login", 2, "jwt", "u1"),
        ("say", 2, None),
        ("say", 1, 0),
        ("say", 0, 0),
        ("email", 2, "u2"),
    ],
)
@given(
    mode=st.sampled_from(["enforced", "optional"]),
    email_match=st.sampled_from(["on_login", "immediate", "off"]),
    steps=st.lists(step, min_size=6, max_size=15),
)
def test_no_session_reads_what_it_did_not_write_unless_it_signed_in_as_the_owner(
    rights_server: Server,
    isolated_database: Database,
    mode: str,
    email_match: str,
    steps: list[tuple[Any, ...]],
) -> None:
    keys = make_workspace(isolated_database)
    admin = make_teammate(isolated_database, keys)
    with transaction(make_sessionmaker(isolated_database.engine)) as db:
        workspace = db.get_one(Workspace, keys.app_id)
        workspace.identity_verification = mode
        workspace.settings = {**(workspace.settings or {}), "email_match": email_match}
    with httpx.Client(base_url=rights_server.base_url, timeout=30) as client:
        world = World(client, keys, mode, admin.id)
        for browser in range(BROWSERS):  # every browser opens a page of the site first
            world.step_ping(browser, False)
        for number, action in enumerate(steps):
            note(f"step {number}: {action}")
            world.run(action)
