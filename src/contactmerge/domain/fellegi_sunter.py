"""The Fellegi-Sunter pair model of fuzzy suggestions (R5), and its fitting by EM without labels.

Each compared pair of contacts is a *comparison vector*: one discrete level per field ("same",
"nickname or typo", "different"...), or None where either contact lacks the field. For each field and
level, ``m`` is the probability of that level among pairs of records of one person and ``u`` among
pairs of two people; a level's weight is ``log2(m / u)`` (evidence for, when positive), and a pair's
match weight is the prior's log-odds plus its levels' weights: its match probability follows
(Fellegi & Sunter 1969, as Splink computes it).

``fit`` estimates them by expectation-maximisation on the workspace's own pairs, no labels needed
(Winkler 1988). Two ways:

- ``u`` given (the scan's way, as Splink does it): ``u`` comes from random pairs of contacts
  (``estimate_u``, ``with_same_rates``), which are two people all but always, and EM estimates only
  ``m`` and the prior
  over *all* pairs of the workspace (``total_pairs``): the pairs never compared (no shared block) count
  as non-matches, the compared ones are weighed by their posterior. Blocking makes compared strangers
  agree on the blocked field far more than strangers do, so estimating ``u`` on compared pairs alone
  splits them by block instead of by person; random pairs do not.
- ``u`` not given: the classic two-class mixture over the given pairs, ``m``, ``u`` and the prior all
  estimated (right when the pairs are not pre-selected by agreement).

The starting model enters as a Dirichlet prior worth ``strength`` pairs per field, so a small workspace
keeps close to it; under ``min_pairs`` pairs, when EM ends with the first field's best level counting
against a match or rarer among matches than another level (the classes swapped, or split on another
mode of the data than "one person"), or with less than one match expected, the start is kept.
Vectors are counted by pattern first: EM then costs the number of distinct patterns (hundreds), not of
pairs (millions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

Vector = tuple[str | None, ...]  # one level (or None: not compared) per field, in the model's order

FLOOR = 1e-6  # no probability of a level is ever 0 or 1: a weight stays finite
MIN_PAIRS = 200  # fewer candidate pairs than this: the default weights are kept
STRENGTH = 50.0  # the default model counts as this many pairs in every estimate
MAX_ITERATIONS = 100
TOLERANCE = 1e-6


@dataclass(frozen=True)
class FieldModel:
    """The levels of one field, best first, with the m and u probability of each."""

    levels: tuple[str, ...]
    m: tuple[float, ...]
    u: tuple[float, ...]

    def weight(self, level: str) -> float:
        """``log2(m / u)`` of a level: how much it says for (positive) or against a match."""
        i = self.levels.index(level)
        return math.log2(self.m[i] / self.u[i])


@dataclass(frozen=True)
class PairModel:
    """Prior probability that a compared pair is one person, and each field's m and u."""

    fields: Mapping[str, FieldModel]  # in the order of a comparison vector
    prior: float
    pairs: int = 0  # candidate pairs it was fitted on; 0 for the defaults
    iterations: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.fields)

    def prior_weight(self) -> float:
        return math.log2(self.prior / (1.0 - self.prior))

    def weights(self, vector: Vector) -> list[tuple[str, str, float]]:
        """(field, level, weight) of every compared field of a vector."""
        return [
            (name, level, field.weight(level))
            for (name, field), level in zip(self.fields.items(), vector, strict=True)
            if level is not None
        ]

    def match_weight(self, vector: Vector) -> float:
        return self.prior_weight() + sum(w for _, _, w in self.weights(vector))

    def probability(self, vector: Vector) -> float:
        """The match probability of a pair with this vector, in [0, 1]."""
        return probability(self.match_weight(vector))


def probability(match_weight: float) -> float:
    """A match weight (log2 odds) as a probability."""
    if match_weight < -60:  # 2**60: beyond any float's resolution of 1 - p
        return 0.0
    return 1.0 / (1.0 + math.pow(2.0, -match_weight))


def count_patterns(vectors: Sequence[Vector]) -> dict[Vector, int]:
    counts: dict[Vector, int] = {}
    for vector in vectors:
        counts[vector] = counts.get(vector, 0) + 1
    return counts


def estimate_u(patterns: Mapping[Vector, int], start: PairModel) -> dict[str, tuple[float, ...]]:
    """Each field's ``u`` from the vectors of random pairs: level counts with half a pair added to
    every level, so a level no random pair showed (the same email) is rare, not impossible."""
    names = start.names
    counts = [dict.fromkeys(f.levels, 0.5) for f in start.fields.values()]
    for vector, count in patterns.items():
        for i, level in enumerate(vector):
            if level is not None:
                counts[i][level] += count
    found = {}
    for i, name in enumerate(names):
        total = sum(counts[i].values())
        found[name] = tuple(counts[i][level] / total for level in start.fields[name].levels)
    return found


