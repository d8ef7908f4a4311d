"""The load Job on the fake cluster: create, wait for its pod, read its log, delete."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from conftest import fast
from fake_api import FakeCluster

from tfsverify.errors import BadInput, TargetError
from tfsverify.targets.kubernetes import KubernetesTarget, settings_from_environment
from tfsverify.targets.kubernetes.config import DEFAULT_LOAD_IMAGE
from tfsverify.targets.kubernetes.loadrunner import LoadJobRunner

DOCUMENT = '{"kind": "constant", "rate_rps": 40, "duration_s": 600, "warmup_s": 3}'


def runner(target: KubernetesTarget) -> LoadJobRunner:
    return target.load_job("tfsverify-load-t1", "constant", DOCUMENT, 40.0, 600.0)


def image_pull_fails(cluster: FakeCluster, pod: dict[str, Any]) -> None:
    meta = pod["metadata"]
    cluster.set_pod_status(meta["namespace"], meta["name"], {
        "phase": "Pending",
        "containerStatuses": [{"name": "load", "ready": False, "restartCount": 0,
                               "state": {"waiting": {"reason": "ImagePullBackOff",
                                                     "message": "Back-off pulling image x"}}}]})


def stays_pending(cluster: FakeCluster, pod: dict[str, Any]) -> None:
    meta = pod["metadata"]
    cluster.set_pod_status(meta["namespace"], meta["name"], {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": "0/3 nodes are available: insufficient cpu"}]})


def test_the_job_runs_in_the_mesh_and_its_log_is_read_then_deleted(
        target: KubernetesTarget, cluster: FakeCluster) -> None:
    job = runner(target)
    job.create()
    stored = cluster.get("jobs", "tfsverify", "tfsverify-load-t1")
    assert stored is not None
    container = stored["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == DEFAULT_LOAD_IMAGE
    assert "--stream" in container["command"][2]
    assert "--address anomaly-detection.tfserving.svc.cluster.local:8500" in container["command"][2]
    assert stored["spec"]["activeDeadlineSeconds"] >= 600 + 180
    pod = job.wait_running(5)
    assert pod.phase == "Running"
    cluster.append_log(pod.name, '{"kind":"header"}\nline two\nline three\n')
    assert job.log() == '{"kind":"header"}\nline two\nline three\n'
    assert job.log(tail_lines=1) == "line three\n"
    job.delete()
    assert cluster.deleted_jobs == ["tfsverify-load-t1"]
    assert cluster.items("pods", "tfsverify") == []
    assert ("DELETE", "/apis/batch/v1/namespaces/tfsverify/jobs/tfsverify-load-t1") in \
        cluster.requests
    job.delete()  # idempotent: nothing more is sent
    assert cluster.deleted_jobs == ["tfsverify-load-t1"]


def test_a_forbidden_create_names_verb_and_resource(
        target: KubernetesTarget, cluster: FakeCluster) -> None:
    cluster.forbid("create", "jobs")
    job = runner(target)
    forbidden = r"cannot create jobs\.batch in namespace tfsverify"
    with pytest.raises(TargetError, match=forbidden) as err:
        job.create()
    assert err.value.exit_code == 3
    assert "\n" not in str(err.value)
    assert not job.created
    job.delete()
    assert not any(method == "DELETE" for method, _ in cluster.requests)


def test_an_image_pull_failure_is_one_clear_error(
        target: KubernetesTarget, cluster: FakeCluster) -> None:
    cluster.kubelet = image_pull_fails
    job = runner(target)
    job.create()
    with pytest.raises(TargetError, match=r"cannot run: pod tfsverify-load-t1-p\d+: container "
                                          r"load: ImagePullBackOff \(Back-off pulling image x\)"):
        job.wait_running(30)  # fails at the first look, not after the timeout
    job.delete()
    assert cluster.deleted_jobs == ["tfsverify-load-t1"]


def test_a_pod_that_never_runs_fails_after_the_bound_naming_what_it_waits_for(
        target: KubernetesTarget, cluster: FakeCluster) -> None:
    cluster.kubelet = stays_pending
    job = runner(target)
    job.create()
    with pytest.raises(TargetError, match=r"not running after 0\.3 s: pod .* is Pending, waiting "
                                          r"for scheduling: 0/3 nodes are available"):
        job.wait_running(0.3)


def test_dry_run_prints_the_job_and_creates_nothing(
        kube_env: dict[str, str], cluster: FakeCluster, announced: list[str]) -> None:
    settings = replace(fast(settings_from_environment(kube_env)), dry_run=True)
    job = runner(KubernetesTarget(settings, announced.append))
    job.create()
    assert announced[0].startswith("dry-run: would create Job tfsverify/tfsverify-load-t1 "
                                   f"(image {DEFAULT_LOAD_IMAGE}, service account loadgen): ")
    assert not any(method == "POST" for method, _ in cluster.requests)
    job.delete()
    assert cluster.deleted_jobs == []


def test_load_settings_come_from_the_environment(kube_env: dict[str, str]) -> None:
    settings = settings_from_environment(kube_env)
    assert (settings.load_mode, settings.load_image) == ("job", DEFAULT_LOAD_IMAGE)
    chosen = settings_from_environment(kube_env | {"TFSVERIFY_KUBE_LOAD": "direct",
                                                   "TFSVERIFY_KUBE_LOAD_IMAGE": "me/load:1",
                                                   "TFSVERIFY_KUBE_LOAD_START_TIMEOUT_S": "30"})
    assert (chosen.load_mode, chosen.load_image, chosen.load_start_timeout_s) == (
        "direct", "me/load:1", 30.0)
    with pytest.raises(BadInput, match="TFSVERIFY_KUBE_LOAD='sidecar': expected job or direct"):
        settings_from_environment(kube_env | {"TFSVERIFY_KUBE_LOAD": "sidecar"})
