"""The statistics of a baseline comparison, with numpy only (scipy is not a dependency).

Two kinds of metric are compared, baseline against candidate:

**Latency percentiles** (p50/p90/p99 of a measured part). The data of a side is its
repetitions, each a list of one-second *blocks* (the requests due in that second, as a
histogram). The statistic is the percentile of all the side's requests pooled, with
HdrHistogram's rank rule, so it equals the percentile of the merged histograms.

* the **confidence interval** of the ratio candidate/baseline comes from a two-level
  bootstrap: each resample draws the repetitions with replacement, then the seconds of
  each drawn repetition with replacement (seconds, not requests, are resampled because
  requests of one second are not independent: they queue behind each other); the interval
  is the percentile interval of ``resamples`` ratios;
* the **significance test** is a permutation test on the seconds: the seconds of both
  sides are pooled and split at random (every split, when there are few) and the p-value
  is the share of splits whose |log ratio| is at least the observed one;
* the **effect size** is the relative change of the pooled percentile, with Cliff's delta
  over the per-second percentiles (the probability that a candidate second is worse than
  a baseline second minus the reverse, -1..1).

**Latency differences** (what the sidecar adds: p99 through it minus p99 direct) compare
the difference of two pooled percentiles per side: the four samples are bootstrapped
independently, and the p-value comes from random splits of each path's seconds between
baseline and candidate.

**Scalars** (one number per repetition: the knee, CPU per request, recovery time) use the
mean of the repetitions, the same bootstrap over repetitions, an exact permutation test of
the difference of means, and Cliff's delta over the repetitions. Few repetitions cannot
reach significance: with ``n`` per side the smallest possible p-value is
``2 / C(2n, n)`` (0.33 for 2, 0.1 for 3, 0.029 for 4); :func:`min_p_value` says so.

Identical data on both sides give a ratio of exactly 1 and a p-value of 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tfsverify.perf.resampling import (
    EXACT_LIMIT,
    LatencySample,
    Second,
    bootstrap_pooled,
    count_matrix,
    grid_of,
    hdr_percentile,
    interval,
    is_exact,
    p_value,
    pooled,
    random_splits,
    splits,
)

__all__ = ["Estimate", "LatencySample", "Second", "cliffs_delta", "cliffs_magnitude",
           "compare_latency", "compare_latency_delta", "compare_scalar", "hdr_percentile",
           "min_p_value"]


@dataclass(frozen=True)
class Estimate:
    """One metric compared. ``ratio``/``ci_*`` are candidate/baseline (for scalars with a
    baseline of 0 or less, ``difference`` is used instead and the ratio fields are None)."""

    baseline: float
    candidate: float
    ratio: float | None
    ratio_ci: tuple[float, float] | None
    difference: float
    difference_ci: tuple[float, float]
    p_value: float
    cliffs_delta: float | None  # None for differences of two samples (no pairing of seconds)
    n_baseline: int  # units of the test: seconds (latency) or repetitions (scalar)
    n_candidate: int
    min_p_value: float  # the smallest p-value the test could give with these n


def compare_latency(
    baseline: LatencySample,
    candidate: LatencySample,
    q: float,
    *,
    resamples: int,
    permutations: int,
    confidence: float,
    rng: np.random.Generator,
) -> Estimate:
    """Compare percentile ``q`` of two latency samples (see the module docstring)."""
    grid, base, base_rep = count_matrix(baseline, grid_of(baseline, candidate))
    _, cand, cand_rep = count_matrix(candidate, grid)
    base_value = float(hdr_percentile(grid, base.sum(axis=0), q))
    cand_value = float(hdr_percentile(grid, cand.sum(axis=0), q))
    base_boot = bootstrap_pooled(grid, base, base_rep, q, resamples, rng)
    cand_boot = bootstrap_pooled(grid, cand, cand_rep, q, resamples, rng)
    ratios = cand_boot / base_boot
    p_value = _permutation_latency(grid, base, cand, q, permutations, rng)
    per_second_base = hdr_percentile(grid, base, q)
    per_second_cand = hdr_percentile(grid, cand, q)
    return Estimate(
        baseline=base_value,
        candidate=cand_value,
        ratio=cand_value / base_value,
        ratio_ci=interval(ratios, confidence),
        difference=cand_value - base_value,
        difference_ci=interval(cand_boot - base_boot, confidence),
        p_value=p_value,
        cliffs_delta=cliffs_delta(per_second_base, per_second_cand),
        n_baseline=len(base),
        n_candidate=len(cand),
        min_p_value=min_p_value(len(base), len(cand), permutations),
    )


def compare_scalar(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    resamples: int,
    permutations: int,
    confidence: float,
    rng: np.random.Generator,
) -> Estimate:
    """Compare the means of two lists of per-repetition values."""
    base = np.asarray(baseline, dtype=float)
    cand = np.asarray(candidate, dtype=float)
    base_boot = rng.choice(base, size=(resamples, len(base))).mean(axis=1)
    cand_boot = rng.choice(cand, size=(resamples, len(cand))).mean(axis=1)
    base_mean, cand_mean = float(base.mean()), float(cand.mean())
    use_ratio = base_mean > 0 and bool(np.all(base_boot > 0))
    return Estimate(
        baseline=base_mean,
        candidate=cand_mean,
        ratio=cand_mean / base_mean if use_ratio else None,
        ratio_ci=interval(cand_boot / base_boot, confidence) if use_ratio else None,
        difference=cand_mean - base_mean,
        difference_ci=interval(cand_boot - base_boot, confidence),
        p_value=_permutation_scalar(base, cand, permutations, rng),
        cliffs_delta=cliffs_delta(base, cand),
        n_baseline=len(base),
        n_candidate=len(cand),
        min_p_value=min_p_value(len(base), len(cand), permutations),
    )


def compare_latency_delta(
    baseline: tuple[LatencySample, LatencySample],
    candidate: tuple[LatencySample, LatencySample],
    q: float,
    *,
    resamples: int,
    permutations: int,
    confidence: float,
    rng: np.random.Generator,
) -> Estimate:
    """Compare what path B adds over path A at percentile ``q`` (e.g. sidecar over direct).

    Each side's statistic is ``pooled(B) - pooled(A)``; the interval bootstraps the four
    samples independently; the p-value comes from random splits of A's seconds and of B's
    seconds between baseline and candidate (a Monte Carlo permutation test).
    """
    grid = grid_of(*baseline, *candidate)
    (_, base_a, rep_ba), (_, base_b, rep_bb) = (count_matrix(x, grid) for x in baseline)
    (_, cand_a, rep_ca), (_, cand_b, rep_cb) = (count_matrix(x, grid) for x in candidate)

    def whole(counts: np.ndarray) -> float:
        return float(hdr_percentile(grid, counts.sum(axis=0), q))

    base_value = whole(base_b) - whole(base_a)
    cand_value = whole(cand_b) - whole(cand_a)
    boot = [bootstrap_pooled(grid, m, r, q, resamples, rng) for m, r in
            ((base_a, rep_ba), (base_b, rep_bb), (cand_a, rep_ca), (cand_b, rep_cb))]
    differences = (boot[3] - boot[2]) - (boot[1] - boot[0])
    perm = []
    for base, cand in ((base_a, cand_a), (base_b, cand_b)):
        both = np.vstack([base, cand])
        assign = random_splits(len(base), len(cand), permutations, rng)
        perm.append((pooled(grid, assign, both, q), pooled(grid, 1.0 - assign, both, q)))
    (a_left, a_right), (b_left, b_right) = perm
    statistic = np.abs((b_right - a_right) - (b_left - a_left))
    observed = abs(cand_value - base_value)
    return Estimate(
        baseline=base_value,
        candidate=cand_value,
        ratio=None,
        ratio_ci=None,
        difference=cand_value - base_value,
        difference_ci=interval(differences, confidence),
        p_value=p_value(statistic, observed, exact=False),
        cliffs_delta=None,
        n_baseline=len(base_a) + len(base_b),
        n_candidate=len(cand_a) + len(cand_b),
        min_p_value=1 / (permutations + 1),
    )


def cliffs_delta(baseline: np.ndarray, candidate: np.ndarray) -> float:
    """P(candidate > baseline) - P(candidate < baseline) over all pairs, in -1..1."""
    x = np.asarray(baseline, dtype=float)[:, None]
    y = np.asarray(candidate, dtype=float)[None, :]
    if x.size == 0 or y.size == 0:
        return 0.0
    return float(np.sign(y - x).mean())


def cliffs_magnitude(delta: float) -> str:
    """Romano et al.'s labels: negligible < 0.147 <= small < 0.33 <= medium < 0.474 <= large."""
    size = abs(delta)
    if size < 0.147:
        return "negligible"
    if size < 0.33:
        return "small"
    return "medium" if size < 0.474 else "large"


