"""TF Serving's model and monitoring config files, and the mount map."""

from pathlib import Path

import pytest

from tfsverify.errors import BadInput
from tfsverify.serving.config import (
    DEFAULT_PROMETHEUS_PATH,
    VersionPolicy,
    load_model_config,
    load_monitoring_config,
    mounts_from_env,
    parse_model_config,
    parse_monitoring_config,
    resolve_path,
    single_model_config,
)

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "reference-deploy" / "base" / "config"


def test_reference_configs_parse_through_mounts() -> None:
    mounts = {"/config": str(CONFIG_DIR)}
    models = load_model_config("/config/models.config", mounts)
    (model,) = models.models
    assert model.name == "anomaly-detection"
    assert model.base_path == "/models/anomaly-detection"
    assert model.policy == VersionPolicy("specific", versions=frozenset({1}))
    assert model.labels == {"stable": 1}
    monitoring = load_monitoring_config("/config/monitoring.config", mounts)
    assert monitoring.prometheus_enabled
    assert monitoring.prometheus_path == "/monitoring/prometheus/metrics"


def test_version_policies() -> None:
    on_disk = [1, 2, 3, 10]
    assert VersionPolicy().select(on_disk) == {10}
    assert VersionPolicy("latest", num_versions=2).select(on_disk) == {10, 3}
    assert VersionPolicy("all").select(on_disk) == {1, 2, 3, 10}
    assert VersionPolicy("specific", versions=frozenset({2, 7})).select(on_disk) == {2}
    text = """model_config_list {
      config { name: 'a' base_path: '/m/a' model_platform: 'tensorflow'
               model_version_policy { latest { num_versions: 2 } } }
      config { name: 'b' base_path: '/m/b' model_platform: 'tensorflow'
               model_version_policy { all {} } }
      config { name: 'c' base_path: '/m/c' model_platform: 'tensorflow' }
    }"""
    a, b, c = parse_model_config(text, "x.config").models
    assert (a.policy.kind, a.policy.num_versions) == ("latest", 2)
    assert b.policy.kind == "all"
    assert c.policy == VersionPolicy()
    assert single_model_config("m", "/models/m").models[0].policy == VersionPolicy()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "model_config_list { config { name: 'a' base_path: 'rel' "
            "model_platform: 'tensorflow' } }",
            "absolute path",
        ),
        (
            "model_config_list { config { name: 'a' base_path: '/a' model_platform: 'onnx' } }",
            "unsupported platform onnx",
        ),
        (
            "model_config_list { config { name: 'a' base_path: '/a' model_platform: 'tensorflow' } "
            "config { name: 'a' base_path: '/b' model_platform: 'tensorflow' } }",
            "multiple times",
        ),
        ("model_config_list { config { nme: 'a' } }", "not a ModelServerConfig"),
    ],
)
def test_bad_model_configs_name_the_file(body: str, message: str) -> None:
    with pytest.raises(BadInput, match=message) as err:
        parse_model_config(body, "/config/models.config")
    assert str(err.value).startswith("/config/models.config")
    assert "\n" not in str(err.value)


def test_monitoring_defaults_and_errors(tmp_path: Path) -> None:
    assert parse_monitoring_config("prometheus_config { enable: true }", "m").prometheus_path == (
        DEFAULT_PROMETHEUS_PATH
    )
    assert not parse_monitoring_config("", "m").prometheus_enabled
    with pytest.raises(BadInput, match=r"m\.config"):
        parse_monitoring_config("prometheus { }", "m.config")
    with pytest.raises(BadInput, match="cannot read"):
        load_monitoring_config(str(tmp_path / "missing.config"), {})


def test_resolve_path_longest_prefix_wins() -> None:
    mounts = {"/models": "/srv/models", "/models/special": "/elsewhere", "/config/": "/etc/c"}
    assert resolve_path("/models/a/1", mounts) == Path("/srv/models/a/1")
    assert resolve_path("/models/special/1", mounts) == Path("/elsewhere/1")
    assert resolve_path("/models", mounts) == Path("/srv/models")
    assert resolve_path("/config/models.config", mounts) == Path("/etc/c/models.config")
    assert resolve_path("/modelsx/a", mounts) == Path("/modelsx/a")
    assert resolve_path("/other", {}) == Path("/other")


def test_mounts_from_env() -> None:
    assert mounts_from_env(None) == {}
    assert mounts_from_env('{"/models": "/srv"}') == {"/models": "/srv"}
    for bad in ("{", '["/a"]', '{"relative": "/x"}', '{"/a": 3}'):
        with pytest.raises(BadInput, match="TFSVERIFY_MOUNTS"):
            mounts_from_env(bad)
