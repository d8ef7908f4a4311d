"""The model server as a client of the public TF Serving API sees it (real TensorFlow).

Two servers per module, started together: ``main`` serves versions 1 and 2 from the
shipped model directory through a config file with labels, health service and metrics;
``rolling`` serves the latest version of a temporary base path that holds only version 1
until a test copies version 2 in.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tfsverify.serving.golden import load_golden
from tfsverify.serving.grpc_api import ReloadConfigRequest
from tfsverify.serving.protos import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    types_pb2,
)
from tfsverify.serving.requests import output_array, predict_request, tensor_proto

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "reference-deploy" / "model"
MODEL = "anomaly-detection"
CONFIG = """model_config_list { config {
  name: 'anomaly-detection' base_path: '/models/anomaly-detection' model_platform: 'tensorflow'
  model_version_policy { specific { versions: 1 versions: 2 } }
  version_labels { key: 'stable' value: 1 }
  version_labels { key: 'canary' value: 2 }
} }
"""
MONITORING = 'prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }\n'


@pytest.fixture(scope="module")
def servers(launch: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    config_dir = tmp_path_factory.mktemp("config")
    (config_dir / "models.config").write_text(CONFIG)
    (config_dir / "monitoring.config").write_text(MONITORING)
    socket_dir = tmp_path_factory.mktemp("sock")
    rolling_root = tmp_path_factory.mktemp("rolling")
    shutil.copytree(MODELS / MODEL / "1", rolling_root / MODEL / "1")
    main = launch(
        [
            "--model_config_file=/config/models.config",
            "--monitoring_config_file=/config/monitoring.config",
            "--allow_version_labels_for_unavailable_models=true",
            "--enable_grpc_healthcheck_service=true",
            "--rest_api_num_threads=4",
            "--grpc_socket_path=/sock/tfs.sock",
        ],
        {"/models": str(MODELS), "/config": str(config_dir), "/sock": str(socket_dir)},
        "main",
    )
    rolling = launch(
        [
            f"--model_name={MODEL}",
            f"--model_base_path=/models/{MODEL}",
            "--enable_serialization_as_tensor_content=true",
        ],
        {"/models": str(rolling_root)},
        "rolling",
    )
    launch.wait(main)
    launch.wait(rolling)
    return {"main": main, "rolling": rolling, "rolling_root": rolling_root, "socket": socket_dir}


def stub_for(server: Any, kind: Callable[[grpc.Channel], Any]) -> Any:
    return kind(grpc.insecure_channel(server.target))


def http(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as reply:
            raw, status = reply.read(), reply.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    text = raw.decode()
    return status, json.loads(text) if text.startswith(("{", "[")) else text


def wait_for(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_predict_answers_golden_scores_for_each_version_and_label(servers: dict[str, Any]) -> None:
    stub = stub_for(servers["main"], prediction_service_pb2_grpc.PredictionServiceStub)
    cases: list[tuple[dict[str, Any], int]] = [
        ({"version": 1}, 1),
        ({"version": 2}, 2),
        ({"version_label": "stable"}, 1),
        ({"version_label": "canary"}, 2),
        ({}, 2),
    ]
    for spec, version in cases:
        golden = load_golden(version=version)
        response = stub.Predict(predict_request(MODEL, golden.inputs, **spec), timeout=10)
        assert response.model_spec.version.value == version
        assert response.model_spec.signature_name == "serving_default"
        assert golden.matches(output_array(response), golden.scores), spec
        np.testing.assert_array_equal(golden.flags(output_array(response)), golden.anomalous)
        assert output_array(response, "reconstruction").shape == (len(golden), 16)


def test_unix_socket_serves_too(servers: dict[str, Any]) -> None:
    channel = grpc.insecure_channel(f"unix:{servers['socket'] / 'tfs.sock'}")
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    golden = load_golden(version=2)
    response = stub.Predict(predict_request(MODEL, golden.inputs), timeout=10)
    assert golden.matches(output_array(response), golden.scores)


def test_outputs_are_typed_values_unless_tensor_content_is_asked_for(
    servers: dict[str, Any],
) -> None:
    request = predict_request(MODEL, load_golden().inputs[:2])
    main = stub_for(servers["main"], prediction_service_pb2_grpc.PredictionServiceStub)
    typed = main.Predict(request, timeout=10).outputs["score"]
    assert len(typed.float_val) == 2 and not typed.tensor_content
    rolling = stub_for(servers["rolling"], prediction_service_pb2_grpc.PredictionServiceStub)
    raw = rolling.Predict(request, timeout=10).outputs["score"]
    assert len(raw.tensor_content) == 8 and not raw.float_val


def test_errors_are_tf_servings(servers: dict[str, Any]) -> None:
    stub = stub_for(servers["main"], prediction_service_pb2_grpc.PredictionServiceStub)
    rows = load_golden().inputs[:2]

    def code_of(request: predict_pb2.PredictRequest) -> tuple[grpc.StatusCode, str]:
        with pytest.raises(grpc.RpcError) as err:
            stub.Predict(request, timeout=10)
        return err.value.code(), err.value.details()

    assert code_of(predict_request("nope", rows)) == (
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Latest(nope)",
    )
    assert code_of(predict_request(MODEL, rows, version=7)) == (
        grpc.StatusCode.NOT_FOUND,
        f"Servable not found for request: Specific({MODEL}, 7)",
    )
    assert code_of(predict_request(MODEL, rows, version_label="gold")) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Unrecognized servable version label: gold",
    )
    code, details = code_of(predict_request(MODEL, rows, input_name="x"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("input tensor alias not found in signature: x.")
    code, details = code_of(predict_request(MODEL, rows[:, :15]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "shape [2, 15]" in details
    doubles = predict_request(MODEL, rows)
    doubles.inputs["features"].CopyFrom(tensor_proto(rows.astype(np.float64)))
    assert code_of(doubles) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Expects arg[0] to be float but double is provided",
    )
    code, _ = code_of(predict_request(MODEL, rows, signature="classify"))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as err:
        stub.Classify(predict_pb2.PredictRequest(), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_model_status_and_metadata(servers: dict[str, Any]) -> None:
    models = stub_for(servers["main"], model_service_pb2_grpc.ModelServiceStub)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = MODEL
    status = models.GetModelStatus(request, timeout=10)
    assert [(s.version, s.state) for s in status.model_version_status] == [
        (2, get_model_status_pb2.ModelVersionStatus.AVAILABLE),
        (1, get_model_status_pb2.ModelVersionStatus.AVAILABLE),
    ]
    assert all(s.status.error_code == 0 for s in status.model_version_status)
    request.model_spec.name = "nope"
    with pytest.raises(grpc.RpcError) as err:
        models.GetModelStatus(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    predictions = stub_for(servers["main"], prediction_service_pb2_grpc.PredictionServiceStub)
    meta_request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    meta_request.model_spec.name = MODEL
    meta_request.model_spec.version_label = "stable"
    meta = predictions.GetModelMetadata(meta_request, timeout=10)
    assert meta.model_spec.version.value == 1
    signatures = get_model_metadata_pb2.SignatureDefMap()
    meta.metadata["signature_def"].Unpack(signatures)
    serving = signatures.signature_def["serving_default"]
    assert serving.inputs["features"].dtype == types_pb2.DT_FLOAT
    assert [d.size for d in serving.inputs["features"].tensor_shape.dim] == [-1, 16]
    assert set(serving.outputs) == {"score", "reconstruction"}


def test_rest_status_metadata_and_predict(servers: dict[str, Any]) -> None:
    base = f"{servers['main'].rest}/v1/models/{MODEL}"
    status, body = http(base)
    assert status == 200
    assert body["model_version_status"][0] == {
        "version": "2",
        "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""},
    }
    assert http(f"{base}/metadata")[0] == 200
    status, body = http(f"{base}/versions/3/metadata")
    assert status == 404 and "Specific(anomaly-detection, 3)" in body["error"]
    assert http(f"{servers['main'].rest}/v1/models/nope")[0] == 404
    golden = load_golden(version=1)
    status, body = http(f"{base}/labels/stable:predict", {"instances": golden.inputs.tolist()})
    assert status == 200
    scores = np.array([p["score"] for p in body["predictions"]], dtype=np.float32)
    assert golden.matches(scores, golden.scores)
    status, body = http(f"{base}/versions/1:predict", {"inputs": golden.inputs[:3].tolist()})
    assert status == 200 and golden.matches(np.array(body["outputs"]["score"]), golden.scores[:3])
    assert http(f"{base}:predict", {"instances": [[1.0, 2.0]]})[0] == 400


def test_health_service_answers_like_tf_serving(servers: dict[str, Any]) -> None:
    health = stub_for(servers["main"], health_pb2_grpc.HealthStub)
    for service in ("", "ModelService", "PredictionService"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as err:
        health.Check(health_pb2.HealthCheckRequest(service="tensorflow.serving.PredictionService"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    rolling = stub_for(servers["rolling"], health_pb2_grpc.HealthStub)
    with pytest.raises(grpc.RpcError) as err:
        rolling.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_metrics_use_tf_serving_names(servers: dict[str, Any]) -> None:
    stub = stub_for(servers["main"], prediction_service_pb2_grpc.PredictionServiceStub)
    stub.Predict(predict_request(MODEL, load_golden().inputs[:1]), timeout=10)
    status, text = http(f"{servers['main'].rest}/monitoring/prometheus/metrics")
    assert status == 200
    lines = text.splitlines()
    assert any(
        line.startswith(f':tensorflow:serving:request_count{{model_name="{MODEL}",status="OK"}} ')
        for line in lines
    )
    assert any(
        line.startswith(':tensorflow:serving:request_count{model_name="nope",status="NOT_FOUND"} ')
        for line in lines
    )
    grpc_bucket = (
        f':tensorflow:serving:request_latency_bucket{{model_name="{MODEL}",'
        'API="Predict",entrypoint="GRPC",le="+Inf"}'
    )
    assert any(line.startswith(grpc_bucket) for line in lines)
    for version in (1, 2):
        assert (
            f":tensorflow:cc:saved_model:load_attempt_count{{model_path="
            f'"/models/{MODEL}/{version}",status="success"}} 1'
        ) in lines
    assert "_total" not in text
    assert http(f"{servers['rolling'].rest}/monitoring/prometheus/metrics")[0] == 404
    assert http(f"{servers['rolling'].rest}/v1/nothing")[0] == 400


def test_sigterm_is_ignored(servers: dict[str, Any]) -> None:
    main = servers["main"]
    main.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    stub = stub_for(main, prediction_service_pb2_grpc.PredictionServiceStub)
    stub.Predict(predict_request(MODEL, load_golden().inputs[:1]), timeout=10)
    assert main.process.poll() is None
    assert "SIGTERM received and ignored" in main.stderr()


def test_reload_config_unloads_and_restores_versions(servers: dict[str, Any]) -> None:
    models = stub_for(servers["main"], model_service_pb2_grpc.ModelServiceStub)
    request: Any = ReloadConfigRequest()
    entry = request.config.model_config_list.config.add(
        name=MODEL, base_path=f"/models/{MODEL}", model_platform="tensorflow"
    )
    entry.model_version_policy.specific.versions.append(1)
    entry.version_labels["stable"] = 1
    assert models.HandleReloadConfigRequest(request, timeout=30).status.error_code == 0
    states = {s.version: s.state for s in _status(models).model_version_status}
    assert states == {
        1: get_model_status_pb2.ModelVersionStatus.AVAILABLE,
        2: get_model_status_pb2.ModelVersionStatus.END,
    }
    bad: Any = ReloadConfigRequest()
    bad.config.CopyFrom(request.config)
    bad.config.model_config_list.config[0].version_labels["stable"] = 2
    with pytest.raises(grpc.RpcError) as err:
        models.HandleReloadConfigRequest(bad, timeout=30)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    entry.model_version_policy.specific.versions.append(2)
    entry.version_labels["canary"] = 2
    models.HandleReloadConfigRequest(request, timeout=30)
    wait_for(
        lambda: all(
            s.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
            for s in _status(models).model_version_status
        )
    )


def _status(models: Any) -> Any:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = MODEL
    return models.GetModelStatus(request, timeout=10)


def test_new_version_directory_is_served_without_restart(servers: dict[str, Any]) -> None:
    rolling = servers["rolling"]
    metadata_2 = f"{rolling.rest}/v1/models/{MODEL}/versions/2/metadata"
    assert http(metadata_2)[0] == 404
    stub = stub_for(rolling, prediction_service_pb2_grpc.PredictionServiceStub)
    one = load_golden(version=1)
    assert (
        stub.Predict(predict_request(MODEL, one.inputs), timeout=10).model_spec.version.value == 1
    )
    base = servers["rolling_root"] / MODEL
    shutil.copytree(MODELS / MODEL / "2", base / ".tmp-2")
    (base / ".tmp-2").rename(base / "2")
    wait_for(lambda: http(metadata_2)[0] == 200)
    two = load_golden(version=2)
    response = stub.Predict(predict_request(MODEL, two.inputs), timeout=10)
    assert response.model_spec.version.value == 2
    assert two.matches(output_array(response), two.scores)
    models = stub_for(rolling, model_service_pb2_grpc.ModelServiceStub)
    wait_for(
        lambda: (
            [s.state for s in _status(models).model_version_status]
            == [
                get_model_status_pb2.ModelVersionStatus.AVAILABLE,
                get_model_status_pb2.ModelVersionStatus.END,
            ]
        )
    )


def test_sigint_ends_the_server(servers: dict[str, Any]) -> None:
    rolling = servers["rolling"]
    rolling.process.send_signal(signal.SIGINT)
    assert rolling.process.wait(timeout=15) == -signal.SIGINT
