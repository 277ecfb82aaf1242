"""The workspace's custom attribute schema, and the type check of every custom attribute write."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.attributes import DATA_TYPES, InvalidValue, coerce_value
from contactmerge.domain.ids import now
from contactmerge.errors import BadRequest, Conflict, NotFound
from contactmerge.storage import data_attributes as repo
from contactmerge.storage.tables import DataAttribute, Workspace

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_\- ]{1,190}$")
MAX_ID = 2**31 - 1
RESERVED = frozenset({"id", "email", "name", "phone", "role", "external_id", "user_id", "created_at", "type"})


def list_attributes(db: DbSession, workspace: Workspace) -> list[DataAttribute]:
    return repo.all_attributes(db, workspace.id)


def create_attribute(
    db: DbSession,
    workspace: Workspace,
    *,
    name: str,
    data_type: str,
    description: str = "",
    options: list[str] | None = None,
) -> DataAttribute:
    name = name.strip()
    if not NAME_PATTERN.match(name) or "." in name:
        raise BadRequest("an attribute name is 1-190 letters, digits, spaces, '_' or '-'", field="name")
    if name.lower() in RESERVED:
        raise BadRequest(f"'{name}' is a standard contact field", field="name")
    if data_type not in DATA_TYPES:
        raise BadRequest(f"data_type must be one of {', '.join(DATA_TYPES)}", field="data_type")
    existing = repo.by_name(db, workspace.id, name)
    if existing is not None:
        raise Conflict(f"a data attribute named '{name}' already exists (id {existing.id})", field="name")
    stamp = now()
    return repo.add(
        db,
        DataAttribute(
            workspace_id=workspace.id,
            id=repo.next_id(db, workspace.id),
            model="contact",
            name=name,
            label=name,
            data_type=data_type,
            description=description,
            options=options,
            archived=False,
            created_at=stamp,
            updated_at=stamp,
        ),
    )


def update_attribute(
    db: DbSession, workspace: Workspace, attribute_id: int, changes: Mapping[str, Any]
) -> DataAttribute:
    # ids are 32-bit integers in the database; a larger one names nothing (and PostgreSQL would refuse it)
    attribute = repo.get(db, workspace.id, attribute_id) if 0 < attribute_id <= MAX_ID else None
    if attribute is None:
        raise NotFound(f"data attribute {attribute_id} not found", field="id")
    if "archived" in changes and changes["archived"] is not None:
        attribute.archived = bool(changes["archived"])
    if "description" in changes and changes["description"] is not None:
        attribute.description = changes["description"]
    if "options" in changes:
        attribute.options = changes["options"]
    attribute.updated_at = now()
    db.flush()
    return attribute


def check_custom_attributes(
    db: DbSession, workspace: Workspace, values: Mapping[str, Any], *, field: str = "custom_attributes"
) -> dict[str, Any]:
    """The values as stored, each checked against its data attribute; 400 naming the first bad one."""
    if not values:
        return {}
    schema = {a.name: a for a in repo.all_attributes(db, workspace.id)}
    checked: dict[str, Any] = {}
    for name, value in values.items():
        attribute = schema.get(name)
        if attribute is None:
            raise BadRequest(
                f"Custom attribute '{name}' does not exist: create it with POST /data_attributes first",
                field=f"{field}.{name}",
            )
        if attribute.archived:
            raise BadRequest(f"Custom attribute '{name}' is archived", field=f"{field}.{name}")
        coerced = coerce_value(attribute.data_type, value)
        if isinstance(coerced, InvalidValue):
            raise BadRequest(
                f"Custom attribute '{name}' is a {attribute.data_type} and {coerced.reason}, got {value!r}",
                field=f"{field}.{name}",
            )
        unstorable = _unstorable(coerced)
        if unstorable:
            raise BadRequest(
                f"Custom attribute '{name}' is a {attribute.data_type} and {unstorable}",
                field=f"{field}.{name}",
            )
        checked[name] = coerced
    return checked


def _unstorable(value: Any) -> str | None:
    """Why a value that fits its type still cannot be stored alike on SQLite and PostgreSQL, if it cannot."""
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    return None


def field_types(db: DbSession, workspace: Workspace) -> dict[str, str]:
    """Type of each (unarchived) custom attribute, for search."""
    return {a.name: a.data_type for a in repo.all_attributes(db, workspace.id, include_archived=False)}
