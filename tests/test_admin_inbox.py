"""The inbox on the real server: teammates read, answer, assign, close, reopen and snooze conversations, and
ask a lead to log in so that it is merged safely (R1); the contact's widget shows the answers.

Browser tests drive Chromium as a teammate would; the security checks (forms without their CSRF token,
another workspace's conversation, notes the contact must never see) are plain HTTP. Set
``CONTACTMERGE_SCREENSHOTS`` to a directory to save the pages the docs show.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import event

from contactmerge.domain.identity import user_hash
from contactmerge.services import inbox, teammates
from contactmerge.services.inbox import ASK_TO_LOG_IN, PER_PAGE
from contactmerge.storage.db import make_sessionmaker
from contactmerge.storage.tables import Workspace
from tests.conftest import Database, Server, Teammate, WorkspaceKeys, make_teammate, make_workspace
from tests.test_admin_pages import csrf_of, sign_in, signed_in_client
from tests.test_messenger import ping, readable, say, settle
from tests.test_widget_e2e import Site, login, new_page, shown, site, write  # noqa: F401 (fixtures)

expect.set_options(timeout=10_000)
ACTIONS = ("reply", "assign", "close", "reopen", "snooze", "ask-to-log-in")


def screenshot(page: Page, name: str) -> None:
    """Saves the page for the docs when CONTACTMERGE_SCREENSHOTS names a directory."""
    folder = os.environ.get("CONTACTMERGE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


@pytest.fixture
def admin_page(chromium: Browser, server: Server) -> Iterator[Page]:
    """A page of the admin in a browser context of its own, failing the test on a script error."""
    context = chromium.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == []


@pytest.fixture
def visitor(server: Server) -> Iterator[httpx.Client]:
    """What the widget is: no token, only the public app_id."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def post(client: httpx.Client, conversation: str, action: str, **fields: str) -> httpx.Response:
    """Submits an action form of the conversation page, with the page's CSRF value."""
    page = client.get(f"/admin/inbox/{conversation}")
    assert page.status_code == 200, page.text
    return client.post(f"/admin/inbox/{conversation}/{action}", data={"csrf": csrf_of(page.text), **fields})


def make(api: httpx.Client, **fields: Any) -> str:
    response = api.post("/contacts", json=fields)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def start(api: httpx.Client, contact_id: str, body: str, role: str = "user") -> str:
    response = api.post("/conversations", json={"from": {"type": role, "id": contact_id}, "body": body})
    assert response.status_code == 200, response.text
    return str(response.json()["conversation_id"])


