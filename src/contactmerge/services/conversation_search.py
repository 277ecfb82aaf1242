"""Conversation search: Intercom's query grammar (domain.search) over the conversations' fields."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import now
from contactmerge.domain.search import InvalidQuery, parse_query
from contactmerge.errors import BadRequest
from contactmerge.storage import conversations as repo
from contactmerge.storage.conversation_search import compile_query, field_type
from contactmerge.storage.paging import Page
from contactmerge.storage.tables import Conversation, Workspace


def search_conversations(
    db: DbSession, workspace: Workspace, raw_query: Any, *, per_page: int, after_id: str | None
) -> Page[Conversation]:
    """Conversations matching an Intercom search query (filters, AND/OR groups); 400 naming the bad part."""
    try:
        query = parse_query(_booleans(raw_query), field_type)
    except InvalidQuery as error:
        raise BadRequest(str(error), field=error.path) from error
    condition = compile_query(query, workspace.id, now())
    return repo.page(db, workspace.id, per_page=per_page, after_id=after_id, condition=condition)


# Intercom's generated clients type a filter's value as a string or an integer (python-intercom sends True
# as 1), so a boolean field also takes those spellings of true and false.
BOOLEAN_SPELLINGS: dict[Any, bool] = {"true": True, "false": False, 1: True, 0: False}


def _booleans(raw: Any) -> Any:
    """The raw query with boolean fields' ``"true"``/``"false"``/``1``/``0`` read as booleans."""
    if not isinstance(raw, dict):
        return raw
    if raw.get("operator") in ("AND", "OR") and isinstance(raw.get("value"), list):
        return {**raw, "value": [_booleans(item) for item in raw["value"]]}
    value = raw.get("value")
    if field_type(str(raw.get("field"))) == "boolean" and not isinstance(value, bool | float):
        spelled = value.lower() if isinstance(value, str) else value
        if isinstance(spelled, str | int) and spelled in BOOLEAN_SPELLINGS:
            return {**raw, "value": BOOLEAN_SPELLINGS[spelled]}
    return raw
