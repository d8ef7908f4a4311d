"""The journal of applied faults: what ``tfsverify recover`` undoes after a crash.

Every action appends a line to ``faults.jsonl`` in the target's state directory *before* it
acts, and its rollback appends an ``undone`` line for it afterwards, so a run that dies in
between (a crash, ``kill -9``, a lost machine) leaves the fault on record::

    {"event": "applied", "id": "f-...", "kind": "cordon", "subject": "node-a",
     "experiment": "node-drain", "persistent": true, "unix": 1795680000.0}
    {"event": "undone", "id": "f-...", "how": "uncordoned", "unix": 1795680030.0}

``persistent`` faults stay until undone (a cordoned node, an injected mesh fault, route
weights moved by a model rollout); the
others heal by themselves (a killed pod is replaced by its ReplicaSet, a killed sidecar is
restarted by the kubelet) and are marked undone as soon as their action returns.
The file is only ever appended to (under an exclusive lock), so replaying it is safe and
marking a fault undone twice changes nothing.
"""

from __future__ import annotations

import fcntl
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfsverify.errors import BadInput

KINDS = ("cordon", "grpc_fault", "pod_kill", "sidecar_kill", "route_weights")
PERSISTENT = {"cordon": True, "grpc_fault": True, "pod_kill": False, "sidecar_kill": False,
              "route_weights": True}


@dataclass(frozen=True)
class Fault:
    """An applied fault as recorded."""

    id: str
    kind: str
    subject: str
    experiment: str | None
    persistent: bool
    applied_unix: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "subject": self.subject,
                "experiment": self.experiment, "persistent": self.persistent,
                "applied_unix": self.applied_unix}


class FaultLog:
    """Append-only journal of faults at ``path`` (created with its folder on first write)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _locked(self) -> Iterator[Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield handle
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _append(self, entry: dict[str, Any]) -> None:
        with self._locked() as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
            handle.flush()

    def record(self, kind: str, subject: str, experiment: str | None = None) -> Fault:
        """Record a fault about to be applied; returns it (keep its ``id`` to undo it)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        fault = Fault(f"f-{uuid.uuid4().hex[:12]}", kind, subject, experiment,
                      PERSISTENT[kind], time.time())
        self._append({"event": "applied", **fault.to_dict(), "unix": fault.applied_unix})
        return fault

    def mark_undone(self, fault_id: str, how: str) -> None:
        """Record that the fault ``fault_id`` was undone (a no-op for the reader if repeated)."""
        self._append({"event": "undone", "id": fault_id, "how": how, "unix": time.time()})

    def entries(self) -> list[dict[str, Any]]:
        """Every line of the journal, in order (BadInput naming the line if one is broken)."""
        if not self.path.exists():
            return []
        entries = []
        text = self.path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError as exc:
                if number == len(text.splitlines()):
                    continue  # a line cut short by a crash while it was written
                raise BadInput(f"{self.path}:{number}: not a JSON line ({exc})") from exc
            if isinstance(entry, dict):
                entries.append(entry)
        return entries

    def open_faults(self) -> list[Fault]:
        """Faults applied and not yet undone, oldest first."""
        applied: dict[str, Fault] = {}
        for entry in self.entries():
            if entry.get("event") == "applied" and entry.get("kind") in KINDS:
                applied[str(entry["id"])] = Fault(
                    str(entry["id"]), str(entry["kind"]), str(entry.get("subject", "")),
                    entry.get("experiment"), bool(entry.get("persistent")),
                    float(entry.get("applied_unix", entry.get("unix", 0.0))),
                )
            elif entry.get("event") == "undone":
                applied.pop(str(entry.get("id")), None)
        return list(applied.values())
