"""The messenger widget in a real Chromium, embedded by a site on another origin (design §3 R1/R2, §4).

The site is a tiny local HTTP server on its own port and host name (``localhost``, while the API is
``127.0.0.1``), so the widget's requests are cross-origin (CORS) and its cookie is the site's own.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from contactmerge.domain.identity import user_hash
from contactmerge.services import demo
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Workspace
from tests.conftest import Database, Server, Teammate, WorkspaceKeys, free_port
from tests.test_messenger import settle

pytestmark = pytest.mark.browser

YEAR = 365 * 24 * 3600
expect.set_options(timeout=10_000)  # bounded waits, roomy enough for a busy CI machine (polls are 3 s)


@dataclass
class Site:
    """A customer's website: pages that embed the widget from the API server."""

    origin: str
    api: str
    pages: dict[str, bytes] = field(default_factory=dict)

    def embed(self, path: str, *, before: str = "", **settings: str) -> str:
        """Serve at ``path`` a page embedding the widget with these settings; its URL.

        ``before`` is the site's own script, run before the widget's has loaded.
        """
        self.pages[path] = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Shop</title></head>"
            "<body><h1>Welcome to the shop</h1>"
            f"<script>window.contactmergeSettings = {json.dumps(settings)};{before}</script>"
            f"<script src='{self.api}/messenger.js' async></script></body></html>"
        ).encode()
        return self.origin + path


@pytest.fixture
def site(server: Server) -> Iterator[Site]:
    port = free_port()
    made = Site(origin=f"http://localhost:{port}", api=server.base_url)

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = made.pages.get(self.path.split("?")[0])
            self.send_response(200 if page else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page or b"not found")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Pages)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield made
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def new_page(chromium: Browser) -> Iterator[Callable[[], Page]]:
    """Pages in browser contexts of their own (separate cookie jars: separate browsers)."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def make() -> Page:
        context = chromium.new_context()
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == [], "the widget threw in the page"


def anonymous_cookie(page: Page, app_id: str) -> dict[str, Any]:
    """The widget's cookie on the site, once its first ping has answered."""
    page.wait_for_function(f"document.cookie.includes('cm_anon_{app_id}=')")
    cookies = [c for c in page.context.cookies() if c["name"] == f"cm_anon_{app_id}"]
    assert len(cookies) == 1, cookies
    return dict(cookies[0])


def write(page: Page, text: str) -> None:
    if not page.locator("#cm-panel").is_visible():
        page.click("#cm-launcher")
    expect(page.locator("#cm-panel")).to_be_visible()
    page.fill("#cm-input", text)
    page.click("#cm-send")
    expect(page.locator(".cm-message[data-from=me]").filter(has_text=text)).to_have_count(1)


def shown(page: Page, *texts: str) -> None:
    """The open panel shows exactly these messages, in this order (waits for the poll to catch up)."""
    if not page.locator("#cm-panel").is_visible():
        page.click("#cm-launcher")
    expect(page.locator(".cm-message")).to_have_text(list(texts))


def until(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.05)


def login(keys: WorkspaceKeys, user_id: str) -> dict[str, str]:
    return {"app_id": keys.app_id, "user_id": user_id, "user_hash": user_hash(keys.identity_secret, user_id)}


