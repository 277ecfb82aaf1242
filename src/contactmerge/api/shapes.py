"""Our rows in Intercom's JSON shapes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from contactmerge.storage.tables import (
    Contact,
    Conversation,
    ConversationPart,
    Event,
    EventSummary,
    Note,
    Tag,
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
    row: Conversation, parts: list[ConversationPart], people: Mapping[str, Contact]
) -> dict[str, Any]:
    """A conversation with its parts; ``people`` holds the contacts its parts name, by id."""
    owner = people.get(row.contact_id)
    source, rest = (parts[0], parts[1:]) if parts else (None, [])
    admins = list(dict.fromkeys(p.author_id for p in parts if p.author_type == "admin" and p.author_id))
    return {
        "type": "conversation",
        "id": row.id,
        "title": row.title,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "waiting_since": _waiting_since(parts),
        "snoozed_until": None,
        "open": row.state == "open",
        "state": row.state,
        "read": False,
        "priority": "not_priority",
        "admin_assignee_id": None,
        "team_assignee_id": None,
        "tags": {"type": "tag.list", "tags": []},
        "source": _source(source, people) if source else None,
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
        "teammates": {"type": "admin.list", "admins": [{"type": "admin", "id": a} for a in admins]},
        "custom_attributes": {},
        "conversation_parts": {
            "type": "conversation_part.list",
            "conversation_parts": [_part(p, people) for p in rest],
            "total_count": len(rest),
        },
    }


def _waiting_since(parts: list[ConversationPart]) -> int | None:
    """When the contact's unanswered message came in: set while the last message is the contact's."""
    messages = [p for p in parts if p.part_type != "note"]
    if not messages or messages[-1].author_type == "admin":
        return None
    return messages[-1].created_at


def _author(part: ConversationPart, people: Mapping[str, Contact]) -> dict[str, Any]:
    person = people.get(part.author_id or "") if part.author_type != "admin" else None
    return {
        "type": part.author_type,
        "id": part.author_id,
        "name": person.name if person else None,
        "email": person.email if person else None,
    }


def _source(part: ConversationPart, people: Mapping[str, Contact]) -> dict[str, Any]:
    return {
        "type": "conversation",
        "id": part.id,
        "delivered_as": "customer_initiated",
        "subject": "",
        "body": part.body,
        "author": _author(part, people),
        "attachments": [],
        "url": None,
        "redacted": False,
        "unverified_sender": part.unverified_sender,
    }


def _part(part: ConversationPart, people: Mapping[str, Contact]) -> dict[str, Any]:
    return {
        "type": "conversation_part",
        "id": part.id,
        "part_type": part.part_type,
        "body": part.body,
        "created_at": part.created_at,
        "updated_at": part.created_at,
        "notified_at": part.created_at,
        "author": _author(part, people),
        "attachments": [],
        "redacted": False,
        "unverified_sender": part.unverified_sender,
    }
