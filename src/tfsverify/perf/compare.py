"""Comparing a run with a baseline: an environment check, then a verdict per metric.

**Environment.** Numbers from different machines or interpreters are not comparable. The
fingerprints' keys listed in ``thresholds.yaml`` (``environment.must_match``) must be
equal; other differing keys are warnings. :func:`check_environment` says which differ;
the command refuses a mismatch (exit 2) unless told to go on.

**Metrics.** Each metric present in both documents and matched by a threshold rule is
compared with :mod:`tfsverify.perf.stats` and gets one of three verdicts:

* ``slower``: significant (p-value < alpha **and** the confidence interval excludes no
  change) and worse than the threshold: more latency, more CPU, a lower knee;
* ``faster``: significant and better than the improvement threshold;
* ``no detectable change``: anything else, including a significant change smaller than
  the threshold, and too few repetitions for any test to be significant (noted).

A ``slower`` metric is a *regression* when it gates: its rule has ``gate`` true and the
baseline's metric was gating (a sweep step past the baseline's knee is reported only).
Metrics in one document only, or with no data, are ``not compared``.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tfsverify.perf.samples import decode_sample
from tfsverify.perf.stats import (
    Estimate,
    cliffs_magnitude,
    compare_latency,
    compare_latency_delta,
    compare_scalar,
)
from tfsverify.perf.thresholds import Rule, Thresholds

SLOWER, FASTER, NO_CHANGE, NOT_COMPARED = "slower", "faster", "no detectable change", "not compared"
VERDICTS = (SLOWER, FASTER, NO_CHANGE, NOT_COMPARED)
UNSTABLE_SPREAD = 0.25  # repetitions whose spread exceeds this share of their median


@dataclass(frozen=True)
class EnvironmentCheck:
    matches: bool
    mismatched: list[tuple[str, Any, Any]]  # must match, but differ: (key, baseline, candidate)
    differing: list[tuple[str, Any, Any]]  # may differ, and do

    def describe(self) -> str:
        keys = ", ".join(f"{k} ({b!r} vs {c!r})" for k, b, c in self.mismatched)
        return f"the baseline comes from another environment: {keys}"


def check_environment(baseline: Mapping[str, Any], candidate: Mapping[str, Any],
                      must_match: tuple[str, ...]) -> EnvironmentCheck:
    keys = sorted(set(baseline) | set(candidate))
    differ = [(k, baseline.get(k), candidate.get(k)) for k in keys
              if baseline.get(k) != candidate.get(k)]
    mismatched = [d for d in differ if d[0] in must_match]
    others = [d for d in differ if d[0] not in must_match]
    return EnvironmentCheck(not mismatched, mismatched, others)


@dataclass(frozen=True)
class MetricComparison:
    id: str
    title: str
    unit: str
    better: str
    verdict: str
    regression: bool
    gate: bool
    scale: str | None = None  # "ratio" (change in %) or "difference" (in the unit)
    baseline: float | None = None
    candidate: float | None = None
    change: float | None = None  # % for ratio, unit for difference
    change_ci: tuple[float, float] | None = None
    p_value: float | None = None
    cliffs_delta: float | None = None
    magnitude: str | None = None
    threshold: float | None = None
    n_baseline: int = 0
    n_candidate: int = 0
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["change_ci"] = list(self.change_ci) if self.change_ci else None
        out["notes"] = list(self.notes)
        return out


def compare_documents(baseline: Mapping[str, Any], candidate: Mapping[str, Any],
                      thresholds: Thresholds, baseline_source: str) -> dict[str, Any]:
    """The ``comparison`` section of the candidate's document."""
    env = check_environment(baseline["environment"], candidate["environment"],
                            thresholds.must_match)
    base_metrics = {m["id"]: m for m in baseline["metrics"]}
    cand_metrics = {m["id"]: m for m in candidate["metrics"]}
    results = []
    plan = candidate.get("plan", {}).get("name")
    for metric_id in [*cand_metrics, *(k for k in base_metrics if k not in cand_metrics)]:
        results.append(compare_metric(metric_id, base_metrics.get(metric_id),
                                      cand_metrics.get(metric_id), baseline["samples"],
                                      candidate["samples"], thresholds, plan))
    counts = {verdict: sum(r.verdict == verdict for r in results) for verdict in VERDICTS}
    regressions = [r.id for r in results if r.regression]
    return {
        "baseline": {"source": baseline_source, "run_id": baseline.get("run_id"),
                     "started_unix": baseline.get("started_unix"),
                     "plan": baseline.get("plan", {}).get("name")},
        "environment": {"matches": env.matches, "mismatched": env.mismatched,
                        "differing": env.differing},
        "thresholds": {"source": thresholds.source, "plan": plan,
                       "plan_rules": plan in thresholds.plan_rules, "alpha": thresholds.alpha,
                       "confidence": thresholds.confidence, "resamples": thresholds.resamples,
                       "permutations": thresholds.permutations, "seed": thresholds.seed},
        "metrics": [r.to_dict() for r in results],
        "counts": counts,
        "regressions": regressions,
        "verdict": "regression" if regressions else "no regression",
    }


