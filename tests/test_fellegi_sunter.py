"""The Fellegi-Sunter pair model (R5 fuzzy suggestions): match-weight arithmetic and EM without labels."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from contactmerge.domain.fellegi_sunter import (
    FieldModel,
    PairModel,
    Vector,
    count_patterns,
    estimate_u,
    fit,
)
from contactmerge.domain.fuzzy import DEFAULT_MODEL, judge

TRUE = PairModel(
    {
        "name": FieldModel(("same", "close", "different"), (0.80, 0.15, 0.05), (0.05, 0.10, 0.85)),
        "email": FieldModel(("same", "different"), (0.60, 0.40), (0.01, 0.99)),
        "city": FieldModel(("same", "different"), (0.90, 0.10), (0.30, 0.70)),
        "phone": FieldModel(("same", "different"), (0.50, 0.50), (0.02, 0.98)),
    },
    prior=0.3,
)
START = PairModel(  # far from the truth, on the right side of 1 for each agreeing level
    {
        "name": FieldModel(("same", "close", "different"), (0.5, 0.3, 0.2), (0.2, 0.2, 0.6)),
        "email": FieldModel(("same", "different"), (0.5, 0.5), (0.1, 0.9)),
        "city": FieldModel(("same", "different"), (0.7, 0.3), (0.5, 0.5)),
        "phone": FieldModel(("same", "different"), (0.7, 0.3), (0.1, 0.9)),
    },
    prior=0.1,
)


def _draw(model: PairModel, pairs: int, seed: int, missing: float = 0.2) -> list[Vector]:
    rng = random.Random(seed)
    vectors = []
    for _ in range(pairs):
        match = rng.random() < model.prior
        vector: list[str | None] = []
        for field in model.fields.values():
            if rng.random() < missing:
                vector.append(None)  # one of the two contacts lacks the field
                continue
            probabilities = field.m if match else field.u
            vector.append(rng.choices(field.levels, probabilities)[0])
        vectors.append(tuple(vector))
    return vectors


def test_em_recovers_m_u_and_the_prior_from_an_unlabelled_mixture() -> None:
    fitted = fit(count_patterns(_draw(TRUE, 20_000, seed=1)), START, strength=1.0)
    assert fitted.pairs == 20_000 and fitted.iterations > 1
    assert fitted.prior == pytest.approx(TRUE.prior, abs=0.02)
    for name, field in TRUE.fields.items():
        assert fitted.fields[name].m == pytest.approx(field.m, abs=0.03), name
        assert fitted.fields[name].u == pytest.approx(field.u, abs=0.03), name
    vector: Vector = ("close", "different", "same", None)
    assert fitted.probability(vector) == pytest.approx(TRUE.probability(vector), abs=0.05)


def test_em_with_u_from_random_pairs_recovers_m_and_the_prior_among_all_pairs() -> None:
    """The scan's way: u from random pairs, and only the pairs that share a block (here: a name at
    least close, or the same email or phone) compared, counted among all the workspace's pairs."""
    pairs = _draw(replace(TRUE, prior=1.0), 1_000, seed=4) + _draw(replace(TRUE, prior=0.0), 199_000, seed=5)

    def blocked(vector: Vector) -> bool:
        return vector[0] in ("same", "close") or vector[1] == "same" or vector[3] == "same"

    u = estimate_u(count_patterns(_draw(replace(TRUE, prior=0.0), 50_000, seed=6)), TRUE)
    for name, field in TRUE.fields.items():
        assert u[name] == pytest.approx(field.u, abs=0.01), name
    compared = count_patterns([v for v in pairs if blocked(v)])
    fitted = fit(compared, START, u=u, total_pairs=len(pairs), strength=1.0)
    # the matches blocking finds, less some whose evidence is too weak to tell from strangers
    found = sum(1 for v in pairs[:1_000] if blocked(v))
    assert 0.75 * found <= fitted.prior * len(pairs) <= found
    for name, field in TRUE.fields.items():
        assert fitted.fields[name].u == u[name]  # kept as given
        signs = [fitted.fields[name].weight(level) > 0 for level in field.levels]
        assert signs == [field.weight(level) > 0 for level in field.levels], name
    assert fitted.fields["name"].m[0] == pytest.approx(TRUE.fields["name"].m[0], abs=0.06)
    assert fitted.fields["city"].m == pytest.approx(TRUE.fields["city"].m, abs=0.03)


def test_too_few_pairs_keep_the_default_weights() -> None:
    few = count_patterns(_draw(TRUE, 50, seed=2))
    assert fit(few, START) is START
    # and a small workspace is pulled towards the defaults: the prior counts as many pairs
    some = count_patterns(_draw(TRUE, 300, seed=3))
    loose, tight = fit(some, START, strength=1.0), fit(some, START, strength=10_000.0)
    assert abs(tight.prior - START.prior) < abs(loose.prior - START.prior)


def test_match_weight_and_probability() -> None:
    model = PairModel({"email": FieldModel(("same", "different"), (0.9, 0.1), (0.1, 0.9))}, prior=0.5)
    assert model.fields["email"].weight("same") == pytest.approx(math.log2(9))
    assert model.probability(("same",)) == pytest.approx(0.9)
    assert model.probability(("different",)) == pytest.approx(0.1)
    assert model.probability((None,)) == pytest.approx(0.5)  # a field not compared says nothing


def test_clearly_different_names_cap_the_score_whatever_the_weights() -> None:
    vector: Vector = ("different", "same", "same", "same", "same")
    assert DEFAULT_MODEL.probability(vector) > 0.99  # the weights alone would call them one person
    score, reasons = judge(DEFAULT_MODEL, vector)
    assert score == 0.5 and reasons[-1] == "names disagree: at most 0.5"
    same_score, same_reasons = judge(DEFAULT_MODEL, ("same", "same", None, None, None))
    assert same_score > 0.99
    assert same_reasons == (
        f"same email ({DEFAULT_MODEL.fields['email'].weight('same'):+.1f})",
        f"same name ({DEFAULT_MODEL.fields['name'].weight('same'):+.1f})",
    )
