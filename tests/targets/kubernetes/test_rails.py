"""Safety rails: refused before touching anything, one clear line, the right exit code."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from fake_api import FakeApiServer, FakeCluster, write_kubeconfig
from scenario import reference_cluster

from tfsverify.errors import EXIT_BAD_INPUT, EXIT_TARGET, BadInput, TargetError
from tfsverify.targets.kubernetes import KubernetesTarget, settings_from_environment


def test_context_not_on_the_allow_list_is_refused_before_any_request(
        server: FakeApiServer, cluster: FakeCluster, tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kc", server.url, context="prod-eu")
    with pytest.raises(BadInput) as refused:
        KubernetesTarget.from_environment({"KUBECONFIG": str(kubeconfig)})
    assert refused.value.exit_code == EXIT_BAD_INPUT
    assert "'prod-eu' is not on the allow-list (kind-*)" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert cluster.requests == []


def test_allow_list_from_the_environment_admits_a_named_context(
        server: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kc", server.url, context="staging")
    env = {"KUBECONFIG": str(kubeconfig), "TFSVERIFY_KUBE_CONTEXTS_ALLOWED": "kind-*, staging"}
    assert len(KubernetesTarget.from_environment(env).pods()) == 3


def test_unknown_context_is_bad_input(kube_env: dict[str, str]) -> None:
    with pytest.raises(BadInput, match=r"'kind-other' is not in"):
        KubernetesTarget.from_environment({**kube_env, "TFSVERIFY_KUBE_CONTEXT": "kind-other"})


def test_namespace_without_the_opt_in_label_is_refused(tmp_path: Path) -> None:
    with FakeApiServer(reference_cluster(opted_in=False)) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kc", server.url)
        target = KubernetesTarget.from_environment({"KUBECONFIG": str(kubeconfig)})
        with pytest.raises(BadInput, match=r"lacks the label tfsverify\.io/chaos=allowed"):
            target.kill_pods(1, seed=1)
        assert server.cluster.mutations() == []


def test_removing_the_label_stops_the_next_fault(target: KubernetesTarget,
                                                 cluster: FakeCluster) -> None:
    assert target.pods()
    namespace = cluster.get("namespaces", "", "tfserving")
    assert namespace is not None
    del namespace["metadata"]["labels"]["tfsverify.io/chaos"]
    cluster.put("namespaces", namespace)
    with pytest.raises(BadInput):
        target.drain_node("worker")
    assert cluster.mutations() == []


def test_unreachable_api_server_is_a_target_error_within_the_timeout(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}")
    target = KubernetesTarget.from_environment(
        {"KUBECONFIG": str(kubeconfig), "TFSVERIFY_KUBE_TIMEOUT_S": "1"})
    with pytest.raises(TargetError) as failed:
        target.pods()
    assert failed.value.exit_code == EXIT_TARGET
    assert f"the Kubernetes API server at http://127.0.0.1:{port} is unreachable" in str(
        failed.value)


def test_a_silent_api_server_times_out_after_one_request_timeout(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        target = KubernetesTarget.from_environment(
            {"KUBECONFIG": str(write_kubeconfig(tmp_path / "kc", url)),
             "TFSVERIFY_KUBE_TIMEOUT_S": "1"})
        started = time.monotonic()
        with pytest.raises(TargetError, match="unreachable"):
            target.nodes()
        # one try, no retries: well under the 4 tries urllib3 would make by default
        assert time.monotonic() - started < 3.5


def test_missing_permission_names_the_verb_and_resource(target: KubernetesTarget,
                                                        cluster: FakeCluster) -> None:
    cluster.forbid("create", "pods/eviction")
    with pytest.raises(TargetError) as failed:
        target.drain_node("worker")
    assert str(failed.value).startswith(
        "forbidden: cannot create pods/eviction in namespace tfserving (the chaos runner's Role")
    assert failed.value.exit_code == EXIT_TARGET


def test_cluster_scoped_permission_names_the_cluster_role(target: KubernetesTarget,
                                                          cluster: FakeCluster) -> None:
    cluster.forbid("list", "nodes")
    with pytest.raises(TargetError, match=r"cannot list nodes .*ClusterRole"):
        target.nodes()


def test_malformed_settings_are_bad_input(kube_env: dict[str, str]) -> None:
    with pytest.raises(BadInput, match="TFSVERIFY_KUBE_TIMEOUT_S"):
        settings_from_environment({**kube_env, "TFSVERIFY_KUBE_TIMEOUT_S": "soon"})
    with pytest.raises(BadInput, match="does not exist"):
        KubernetesTarget.from_environment({"KUBECONFIG": "/nonexistent/kubeconfig"})