def compare_metric(metric_id: str, base: Mapping[str, Any] | None,
                   cand: Mapping[str, Any] | None, base_samples: Mapping[str, Any],
                   cand_samples: Mapping[str, Any], thresholds: Thresholds,
                   plan: str | None = None) -> MetricComparison:
    known = cand or base
    assert known is not None
    head = {"id": metric_id, "title": known.get("title", metric_id),
            "unit": known.get("unit", ""), "better": known["better"]}
    rule = thresholds.rule_for(metric_id, plan)

    def skipped(note: str) -> MetricComparison:
        return MetricComparison(**head, verdict=NOT_COMPARED, regression=False, gate=False,
                                notes=(note,))

    if base is None or cand is None:
        return skipped("only in the candidate" if base is None else "only in the baseline")
    if rule is None:
        return skipped("no threshold rule matches this metric")
    estimate = _estimate(metric_id, base, cand, base_samples, cand_samples, thresholds)
    if estimate is None:
        return skipped("no data on one side")
    gate = rule.gate and bool(base.get("gate", True))
    return _judge(head, estimate, rule, thresholds.alpha, gate, base, cand)


def _estimate(metric_id: str, base: Mapping[str, Any], cand: Mapping[str, Any],
              base_samples: Mapping[str, Any], cand_samples: Mapping[str, Any],
              thresholds: Thresholds) -> Estimate | None:
    rng = np.random.default_rng([thresholds.seed, zlib.crc32(metric_id.encode())])
    if base["kind"] == "latency_delta":
        old = (decode_sample(base_samples.get(base["minus_samples"], [])),
               decode_sample(base_samples.get(base["samples"], [])))
        new = (decode_sample(cand_samples.get(cand["minus_samples"], [])),
               decode_sample(cand_samples.get(cand["samples"], [])))
        if not all(any(sample) for sample in (*old, *new)):
            return None
        return compare_latency_delta(old, new, float(base["percentile"]),
                                     resamples=thresholds.resamples,
                                     permutations=thresholds.permutations,
                                     confidence=thresholds.confidence, rng=rng)
    if base["kind"] == "latency":
        left = decode_sample(base_samples.get(base["samples"], []))
        right = decode_sample(cand_samples.get(cand["samples"], []))
        if not any(left) or not any(right):
            return None
        return compare_latency(left, right, float(base["percentile"]),
                               resamples=thresholds.resamples,
                               permutations=thresholds.permutations,
                               confidence=thresholds.confidence, rng=rng)
    left_values = [v for v in base.get("values", []) if v is not None]
    right_values = [v for v in cand.get("values", []) if v is not None]
    if not left_values or not right_values:
        return None
    return compare_scalar(left_values, right_values, resamples=thresholds.resamples,
                          permutations=thresholds.permutations,
                          confidence=thresholds.confidence, rng=rng)


def _judge(head: dict[str, Any], estimate: Estimate, rule: Rule, alpha: float, gate: bool,
           base: Mapping[str, Any], cand: Mapping[str, Any]) -> MetricComparison:
    notes: list[str] = []
    if rule.regression_abs is not None:
        scale, change, ci = "difference", estimate.difference, estimate.difference_ci
        regress, improve = rule.regression_abs, rule.improvement_abs or rule.regression_abs
    elif estimate.ratio is not None and estimate.ratio_ci is not None:
        scale = "ratio"
        change = (estimate.ratio - 1) * 100
        ci = ((estimate.ratio_ci[0] - 1) * 100, (estimate.ratio_ci[1] - 1) * 100)
        assert rule.regression_pct is not None
        regress, improve = rule.regression_pct, rule.improvement_pct or rule.regression_pct
    else:
        return MetricComparison(**head, verdict=NOT_COMPARED, regression=False, gate=False,
                                notes=("the baseline is 0 or less: a percentage is undefined; "
                                       "give this metric a regression_abs rule",))
    worse = change if head["better"] == "lower" else -change
    significant = estimate.p_value < alpha and not ci[0] <= 0 <= ci[1]
    verdict = NO_CHANGE
    if significant and worse >= regress:
        verdict = SLOWER
    elif significant and -worse >= improve:
        verdict = FASTER
    elif significant:
        notes.append("significant but within the threshold")
    if estimate.min_p_value >= alpha:
        notes.append(f"{estimate.n_baseline} vs {estimate.n_candidate} samples cannot reach "
                     f"p < {alpha:g} (smallest possible p {estimate.min_p_value:.2g}): "
                     "add repetitions")
    if scale == "ratio":
        notes += [f"{side}: {text}" for side, metric in (("baseline", base), ("candidate", cand))
                  for text in _stability(metric)]
    if not gate and verdict == SLOWER:
        notes.append("reported only (does not gate)")
    return MetricComparison(
        **head, verdict=verdict, regression=verdict == SLOWER and gate, gate=gate, scale=scale,
        baseline=estimate.baseline, candidate=estimate.candidate, change=change, change_ci=ci,
        p_value=estimate.p_value, cliffs_delta=estimate.cliffs_delta,
        magnitude=(None if estimate.cliffs_delta is None
                   else cliffs_magnitude(estimate.cliffs_delta)), threshold=regress,
        n_baseline=estimate.n_baseline, n_candidate=estimate.n_candidate, notes=tuple(notes),
    )


def _stability(metric: Mapping[str, Any]) -> list[str]:
    """pyperf's caution: say so when repetitions disagree with each other."""
    values = [v for v in metric.get("repetition_values") or [] if v is not None]
    if len(values) < 2:
        return []
    middle = float(np.median(values))
    spread = max(values) - min(values)
    if middle > 0 and spread / middle > UNSTABLE_SPREAD:
        return [f"repetitions differ by {spread / middle:.0%} of their median: unstable"]
    return []
