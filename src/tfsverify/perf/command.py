"""``tfsverify perf``: the pre-release performance report (``nox -s perf``).

Runs the plan (``scenarios/perf/full.yaml``, or ``quick.yaml`` with ``--quick``) against
the local target, starting it if it is not running (and stopping it afterwards), then
writes ``reports/perf-<run-id>/{perf.json, report.html, report.md, junit.xml}``. The plan's
estimated duration is printed first, then one progress line per run.

Baseline: ``--baseline FILE`` compares with that stored run; it must come from the same
environment (else exit 2, unless ``--allow-env-mismatch``). Without ``--baseline`` the
stored ``reports/baselines/<plan>.json`` is used when it exists and matches the
environment (a mismatch is then a notice, not an error); ``--no-baseline`` compares with
nothing. ``--candidate FILE`` compares an existing run instead of running one.
``--save-baseline FILE`` stores this run as a baseline.

Exit status: 0 no regression; 1 a gating metric is slower beyond its threshold; 2 bad
input (plan, thresholds, baseline, environment mismatch); 3 the target failed; 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any, TextIO

from tfsverify.errors import (
    EXIT_BREACH,
    EXIT_INTERRUPTED,
    EXIT_OK,
    BadInput,
    TfsverifyError,
)
from tfsverify.perf.compare import check_environment, compare_documents
from tfsverify.perf.document import as_baseline, fingerprint, load_document, write_document
from tfsverify.perf.plan import Plan, load_plan
from tfsverify.perf.progress import ProgressLine, clock, estimate_s, steps_of
from tfsverify.perf.report_writer import write_report
from tfsverify.perf.runner import PART_NAMES, run_plan
from tfsverify.perf.target_session import (
    TargetSettings,
    describe,
    settings_from_env,
    target_session,
)
from tfsverify.perf.thresholds import Thresholds, load_thresholds

SCENARIOS = Path("scenarios") / "perf"
BASELINES = Path("reports") / "baselines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (dests start with ``perf_``: no clash with global options)."""
    add = parser.add_argument
    add("--quick", dest="perf_quick", action="store_true",
        help="the short plan (scenarios/perf/quick.yaml, a few minutes)")
    add("--plan", dest="perf_plan", type=Path, metavar="FILE",
        help="the plan to run (default: scenarios/perf/full.yaml, or quick.yaml with --quick)")
    add("--baseline", dest="perf_baseline", type=Path, metavar="FILE",
        help="compare with this stored run (default: reports/baselines/<plan>.json if any)")
    add("--no-baseline", dest="perf_no_baseline", action="store_true",
        help="compare with nothing")
    add("--candidate", dest="perf_candidate", type=Path, metavar="FILE",
        help="compare this stored run (perf.json) with the baseline instead of running")
    add("--out", dest="perf_out", type=Path, metavar="DIR",
        help="report folder (default: reports/perf-<run-id>)")
    add("--thresholds", dest="perf_thresholds", type=Path, metavar="FILE",
        help="regression thresholds (default: scenarios/perf/thresholds.yaml)")
    add("--save-baseline", dest="perf_save_baseline", type=Path, metavar="FILE",
        help="also store this run as a baseline in FILE")
    add("--allow-env-mismatch", dest="perf_allow_env_mismatch", action="store_true",
        help="compare with a baseline from another environment anyway (with a warning)")
    add("--only", dest="perf_only", metavar="PARTS",
        help=f"run only these parts, comma-separated: {','.join(PART_NAMES)}")


def run(args: argparse.Namespace, target: TargetSettings | None = None,
        out: TextIO | None = None) -> int:
    """Run the command; return its exit status (errors are printed as one line)."""
    out = out or sys.stdout
    progress = ProgressLine(0, 0.0)
    try:
        return _run(args, target, out, progress)
    except TfsverifyError as err:
        progress.say(f"tfsverify perf: error: {err}")
        return err.exit_code
    except KeyboardInterrupt:
        progress.say("tfsverify perf: interrupted (the target is left as it was found)")
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace, target: TargetSettings | None, out: TextIO,
         progress: ProgressLine) -> int:
    thresholds = load_thresholds(args.perf_thresholds or _default(SCENARIOS / "thresholds.yaml"))
    if args.perf_candidate is not None:
        return _compare_only(args, thresholds, out)
    plan = load_plan(args.perf_plan or _default(SCENARIOS / (
        "quick.yaml" if args.perf_quick else "full.yaml")))
    only = _only(args.perf_only)
    settings = target or settings_from_env()
    if settings.kind != "local":
        raise BadInput(f"target {settings.kind!r}: the performance report measures the local "
                       "target only (the mesh overhead needs direct access to the pods)")
    environment = fingerprint(settings.kind)
    baseline, source, skipped = _baseline(args, plan, environment, thresholds)
    from tfsverify.serving.golden import load_golden

    golden = load_golden()
    run_id = "perf-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = args.perf_out or Path("reports") / run_id
    running, pods = describe(settings)
    steps = [s for s in steps_of(plan, pods) if only is None or s.part in only]
    progress.start(len(steps), estimate_s(steps, target_start=not running))
    progress.say(f"tfsverify perf: plan {plan.name} ({plan.source}): {len(steps)} runs"
                 f"{'' if running else ' after starting the local target'}, about "
                 f"{clock(progress.estimate_s)} (min:s); report in {directory}")
    with target_session(settings) as session:
        document = run_plan(plan, session.target, golden, progress, run_id=run_id,
                            tls=session.target.tls(), target_info=session.info(), only=only)
    return _finish(document, baseline, source, skipped, thresholds, args, directory, out)


