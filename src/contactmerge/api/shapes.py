"""Our rows in Intercom's JSON shapes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from contactmerge.storage.tables import (
    Admin,
    Contact,
    Conversation,
    ConversationPart,
    Event,
    EventSummary,
    Note,
    Tag,
    Workspace,
)

EMBEDDED_LIMIT = 10


def contact(row: Contact, tags: list[Tag], notes: list[Note]) -> dict[str, Any]:
    base = f"/contacts/{row.id}"
    return {
        "type": "contact",
        "id": row.id,
        "workspace_id": row.workspace_id,
        "external_id": row.external_id,
        "role": row.role,
        "email": row.email,
        "email_domain": row.email_domain,
        "phone": row.phone,
        "formatted_phone": row.phone_e164,
        "name": row.name,
        "avatar": row.avatar,
        "owner_id": row.owner_id,
        "social_profiles": {"type": "list", "data": []},
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": row.unsubscribed_from_emails,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "signed_up_at": row.signed_up_at,
        "last_seen_at": row.last_seen_at,
        "last_replied_at": row.last_replied_at,
        "last_contacted_at": row.last_contacted_at,
        "last_email_opened_at": None,
        "last_email_clicked_at": None,
        "language_override": row.language_override,
        "browser": row.browser,
        "browser_version": row.browser_version,
        "browser_language": row.browser_language,
        "os": row.os,
        "location": {
            "type": "location",
            "country": row.location_country,
            "region": row.location_region,
            "city": row.location_city,
        },
        "custom_attributes": dict(row.custom_attributes),
        "archived": row.archived,
        "tags": _refs("tag", "/tags", tags, f"{base}/tags"),
        "notes": _refs("note", "/notes", notes, f"{base}/notes"),
        "companies": {
            "type": "list",
            "data": [],
            "url": f"{base}/companies",
            "total_count": 0,
            "has_more": False,
        },
    }


def _refs(kind: str, prefix: str, rows: list[Tag] | list[Note], url: str) -> dict[str, Any]:
    shown = rows[:EMBEDDED_LIMIT]
    return {
        "type": "list",
        "data": [{"type": kind, "id": r.id, "url": f"{prefix}/{r.id}"} for r in shown],
        "url": url,
        "total_count": len(rows),
        "has_more": len(rows) > len(shown),
    }


def contact_reference(row: Contact, **flags: bool) -> dict[str, Any]:
    return {"type": "contact", "id": row.id, "external_id": row.external_id, **flags}


def tag(row: Tag) -> dict[str, Any]:
    return {"type": "tag", "id": row.id, "name": row.name}


def note(row: Note) -> dict[str, Any]:
    return {
        "type": "note",
        "id": row.id,
        "created_at": row.created_at,
        "contact": {"type": "contact", "id": row.contact_id},
        "author": admin(row.author_id) if row.author_id else None,
        "body": row.body,
    }


def admin(admin_id: str) -> dict[str, Any]:
    """An admin as Intercom's clients parse it (every field they require is present).

    This service keeps no admin directory: an admin is known only by the id the API was given, so name
    and email are empty rather than invented.
    """
    return {
        "type": "admin",
        "id": admin_id,
        "name": "",
        "email": "",
        "away_mode_enabled": False,
        "away_mode_reassign": False,
        "has_inbox_seat": False,
        "team_ids": [],
    }


def event(row: Event, contact: Contact) -> dict[str, Any]:
    return {
        "type": "event",
        "id": row.id,
        "event_name": row.event_name,
        "created_at": row.created_at,
        **_event_owner(contact),
        "metadata": row.event_metadata,
    }


def event_summary(contact: Contact, summaries: list[EventSummary]) -> dict[str, Any]:
    return {
        "type": "event.summary",
        **_event_owner(contact),
        "events": [
            {
                "name": s.event_name,
                "first": _iso(s.first),
                "last": _iso(s.last),
                "count": s.count,
                "description": None,
            }
            for s in summaries
        ],
    }


def _event_owner(contact: Contact) -> dict[str, Any]:
    return {"email": contact.email, "intercom_user_id": contact.id, "user_id": contact.external_id}


def _iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def user_message(conversation: Conversation, part: ConversationPart) -> dict[str, Any]:
    """What ``POST /conversations`` answers: the contact's first message, naming its conversation."""
    return {
        "type": "user_message",
        "id": part.id,
        "created_at": part.created_at,
        "subject": "",
        "body": part.body,
        "message_type": "inapp",
        "conversation_id": conversation.id,
    }


def conversation(
    row: Conversation,
    parts: list[ConversationPart],
    people: Mapping[str, Contact],
    admins: Mapping[str, Admin] | None = None,
    *,
    state: str | None = None,
    snoozed_until: int | None = None,
) -> dict[str, Any]:
    """A conversation with its parts; ``people`` and ``admins`` hold the contacts and teammates its parts
    name, by id; ``state`` and ``snoozed_until`` as it reads now (a snooze that ended reads as open)."""
    admins = admins or {}
    state = state or row.state
    owner = people.get(row.contact_id)
    source, rest = (parts[0], parts[1:]) if parts else (None, [])
    teammates = list(dict.fromkeys(p.author_id for p in parts if p.author_type == "admin" and p.author_id))
    return {
        "type": "conversation",
        "id": row.id,
        "title": row.title,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "waiting_since": row.waiting_since,
        "snoozed_until": snoozed_until,
        "open": state == "open",
        "state": state,
        "read": row.read,
        "priority": "not_priority",
        "admin_assignee_id": row.admin_assignee_id,
        "team_assignee_id": None,
        "tags": {"type": "tag.list", "tags": []},
        "source": _source(source, people, admins) if source else None,
        "contacts": {
            "type": "contact.list",
            "contacts": [
                {
                    "type": "contact",
                    "id": row.contact_id,
                    "external_id": owner.external_id if owner else None,
                }
            ],
        },
        "teammates": {"type": "admin.list", "admins": [{"type": "admin", "id": a} for a in teammates]},
        "custom_attributes": dict(row.custom_attributes or {}),
        "statistics": statistics(row, len(rest)),
        "conversation_parts": {
            "type": "conversation_part.list",
            "conversation_parts": [_part(p, people, admins) for p in rest],
            "total_count": len(rest),
        },
    }


