"""The control's load as a Job inside the mesh, through the real kubernetes client.

The fake API server (tests/targets/kubernetes) plays the cluster; its "kubelet" runs the
Job's pod as a real ``run_streaming`` load against a small Predict server on 127.0.0.1 and
appends every line the load writes to the pod's log, which the API serves.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "targets" / "kubernetes"))

from fake_api import FakeApiServer, FakeCluster, running_status, write_kubeconfig
from scenario import reference_cluster

from tfsverify.chaos.background import BackgroundLoad
from tfsverify.chaos.jobload import JobLoad, background_load
from tfsverify.errors import TargetError
from tfsverify.load import command
from tfsverify.load.mesh import fixed_upstream
from tfsverify.load.profiles import Profile, profile_from_dict
from tfsverify.load.result import LoadResult
from tfsverify.load.stream import run_streaming
from tfsverify.serving.golden import GoldenSet, load_golden
from tfsverify.serving.protos import predict_pb2
from tfsverify.serving.requests import tensor_array, tensor_proto
from tfsverify.targets.kubernetes import KubernetesTarget, settings_from_environment

NS = "tfsverify"


class PredictServer:
    """Answers Predict with the golden scores of the rows it gets."""

    def __init__(self, golden: GoldenSet) -> None:
        self.golden = golden
        self.scores = {r.tobytes(): s for r, s in zip(golden.inputs, golden.scores, strict=True)}
        self.server = grpc.server(ThreadPoolExecutor(max_workers=8),
                                  options=[("grpc.so_reuseport", 0)])
        handler = grpc.method_handlers_generic_handler("tensorflow.serving.PredictionService", {
            "Predict": grpc.unary_unary_rpc_method_handler(
                self.predict, request_deserializer=predict_pb2.PredictRequest.FromString,
                response_serializer=predict_pb2.PredictResponse.SerializeToString)})
        self.server.add_generic_rpc_handlers((handler,))
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    def predict(self, request: Any, context: Any) -> Any:
        rows = tensor_array(request.inputs[self.golden.input_name])
        scores = np.array([self.scores.get(r.tobytes(), np.nan) for r in rows], np.float32)
        response = predict_pb2.PredictResponse()
        response.outputs[self.golden.output_name].CopyFrom(tensor_proto(scores))
        return response


class StreamingKubelet:
    """Runs each Job pod as a real streamed load whose lines become the pod's log."""

    def __init__(self, address: str, golden: GoldenSet) -> None:
        self.address, self.golden = address, golden
        self.stop = threading.Event()
        self.results: list[LoadResult] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, cluster: FakeCluster, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        cluster.set_pod_status(NS, name, running_status(pod))
        container = pod["spec"]["containers"][0]
        script = container["command"][2]
        argv = shlex.split(script.split(" && ", 1)[1].split(";", 1)[0])
        assert argv[:2] == ["tfsverify", "load"]
        parser = argparse.ArgumentParser()
        command.add_arguments(parser)
        args = parser.parse_args(argv[2:])
        assert args.stream and args.plaintext
        document = yaml.safe_load(container["env"][0]["value"])
        profile = profile_from_dict(document, name=Path(args.profile).stem).with_overrides(
            rate_rps=args.rate, duration_s=args.duration)

        def run() -> None:
            self.results.append(run_streaming(
                profile, fixed_upstream(self.address, None), golden=self.golden,
                write=lambda line: cluster.append_log(name, line), stop_event=self.stop))

        thread = threading.Thread(target=run, daemon=True)
        self.threads.append(thread)
        thread.start()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


@pytest.fixture
def golden() -> GoldenSet:
    return load_golden()


@pytest.fixture
def predict_server(golden: GoldenSet) -> Iterator[PredictServer]:
    server = PredictServer(golden)
    yield server
    server.server.stop(grace=0).wait(5)


@pytest.fixture
def cluster() -> FakeCluster:
    return reference_cluster()


