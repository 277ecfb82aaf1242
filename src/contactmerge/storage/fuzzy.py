"""Blocking of fuzzy duplicate suggestions, set-based: the database groups live contacts by blocking key
(domain.fuzzy.block_keys, written here in SQL) and streams only the blocks of two or more, block by
block. A name part in a city is also cut by the initial of another part of the name, so when the first
block is too large to compare ("john" in a big city), its sub-blocks still are.

A block over the cap comes as one row without members, so Python never holds more than one block of
contacts at a time. On SQLite the name and word keys call the domain's own functions (registered on the
connection); on PostgreSQL they are regular expressions that give the same keys for the names and
places people write. The service checks every member against the exact Python keys all the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.fuzzy import (
    COMPANY_ATTRIBUTES,
    MIN_LOCAL_PART,
    SUB_BLOCK_CAP,
    email_block_key,
    name_key,
    name_part_initials,
    name_parts,
    text_key,
)
from contactmerge.domain.identifiers import JUNK_VALUES
from contactmerge.domain.linking import ROLE_MAILBOXES
from contactmerge.storage.db import without_jit
from contactmerge.storage.tables import JSONType

WHITESPACE = " \t\n\r\f\v"
# The email's local part (before its last "@": rtrim drops every character but "@" from the right),
# without "+tag" or dots, as domain.fuzzy.email_block_key; NULL when too short or a role mailbox.
EMAIL_LOCAL = "CASE WHEN length({key}) >= :min_local AND {key} NOT IN :unblocked THEN {key} END"
PG_LOCAL_PART = "replace(split_part(left(rtrim({email}, replace({email}, '@', '')), -1), '+', 1), '.', '')"

# Per dialect: the SQL of each key, over one contacts row ``c``.
SQLITE = {
    "name_key": "cm_name_key(c.name)",
    "city_key": "CASE WHEN c.location_city IS NOT NULL THEN cm_text_key(c.location_city) END",
    "company_key": "cm_text_key(CASE {company} END)",
    "company_when": "WHEN json_type(c.custom_attributes, '$.{name}') = 'text' "
    "AND trim(json_extract(c.custom_attributes, '$.{name}'), :whitespace) <> '' "
    "THEN json_extract(c.custom_attributes, '$.{name}')",
    "email_local": "cm_email_block_key(c.email_normalized)",
    "parts": """parts (id, city_key, part) AS (
        SELECT b.id, b.city_key, p.value FROM base b, json_each(cm_name_parts(b.name_key)) p
        WHERE b.name_key <> '' AND b.city_key <> ''
    ),
    initials (id, city_key, part) AS (
        SELECT b.id, b.city_key, p.value FROM base b, json_each(cm_name_part_initials(b.name_key)) p
        WHERE b.name_key <> '' AND b.city_key <> ''
    )""",
}
POSTGRESQL = {
    "name_key": "(SELECT coalesce(string_agg(m.t[1], ' ' ORDER BY m.t[1] COLLATE \"C\"), '') "
    "FROM regexp_matches(lower(c.name), '[[:alpha:]]+', 'g') AS m(t))",
    "city_key": "(SELECT string_agg(m.t[1], ' ' ORDER BY m.n) "
    "FROM regexp_matches(lower(c.location_city), '\\w+', 'g') WITH ORDINALITY AS m(t, n))",
    "company_key": "(SELECT string_agg(m.t[1], ' ' ORDER BY m.n) "
    "FROM regexp_matches(lower(CASE {company} END), '\\w+', 'g') WITH ORDINALITY AS m(t, n))",
    "company_when": "WHEN jsonb_typeof(c.custom_attributes -> '{name}') = 'string' "
    "AND btrim(c.custom_attributes ->> '{name}', :whitespace) <> '' "
    "THEN c.custom_attributes ->> '{name}'",
    "email_local": EMAIL_LOCAL.format(
        key=PG_LOCAL_PART.format(email="lower(btrim(c.email_normalized, :whitespace))")
    ),
    "parts": """parts (id, city_key, part) AS (
        SELECT DISTINCT b.id, b.city_key, p.part FROM base b, unnest(string_to_array(b.name_key, ' ')) p(part)
        WHERE b.name_key <> '' AND b.city_key <> '' AND length(p.part) > 1
    ),
    initials (id, city_key, part) AS (
        SELECT DISTINCT b.id, b.city_key, p.part || '|' || left(o.token, 1)
        FROM base b,
             unnest(string_to_array(b.name_key, ' ')) WITH ORDINALITY p(part, i),
             unnest(string_to_array(b.name_key, ' ')) WITH ORDINALITY o(token, j)
        WHERE b.name_key <> '' AND b.city_key <> '' AND length(p.part) > 1 AND p.i <> o.j
    )""",
}


BLOCKS = """
WITH base AS (
    SELECT c.id,
           c.phone_e164 AS phone,
           {email_local} AS email_local,
           {name_key} AS name_key,
           {company_key} AS company_key,
           {city_key} AS city_key
    FROM contacts c
    WHERE c.workspace_id = :workspace_id AND c.merged_into_id IS NULL AND c.role IN ('user', 'lead')
),
{parts},
keys (kind, value, id) AS MATERIALIZED (
    SELECT 'phone', phone, id FROM base
    WHERE phone IS NOT NULL AND lower(trim(phone)) NOT IN :junk
    UNION ALL
    SELECT 'email_local', email_local, id FROM base WHERE email_local IS NOT NULL
    UNION ALL
    SELECT 'name_company', name_key || '|' || company_key, id FROM base
    WHERE name_key <> '' AND company_key <> ''
    UNION ALL
    SELECT 'name_city', name_key || '|' || city_key, id FROM base WHERE name_key <> '' AND city_key <> ''
    UNION ALL
    SELECT 'name_part_city', part || '|' || city_key, id FROM parts
    UNION ALL
    SELECT 'name_part_initial_city', part || '|' || city_key, id FROM initials
),
sized AS (
    SELECT kind, value, count(*) AS size FROM keys GROUP BY kind, value HAVING count(*) > 1
)
SELECT s.kind, s.value, s.size,
       c.id, c.name, c.email_normalized, c.phone_e164, c.location_city, c.custom_attributes
