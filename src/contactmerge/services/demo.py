"""The demo workspace: realistic people, conversations and events, made through the same services."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field

from rich.console import Console
from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import now
from contactmerge.services import (
    contacts,
    conversations,
    data_attributes,
    events,
    notes,
    tags,
    teammates,
    workspaces,
)
from contactmerge.storage import workspaces as workspaces_repo
from contactmerge.storage.tables import Workspace

DEMO_NAME = "Demo workspace"
FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Radia",
    "Tim",
    "Frances",
    "Guido",
    "Hedy",
    "John",
    "Sophie",
    "Donald",
    "Annie",
    "Edsger",
    "Joan",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Perlman",
    "Berners-Lee",
    "Allen",
    "van Rossum",
    "Lamarr",
    "McCarthy",
    "Wilson",
    "Knuth",
    "Easley",
]
CITIES = [
    ("Dublin", "Ireland"),
    ("Berlin", "Germany"),
    ("Austin", "United States"),
    ("Lyon", "France"),
    ("Toronto", "Canada"),
    ("Melbourne", "Australia"),
]
PLANS = ["free", "starter", "pro", "enterprise"]
EVENTS = ["signed-in", "viewed-pricing", "invited-teammate", "created-project", "exported-report"]
LEAD_MESSAGES = [
    "Hi! Do you offer a discount for non-profits?",
    "Is there an API for exporting contacts?",
    "Can I try the pro plan before buying?",
    "How do I reset my password?",
]
USER_MESSAGES = [
    "The export button does nothing on Safari.",
    "Can I add a teammate on the starter plan?",
    "Thanks, the import worked!",
    "Our invoice shows the wrong VAT number.",
]


# The demo's teammates: (email, name, role). Their passwords are new on every start, printed once.
DEMO_TEAM = (
    ("owner@example.com", "Olivia Owner", "owner"),
    ("agent@example.com", "Aiden Agent", "agent"),
)


@dataclass(frozen=True)
class DemoWorkspace:
    workspace: Workspace
    token: str
    created: bool
    contact_count: int
    passwords: dict[str, str] = field(default_factory=dict)  # teammate email -> this start's password


def ensure_demo(db: DbSession) -> DemoWorkspace:
    """The demo workspace, made on first call; later calls issue it a fresh token and its teammates fresh
    passwords (both are stored hashed, so only a new one can be printed)."""
    for existing in workspaces_repo.all_workspaces(db):
        if existing.settings.get("demo"):
            token = workspaces.issue_token(db, existing, "demo")
            return DemoWorkspace(existing, token, False, -1, _team(db, existing))
    created = workspaces.create_workspace(db, DEMO_NAME)
    workspace = created.workspace
    workspace.settings = {**workspace.settings, "demo": True}
    passwords = _team(db, workspace)
    count = _populate(db, workspace)
    return DemoWorkspace(workspace, created.token, True, count, passwords)


def _team(db: DbSession, workspace: Workspace) -> dict[str, str]:
    """The demo's teammates, made or given new passwords (their sessions stay signed in)."""
    passwords = {}
    current = {a.email_normalized: a for a in teammates.list_teammates(db, workspace)}
    for email, name, role in DEMO_TEAM:
        password = secrets.token_urlsafe(12)
        if email in current:
            teammates.set_password(db, workspace, current[email].id, password, end_sessions=False)
        else:
            teammates.create_teammate(db, workspace, email=email, name=name, role=role, password=password)
        passwords[email] = password
    return passwords


def _populate(db: DbSession, workspace: Workspace) -> int:
    team = teammates.list_teammates(db, workspace)
    owner = next(a.id for a in team if a.role == "owner")
    agent = next(a.id for a in team if a.role == "agent")
    rng = random.Random(20261124)
    data_attributes.create_attribute(
        db, workspace, name="plan", data_type="string", description="Billing plan"
    )
    data_attributes.create_attribute(
        db, workspace, name="seats", data_type="integer", description="Paid seats"
    )
    data_attributes.create_attribute(db, workspace, name="beta_tester", data_type="boolean")
    vip = tags.create_or_update_tag(db, workspace, "VIP")
    churn = tags.create_or_update_tag(db, workspace, "churn-risk")
    start = now() - 90 * 86_400
    made = 0
    users = []
    for i in range(30):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        city, country = rng.choice(CITIES)
        user = contacts.create_contact(
            db,
            workspace,
            {
                "role": "user",
                "external_id": f"u-{1000 + i}",
                "email": f"{first}.{last}".lower().replace(" ", "") + "@example.com",
                "name": f"{first} {last}",
                "phone": f"+1 512 555 {1000 + i:04d}",
                "signed_up_at": start + i * 86_400,
                "last_seen_at": now() - rng.randint(0, 20) * 86_400,
                "custom_attributes": {
                    "plan": rng.choice(PLANS),
                    "seats": rng.randint(1, 40),
                    "beta_tester": rng.random() < 0.3,
                },
            },
            region="US",
        )
        user.location_city, user.location_country = city, country
        users.append(user)
        made += 1
        for _ in range(rng.randint(2, 8)):
            events.record_event(
                db,
                workspace,
                user,
                event_name=rng.choice(EVENTS),
                created_at=start + rng.randint(0, 89) * 86_400,
                metadata={"source": "web"},
            )
        if i % 3 == 0:
            conversation, _ = conversations.start_conversation(db, workspace, user, rng.choice(USER_MESSAGES))
            conversations.reply_as_admin(
                db, conversation, agent, "Thanks for writing — looking into it now.", message_type="comment"
            )
        if i % 5 == 0:
            tags.attach(db, workspace, user.id, vip.id)
        if i % 7 == 3:
            tags.attach(db, workspace, user.id, churn.id)
            notes.add_note(db, workspace, user.id, "Asked about downgrading; follow up next week.", owner)
    for i in range(20):
        fields: dict[str, object] = {"role": "lead", "name": f"Website visitor {i + 1}"}
        if i < 4:  # leads who later typed the email of an existing user: duplicates to merge
            fields["email"] = users[i * 2].email
        elif i % 2 == 0:
            fields["email"] = f"prospect{i}@example.org"
        lead = contacts.create_contact(db, workspace, fields, region="US")
        made += 1
        conversation, _ = conversations.start_conversation(db, workspace, lead, rng.choice(LEAD_MESSAGES))
        events.record_event(db, workspace, lead, event_name="viewed-pricing", created_at=None, metadata={})
    return made


def print_welcome(console: Console, demo: DemoWorkspace, *, base_url: str | None) -> None:
    url = base_url or "http://127.0.0.1:8000"
    if demo.created:
        console.print(
            f"Loaded the demo workspace: {demo.contact_count} contacts with conversations and events."
        )
    console.print(f"[bold]app_id[/]  {demo.workspace.app_id}", highlight=False)
    console.print(f"[bold]token[/]   {demo.token}", highlight=False)
    for email, name, role in DEMO_TEAM:
        if email in demo.passwords:
            console.print(
                f"[bold]{role}[/]   {email} / {demo.passwords[email]}  ({name}: sign in to the pages)",
                highlight=False,
            )
    console.print("Try it:", highlight=False)
    console.print(
        f'  curl -H "Authorization: Bearer {demo.token}" {url}/contacts?per_page=5',
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"  API reference: {url}/docs", highlight=False)
    console.print(
        f"  The inbox and admin pages (sign in as the owner or the agent above): {url}/admin",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"  The chat widget on a demo site (write, then log in as the demo user): {url}/demo/site",
        highlight=False,
        soft_wrap=True,
    )
