"""The pre-release performance report: sweep, ramp, spike, soak, mesh overhead, baselines.

``tfsverify perf`` (``nox -s perf``) runs a plan (``scenarios/perf/*.yaml``) against the
local target and writes ``reports/perf-<run-id>/{perf.json, report.html, report.md,
junit.xml}``; with a baseline, each metric is compared (bootstrap confidence interval,
permutation test, effect size) and judged ``faster``, ``slower`` or ``no detectable
change`` against ``scenarios/perf/thresholds.yaml``.

The public API::

    from tfsverify import perf

    plan = perf.load_plan("scenarios/perf/quick.yaml")
    thresholds = perf.load_thresholds("scenarios/perf/thresholds.yaml")
    document = perf.run_plan(plan, target, golden, progress, run_id=..., tls=..., target_info=...)
    document["comparison"] = perf.compare_documents(baseline, document, thresholds, "base.json")
    perf.write_report(document, "reports/perf-x", baseline)

Layers: this package sits beside ``tfsverify.chaos``; the ``report_*`` modules are pure
(no grpc, no processes).
"""

from tfsverify.perf.compare import check_environment, compare_documents, compare_metric
from tfsverify.perf.document import (
    SCHEMA_VERSION,
    as_baseline,
    check_document,
    fingerprint,
    load_document,
    write_document,
)
from tfsverify.perf.plan import Plan, load_plan, plan_from_dict
from tfsverify.perf.report_writer import write_report
from tfsverify.perf.runner import run_plan
from tfsverify.perf.thresholds import Rule, Thresholds, load_thresholds, thresholds_from_dict

__all__ = [
    "SCHEMA_VERSION",
    "Plan",
    "Rule",
    "Thresholds",
    "as_baseline",
    "check_document",
    "check_environment",
    "compare_documents",
    "compare_metric",
    "fingerprint",
    "load_document",
    "load_plan",
    "load_thresholds",
    "plan_from_dict",
    "run_plan",
    "thresholds_from_dict",
    "write_document",
    "write_report",
]