FROM sized s
LEFT JOIN keys k ON s.size <= CASE WHEN s.kind = 'name_part_initial_city' THEN :sub_cap ELSE :cap END
    AND k.kind = s.kind AND k.value = s.value
LEFT JOIN contacts c ON c.workspace_id = :workspace_id AND c.id = k.id
ORDER BY s.kind, s.value, k.id
"""


@dataclass(frozen=True)
class Block:
    """Contacts sharing one blocking key; ``members`` is empty for a block over the cap."""

    kind: str
    value: str
    size: int
    members: list[Any]  # rows: id, name, email_normalized, phone_e164, location_city, custom_attributes


def _sql(dialect: str) -> str:
    parts = POSTGRESQL if dialect == "postgresql" else SQLITE
    company = " ".join(parts["company_when"].format(name=name) for name in COMPANY_ATTRIBUTES)
    return BLOCKS.format(
        email_local=parts["email_local"],
        name_key=parts["name_key"],
        company_key=parts["company_key"].format(company=company),
        city_key=parts["city_key"],
        parts=parts["parts"],
    )


def _register_functions(db: DbSession) -> None:
    raw: Any = db.connection().connection.driver_connection
    raw.create_function("cm_email_block_key", 1, email_block_key, deterministic=True)
    raw.create_function("cm_name_key", 1, name_key, deterministic=True)
    raw.create_function("cm_text_key", 1, text_key, deterministic=True)
    raw.create_function("cm_name_parts", 1, _json_name_parts, deterministic=True)
    raw.create_function("cm_name_part_initials", 1, _json_name_part_initials, deterministic=True)


def _json_name_parts(key: str) -> str:
    return json.dumps(name_parts(key))


def _json_name_part_initials(key: str) -> str:
    return json.dumps(name_part_initials(key))


def blocks(db: DbSession, workspace_id: str, cap: int) -> Iterator[Block]:
    """The blocks of two or more live contacts of a workspace, ordered by key, members by id; a block
    over ``cap`` (a name sub-block over ``SUB_BLOCK_CAP``) without its members."""
    dialect = db.get_bind().dialect.name
    if dialect == "sqlite":
        _register_functions(db)
    else:  # the whole result is read: plan for it, not for the first rows a cursor usually wants
        db.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
        without_jit(db)
    sql = _sql(dialect)
    lists = {"junk": sorted(JUNK_VALUES), "unblocked": sorted(ROLE_MAILBOXES | JUNK_VALUES)}
    lists = {name: values for name, values in lists.items() if f":{name}" in sql}
    statement = (
        text(sql)
        .bindparams(*(bindparam(name, expanding=True) for name in lists))
        .columns(custom_attributes=JSONType)
    )
    result = db.execute(
        statement,
        {
            "workspace_id": workspace_id,
            "cap": cap,
            "sub_cap": min(cap, SUB_BLOCK_CAP),
            "min_local": MIN_LOCAL_PART,
            "whitespace": WHITESPACE,
        }
        | lists,
        execution_options={"yield_per": 2000},
    )
    block: Block | None = None
    for row in result:
        kind, value, size = row[0], row[1], row[2]
        if block is None or (block.kind, block.value) != (kind, value):
            if block is not None:
                yield block
            block = Block(kind, value, size, [])
        if row[3] is not None:
            block.members.append(row[3:])
    if block is not None:
        yield block


SAMPLE = """
SELECT c.id, c.name, c.email_normalized, c.phone_e164, c.location_city, c.custom_attributes
FROM contacts c
WHERE c.workspace_id = :workspace_id AND c.merged_into_id IS NULL AND c.role IN ('user', 'lead')
ORDER BY substr(c.id, 13), c.id
LIMIT :size
"""
COUNT = """
SELECT count(*) FROM contacts c
WHERE c.workspace_id = :workspace_id AND c.merged_into_id IS NULL AND c.role IN ('user', 'lead')
"""


def sample(db: DbSession, workspace_id: str, size: int) -> tuple[int, list[Any]]:
    """How many live contacts a workspace has, and ``size`` of them drawn by the random half of their id
    (the same draw every time; rows as ``Block.members``)."""
    contacts = db.execute(text(COUNT), {"workspace_id": workspace_id}).scalar_one()
    statement = text(SAMPLE).columns(custom_attributes=JSONType)
    rows = db.execute(statement, {"workspace_id": workspace_id, "size": size}).all()
    return int(contacts), list(rows)
