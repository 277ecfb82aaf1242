"""The live widget in a real Chromium (issue 13): agents' replies arrive without a reload, open or closed,
with the agent's name and an unread badge, over one connection per browser, threads kept apart.

The site embedding the widget is on another origin than the API (see test_widget_e2e). Waits are
Playwright's bounded expectations; "never arrives" is shown by a later reply arriving first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Teammate, WorkspaceKeys
from tests.test_messenger import settle
from tests.test_widget_e2e import (  # noqa: F401 (fixtures)
    Site,
    anonymous_cookie,
    conversation_id,
    login,
    new_page,
    new_user,
    owner_of_conversations,
    site,
    write,
)

pytestmark = pytest.mark.browser

LIVE_MS = 5_000  # a reply reaches the widget within about a second; the rest is room for a busy machine

# Counts the widget's live connections in the page: window.__live is how many are open now.
COUNT_STREAMS = """
(function () {
  var Original = window.EventSource;
  window.__live = 0;
  window.EventSource = function (url) {
    var source = new Original(url);
    var open = true;
    window.__live += 1;
    var close = source.close.bind(source);
    source.close = function () { if (open) { open = false; window.__live -= 1; } close(); };
    return source;
  };
})();
"""


def reply(api: httpx.Client, conversation: str, admin: Teammate, body: str, kind: str = "comment") -> None:
    sent = {"type": "admin", "admin_id": admin.id, "message_type": kind, "body": body}
    response = api.post(f"/conversations/{conversation}/reply", json=sent)
    assert response.status_code == 200, response.text


def close_panel(page: Page) -> None:
    page.click("#cm-close")
    expect(page.locator("#cm-panel")).to_be_hidden()


def start_another_conversation(
    api_url: str, workspace: WorkspaceKeys, page: Page, body: str
) -> dict[str, Any]:
    """What the browser's other tab would do: a new conversation, written without this tab."""
    anonymous_id = anonymous_cookie(page, workspace.app_id)["value"]
    sent = {"app_id": workspace.app_id, "anonymous_id": anonymous_id, "body": body}
    response = httpx.post(f"{api_url}/messenger/messages", json=sent)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_an_agents_reply_reaches_the_open_widget_with_the_agents_name_and_notes_never_do(
    site: Site,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
    api: httpx.Client,
    workspace: WorkspaceKeys,
    owner: Teammate,
) -> None:
    page = new_page()
    page.goto(site.embed("/pricing", app_id=workspace.app_id))
    write(page, "Do you ship to Norway?")
    conversation = conversation_id(api, "Do you ship to Norway?")

    reply(api, conversation, owner, "Internal: check the carrier first", kind="note")
    reply(api, conversation, owner, "Yes, within five days.")
    answer = page.locator(".cm-message[data-from=admin]")
    expect(answer).to_have_text(["Yes, within five days."], timeout=LIVE_MS)  # no reload, no click
    expect(page.locator(".cm-author-name")).to_have_text(["Olive Owner"])
    expect(page.locator(".cm-author .cm-time")).to_have_count(1)
    assert page.locator(".cm-author time").get_attribute("datetime")
    expect(page.locator("#cm-badge")).to_be_hidden()  # the panel is open: the reply is seen
    messages = page.locator("#cm-messages")
    expect(messages).not_to_contain_text("Internal: check the carrier first")
    expect(messages).not_to_contain_text(owner.email)


def test_a_closed_widget_shows_an_unread_badge_and_keeps_threads_apart_after_a_reload(
    site: Site,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
    api: httpx.Client,
    workspace: WorkspaceKeys,
    owner: Teammate,
) -> None:
    page = new_page()
    page.goto(site.embed("/", app_id=workspace.app_id))
    write(page, "Where is my parcel?")
    first = conversation_id(api, "Where is my parcel?")
    close_panel(page)
    badge = page.locator("#cm-badge")
    expect(badge).to_be_hidden()

    reply(api, first, owner, "It left the warehouse today.")
    expect(badge).to_be_visible(timeout=LIVE_MS)  # nothing polls a closed panel: this came live
    expect(badge).to_have_text("1")
    expect(page.locator("#cm-launcher")).to_have_attribute("aria-label", "Open chat, 1 unread")
    page.screenshot(path="/tmp/widget-badge.png")
    page.click("#cm-launcher")
    expect(badge).to_be_hidden()  # opening clears it
    expect(page.locator(".cm-author-name")).to_have_text(["Olive Owner"])
    close_panel(page)

    second = start_another_conversation(site.api, workspace, page, "Can I change my address?")
    expect(page.locator(".cm-conversation")).to_have_count(2, timeout=LIVE_MS)  # the browser's own, live
    reply(api, second["id"], owner, "Yes, until it ships.")
    reply(api, first, owner, "Tracking number: 42.")
    expect(badge).to_have_text("2", timeout=LIVE_MS)

    page.reload()
    sections = page.locator(".cm-conversation")
    expect(sections).to_have_count(2)  # the history is back, with the panel still closed
    expect(badge).to_have_text("2")  # unseen replies stay unread across a reload
    page.click("#cm-launcher")
    expect(badge).to_be_hidden()
    parcel = page.locator(f".cm-conversation[data-conversation-id='{first}']")
    address = page.locator(f".cm-conversation[data-conversation-id='{second['id']}']")
    expect(parcel.locator(".cm-message")).to_have_text(
        ["Where is my parcel?", "It left the warehouse today.", "Tracking number: 42."]
    )
    expect(address.locator(".cm-message")).to_have_text(["Can I change my address?", "Yes, until it ships."])
    for thread in (parcel, address):  # each its own block with its own header
        expect(thread.locator(".cm-conversation-header")).to_have_count(1)
        expect(thread.locator(".cm-conversation-header")).to_contain_text("Conversation started")
    boxes = page.evaluate(
        "() => [...document.querySelectorAll('.cm-conversation')]"
        ".map((e) => e.getBoundingClientRect()).map((r) => [r.top, r.bottom])"
    )
    (top, top_end), (bottom, _) = sorted(boxes)
    assert top_end - top > 60 and top_end <= bottom  # blocks one after the other, not stacked lines
    page.screenshot(path="/tmp/widget-live.png")
    close_panel(page)

    page.reload()  # seen replies do not come back as unread
    expect(sections).to_have_count(2)
    reply(api, second["id"], owner, "Done, it is changed.")
    expect(badge).to_have_text("1", timeout=LIVE_MS)  # only the new one


