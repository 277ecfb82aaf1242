"""The messenger (widget) side: pings, logins (R1, R2), messages, and what a browser may read (§4).

A browser is known by its anonymous id (the widget's first-party cookie), which is a session row. A
session belongs to one contact at a time; it remembers the contact it was created for (its origin) and the
contact it itself logged in as with a valid signature. Only that session reads all of the contact's
conversations, learns its details and changes its attributes; any other session reads only the parts it
wrote itself and the admins' answers in the conversations it started (design §4).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from contactmerge.domain.identity import (
    Login,
    SignedClaims,
    speaks_for,
    throttle_attribute_update,
    verify_login,
)
from contactmerge.domain.ids import now
from contactmerge.errors import BadRequest, Forbidden, NotFound
from contactmerge.services import contacts, conversations, identity_tokens, marks, merging, teammates
from contactmerge.services.normalizing import check_identifier, normalize_email
from contactmerge.storage import contacts as contacts_repo
from contactmerge.storage import conversations as conversations_repo
from contactmerge.storage import sessions as repo
from contactmerge.storage.db import transaction
from contactmerge.storage.sessions import VisitView
from contactmerge.storage.tables import (
    Contact,
    Conversation,
    ConversationPart,
    MergeMark,
    Session,
    Workspace,
)

ANONYMOUS_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class Seen:
    """A page view to record: the session and its contact were seen at ``stamp``."""

    workspace_id: str
    session_id: str
    contact_id: str
    stamp: int
    page_url: str | None


@dataclass
class PingResult:
    contact: Contact
    session: Session
    throttled: bool = False
    # name or custom attributes sent by a browser that does not speak for its contact (design §4)
    attributes_refused: bool = False
    marks: list[MergeMark] = field(default_factory=list)


class SeenRecorder:
    """Collects page views and writes them in one transaction a second: a returning browser's ping then
    costs reads only. At most the last second of "last seen" times is lost if the process dies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], Seen] = {}

    def record(self, seen: Seen) -> None:
        with self._lock:
            self._pending[(seen.workspace_id, seen.session_id)] = seen

    def flush(self, sessions: sessionmaker[DbSession]) -> int:
        with self._lock:
            batch, self._pending = list(self._pending.values()), {}
        if batch:
            with transaction(sessions) as db:
                repo.record_visits(db, [dataclasses.asdict(s) for s in batch])
        return len(batch)


def new_anonymous_id() -> str:
    return secrets.token_urlsafe(18)


def current_session(
    db: DbSession, workspace: Workspace, anonymous_id: str | None, *, lock: bool = False
) -> Session | None:
    """The live session of an anonymous id, or None for an unknown, ended or malformed one. A write locks
    it only after its contact (``lock``), in the order a merge takes them: contacts, then their rows."""
    if not anonymous_id or not ANONYMOUS_ID.match(anonymous_id):
        return None
    session = repo.get(db, workspace.id, anonymous_id, lock=lock)
    if session is None or session.ended_at is not None:
        return None
    return session


def require_session(db: DbSession, workspace: Workspace, anonymous_id: str | None) -> Session:
    session = current_session(db, workspace, anonymous_id)
    if session is None:
        raise NotFound("unknown or ended messenger session: ping first", field="anonymous_id")
    return session


