"""A GPU pod that may land on a CPU node makes gpu-node-drain fail, naming the placement.

The defect: components/gpu/placement.yaml keeps the toleration of the GPU nodes' taint but
drops the nodeSelector and the ``nvidia.com/gpu`` limit. A toleration lets a pod onto the
GPU nodes; it does not keep it off the CPU nodes. The defect is latent while a GPU node is
free: at start-up the scheduler spreads the pods over the emptiest nodes and, at equal
spread, prefers the GPU nodes (the local scheduler breaks ties by node name, kube-scheduler
by its other scores, where the larger GPU nodes win), so the steady state before the method
passes. It shows when no GPU is free: the experiment cordons the spare GPU nodes, drains a
GPU node, and the evicted pod goes to an empty CPU node instead of waiting Pending. The pod
becomes ready there, so only the placement verdicts fail. The healthy manifests pass the
same experiment (``chaos run experiments/gpu-node-drain.json``; the whole catalogue in
``tests/chaos/test_e2e.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_defects import assert_caught, replace_in, run_with_defect

PLACEMENT = """\
      nodeSelector:
        nvidia.com/gpu.present: "true"
"""
GPU_LIMIT = """\
      containers:
        - name: tensorflow-serving
          resources:
            limits:
              nvidia.com/gpu: 1
"""


def gpu_pods_may_land_on_cpu_nodes(reference: Path) -> None:
    """Keep the toleration, drop the nodeSelector and the GPU limit."""
    path = reference / "components" / "gpu" / "placement.yaml"
    replace_in(path, PLACEMENT, "")
    replace_in(path, GPU_LIMIT, "")
    assert "tolerations:" in path.read_text()


@pytest.mark.e2e
def test_gpu_pods_that_may_land_on_cpu_nodes_fail_gpu_node_drain(tmp_path: Path) -> None:
    outcome = run_with_defect(tmp_path, 195, "gpu-node-drain", gpu_pods_may_land_on_cpu_nodes)
    assert_caught(outcome, "gpu-node-drain.hypothesis-after.gpu-pods-only-on-gpu-nodes")
    _, failed, output = outcome
    ids = sorted(v["id"] for v in failed)
    # latent at start-up (the pre-flight passed), and the moved pod served: only placement,
    # seen by the method's probes right after the drain and by the hypothesis after it
    assert ids == ["gpu-node-drain.hypothesis-after.gpu-pods-only-on-gpu-nodes",
                   "gpu-node-drain.method.drained-gpu-pods-placed-safely",
                   "gpu-node-drain.method.serving-pods-on-cpu-nodes"], output
    after = next(v for v in failed if "hypothesis-after" in v["id"])
    assert "node-" in after["detail"] and "on nodes without a GPU" in after["detail"]


def test_the_defect_keeps_the_toleration_only(tmp_path: Path) -> None:
    reference = tmp_path / "reference-deploy"
    (reference / "components" / "gpu").mkdir(parents=True)
    source = Path(__file__).resolve().parents[2] / "reference-deploy"
    text = (source / "components" / "gpu" / "placement.yaml").read_text()
    (reference / "components" / "gpu" / "placement.yaml").write_text(text)
    gpu_pods_may_land_on_cpu_nodes(reference)
    broken = (reference / "components" / "gpu" / "placement.yaml").read_text()
    assert "nodeSelector" not in broken and "nvidia.com/gpu: 1" not in broken
    assert "key: nvidia.com/gpu" in broken
