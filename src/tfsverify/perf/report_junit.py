"""``junit.xml``: the baseline comparison as JUnit test results, for CI test reports.

One ``<testsuite name="perf">`` with one ``<testcase>`` per metric
(``classname`` = ``perf.<part>``, ``name`` = the metric id). A regression (slower beyond
its threshold, gating) is a ``<failure>``; a metric that was not compared is
``<skipped>``; every other verdict passes, with the verdict and the change in
``<system-out>``. Without a comparison there is one skipped test case, ``baseline``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from tfsverify.perf import report_view as view

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: Any) -> str:
    return _NOT_XML.sub("", str(value))


def render_junit(document: Mapping[str, Any]) -> str:
    root = ET.Element("testsuites", name=_text(f"tfsverify perf {document['run_id']}"))
    suite = ET.SubElement(root, "testsuite", name="perf")
    comparison = document.get("comparison") or {}
    confidence = comparison.get("thresholds", {}).get("confidence", 0.95)
    tests = failures = skipped = 0
    for metric in comparison.get("metrics", []):
        tests += 1
        part = metric["id"].split(".", 1)[0]
        case = ET.SubElement(suite, "testcase", classname=f"perf.{part}",
                             name=_text(metric["id"]), time="0")
        change = view.format_change(metric, confidence)
        if metric["regression"]:
            failures += 1
            failure = ET.SubElement(case, "failure", type="PerformanceRegression",
                                    message=_text(f"{metric['id']} slower: {change}, threshold "
                                                  f"{view.format_threshold(metric)}"))
            failure.text = _text("; ".join(metric.get("notes", [])) or metric["title"])
        elif metric["verdict"] == "not compared":
            skipped += 1
            ET.SubElement(case, "skipped", message=_text("; ".join(metric.get("notes", []))))
        else:
            out = ET.SubElement(case, "system-out")
            out.text = _text(f"{metric['verdict']}: {change}, p = {metric.get('p_value')}")
    if not comparison.get("metrics"):
        tests, skipped = tests + 1, skipped + 1
        case = ET.SubElement(suite, "testcase", classname="perf", name="baseline", time="0")
        ET.SubElement(case, "skipped",
                      message=_text(comparison.get("skipped") or "no baseline was compared"))
    duration = f"{float(document.get('duration_s') or 0):.3f}"
    for element in (root, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", "0")
        element.set("skipped", str(skipped))
        element.set("time", duration)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
