"""Version policies, roll-overs, labels and states of the model manager (fake loader)."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from tfsverify.errors import BadInput
from tfsverify.serving.config import ModelConfig, ServerModelConfig, VersionPolicy
from tfsverify.serving.manager import ModelManager
from tfsverify.serving.metrics import ServingMetrics
from tfsverify.serving.server import config_file_poll
from tfsverify.serving.status import ServingError


@dataclass
class FakeServable:
    name: str
    version: int
    path: Path


def fake_load(name: str, version: int, path: Path) -> FakeServable:
    if (path / "BROKEN").exists():
        raise ValueError(f"corrupt SavedModel at {path}\nsecond line")
    return FakeServable(name, version, path)


def add_version(base: Path, version: int, broken: bool = False) -> None:
    (base / str(version)).mkdir(parents=True)
    if broken:
        (base / str(version) / "BROKEN").touch()


LATEST = VersionPolicy()


def config(policy: VersionPolicy = LATEST, **labels: int) -> ServerModelConfig:
    return ServerModelConfig((ModelConfig("m", "/models/m", policy, labels),))


@pytest.fixture
def base(tmp_path: Path) -> Path:
    path = tmp_path / "m"
    add_version(path, 1)
    return path


def manager_for(base: Path, **kwargs: object) -> ModelManager:
    return ModelManager(fake_load, mounts={"/models": str(base.parent)}, **kwargs)  # type: ignore[arg-type]


def states(manager: ModelManager) -> dict[int, str]:
    return {s.version: s.state for s in manager.statuses("m")}


def test_latest_version_rolls_over_when_a_new_directory_appears(base: Path) -> None:
    metrics = ServingMetrics()
    manager = manager_for(base, metrics=metrics)
    manager.reload(config())
    assert manager.servable("m").version == 1
    add_version(base, 2)
    (base / "not-a-version").mkdir()
    manager.poll()
    assert states(manager) == {2: "AVAILABLE", 1: "END"}
    assert manager.servable("m").version == 2
    with pytest.raises(ServingError, match=r"Specific\(m, 1\)") as err:
        manager.servable("m", version=1)
    assert err.value.code == "NOT_FOUND"
    assert 'load_attempt_count{model_path="/models/m/2",status="success"} 1' in metrics.render()


def test_deleting_the_newest_version_goes_back_to_the_previous_one(base: Path) -> None:
    add_version(base, 2)
    manager = manager_for(base)
    manager.reload(config(VersionPolicy("latest", num_versions=2)))
    assert states(manager) == {2: "AVAILABLE", 1: "AVAILABLE"}
    (base / "2").rmdir()
    manager.poll()
    assert states(manager) == {2: "END", 1: "AVAILABLE"}
    assert manager.servable("m").version == 1


def test_a_missing_base_path_changes_nothing(base: Path) -> None:
    manager = manager_for(base)
    manager.reload(config())
    (base / "1").rmdir()
    base.rmdir()
    manager.poll()
    assert states(manager) == {1: "AVAILABLE"}


def test_failed_loads_retry_then_end_and_keep_the_old_version(base: Path) -> None:
    manager = manager_for(base, max_load_retries=1, load_retry_interval_s=0.0)
    manager.reload(config())
    add_version(base, 2, broken=True)
    manager.poll()
    assert states(manager) == {2: "LOADING", 1: "AVAILABLE"}
    manager.poll()
    (status_2, status_1) = manager.statuses("m")
    assert (status_2.state, status_2.error_code) == ("END", "UNKNOWN")
    assert status_2.error_message.startswith("corrupt SavedModel")
    assert status_1.state == "AVAILABLE"
    assert manager.servable("m").version == 1


def test_nothing_loadable_at_start_is_an_error(tmp_path: Path) -> None:
    add_version(tmp_path / "m", 1, broken=True)
    manager = manager_for(tmp_path / "m")
    with pytest.raises(ServingError, match=r"did not become available.*corrupt") as err:
        manager.reload(config())
    assert err.value.code == "UNKNOWN"


def test_labels_need_available_versions_unless_allowed(base: Path) -> None:
    strict = manager_for(base)
    with pytest.raises(
        ServingError, match="Request to assign label to version 1 of model m"
    ) as err:
        strict.reload(config(VersionPolicy("specific", versions=frozenset({1})), stable=1))
    assert err.value.code == "FAILED_PRECONDITION"
    strict.reload(config(VersionPolicy("specific", versions=frozenset({1}))))
    strict.reload(config(VersionPolicy("specific", versions=frozenset({1})), stable=1))
    assert strict.servable("m", label="stable").version == 1

    add_version(base, 2)
    both = VersionPolicy("specific", versions=frozenset({1, 2}))
    allowed = manager_for(base, allow_unavailable_labels=True)
    allowed.reload(config(both, stable=1, canary=2))
    assert allowed.servable("m", label="canary").version == 2
    with pytest.raises(ServingError, match="Unrecognized servable version label: nope") as err:
        allowed.servable("m", label="nope")
    assert err.value.code == "INVALID_ARGUMENT"
    assert [s.version for s in allowed.statuses("m", label="stable")] == [1]


def test_moving_a_label_to_an_unloaded_version_is_refused_and_config_kept(base: Path) -> None:
    manager = manager_for(base, allow_unavailable_labels=True)
    manager.reload(config(VersionPolicy("specific", versions=frozenset({1})), stable=1))
    with pytest.raises(ServingError, match="version 3"):
        manager.reload(config(VersionPolicy("specific", versions=frozenset({1, 3})), stable=3))
    assert manager.servable("m", label="stable").version == 1


def test_reload_unloads_removed_models_and_refuses_missing_base_paths(base: Path) -> None:
    manager = manager_for(base)
    manager.reload(config())
    missing = ServerModelConfig((ModelConfig("other", "/models/none"),))
    with pytest.raises(ServingError, match="Could not find base path /models/none") as err:
        manager.reload(missing)
    assert err.value.code == "NOT_FOUND"
    assert manager.servable("m").version == 1
    manager.reload(ServerModelConfig())
    assert states(manager) == {1: "END"}
    with pytest.raises(ServingError, match=r"Latest\(m\)"):
        manager.servable("m")


def test_status_errors_are_tf_servings(base: Path) -> None:
    manager = manager_for(base)
    manager.reload(config())
    with pytest.raises(ServingError, match="Could not find any versions of model x"):
        manager.statuses("x")
    with pytest.raises(ServingError, match="Could not find version 9 of model m"):
        manager.statuses("m", version=9)
    with pytest.raises(ServingError, match="no name"):
        manager.servable("")


def test_config_file_poll_applies_changes_and_keeps_the_old_config_on_errors(
    base: Path, tmp_path: Path
) -> None:
    add_version(base, 2)
    config_file = tmp_path / "models.config"
    entry = "config {{ name: 'm' base_path: '/models/m' model_platform: 'tensorflow' {} }}"
    config_file.write_text(f"model_config_list {{ {entry.format('')} }}")
    manager = manager_for(base)
    poll = config_file_poll("/cfg/models.config", {"/cfg": str(tmp_path)}, manager)
    poll()
    assert states(manager) == {2: "AVAILABLE"}
    policy = "model_version_policy { specific { versions: 1 } }"
    config_file.write_text(f"model_config_list {{ {entry.format(policy)} }}")
    poll()
    assert states(manager) == {2: "END", 1: "AVAILABLE"}
    config_file.write_text("model_config_list { oops }")
    with pytest.raises(BadInput, match=r"models\.config"):
        poll()
    assert manager.servable("m").version == 1
