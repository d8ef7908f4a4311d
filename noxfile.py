"""Sessions: `nox -s tests`, `nox -s lint`, and the local target's `up`/`down`.

Every session that needs TensorFlow shares one environment, `.nox/shared`, installed once
and again only when pyproject.toml changes: TensorFlow is 2+ GB and about 75 s to install,
so a venv per session would install it once per session.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "validate-deploy"]
nox.options.default_venv_backend = "none"

ROOT = Path(__file__).parent
SHARED = ROOT / ".nox" / "shared"


def tool(name: str) -> str:
    """A program of the shared environment, by absolute path (nox would search the host PATH)."""
    return str(SHARED / "bin" / name)


def shared_env(session: nox.Session) -> dict[str, str]:
    """Create or refresh the shared environment; return the env to run its tools with."""
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = SHARED / ".installed-from"
    if not stamp.exists() or stamp.read_text() != want:
        session.log("installing the shared environment (TensorFlow: about 2.4 GB)")
        session.run(sys.executable, "-m", "venv", str(SHARED), external=True)
        pip = str(SHARED / "bin" / "pip")
        session.run(pip, "install", "-q", "--upgrade", "pip", external=True)
        session.run(pip, "install", "-q", "-e", f"{ROOT}[dev]", external=True)
        stamp.write_text(want)
    env = dict(os.environ)
    env["PATH"] = f"{SHARED / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(SHARED)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def run_keeping_exit_code(session: nox.Session, *command: str, env: dict[str, str]) -> None:
    """Run a tfsverify verb; a failure ends nox with the verb's own exit code.

    nox would turn every failure into exit 1, and scripts tell an SLO breach (1) from bad
    input (2) and a broken target (3) by the code.
    """
    session.log(" ".join(command))
    code = subprocess.run(command, env=env, check=False).returncode
    if code != 0:
        raise SystemExit(code)


@nox.session
def tests(session: nox.Session) -> None:
    """The project's test suite (what CI runs). Extra arguments go to pytest."""
    env = shared_env(session)
    session.run(tool("pytest"), *session.posargs, env=env, external=True)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, mypy and the import-direction contracts of DESIGN.md."""
    env = shared_env(session)
    session.run(tool("ruff"), "check", "src", "tests", "noxfile.py", env=env, external=True)
    session.run(tool("mypy"), env=env, external=True)
    session.run(tool("lint-imports"), env=env, external=True)


@nox.session(name="validate-deploy")
def validate_deploy(session: nox.Session) -> None:
    """Render every overlay of reference-deploy/, validate it against the Kubernetes (1.29 to
    current) and Istio/KEDA/Prometheus Operator schemas and run the policy checks. Rendered
    YAML goes to reports/rendered/. Extra arguments go to the command (-- --only kind)."""
    env = shared_env(session)
    session.run(tool("tfsverify"), "validate-deploy", "--out", "reports/rendered", *session.posargs,
                env=env, external=True)


@nox.session
def chaos(session: nox.Session) -> None:
    """Every experiment of experiments/ under gRPC load against the selected target
    (TFSVERIFY_TARGET, local by default); one report in reports/<run-id>/. Exit 0 pass,
    1 SLO breach, 2 bad input, 3 target failure, 130 interrupted."""
    env = shared_env(session)
    run_keeping_exit_code(session, tool("tfsverify"), "chaos", *session.posargs, env=env)


@nox.session
def perf(session: nox.Session) -> None:
    """The pre-release performance report (scenarios/perf/); `-- --quick` for the short plan.
    Starts and stops the local target if it is not running; writes reports/perf-<run-id>/;
    exit 1 on a regression against reports/baselines/<plan>.json."""
    env = shared_env(session)
    run_keeping_exit_code(session, tool("tfsverify"), "perf", *session.posargs, env=env)


@nox.session
def up(session: nox.Session) -> None:
    """Start the local target (the reference deployment as processes on this machine)."""
    env = shared_env(session)
    session.run(tool("tfsverify"), "up", *session.posargs, env=env, external=True)
    session.run(tool("tfsverify"), "status", env=env, external=True)


@nox.session
def down(session: nox.Session) -> None:
    """Stop the local target."""
    env = shared_env(session)
    session.run(tool("tfsverify"), "down", env=env, external=True)
