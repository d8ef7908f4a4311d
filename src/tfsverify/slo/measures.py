"""What a window measured: request counts and the ratios the SLOs limit.

Definitions (the results document's):

* ``availability`` = ok / sent. A wrong answer is not ok; ``failed`` counts every gRPC error,
  the load engine's own ``CLIENT_OVERLOAD`` included.
* ``wrong_answer_rate`` = wrong / (ok + wrong): the share of answers that were wrong.
* ``error_rate`` = failed / sent, or the failures with one status / sent.

Each ratio is ``None`` when its denominator is 0: nothing to judge is never a pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tfsverify.slo.series import Row


@dataclass(frozen=True)
class Counts:
    """Requests of a window by outcome; ``failed_by_status`` maps gRPC status -> count."""

    sent: int = 0
    ok: int = 0
    wrong: int = 0
    failed: int = 0
    failed_by_status: dict[str, int] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return self.ok + self.wrong

    @property
    def availability(self) -> float | None:
        return self.ok / self.sent if self.sent else None

    @property
    def wrong_answer_rate(self) -> float | None:
        return self.wrong / self.answered if self.answered else None

    def failed_with(self, status: str | None = None) -> int:
        """Failures with ``status``, or all failures when ``status`` is ``None``."""
        return self.failed if status is None else self.failed_by_status.get(status, 0)

    def error_rate(self, status: str | None = None) -> float | None:
        return self.failed_with(status) / self.sent if self.sent else None

    def failures_text(self) -> str:
        """``UNAVAILABLE 7, DEADLINE_EXCEEDED 1``: the statuses, most frequent first."""
        ranked = sorted(self.failed_by_status.items(), key=lambda item: (-item[1], item[0]))
        return ", ".join(f"{status} {count}" for status, count in ranked if count)


def count(rows: Iterable[Row]) -> Counts:
    """Sum the rows' counters."""
    sent = ok = wrong = failed = 0
    by_status: Counter[str] = Counter()
    for row in rows:
        sent += row.sent
        ok += row.ok
        wrong += row.wrong
        failed += row.failed
        by_status.update(row.failed_by_status)
    return Counts(sent, ok, wrong, failed, dict(by_status))
