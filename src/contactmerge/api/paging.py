"""Intercom's cursor pages: ``pages.next.starting_after`` is an opaque cursor to pass back."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from contactmerge.domain.attributes import INT64_RANGE
from contactmerge.errors import BadRequest
from contactmerge.settings import Settings
from contactmerge.storage.paging import Page

# A cursor is read back only in the exact shape encode() writes, without a JSON parser: a forged one cannot
# nest, overflow a page number or carry an id longer than an id column (32) or characters no id has.
MAX_CURSOR_LENGTH = 128
CURSOR_TEXT = re.compile(r'\[([1-9][0-9]{0,17}), "([0-9A-Za-z_-]{1,32})"\]')


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


def page_number(value: int, *, field: str = "page") -> int:
    """A page of the lists numbered by page (notes, duplicates): from 1, and a 64-bit integer like every
    integer the API takes."""
    if not 1 <= value <= INT64_RANGE[1]:
        raise BadRequest("page must be 1 or more, and fit in 64 bits", field=field)
    return value


def decode(value: str | None, *, field: str = "starting_after") -> Cursor:
    if not value:
        return Cursor(page=1, after_id=None)
    text = ""
    # not ASCII, or not base64: no cursor
    with contextlib.suppress(ValueError, binascii.Error):
        if len(value) <= MAX_CURSOR_LENGTH:
            text = base64.urlsafe_b64decode(value.encode("ascii") + b"===").decode("ascii")
    found = CURSOR_TEXT.fullmatch(text)
    if found is None:
        raise BadRequest("starting_after is not a cursor this server gave out", field=field)
    return Cursor(page=int(found[1]), after_id=found[2])


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