def fetched(api: httpx.Client, conversation: str) -> dict[str, Any]:
    response = api.get(f"/conversations/{conversation}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def part_bodies(body: dict[str, Any]) -> list[tuple[str, str]]:
    parts = body["conversation_parts"]["conversation_parts"]
    return [(p["part_type"], p["body"]) for p in parts]


def rows(page: Page) -> list[str]:
    return [
        text.strip() for text in page.locator("#inbox tr.conversation td:first-child a").all_inner_texts()
    ]


@pytest.mark.browser
def test_an_agent_reads_filters_and_answers_in_the_browser(
    api: httpx.Client, agent: Teammate, owner: Teammate, admin_page: Page
) -> None:
    ada = make(api, role="user", external_id="ada", email="ada@example.com", name="Ada Lovelace")
    bo = make(api, role="lead", email="bo@example.com", name="Bo Lead")
    cy = make(api, role="user", external_id="cy", name="Cy Young")
    invoice = start(api, ada, "My invoice is wrong")
    shipping = start(api, bo, "Do you ship to Norway?", role="lead")
    start(api, cy, "How do I export my data?")

    page = admin_page
    page.goto("/admin/inbox")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin/inbox$"))
    sign_in(page, agent)
    expect(page).to_have_url(re.compile(r"/admin/inbox$"))
    expect(page.locator("#inbox-total")).to_contain_text("3 conversations")
    bo_row = page.locator("tr.conversation").filter(has_text="Bo Lead")
    expect(bo_row).to_contain_text("lead")
    expect(bo_row).to_contain_text("Bo Lead: Do you ship to Norway?")
    expect(bo_row.locator("td.waiting")).to_have_text(re.compile(r"under a minute|\d+ min"))
    expect(bo_row.locator(".badge.unread")).to_have_text("new")
    screenshot(page, "inbox.png")

    bo_row.get_by_role("link", name="Bo Lead").click()
    expect(page).to_have_url(re.compile(rf"/admin/inbox/{shipping}$"))
    assert fetched(api, shipping)["read"] is True  # opening it read it
    expect(page.locator("article.part")).to_have_count(1)
    page.fill("textarea[name=body]", "Yes, we ship to Norway.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status")).to_have_text("Reply sent.")
    page.fill("textarea[name=body]", "Check the shipping table first")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("status")).to_contain_text("Note added")
    expect(page.locator("article.part.admin")).to_have_text(re.compile("Aggie Agent.*Yes, we ship", re.S))
    expect(page.locator("article.part.note")).to_contain_text("Check the shipping table first")
    body = fetched(api, shipping)
    assert part_bodies(body) == [
        ("comment", "Yes, we ship to Norway."),
        ("note", "Check the shipping table first"),
    ]
    authors = {p["author"]["id"] for p in body["conversation_parts"]["conversation_parts"]}
    assert authors == {agent.id}
    assert body["waiting_since"] is None  # answered

    page.get_by_role("button", name="Send reply").click()  # nothing typed
    expect(page.get_by_role("alert")).to_contain_text("the message is empty")
    assert len(part_bodies(fetched(api, shipping))) == 2

    page.select_option("select[name=assignee]", label="Aggie Agent (me)")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("status")).to_have_text("Assigned to Aggie Agent.")
    expect(page.locator("#assignee")).to_have_text("Aggie Agent")
    expect(page.locator("p.event")).to_contain_text("Aggie Agent assigned this to Aggie Agent")
    assert fetched(api, shipping)["admin_assignee_id"] == agent.id

    page.goto("/admin/inbox")
    page.get_by_role("link", name="Assigned to me").click()
    expect(page.locator("#inbox-total")).to_contain_text("1 conversation")
    assert rows(page) == ["Bo Lead"]
    page.get_by_role("link", name="Unassigned").click()
    expect(page.locator("#inbox-total")).to_contain_text("2 conversations")
    assert sorted(rows(page)) == ["Ada Lovelace", "Cy Young"]

    page.goto(f"/admin/inbox/{shipping}")
    page.select_option("select[name=for]", "hour")
    page.get_by_role("button", name="Snooze").click()
    expect(page.get_by_role("status")).to_contain_text("Snoozed until")
    expect(page.locator("#conversation-state")).to_have_text("snoozed")
    snoozed = fetched(api, shipping)
    assert snoozed["state"] == "snoozed"
    assert abs(snoozed["snoozed_until"] - (time.time() + 3600)) < 120
    page.goto("/admin/inbox")
    assert "Bo Lead" not in rows(page)  # the open view
    page.get_by_role("link", name="Snoozed").click()
    assert rows(page) == ["Bo Lead"]
    expect(page.locator("tr.conversation")).to_contain_text("until")

    page.get_by_role("link", name="Bo Lead").click()
    page.get_by_role("button", name="Reopen").click()
    expect(page.get_by_role("status")).to_have_text("Reopened.")
    assert fetched(api, shipping)["state"] == "open"
    page.get_by_role("button", name="Close").click()
    expect(page.get_by_role("status")).to_have_text("Closed.")
    expect(page.locator("#conversation-state")).to_have_text("closed")
    assert fetched(api, shipping)["state"] == "closed"
    page.goto("/admin/inbox?state=closed")
    assert rows(page) == ["Bo Lead"]
    page.goto("/admin/inbox")
    assert sorted(rows(page)) == ["Ada Lovelace", "Cy Young"]

    # The owner's own "assigned to me" is theirs, not the agent's.
    page.goto(f"/admin/inbox/{invoice}")
    page.select_option("select[name=assignee]", label=owner.name)
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("status")).to_have_text(f"Assigned to {owner.name}.")
    page.goto("/admin/inbox?state=all&assignee=me")
    assert rows(page) == ["Bo Lead"]
    page.goto("/admin/inbox?state=all&assignee=unassigned")
    assert rows(page) == ["Cy Young"]

    refused = page.goto("/admin/team")  # an owner's page: agents answer, owners manage the team
    assert refused is not None and refused.status == 403
    expect(page.get_by_role("alert")).to_contain_text("only an owner may manage teammates")
    screenshot(page, "refused.png")


