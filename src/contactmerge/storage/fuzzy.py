"""Blocking of fuzzy duplicate suggestions, set-based: the database groups live contacts by blocking key
(domain.fuzzy.block_keys, written here in SQL) and streams only the blocks of two or more, block by
block. A name part's block in a city too large to compare ("john" in a big city) is also cut by the
initial of another part of each member's name (domain.fuzzy.blocks_of), so its sub-blocks still are;
the sub-blocks of a smaller one, whose pairs are all compared anyway, are never built.

A block over the cap comes as one row without members, so Python never holds more than one block of
contacts at a time. On SQLite the name and word keys call the domain's own functions (registered on the
connection); on PostgreSQL they are regular expressions that give the same keys for the names and
places people write. The service checks every member against the exact Python keys all the same.
"""

from __future__ import annotations

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
    name_parts,
    part_initials,
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
    "has_company": "json_type(c.custom_attributes, '$.{name}') = 'text'",
    "parts": """parts (id, name_key, city_key, part) AS (
        SELECT b.id, b.name_key, b.city_key, p.value FROM base b, json_each(cm_name_parts(b.name_key)) p
        WHERE b.name_key <> '' AND b.city_key <> ''
    )""",
    "initials": "SELECT c.id, c.part || '|' || i.value || '|' || c.city_key "
    "FROM crowded c, json_each(cm_part_initials(c.name_key, c.part)) i",
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
    "has_company": "jsonb_typeof(c.custom_attributes -> '{name}') = 'string'",
    "email_local": EMAIL_LOCAL.format(
        key=PG_LOCAL_PART.format(email="lower(btrim(c.email_normalized, :whitespace))")
    ),
    "parts": """parts (id, name_key, city_key, part) AS (
        SELECT DISTINCT b.id, b.name_key, b.city_key, p.part
        FROM base b, unnest(string_to_array(b.name_key, ' ')) p(part)
        WHERE b.name_key <> '' AND b.city_key <> '' AND length(p.part) > 1
    )""",
    # the other tokens' initials: every token but the part itself, unless the name has it twice
    "initials": "SELECT DISTINCT c.id, c.part || '|' || left(o.token, 1) || '|' || c.city_key "
    "FROM crowded c, unnest(string_to_array(c.name_key, ' ')) o(token) "
    "WHERE o.token <> c.part OR cardinality(array_positions(string_to_array(c.name_key, ' '), c.part)) > 1",
}


BLOCKS = """
WITH base AS MATERIALIZED (
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
),
sized AS MATERIALIZED (
    SELECT kind, value, count(*) AS size FROM keys GROUP BY kind, value HAVING count(*) > 1
),
crowded (id, name_key, city_key, part) AS (
    SELECT p.id, p.name_key, p.city_key, p.part FROM sized s
    JOIN parts p ON p.part || '|' || p.city_key = s.value
    WHERE s.kind = 'name_part_city' AND s.size > :cap
),
sub_keys (id, value) AS MATERIALIZED ({initials}),
sub_sized AS (
    SELECT value, count(*) AS size FROM sub_keys GROUP BY value HAVING count(*) > 1
),
members (kind, value, size, id) AS (
    SELECT s.kind, s.value, s.size, k.id FROM sized s
    LEFT JOIN keys k ON s.size <= :cap AND k.kind = s.kind AND k.value = s.value
    UNION ALL
    SELECT 'name_part_initial_city', s.value, s.size, k.id FROM sub_sized s
    LEFT JOIN sub_keys k ON s.size <= :sub_cap AND k.value = s.value
)
SELECT m.kind, m.value, m.size,
       c.id, c.name, c.email_normalized, c.phone_e164, c.location_city,
       CASE WHEN {has_company} THEN c.custom_attributes END AS custom_attributes
FROM members m
LEFT JOIN contacts c ON c.workspace_id = :workspace_id AND c.id = m.id
ORDER BY m.kind, m.value, m.id
"""


@dataclass(frozen=True)
class Block:
    """Contacts sharing one blocking key; ``members`` is empty for a block over the cap."""

    kind: str
    value: str
    size: int
    members: list[Any]  # rows: id, name, email_normalized, phone_e164, location_city, custom_attributes
    # (None unless a company attribute is text: only ``domain.fuzzy.company_of`` reads them)


def _sql(dialect: str) -> str:
    parts = POSTGRESQL if dialect == "postgresql" else SQLITE
    company = " ".join(parts["company_when"].format(name=name) for name in COMPANY_ATTRIBUTES)
    # only a contact with a company has its attributes read (and parsed): the rest is never used here
    has_company = " OR ".join(parts["has_company"].format(name=name) for name in COMPANY_ATTRIBUTES)
    return BLOCKS.format(
        has_company=has_company,
        email_local=parts["email_local"],
        name_key=parts["name_key"],
        company_key=parts["company_key"].format(company=company),
        city_key=parts["city_key"],
        parts=parts["parts"],
        initials=parts["initials"],
    )


def _register_functions(db: DbSession) -> None:
    raw: Any = db.connection().connection.driver_connection
    raw.create_function("cm_email_block_key", 1, email_block_key, deterministic=True)
    raw.create_function("cm_name_key", 1, name_key, deterministic=True)
    raw.create_function("cm_text_key", 1, text_key, deterministic=True)
    raw.create_function("cm_name_parts", 1, _json_name_parts, deterministic=True)
    raw.create_function("cm_part_initials", 2, _json_part_initials, deterministic=True)


def _json_name_parts(key: str) -> str:
    return _json_letters(name_parts(key))


def _json_part_initials(key: str, part: str) -> str:
    return _json_letters(part_initials(key, part))


def _json_letters(words: list[str]) -> str:
    """A JSON array of name key tokens: letters only (no quote, backslash or control character to
    escape), so joined rather than through ``json.dumps``, a few hundred thousand times a scan."""
    return '["' + '","'.join(words) + '"]' if words else "[]"


def blocks(db: DbSession, workspace_id: str, cap: int) -> Iterator[Block]:
    """The blocks of two or more live contacts of a workspace, ordered by key, members by id; a block
    over ``cap`` (a name sub-block over ``SUB_BLOCK_CAP``) without its members."""
    dialect = db.get_bind().dialect.name
    if dialect == "sqlite":
        _register_functions(db)
    else:  # the whole result is read: plan for it, not for the first rows a cursor usually wants
        db.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
        # its hash aggregates and sorts (some 500,000 keys at 100k contacts) spill to disk at the default
        # 4 MB; this transaction's statements only, in the server's memory, not this process's
        db.execute(text("SET LOCAL work_mem = '64MB'"))
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
