"""Resampling on latency histograms: the machinery under :mod:`tfsverify.perf.stats`.

A latency sample is held as a matrix: one row per measured second, one column per distinct
latency value (the *grid*), each cell the number of requests of that second with that
latency. Pooling seconds is a weighted sum of rows, so a bootstrap resample or a
permutation split is a matrix product, and its percentile a cumulative sum: thousands of
resamples cost milliseconds to seconds, with numpy only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

Second = tuple[np.ndarray, np.ndarray]  # (values, counts) of one second's requests
LatencySample = Sequence[Sequence[Second]]  # repetitions of seconds
EXACT_LIMIT = 3000  # enumerate every split of the permutation test up to this many
CHUNK = 256  # bootstrap rows evaluated at once (memory: CHUNK x grid)


def hdr_percentile(grid: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    """Percentile ``q`` of each row of ``counts`` (rows x grid), HdrHistogram's rank rule."""
    cumulative = np.cumsum(counts, axis=-1)
    total = cumulative[..., -1]
    target = np.maximum(np.floor(q / 100.0 * total + 0.5), 1)
    index = (cumulative < target[..., None]).sum(axis=-1)
    return np.asarray(grid[np.minimum(index, len(grid) - 1)], dtype=float)


def grid_of(*samples: LatencySample) -> np.ndarray:
    """Every distinct latency value of the samples, sorted."""
    values = [second[0] for sample in samples for rep in sample for second in rep]
    return np.unique(np.concatenate(values)) if values else np.zeros(1)


def count_matrix(sample: LatencySample,
                 grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seconds as rows of counts over ``grid``, and the repetition of each row."""
    rows, reps = [], []
    for number, rep in enumerate(sample):
        for values, counts in rep:
            row = np.zeros(len(grid))
            np.add.at(row, np.searchsorted(grid, values), counts)
            rows.append(row)
            reps.append(number)
    if not rows:
        raise ValueError("a latency sample needs at least one second with answers")
    return grid, np.vstack(rows), np.asarray(reps)


def bootstrap_pooled(
    grid: np.ndarray, counts: np.ndarray, rep: np.ndarray, q: float, resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Pooled percentile of ``resamples`` two-level resamples (repetitions, then seconds)."""
    reps = np.unique(rep)
    members = [np.flatnonzero(rep == r) for r in reps]
    weights = np.zeros((resamples, len(counts)))
    drawn = rng.integers(0, len(reps), size=(resamples, len(reps)))
    for slot in range(len(reps)):
        for position, blocks in enumerate(members):
            rows = np.flatnonzero(drawn[:, slot] == position)
            if rows.size:
                picks = rng.multinomial(len(blocks), np.full(len(blocks), 1 / len(blocks)),
                                        size=rows.size)
                weights[np.ix_(rows, blocks)] += picks
    return pooled(grid, weights, counts, q)


def pooled(grid: np.ndarray, weights: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    """Percentile ``q`` of each weighting (a row of ``weights``) of the seconds ``counts``."""
    out = np.empty(len(weights))
    for start in range(0, len(weights), CHUNK):
        chunk = weights[start : start + CHUNK] @ counts
        out[start : start + CHUNK] = hdr_percentile(grid, chunk, q)
    return out


def is_exact(base: np.ndarray, cand: np.ndarray) -> bool:
    """Whether every split of the two samples is enumerated (else random splits)."""
    return math.comb(len(base) + len(cand), len(base)) <= EXACT_LIMIT


def splits(n_base: int, n_cand: int, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """0/1 rows marking which units go to the baseline side: all splits, or random ones."""
    total = n_base + n_cand
    if math.comb(total, n_base) <= EXACT_LIMIT:
        combos = list(itertools.combinations(range(total), n_base))
        out = np.zeros((len(combos), total))
        for row, chosen in enumerate(combos):
            out[row, list(chosen)] = 1.0
        return out
    return random_splits(n_base, n_cand, permutations, rng)


def random_splits(n_base: int, n_cand: int, permutations: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``permutations`` random 0/1 rows with ``n_base`` ones each."""
    keys = rng.random((permutations, n_base + n_cand))
    ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
    return (ranks < n_base).astype(float)


def p_value(statistics: np.ndarray, observed: float, exact: bool) -> float:
    """Share of split statistics at least the observed one ((k+1)/(n+1) for random splits)."""
    extreme = int(np.sum(statistics >= observed - 1e-12 * max(1.0, observed)))
    if exact:
        return extreme / len(statistics)
    return (extreme + 1) / (len(statistics) + 1)


def interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of bootstrap ``values``."""
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