def with_same_rates(
    u: Mapping[str, tuple[float, ...]], same: Mapping[str, float]
) -> dict[str, tuple[float, ...]]:
    """``u`` with each field's first level ("same") set to the rate at which two random contacts share
    the value, counted exactly over a sample's every pair (a few random pairs cannot tell one in a
    million from one in ten thousand), the other levels scaled to fill the rest."""
    found = dict(u)
    for name, rate in same.items():
        first, rest = u[name][0], u[name][1:]
        scale = (1.0 - rate) / max(1.0 - first, FLOOR)
        found[name] = (max(rate, FLOOR * FLOOR), *(p * scale for p in rest))
    return found


def fit(
    patterns: Mapping[Vector, int],
    start: PairModel,
    *,
    u: Mapping[str, tuple[float, ...]] | None = None,
    total_pairs: int | None = None,
    strength: float = STRENGTH,
    min_pairs: int = MIN_PAIRS,
    max_iterations: int = MAX_ITERATIONS,
    tolerance: float = TOLERANCE,
) -> PairModel:
    """The model that best explains the counted vectors (EM), shrunk towards ``start``: with ``u``
    fixed, ``m`` and the prior among ``total_pairs`` pairs; without, ``m``, ``u`` and the prior among
    the given pairs. ``start`` itself when there are too few pairs or EM lands on swapped classes."""
    compared = sum(patterns.values())
    if compared < min_pairs:
        return start
    total = max(total_pairs or compared, compared)
    model = start
    if u is not None:
        fields = {
            name: FieldModel(field.levels, field.m, tuple(max(p, FLOOR) for p in u[name]))
            for name, field in start.fields.items()
        }
        prior = min(max(0.1 * compared / total, FLOOR), 0.5)  # a tenth of the compared pairs, to start
        model = PairModel(fields, prior)
    for iteration in range(1, max_iterations + 1):
        updated = _step(patterns, model, start, strength, total, fixed_u=u is not None)
        change = _distance(model, updated)
        model = replace(updated, pairs=compared, iterations=iteration)
        if change < tolerance:
            break
    first = next(iter(model.fields.values()))
    # one person's records agree exactly on the first field more often than nearly, and that counts for
    # a match: otherwise the classes swapped, or split on another mode of the data than "one person"
    ordered = first.weight(first.levels[0]) > 0.0 and first.m[0] >= max(first.m[1:], default=0.0)
    if not ordered or model.prior * total < 1.0:
        return start
    return model


def _step(
    patterns: Mapping[Vector, int],
    model: PairModel,
    start: PairModel,
    strength: float,
    total: int,
    *,
    fixed_u: bool,
) -> PairModel:
    """One expectation (each pattern's match probability) and maximisation (weighted level counts);
    with ``fixed_u``, u stays as given."""
    names = model.names
    m_counts = [dict.fromkeys(f.levels, 0.0) for f in model.fields.values()]
    u_counts = [dict.fromkeys(f.levels, 0.0) for f in model.fields.values()]
    matched = 0.0
    for vector, count in patterns.items():
        p = model.probability(vector)
        matched += count * p
        for i, level in enumerate(vector):
            if level is not None:
                m_counts[i][level] += count * p
                u_counts[i][level] += count * (1.0 - p)
    # with u from random pairs, the pairs never compared are non-matches: they count in the total only
    prior = matched / total if fixed_u else (matched + strength * start.prior) / (total + strength)
    prior = min(max(prior, FLOOR * FLOOR), 1.0 - FLOOR)
    fields = {}
    for i, name in enumerate(names):
        levels = start.fields[name].levels
        m = _shrunk(m_counts[i], levels, start.fields[name].m, strength)
        if not fixed_u:
            u = _shrunk(u_counts[i], levels, start.fields[name].u, strength)
        else:  # as given: the few matches among random pairs are noise beside the strangers
            u = model.fields[name].u
        fields[name] = FieldModel(levels, m, u)
    return PairModel(fields, prior)


def _shrunk(
    counts: Mapping[str, float], levels: tuple[str, ...], prior: tuple[float, ...], strength: float
) -> tuple[float, ...]:
    """Level probabilities from weighted counts plus ``strength`` pseudo-counts spread as ``prior``."""
    seen = sum(counts.values())
    raw = [
        max((counts[level] + strength * p) / (seen + strength), FLOOR)
        for level, p in zip(levels, prior, strict=True)
    ]
    norm = sum(raw)
    return tuple(r / norm for r in raw)


def _distance(a: PairModel, b: PairModel) -> float:
    change = abs(math.log(a.prior / b.prior))  # relative: a prior of 1e-5 moves by tiny amounts
    for name, field in a.fields.items():
        other = b.fields[name]
        change = max(change, *(abs(x - y) for x, y in zip(field.m + field.u, other.m + other.u, strict=True)))
    return change