@pytest.mark.browser
def test_an_agent_asks_a_widget_lead_to_log_in_and_answers_the_merged_user_live(
    site: Site,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
    api: httpx.Client,
    workspace: WorkspaceKeys,
    agent: Teammate,
    admin_page: Page,
) -> None:
    """The issue's must-hold flow: a lead written by a real widget visitor is asked to log in; its login
    merges it (R1); the agent sees one user with both conversations and the merge record naming the rule,
    and the agent's reply reaches the visitor's open widget without a reload."""
    user = make(api, role="user", external_id="ada-1", email="ada@example.com", name="Ada Lovelace")
    start(api, user, "Last month's invoice is missing")

    visitor_page = new_page()
    visitor_page.goto(site.embed("/pricing", app_id=workspace.app_id))
    write(visitor_page, "Can I change the card on my account?")

    page = admin_page
    page.goto("/admin/inbox")
    sign_in(page, agent)
    lead_row = page.locator("tr.conversation").filter(has_text="Can I change the card")
    expect(lead_row).to_contain_text("lead")
    lead_row.locator("td:first-child a").click()
    lead_id = fetched(api, page.url.rsplit("/", 1)[1])["contacts"]["contacts"][0]["id"]
    conversation = page.url.rsplit("/", 1)[1]
    page.get_by_role("button", name="Ask to log in").click()
    expect(page.get_by_role("status")).to_contain_text("Asked them to log in")
    expect(page.locator("article.part.admin")).to_contain_text("Could you log in to your account")
    shown(visitor_page, "Can I change the card on my account?", ASK_TO_LOG_IN)

    visitor_page.goto(site.embed("/account", **login(workspace, "ada-1")))  # the site's login (R1)
    record = settle(api, lead_id)
    assert (record["reason"], record["into"]) == ("session_cookie", user)

    page.reload()
    expect(page.locator("#contact-card")).to_contain_text("Ada Lovelace")
    expect(page.locator("#contact-card .badge")).to_have_text("user")
    expect(page.get_by_role("button", name="Ask to log in")).to_have_count(0)  # a user: nothing to ask
    expect(page.locator("#merged-from")).to_contain_text("This conversation came over from lead")
    expect(page.locator("#merged-from")).to_contain_text("R1: the same browser logged in")
    expect(page.locator("#contact-conversations li")).to_have_count(2)
    expect(page.locator("#contact-conversations")).to_contain_text("Last month's invoice is missing")
    expect(page.locator("#contact-conversations")).to_contain_text("2 conversations of this contact")
    expect(page.locator("#contact-merges li.merge")).to_have_text(
        re.compile(rf"Lead .*R1: the same browser logged in.*session_cookie.*{record['id']}", re.S)
    )
    expect(page.locator("article.part.contact .merged-in")).to_contain_text("from lead")
    screenshot(page, "conversation.png")

    if not visitor_page.locator("#cm-panel").is_visible():
        visitor_page.click("#cm-launcher")
    answers = visitor_page.locator(".cm-message[data-from=admin]")
    expect(answers).to_have_text([ASK_TO_LOG_IN])  # the logged-in browser reads the user's conversations
    page.fill("textarea[name=body]", "Thanks Ada, you can change the card under Billing.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status")).to_have_text("Reply sent.")
    # The open widget shows the answer with no reload (the live feed, or the open panel's poll).
    expect(answers).to_have_text([ASK_TO_LOG_IN, "Thanks Ada, you can change the card under Billing."])
    assert fetched(api, conversation)["contacts"]["contacts"][0]["id"] == user


def test_a_note_is_never_shown_to_the_contact(
    server: Server, visitor: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, agent: Teammate
) -> None:
    lead = ping(visitor, workspace)
    say(visitor, workspace, lead["anonymous_id"], "Is there a student discount?")
    [conversation] = [c["id"] for c in api.get("/conversations").json()["conversations"]]
    with signed_in_client(server, agent) as client:
        assert (
            post(client, conversation, "reply", body="Yes: 50%.", message_type="comment").status_code == 303
        )
        note = post(client, conversation, "reply", body="They asked twice before", message_type="note")
        assert note.status_code == 303
        assert "They asked twice before" in client.get(f"/admin/inbox/{conversation}").text
    assert readable(visitor, workspace, lead["anonymous_id"]) == ["Is there a student discount?", "Yes: 50%."]
    assert part_bodies(fetched(api, conversation)) == [
        ("comment", "Yes: 50%."),
        ("note", "They asked twice before"),
    ]


