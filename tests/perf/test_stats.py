"""The statistics: identical data show no change, a real shift is found, noise is not."""

from __future__ import annotations

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from tfsverify.perf import stats
from tfsverify.perf.samples import decode_sample, decode_second, encode_values_ms, merge

from .conftest import latency_sample

OPTIONS = {"resamples": 600, "permutations": 600, "confidence": 0.95}


def sample(seed: int, median_ms: float, reps: int = 3, seconds: int = 6) -> list:
    return decode_sample(latency_sample(np.random.default_rng(seed), reps, seconds, 150,
                                        median_ms))


@pytest.mark.parametrize("q", [50.0, 90.0, 99.0])
def test_identical_samples_show_exactly_no_change(q: float) -> None:
    data = sample(1, 3.0)
    estimate = stats.compare_latency(data, data, q, rng=np.random.default_rng(0), **OPTIONS)
    assert estimate.ratio == 1.0
    assert estimate.p_value == 1.0
    assert estimate.cliffs_delta == 0.0
    assert estimate.ratio_ci is not None
    assert estimate.ratio_ci[0] <= 1.0 <= estimate.ratio_ci[1]


def test_a_thirty_percent_shift_is_significant_and_its_interval_excludes_no_change() -> None:
    base, slow = sample(1, 3.0), sample(2, 3.9)
    estimate = stats.compare_latency(base, slow, 50.0, rng=np.random.default_rng(0), **OPTIONS)
    assert estimate.ratio == pytest.approx(1.3, abs=0.06)
    assert estimate.ratio_ci is not None and estimate.ratio_ci[0] > 1.0
    assert estimate.difference_ci[0] > 0
    assert estimate.p_value < 0.01
    assert estimate.cliffs_delta > 0.9


@pytest.mark.parametrize("seed", range(5))
def test_two_draws_of_the_same_distribution_are_not_shifted_by_much(seed: int) -> None:
    base, other = sample(10 + seed, 3.0), sample(20 + seed, 3.0)
    estimate = stats.compare_latency(base, other, 50.0, rng=np.random.default_rng(seed),
                                     **OPTIONS)
    assert estimate.ratio is not None and abs(estimate.ratio - 1) < 0.05
    assert estimate.ratio_ci is not None and estimate.ratio_ci[0] < 1.05


def test_pooled_percentile_follows_hdrhistograms_rank_rule() -> None:
    data = latency_sample(np.random.default_rng(3), 2, 4, 97, 5.0)
    merged = merge(text for rep in data for text in rep)
    grid = np.unique(np.concatenate([decode_second(t)[0] for rep in data for t in rep]))
    counts = np.zeros(len(grid))
    for rep in data:
        for text in rep:
            values, n = decode_second(text)
            np.add.at(counts, np.searchsorted(grid, values), n)
    for q in (1.0, 50.0, 90.0, 99.0, 99.9, 100.0):
        assert stats.hdr_percentile(grid, counts, q) == merged.get_value_at_percentile(q) / 1000


def test_decode_second_keeps_every_count() -> None:
    text = encode_values_ms([1.0, 1.0, 2.5, 900.0])
    values, counts = decode_second(text)
    assert counts.sum() == 4
    assert HdrHistogram.decode(text).get_total_count() == 4
    assert values[0] == pytest.approx(1.0, rel=1e-3)
    assert values[-1] == pytest.approx(900.0, rel=1e-3)


def test_scalar_comparison_uses_an_exact_permutation_test() -> None:
    rng = np.random.default_rng(0)
    same = stats.compare_scalar([300, 320], [300, 320], rng=rng, **OPTIONS)
    assert same.p_value == 1.0 and same.ratio == 1.0
    # 4 vs 4 completely separated: the smallest p-value of C(8,4) = 70 splits, 2/70
    apart = stats.compare_scalar([300, 310, 305, 320], [200, 210, 205, 199], rng=rng, **OPTIONS)
    assert apart.p_value == pytest.approx(2 / 70)
    assert apart.min_p_value == pytest.approx(2 / 70)
    assert apart.ratio_ci is not None and apart.ratio_ci[1] < 1.0
    assert apart.cliffs_delta == -1.0


def test_two_repetitions_per_side_can_never_be_significant() -> None:
    assert stats.min_p_value(2, 2, 1000) == pytest.approx(1 / 3)
    assert stats.min_p_value(4, 4, 1000) < 0.05


def test_scalar_with_a_zero_baseline_has_no_ratio() -> None:
    estimate = stats.compare_scalar([0.0, 0.0], [1.0, 2.0], rng=np.random.default_rng(0),
                                    **OPTIONS)
    assert estimate.ratio is None and estimate.difference == 1.5


@pytest.mark.parametrize(("delta", "label"), [(0.1, "negligible"), (-0.2, "small"),
                                               (0.4, "medium"), (-0.9, "large")])
def test_cliffs_delta_magnitudes(delta: float, label: str) -> None:
    assert stats.cliffs_magnitude(delta) == label


def test_cliffs_delta_counts_pairs() -> None:
    assert stats.cliffs_delta(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    assert stats.cliffs_delta(np.array([1.0, 3.0]), np.array([2.0])) == 0.0