def _finish(document: dict[str, Any], baseline: dict[str, Any] | None, source: str | None,
            skipped: str | None, thresholds: Thresholds, args: argparse.Namespace,
            directory: Path, out: TextIO) -> int:
    if baseline is not None and source is not None:
        document["comparison"] = compare_documents(baseline, document, thresholds, source)
    elif skipped:
        document["comparison"] = {"skipped": skipped, "metrics": [], "regressions": []}
    write_report(document, directory, baseline)
    if args.perf_save_baseline is not None:
        write_document(as_baseline(document), args.perf_save_baseline)
        print(f"baseline stored in {args.perf_save_baseline}", file=out)
    comparison = document.get("comparison") or {}
    regressions = comparison.get("regressions", [])
    counts = comparison.get("counts")
    verdict = ("not compared" if not counts else
               f"{len(regressions)} regression(s); " + ", ".join(
                   f"{n} {v}" for v, n in counts.items() if n))
    print(f"report: {directory / 'report.html'} ({verdict})", file=out)
    for metric_id in regressions:
        print(f"regression: {metric_id}", file=out)
    return EXIT_BREACH if regressions else EXIT_OK


def _compare_only(args: argparse.Namespace, thresholds: Thresholds, out: TextIO) -> int:
    candidate = load_document(args.perf_candidate)
    if args.perf_baseline is None:
        raise BadInput("--candidate needs --baseline FILE to compare with")
    baseline = load_document(args.perf_baseline)
    _check_env(baseline, candidate["environment"], thresholds, args, str(args.perf_baseline))
    directory = args.perf_out or Path("reports") / f"{candidate['run_id']}-compared"
    return _finish(candidate, baseline, str(args.perf_baseline), None, thresholds, args,
                   directory, out)


def _baseline(args: argparse.Namespace, plan: Plan, environment: dict[str, Any],
              thresholds: Thresholds) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """(baseline document, its source, why none is compared) — checked before any load."""
    if args.perf_no_baseline:
        return None, None, None
    if args.perf_baseline is not None:
        baseline = load_document(args.perf_baseline)
        _check_env(baseline, environment, thresholds, args, str(args.perf_baseline))
        return baseline, str(args.perf_baseline), None
    stored = BASELINES / f"{plan.name}.json"
    if not stored.is_file():
        return None, None, None
    baseline = load_document(stored)
    check = check_environment(baseline["environment"], environment, thresholds.must_match)
    if not check.matches and not args.perf_allow_env_mismatch:
        return None, None, (f"the stored baseline {stored} was not compared: {check.describe()}; "
                            "give --baseline FILE --allow-env-mismatch to compare anyway")
    return baseline, str(stored), None


def _check_env(baseline: dict[str, Any], environment: dict[str, Any], thresholds: Thresholds,
               args: argparse.Namespace, source: str) -> None:
    check = check_environment(baseline["environment"], environment, thresholds.must_match)
    if not check.matches and not args.perf_allow_env_mismatch:
        raise BadInput(f"{source}: {check.describe()} (--allow-env-mismatch to compare anyway)")


def _only(text: str | None) -> set[str] | None:
    if not text:
        return None
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(names - set(PART_NAMES))
    if unknown:
        raise BadInput(f"--only: unknown part {', '.join(unknown)}; "
                       f"known: {', '.join(PART_NAMES)}")
    return names


def _default(relative: Path) -> Path:
    """``relative`` in the current directory, else in the checkout we are installed from."""
    if relative.exists():
        return relative
    return Path(__file__).resolve().parents[3] / relative
