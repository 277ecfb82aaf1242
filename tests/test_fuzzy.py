"""Fuzzy duplicate suggestions (R5): blocking keys, scoring, block cap, and the scan on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert

from contactmerge.domain.fuzzy import (
    Profile,
    block_keys,
    blocks_of,
    company_of,
    email_local_key,
    provider_email,
)
from contactmerge.domain.ids import new_id
from contactmerge.errors import BadRequest
from contactmerge.services import contacts, data_attributes, workspaces
from contactmerge.services.duplicates import scoring, suggest
from contactmerge.storage import fuzzy as storage_fuzzy
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact, Workspace
from tests.conftest import Database


def profile(cid: str, name: str | None = None, email: str | None = None, phone: str | None = None, *,
            company: str | None = None, city: str | None = None) -> Profile:  # fmt: skip
    return Profile(cid, name, email, phone, company, city)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("John.Smith+news@Gmail.com", "johnsmith@gmail.com"),
        ("j.o.h.n@googlemail.com", "john@gmail.com"),
        ("john.smith+news@example.com", "john.smith+news@example.com"),  # other providers: as given
        (" Ada@Example.COM ", "ada@example.com"),
    ],
)
def test_provider_email_rules(given: str, expected: str) -> None:
    assert provider_email(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("john.smith+x@example.com", "johnsmith"),
        ("info@acme.com", None),  # role mailboxes block nobody together
        ("jo@example.com", None),  # too short to mean anything
        ("undefined@example.com", None),
    ],
)
def test_email_blocking_key(given: str, expected: str | None) -> None:
    assert email_local_key(given) == expected


def test_block_keys_cover_phone_email_name_company_and_city() -> None:
    keys = block_keys(
        profile("a", "Smith, John", "j.smith@x.com", "+15125550100", company="Acme", city="Austin")
    )
    assert keys == {
        ("phone", "+15125550100"),
        ("email_local", "jsmith"),
        ("name_company", "john smith|acme"),
        ("name_city", "john smith|austin"),
        ("name_part_city", "john|austin"),
        ("name_part_city", "smith|austin"),
        ("name_part_initial_city", "john|s|austin"),
        ("name_part_initial_city", "smith|j|austin"),
    }
    assert block_keys(profile("b", None, None, "null")) == set()


SAME_PERSON = [
    (
        "name typo, same city",
        profile("a", "Jonathan Smith", city="Austin"),
        profile("b", "Jonathon Smith", city="austin"),
    ),
    (
        "phone typo",
        profile("a", "Grace Hopper", None, "+15125550100", city="Austin"),
        profile("b", "Grace Hopper", None, "+15125550101", city="Austin"),
    ),
    (
        "name typo",
        profile("a", "Jonathan Smith", "jsmith@acme.com"),
        profile("b", "Jonathon Smith", "jsmith@acme.com"),
    ),
    (
        "email typo",
        profile("a", "Jonathan Smith", "jonathan.smith@acme.com", "+15125550100"),
        profile("b", "Jonathan Smith", "jonathon.smith@acme.com", "+15125550100"),
    ),
    (
        "case",
        profile("a", "ADA LOVELACE", "ada.lovelace@x.com"),
        profile("b", "ada lovelace", "Ada.Lovelace@X.com"),
    ),
    (
        "gmail dots and tag",
        profile("a", "John Smith", "john.smith+crm@gmail.com"),
        profile("b", "John Smith", "johnsmith@googlemail.com"),
    ),
    (
        "phone formats",
        profile("a", "Grace Hopper", None, "+15125550100"),
        profile("b", "Grace Hopper", None, "+15125550100"),
    ),
    (
        "swapped names",
        profile("a", "Hopper Grace", "grace@navy.mil"),
        profile("b", "Grace Hopper", "grace@navy.mil"),
    ),
    (
        "nickname, same phone",
        profile("a", "Bob Smith", None, "+15125550100"),
        profile("b", "Robert Smith", None, "+15125550100"),
    ),
    (
        "initial, same email",
        profile("a", "J. Smith", "jsmith@acme.com"),
        profile("b", "John Smith", "jsmith@acme.com"),
    ),
    (
        "missing middle name, same company and city",
        profile("a", "Anne Marie Dupont", company="Acme", city="Lyon"),
        profile("b", "Anne Dupont", company="Acme", city="Lyon"),
    ),
    (
        "name and company",
        profile("a", "Alan Turing", company="Bletchley Park"),
        profile("b", "Alan Turing", company="bletchley park"),
    ),
]


@pytest.mark.parametrize(("case", "a", "b"), SAME_PERSON, ids=[c[0] for c in SAME_PERSON])
def test_the_same_person_is_suggested(case: str, a: Profile, b: Profile) -> None:
    scan = suggest.suggest_profiles([a, b])
    assert [(s.contact_a, s.contact_b) for s in scan.suggestions] == [("a", "b")], case
    assert 0.8 <= scan.suggestions[0].score <= 1.0 and scan.suggestions[0].reasons


@pytest.mark.parametrize(("case", "a", "b"), SAME_PERSON, ids=[c[0] for c in SAME_PERSON])
def test_scoring_does_not_depend_on_which_contact_comes_first(case: str, a: Profile, b: Profile) -> None:
    assert scoring.score_pair(a, b) == scoring.score_pair(b, a), case


def test_reasons_say_why_with_each_weight() -> None:
    found = scoring.score_pair(
        profile("a", "Bob Smith", "bob@x.com", "+15125550100"), profile("b", "Robert Smith", "bob@x.com")
    )
    assert found.reasons[0].startswith("same email (+")
    assert any(r.startswith("nickname: bob ~ robert (+") for r in found.reasons)


DIFFERENT_PEOPLE = [
    (
        "company switchboard",
        profile("a", "Alice Brown", "alice@acme.com", "+15125550100", company="Acme"),
        profile("b", "Bob Jones", "bob@acme.com", "+15125550100", company="Acme"),
    ),
    (
        "shared mailbox",
        profile("a", "Carol White", "sales.team@acme.com"),
        profile("b", "Dan Green", "sales.team@acme.com"),
    ),
]


@pytest.mark.parametrize(("case", "a", "b"), DIFFERENT_PEOPLE, ids=[c[0] for c in DIFFERENT_PEOPLE])
def test_different_people_sharing_an_identifier_are_not_suggested(case: str, a: Profile, b: Profile) -> None:
    assert suggest.suggest_profiles([a, b]).suggestions == ()
    low = suggest.suggest_profiles([a, b], min_score=0.0).suggestions
    assert len(low) == 1 and low[0].score <= 0.5 and "names disagree" in low[0].reasons[-1], case


def test_a_block_over_the_cap_is_skipped_and_reported() -> None:
    switchboard = [profile(f"s{i:02}", "Pat Doe", None, "+15125550100") for i in range(5)]
    pair = [profile("x1", "Kim Lee", "kim.lee@x.com"), profile("x2", "Kim Lee", "kimlee@x.com")]
    scan = suggest.suggest_profiles(switchboard + pair, block_cap=4)
    assert [(b.kind, b.value, b.size) for b in scan.skipped_blocks] == [("phone", "+15125550100", 5)]
    assert [(s.contact_a, s.contact_b) for s in scan.suggestions] == [("x1", "x2")]
    assert scan.pairs_compared == 1  # only the pair inside a small block was ever compared
    within = suggest.suggest_profiles(switchboard + pair, block_cap=5)
    assert within.skipped_blocks == () and within.pairs_compared == 11
    switchboard_pairs = [s for s in suggest.suggest_profiles(switchboard, min_score=0.0).suggestions]
    assert len(switchboard_pairs) == 10
    assert all("phone shared by 5 contacts: not counted" in " ".join(s.reasons) for s in switchboard_pairs)


def test_a_phone_shared_by_two_counts_and_a_switchboard_does_not() -> None:
    """The same name and phone: a suggestion when the phone is theirs alone, not when it is a
    switchboard (six contacts) or a household's (same last name, other first name)."""
    own = [profile("k1", "Kim Lee", None, "+15125550111"), profile("k2", "kim lee", None, "+15125550111")]
    board = [profile("p1", "Pat Doe", None, "+15125550100"), profile("p2", "Pat Doe", None, "+15125550100")]
    board += [
        profile(f"s{i}", name, None, "+15125550100")
        for i, name in enumerate(["Al Ray", "Bo Tan", "Cy Ng", "Di Fox"])
    ]
    household = [
        profile("h1", "Jerry Murray", None, "+15125550122"),
        profile("h2", "Anita Murray", None, "+15125550122"),
    ]
    scan = suggest.suggest_profiles(own + board + household)
    assert [(s.contact_a, s.contact_b) for s in scan.suggestions] == [("k1", "k2")]
    everything = {
        (s.contact_a, s.contact_b): s
        for s in suggest.suggest_profiles(own + board + household, min_score=0).suggestions
    }
    assert everything[("k1", "k2")].reasons[0].startswith("same phone (+")
    assert "phone shared by 6 contacts: not counted" in " ".join(everything[("p1", "p2")].reasons)
    assert everything[("h1", "h2")].score < 0.8