def ping(
    db: DbSession,
    workspace: Workspace,
    *,
    anonymous_id: str | None,
    user_id: str | None = None,
    email: str | None = None,
    user_hash: str | None = None,
    user_jwt: str | None = None,
    name: str | None = None,
    custom_attributes: Mapping[str, Any] | None = None,
    page_url: str | None = None,
    region: str = "US",
) -> PingResult:
    """A page view: find or create the visitor, or log in a user (Intercom's ``update``) and apply R1/R2."""
    stamp = now()
    session = current_session(db, workspace, anonymous_id)
    if user_id or email or user_hash is not None or user_jwt is not None:
        token = None if user_jwt is None else identity_tokens.read(workspace.identity_secret, user_jwt)
        login = check_login(workspace, user_id=user_id, email=email, user_hash=user_hash, token=token)
        result = _login(db, workspace, session, login, region=region)
        if token is not None and name is None:
            name = token.name
    elif session is not None:
        contact = contacts.get_contact(db, workspace, session.contact_id, forward=True)
        relocked = current_session(db, workspace, session.id, lock=True)
        result = PingResult(contact, relocked) if relocked else _new_visitor(db, workspace)
    else:
        result = _new_visitor(db, workspace)
    session, contact = result.session, result.contact
    session.last_seen_at = contact.last_seen_at = stamp
    if page_url is not None:
        session.last_page_url = page_url[:2048]
    if name is not None or custom_attributes:
        if not may_act_as(session, contact):
            result.attributes_refused = True
        else:
            _update_attributes(db, workspace, result, name, custom_attributes, stamp, region=region)
    db.flush()
    return result


def check_login(
    workspace: Workspace,
    *,
    user_id: str | None,
    email: str | None,
    user_hash: str | None,
    token: SignedClaims | None,
) -> Login:
    """What a login ping proves (design §4), or 403 naming the signature that failed; nothing written."""
    external_id = check_identifier(user_id, field="user_id") if user_id else None
    normalized = normalize_email(email)[1] if email else None
    login = verify_login(
        workspace.identity_verification,
        workspace.identity_secret,
        external_id=external_id,
        email=normalized,
        given_hash=user_hash,
        token=token,
    )
    if not login.allowed:
        field = "intercom_user_jwt" if token is not None else "user_hash"
        raise Forbidden(f"identity verification failed: {login.reason}", field=field)
    if login.external_id is None and login.email is None:
        raise BadRequest("a login names its user with user_id or email", field="user_id")
    return login


def may_act_as(session: Session, contact: Contact) -> bool:
    return speaks_for(session.logged_in_contact_id, session.origin_contact_id, contact.id, contact.role)


def _update_attributes(
    db: DbSession,
    workspace: Workspace,
    result: PingResult,
    name: str | None,
    custom_attributes: Mapping[str, Any] | None,
    stamp: int,
    *,
    region: str,
) -> None:
    session = result.session
    verdict = throttle_attribute_update(session.attribute_window_start, session.attribute_updates, stamp)
    session.attribute_window_start, session.attribute_updates = verdict.window_start, verdict.count
    if not verdict.allowed:
        result.throttled = True
        return
    changes: dict[str, Any] = {"custom_attributes": dict(custom_attributes or {})}
    if name is not None:
        changes["name"] = name
    contacts.apply_messenger_attributes(db, workspace, result.contact, changes, region=region)


def visit(
    db: DbSession, app_id: str, anonymous_id: str | None, page_url: str | None
) -> tuple[VisitView, Seen] | None:
    """The common ping, a returning browser viewing a page: one read. The visit itself is recorded by a
    SeenRecorder, which writes many at once. None when ``ping`` must do more (a new browser, an unknown
    workspace, a contact merged since)."""
    if not anonymous_id or not ANONYMOUS_ID.match(anonymous_id):
        return None
    # A workspace's id is its app_id; a session found under it proves the workspace exists.
    view = repo.live_with_contact(db, app_id, anonymous_id)
    if view is None:
        return None
    return view, Seen(app_id, view.session_id, view.contact_id, now(), page_url)


def _new_visitor(db: DbSession, workspace: Workspace) -> PingResult:
    visitor = contacts.create_visitor(db, workspace)
    return PingResult(visitor, _open_session(db, workspace, visitor, logged_in=False))


