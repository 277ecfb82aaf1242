"""Intercom's cursor pages: ``pages.next.starting_after`` is an opaque cursor to pass back."""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any

from contactmerge.errors import BadRequest
from contactmerge.settings import Settings
from contactmerge.storage.paging import Page


@dataclass(frozen=True)
class Cursor:
    page: int
    after_id: str | None


def per_page(value: int | None, settings: Settings, *, field: str = "per_page") -> int:
    if value is None:
        return settings.default_per_page
    if value < 1 or value > settings.max_per_page:
        raise BadRequest(f"per_page must be between 1 and {settings.max_per_page}", field=field)
    return value


def decode(value: str | None, *, field: str = "starting_after") -> Cursor:
    if not value:
        return Cursor(page=1, after_id=None)
    try:
        page, after_id = json.loads(base64.urlsafe_b64decode(value.encode() + b"==="))
        if isinstance(page, int) and isinstance(after_id, str) and "\x00" not in after_id:
            return Cursor(page=page, after_id=after_id)
    except (ValueError, TypeError, binascii.Error):
        pass
    raise BadRequest("starting_after is not a cursor this server gave out", field=field)


def encode(page: int, after_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([page, after_id]).encode()).decode().rstrip("=")


def pages(cursor: Cursor, size: int, total: int, last_id: str | None, has_more: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "pages",
        "page": cursor.page,
        "per_page": size,
        "total_pages": max(1, math.ceil(total / size)),
    }
    if has_more and last_id is not None:
        body["next"] = {
            "page": cursor.page + 1,
            "per_page": size,
            "starting_after": encode(cursor.page + 1, last_id),
        }
    return body


def listing(data: list[dict[str, Any]], page: Page[Any], cursor: Cursor, size: int) -> dict[str, Any]:
    """Intercom's list envelope around one page of shaped rows."""
    last = page.items[-1].id if page.items else None
    return {
        "type": "list",
        "data": data,
        "total_count": page.total_count,
        "pages": pages(cursor, size, page.total_count, last, page.has_more),
    }