def test_limit_and_bad_parameters() -> None:
    people = [profile(f"p{i}", "Kim Lee", None, "+15125550100") for i in range(3)]
    assert len(suggest.suggest_profiles(people, limit=2).suggestions) == 2
    with pytest.raises(BadRequest) as error:
        suggest.suggest_profiles(people, min_score=1.5)
    assert error.value.field == "min_score"


def test_suggestions_from_the_database(database: Database) -> None:
    sessions = make_sessionmaker(database.engine)
    rows: dict[str, dict[str, Any]] = {
        "user": {"role": "user", "external_id": "u1", "email": "john.smith@gmail.com", "name": "John Smith"},
        "lead": {"role": "lead", "email": "JohnSmith+promo@googlemail.com", "name": "smith john"},
        "phone1": {"role": "lead", "phone": "+1 (512) 555-0142", "name": "Grace Hopper"},
        "phone2": {"role": "lead", "phone": "512.555.0142", "name": "Grace  Hoper"},
        "company1": {"role": "lead", "name": "Alan Turing", "custom_attributes": {"company": "Bletchley"}},
        "company2": {"role": "lead", "name": "Alan Turing", "custom_attributes": {"company": "bletchley"}},
        "city1": {"role": "lead", "name": "Ada Lovelace", "location": {"city": "London"}},
        "city2": {"role": "lead", "name": "Ada Lovelace", "location": {"city": "london"}},
        "switch1": {"role": "lead", "phone": "+15125550199", "name": "Alice Brown"},
        "switch2": {"role": "lead", "phone": "+15125550199", "name": "Bob Jones"},
    }
    with transaction(sessions) as db:
        workspace = workspaces.create_workspace(db, "fuzzy").workspace
        data_attributes.create_attribute(db, workspace, name="company", data_type="string")
        made = {
            key: contacts.create_contact(db, workspace, fields, region="US").id
            for key, fields in rows.items()
        }
        workspace_id = workspace.id
    by_id = {v: k for k, v in made.items()}
    with sessions() as db:
        workspace = db.get_one(Workspace, workspace_id)
        found = list(suggest.scan(db, workspace).suggestions)
        skipped = suggest.scan(db, workspace, block_cap=2)
        other = workspaces.create_workspace(db, "empty").workspace
        assert list(suggest.scan(db, other).suggestions) == []  # no query crosses workspaces
    pairs = {frozenset((by_id[s.contact_a], by_id[s.contact_b])) for s in found}
    assert pairs == {
        frozenset(p)
        for p in [("user", "lead"), ("phone1", "phone2"), ("company1", "company2"), ("city1", "city2")]
    }
    assert all(0.8 <= s.score <= 1.0 and s.reasons for s in found)
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert skipped.skipped_blocks == ()  # every block here has two contacts