def _open_session(db: DbSession, workspace: Workspace, contact: Contact, *, logged_in: bool) -> Session:
    stamp = now()
    return repo.add(
        db,
        Session(
            workspace_id=workspace.id,
            id=new_anonymous_id(),
            contact_id=contact.id,
            origin_contact_id=contact.id,
            logged_in_contact_id=contact.id if logged_in else None,
            created_at=stamp,
            last_seen_at=stamp,
        ),
    )


def _login(
    db: DbSession, workspace: Workspace, session: Session | None, login: Login, *, region: str
) -> PingResult:
    current: Contact | None = None
    if session is not None:  # the browser's contact first, then its session: a merge's order
        current = contacts.get_contact(db, workspace, session.contact_id, forward=True)
        session = current_session(db, workspace, session.id, lock=True)
    user = contacts.find_or_create_user(db, workspace, login, region=region)
    found: list[MergeMark] = []
    # A lead or visitor that logged in without proof joins the user as data, never as a verified sender.
    evidence: dict[str, Any] = {"session": session.id} if session else {}
    if not login.verified:
        evidence["verified"] = False
    if session is None or current is None:
        session = session or _open_session(db, workspace, user, logged_in=False)
    elif current.id == user.id:
        pass
    elif current.role == "user":
        # Another user on this browser: a new session. Two users are never merged by a cookie.
        session.ended_at = now()
        session = _open_session(db, workspace, user, logged_in=False)
    elif current.role == "visitor":
        merging.merge_contacts(
            db,
            workspace,
            current.id,
            user.id,
            reason="session_cookie",
            evidence=evidence,
            requested_by="messenger",
        )
    else:  # a lead: R1, applied by the worker
        found.append(
            marks.mark(db, workspace, current.id, user.id, reason="session_cookie", evidence=evidence)
        )
        session.contact_id = user.id
    if login.verified:
        session.logged_in_contact_id = user.id
    if marks.email_match_mode(workspace) != "off":
        marks.release_waiting(db, workspace, user.id)
        found.extend(_match_leads_to_user(db, workspace, user))
    return PingResult(user, session, marks=found)


def _match_leads_to_user(db: DbSession, workspace: Workspace, user: Contact) -> list[MergeMark]:
    """R2 at login: leads whose email is this user's verified one, when it names no other user first."""
    if not user.email_normalized or not user.email_verified:
        return []
    named = contacts.user_named_by_email(db, workspace, user.email_normalized)
    if named is None or named[0].id != user.id:
        return []
    return [
        marks.mark(
            db,
            workspace,
            lead.id,
            user.id,
            reason="email_match",
            evidence={"email": user.email_normalized, "users": named[1]},
        )
        for lead in contacts_repo.leads_with_email(db, workspace.id, user.email_normalized)
    ]


def collect_email(db: DbSession, workspace: Workspace, anonymous_id: str | None, email: str) -> PingResult:
    """The widget's "leave your email": a claimed email on a visitor or lead, and R2 when it names a user."""
    session = require_session(db, workspace, anonymous_id)
    contact = contacts.get_contact(db, workspace, session.contact_id, forward=True)
    if not may_act_as(session, contact):
        raise Forbidden("this browser cannot change this contact's email", field="email")
    if contact.role == "user":
        raise BadRequest(
            "a logged-in user's email is set by the site, not typed in the messenger", field="email"
        )
    contacts.set_claimed_email(db, workspace, contact, email)
    result = PingResult(contact, session)
    mode = marks.email_match_mode(workspace)
    if mode == "off" or contact.role != "lead" or not contact.email_normalized:
        return result
    named = contacts.user_named_by_email(db, workspace, contact.email_normalized)
    if named is not None:
        result.marks.append(
            marks.mark(
                db,
                workspace,
                contact.id,
                named[0].id,
                reason="email_match",
                evidence={"email": contact.email_normalized, "users": named[1], "provenance": "claimed"},
                ready=mode == "immediate",
            )
        )
    return result


