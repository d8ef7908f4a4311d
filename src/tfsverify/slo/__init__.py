"""Service level objectives: judging a chaos run's load series against an SLO set.

Pure functions over data: no network, no processes, no clocks. The only I/O is reading SLO
set files (:func:`load_slo_set`).

A run is judged in three steps::

    from tfsverify import slo

    slo_set = slo.load_slo_set("scenarios/slo/default.yaml")
    windows = slo.split_windows(series, activities)   # baseline / fault / recovery / whole
    verdicts = slo.evaluate(slo_set, series, windows, experiment="pod-kill")
    slo.overall(verdicts)                              # "pass" or "breach"

``series`` is the load engine's per-second series (rows of the results document, or the
engine's ``IntervalStats``), ``activities`` the journal's activities with their phases and
unix times. Each :class:`Verdict` carries the fields of ``summary.json``'s ``verdicts``
(``Verdict.to_dict()``).

The rules, in short:

* warm-up rows are in no window; a row belongs to a window when it *starts* in it; the fault
  window is widened to whole seconds so a short fault owns the second it happened in;
* availability is ok / sent (a wrong answer is not ok); a window with no requests fails
  ("not enough traffic to judge") and ``min_requests`` makes a thin window fail too;
* latency percentiles are exact: the rows' HdrHistograms are merged, never averaged;
* time to recover counts from the fault's start to the first rolling window from which every
  rolling window to the end of the run meets the recovery limits; ``None`` (failed) if never.

The SLO file format is documented in :mod:`tfsverify.slo.schema`.
"""

from tfsverify.slo.judges import Extra, NewPod
from tfsverify.slo.loader import load_slo_set, load_slo_sets
from tfsverify.slo.measures import Counts, count
from tfsverify.slo.recovery import Recovery, time_to_recover
from tfsverify.slo.schema import KINDS, WINDOWS, slo_errors, slo_schema
from tfsverify.slo.series import Latency, Row, as_rows, latency, merge_histograms, rows_in
from tfsverify.slo.sets import Assertion, SloSet, slo_set_from_dict
from tfsverify.slo.verdicts import Verdict, evaluate, overall
from tfsverify.slo.windows import fault_from_activities, split_windows

__all__ = [
    "KINDS",
    "WINDOWS",
    "Assertion",
    "Counts",
    "Extra",
    "Latency",
    "NewPod",
    "Recovery",
    "Row",
    "SloSet",
    "Verdict",
    "as_rows",
    "count",
    "evaluate",
    "fault_from_activities",
    "latency",
    "load_slo_set",
    "load_slo_sets",
    "merge_histograms",
    "overall",
    "rows_in",
    "slo_errors",
    "slo_schema",
    "slo_set_from_dict",
    "split_windows",
    "time_to_recover",
]
