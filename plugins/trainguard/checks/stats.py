"""Sampling and bounds every duty shares: the per-record sampling key, Wilson intervals."""

from __future__ import annotations

import hashlib
import math


def sample_key(dataset_name: str, record_id: str) -> float:
    """A uniform [0, 1) value per record: the random order samples are drawn in.

    Derived from the record id (not the row position or the version digest), so adding a
    review file or reordering shards keeps the same sample.
    """
    digest = hashlib.blake2b(
        record_id.encode(), digest_size=8, key=dataset_name.encode()[:64]
    ).digest()
    return int.from_bytes(digest, "big") / 2**64


def sample_key_bound(wanted: int, population: int, *, miss: float = 1e-12) -> float:
    """A key below which at least ``wanted`` of ``population`` sampling keys fall, except
    with probability ``miss`` (1.0 when every record is wanted).

    The keys are uniform, so the count below ``q`` is Binomial(population, q); Chernoff's
    lower tail, P(X <= mu - t*sqrt(mu)) <= exp(-t^2/2), gives the smallest ``mu = q *
    population`` with ``mu - t*sqrt(mu) >= wanted``. A shard scores only the records below
    the bound; the reduce scores any sampled record above it, so this sets the cost, never
    the result.
    """
    if population <= wanted:
        return 1.0
    t = math.sqrt(2 * math.log(1 / miss))
    root = (t + math.sqrt(t * t + 4 * wanted)) / 2
    return min(1.0, root * root / population)


def wilson_interval(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (good at small rates and small n)."""
    if n == 0:
        return 0.0, 1.0
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def smallest_keys(rows: list[int], keys: list[float], size: int) -> list[int]:
    """The ``size`` rows with the smallest sampling keys: a random sample, stable per id."""
    return sorted(rows, key=keys.__getitem__)[:size]
