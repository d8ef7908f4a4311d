"""Model checks: the model status through the mesh as the model-admin identity, and which
model version answers the clients' Predict calls right now."""

from __future__ import annotations

from typing import Any

from tfsverify.chaos import context
from tfsverify.chaos.target import current_target

__all__ = ["answers_by_model_version", "every_answer_right", "model_available",
           "model_version_takes_share"]


def model_available(name: str | None = None, version: int | None = None) -> bool:
    """True when model ``name`` (default: the deployment's model) has ``version`` (default:
    every version it reports) in state AVAILABLE."""
    target = current_target()
    status = target.model_status(name or "", version)  # "": the deployment's model
    context.note(", ".join(f"v{v}: {s}" for v, s in sorted(status.versions.items())))
    return bool(status.versions) and all(s == "AVAILABLE" for s in status.versions.values())


def answers_by_model_version(requests: int = 200) -> dict[str, Any]:
    """Send ``requests`` golden Predict calls one after another, the way the load does
    (the target's endpoints, its weighted route split, the client identity), and count the
    right answers per model version. Returns ``{"requests", "right_pct_by_version",
    "wrong", "failed"}``: percentages of all calls, wrong answers and failed calls."""
    sample = _sample(requests)
    return {
        "requests": sample.requests,
        "right_pct_by_version": {str(v): round(sample.share_pct(v), 2)
                                 for v in sorted(sample.right_by_version)},
        "wrong": sample.wrong,
        "failed": sum(sample.failed_by_status.values()),
    }


def model_version_takes_share(version: int = 2, share_pct: float = 20,
                              tolerance_pct: float = 10, requests: int = 200) -> bool:
    """True when model ``version`` gives the right answer to ``share_pct`` percent of
    ``requests`` sequential golden Predict calls, give or take ``tolerance_pct`` points,
    every other call is answered right by another version, and none is wrong or fails."""
    sample = _sample(requests)
    measured = sample.share_pct(version)
    others_right = sum(n for v, n in sample.right_by_version.items() if v != version)
    context.note(f"v{version} answered {measured:.1f} % (wanted {share_pct:g} ± "
                 f"{tolerance_pct:g}); {sample.describe()}")
    return (abs(measured - share_pct) <= tolerance_pct and sample.wrong == 0
            and not sample.failed_by_status
            and sample.right_by_version[version] + others_right == sample.requests)


def every_answer_right(requests: int = 100) -> bool:
    """True when ``requests`` sequential golden Predict calls are all answered, each right
    for the model version that answered it (whichever track the route chose)."""
    sample = _sample(requests)
    context.note(sample.describe())
    return sample.wrong == 0 and not sample.failed_by_status and sample.requests > 0


def _sample(requests: int) -> Any:
    from tfsverify.load.sample import sample_answers
    from tfsverify.serving.golden import load_golden

    return sample_answers(current_target().endpoint, load_golden(), requests)
