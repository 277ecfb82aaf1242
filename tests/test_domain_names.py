"""Names of one person written differently, and names of two people (domain.names, the link rule's test).

A shared email or phone is held when the names clearly disagree; the cost of "disagree" by mistake is a
true duplicate left for review, so nicknames, initials, one typo, order and accents must never count.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contactmerge.domain.names import (
    NICKNAMES,
    NameMatch,
    compare_names,
    edit_distance,
    name_tokens,
    names_disagree,
)

SAME, COMPATIBLE, SIMILAR, DIFFERENT, UNKNOWN = (
    NameMatch.SAME,
    NameMatch.COMPATIBLE,
    NameMatch.SIMILAR,
    NameMatch.DIFFERENT,
    NameMatch.UNKNOWN,
)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # case, accents, punctuation, order, titles and suffixes
        ("John Smith", "john SMITH", SAME),
        ("Smith, John", "John Smith", SAME),
        ("José Ñúñez", "jose nunez", SAME),
        ("Zoë O'Brien", "zoe obrien", SAME),
        ("Dr. John Smith Jr.", "John Smith", SAME),
        ("Mary-Jane Watson", "Mary Jane Watson", SAME),
        # the same person written differently
        ("J. Smith", "John Smith", COMPATIBLE),
        ("J Smith", "Jane Smith", COMPATIBLE),
        ("Bob Jones", "Robert Jones", COMPATIBLE),
        ("Bob Jones", "Rob Jones", COMPATIBLE),  # two short forms of one name
        ("Liz Taylor", "Elizabeth Taylor", COMPATIBLE),
        ("Charlie Brown", "Charlotte Brown", COMPATIBLE),
        ("Charlie Brown", "Charles Brown", COMPATIBLE),
        ("Bill Gates", "William Gates", COMPATIBLE),
        ("Jonh Smith", "John Smith", COMPATIBLE),  # two letters swapped: one typo
        ("Jon Smith", "John Smith", COMPATIBLE),
        ("Smith Jonathan", "Jonathon Smith", COMPATIBLE),  # order and one typo
        ("John Paul Smith", "John Smith", COMPATIBLE),  # a missing middle name
        ("John", "John Smith", COMPATIBLE),  # a first name only
        ("Bob", "Robert", COMPATIBLE),
        ("Jonh", "John", COMPATIBLE),
        ("J. Smiht", "John Smith", COMPATIBLE),  # an initial and one typo
        ("Bob Jonse", "Robert Jones", COMPATIBLE),  # a nickname and one typo
        ("Ann Smyth", "Ann Smith Brown Lee Doe Roe Poe", COMPATIBLE),  # six names left to pair
        # related, not enough to say one person
        ("John Smith", "Jane Smith", SIMILAR),
        ("Charles Brown", "Charlotte Brown", SIMILAR),  # "charlie" is both, the full names are not
        ("Jonh Smiht", "John Smith", SIMILAR),  # two typos
        ("Johnathan Smith", "Jonathon Smith", SIMILAR),  # two edits in one name
        ("John", "J", SIMILAR),  # only an initial to go on
        ("Johnathan", "Jonathon", SIMILAR),
        ("Li Wei", "Li Na", SIMILAR),  # a shared family name of two letters
        ("J. S.", "John Smith", SIMILAR),
        ("Ann Smyth", "Ann Smith Brown Lee Doe Roe Poe Moe", SIMILAR),  # too many tokens to pair
        # clearly two people
        ("Charlotte Evans", "Natonman Mendoza", DIFFERENT),
        ("Carol", "Dan", DIFFERENT),
        ("Jane", "Jan", DIFFERENT),  # three letters: too short to call a typo
        ("Ann", "Amy", DIFFERENT),
        ("J Smith", "K Jones", DIFFERENT),
        ("J Smith", "J Brown", DIFFERENT),  # a shared initial is not a shared name
        # nothing to compare
        (None, "John Smith", UNKNOWN),
        ("", "John Smith", UNKNOWN),
        ("N/A", "John Smith", UNKNOWN),
        ("Website visitor", "Ada Lovelace", UNKNOWN),
        ("Lead 1234", "Ada Lovelace", UNKNOWN),
        ("  --  ", "John Smith", UNKNOWN),
        ("unknown", "null", UNKNOWN),
    ],
)
def test_how_two_names_compare(a: str | None, b: str | None, expected: NameMatch) -> None:
    assert compare_names(a, b) is expected
    assert compare_names(b, a) is expected
    assert names_disagree(a, b) is (expected is DIFFERENT)


def test_titles_alone_are_kept_as_the_name() -> None:
    assert name_tokens("Dr.") == ("dr",)
    assert compare_names("Dr", "Dr") is SAME
    assert compare_names("Dr", "Mr") is DIFFERENT


def test_tokens_are_folded_and_sorted() -> None:
    assert name_tokens("Ó'Brien, Zoë") == ("obrien", "zoe")
    assert name_tokens("Mr. Ada   LOVELACE, PhD") == ("ada", "lovelace")
    assert name_tokens("null") == ()
    assert name_tokens("Li_Wei") == ("li", "wei")


@pytest.mark.parametrize(
    ("a", "b", "edits"),
    [
        ("john", "john", 0),
        ("john", "jonh", 1),  # a swap of neighbours
        ("john", "joan", 1),
        ("john", "johns", 1),
        ("johns", "john", 1),
        ("johnn", "john", 1),  # a doubled last letter: one deletion, never found through a replacement
        ("mariah", "maria", 1),
        ("smith", "smyth", 1),
        ("ab", "ba", 1),
        ("abc", "ca", 3),  # no swap of letters that are not neighbours after an edit
        ("jonathan", "jonathon", 1),
        ("johnathan", "jonathon", 2),
        ("abcd", "badc", 2),
        ("kitten", "sitting", 3),  # over the limit: limit + 1
        ("a", "abcd", 3),
        ("", "ab", 2),
        ("abcdef", "ghijkl", 3),
        ("aaa", "a", 2),  # no swap with a letter before the start
        ("aa", "bbbb", 3),  # four edits, reported as limit + 1
    ],
)
def test_edit_distance(a: str, b: str, edits: int) -> None:
    assert edit_distance(a, b) == edits
    assert edit_distance(b, a) == edits


def test_edit_distance_limit() -> None:
    assert edit_distance("kitten", "sitting", limit=3) == 3
    assert edit_distance("abcdef", "ghijkl", limit=6) == 6
    assert edit_distance("abcdef", "ghijkl", limit=1) == 2
    assert edit_distance("a", "abcd", limit=3) == 3


def test_the_nickname_table_covers_the_common_names() -> None:
    assert NICKNAMES["charlie"] == {"charles", "charlotte"}
    assert NICKNAMES["robert"] == {"robert"}
    assert {"bob", "bobby", "rob", "robbie"} <= {t for t, names in NICKNAMES.items() if "robert" in names}
    assert sum(len(names - {t}) for t, names in NICKNAMES.items()) >= 250  # short form -> full name pairs


# --- properties ------------------------------------------------------------------------------------

GIVEN = sorted({full for names in NICKNAMES.values() for full in names})
SURNAMES = ["smith", "garcia", "okafor", "nguyen", "kowalski", "johansson", "brown", "oconnor"]
names = st.tuples(st.sampled_from(GIVEN), st.sampled_from(SURNAMES))
any_name = st.one_of(st.none(), st.text(max_size=20), names.map(" ".join))


@given(any_name, any_name)
def test_comparison_is_symmetric(a: str | None, b: str | None) -> None:
    assert compare_names(a, b) is compare_names(b, a)


ACCENTED = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "n": "ñ", "c": "ç"}


@given(names, st.lists(st.booleans(), min_size=30, max_size=30), st.booleans(), st.booleans())
def test_case_accents_and_order_do_not_count(
    name: tuple[str, str], upper: list[bool], accents: bool, swap: bool
) -> None:
    first, last = name
    spelled = "".join(
        (ACCENTED.get(c, c) if accents else c).upper() if up else c
        for c, up in zip(f"{first} {last}", upper, strict=False)
    )
    variant = ", ".join(reversed(spelled.split())) if swap else spelled
    assert compare_names(f"{first} {last}", variant) is SAME


def _typo(word: str, at: int, kind: int) -> str:
    i = 1 + at % (len(word) - 2)
    return [
        word[:i] + word[i + 1] + word[i] + word[i + 2 :],  # swap
        word[:i] + word[i + 1 :],  # drop
        word[:i] + "x" + word[i + 1 :],  # replace
        word[:i] + word[i] + word[i:],  # double
    ][kind]


@given(names, st.integers(0, 3), st.integers(0, 100), st.integers(0, 3), st.booleans())
def test_a_nickname_an_initial_or_one_typo_never_makes_two_people(
    name: tuple[str, str], change: int, at: int, kind: int, on_last: bool
) -> None:
    first, last = name
    if change == 0:  # a short form of the given name
        shorts = sorted(t for t, full in NICKNAMES.items() if first in full)
        first = shorts[at % len(shorts)]
    elif change == 1:
        first = first[0]
    elif change == 2:  # one typo in a part that has four letters or more before and after it
        shortest = 5 if kind == 1 else 4  # a dropped letter: "anna" -> "ana" is below the typo rule's
        if on_last and len(last) >= shortest:  # four letters, which keeps "ian" and "ivan" apart
            last = _typo(last, at, kind)
        elif len(first) >= shortest:
            first = _typo(first, at, kind)
    elif on_last:  # the given name alone
        last = ""
    else:  # a middle name
        first = f"{first} {SURNAMES[at % len(SURNAMES)]}"
    variant = f"{first} {last}".strip()
    assert compare_names(" ".join(name), variant) >= COMPATIBLE
    assert not names_disagree(" ".join(name), variant)


@pytest.mark.parametrize(
    "a,b", [("Ian Smith", "Ivan Smith"), ("Leo Smith", "Leon Smith"), ("Ana Smith", "Anna Smith")]
)
def test_a_three_letter_given_name_is_no_typo_of_a_four_letter_one(a: str, b: str) -> None:
    # the typo rule needs four letters on both sides: Ian and Ivan, Leo and Leon are other people
    assert compare_names(a, b) is NameMatch.SIMILAR
