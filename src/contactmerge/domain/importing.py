"""CSV import rules (R3): which column feeds which field, and each row's text as typed values.

Pure: the service reads the file (services/importing/source.py), validates emails and phones with their
libraries, matches and writes. Here a header becomes a ``ColumnMap`` and a row becomes ``RowValues``.

A cell that does not validate costs that value, not the row (R3): ``RowValues.problems`` names each
dropped cell's column and why, and the row keeps its other values. Only a row whose cells cannot be told
apart is a ``RowProblem`` as a whole: more cells than the header has columns (each value may sit under
the wrong column). Whether the row still has an identifier is the service's decision (it validates emails).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from contactmerge.domain.attributes import InvalidValue, coerce_timestamp, coerce_value

STANDARD_FIELDS = (
    "external_id",
    "email",
    "name",
    "phone",
    "signed_up_at",
    "last_seen_at",
    "avatar",
    "owner_id",
    "unsubscribed_from_emails",
    "language_override",
    "tags",
    "first_name",
    "last_name",
    "country",
)
# Standard fields that a workspace's data attribute of the same name wins over when guessing a column.
YIELDING_FIELDS = frozenset({"country"})
CUSTOM_PREFIX = "custom_attributes."
IGNORE = "ignore"
ROW = "(row)"
# What each of an import's counts means, in the order a report shows them (CLI and admin pages).
COUNT_LABELS: Mapping[str, str] = {
    "created": "created",
    "updated": "updated",
    "unchanged": "unchanged",
    "folded": "lead rows folded into a matching user",
    "merged": "leads merged into their user (csv_import)",
    "conflict": "rows matching two different contacts (not applied)",
    "kept_apart": "rows kept apart from a contact sharing their email (another person: see errors.csv)",
    "duplicate": "duplicate rows in the file (not applied)",
    "no_identifier": "rows with no external_id or email (not applied)",
    "invalid": "invalid rows (not applied)",
    "rows_with_cell_problems": "rows applied with a cell dropped or kept as given (see errors.csv)",
    "cells_dropped": "cells dropped (a value that does not validate)",
    "phones_kept_as_given": "phones kept as given, without an E.164 form",
    "merge_held": "merges held for review (fan-in cap)",
    "merge_refused": "merges refused",
}
# Header spellings (after normalize_header) that mean a standard field besides its own name.
ALIASES: Mapping[str, str] = {
    "user_id": "external_id",
    "userid": "external_id",
    "externalid": "external_id",
    "customer_id": "external_id",
    "customerid": "external_id",
    "e_mail": "email",
    "email_address": "email",
    "emailaddress": "email",
    "e_mail_address": "email",
    "full_name": "name",
    "fullname": "name",
    "firstname": "first_name",
    "given_name": "first_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "phone_number": "phone",
    "phonenumber": "phone",
    "mobile": "phone",
    "mobile_number": "phone",
    "mobile_phone": "phone",
    "telephone": "phone",
    "signup_date": "signed_up_at",
    "sign_up_date": "signed_up_at",
    "signed_up": "signed_up_at",
    "created_at": "signed_up_at",
    "last_seen": "last_seen_at",
    "avatar_url": "avatar",
    "unsubscribed": "unsubscribed_from_emails",
    "tag": "tags",
    "country_code": "country",
    "countrycode": "country",
    "country_name": "country",
    "location_country": "country",
}

# Longest text each string field's column holds; a longer value is refused, never truncated.
MAX_LENGTHS: Mapping[str, int] = {
    "external_id": 255,
    "email": 320,
    "phone": 64,
    "name": 255,
    "first_name": 255,
    "last_name": 255,
    "avatar": 1024,
    "language_override": 16,
    "country": 128,
}
MAX_TAG_LENGTH = 255
TIMESTAMP_FIELDS = ("signed_up_at", "last_seen_at")
NAME_PARTS = ("first_name", "last_name")
# Unix seconds between year 1 and year 9999: milliseconds (13 digits) fall outside and are refused.
MIN_TIMESTAMP, MAX_TIMESTAMP = -62_135_596_800, 253_402_300_799
MIN_INT64, MAX_INT64 = -(2**63), 2**63 - 1
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})
INTEGER = re.compile(r"[+-]?[0-9]{1,20}")
FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
TAG_SEPARATOR = re.compile(r"[;|]")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[\s\-.]+")
_QUOTES = "\"'`\u2018\u2019\u201c\u201d"


@dataclass(frozen=True)
class ColumnMap:
    """Per column of the header: the field it feeds (``custom_attributes.<name>`` for a custom one) or
    ``None`` (ignored); ``unknown`` lists the header texts that matched nothing."""

    fields: tuple[str | None, ...]
    unknown: tuple[str, ...] = ()

    @cached_property
    def mapped(self) -> tuple[tuple[int, str], ...]:
        """``(index, field)`` of the columns that feed a field, in column order (worked out once)."""
        return tuple((index, field) for index, field in enumerate(self.fields) if field is not None)


@dataclass(frozen=True)
class RowValues:
    """A row as values: standard fields (strings, except timestamps, owner_id and the unsubscribed flag,
    which are typed), custom attributes typed by their data attribute, and tags. Empty cells are absent."""

    fields: dict[str, Any]
    custom_attributes: dict[str, Any]
    tags: tuple[str, ...]
    problems: tuple[CellProblem, ...] = ()


@dataclass(frozen=True)
class CellProblem:
    """A cell whose value is not imported (R3): the header text of its column and why."""

    column: str
    reason: str
    kept: bool = False  # the value is kept as given; only its normalized form is missing


@dataclass(frozen=True)
class RowProblem:
    """Why a row cannot be imported; ``column`` is the header text of the offending column (or "(row)")."""

    column: str
    reason: str


def normalize_header(text: str) -> str:
    """A header as compared: BOM and quotes stripped, camelCase split, lower case, and runs of spaces,
    dashes and dots made one ``_`` ("  E-Mail Address" → ``e_mail_address``, "userId" → ``user_id``)."""
    text = text.replace("\ufeff", "").strip().strip(_QUOTES).strip()
    text = _CAMEL.sub("_", text).lower()
    return re.sub("_+", "_", _SEPARATORS.sub("_", text)).strip("_")


def auto_map(
    header: Sequence[str], custom_attributes: Mapping[str, str], explicit: Mapping[str, str]
) -> ColumnMap:
    """Which field each column feeds (R3): ``explicit`` (column → field or "ignore") first, then a standard
    field's own name, then a data attribute's name (``custom_attributes`` maps name → data type), then the
    usual aliases. ValueError names an explicit mapping to an unknown column or field, and a field fed by
    two columns."""
    fields: list[str | None] = [None] * len(header)
    decided: set[int] = set()
    for column, target in explicit.items():
        index = _column_index(header, column)
        fields[index] = _explicit_target(column, target, custom_attributes)
        decided.add(index)
    custom_by_key = _custom_keys(custom_attributes)
    unknown: list[str] = []
    for index, text in enumerate(header):
        if index in decided or not text.strip():
            continue
        fields[index] = _guess(text, custom_attributes, custom_by_key)
        if fields[index] is None:
            unknown.append(text)
    _refuse_duplicates(header, fields)
    return ColumnMap(tuple(fields), tuple(unknown))


def _column_index(header: Sequence[str], column: str) -> int:
    exact = [i for i, text in enumerate(header) if text.strip() == column.strip()]
    if len(exact) == 1:
        return exact[0]
    loose = [i for i, text in enumerate(header) if normalize_header(text) == normalize_header(column)]
    if len(exact) > 1 or len(loose) > 1:
        raise ValueError(f"column '{column}' appears more than once in the file's header")
    if not loose or not normalize_header(column):
        columns = ", ".join(f"'{text}'" for text in header)
        raise ValueError(f"column '{column}' is not in the file's header (its columns: {columns})")
    return loose[0]


def _explicit_target(column: str, target: str, custom_attributes: Mapping[str, str]) -> str | None:
    wanted = target.strip()
    if wanted.lower() == IGNORE:
        return None
    if wanted in STANDARD_FIELDS:
        return wanted
    if wanted.startswith(CUSTOM_PREFIX):
        name = wanted[len(CUSTOM_PREFIX) :]
        if name in custom_attributes:
            return wanted
        raise ValueError(
            f"column '{column}' is mapped to '{wanted}', but no data attribute is named '{name}': "
            "create it first"
        )
    if wanted in custom_attributes:
        return CUSTOM_PREFIX + wanted
    key = normalize_header(wanted)
    if key in STANDARD_FIELDS:
        return key
    if key in ALIASES:
        return ALIASES[key]
    raise ValueError(
        f"column '{column}' is mapped to unknown field '{wanted}': use one of {', '.join(STANDARD_FIELDS)}, "
        f"'{CUSTOM_PREFIX}<data attribute>' or '{IGNORE}'"
    )


def _custom_keys(custom_attributes: Mapping[str, str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for name in custom_attributes:
        for key in (normalize_header(name), normalize_header(CUSTOM_PREFIX + name)):
            keys.setdefault(key, name)
    return keys


def _guess(text: str, custom_attributes: Mapping[str, str], custom_by_key: Mapping[str, str]) -> str | None:
    stripped = text.strip()
    key = normalize_header(text)
    if key in STANDARD_FIELDS and key not in YIELDING_FIELDS:
        return key
    # a workspace's own attribute name says more than our guess at what an alias means
    if stripped in custom_attributes:
        return CUSTOM_PREFIX + stripped
    if stripped.startswith(CUSTOM_PREFIX) and stripped[len(CUSTOM_PREFIX) :] in custom_attributes:
        return stripped
    if key in custom_by_key:
        return CUSTOM_PREFIX + custom_by_key[key]
    return key if key in YIELDING_FIELDS else ALIASES.get(key)


def _refuse_duplicates(header: Sequence[str], fields: Sequence[str | None]) -> None:
    first_column: dict[str, str] = {}
    for text, field in zip(header, fields, strict=True):
        if field is None:
            continue
        if field in first_column:
            raise ValueError(
                f"field '{field}' would be read from two columns, '{first_column[field]}' and '{text}': "
                f"map one of them to '{IGNORE}'"
            )
        first_column[field] = text


def map_row(
    cells: Sequence[str], column_map: ColumnMap, header: Sequence[str], custom_attributes: Mapping[str, str]
) -> RowValues | RowProblem:
    """The row's values typed for its fields (R3), each cell that does not validate left out and named
    in ``problems``; a ``RowProblem`` only when the row has more cells than the header has columns."""
    extra = cells[len(header) :]
    if any(cell.strip() for cell in extra):
        return RowProblem(ROW, f"has {len(cells)} cells but the header has {len(header)} columns")
    fields: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    tags: tuple[str, ...] = ()
    problems: list[CellProblem] = []
    parts: dict[str, tuple[str, str]] = {}  # first_name / last_name → (value, column)
    count = len(cells)
    for index, field in column_map.mapped:
        if index >= count:
            break
        value = cells[index].strip()
        if not value:
            continue
        column = header[index]
        if "\x00" in value:
            problems.append(CellProblem(column, f"{_quoted(value)} contains a NUL character"))
            continue
        typed: Any
        if field.startswith(CUSTOM_PREFIX):
            name = field[len(CUSTOM_PREFIX) :]
            typed = parse_custom(custom_attributes.get(name, ""), value)
            if isinstance(typed, InvalidValue):
                problems.append(CellProblem(column, f"{_quoted(value)} {typed.reason}"))
            else:
                custom[name] = typed
        elif field == "tags":
            tags = tuple(tag for tag in split_tags(value) if len(tag) <= MAX_TAG_LENGTH)
            if len(tags) < len(split_tags(value)):
                problems.append(CellProblem(column, f"has a tag longer than {MAX_TAG_LENGTH} characters"))
        else:
            typed = parse_standard(field, value)
            if isinstance(typed, InvalidValue):
                problems.append(CellProblem(column, f"{_quoted(value)} {typed.reason}"))
            elif field in NAME_PARTS:
                parts[field] = (value, column)
            else:
                fields[field] = typed
    if "name" not in fields and parts:
        name = " ".join(parts[p][0] for p in NAME_PARTS if p in parts)
        if len(name) <= MAX_LENGTHS["name"]:
            fields["name"] = name
        else:
            column = parts.get("first_name", parts.get("last_name", ("", "")))[1]
            problems.append(CellProblem(column, f"makes a name longer than {MAX_LENGTHS['name']} characters"))
    return RowValues(fields, custom, tags, tuple(problems))


def parse_standard(field: str, text: str) -> Any | InvalidValue:
    """A standard field's value from trimmed, non-empty CSV text."""
    limit = MAX_LENGTHS.get(field)
    if limit is not None:
        return text if len(text) <= limit else InvalidValue(f"is longer than {limit} characters")
    if field in TIMESTAMP_FIELDS:
        return parse_timestamp(text)
    if field == "owner_id":
        number = parse_integer(text)
        return InvalidValue("must be a whole number (an admin id)") if number is None else number
    if field == "unsubscribed_from_emails":
        flag = parse_boolean(text)
        return InvalidValue("must be true or false (yes/no, 1/0)") if flag is None else flag
    return text