def min_p_value(n_baseline: int, n_candidate: int, permutations: int) -> float:
    """The smallest p-value a two-sided permutation test can give with these sample sizes."""
    splits = math.comb(n_baseline + n_candidate, n_baseline)
    if splits <= EXACT_LIMIT:
        return min(1.0, 2 / splits)
    return 1 / (permutations + 1)


# -- internals ------------------------------------------------------------------------


# -- the permutation tests -------------------------------------------------------


def _permutation_latency(
    grid: np.ndarray, base: np.ndarray, cand: np.ndarray, q: float, permutations: int,
    rng: np.random.Generator,
) -> float:
    both = np.vstack([base, cand])
    assign = splits(len(base), len(cand), permutations, rng)
    left = pooled(grid, assign, both, q)
    right = pooled(grid, 1.0 - assign, both, q)
    observed = abs(math.log(hdr_percentile(grid, cand.sum(0), q) /
                            hdr_percentile(grid, base.sum(0), q)))
    return p_value(np.abs(np.log(right / left)), observed, exact=is_exact(base, cand))


def _permutation_scalar(
    base: np.ndarray, cand: np.ndarray, permutations: int, rng: np.random.Generator
) -> float:
    both = np.concatenate([base, cand])
    assign = splits(len(base), len(cand), permutations, rng)
    left = (assign @ both) / len(base)
    right = ((1 - assign) @ both) / len(cand)
    observed = abs(cand.mean() - base.mean())
    return p_value(np.abs(right - left), observed, exact=is_exact(base, cand))


