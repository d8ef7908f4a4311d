"""The sidecar's config file and the mesh config it watches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tfsverify.errors import BadInput
from tfsverify.targets.local.sidecar.config import (
    Address,
    load_mesh,
    load_sidecar_config,
    parse_address,
    parse_mesh,
)

GOOD: dict[str, Any] = {
    "pod": "anomaly-detection-5f7c9-abcde", "namespace": "tfserving",
    "workload": "anomaly-detection", "service_account": "anomaly-detection",
    "listen": "127.0.1.3:8500", "upstream": "127.0.2.3:8500", "admin": "127.0.1.3:15000",
    "app_metrics_url": "http://127.0.2.3:8501/monitoring/prometheus/metrics",
    "tls": {"ca": "ca.crt", "cert": "/abs/server.crt", "key": "server.key"},
    "mesh_config": "mesh.json",
}


def write(tmp_path: Path, raw: Any) -> Path:
    path = tmp_path / "sidecar.json"
    path.write_text(json.dumps(raw))
    return path


def test_good_config_loads_with_paths_resolved(tmp_path: Path) -> None:
    config = load_sidecar_config(write(tmp_path, GOOD))
    assert config.listen == Address("127.0.1.3", 8500)
    assert config.tls.ca == tmp_path / "ca.crt"
    assert config.tls.cert == Path("/abs/server.crt")
    assert config.mesh_config == tmp_path / "mesh.json"
    assert config.principal == "cluster.local/ns/tfserving/sa/anomaly-detection"
    assert (config.seed, config.drain_s, config.trust_domain) == (None, 0.5, "cluster.local")


def test_optional_fields(tmp_path: Path) -> None:
    raw = {**GOOD, "app_metrics_url": None, "seed": 3, "drain_s": 0, "trust_domain": "td"}
    config = load_sidecar_config(write(tmp_path, raw))
    assert (config.app_metrics_url, config.seed, config.drain_s) == (None, 3, 0.0)
    assert config.principal.startswith("td/ns/")


@pytest.mark.parametrize(("change", "message"), [
    ({"listen": "127.0.0.1"}, "host:port"),
    ({"listen": "127.0.0.1:99999"}, "out of range"),
    ({"upstream": 8500}, "host:port"),
    ({"tls": {"ca": "a", "cert": "b"}}, "tls must be"),
    ({"pod": ""}, "non-empty"),
    ({"app_metrics_url": "https://x/metrics"}, "http://"),
    ({"seed": "7"}, "seed"),
    ({"drain_s": -1}, "drain_s"),
    ({"extra": 1}, "unknown"),
])
def test_bad_configs_are_refused(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        load_sidecar_config(write(tmp_path, {**GOOD, **change}))


def test_missing_keys_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="missing"):
        load_sidecar_config(write(tmp_path, {"pod": "x"}))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(BadInput, match="not valid JSON"):
        load_sidecar_config(tmp_path / "bad.json")
    with pytest.raises(BadInput, match="cannot read"):
        load_sidecar_config(tmp_path / "absent.json")


def test_ipv6_address() -> None:
    assert str(parse_address("[::1]:8500", "x")) == "[::1]:8500"


def test_mesh_config(tmp_path: Path) -> None:
    path = tmp_path / "mesh.json"
    path.write_text(json.dumps({
        "version": 7, "mtls_mode": "STRICT",
        "authorization": [{"name": "p", "action": "ALLOW", "rules": [{}]}],
        "fault": {"abort": {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 10}}}}))
    mesh = load_mesh(path)
    assert (mesh.version, mesh.mtls_mode, len(mesh.policies)) == (7, "STRICT", 1)
    assert mesh.fault is not None and mesh.fault.abort_pct == 10.0


def test_unset_mode_is_permissive() -> None:
    assert parse_mesh({"version": 1, "mtls_mode": "UNSET"}).mtls_mode == "PERMISSIVE"
    assert parse_mesh({"version": 1}).mtls_mode == "PERMISSIVE"


@pytest.mark.parametrize(("raw", "message"), [
    ({"mtls_mode": "STRICT"}, "version"),
    ({"version": True}, "version"),
    ({"version": 1, "mtls_mode": "strict"}, "mtls_mode"),
    ({"version": 1, "timeout": "1s"}, "unknown"),
    ({"version": 1, "authorization": [{"action": "NOPE"}]}, "action"),
    ({"version": 1, "fault": {"abort": {"grpcStatus": 14}}}, "capitals"),
    ([], "object"),
])
def test_bad_mesh_configs_are_refused(raw: Any, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_mesh(raw)