def parse_custom(data_type: str, text: str) -> Any | InvalidValue:
    """A custom attribute's value from trimmed, non-empty CSV text, typed by its data attribute."""
    value: Any = text
    if data_type == "integer":
        value = parse_integer(text)
        if value is None:
            return InvalidValue("must be a whole number")
    elif data_type == "float":
        value = float(text) if FLOAT.fullmatch(text) else None
        if value is None or not math.isfinite(value):
            return InvalidValue("must be a number like 3.5")
    elif data_type == "boolean":
        value = parse_boolean(text)
        if value is None:
            return InvalidValue("must be true or false (yes/no, 1/0)")
    elif data_type == "date":
        value = parse_timestamp(text)
    if isinstance(value, InvalidValue):
        return value
    return coerce_value(data_type, value)


def parse_integer(text: str) -> int | None:
    """A whole number that fits 64 bits; None for anything else ("4.2", "1,000", "1_000")."""
    if not INTEGER.fullmatch(text):
        return None
    number = int(text)
    return number if MIN_INT64 <= number <= MAX_INT64 else None


def parse_boolean(text: str) -> bool | None:
    folded = text.lower()
    if folded in TRUE_WORDS:
        return True
    if folded in FALSE_WORDS:
        return False
    return None


def parse_timestamp(text: str) -> int | InvalidValue:
    """Unix seconds, from Unix seconds or an ISO 8601 date or datetime (UTC when no zone is given)."""
    if INTEGER.fullmatch(text):
        seconds = int(text)
        if not MIN_TIMESTAMP <= seconds <= MAX_TIMESTAMP:
            return InvalidValue("is out of range for Unix seconds (milliseconds?)")
        return seconds
    return coerce_timestamp(text)


def split_tags(text: str) -> tuple[str, ...]:
    """Tag names separated by ";" or "|", trimmed, empty ones dropped, each once."""
    return tuple(dict.fromkeys(t.strip() for t in TAG_SEPARATOR.split(text) if t.strip()))


def _quoted(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")
