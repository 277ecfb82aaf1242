"""The teammates' inbox: conversations to read and answer, filtered, and one conversation with everything a
teammate needs to answer it safely: who wrote each part, which messages came from an unverified sender,
and which history a merge brought over (design §3 R1-R5, §4).

The actions themselves (reply, note, assign, close, reopen, snooze) are ``services.conversations``'s; this
module only reads, plus the one message "ask to log in" that the seeds advise for a lead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import now
from contactmerge.errors import BadRequest
from contactmerge.services import conversations, merging, teammates
from contactmerge.storage import conversations as conversations_repo
from contactmerge.storage import inbox as repo
from contactmerge.storage.inbox import Cursor, InboxQuery
from contactmerge.storage.tables import Admin, Contact, Conversation, ConversationPart, Merge, Workspace

PER_PAGE = 25
STATES = ("open", "snoozed", "closed", "all")
ASSIGNEES = ("anyone", "me", "unassigned")
RULES = {
    "session_cookie": "R1: the same browser logged in",
    "email_match": "R2: the lead's email matched the user's",
    "csv_import": "R3: a CSV import matched the lead",
    "api": "R4: requested through the API or a page",
    "bulk": "R5: an approved duplicate cluster",
}
# What "ask to log in" sends (the seeds' advice): a lead is joined to its account by logging in on the same
# device, which proves who it is; an email typed into the chat proves nothing.
ASK_TO_LOG_IN = (
    "Could you log in to your account on our site or app, in this same browser, and then come back to "
    "this chat? Your messages will then be joined to your account automatically, so we can see your "
    "history and help with anything account-related. We ask for a login rather than just an email "
    "address because anyone can type an email into a chat; logging in proves the account is yours and "
    "keeps your information safe."
)


@dataclass(frozen=True)
class Filters:
    """What an inbox list shows, as its page's query string says it."""

    state: str = "open"
    assignee: str = "anyone"
    unverified: bool = False

    @classmethod
    def parse(cls, state: str, assignee: str, unverified: str) -> Filters:
        if state not in STATES:
            raise BadRequest(f"state is one of {', '.join(STATES)}", field="state")
        if assignee not in ASSIGNEES:
            raise BadRequest(f"assignee is one of {', '.join(ASSIGNEES)}", field="assignee")
        return cls(state, assignee, unverified in ("1", "true", "on"))

    def query(self, me: Admin, stamp: int) -> InboxQuery:
        return InboxQuery(
            state=None if self.state == "all" else self.state,
            assignee_id=me.id if self.assignee == "me" else None,
            unassigned=self.assignee == "unassigned",
            unverified=self.unverified,
            now=stamp,
        )


@dataclass(frozen=True)
class Row:
    conversation: Conversation
    contact: Contact | None
    last: ConversationPart | None
    last_author: str
    assignee: str | None  # the teammate's name
    waiting: int | None  # seconds the contact has been waiting for an answer
    unverified: bool  # holds a message from an unverified sender
    state: str  # as it reads now: a snooze whose time has come reads as open


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    total: int
    next: str | None  # the cursor of the following page


@dataclass(frozen=True)
class MergedFrom:
    """A contact folded into the conversation's: "from lead X, merged on …", and why."""

    merge: Merge
    source: Contact | None

    @property
    def label(self) -> str:
        return describe(self.source, self.merge.source_id)

    @property
    def role(self) -> str:
        return self.source.role if self.source else "contact"

    @property
    def rule(self) -> str:
        return RULES.get(self.merge.reason, self.merge.reason)


@dataclass(frozen=True)
class PartView:
    part: ConversationPart
    author: str
    author_role: str  # admin, or the writing contact's role (user, lead, …)
    merged_from: MergedFrom | None  # written by a contact that has since been merged into another
    assigned_to: str | None  # an assignment part's teammate


@dataclass(frozen=True)
class ConversationView:
    conversation: Conversation
    contact: Contact | None
    parts: list[PartView]
    merged_from: MergedFrom | None  # the conversation came over from a merged contact
    assignee: Admin | None
    teammates: list[Admin]  # who it can be assigned to
    threads: list[Conversation]  # all the contact's conversations, this one included, newest first
    thread_first: dict[str, ConversationPart]  # each of those conversations' first message
    history: list[MergedFrom] = field(default_factory=list)  # merges into the contact, newest first
    waiting: int | None = None
    state: str = "open"  # as it reads now

    @property
    def can_ask_to_log_in(self) -> bool:
        """Only a lead can be asked: a user is logged in already, and a visitor has not written."""
        return self.contact is not None and self.contact.role == "lead"


def describe(contact: Contact | None, contact_id: str) -> str:
    """How a contact reads in the inbox: its name, else email, else id."""
    if contact is None:
        return contact_id
    return contact.name or contact.email or contact.external_id or contact.id


def waited(since: int | None, stamp: int) -> int | None:
    return None if since is None else max(0, stamp - since)


