"""Splink (DuckDB backend) on the same rows, side by side: unsupervised training as its tutorials do it,
default comparisons on first name, surname, city, email, phone and external_id; its time, the growth of
this process's peak memory while it runs, and its match probabilities for every pair it predicts."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from bench.imports import PeakRss

SEED = 6


NAME_BLOCKS = (("first_name", "surname"), ("surname", "city"), ("first_name", "city"))
TRAINING_BLOCKS = (("first_name",), ("surname",))


def splink_pairs(
    rows: list[dict[str, Any]],
    *,
    name_blocks: Sequence[Sequence[str]] = NAME_BLOCKS,
    training_blocks: Sequence[Sequence[str]] = TRAINING_BLOCKS,
) -> tuple[dict[tuple[str, str], float], dict[str, float]] | str:
    """({pair: match probability}, {"seconds", "rss_growth_mb"}) from Splink, or why it could not run.

    ``name_blocks`` are the prediction blocking rules besides one per identifier (email, phone,
    external_id) present; ``training_blocks`` the blocking rules of the expectation-maximisation rounds.
    The defaults are the tutorials'; a caller whose data has huge blocks on them (every contact sharing a
    first name) passes narrower ones, as a Splink user would after counting the comparisons."""
    try:
        import pandas as pd
        import splink.comparison_library as cl
        from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    except ImportError as error:
        return f"splink/duckdb not installed ({error}): pip install '.[bench]'"
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
    with PeakRss() as memory:
        before = memory.peak
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
        blocking = [block_on(*columns) for columns in name_blocks]
        for column in ("email", "phone", "external_id"):
            if frame[column].notna().any():
                blocking.append(block_on(column))
        settings = SettingsCreator(
            link_type="dedupe_only", comparisons=comparisons, blocking_rules_to_generate_predictions=blocking
        )
        linker = Linker(DuckDBAPI().register(frame), settings, log_level=None)  # type: ignore[no-untyped-call]
        linker.training.estimate_probability_two_random_records_match(
            [block_on("first_name", "surname", "city")], recall=0.7
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=SEED)
        for columns in training_blocks:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(*columns))
        predictions = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
        seconds = time.perf_counter() - start
    scored = {
        (min(a, b), max(a, b)): float(p)
        for a, b, p in zip(
            predictions["unique_id_l"],
            predictions["unique_id_r"],
            predictions["match_probability"],
            strict=True,
        )
    }
    return scored, {"seconds": seconds, "rss_growth_mb": (memory.peak - before) / 1e6}