def test_forms_without_their_csrf_value_are_refused_and_change_nothing(
    server: Server, api: httpx.Client, agent: Teammate
) -> None:
    lead = make(api, role="lead", name="Bo Lead")
    conversation = start(api, lead, "Hello?", role="lead")
    before = fetched(api, conversation)
    fields = {"body": "forged", "message_type": "comment", "assignee": agent.id, "for": "hour"}
    with signed_in_client(server, agent) as client:
        for action in ACTIONS:
            for csrf in ("", "0" * 64):
                refused = client.post(f"/admin/inbox/{conversation}/{action}", data={**fields, "csrf": csrf})
                assert refused.status_code == 403, (action, refused.text)
                assert "This form has expired or came from another site" in refused.text
    after = fetched(api, conversation)
    for key in ("state", "admin_assignee_id", "snoozed_until", "conversation_parts", "updated_at"):
        assert after[key] == before[key], key


def test_another_workspaces_teammate_gets_404_for_this_workspaces_conversation(
    server: Server, api: httpx.Client, agent: Teammate, database: Database
) -> None:
    user = make(api, role="user", external_id="u-1", name="Private Person")
    conversation = start(api, user, "My private question")
    other = make_workspace(database, "Other workspace")
    stranger = make_teammate(database, other, "owner", "Stranger Owner")
    with signed_in_client(server, stranger) as client:
        page = client.get(f"/admin/inbox/{conversation}")
        assert page.status_code == 404
        assert "My private question" not in page.text
        listing = client.get("/admin/inbox?state=all")
        assert listing.status_code == 200 and "Private Person" not in listing.text
        csrf = csrf_of(listing.text)
        for action in ACTIONS:
            data = {"csrf": csrf, "body": "hi", "message_type": "comment", "for": "hour"}
            refused = client.post(f"/admin/inbox/{conversation}/{action}", data=data)
            assert refused.status_code == 404, (action, refused.text)
    assert part_bodies(fetched(api, conversation)) == []
    assert fetched(api, conversation)["state"] == "open"
    with signed_in_client(server, agent) as client:
        assert "My private question" in client.get(f"/admin/inbox/{conversation}").text


def test_bad_input_shows_the_error_on_the_page_and_changes_nothing(
    server: Server, api: httpx.Client, agent: Teammate, database: Database, workspace: WorkspaceKeys
) -> None:
    user = make(api, role="user", external_id="u-2", name="Ada")
    conversation = start(api, user, "Help")
    elsewhere = make_teammate(database, make_workspace(database, "Elsewhere"), "agent", "Outsider")
    before = fetched(api, conversation)
    cases = [
        ("reply", {"body": "   ", "message_type": "comment"}, "the message is empty"),
        ("reply", {"body": "x", "message_type": "shout"}, "a comment or a note"),
        ("assign", {"assignee": "nobody-by-this-id"}, "is not a teammate of this workspace"),
        ("assign", {"assignee": elsewhere.id}, "is not a teammate of this workspace"),
        ("snooze", {"for": "custom", "until": "2001-01-01T09:00"}, "a snooze ends in the future"),
        ("snooze", {"for": "custom", "until": "soon"}, "enter the date and time"),
        ("snooze", {"for": "forever"}, "choose how long"),
        ("ask-to-log-in", {}, "only a lead is asked to log in"),
    ]
    with signed_in_client(server, agent) as client:
        for action, fields, message in cases:
            answer = post(client, conversation, action, **fields)
            assert answer.status_code == 400, (action, fields, answer.text)
            assert 'role="alert"' in answer.text and message in answer.text, (action, fields)
        page = client.get(f"/admin/inbox/{conversation}").text
        assert "Ask to log in" not in page  # offered to leads only
        assert post(client, conversation, "delete").status_code == 404  # no such action
    after = fetched(api, conversation)
    for key in ("state", "admin_assignee_id", "snoozed_until", "conversation_parts", "updated_at"):
        assert after[key] == before[key], key