def list_inbox(
    db: DbSession, workspace: Workspace, me: Admin, filters: Filters, *, after: str | None
) -> Listing:
    """A page of the inbox for teammate ``me`` (the "assigned to me" filter is theirs), with the contact,
    last message and waiting time of each row."""
    stamp = now()
    found = repo.page(
        db, workspace.id, filters.query(me, stamp), per_page=PER_PAGE, after=Cursor.decode(after)
    )
    ids = [c.id for c in found.items]
    last = repo.last_messages(db, workspace.id, ids)
    people = conversations_repo.contacts_by_id(
        db,
        workspace.id,
        sorted(
            {c.contact_id for c in found.items}
            | {p.author_id for p in last.values() if p.author_type != "admin" and p.author_id}
        ),
    )
    admin_ids = [c.admin_assignee_id for c in found.items if c.admin_assignee_id]
    admin_ids += [p.author_id for p in last.values() if p.author_type == "admin" and p.author_id]
    names = teammates.names(db, workspace, admin_ids)
    flagged = repo.with_unverified_parts(db, workspace.id, ids)
    rows = [
        Row(
            conversation=c,
            contact=people.get(c.contact_id),
            last=last.get(c.id),
            last_author=_author(last[c.id], people, names)[0] if c.id in last else "",
            assignee=names.get(c.admin_assignee_id, c.admin_assignee_id) if c.admin_assignee_id else None,
            waiting=waited(c.waiting_since, stamp),
            unverified=c.id in flagged,
            state=conversations.state_of(c, stamp),
        )
        for c in found.items
    ]
    return Listing(rows, found.total_count, found.next.encode() if found.next else None)


def _author(part: ConversationPart, people: dict[str, Contact], names: dict[str, str]) -> tuple[str, str]:
    """Who wrote a part, and as what (admin, or the contact's role when it wrote)."""
    if part.author_type == "admin":
        return names.get(part.author_id or "", f"Teammate {part.author_id}"), "admin"
    person = people.get(part.author_id or "")
    return describe(person, part.author_id or "unknown"), part.author_type


def conversation_view(db: DbSession, workspace: Workspace, conversation: Conversation) -> ConversationView:
    """Everything the conversation page shows, in a fixed number of queries whatever its length."""
    parts = conversations_repo.parts_of(db, workspace.id, [conversation.id])[conversation.id]
    wanted = {p.author_id for p in parts if p.author_type != "admin" and p.author_id}
    wanted |= {conversation.contact_id, conversation.origin_contact_id}
    people = conversations_repo.contacts_by_id(db, workspace.id, sorted(wanted))
    contact = people.get(conversation.contact_id)
    # Contacts merged into another: the conversation's first owner, and authors that are tombstones now.
    folded = {cid for cid, p in people.items() if p.merged_into_id is not None}
    if conversation.origin_contact_id != conversation.contact_id:
        folded.add(conversation.origin_contact_id)
    merges = repo.applied_merges_of(db, workspace.id, folded)
    history = merging.list_merges(db, workspace, conversation.contact_id, per_page=20, after_id=None).items
    into = [m for m in history if m.target_id == conversation.contact_id and m.state == "applied"]
    sources = conversations_repo.contacts_by_id(db, workspace.id, sorted({m.source_id for m in into}))
    admin_ids = [p.author_id for p in parts if p.author_type == "admin" and p.author_id]
    admin_ids += [p.assigned_to_id for p in parts if p.assigned_to_id]
    names = teammates.names(db, workspace, admin_ids)
    team = teammates.list_teammates(db, workspace)
    assignee = next((a for a in team if a.id == conversation.admin_assignee_id), None)
    if assignee is None and conversation.admin_assignee_id:  # removed since: still named
        assignee = teammates.get_teammate(db, workspace, conversation.admin_assignee_id)
    views = []
    for part in parts:
        author, role = _author(part, people, names)
        merge = merges.get(part.author_id or "") if part.author_type != "admin" else None
        views.append(
            PartView(
                part=part,
                author=author,
                author_role=role,
                merged_from=MergedFrom(merge, people.get(merge.source_id)) if merge else None,
                assigned_to=names.get(part.assigned_to_id, part.assigned_to_id)
                if part.assigned_to_id
                else None,
            )
        )
    origin = merges.get(conversation.origin_contact_id)
    threads = conversations_repo.of_contact(db, workspace.id, conversation.contact_id)
    return ConversationView(
        conversation=conversation,
        contact=contact,
        parts=views,
        merged_from=MergedFrom(origin, people.get(origin.source_id)) if origin else None,
        assignee=assignee,
        teammates=team,
        threads=threads,
        thread_first=repo.first_messages(db, workspace.id, [t.id for t in threads]),
        history=[MergedFrom(m, sources.get(m.source_id)) for m in into],
        waiting=waited(conversation.waiting_since, now()),
        state=conversations.state_of(conversation),
    )


def ask_to_log_in(db: DbSession, workspace: Workspace, conversation: Conversation, admin: Admin) -> None:
    """Asks a lead to log in on the same browser, so the session cookie rule (R1) joins it to its account
    with proof, instead of a match on an email anyone could type (design §4, the seeds' advice)."""
    contact = conversations_repo.contacts_by_id(db, workspace.id, [conversation.contact_id]).get(
        conversation.contact_id
    )
    if contact is None or contact.role != "lead":
        raise BadRequest("only a lead is asked to log in: this conversation's contact is not one")
    conversations.reply_as_admin(db, conversation, admin.id, ASK_TO_LOG_IN, message_type="comment")