def test_namesakes_with_other_numbered_emails_and_phones_are_compared_but_not_suggested() -> None:
    a = profile("a", "John Smith", "john.smith12@gmail.com", "+15125550100", city="Austin")
    b = profile("b", "John Smith", "john.smith87@gmail.com", "+15125559999", city="Austin")
    scan = suggest.suggest_profiles([a, b])
    assert scan.pairs_compared == 1 and scan.suggestions == ()
    assert scoring.compare(a, b).vector == ("same", "different", "different", None, "same")


# Stored as they are (no service normalization on the way), so the SQL of each key meets odd text.
STORED = [
    ("Smith, John", "j.smith+news@gmail.com", "+15125550100", "Austin", {"company": "Acme Inc."}),
    ("john SMITH", "jsmith@googlemail.com", "+15125550100", "austin ", {"company_name": "acme inc"}),
    ("Jöhn Smith-Doe", " JSmith@Example.com ", None, "São Paulo", {"company": "  ", "company_name": "Acme"}),
    ("O'Brien 3rd", "info@acme.com", "+15125550100", "são paulo", {"company": 7, "company_name": "acme"}),
    ("Zoë Ångström", "zoe@x.io", None, "Malmö", {"company": "ÅNGSTRÖM  AB"}),
    ("zoë  ÅNGSTRÖM", "Zoe+crm@y.io", None, "MALMÖ", {"company": "Ångström AB"}),
    ("Zoe Angstrom", "zo@z.io", "null", "Malmö", {"company": "ångström ab"}),
    ("J K", "jo@x.com", "null", "Austin", {}),
    ("J. K.", "a.b.c+x@y.com", None, "austin", {}),
    ("Anne-Marie  d'Arc", "anne@a@b.com", None, "St. Louis", {}),
    ("anne marie arc", "anne@a@c.com", None, "st louis", {}),
    ("Ñoño Núñez", "undefined", None, "Ciudad de México", {"company": "Ñandú"}),
    ("ñoño núñez", None, None, "ciudad de méxico", {"company": "ÑANDÚ"}),
    ("John John", "abc@q.com", None, "Austin", {}),
    ("Ann_Lee2", None, None, "New_York", {}),
    ("ann lee", None, None, "new_york", {}),
    ("Front Desk", "Info@Other.com", None, None, {}),  # a role mailbox blocks nobody together
    ("Lonely Person", "lonely@nowhere.com", "+15125559999", "Nowhere", {}),
]


