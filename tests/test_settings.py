from pathlib import Path

import pytest

from tfsverify.errors import EXIT_BAD_INPUT, BadInput
from tfsverify.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
OVERLAY = REPO / "reference-deploy" / "overlays" / "local"


def test_defaults_pick_local_target_and_xdg_state(tmp_path: Path) -> None:
    settings = load_settings({"XDG_STATE_HOME": str(tmp_path)}, overlay=OVERLAY)
    assert settings.target == "local"
    assert settings.local.state_dir == tmp_path / "tfsverify" / "local"
    assert settings.local.overlay == OVERLAY
    assert settings.local.up_timeout_s == 180.0


def test_environment_overrides(tmp_path: Path) -> None:
    env = {
        "TFSVERIFY_TARGET": "kubernetes",
        "TFSVERIFY_STATE_DIR": str(tmp_path / "state"),
        "TFSVERIFY_OVERLAY": str(OVERLAY),
        "TFSVERIFY_UP_TIMEOUT_S": "42",
    }
    settings = load_settings(env)
    assert settings.target == "kubernetes"
    assert settings.local.state_dir == (tmp_path / "state").resolve()
    assert settings.local.up_timeout_s == 42.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TFSVERIFY_TARGET": "minikube"}, "expected one of local, kubernetes"),
        ({"TFSVERIFY_UP_TIMEOUT_S": "soon"}, "not a number"),
        ({"TFSVERIFY_UP_TIMEOUT_S": "-1"}, "must be positive"),
        ({"TFSVERIFY_OVERLAY": "/nonexistent/overlay"}, "no kustomization.yaml"),
    ],
)
def test_bad_settings_are_bad_input(env: dict[str, str], message: str) -> None:
    with pytest.raises(BadInput, match=message) as caught:
        load_settings({"TFSVERIFY_OVERLAY": str(OVERLAY), **env})
    assert caught.value.exit_code == EXIT_BAD_INPUT
