"""Kubernetes quantities, Go durations and int-or-percent values as the manifests hold them."""

from __future__ import annotations

from typing import Any

import pytest

from tfsverify.targets.local.modelled import unmodelled
from tfsverify.targets.local.quantities import (
    parse_count,
    parse_cpu_m,
    parse_duration_s,
    parse_int_or_percent,
    parse_memory_b,
)


@pytest.mark.parametrize(
    ("value", "millicores"),
    [("500m", 500), ("2", 2000), ("0.5", 500), (2, 2000), (0.25, 250), ("0.0001", 1),
     ("1k", 1_000_000), ("100u", 1)],
)
def test_cpu(value: Any, millicores: int) -> None:
    assert parse_cpu_m(value) == millicores


@pytest.mark.parametrize(
    ("value", "size_b"),
    [("1Gi", 2**30), ("512Mi", 512 * 2**20), ("1G", 10**9), ("1000", 1000), (1000, 1000),
     ("1e3", 1000), ("1.5Ki", 1536), ("128974848", 128974848), ("129M", 129 * 10**6)],
)
def test_memory(value: Any, size_b: int) -> None:
    assert parse_memory_b(value) == size_b


@pytest.mark.parametrize("value", ["", "Gi", "1 Gi", "1GB", "1gi", "one", "-1", None, True, [1]])
def test_bad_quantities(value: Any) -> None:
    with pytest.raises(ValueError, match=r"quantity|suffix|negative"):
        parse_memory_b(value)


def test_counts_are_whole() -> None:
    assert parse_count("1") == 1 and parse_count(110) == 110
    with pytest.raises(ValueError, match="not a whole number"):
        parse_count("500m")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("5s", 5.0), ("500ms", 0.5), ("1m", 60.0), ("1m30s", 90.0), ("1.5h", 5400.0), ("0", 0.0),
     ("250us", 0.00025)],
)
def test_durations(value: str, seconds: float) -> None:
    assert parse_duration_s(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["5", "s", "5 s", "5sec", "-1s", "", 5, "1m x"])
def test_bad_durations(value: Any) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_s(value)


def test_int_or_percent() -> None:
    assert parse_int_or_percent(1) == 1
    assert parse_int_or_percent("25%") == "25%"
    for bad in ("1", "101%", -1, True, "25 %", 1.5):
        with pytest.raises(ValueError):
            parse_int_or_percent(bad)


def test_unmodelled_reports_the_highest_unmodelled_level() -> None:
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"a": "b"}, "ownerReferences": []},
        "spec": {"replicas": 1, "strategy": {"type": "Recreate"}, "template": {"spec": {
            "volumes": [{"name": "v", "emptyDir": {"medium": "Memory"}}],
            "containers": [{"name": "c", "image": "x",
                            "resources": {"requests": {"cpu": "1", "ephemeral-storage": "1Gi"}},
                            "env": [{"name": "A", "value": "1"},
                                    {"name": "B", "valueFrom": {"fieldRef": {}}}]}]}}},
    }
    assert unmodelled(deployment) == [
        "metadata.ownerReferences",
        "spec.strategy",
        "spec.template.spec.volumes[0].emptyDir.medium",
        "spec.template.spec.containers[0].image",
        "spec.template.spec.containers[0].resources.requests.ephemeral-storage",
        "spec.template.spec.containers[0].env[1].valueFrom",
    ]
    node = {"kind": "Node", "metadata": {"name": "n"},
            "status": {"allocatable": {"nvidia.com/gpu": "1", "hugepages-2Mi": "0"},
                       "conditions": []}}
    assert unmodelled(node) == ["status.allocatable.hugepages-2Mi", "status.conditions"]
