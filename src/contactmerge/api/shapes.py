"""Our rows in Intercom's JSON shapes."""

from __future__ import annotations

from typing import Any

from contactmerge.storage.tables import Contact, Note, Tag

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
        "author": {"type": "admin", "id": row.author_id} if row.author_id else None,
        "body": row.body,
    }
