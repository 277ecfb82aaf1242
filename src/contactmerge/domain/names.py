"""Whether two names are written for one person or belong to two (the link rule's name test).

Names are folded first (accents, case, punctuation and token order do not count; titles and suffixes
such as "Dr" and "Jr" are dropped), then the tokens of the shorter name are paired with tokens of the
longer one: equal, a nickname of the same given name (``NICKNAMES``), an initial, or one typo (an edit
or a swap of two neighbouring letters, in tokens of four letters or more). Left-over tokens of the longer
name are a missing middle name. The rule errs towards "the same person": a shared identifier is held
only when the names clearly disagree.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from itertools import permutations


class NameMatch(enum.IntEnum):
    UNKNOWN = 0  # one or both names missing/empty (nothing to compare)
    DIFFERENT = 1  # clearly different people
    SIMILAR = 2  # related but not compatible enough (same last name, other first name; two typos)
    COMPATIBLE = 3  # the same person written differently: nickname, initial, one typo, order, middle name
    SAME = 4  # identical after folding case, accents, punctuation and token order


# Given name -> its usual English short forms. A short form may belong to several names ("charlie":
# charles and charlotte); two tokens match when their sets of full names meet.
_SHORT_FORMS: Mapping[str, str] = {
    "abigail": "abby abbie gail",
    "abraham": "abe bram",
    "albert": "al bert bertie",
    "alexander": "alex alec al lex sandy xander sasha",
    "alexandra": "alex alexa lexi sandra sandy sasha",
    "alfred": "al alf alfie fred freddie",
    "allison": "ali allie",
    "amanda": "mandy manda",
    "andrew": "andy drew",
    "angela": "angie",
    "anna": "ann anne annie",
    "anthony": "tony ant",
    "antonio": "tony toni",
    "arthur": "art artie",
    "barbara": "barb barbie babs",
    "benjamin": "ben benny benji",
    "bernard": "bernie",
    "beverly": "bev",
    "bradley": "brad",
    "caroline": "carol carrie caro",
    "catherine": "cathy cath kate katie kathy cat",
    "charles": "charlie chuck chas chaz",
    "charlotte": "charlie lottie lotte",
    "christina": "chris tina chrissy",
    "christine": "chris chrissy tina",
    "christopher": "chris kit topher",
    "cynthia": "cindy",
    "daniel": "dan danny",
    "danielle": "dani",
    "david": "dave davey",
    "deborah": "deb debbie debby",
    "dennis": "denny",
    "dominic": "dom",
    "donald": "don donny",
    "dorothy": "dot dottie dolly",
    "douglas": "doug",
    "edward": "ed eddie ted teddy ned",
    "eleanor": "ellie nell nora",
    "elizabeth": "liz lizzie beth betty bess eliza libby lisa elisa",
    "emily": "em emmy",
    "eugene": "gene",
    "frances": "fran frankie fanny",
    "francis": "frank frankie fran",
    "frederick": "fred freddie freddy",
    "gabriel": "gabe",
    "gabriella": "gabby gabi ella",
    "geoffrey": "geoff jeff",
    "gerald": "gerry jerry",
    "gregory": "greg",
    "harold": "hal harry",
    "henry": "hank harry hal",
    "isabella": "bella izzy isa",
    "jacob": "jake",
    "james": "jim jimmy jamie",
    "janet": "jan",
    "jeffrey": "jeff",
    "jennifer": "jen jenny jenn",
    "jessica": "jess jessie",
    "john": "jack johnny jon",
    "jonathan": "jon jonny nathan",
    "joseph": "joe joey",
    "josephine": "jo josie",
    "joshua": "josh",
    "judith": "judy jude",
    "katherine": "kate katie kathy kat kay kit",
    "kathleen": "kathy kate",
    "kenneth": "ken kenny",
    "kimberly": "kim kimmy",
    "lawrence": "larry laurie",
    "leonard": "leo len lenny",
    "leslie": "les",
    "louis": "lou",
    "louise": "lou lulu",
    "madeline": "maddie maddy",
    "margaret": "maggie meg peggy marge madge greta",
    "matthew": "matt matty",
    "michael": "mike mikey mick mickey",
    "michelle": "shelly",
    "nathaniel": "nate nat nathan",
    "nicholas": "nick nicky",
    "nicole": "nikki nicky",
    "oliver": "ollie",
    "pamela": "pam",
    "patricia": "pat patty trish tricia",
    "patrick": "pat paddy",
    "peter": "pete",
    "philip": "phil",
    "rebecca": "becky becca",
    "richard": "rick ricky dick rich richie",
    "robert": "bob bobby rob robbie bert",
    "ronald": "ron ronnie",
    "samantha": "sam sammy",
    "samuel": "sam sammy",
    "sandra": "sandy",
    "stephanie": "steph",
    "stephen": "steve stevie",
    "steven": "steve stevie",
    "susan": "sue susie suzy",
    "suzanne": "sue suzy",
    "theodore": "ted teddy theo",
    "thomas": "tom tommy",
    "timothy": "tim timmy",
    "valerie": "val",
    "victoria": "vicky tori",
    "vincent": "vince vinny",
    "walter": "walt wally",
    "william": "bill billy will willie liam",
    "zachary": "zach zack",
}


_INDEX: dict[str, set[str]] = {}
for _full, _shorts in _SHORT_FORMS.items():
    for _token in (_full, *_shorts.split()):
        _INDEX.setdefault(_token, set()).add(_full)
NICKNAMES: Mapping[str, frozenset[str]] = {t: frozenset(full) for t, full in _INDEX.items()}  # token -> names
del _full, _shorts, _token, _INDEX

# Words around a name that say nothing about who it is.
_TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "jr", "sr", "ii", "iii", "iv", "phd"}
)
# Whole names that stand for "no name given", numbers aside ("Lead 123", "Website visitor"): a messenger
# or a form writes them for people it does not know, so they are no evidence of a second person.
_PLACEHOLDERS = frozenset(
    {
        "null",
        "none",
        "undefined",
        "unknown",
        "nan",
        "na",
        "nn",
        "noname",
        "unnamed",
        "anonymous",
        "visitor",
        "websitevisitor",
        "guest",
        "lead",
        "user",
        "customer",
    }
)
_TOKEN = re.compile(r"[^\W_]+")
_APOSTROPHES = re.compile(r"['\u2019`]")
_MAX_PAIRED = 6  # tokens left after the equal ones are paired: more than any real name has


@lru_cache(maxsize=65536)
def name_tokens(name: str) -> tuple[str, ...]:
    """The folded tokens of a name in sorted order: "Ó'Brien, Zoë" gives ("obrien", "zoe")."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    tokens = _TOKEN.findall(_APOSTROPHES.sub("", bare))
    if "".join(t for t in tokens if not t.isdigit()) in _PLACEHOLDERS:
        return ()
    kept = [t for t in tokens if t not in _TITLES]
    return tuple(sorted(kept or tokens))


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Edits (insert, delete, replace, swap of two neighbours) from ``a`` to ``b``; ``limit + 1`` once
    it is known to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    if len(set(a) ^ set(b)) > 2 * limit:  # each edit changes the letters used by two at most
        return limit + 1
    before = previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        here, last = a[i - 1], a[i - 2] if i > 1 else ""
        current = [i]
        left = i
        for j in range(1, len(b) + 1):
            there = b[j - 1]
            edits = previous[j - 1] + (here != there)  # the cheapest of replace, delete, insert, swap
            if previous[j] + 1 < edits:
                edits = previous[j] + 1
            if left + 1 < edits:
                edits = left + 1
            if i > 1 and j > 1 and here == b[j - 2] and last == there and before[j - 2] + 1 < edits:
                edits = before[j - 2] + 1
            current.append(edits)
            left = edits
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return min(previous[-1], limit + 1)