def test_unverified_senders_are_badged_and_merged_in_history_is_marked(
    server: Server, visitor: httpx.Client, api: httpx.Client, workspace: WorkspaceKeys, agent: Teammate
) -> None:
    """A lead that typed a user's email is merged at the user's login (R2) but marked unverified; a lead
    whose own browser logs in is merged (R1) as verified. Both conversations show where they came from."""
    user = make(api, role="user", external_id="u-1", email="owner@example.com", name="Olga Owner")
    signed = {"user_id": "u-1", "user_hash": user_hash(workspace.identity_secret, "u-1")}
    stranger = ping(visitor, workspace)
    say(visitor, workspace, stranger["anonymous_id"], "I am the owner, send me the invoices")
    claimed = {
        "app_id": workspace.app_id,
        "anonymous_id": stranger["anonymous_id"],
        "email": "owner@example.com",
    }
    assert visitor.post("/messenger/email", json=claimed).status_code == 200
    with httpx.Client(base_url=server.base_url, timeout=30) as own_browser:
        lead = ping(own_browser, workspace)
        say(own_browser, workspace, lead["anonymous_id"], "Where is my order?")
        ping(own_browser, workspace, lead["anonymous_id"], **signed)  # R1, and R2 for the stranger
    r1, r2 = settle(api, lead["contact"]["id"]), settle(api, stranger["contact"]["id"])
    assert (r1["reason"], r1["into"], r2["reason"], r2["into"]) == (
        "session_cookie",
        user,
        "email_match",
        user,
    )
    ids = {c["source"]["body"]: c["id"] for c in api.get("/conversations").json()["conversations"]}

    with signed_in_client(server, agent) as client:
        flagged = client.get("/admin/inbox?state=all&unverified=1").text
        assert flagged.count('class="conversation') == 1 and "I am the owner" in flagged
        everything = client.get("/admin/inbox?state=all").text
        assert everything.count('class="conversation') == 2
        assert everything.count("unverified sender</span>") == 1

        forged = client.get(f"/admin/inbox/{ids['I am the owner, send me the invoices']}").text
        assert "unverified sender</span>" in forged
        assert "This conversation came over from lead" in forged
        assert "R2: the lead&#39;s email matched the user&#39;s" in forged
        assert re.search(
            r"from lead <a href=\"/admin/contacts/\w+\">owner@example.com</a>, merged on", forged
        )

        own = client.get(f"/admin/inbox/{ids['Where is my order?']}").text
        assert "unverified sender</span>" not in own
        assert "This conversation came over from lead" in own and "R1: the same browser logged in" in own
        assert own.count('class="merge"') == 2  # both merges into Olga, with their rules
        assert "Olga Owner" in own

        contact_page = client.get(f"/admin/contacts/{user}").text  # links each conversation here
        assert all(f'href="/admin/inbox/{conversation}"' in contact_page for conversation in ids.values())


def test_the_list_pages_by_cursor_with_the_true_total_in_a_fixed_number_of_queries(
    server: Server, api: httpx.Client, database: Database, workspace: WorkspaceKeys, agent: Teammate
) -> None:
    people = [make(api, role="lead", name=f"Lead {n:02}") for n in range(PER_PAGE + 5)]
    for n, contact in enumerate(people):
        start(api, contact, f"Question {n:02}", role="lead")
    with signed_in_client(server, agent) as client:
        first = client.get("/admin/inbox").text
        assert f"{PER_PAGE + 5} conversations" in first
        assert first.count('class="conversation') == PER_PAGE
        following = re.search(r'<a href="(/admin/inbox\?[^"]+)">Next', first)
        assert following, "no link to the next page"
        second = client.get(following.group(1).replace("&amp;", "&")).text
        assert second.count('class="conversation') == 5 and "Next" not in second
        shown_names = re.findall(r"Lead \d\d", first + second)
        assert sorted(set(shown_names)) == [f"Lead {n:02}" for n in range(PER_PAGE + 5)]

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    with make_sessionmaker(database.engine)() as db:
        space = db.get_one(Workspace, workspace.app_id)
        me = teammates.get_teammate(db, space, agent.id)
        event.listen(database.engine, "before_cursor_execute", count)
        try:
            full = inbox.list_inbox(db, space, me, inbox.Filters(state="open"), after=None)
            many = len(statements)
            statements.clear()
            rest = inbox.list_inbox(db, space, me, inbox.Filters(state="open"), after=full.next)
            few = len(statements)
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
    assert (len(full.rows), len(rest.rows), full.total, rest.next) == (PER_PAGE, 5, PER_PAGE + 5, None)
    assert all(row.last is not None and row.last.body.startswith("Question") for row in full.rows)
    assert many == few, statements  # one query per kind of thing, not one per row