STATISTICS_KEYS = (
    "time_to_assignment",
    "time_to_admin_reply",
    "time_to_first_close",
    "time_to_last_close",
    "median_time_to_reply",
    "first_contact_reply_at",
    "first_assignment_at",
    "first_admin_reply_at",
    "first_close_at",
    "last_assignment_at",
    "last_assignment_admin_reply_at",
    "last_contact_reply_at",
    "last_admin_reply_at",
    "last_close_at",
    "last_closed_by_id",
    "count_reopens",
    "count_assignments",
    "count_conversation_parts",
)


def statistics(row: Conversation, part_count: int) -> dict[str, Any]:
    """Intercom's conversation statistics: the ones kept, the durations that follow from them, null for
    the rest (median reply time, the last assignment's reply)."""
    kept = dict(row.statistics or {})
    shown: dict[str, Any] = {"type": "conversation_statistics", **dict.fromkeys(STATISTICS_KEYS)}
    shown.update({key: value for key, value in kept.items() if key in shown})
    shown["count_reopens"] = kept.get("count_reopens", 0)
    shown["count_assignments"] = kept.get("count_assignments", 0)
    shown["count_conversation_parts"] = kept.get("count_conversation_parts", part_count)

    def since(start: str, end: str) -> int | None:
        first, last = kept.get(start), kept.get(end)
        return last - first if isinstance(first, int) and isinstance(last, int) else None

    shown["time_to_assignment"] = since("first_contact_reply_at", "first_assignment_at")
    shown["time_to_admin_reply"] = since("first_contact_reply_at", "first_admin_reply_at")
    shown["time_to_first_close"] = since("first_contact_reply_at", "first_close_at")
    shown["time_to_last_close"] = since("first_contact_reply_at", "last_close_at")
    return shown


def teammate(row: Admin) -> dict[str, Any]:
    """A teammate in Intercom's admin shape (``GET /admins``). Teams, away mode and avatars do not exist
    here, so they read as Intercom shows an admin without them."""
    return {
        "type": "admin",
        "id": row.id,
        "name": row.name,
        "email": row.email,
        "email_verified": True,
        "job_title": None,
        "away_mode_enabled": False,
        "away_mode_reassign": False,
        "has_inbox_seat": True,
        "team_ids": [],
    }


def token_admin(token_id: str, label: str) -> dict[str, Any]:
    """What ``GET /me`` answers for an API token that no teammate created: the token, as an admin."""
    return {
        "type": "admin",
        "id": f"token_{token_id}",
        "name": label,
        "email": None,
        "email_verified": False,
        "job_title": None,
        "away_mode_enabled": False,
        "away_mode_reassign": False,
        "has_inbox_seat": False,
        "team_ids": [],
    }


def app(workspace: Workspace) -> dict[str, Any]:
    """The workspace as Intercom's ``app`` object (``GET /me``): its public app_id is the ``id_code``."""
    verified = workspace.identity_verification == "enforced"
    return {
        "type": "app",
        "id_code": workspace.app_id,
        "name": workspace.name,
        "created_at": workspace.created_at,
        "secure": verified,
        "identity_verification": verified,
        "timezone": None,
        "region": None,
    }


def _author(
    part: ConversationPart, people: Mapping[str, Contact], admins: Mapping[str, Admin]
) -> dict[str, Any]:
    person: Contact | Admin | None
    if part.author_type == "admin":
        person = admins.get(part.author_id or "")  # a removed teammate still has their name
    else:
        person = people.get(part.author_id or "")
    return {
        "type": part.author_type,
        "id": part.author_id,
        "name": person.name if person else None,
        "email": person.email if person else None,
    }


def _source(
    part: ConversationPart, people: Mapping[str, Contact], admins: Mapping[str, Admin]
) -> dict[str, Any]:
    return {
        "type": "conversation",
        "id": part.id,
        "delivered_as": "customer_initiated",
        "subject": "",
        "body": part.body,
        "author": _author(part, people, admins),
        "attachments": [],
        "url": None,
        "redacted": False,
        "unverified_sender": part.unverified_sender,
    }


MESSAGES = frozenset({"comment", "note"})


def _part(
    part: ConversationPart, people: Mapping[str, Contact], admins: Mapping[str, Admin]
) -> dict[str, Any]:
    assigned = part.assigned_to_id if part.part_type == "assignment" else None
    return {
        "type": "conversation_part",
        "id": part.id,
        "part_type": part.part_type,
        # a close, open, snooze or assignment without a message has no body, as in Intercom
        "body": part.body if part.body or part.part_type in MESSAGES else None,
        "created_at": part.created_at,
        "updated_at": part.created_at,
        "notified_at": part.created_at,
        "assigned_to": {"type": "admin", "id": assigned} if assigned else None,
        "author": _author(part, people, admins),
        "attachments": [],
        "redacted": False,
        "unverified_sender": part.unverified_sender,
    }