def send_message(
    db: DbSession, workspace: Workspace, anonymous_id: str | None, body: str, conversation_id: str | None
) -> tuple[Conversation, Contact, Session]:
    """A message from the browser: a visitor's first one makes it a lead (Intercom's rule)."""
    session = require_session(db, workspace, anonymous_id)
    contact = contacts.get_contact(db, workspace, session.contact_id, forward=True)
    if contact.role == "visitor":
        contact.role = "lead"
    if conversation_id is None:
        conversation, part = conversations.start_conversation(
            db, workspace, contact, body, session_id=session.id
        )
    else:
        conversation = readable_conversation(db, workspace, session, conversation_id)
        part = conversations.reply_as_contact(db, conversation, contact, body, session_id=session.id)
    # A browser that reached a user without logging in as it writes as an unverified sender (design §4).
    part.unverified_sender = contact.role == "user" and session.logged_in_contact_id != contact.id
    db.flush()
    return conversation, contact, session


def reads_all(session: Session) -> bool:
    """Design §4: only a browser that logged in as its contact with a valid signature reads everything."""
    return session.logged_in_contact_id is not None and session.logged_in_contact_id == session.contact_id


def readable_conversations(db: DbSession, workspace: Workspace, session: Session) -> list[Conversation]:
    """All of the contact's conversations for a session that logged in as it; otherwise only those this
    browser wrote in."""
    if reads_all(session):
        return conversations_repo.of_contact(db, workspace.id, session.contact_id)
    return conversations_repo.of_contact(db, workspace.id, session.contact_id, written_by=session.id)


def readable_parts(
    db: DbSession, workspace: Workspace, session: Session, readable: list[Conversation]
) -> dict[str, list[ConversationPart]]:
    """The parts a browser may see: all, or only its own and the admins' answers (design §4); only the
    messages among them, never notes nor the teammates' bookkeeping (assignments, snoozes, reopenings)."""
    ids = [c.id for c in readable]
    seen_by = None if reads_all(session) else session.id
    found = conversations_repo.parts_of(db, workspace.id, ids, seen_by=seen_by)
    return {cid: [p for p in parts if _message(p)] for cid, parts in found.items()}


def _message(part: ConversationPart) -> bool:
    """A part the contact sees: a comment, or the message a teammate closed the conversation with."""
    return part.part_type == "comment" or (part.part_type == "close" and bool(part.body))


@dataclass
class Threads:
    """Conversations as a browser may read them, with the names of the teammates who answered."""

    conversations: list[Conversation]
    parts: dict[str, list[ConversationPart]]
    names: dict[str, str]  # teammates' names by admin id; never their emails


def threads_of(
    db: DbSession, workspace: Workspace, session: Session, readable: list[Conversation]
) -> Threads:
    parts = readable_parts(db, workspace, session, readable)
    admins = [p.author_id for ps in parts.values() for p in ps if p.author_type == "admin" and p.author_id]
    return Threads(readable, parts, teammates.names(db, workspace, admins))


def read_threads(db: DbSession, workspace: Workspace, anonymous_id: str | None) -> Threads:
    """Everything this browser may read (design §4): the messenger's history and its live feed."""
    session = require_session(db, workspace, anonymous_id)
    return threads_of(db, workspace, session, readable_conversations(db, workspace, session))


def readable_conversation(
    db: DbSession, workspace: Workspace, session: Session, conversation_id: str
) -> Conversation:
    for conversation in readable_conversations(db, workspace, session):
        if conversation.id == conversation_id:
            return conversation
    raise NotFound(
        f"Conversation Not Found: no conversation '{conversation_id}' for this browser",
        field="conversation_id",
    )


def shutdown(db: DbSession, workspace: Workspace, anonymous_id: str | None) -> None:
    """Log out: the session ends; the next ping starts a fresh anonymous one."""
    session = current_session(db, workspace, anonymous_id, lock=True)
    if session is not None:
        session.ended_at = now()
        db.flush()