@lru_cache(maxsize=1 << 17)  # common first and last names meet again and again across a scan's pairs
def _pair(a: str, b: str) -> tuple[int, bool] | None:
    """(typo edits, whether the pair is more than an initial) when two different tokens may be one
    name part."""
    if len(a) == 1 or len(b) == 1:
        return (0, False) if a[0] == b[0] else None
    if NICKNAMES.get(a, frozenset({a})) & NICKNAMES.get(b, frozenset({b})):
        return 0, True
    if min(len(a), len(b)) >= 4:
        edits = edit_distance(a, b)
        if edits <= 2:
            return edits, True
    return None


def _paired(short: list[str], long: list[str], shared_full: bool) -> NameMatch | None:
    """COMPATIBLE when some pairing of every token of ``short`` with its own token of ``long`` costs at
    most one typo and pairs more than initials; SIMILAR when pairings exist but none does; else None."""
    pairs = {(a, b): _pair(a, b) for a in short for b in long}
    found = None
    for chosen in permutations(long, len(short)):
        edits, full = 0, shared_full
        for position, token in enumerate(short):
            paired = pairs[token, chosen[position]]
            if paired is None:
                break
            edits += paired[0]
            full = full or paired[1]
        else:
            if edits <= 1 and full:
                return NameMatch.COMPATIBLE
            found = NameMatch.SIMILAR
    return found


def _split(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[list[str], list[str], list[str]]:
    """The tokens of two sorted token tuples left over in each, and those in both (with multiplicity)."""
    rest_a: list[str] = []
    rest_b: list[str] = []
    shared: list[str] = []
    i = j = 0
    while i < len(first) and j < len(second):
        x, y = first[i], second[j]
        if x == y:
            shared.append(x)
            i += 1
            j += 1
        elif x < y:
            rest_a.append(x)
            i += 1
        else:
            rest_b.append(y)
            j += 1
    rest_a.extend(first[i:])
    rest_b.extend(second[j:])
    return rest_a, rest_b, shared


def compare_names(a: str | None, b: str | None) -> NameMatch:
    """How two names of contacts relate, from SAME to DIFFERENT; UNKNOWN when either is missing."""
    if not a or not b:
        return NameMatch.UNKNOWN
    first, second = name_tokens(a), name_tokens(b)
    if not first or not second:
        return NameMatch.UNKNOWN
    if first == second:
        return NameMatch.SAME
    # equal tokens pair with each other, the rest need a search: both tuples are sorted, so one walk
    # splits them (as a multiset difference would, each rest in sorted order)
    rest_a, rest_b, shared = _split(first, second)
    shared_full = any(len(token) > 1 for token in shared)
    short, long = sorted((rest_a, rest_b), key=len)
    if len(long) <= _MAX_PAIRED:
        found = _paired(short, long, shared_full)
        if found is not None:
            return found
    if shared_full or any((paired := _pair(x, y)) is not None and paired[1] for x in rest_a for y in rest_b):
        return NameMatch.SIMILAR
    return NameMatch.DIFFERENT


def names_disagree(a: str | None, b: str | None) -> bool:
    """True only when two known names are clearly of different people (``NameMatch.DIFFERENT``).

    SIMILAR names (a shared last name, two typos) are not "clearly" different: the link rule asks for
    more than that where an identifier is often shared (role mailboxes, phones), not here.
    """
    return compare_names(a, b) is NameMatch.DIFFERENT