def contact_row(workspace_id: str, role: str, **fields: Any) -> dict[str, Any]:
    return {"workspace_id": workspace_id, "id": new_id(), "role": role, "custom_attributes": {},
            "unsubscribed_from_emails": False, "archived": False, "created_at": 1, "updated_at": 1,
            **fields}  # fmt: skip


def _stored(database: Database) -> tuple[str, dict[str, Profile]]:
    """The STORED contacts in a new workspace, and their profiles; plus contacts no block may show:
    a merged one, a visitor, and one in another workspace, all sharing the first contact's keys."""
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        workspace_id = workspaces.create_workspace(db, "blocks").workspace.id
        other_id = workspaces.create_workspace(db, "other").workspace.id
        rows = [
            contact_row(workspace_id, "lead", name=name, email_normalized=email, phone_e164=phone,
                        location_city=city, custom_attributes=attributes)
            for name, email, phone, city, attributes in STORED
        ]  # fmt: skip
        twin = {k: rows[0][k] for k in ("name", "email_normalized", "phone_e164", "location_city")}
        hidden = [
            contact_row(workspace_id, "lead", merged_into_id=rows[1]["id"], **twin),
            contact_row(workspace_id, "visitor", **twin),
            contact_row(other_id, "lead", **twin),
        ]
        db.execute(insert(Contact), rows + hidden)
    profiles = {
        r["id"]: Profile(r["id"], r["name"], r["email_normalized"], r["phone_e164"],
                         company_of(r["custom_attributes"]), r["location_city"])
        for r in rows
    }  # fmt: skip
    return workspace_id, profiles


