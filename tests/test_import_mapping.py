"""CSV import mapping (R3): which column feeds which field, and each row's text as typed values, each cell
that does not validate left out and named with its column (it costs that value, not the row)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contactmerge.domain.importing import (
    CellProblem,
    ColumnMap,
    RowProblem,
    RowValues,
    auto_map,
    map_row,
    normalize_header,
)
from contactmerge.services.importing.source import read_rows, sniff

DATA = Path(__file__).parent / "data" / "csv"
CUSTOM = {
    "plan": "string",
    "seats": "integer",
    "score": "float",
    "trial": "boolean",
    "renews": "date",
    "Favourite Colour": "string",
}
JAN_15 = 1705276800  # 2024-01-15T00:00:00Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("email", "email"),
        ("  Email  ", "email"),
        ("\ufeffemail", "email"),
        ('"Email"', "email"),
        ("'E-Mail Address'", "e_mail_address"),
        ("Phone-Number", "phone_number"),
        ("custom_attributes.plan", "custom_attributes_plan"),
        ("first  name", "first_name"),
        ("userId", "user_id"),
        ("signedUpAt", "signed_up_at"),
        ("USER ID", "user_id"),
        ("a - b", "a_b"),
    ],
)
def test_normalize_header(text: str, expected: str) -> None:
    assert normalize_header(text) == expected


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("user_id", "external_id"),
        ("userid", "external_id"),
        ("UserId", "external_id"),
        ("User ID", "external_id"),
        ("external_id", "external_id"),
        ("External ID", "external_id"),
        ("customer_id", "external_id"),
        ("Customer-ID", "external_id"),
        ("email", "email"),
        ("EMAIL", "email"),
        ("e_mail", "email"),
        ("E-mail", "email"),
        ("email_address", "email"),
        ("Email Address", "email"),
        ("name", "name"),
        ("full_name", "name"),
        ("Full Name", "name"),
        ("first_name", "first_name"),
        ("First Name", "first_name"),
        ("firstName", "first_name"),
        ("last_name", "last_name"),
        ("Last Name", "last_name"),
        ("surname", "last_name"),
        ("phone", "phone"),
        ("phone_number", "phone"),
        ("Phone Number", "phone"),
        ("mobile", "phone"),
        ("telephone", "phone"),
        ("signed_up_at", "signed_up_at"),
        ("signup_date", "signed_up_at"),
        ("Signup Date", "signed_up_at"),
        ("signed_up", "signed_up_at"),
        ("created_at", "signed_up_at"),
        ("last_seen_at", "last_seen_at"),
        ("Last seen", "last_seen_at"),
        ("avatar", "avatar"),
        ("owner_id", "owner_id"),
        ("unsubscribed_from_emails", "unsubscribed_from_emails"),
        ("language_override", "language_override"),
        ("tags", "tags"),
        ("Tag", "tags"),
        ("\ufeffemail", "email"),
        ('"email"', "email"),
        ("plan", "custom_attributes.plan"),
        ("Plan", "custom_attributes.plan"),
        ("custom_attributes.plan", "custom_attributes.plan"),
        ("Favourite Colour", "custom_attributes.Favourite Colour"),
        ("favourite-colour", "custom_attributes.Favourite Colour"),
        ("seats", "custom_attributes.seats"),
    ],
)
def test_auto_map_recognises_every_alias_and_data_attribute(header: str, field: str) -> None:
    assert auto_map([header], CUSTOM, {}) == ColumnMap((field,), ())


def test_columns_that_match_nothing_are_reported_and_ignored() -> None:
    column_map = auto_map(["email", "shoe size", "plan", "", "id"], CUSTOM, {})
    assert column_map == ColumnMap(("email", None, "custom_attributes.plan", None, None), ("shoe size", "id"))


def test_a_data_attribute_named_like_an_alias_wins_over_the_alias() -> None:
    assert auto_map(["mobile"], {"mobile": "string"}, {}).fields == ("custom_attributes.mobile",)


def test_a_standard_field_name_wins_over_a_data_attribute() -> None:
    assert auto_map(["Email"], {"e-mail": "string"}, {}).fields == ("email",)


@pytest.mark.parametrize(
    ("header", "explicit", "fields"),
    [
        (["Kunden-Nr", "Mail"], {"Kunden-Nr": "external_id", "Mail": "email"}, ("external_id", "email")),
        (["Kunden-Nr"], {"Kunden-Nr": "user_id"}, ("external_id",)),
        (["Tarif"], {"Tarif": "custom_attributes.plan"}, ("custom_attributes.plan",)),
        (["Tarif"], {"Tarif": "plan"}, ("custom_attributes.plan",)),
        (["email", "plan"], {"plan": "ignore"}, ("email", None)),
        (["email", "plan"], {"plan": "IGNORE"}, ("email", None)),
        (["Main Email"], {"main email": "email"}, ("email",)),
        (["email", "work email"], {"email": "ignore", "work email": "email"}, (None, "email")),
        (
            ["name", "nick"],
            {"name": "custom_attributes.plan", "nick": "name"},
            ("custom_attributes.plan", "name"),
        ),
    ],
)
def test_explicit_mapping_overrides_the_guess(
    header: list[str], explicit: dict[str, str], fields: tuple[str | None, ...]
) -> None:
    assert auto_map(header, CUSTOM, explicit) == ColumnMap(fields, ())


@pytest.mark.parametrize(
    ("header", "explicit", "named"),
    [
        (["email"], {"mail": "email"}, "column 'mail' is not in the file's header"),
        (["email", "x"], {"x": "shoe_size"}, "unknown field 'shoe_size'"),
        (["email", "x"], {"x": "custom_attributes.shoe_size"}, "no data attribute is named 'shoe_size'"),
        (["email", "email"], {"email": "ignore"}, "column 'email' appears more than once"),
        (["email", "E-mail"], {}, "'email' and 'E-mail'"),
        (["Plan", "plan"], {}, "'Plan' and 'plan'"),
        (["email", "contact"], {"contact": "email"}, "field 'email' would be read from two columns"),
    ],
)
def test_mapping_errors_name_the_column_or_field(
    header: list[str], explicit: dict[str, str], named: str
) -> None:
    with pytest.raises(ValueError) as caught:
        auto_map(header, CUSTOM, explicit)
    assert named in str(caught.value)


def dropped(values: RowValues | RowProblem) -> CellProblem:
    """The one cell problem of a one-column row, whose value is left out."""
    assert isinstance(values, RowValues)
    assert (values.fields, values.custom_attributes, values.tags) == ({}, {}, ())
    (problem,) = values.problems
    return problem


def one_column(field: str, text: str) -> RowValues | RowProblem:
    header = [f"the {field} column"]
    return map_row([text], auto_map(header, CUSTOM, {header[0]: field}), header, CUSTOM)


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("external_id", " u-42 ", "u-42"),
        ("email", "Ada@Example.com", "Ada@Example.com"),
        ("email", "not-an-email", "not-an-email"),  # validated by the service, with email-validator
        ("phone", "+44 20 7946 0000", "+44 20 7946 0000"),
        ("name", "  Ada Lovelace ", "Ada Lovelace"),
        ("avatar", "https://example.com/a.png", "https://example.com/a.png"),
        ("language_override", "fr", "fr"),
        ("signed_up_at", "1700000000", 1700000000),
        ("signed_up_at", "-86400", -86400),
        ("signed_up_at", "2024-01-15", JAN_15),
        ("signed_up_at", "2024-01-15T10:00:00Z", JAN_15 + 36000),
        ("signed_up_at", "2024-01-15T10:00:00+02:00", JAN_15 + 28800),
        ("signed_up_at", "2024-01-15 10:00:00", JAN_15 + 36000),
        ("last_seen_at", "1700000000", 1700000000),
        ("last_seen_at", "2024-01-15", JAN_15),
        ("owner_id", "42", 42),
        ("owner_id", "+7", 7),
        ("unsubscribed_from_emails", "true", True),
        ("unsubscribed_from_emails", "TRUE", True),
        ("unsubscribed_from_emails", "Yes", True),
        ("unsubscribed_from_emails", "1", True),
        ("unsubscribed_from_emails", "false", False),
        ("unsubscribed_from_emails", "No", False),
        ("unsubscribed_from_emails", "0", False),
    ],
)
def test_standard_values_accepted(field: str, text: str, expected: Any) -> None:
    assert one_column(field, text) == RowValues({field: expected}, {}, ())


@pytest.mark.parametrize(
    ("field", "text", "reason"),
    [
        ("signed_up_at", "15/01/2024", "Unix timestamp or an ISO 8601 date"),
        ("signed_up_at", "yesterday", "Unix timestamp or an ISO 8601 date"),
        ("signed_up_at", "2024-13-01", "Unix timestamp or an ISO 8601 date"),
        ("signed_up_at", "1700000000000", "milliseconds"),
        ("last_seen_at", "1.5", "Unix timestamp or an ISO 8601 date"),
        ("owner_id", "ten", "whole number"),
        ("owner_id", "4.2", "whole number"),
        ("owner_id", "99999999999999999999", "whole number"),
        ("unsubscribed_from_emails", "maybe", "true or false"),
        ("unsubscribed_from_emails", "2", "true or false"),
        ("external_id", "x" * 256, "longer than 255"),
        ("name", "x" * 256, "longer than 255"),
        ("email", "x" * 321, "longer than 320"),
        ("phone", "1" * 65, "longer than 64"),
        ("avatar", "x" * 1025, "longer than 1024"),
        ("language_override", "x" * 17, "longer than 16"),
        ("name", "Ada\x00", "NUL"),
    ],
)
def test_standard_values_refused_naming_the_column(field: str, text: str, reason: str) -> None:
    problem = dropped(one_column(field, text))
    assert problem.column == f"the {field} column"
    assert reason in problem.reason


@pytest.mark.parametrize(
    ("attribute", "text", "expected"),
    [
        ("seats", "42", 42),
        ("seats", "-3", -3),
        ("seats", "+5", 5),
        ("score", "3.5", 3.5),
        ("score", "1e3", 1000.0),
        ("score", "-0.25", -0.25),
        ("score", ".5", 0.5),
        ("score", "42", 42.0),
        ("trial", "yes", True),
        ("trial", "FALSE", False),
        ("trial", "1", True),
        ("trial", "0", False),
        ("renews", "2024-01-15", JAN_15),
        ("renews", "1700000000", 1700000000),
        ("plan", "pro", "pro"),
        ("plan", "x" * 255, "x" * 255),
        ("Favourite Colour", " blue ", "blue"),
    ],
)
def test_custom_values_typed_by_their_data_attribute(attribute: str, text: str, expected: Any) -> None:
    typed = one_column(f"custom_attributes.{attribute}", text)
    assert typed == RowValues({}, {attribute: expected}, ())
    assert isinstance(typed, RowValues)
    assert type(typed.custom_attributes[attribute]) is type(expected)


@pytest.mark.parametrize(
    ("attribute", "text", "reason"),
    [
        ("seats", "4.2", "whole number"),
        ("seats", "abc", "whole number"),
        ("seats", "1,000", "whole number"),
        ("seats", "1_000", "whole number"),
        ("seats", "9" * 20, "whole number"),
        ("score", "abc", "number"),
        ("score", "3,5", "number"),
        ("score", "nan", "number"),
        ("score", "inf", "number"),
        ("score", "1e999", "number"),
        ("trial", "maybe", "true or false"),
        ("trial", "y", "true or false"),
        ("renews", "15/01/2024", "ISO 8601"),
        ("renews", "next week", "ISO 8601"),
        ("plan", "x" * 256, "at most 255 characters"),
    ],
)
def test_custom_values_refused_naming_the_column(attribute: str, text: str, reason: str) -> None:
    problem = dropped(one_column(f"custom_attributes.{attribute}", text))
    assert problem.column == f"the custom_attributes.{attribute} column"
    assert reason in problem.reason
    assert repr(text[:40])[:-1] in problem.reason  # the value is quoted, shortened when long


HEADER = ["user_id", "email", "first name", "last name", "tags", "seats", "shoe size"]


def row(*cells: str) -> RowValues | RowProblem:
    return map_row(list(cells), auto_map(HEADER, CUSTOM, {}), HEADER, CUSTOM)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (
            ("u-1", "ada@example.com", "Ada", "Lovelace", "vip", "3", "42"),
            RowValues(
                {"external_id": "u-1", "email": "ada@example.com", "name": "Ada Lovelace"},
                {"seats": 3},
                ("vip",),
            ),
        ),
        (("u-1", "", " ", "", "", "", ""), RowValues({"external_id": "u-1"}, {}, ())),
        (("u-1",), RowValues({"external_id": "u-1"}, {}, ())),
        (("u-1", "", "Ada"), RowValues({"external_id": "u-1", "name": "Ada"}, {}, ())),
        (("u-1", "", "", "Lovelace"), RowValues({"external_id": "u-1", "name": "Lovelace"}, {}, ())),
        (
            ("u-1", "", "", "", "vip; beta|trial ;; vip |"),
            RowValues({"external_id": "u-1"}, {}, ("vip", "beta", "trial")),
        ),
        (("u-1", "", "", "", "", "", "not a number", "", " "), RowValues({"external_id": "u-1"}, {}, ())),
    ],
    ids=[
        "all columns",
        "empty cells are no value",
        "missing cells are empty",
        "first name alone",
        "last name alone",
        "tags split on ; and |",
        "unknown column and empty extra cells ignored",
    ],
)
def test_map_row(cells: tuple[str, ...], expected: RowValues) -> None:
    assert row(*cells) == expected


def test_a_row_with_more_cells_than_the_header_is_a_problem_of_the_row() -> None:
    problem = row("u-1", "a@example.com", "", "", "", "", "", "surplus")
    assert problem == RowProblem("(row)", "has 8 cells but the header has 7 columns")


def test_a_name_column_wins_over_first_and_last_name_unless_it_is_empty() -> None:
    header = ["name", "first_name", "last_name"]
    column_map = auto_map(header, {}, {})
    assert map_row(["Countess", "Ada", "Lovelace"], column_map, header, {}) == RowValues(
        {"name": "Countess"}, {}, ()
    )
    assert map_row(["", "Ada", "Lovelace"], column_map, header, {}) == RowValues(
        {"name": "Ada Lovelace"}, {}, ()
    )
    too_long = map_row(["", "x" * 200, "y" * 100], column_map, header, {})
    assert too_long == RowValues(
        {}, {}, (), (CellProblem("first_name", "makes a name longer than 255 characters"),)
    )


def test_a_tag_too_long_is_dropped_and_the_other_tags_kept() -> None:
    assert row("u-1", "", "", "", "ok;" + "t" * 256) == RowValues(
        {"external_id": "u-1"}, {}, ("ok",), (CellProblem("tags", "has a tag longer than 255 characters"),)
    )


def test_every_bad_cell_of_a_row_is_named_and_the_good_ones_kept() -> None:
    values = row("u-1", "a@example.com", "Ada", "", "vip", "many", "")
    assert values == RowValues(
        {"external_id": "u-1", "email": "a@example.com", "name": "Ada"},
        {},
        ("vip",),
        (CellProblem("seats", "'many' must be a whole number"),),
    )
    header = ["email", "signed_up_at", "owner_id", "seats", "name"]
    values = map_row(
        ["a@example.com", "yesterday", "ten", "4.2", "Ada\x00"], auto_map(header, CUSTOM, {}), header, CUSTOM
    )
    assert isinstance(values, RowValues)
    assert values.fields == {"email": "a@example.com"}
    assert [p.column for p in values.problems] == ["signed_up_at", "owner_id", "seats", "name"]


def test_a_country_column_maps_unless_a_data_attribute_has_its_name() -> None:
    assert auto_map(["email", "Country"], {}, {}).fields == ("email", "country")
    assert auto_map(["email", "country_code"], {}, {}).fields == ("email", "country")
    assert auto_map(["email", "Country"], {"Country": "string"}, {}).fields == (
        "email",
        "custom_attributes.Country",
    )


def test_a_real_messy_file_maps_through() -> None:
    path = DATA / "messy_headers.csv"
    fmt = sniff(lambda: path.open("rb"))
    column_map = auto_map(fmt.header, {"plan": "string"}, {})
    assert column_map == ColumnMap(
        ("external_id", "email", "name", "phone", "signed_up_at", "custom_attributes.plan", None, "tags"),
        ("Favourite Colour",),
    )
    mapped = [
        map_row(cells, column_map, fmt.header, {"plan": "string"})
        for _, cells in read_rows(lambda: path.open("rb"), fmt)
    ]
    assert mapped == [
        RowValues(
            {
                "external_id": "u-1",
                "email": "Ada@Example.com",
                "name": "Ada Lovelace",
                "phone": "+44 20 7946 0000",
                "signed_up_at": JAN_15,
            },
            {"plan": "pro"},
            ("vip", "beta"),
        ),
        RowValues(
            {
                "external_id": "u-2",
                "email": "grace@example.com",
                "name": "Grace Hopper",
                "signed_up_at": 1700000000,
            },
            {"plan": "free"},
            (),
        ),
    ]


def test_a_real_file_of_bad_values_names_each_bad_column() -> None:
    path = DATA / "bad_values.csv"
    fmt = sniff(lambda: path.open("rb"))
    column_map = auto_map(fmt.header, CUSTOM, {})
    outcome = {
        n: (m.column, m.reason)
        if isinstance(m, RowProblem)
        else (m.fields["external_id"], *((p.column, p.reason) for p in m.problems))
        if m.problems
        else m
        for n, cells in read_rows(lambda: path.open("rb"), fmt)
        for m in [map_row(cells, column_map, fmt.header, CUSTOM)]
    }
    assert outcome == {
        1: RowValues(
            {
                "external_id": "u-1",
                "email": "ada@example.com",
                "signed_up_at": JAN_15 + 36000,
                "owner_id": 7,
                "unsubscribed_from_emails": False,
            },
            {"seats": 3, "score": 4.5, "trial": True, "renews": 1736899200, "plan": "pro"},
            (),
        ),
        2: RowValues({"external_id": "u-2", "email": "not-an-email"}, {}, ()),
        3: ("u-3", ("signed_up_at", "'15/01/2024' must be a Unix timestamp or an ISO 8601 date")),
        4: ("u-4", ("owner_id", "'ten' must be a whole number (an admin id)")),
        5: ("u-5", ("unsubscribed", "'maybe' must be true or false (yes/no, 1/0)")),
        6: ("u-6", ("seats", "'4.2' must be a whole number")),
        7: ("u-7", ("score", "'abc' must be a number like 3.5")),
        8: ("u-8", ("trial", "'sometimes' must be true or false (yes/no, 1/0)")),
        9: ("u-9", ("renews", "'yesterday' must be a Unix timestamp or an ISO 8601 date")),
        10: ("u-10", ("plan", f"'{'x' * 40}…' must be at most 255 characters")),
        11: ("(row)", "has 11 cells but the header has 10 columns"),
    }
