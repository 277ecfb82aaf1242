"""Intercom's Visitors API: find by ``user_id`` (the anonymous id), update, and convert to a user or lead."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from contactmerge.api.deps import ApiContext, api_context
from contactmerge.api.routes.contacts import present_one
from contactmerge.api.schemas import Body
from contactmerge.errors import Conflict
from contactmerge.services import visitors
from contactmerge.storage import contacts as contacts_repo
from contactmerge.storage.tables import Contact

router = APIRouter(tags=["visitors"])


class VisitorUpdate(Body):
    id: str | None = Field(default=None, description="The visitor's id.")
    user_id: str | None = Field(default=None, description="The visitor's anonymous id.")
    name: str | None = Field(default=None, max_length=255)
    custom_attributes: dict[str, Any] | None = None


class VisitorName(Body):
    id: str | None = None
    user_id: str | None = None
    email: str | None = Field(default=None, max_length=320)


class ConvertUser(Body):
    id: str | None = Field(default=None, description="An existing contact to merge the visitor into.")
    user_id: str | None = Field(default=None, max_length=255, description="The user's external_id.")
    email: str | None = Field(default=None, max_length=320)


class VisitorConvert(Body):
    type: Literal["user", "lead"]
    user: ConvertUser | None = None
    visitor: VisitorName


def present_visitor(ctx: ApiContext, row: Contact) -> dict[str, Any]:
    """A visitor in Intercom's shape; ``user_id`` is the anonymous id it was first seen with."""
    tags = contacts_repo.tags_of(ctx.db, ctx.workspace.id, [row.id])[row.id]
    return {
        "type": "visitor",
        "id": row.id,
        "user_id": visitors.anonymous_id(ctx.db, ctx.workspace, row),
        "anonymous": True,
        "email": row.email,
        "phone": row.phone,
        "name": row.name,
        "pseudonym": None,
        "avatar": {"type": "avatar", "image_url": row.avatar},
        "app_id": ctx.workspace.app_id,
        "companies": {"type": "company.list", "companies": []},
        "location_data": {
            "type": "location_data",
            "city_name": row.location_city,
            "region_name": row.location_region,
            "country_name": row.location_country,
            "country_code": None,
            "continent_code": None,
            "postal_code": None,
            "timezone": None,
        },
        "last_request_at": row.last_seen_at,
        # Intercom's API definition (and so its generated clients) spells it this way.
        "las_request_at": row.last_seen_at,
        "created_at": row.created_at,
        "remote_created_at": row.signed_up_at,
        "signed_up_at": row.signed_up_at,
        "updated_at": row.updated_at,
        "social_profiles": {"type": "social_profile.list", "social_profiles": []},
        "owner_id": None if row.owner_id is None else str(row.owner_id),
        "unsubscribed_from_emails": row.unsubscribed_from_emails,
        "marked_email_as_spam": False,
        "has_hard_bounced": False,
        "tags": {"type": "tag.list", "tags": [{"type": "tag", "id": t.id, "name": t.name} for t in tags]},
        "segments": {"type": "segment.list", "segments": []},
        "custom_attributes": dict(row.custom_attributes),
        "referrer": None,
        "utm_campaign": None,
        "utm_content": None,
        "utm_medium": None,
        "utm_source": None,
        "utm_term": None,
        "do_not_track": None,
    }


@router.get("/visitors")
def find_visitor(
    user_id: str = Query(description="The visitor's anonymous id."), ctx: ApiContext = Depends(api_context)
) -> dict[str, Any]:
    visitor = visitors.find_visitor(ctx.db, ctx.workspace, visitors.VisitorRef(user_id=user_id))
    return present_visitor(ctx, visitor)


@router.put("/visitors")
def update_visitor(body: VisitorUpdate, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    visitor = visitors.update_visitor(
        ctx.db,
        ctx.workspace,
        visitors.VisitorRef(id=body.id, user_id=body.user_id),
        body.model_dump(include={"name", "custom_attributes"}, exclude_unset=True),
        region=ctx.phone_region,
    )
    result = present_visitor(ctx, visitor)
    ctx.commit()
    return result


@router.post("/visitors/convert")
def convert_visitor(body: VisitorConvert, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    user = body.user or ConvertUser()
    converted = visitors.convert_visitor(
        ctx.db,
        ctx.workspace,
        visitors.VisitorRef(id=body.visitor.id, user_id=body.visitor.user_id, email=body.visitor.email),
        body.type,
        visitors.UserRef(id=user.id, user_id=user.user_id, email=user.email),
        region=ctx.phone_region,
        actor=ctx.actor,
    )
    result = present_one(ctx, converted.contact)
    ctx.commit()
    if converted.held and converted.merge is not None:
        raise Conflict(
            f"merge {converted.merge.id} is held for review: {converted.merge.plan.get('refusal', '')}",
            field="user",
            code="merge_held",
        )
    return result