def test_the_database_blocks_contacts_as_the_domain_does(database: Database) -> None:
    workspace_id, profiles = _stored(database)

    def expected(cap: int) -> dict[tuple[str, str], list[str]]:
        return {
            key: sorted(p.id for p in members) for key, members in blocks_of(profiles.values(), cap).items()
        }

    shared, shared_capped = expected(50), expected(2)
    assert ("name_city", "john smith|austin") in shared and (
        "name_company",
        "zoë ångström|ångström ab",
    ) in shared
    # a name part's sub-blocks only under its block over the cap ("john" in Austin: three contacts)
    assert not any(kind == "name_part_initial_city" for kind, _ in shared)
    assert shared_capped[("name_part_initial_city", "john|s|austin")] == sorted(
        id for id, p in profiles.items() if p.name in ("Smith, John", "john SMITH")
    )
    with make_sessionmaker(database.engine)() as db:
        found = [
            (b.kind, b.value, b.size, [m[0] for m in b.members])
            for b in storage_fuzzy.blocks(db, workspace_id, 50)
        ]
        capped = [
            (b.kind, b.value, b.size, len(b.members)) for b in storage_fuzzy.blocks(db, workspace_id, 2)
        ]
    assert found == sorted(found)  # streamed key by key, each block whole
    assert {(kind, value): ids for kind, value, _, ids in found} == shared
    assert all(size == len(ids) for _, _, size, ids in found)
    # over the cap: the block's size, and not one of its contacts
    assert sorted(capped) == sorted(
        (k, v, len(ids), len(ids) if len(ids) <= 2 else 0) for (k, v), ids in shared_capped.items()
    )
    assert ("phone", "+15125550100", 3, 0) in capped


def _letters(n: int) -> str:
    word = ""
    while True:
        n, digit = divmod(n, 26)
        word = chr(ord("a") + digit) + word
        if not n:
            return word


def test_a_workspace_large_enough_fits_its_own_weights_and_finds_its_duplicates() -> None:
    """400 people in 4 cities, 40 of them twice (a typo in the surname, or in the email); the weights
    are fitted on the workspace's pairs (EM), and exactly the 40 pairs are suggested."""
    surnames = [_letters(i * 7_654_321 % 10**7) for i in range(400)]
    cities = ["Austin", "Boston", "Denver", "Miami"]
    people = [
        profile(f"p{i:03}", f"{first} {surnames[i]}", f"{first}.{surnames[i]}@mail.com", city=cities[i % 4])
        for i, first in enumerate(["ann", "bob", "cid", "dee", "eve"] * 80)
    ]
    twins = [
        profile(
            f"t{i:03}", f"{p.name}x" if i % 2 else p.name, p.email if i % 2 else f"x{p.email}", city=p.city
        )
        for i, p in enumerate(people[::10])
    ]
    scan = suggest.suggest_profiles(people + twins, limit=None)
    assert scan.model.pairs == scan.pairs_compared > 0 and scan.model.iterations > 0
    expected = {(p.id, t.id) for p, t in zip(people[::10], twins, strict=True)}
    assert {(s.contact_a, s.contact_b) for s in scan.suggestions} == expected


def test_a_common_first_name_over_the_cap_is_still_compared_within_its_initials() -> None:
    johns = [
        profile(f"j{i}", f"John {surname}", city="Austin")
        for i, surname in enumerate(["Abe", "Cole", "Dunn", "Eyre", "Ford"])
    ]
    pair = [profile("s1", "John Smith", city="Austin"), profile("s2", "John Smiht", city="austin")]
    scan = suggest.suggest_profiles(johns + pair, block_cap=4)
    assert ("name_part_city", "john|austin", 7) in {(b.kind, b.value, b.size) for b in scan.skipped_blocks}
    assert [(s.contact_a, s.contact_b) for s in scan.suggestions] == [("s1", "s2")]
    assert any(
        r.startswith("typo: smiht ~ smith") or r.startswith("typo: smith ~ smiht")
        for r in scan.suggestions[0].reasons
    )
