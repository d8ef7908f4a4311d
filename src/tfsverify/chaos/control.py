"""The Chaos Toolkit control that puts every experiment under load and judges it.

Declare it in an experiment's ``controls``::

    {"name": "tfsverify", "provider": {"type": "python", "module": "tfsverify.chaos.control",
     "arguments": {"name": "pod-kill", "slo": "scenarios/slo/default.yaml",
                   "profile": "scenarios/profiles/constant.yaml", "rate_rps": 40}}}

Arguments (all optional but ``slo``):

``name``         the experiment's id in the report (default: from the title)
``slo``          the SLO set to judge the run with (``scenarios/slo/*.yaml``)
``profile``      the background load profile (default ``scenarios/profiles/constant.yaml``)
``rate_rps``     its rate (default 40); ``warmup_s`` its warm-up (default 3)
``baseline_s``   measured seconds of load before the experiment goes on (default 6)
``recovery_s``   seconds of load kept after the last activity (default 6)
``run_dir``      where the report goes (default ``reports/<run-id>``)

What it does: before the experiment, it brings the local target up if it is not running
(and takes it down afterwards), starts the load engine in the background, and waits for
warm-up plus baseline. It records every activity's phase and times. After the experiment
(rollbacks included) it keeps the load for ``recovery_s``, stops it, splits the windows,
judges the SLO set, and writes ``reports/<run-id>/`` — or, under ``tfsverify chaos``,
adds the experiment to the run's one report. Relative paths are read from the current
directory, else from the tfsverify checkout.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tfsverify import slo
from tfsverify.chaos import context as ctx
from tfsverify.chaos.background import BackgroundLoad
from tfsverify.chaos.jobload import JobLoad, background_load
from tfsverify.chaos.results import experiment_part, hypothesis_verdicts, journal_error, touched_by
from tfsverify.chaos.session import RunSession, current_session, new_run_dir
from tfsverify.chaos.target import current_target
from tfsverify.errors import BadInput, TfsverifyError
from tfsverify.load.engine import Progress
from tfsverify.load.profiles import Profile, load_profile
from tfsverify.serving.golden import load_golden

log = logging.getLogger("chaostoolkit")
CHECKOUT = Path(__file__).resolve().parents[3]
DEFAULT_PROFILE = "scenarios/profiles/constant.yaml"


@dataclass(frozen=True)
class ControlArguments:
    name: str
    slo: Path
    profile: Path
    rate_rps: float = 40.0
    warmup_s: float = 3.0
    baseline_s: float = 6.0
    recovery_s: float = 6.0
    run_dir: Path | None = None


def resolve(path: str | Path) -> Path:
    """``path`` as given if it exists (relative to the current directory), else relative to
    the tfsverify checkout; BadInput when neither exists."""
    candidate = Path(path)
    if candidate.exists():
        return candidate
    if not candidate.is_absolute() and (CHECKOUT / candidate).exists():
        return CHECKOUT / candidate
    raise BadInput(f"{path}: no such file")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "experiment"


def parse_arguments(title: str, arguments: dict[str, Any]) -> ControlArguments:
    """The control's arguments, checked (BadInput naming the bad one)."""
    if not arguments.get("slo"):
        raise BadInput("the tfsverify control needs an \"slo\" argument (an SLO set file)")
    numbers = {}
    for key in ("rate_rps", "warmup_s", "baseline_s", "recovery_s"):
        if key in arguments:
            value = arguments[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise BadInput(f"control argument {key}={value!r}: must be a number >= 0")
            numbers[key] = float(value)
    if numbers.get("rate_rps") == 0:
        raise BadInput("control argument rate_rps must be more than 0")
    run_dir = arguments.get("run_dir")
    return ControlArguments(
        name=str(arguments.get("name") or _slug(title)),
        slo=resolve(arguments["slo"]),
        profile=resolve(arguments.get("profile") or DEFAULT_PROFILE),
        run_dir=Path(run_dir) if run_dir else None,
        **numbers,
    )


def build_profile(args: ControlArguments) -> Profile:
    profile = load_profile(args.profile).with_overrides(rate_rps=args.rate_rps)
    return replace(profile, warmup_s=args.warmup_s)


@dataclass
class _Run:
    """The running experiment."""

    args: ControlArguments
    title: str
    session: RunSession
    standalone: bool
    slo_set: slo.SloSet | None = None
    load: BackgroundLoad | JobLoad | None = None
    started_target: bool = False
    phase: str = "setup"
    hypotheses: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    open_records: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    finished: bool = False


_lock = threading.Lock()
_state: list[_Run] = []


def _current() -> _Run | None:
    return _state[0] if _state else None


# -- Chaos Toolkit hooks --------------------------------------------------------------------

def before_experiment_control(context: Any = None, **arguments: Any) -> None:
    """Target up if needed, load started, warm-up and baseline waited for."""
    experiment = context if isinstance(context, dict) else {}
    title = str(experiment.get("title", "experiment"))
    session = current_session()
    run: _Run | None = None
    try:
        args = parse_arguments(title, arguments)
        if session is None:
            now = time.time()
            if args.run_dir is not None:
                run_name, run_dir = args.run_dir.name, args.run_dir
            else:
                run_name, run_dir = new_run_dir(Path("reports"), now)
            session = RunSession(run_dir=run_dir, run_id=run_name, target="local",
                                 started_unix=now, current_file=_guess_file(args.name))
            run = _Run(args, title, session, standalone=True)
        else:
            run = _Run(args, title, session, standalone=False)
        _state[:] = [run]
        ctx.set_experiment(args.name)
        run.slo_set = slo.load_slo_set(args.slo)
        profile = build_profile(args)
        golden = load_golden()
        target = current_target()
        session.target = target.name
        if not session.manages_target and not is_running(target):
            run.started_target = True
            session.event("starting the local target")
            target.up()  # type: ignore[attr-defined]
        run.load = background_load(target, profile, golden)
        run.load.start()
        session.event("baseline")
        run.load.wait_until(run.load.measured_from_unix + args.baseline_s)
    except TfsverifyError as exc:
        _fail(run, str(exc))
    except KeyboardInterrupt:
        if run is not None:
            run.session.interrupted = True
        raise


def live_progress() -> Progress | None:
    """The running experiment's latest load progress (None before the load starts)."""
    run = _current()
    return run.load.latest if run is not None and run.load is not None else None


def is_running(target: Any) -> bool:
    is_running = getattr(target, "is_running", None)
    return bool(is_running()) if callable(is_running) else True


def _guess_file(name: str) -> str | None:
    path = Path("experiments") / f"{name}.json"
    return str(path) if path.exists() else None


def _fail(run: _Run | None, message: str) -> None:
    from chaoslib.exceptions import InterruptExecution

    log.error("tfsverify: %s", message)
    if run is not None:
        run.error = run.error or message
    raise InterruptExecution(f"tfsverify: {message}")


def before_hypothesis_control(context: Any = None, **arguments: Any) -> None:
    run = _current()
    if run is not None:
        run.phase = "hypothesis-before" if run.hypotheses == 0 else "hypothesis-after"
        run.hypotheses += 1
        run.session.event(run.phase)


def before_method_control(context: Any = None, **arguments: Any) -> None:
    run = _current()
    if run is not None:
        run.phase = "method"
        run.session.event("method")


def before_rollback_control(context: Any = None, **arguments: Any) -> None:
    run = _current()
    if run is not None:
        run.phase = "rollback"
        run.session.event("rollbacks")


def before_activity_control(context: Any = None, **arguments: Any) -> None:
    run = _current()
    if run is None or not isinstance(context, dict):
        return
    record: dict[str, Any] = {"name": str(context.get("name", "")), "type": context.get("type"),
              "phase": run.phase, "start_unix": time.time(), "end_unix": None,
              "status": None, "output": None, "touched": [], "detail": None}
    with _lock:
        run.records.append(record)
        run.open_records[threading.get_ident()] = record
    if run.phase in ("method", "rollback"):
        run.session.event(f"{run.phase}: {record['name']}")


def after_activity_control(context: Any = None, state: Any = None, **arguments: Any) -> None:
    run = _current()
    if run is None:
        return
    with _lock:
        record = run.open_records.pop(threading.get_ident(), None)
    if record is None:
        return
    record["end_unix"] = time.time()
    state = state if isinstance(state, dict) else {}
    record["status"] = state.get("status")
    record["output"] = state.get("output")
    record["touched"] = touched_by(state.get("output"))
    detail = context_note()
    if detail:
        record["detail"] = detail
        run.notes[f"{record['phase']}:{record['name']}"] = detail


def context_note() -> str | None:
    return ctx.take_note()


def after_experiment_control(context: Any = None, state: Any = None, **arguments: Any) -> None:
    """Recovery load, then windows, verdicts and the report (or the run's document)."""
    run = _current()
    if run is None or run.finished:
        return
    journal = state if isinstance(state, dict) else {}
    try:
        if run.load is not None and run.error is None and not run.session.interrupted:
            run.session.event("recovery")
            run.load.wait_until(_last_activity_end(run) + run.args.recovery_s)
    except KeyboardInterrupt:
        run.session.interrupted = True
        journal["status"] = "interrupted"
    except TfsverifyError as exc:
        run.error = run.error or str(exc)
    finish(run, journal)


def cleanup_control(**arguments: Any) -> None:
    """Safety net: an experiment that ended without its after-control still stops its load,
    gets its (partial) report and takes the target down if the control started it."""
    run = _current()
    if run is not None and not run.finished:
        run.error = run.error or "the experiment ended before its control could finish"
        finish(run, {})
    ctx.set_experiment(None)


def _last_activity_end(run: _Run) -> float:
    ends = [r["end_unix"] for r in run.records if r.get("end_unix")]
    return max(ends, default=time.time())


def finish(run: _Run, journal: dict[str, Any]) -> None:
    """Stop the load, add the experiment to the session, write the report if standalone."""
    run.finished = True
    now = time.time()
    for record in run.records:  # an activity cut short by Ctrl-C ends now
        if record["end_unix"] is None:
            record["end_unix"], record["status"] = now, "interrupted"
    load = None
    try:
        if run.load is not None:
            load = run.load.stop()
    except TfsverifyError as exc:
        run.error = run.error or str(exc)
    status = str(journal.get("status") or ("interrupted" if run.session.interrupted
                                           else "failed"))
    if status == "interrupted" and run.error is None:
        run.session.interrupted = True  # Ctrl-C, which the Chaos Toolkit caught
    if run.session.interrupted:
        status = "interrupted"
    error = run.error or journal_error(journal)
    try:
        part = experiment_part(
            name=run.args.name, title=run.title, file=run.session.current_file,
            status=status, deviated=bool(journal.get("deviated")), error=error,
            activities=run.records, load=load, slo_set=run.slo_set,
            slo_file=str(run.args.slo),
            extra_verdicts=hypothesis_verdicts(run.args.name, journal, run.notes),
        )
    except TfsverifyError as exc:
        part = {"name": run.args.name, "title": run.title, "status": status,
                "error": error or str(exc), "verdicts": [], "activities": run.records}
    run.session.experiments.append(part)
    if part.get("error") and journal and journal.get("status") == "completed":
        # an action that raised leaves the Chaos Toolkit's status "completed": the fault
        # may not have happened, so the run proves nothing; `chaos run` must not exit 0
        journal["status"] = "failed"
        log.error("tfsverify: %s: %s", part["name"], part["error"])
    breached = [v["id"] for v in part.get("verdicts") or [] if not v.get("passed")]
    if breached and journal:
        # the plain `chaos run` exits 1 only on a failed status or a deviation: an SLO
        # breach is a deviation of the run's steady state
        journal["deviated"] = True
        journal["tfsverify"] = {"verdict": "breach", "failed": breached}
        log.warning("tfsverify: SLO breach: %s", ", ".join(breached))
    if journal:
        run.session.journals.append(journal)
    run.session.event("done")
    if run.standalone:
        try:
            _, paths = run.session.write()
            log.info("tfsverify: %s: report written to %s", part["name"], paths[0].parent)
        except TfsverifyError as exc:
            log.error("tfsverify: %s", exc)
    if run.started_target:
        _down(run)
    ctx.set_experiment(None)


def _down(run: _Run) -> None:
    target = current_target()
    down = getattr(target, "down", None)
    if callable(down):
        run.session.event("stopping the local target")
        try:
            down()
        except TfsverifyError as exc:
            log.error("tfsverify: could not stop the local target: %s", exc)
