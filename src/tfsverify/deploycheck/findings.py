"""One finding of a schema or policy check, printed as one line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Finding:
    """``check``: the check id (``replicas-min``); ``ref``: ``Kind/name`` of the object;
    ``problem``: what is wrong; ``why``: why it matters for resilience or security."""

    check: str
    ref: str
    problem: str
    why: str

    def __str__(self) -> str:
        return f"{self.check}: {self.ref}: {self.problem} — {self.why}"


def ref(obj: dict[str, Any]) -> str:
    """``Kind/name`` of a Kubernetes object (``?`` where a part is missing)."""
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{obj.get('kind') or '?'}/{name or '?'}"