def test_a_lead_that_logs_in_hears_the_agent_in_the_closed_widget(
    site: Site,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
    api: httpx.Client,
    workspace: WorkspaceKeys,
    owner: Teammate,
) -> None:
    """The issue's flow: a lead writes, logs in (R1, merged by the worker a moment later), and the agent's
    answer reaches the closed widget of the user it became."""
    user = new_user(api, external_id="ada-2", email="ada2@example.com")
    page = new_page()
    page.goto(site.embed("/", app_id=workspace.app_id))
    write(page, "I cannot find my invoice")
    [lead_id] = owner_of_conversations(api)["I cannot find my invoice"]
    page.goto(site.embed("/account", **login(workspace, "ada-2")))
    assert settle(api, lead_id)["into"] == user["id"]
    reply(api, conversation_id(api, "I cannot find my invoice"), owner, "Sent it to your email.")
    badge = page.locator("#cm-badge")
    expect(badge).to_have_text("1", timeout=LIVE_MS)
    page.click("#cm-launcher")
    expect(page.locator(".cm-message")).to_have_text(["I cannot find my invoice", "Sent it to your email."])
    expect(badge).to_be_hidden()


def test_another_visitors_widget_never_receives_the_first_visitors_replies(
    site: Site,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
    api: httpx.Client,
    workspace: WorkspaceKeys,
    owner: Teammate,
) -> None:
    alice, bob = new_page(), new_page()  # two browsers
    for page, text in [(alice, "Alice asks"), (bob, "Bob asks")]:
        page.goto(site.embed("/", app_id=workspace.app_id))
        write(page, text)
    reply(api, conversation_id(api, "Alice asks"), owner, "Only for Alice")
    reply(api, conversation_id(api, "Bob asks"), owner, "Only for Bob")
    expect(bob.locator(".cm-message")).to_have_text(["Bob asks", "Only for Bob"], timeout=LIVE_MS)
    expect(alice.locator(".cm-message")).to_have_text(["Alice asks", "Only for Alice"], timeout=LIVE_MS)
    expect(bob.locator("#cm-messages")).not_to_contain_text("Alice")


def test_one_connection_per_browser_held_by_a_visible_tab(
    site: Site,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
    api: httpx.Client,
    workspace: WorkspaceKeys,
    owner: Teammate,
) -> None:
    first = new_page()
    url = site.embed("/tabs", before=COUNT_STREAMS, app_id=workspace.app_id)
    first.goto(url)
    write(first, "Two tabs open")
    second = first.context.new_page()
    second.goto(url)
    expect(second.locator(".cm-message")).to_have_text(["Two tabs open"])
    tabs = [first, second]

    def connections() -> list[int]:
        return [int(tab.evaluate("window.__live")) for tab in tabs]

    expect(first.locator("#cm-root")).to_be_attached()
    first.wait_for_function("window.__live === 1")
    assert connections() == [1, 0]  # the second tab waits for the lock and listens to the first
    reply(api, conversation_id(api, "Two tabs open"), owner, "Heard in both tabs")
    for tab in tabs:
        expect(tab.locator(".cm-message[data-from=admin]")).to_have_text(
            ["Heard in both tabs"], timeout=LIVE_MS
        )

    hide = (
        "Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    first.evaluate(hide)  # the first tab is hidden: it lets go, the visible one takes over
    second.wait_for_function("window.__live === 1")
    assert connections() == [0, 1]
    second.evaluate(hide)
    second.wait_for_function("window.__live === 0")  # no visible tab: no connection
    assert connections() == [0, 0]