@pytest.fixture
def target(cluster: FakeCluster, tmp_path: Path) -> Iterator[KubernetesTarget]:
    with FakeApiServer(cluster) as server:
        env = {"KUBECONFIG": str(write_kubeconfig(tmp_path / "kubeconfig", server.url)),
               "TFSVERIFY_STATE_DIR": str(tmp_path / "state"), "TFSVERIFY_KUBE_TIMEOUT_S": "2"}
        settings = replace(settings_from_environment(env), poll_s=0.1,
                           load_start_timeout_s=10.0)
        yield KubernetesTarget(settings, lambda line: None)


@pytest.fixture
def kubelet(cluster: FakeCluster, predict_server: PredictServer,
            golden: GoldenSet) -> Iterator[StreamingKubelet]:
    running = StreamingKubelet(predict_server.address, golden)
    cluster.kubelet = running
    yield running
    running.close()


def profile() -> Profile:
    doc = {"kind": "constant", "rate_rps": 10, "duration_s": 600, "warmup_s": 3}
    chosen = profile_from_dict(doc, name="constant").with_overrides(rate_rps=50)
    return replace(chosen, warmup_s=1.0)


def test_the_job_load_is_collected_from_the_pod_log(
        target: KubernetesTarget, cluster: FakeCluster, kubelet: StreamingKubelet,
        golden: GoldenSet) -> None:
    load = background_load(target, profile(), golden)
    assert isinstance(load, JobLoad)
    load.start()
    assert load.measured_from_unix == pytest.approx(time.time() + 1.0, abs=1.0)
    load.wait_until(load.measured_from_unix + 2.2)
    assert load.latest is not None and load.latest.ok > 0
    result = load.stop()
    assert len(cluster.deleted_jobs) == 1 and cluster.items("pods", NS) == []
    kubelet.close()
    in_process = kubelet.results[0]
    count = len(result.series)
    assert count >= 3 and result.interrupted
    assert result.series == in_process.series[:count]  # every second, histogram included
    assert result.profile.stages == profile().stages and result.profile.warmup_s == 1.0
    assert result.output.totals.ok == sum(r.ok for r in in_process.series[1:count])
    assert result.output.totals.failed == 0 and result.output.totals.wrong == 0
    assert result.percentiles_ms()["p99"] is not None


def test_a_pod_that_fails_early_stops_the_wait_and_the_job_is_deleted(
        target: KubernetesTarget, cluster: FakeCluster, kubelet: StreamingKubelet,
        golden: GoldenSet) -> None:
    load = background_load(target, profile(), golden)
    assert isinstance(load, JobLoad)
    load.start()
    pod = cluster.items("pods", NS)[0]["metadata"]["name"]
    cluster.append_log(pod, "tfsverify load: error: the sidecar went away\n")
    cluster.set_pod_status(NS, pod, {"phase": "Failed", "reason": "Error"})
    with pytest.raises(TargetError, match=r"pod is Failed before the experiment ended: the pod "
                                          r"failed \(Error\); log: .*the sidecar went away"):
        load.wait_until(time.time() + 30)
    load.stop()  # what the control does next: partial result, Job deleted
    assert len(cluster.deleted_jobs) == 1


def test_an_image_pull_failure_fails_the_start_and_deletes_the_job(
        target: KubernetesTarget, cluster: FakeCluster, golden: GoldenSet) -> None:
    def no_image(cluster: FakeCluster, pod: dict[str, Any]) -> None:
        cluster.set_pod_status(NS, pod["metadata"]["name"], {"phase": "Pending",
                               "containerStatuses": [{"name": "load", "state": {
                                   "waiting": {"reason": "ErrImagePull"}}}]})

    cluster.kubelet = no_image
    load = background_load(target, profile(), golden)
    with pytest.raises(TargetError, match="container load: ErrImagePull"):
        load.start()
    assert len(cluster.deleted_jobs) == 1
    with pytest.raises(TargetError, match="did not start"):
        load.stop()


def test_direct_mode_and_other_targets_load_in_process(
        target: KubernetesTarget, golden: GoldenSet, fake_target: Any) -> None:
    direct = KubernetesTarget(replace(target.settings, load_mode="direct"), lambda line: None)
    assert isinstance(background_load(direct, profile(), golden), BackgroundLoad)
    assert isinstance(background_load(fake_target, profile(), golden), BackgroundLoad)
