"""junit.xml: valid XML, one suite per experiment, one case per verdict, right counts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tfsverify.report import render_junit


def test_suites_cases_and_counts(report_dir: Path) -> None:
    root = ET.parse(report_dir / "junit.xml").getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("8", "2", "0")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["pod-kill", "grpc-fault"]
    pod_kill = suites[0]
    assert (pod_kill.get("tests"), pod_kill.get("failures"), pod_kill.get("errors")) == (
        "5",
        "2",
        "0",
    )
    cases = pod_kill.findall("testcase")
    assert {c.get("classname") for c in cases} == {"pod-kill"}
    assert [c.get("name") for c in cases] == [
        "fault.availability",
        "fault.p99_latency_ms",
        "baseline.availability",
        "recovery.p99_latency_ms",
        "recovery.time_to_recover_s",
    ]
    failure = cases[0].find("failure")
    assert failure is not None
    assert failure.get("message") == "fault.availability: measured 87.20 %, limit ≥ 99.00 %"
    assert failure.text == "availability in the fault window: 0.872 against >= 0.99"
    assert cases[2].find("failure") is None
    assert [len(s.findall("testcase")) for s in suites] == [
        int(s.get("tests", "-1")) for s in suites
    ]


def test_an_experiment_that_errored_is_an_error_case(document: dict[str, Any]) -> None:
    second = document["experiments"][1]
    second["error"] = "target not running: no ready pods after 60 s"
    second["status"] = "aborted"
    second["verdicts"] = []
    root = ET.fromstring(render_junit(document))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "2", "1")
    suite = root.findall("testsuite")[1]
    assert (suite.get("tests"), suite.get("errors")) == ("1", "1")
    (case,) = suite.findall("testcase")
    assert (case.get("classname"), case.get("name")) == ("grpc-fault", "experiment")
    error = case.find("error")
    assert error is not None and error.get("message") == second["error"]


def test_hostile_text_and_control_characters_stay_valid_xml(document: dict[str, Any]) -> None:
    verdict = document["experiments"][0]["verdicts"][1]
    verdict["detail"] = 'bad "quotes" & <tags>\x00\x1b]0;\x07 ]]> end'
    verdict["assertion"] = "p99<&>"
    root = ET.fromstring(render_junit(document))
    case = root.find("testsuite/testcase[@name='fault.p99<&>']")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None and failure.text == 'bad "quotes" & <tags>]0; ]]> end'
