"""``junit.xml``: the verdicts as JUnit test results, for CI systems that show test reports.

One ``<testsuite>`` per experiment (``name`` = experiment), one ``<testcase>`` per verdict
(``classname`` = experiment, ``name`` = ``<window>.<assertion>``). A failed verdict holds a
``<failure>`` (message: measured against limit; text: the detail). An experiment that could
not run (an error, or a Chaos Toolkit status of failed/aborted/interrupted without a
deviation) gets one more test case, ``experiment``, holding an ``<error>``. The counts on
``<testsuites>`` and each ``<testsuite>`` add up; characters XML 1.0 cannot carry are dropped.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from tfsverify.report.digest import ExperimentDigest, digest_run

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(document: Mapping[str, Any]) -> str:
    """The JUnit XML of a checked results document (with an XML declaration)."""
    run = digest_run(document)
    root = ET.Element("testsuites", name=_text(f"tfsverify run {run.run_id}"))
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for exp in run.experiments:
        suite = _suite(exp)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        root.append(suite)
    for key, value in totals.items():
        root.set(key, str(value))
    duration = run.duration_s
    root.set("time", f"{duration:.3f}" if duration is not None else "0")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(exp: ExperimentDigest) -> ET.Element:
    suite = ET.Element("testsuite", name=_text(exp.name))
    tests = failures = errors = 0
    if exp.origin_unix is not None:
        moment = dt.datetime.fromtimestamp(exp.origin_unix, tz=dt.UTC).replace(tzinfo=None)
        suite.set("timestamp", moment.isoformat(timespec="seconds"))
    properties = ET.SubElement(suite, "properties")
    for key, value in (("title", exp.title), ("file", exp.file), ("status", exp.status)):
        ET.SubElement(properties, "property", name=key, value=_text(value))
    for row in exp.verdicts:
        tests += 1
        case = ET.SubElement(
            suite, "testcase", classname=_text(exp.name), name=_text(row.name), time="0"
        )
        if not row.passed:
            failures += 1
            failure = ET.SubElement(
                case,
                "failure",
                message=_text(f"{row.name}: measured {row.measured}, limit {row.limit}"),
                type="SloBreach",
            )
            failure.text = _text(row.detail or "assertion failed")
    if exp.verdict == "error":
        tests += 1
        errors += 1
        case = ET.SubElement(
            suite, "testcase", classname=_text(exp.name), name="experiment", time="0"
        )
        message = exp.error or f"the experiment did not complete (status {exp.status})"
        error = ET.SubElement(case, "error", message=_text(message), type="ExperimentError")
        error.text = _text(message)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", "0")
    suite.set("time", f"{_duration_s(exp):.3f}")
    return suite


def _duration_s(exp: ExperimentDigest) -> float:
    """Seconds from the experiment's origin to the end of its last window or activity."""
    if exp.origin_unix is None:
        return 0.0
    ends = [w.end_unix - exp.origin_unix for w in exp.windows]
    ends += [
        a.start_s + a.duration_s
        for a in exp.activities
        if a.start_s is not None and a.duration_s is not None
    ]
    return max([0.0, *ends])


def _text(value: str) -> str:
    """``value`` without the characters XML 1.0 forbids (ElementTree escapes the rest)."""
    return _NOT_XML.sub("", str(value))
