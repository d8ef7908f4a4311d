"""Reading and checking summary.json: versions, malformed files, shapes, JSON output."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tfsverify.errors import BadInput
from tfsverify.report import SCHEMA_VERSION, check_document, load_document
from tfsverify.report.document import dumps_document


def _write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_a_written_document_loads_back_equal(tmp_path: Path, document: dict[str, Any]) -> None:
    path = tmp_path / "summary.json"
    path.write_text(dumps_document(document), encoding="utf-8")
    assert load_document(path) == document
    assert load_document(tmp_path) == document  # a run folder works too


def test_dumped_json_is_pretty_with_sorted_keys(document: dict[str, Any]) -> None:
    text = dumps_document(document)
    assert text.startswith('{\n  "ended_unix"')
    assert dumps_document(json.loads(text)) == text


def test_non_finite_numbers_are_written_as_null(document: dict[str, Any]) -> None:
    document["experiments"][0]["verdicts"][0]["measured"] = math.nan
    document["experiments"][0]["verdicts"][1]["limit"] = math.inf
    loaded = json.loads(dumps_document(document))  # strict JSON: no NaN tokens
    assert loaded["experiments"][0]["verdicts"][0]["measured"] is None
    assert loaded["experiments"][0]["verdicts"][1]["limit"] is None


def test_a_newer_schema_version_is_refused(tmp_path: Path, document: dict[str, Any]) -> None:
    document["schema_version"] = SCHEMA_VERSION + 1
    path = _write(tmp_path / "summary.json", document)
    with pytest.raises(BadInput, match=r"schema_version 2, newer .* upgrade tfsverify") as info:
        load_document(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("version", [0, "1", None, True, 1.5])
def test_an_unknown_schema_version_is_refused(document: dict[str, Any], version: Any) -> None:
    document["schema_version"] = version
    with pytest.raises(BadInput, match="unknown schema_version"):
        check_document(document)


def test_malformed_json_names_the_file_and_the_place(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text('{"schema_version": 1,\n "kind": ', encoding="utf-8")
    with pytest.raises(BadInput, match=r"summary\.json is not valid JSON: .* line 2") as info:
        load_document(path)
    assert str(path) in str(info.value)


def test_a_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"cannot read .*summary\.json"):
        load_document(tmp_path / "nowhere" / "summary.json")


def test_another_kind_of_document_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "result.json", {"schema_version": 1, "kind": "tfsverify.load"})
    with pytest.raises(BadInput, match=r"not a tfsverify run document .*tfsverify\.load"):
        load_document(path)
    with pytest.raises(BadInput, match="not a JSON object"):
        check_document([1, 2])


def test_a_wrong_shape_is_reported_with_its_place(document: dict[str, Any]) -> None:
    document["experiments"][1]["series"][7]["sent"] = "forty"
    with pytest.raises(BadInput, match=r"experiments/1/series/7/sent: 'forty' is not"):
        check_document(document)


def test_a_missing_verdict_field_is_reported(document: dict[str, Any]) -> None:
    del document["experiments"][0]["verdicts"][2]["passed"]
    with pytest.raises(BadInput, match=r"experiments/0/verdicts/2.*'passed' is a required"):
        check_document(document)


def test_fields_the_renderer_does_not_read_are_allowed(document: dict[str, Any]) -> None:
    document["future_field"] = {"anything": [1, 2]}
    document["experiments"][0]["extra"] = "kept"
    check_document(document)
