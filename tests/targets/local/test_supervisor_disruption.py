"""Evictions honour PodDisruptionBudgets the way the Eviction API does."""

from __future__ import annotations

import pytest

from tfsverify.errors import BadInput
from tfsverify.targets.local.disruption import (
    BudgetPod,
    desired_healthy,
    eviction_blocked,
    scaled_value,
)
from tfsverify.targets.local.spec import DisruptionBudget

WEB = {"app": "web"}


def budget(min_available: int | str | None = None, max_unavailable: int | str | None = None,
           policy: str = "IfHealthyBudget") -> DisruptionBudget:
    return DisruptionBudget("web-pdb", dict(WEB), min_available, max_unavailable, policy)


def pods(ready: int, unready: int = 0, terminating: int = 0) -> list[BudgetPod]:
    out = [BudgetPod(f"r{i}", "ns", dict(WEB), "Running", True) for i in range(ready)]
    out += [BudgetPod(f"u{i}", "ns", dict(WEB), "Running", False) for i in range(unready)]
    out += [BudgetPod(f"t{i}", "ns", dict(WEB), "Terminating", False) for i in range(terminating)]
    out.append(BudgetPod("other", "ns", {"app": "db"}, "Running", True))
    return out


@pytest.mark.parametrize(("value", "total", "expected"), [
    (1, 3, 1), ("50%", 3, 2), ("34%", 3, 2), ("33%", 3, 1), ("100%", 3, 3), ("2", 3, 2),
    ("0%", 3, 0),
])
def test_scaled_value_rounds_percentages_up(value: int | str, total: int, expected: int) -> None:
    assert scaled_value(value, total) == expected


def test_scaled_value_rejects_garbage() -> None:
    with pytest.raises(BadInput, match="not an integer or a percentage"):
        scaled_value("half", 3)


@pytest.mark.parametrize(("pdb", "replicas", "expected"), [
    (budget(max_unavailable=1), 3, 2),
    (budget(max_unavailable="50%"), 3, 1),
    (budget(max_unavailable=5), 3, 0),
    (budget(min_available=3), 3, 3),
    (budget(min_available="50%"), 3, 2),
    (budget(), 3, 0),
])
def test_desired_healthy(pdb: DisruptionBudget, replicas: int, expected: int) -> None:
    assert desired_healthy(pdb, replicas) == expected


CASES = [
    # (id, budget, replicas, pods, pod to evict, allowed)
    ("maxUnavailable 1, all ready", budget(max_unavailable=1), 3, pods(3), 0, True),
    ("maxUnavailable 1, one already terminating", budget(max_unavailable=1), 3,
     pods(2, terminating=1), 0, False),
    ("maxUnavailable 1, one unready: the ready ones are protected", budget(max_unavailable=1), 3,
     pods(2, unready=1), 0, False),
    ("unready pod, AlwaysAllow", budget(min_available=2, policy="AlwaysAllow"), 3,
     pods(1, unready=2), 1, True),
    ("unready pod, IfHealthyBudget, budget broken", budget(min_available=2), 3,
     pods(1, unready=2), 1, False),
    ("unready pod, IfHealthyBudget, budget kept", budget(min_available=1), 3,
     pods(1, unready=2), 1, True),
    ("minAvailable = replicas", budget(min_available=1), 1, pods(1), 0, False),
    ("minAvailable 50% of 2", budget(min_available="50%"), 2, pods(2), 0, True),
    ("terminating pod is never blocked", budget(min_available=3), 3,
     pods(2, terminating=1), 2, True),
]


@pytest.mark.parametrize(("pdb", "replicas", "members", "index", "allowed"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_eviction(pdb: DisruptionBudget, replicas: int, members: list[BudgetPod], index: int,
                  allowed: bool) -> None:
    verdict = eviction_blocked(pdb, "ns", replicas, members, members[index])
    if allowed:
        assert verdict is None
    else:
        assert verdict is not None
        assert "disruption budget web-pdb" in verdict
        assert members[index].name in verdict


def test_pending_pods_and_pods_outside_the_budget_are_free() -> None:
    members = pods(1)
    pending = BudgetPod("p", "ns", dict(WEB), "Pending", False)
    strict = budget(min_available=5)
    assert eviction_blocked(strict, "ns", 1, members, pending) is None
    assert eviction_blocked(strict, "ns", 1, members, members[-1]) is None  # app=db
    assert eviction_blocked(strict, "other-ns", 1, members, members[0]) is None
