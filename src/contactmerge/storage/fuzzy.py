"""Queries of fuzzy duplicate suggestions: the fields matching reads, streamed, for live contacts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.tables import Contact


def profiles(db: DbSession, workspace_id: str) -> Iterator[Any]:
    """(id, name, email_normalized, phone_e164, location_city, custom_attributes) of live contacts."""
    yield from db.execute(
        select(
            Contact.id,
            Contact.name,
            Contact.email_normalized,
            Contact.phone_e164,
            Contact.location_city,
            Contact.custom_attributes,
        )
        .where(
            Contact.workspace_id == workspace_id,
            Contact.merged_into_id.is_(None),
            Contact.role.in_(("user", "lead")),
        )
        .order_by(Contact.id)
        .execution_options(yield_per=5000)
    )
