"""What actions and probes share with the control while an experiment runs.

- the name of the running experiment (recorded with each fault in the fault journal);
- a one-line note an activity may leave for the report (:func:`note`), which the control
  attaches to the activity's record when it ends;
- the fault journal of the current target (:func:`fault_log`).
"""

from __future__ import annotations

import threading

from tfsverify.chaos.faultlog import FaultLog
from tfsverify.chaos.target import current_target, fault_log_path

_lock = threading.Lock()
_experiment: list[str | None] = [None]
_notes: dict[int, str] = {}


def set_experiment(name: str | None) -> None:
    _experiment[0] = name


def experiment() -> str | None:
    """The running experiment's name (the file's stem), None outside an experiment."""
    return _experiment[0]


def note(text: str) -> None:
    """Leave one line about the current activity for the report (last one wins)."""
    with _lock:
        _notes[threading.get_ident()] = text


def take_note() -> str | None:
    """The note the current thread's activity left, and forget it."""
    with _lock:
        return _notes.pop(threading.get_ident(), None)


def fault_log() -> FaultLog:
    """The fault journal of the current target."""
    return FaultLog(fault_log_path(current_target()))
