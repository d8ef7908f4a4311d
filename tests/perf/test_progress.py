"""The duration said up front, the progress lines, and the target settings from the environment."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tfsverify.errors import BadInput
from tfsverify.load import Progress
from tfsverify.perf.plan import load_plan
from tfsverify.perf.progress import ProgressLine, clock, estimate_s, steps_of
from tfsverify.perf.target_session import settings_from_env

REPO = Path(__file__).resolve().parents[2]
OVERLAY = str(REPO / "reference-deploy" / "overlays" / "local")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_every_run_of_the_plan_is_counted_with_the_mesh_per_pod_and_way() -> None:
    plan = load_plan(REPO / "scenarios/perf/full.yaml")
    steps = steps_of(plan, mesh_pods=3)
    mesh = [s for s in steps if s.part == "mesh"]
    assert len(mesh) == 3 * 3 * 2  # pods x repetitions x (direct, sidecar)
    assert steps[-1].part == "engine_benchmark"
    assert estimate_s(steps) == pytest.approx(estimate_s(steps, target_start=False) + 15)
    assert clock(125.4) == "2:05"


def test_a_log_gets_one_line_per_run() -> None:
    stream = io.StringIO()
    line = ProgressLine(2, 60.0, stream)
    line.begin("sweep rep 1/2")
    line.tick(Progress(3, 10, False, 30, 30, 0, 0, 0, 10.0, 4.2, 3))
    line.end("300 sent")
    assert stream.getvalue().count("\n") == 1
    assert "[ 1/2 0:00 of ~1:00] sweep rep 1/2: 300 sent" in stream.getvalue()


def test_a_terminal_gets_a_live_line() -> None:
    stream = Terminal()
    line = ProgressLine(1, 30.0, stream)
    line.begin("mesh pod 1/1 rep 1/1 direct")
    line.tick(Progress(3, 10, False, 30, 30, 0, 0, 0, 100.0, 4.2, 3))
    assert "\r" in stream.getvalue() and "100 req/s  p99 4.2 ms" in stream.getvalue()
    line.end("done")
    assert stream.getvalue().endswith("done\n")


def test_target_settings_come_from_the_environment(tmp_path: Path) -> None:
    settings = settings_from_env({"TFSVERIFY_STATE_DIR": str(tmp_path), "TFSVERIFY_OVERLAY":
                                  OVERLAY, "TFSVERIFY_UP_TIMEOUT_S": "60"})
    assert settings.state_dir == tmp_path.resolve() and settings.up_timeout_s == 60
    default = settings_from_env({"XDG_STATE_HOME": str(tmp_path), "TFSVERIFY_OVERLAY": OVERLAY})
    assert default.state_dir == (tmp_path / "tfsverify" / "local").resolve()


@pytest.mark.parametrize(
    ("env", "message"),
    [({"TFSVERIFY_UP_TIMEOUT_S": "soon"}, "not a number"),
     ({"TFSVERIFY_OVERLAY": "/nonexistent"}, "no kustomization.yaml"),
     ({"TFSVERIFY_TARGET": "kubernetes"}, "local target only")],
)
def test_bad_target_settings_are_bad_input(env: dict[str, str], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        settings_from_env({"TFSVERIFY_OVERLAY": OVERLAY, **env})
