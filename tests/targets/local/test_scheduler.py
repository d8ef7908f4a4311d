"""The local scheduler places pods as kube-scheduler would, and says why when it cannot."""

from __future__ import annotations

import pytest

from tfsverify.targets.local.scheduler import (
    SIDECAR_REQUESTS,
    PlacedPod,
    PodRequest,
    pod_requests,
    schedule,
    tolerates,
)
from tfsverify.targets.local.spec import (
    Container,
    NodeSpec,
    PodTemplate,
    Resources,
    Taint,
    Toleration,
    TopologySpread,
)

GI = 1024**3
GPU_TAINT = Taint("nvidia.com/gpu", "present", "NoSchedule")
GPU_TOLERATION = Toleration("nvidia.com/gpu", "Exists", None, "NoSchedule")
APP = {"app": "web"}


def node(name: str, zone: str = "z1", cpu_m: int = 2000, gpu: int = 0,
         taints: tuple[Taint, ...] = (), max_pods: int = 10, **labels: str) -> NodeSpec:
    return NodeSpec(name, {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone,
                           **labels}, taints, Resources(cpu_m, 6 * GI, gpu), max_pods)


def pod(cpu_m: int = 500, gpu: int = 0, selector: dict[str, str] | None = None,
        tolerations: tuple[Toleration, ...] = (),
        spread: tuple[TopologySpread, ...] = ()) -> PodRequest:
    return PodRequest("ns", dict(APP), Resources(cpu_m, GI, gpu), selector or {}, tolerations,
                      spread, dict(APP))


def placed(on: str, cpu_m: int = 500, gpu: int = 0, app: str = "web",
           terminating: bool = False) -> PlacedPod:
    return PlacedPod(on, "ns", {"app": app}, Resources(cpu_m, GI, gpu), terminating)


REFERENCE_NODES = (node("node-a", "zone-a"), node("node-b", "zone-b"), node("node-c", "zone-c"),
                   node("gpu-node-a", "zone-a", cpu_m=4000, gpu=1, taints=(GPU_TAINT,)))
TWO = (node("node-a", "z1"), node("node-b", "z2"))
ZONE_SKEW_1 = (TopologySpread(1, "topology.kubernetes.io/zone", "DoNotSchedule"),)

CASES = [
    # (id, pod, nodes, cordoned, placed, expected node, expected reason)
    ("empty cluster: tie broken by name", pod(), TWO, (), (), "node-a", ""),
    ("default spreading over hostnames", pod(), TWO, (), (placed("node-a"),), "node-b", ""),
    ("other apps do not count for spreading", pod(), TWO, (),
     (placed("node-a", app="db"),), "node-a", ""),
    ("cordoned node skipped", pod(), TWO, ("node-a",), (), "node-b", ""),
    ("all cordoned", pod(), TWO, ("node-a", "node-b"), (), None,
     "0/2 nodes are available: 2 node(s) were unschedulable."),
    ("nodeSelector", pod(selector={"disk": "ssd"}),
     (node("node-a"), node("node-b", disk="ssd")), (), (), "node-b", ""),
    ("nodeSelector matches nothing", pod(selector={"disk": "ssd"}), TWO, (), (), None,
     "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."),
    ("GPU pod without toleration", pod(gpu=1), REFERENCE_NODES, (), (), None,
     "0/4 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}, "
     "3 Insufficient nvidia.com/gpu."),
    ("GPU pod with toleration", pod(gpu=1, tolerations=(GPU_TOLERATION,)), REFERENCE_NODES,
     (), (), "gpu-node-a", ""),
    ("GPU already taken", pod(gpu=1, tolerations=(GPU_TOLERATION,)), REFERENCE_NODES, (),
     (placed("gpu-node-a", gpu=1),), None,
     "0/4 nodes are available: 4 Insufficient nvidia.com/gpu."),
    ("CPU pods avoid the tainted GPU node", pod(), REFERENCE_NODES, (),
     (placed("node-a"), placed("node-b"), placed("node-c")), "node-a", ""),
    ("insufficient cpu", pod(cpu_m=1600), TWO, (), (placed("node-a"), placed("node-b")), None,
     "0/2 nodes are available: 2 Insufficient cpu."),
    ("terminating pods still hold resources", pod(cpu_m=1600), TWO, (),
     (placed("node-a", terminating=True), placed("node-b")), None,
     "0/2 nodes are available: 2 Insufficient cpu."),
    ("several shortfalls on one node each count", pod(cpu_m=2500, gpu=1), (node("node-a"),),
     (), (), None, "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient nvidia.com/gpu."),
    ("max pods", pod(), (node("node-a", max_pods=1),), (), (placed("node-a", app="db"),), None,
     "0/1 nodes are available: 1 Too many pods."),
    ("NoExecute taint filters", pod(),
     (node("node-a", taints=(Taint("k", None, "NoExecute"),)),), (), (), None,
     "0/1 nodes are available: 1 node(s) had untolerated taint {k: }."),
    ("PreferNoSchedule only scores", pod(),
     (node("node-a", taints=(Taint("k", "v", "PreferNoSchedule"),)), node("node-b")), (),
     (placed("node-b"),), "node-b", ""),
    ("PreferNoSchedule node used when it is the only fit", pod(),
     (node("node-a", taints=(Taint("k", "v", "PreferNoSchedule"),)),), (), (), "node-a", ""),
    ("DoNotSchedule keeps the skew", pod(spread=ZONE_SKEW_1),
     (node("node-a", "z1"), node("node-b", "z1"), node("node-c", "z2")), (),
     (placed("node-a"),), "node-c", ""),
    ("DoNotSchedule: the only other zone is full", pod(spread=ZONE_SKEW_1),
     (node("node-a", "z1"), node("node-c", "z2", max_pods=1)), (),
     (placed("node-a"), placed("node-c", app="db")), None,
     "0/2 nodes are available: 1 Too many pods, "
     "1 node(s) didn't match pod topology spread constraints."),
    ("DoNotSchedule ignores terminating pods", pod(spread=ZONE_SKEW_1),
     (node("node-a", "z1"), node("node-c", "z2", max_pods=1)), (),
     (placed("node-a", terminating=True), placed("node-a"), placed("node-c", app="db")),
     None, "0/2 nodes are available: 1 Too many pods, "
     "1 node(s) didn't match pod topology spread constraints."),
    ("DoNotSchedule: a node without the key", pod(spread=(TopologySpread(
        1, "rack", "DoNotSchedule"),)), TWO, (), (), None,
     "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints "
     "(missing required label)."),
    ("ScheduleAnyway does not filter", pod(spread=(TopologySpread(
        1, "topology.kubernetes.io/zone", "ScheduleAnyway"),)),
     (node("node-a", "z1"), node("node-c", "z2", max_pods=1)), (),
     (placed("node-a"), placed("node-a"), placed("node-c", app="db")), "node-a", ""),
    ("ScheduleAnyway prefers the emptier zone", pod(spread=(TopologySpread(
        1, "topology.kubernetes.io/zone", "ScheduleAnyway"),)),
     (node("node-a", "z1"), node("node-b", "z1"), node("node-c", "z2")), (),
     (placed("node-b"),), "node-c", ""),
    ("no nodes", pod(), (), (), (), None, "no nodes available to schedule pods"),
]


