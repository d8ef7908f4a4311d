"""``tfsverify chaos [EXPERIMENT ...]``: run the catalogue under load, write one report.

Every experiment is read and checked first (a malformed experiment, SLO set or profile:
one line, exit 2, nothing touched). Then the selected target is brought up if it is not
running, the experiments run one after another in this process through the Chaos Toolkit
(rollbacks always played) with the tfsverify control putting each under gRPC load, a live
line shows where each one is, and a verdict table and ONE report folder
(``reports/<run-id>/`` or ``--out``) close the run. The target is taken down again if
this command started it.

Exit codes: 0 every assertion held, 1 an SLO breach (or a steady state that deviated),
2 bad input, 3 the target or the infrastructure failed, 130 interrupted (Ctrl-C: the
running experiment's rollbacks run, the partial report is written).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from tfsverify.chaos import control
from tfsverify.chaos.catalogue import Entry, default_files, load_catalogue
from tfsverify.chaos.display import LiveLine, experiment_line, failed_lines, verdict_table
from tfsverify.chaos.faultlog import FaultLog
from tfsverify.chaos.recover import recover
from tfsverify.chaos.session import RunSession, close_session, new_run_dir, open_session
from tfsverify.chaos.target import current_target, fault_log_path, use_target
from tfsverify.errors import (
    EXIT_BREACH,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TARGET,
    TfsverifyError,
)
from tfsverify.targets.base import Target

RUNTIME = {"rollbacks": {"strategy": "always"}, "hypothesis": {"strategy": "default"}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``tfsverify chaos``'s arguments to ``parser``."""
    parser.add_argument("experiments", nargs="*", type=Path, metavar="EXPERIMENT",
                        help="experiment files (default: every experiments/*.json)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="the report folder (default: reports/<run-id>)")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="background load profile for every experiment "
                             "(default: each experiment's own, scenarios/profiles/constant.yaml)")


def run(args: argparse.Namespace, target: Target | None = None) -> int:
    """Run ``tfsverify chaos``; returns the exit code (errors: one line on stderr)."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        # the target first: a context or namespace that is not allowed stops everything
        chosen = target or current_target()
        entries = load_catalogue(list(args.experiments) or default_files(), args.profile)
        return _run(entries, args, chosen, err)
    except TfsverifyError as exc:
        sys.stderr.write(f"tfsverify chaos: error: {exc}\n")
        return exc.exit_code


def _run(entries: list[Entry], args: argparse.Namespace, chosen: Target,
         err: Console) -> int:
    started = time.time()
    if args.out is not None:
        run_id, run_dir = args.out.name, args.out
    else:
        run_id, run_dir = new_run_dir(Path("reports"), started)
    run_dir.mkdir(parents=True, exist_ok=True)
    _log_to(run_dir / "chaostoolkit.log")
    use_target(chosen)
    session = RunSession(run_dir=run_dir, run_id=run_id, target=chosen.name,
                         started_unix=started, manages_target=True)
    open_session(session)
    started_target = False
    try:
        if not control.is_running(chosen):
            started_target = True
            with err.status("starting the local target", spinner="dots"):
                chosen.up()  # type: ignore[attr-defined]
        _run_all(entries, session, err)
    except KeyboardInterrupt:
        session.interrupted = True
    except TfsverifyError as exc:
        err.print(f"tfsverify chaos: error: {exc}", markup=False)
        return _finish(session, chosen, started_target, err, failed=exc.exit_code)
    return _finish(session, chosen, started_target, err)


def _run_all(entries: list[Entry], session: RunSession, err: Console) -> None:
    from chaoslib.run import Runner
    from chaoslib.types import Strategy

    for number, entry in enumerate(entries, start=1):
        session.current_file = str(entry.path)
        line = LiveLine(entry.name, number, len(entries))
        session.on_event = line.phase
        begun = time.monotonic()
        with Live(line, console=err, refresh_per_second=4, transient=True,
                  redirect_stdout=False, redirect_stderr=False):
            try:
                with Runner(Strategy.DEFAULT) as runner:
                    journal = runner.run(entry.experiment, {"runtime": RUNTIME})
                if journal.get("status") == "interrupted" and not _control_failed(session):
                    session.interrupted = True
            except KeyboardInterrupt:
                session.interrupted = True
        parts = [e for e in session.experiments if e.get("name") == entry.name]
        if parts:
            err.print(experiment_line(parts[-1], time.monotonic() - begun))
        if session.interrupted:
            break


def _control_failed(session: RunSession) -> bool:
    """The last experiment was stopped by a control error, not by Ctrl-C."""
    return bool(session.experiments and session.experiments[-1].get("error"))


def _finish(session: RunSession, target: Target, started_target: bool, err: Console,
            failed: int | None = None) -> int:
    """Report, recover what is left, target down; Ctrl-C is ignored meanwhile."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if session.interrupted:
            err.print("interrupted: rollbacks were played; writing the partial report "
                      "(Ctrl-C is ignored until the target is stopped)")
        close_session()
        _recover_leftovers(target, err)
        document: dict[str, Any] | None = None
        try:
            document, paths = session.write()
            out = Console(highlight=False)
            out.print(verdict_table(document))
            for line in failed_lines(document):
                out.print(line, markup=False)
            err.print(f"report: {paths[0].parent / 'report.html'}")
        except TfsverifyError as exc:
            err.print(f"tfsverify chaos: error: {exc}", markup=False)
            failed = failed or exc.exit_code
        if started_target:
            with err.status("stopping the local target", spinner="dots"):
                target.down()  # type: ignore[attr-defined]
        use_target(None)
    finally:
        signal.signal(signal.SIGINT, previous)
    if session.interrupted:
        return EXIT_INTERRUPTED
    if failed is not None:
        return failed
    verdict = document["verdict"] if document else "error"
    return {"pass": EXIT_OK, "breach": EXIT_BREACH}.get(verdict, EXIT_TARGET)


def _recover_leftovers(target: Target, err: Console) -> None:
    try:
        undone = recover(target, FaultLog(fault_log_path(target)))
    except TfsverifyError as exc:
        err.print(f"could not undo the faults left behind: {exc} (run tfsverify recover)",
                  markup=False)
        return
    for fault in undone:
        err.print(f"recovered {fault['kind']} {fault['subject']}: {fault['how']}", markup=False)


def _log_to(path: Path) -> None:
    """The Chaos Toolkit's log goes to the run folder, not to the terminal."""
    logger = logging.getLogger("chaostoolkit")
    for handler in list(logger.handlers):
        if getattr(handler, "_tfsverify", False):
            logger.removeHandler(handler)
            handler.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("[%(asctime)s %(levelname)s] %(message)s"))
    handler._tfsverify = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