def new_user(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/contacts", json={"role": "user", **fields})
    assert response.status_code == 200, response.text
    return dict(response.json())


def owner_of_conversations(api: httpx.Client) -> dict[str, list[str]]:
    listed = api.get("/conversations").json()["conversations"]
    return {c["source"]["body"]: [x["id"] for x in c["contacts"]["contacts"]] for c in listed}


def conversation_id(api: httpx.Client, first_message: str) -> str:
    listed = api.get("/conversations").json()["conversations"]
    return str(next(c["id"] for c in listed if c["source"]["body"] == first_message))


def test_a_visitor_writes_then_logs_in_and_becomes_one_user(
    site: Site,
    new_page: Callable[[], Page],
    api: httpx.Client,
    workspace: WorkspaceKeys,
    owner: Teammate,
) -> None:
    user = new_user(api, external_id="demo-1", email="ada@example.com", name="Ada Lovelace")
    page = new_page()
    page.goto(site.embed("/pricing", app_id=workspace.app_id))
    cookie = anonymous_cookie(page, workspace.app_id)
    assert (cookie["domain"], cookie["path"], cookie["sameSite"]) == ("localhost", "/", "Lax")
    assert abs(cookie["expires"] - (time.time() + YEAR)) < 120

    write(page, "Do you have a free plan?")
    [lead_id] = owner_of_conversations(api)["Do you have a free plan?"]
    assert api.get(f"/contacts/{lead_id}").json()["role"] == "lead"

    page.goto(site.embed("/pricing", **login(workspace, "demo-1")))  # the site's login
    record = settle(api, lead_id)
    assert (record["reason"], record["into"]) == ("session_cookie", user["id"])
    gone = api.get(f"/contacts/{lead_id}")
    assert gone.status_code == 410
    assert gone.headers["link"] == f'</contacts/{user["id"]}>; rel="canonical"'
    assert owner_of_conversations(api) == {"Do you have a free plan?": [user["id"]]}
    assert [c["id"] for c in api.get("/contacts").json()["data"]] == [user["id"]]
    assert anonymous_cookie(page, workspace.app_id)["value"] == cookie["value"]  # the same browser session

    shown(page, "Do you have a free plan?")  # the logged-in session reads the user's conversations
    conversation = conversation_id(api, "Do you have a free plan?")
    for message_type, body in [("comment", "Yes, up to 3 seats."), ("note", "Internal: upsell later")]:
        reply = {"type": "admin", "admin_id": owner.id, "message_type": message_type, "body": body}
        assert api.post(f"/conversations/{conversation}/reply", json=reply).status_code == 200
    shown(page, "Do you have a free plan?", "Yes, up to 3 seats.")  # the open panel polls; notes stay inside
    expect(page.locator(".cm-message[data-from=admin]")).to_have_text(["Yes, up to 3 seats."])
    write(page, "Great, I just signed up")  # a reply in the open conversation, not a new one
    shown(page, "Do you have a free plan?", "Yes, up to 3 seats.", "Great, I just signed up")
    page.screenshot(path="/tmp/widget.png")
    assert owner_of_conversations(api) == {"Do you have a free plan?": [user["id"]]}


def test_a_lead_that_typed_a_users_email_is_merged_at_login_but_reads_only_its_own_messages(
    site: Site, new_page: Callable[[], Page], api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    user = new_user(api, external_id="owner-1", email="owner@example.com")
    owner = new_page()
    owner.goto(site.embed("/app", **login(workspace, "owner-1")))
    write(owner, "My invoice is wrong")

    stranger = new_page()
    stranger.goto(site.embed("/", app_id=workspace.app_id))
    write(stranger, "Hi, I am the owner")
    expect(stranger.locator("#cm-email-form")).to_be_visible()  # a lead without an email is asked for one
    stranger.fill("#cm-email", "Owner@Example.com")
    stranger.click("#cm-email-save")
    expect(stranger.locator("#cm-email-form")).to_be_hidden()
    [lead_id] = owner_of_conversations(api)["Hi, I am the owner"]
    marks = api.get("/merge_marks").json()["data"]
    assert [(m["reason"], m["state"]) for m in marks] == [("email_match", "waiting")]  # until the login

    owner.reload()  # the user's next login, in the user's own browser
    record = settle(api, lead_id)
    assert (record["reason"], record["into"]) == ("email_match", user["id"])
    assert owner_of_conversations(api) == {
        "My invoice is wrong": [user["id"]],
        "Hi, I am the owner": [user["id"]],
    }

    stranger.reload()
    shown(stranger, "Hi, I am the owner")
    readable = stranger.evaluate(
        """async ([api, appId]) => {
            const id = await window.contactmerge("getVisitorId");
            const query = new URLSearchParams({app_id: appId, anonymous_id: id});
            const answer = await fetch(`${api}/messenger/conversations?${query}`);
            return (await answer.json()).conversations.flatMap((c) => c.parts.map((p) => p.body));
        }""",
        [site.api, workspace.app_id],
    )
    assert readable == ["Hi, I am the owner"]
    owner.reload()
    shown(owner, "My invoice is wrong", "Hi, I am the owner")


def test_server_errors_show_in_the_panel_and_shutdown_starts_a_fresh_visitor(
    site: Site,
    new_page: Callable[[], Page],
    api: httpx.Client,
    workspace: WorkspaceKeys,
    database: Database,
) -> None:
    with transaction(make_sessionmaker(database.engine)) as db:
        db.get_one(Workspace, workspace.app_id).identity_verification = "enforced"
    new_user(api, external_id="victim")
    page = new_page()
    forged = {**login(workspace, "victim"), "user_hash": "0" * 64}
    page.goto(site.embed("/", **forged))
    page.click("#cm-launcher")
    expect(page.locator("#cm-error")).to_contain_text("identity verification failed")
    assert api.get("/contacts").json()["total_count"] == 1  # nothing made for the forged login

    page.goto(site.embed("/", **login(workspace, "victim")))
    before = anonymous_cookie(page, workspace.app_id)["value"]
    write(page, "private")
    page.evaluate("window.contactmerge('shutdown')")
    after = anonymous_cookie(page, workspace.app_id)["value"]
    assert after != before
    shown(page)
    expect(page.locator(".cm-empty")).to_be_visible()
    expect(page.locator("#cm-error")).to_be_hidden()


def test_commands_queued_before_the_script_loads_run_once_it_has_booted(
    site: Site, new_page: Callable[[], Page], api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    for name, data_type in [("plan", "string"), ("seats", "integer")]:
        attribute = {"name": name, "model": "contact", "data_type": data_type}
        assert api.post("/data_attributes", json=attribute).status_code == 200
    stub = (
        "window.contactmerge = function () {"
        " (window.contactmerge.q = window.contactmerge.q || []).push(arguments); };"
        "contactmerge('update', {plan: 'pro'});"
        "contactmerge('update', {custom_attributes: {seats: 3}});"
        "contactmerge('show');"
    )
    page = new_page()
    page.goto(site.embed("/", before=stub, app_id=workspace.app_id))
    expect(page.locator("#cm-panel")).to_be_visible()
    anonymous_id = anonymous_cookie(page, workspace.app_id)["value"]
    visitor = api.get("/visitors", params={"user_id": anonymous_id}).json()

    def updated() -> bool:
        found = api.get(f"/contacts/{visitor['id']}").json()["custom_attributes"]
        return bool(found == {"plan": "pro", "seats": 3})

    until(updated, "the queued updates reached the visitor")


def test_the_demo_site_embeds_the_widget_and_logs_in_the_demo_user(
    server: Server, database: Database, new_page: Callable[[], Page]
) -> None:
    script = httpx.get(f"{server.base_url}/messenger.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("application/javascript")
    with transaction(make_sessionmaker(database.engine)) as db:
        app_id = demo.ensure_demo(db).workspace.app_id
    page = new_page()
    page.goto(f"{server.base_url}/demo/site")
    visitor = anonymous_cookie(page, app_id)["value"]
    page.click("#demo-login")
    expect(page.locator("#demo-logout")).to_be_visible()
    page.click("#cm-launcher")
    # The demo user's conversation with the team's answer, and the one of the demo lead that has the
    # user's email, merged at this first login (R2).
    expect(page.locator(".cm-conversation")).to_have_count(2)
    expect(page.locator(".cm-message[data-from=admin]")).to_have_text(
        ["Thanks for writing — looking into it now."]
    )
    page.click("#demo-logout")
    expect(page.locator("#demo-login")).to_be_visible()
    page.click("#cm-launcher")
    expect(page.locator(".cm-empty")).to_be_visible()  # logged out: a fresh visitor reads nothing
    assert anonymous_cookie(page, app_id)["value"] not in (visitor, "")