@pytest.mark.parametrize(("request_", "nodes", "cordoned", "already", "want", "reason"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_schedule(request_: PodRequest, nodes: tuple[NodeSpec, ...], cordoned: tuple[str, ...],
                  already: tuple[PlacedPod, ...], want: str | None, reason: str) -> None:
    decision = schedule(request_, nodes, set(cordoned), list(already))
    assert (decision.node, decision.reason) == (want, reason)


@pytest.mark.parametrize(("toleration", "taint", "expected"), [
    (Toleration("k", "Equal", "v", "NoSchedule"), Taint("k", "v", "NoSchedule"), True),
    (Toleration("k", "Equal", "w", "NoSchedule"), Taint("k", "v", "NoSchedule"), False),
    (Toleration("k", "Exists", None, None), Taint("k", "v", "NoExecute"), True),
    (Toleration("k", "Exists", None, "NoSchedule"), Taint("k", "v", "NoExecute"), False),
    (Toleration(None, "Exists", None, None), Taint("any", None, "NoSchedule"), True),
    (Toleration("other", "Exists", None, None), Taint("k", None, "NoSchedule"), False),
    (Toleration("k", "Equal", None, None), Taint("k", None, "NoSchedule"), True),
])
def test_tolerates(toleration: Toleration, taint: Taint, expected: bool) -> None:
    assert tolerates(toleration, taint) is expected


def test_cordoned_node_tolerated_by_unschedulable_toleration() -> None:
    tolerating = pod(tolerations=(Toleration("node.kubernetes.io/unschedulable", "Exists",
                                             None, "NoSchedule"),))
    assert schedule(tolerating, TWO[:1], {"node-a"}, []).node == "node-a"


def _container(requests: Resources, limits: Resources) -> Container:
    return Container("c", ("python",), (), {}, {}, requests, limits, None, None, None, {})


def _template(*containers: Container, sidecar: bool) -> PodTemplate:
    return PodTemplate({}, {}, "sa", containers, (), {}, (), (), sidecar_injected=sidecar)


def test_pod_requests_sum_containers_count_a_lone_limit_and_add_the_sidecar() -> None:
    template = _template(
        _container(Resources(500, GI, 0), Resources(0, 2 * GI, 1)),  # gpu by limit only
        _container(Resources(0, 0, 0), Resources(250, 0, 0)),  # cpu by limit only
        sidecar=True,
    )
    assert pod_requests(template) == Resources(
        750 + SIDECAR_REQUESTS.cpu_m, GI + SIDECAR_REQUESTS.memory_b, 1)
    assert pod_requests(_template(_container(Resources(1, 2, 0), Resources()), sidecar=False)) \
        == Resources(1, 2, 0)
