"""The report folder: every file written, summary.json round-trips, series tables, re-render."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from tfsverify.errors import BadInput
from tfsverify.report import load_document, render_again, write_reports
from tfsverify.report.series import parquet_available, series_file_names, write_series

REPORT_FILES = ["summary.json", "report.html", "report.md", "junit.xml"]


def test_every_file_is_written(report_dir: Path) -> None:
    suffix = ".parquet" if parquet_available() else ".csv"
    expected = [*REPORT_FILES, f"series-pod-kill{suffix}", f"series-grpc-fault{suffix}"]
    assert sorted(p.name for p in report_dir.iterdir()) == sorted(expected)
    assert all((report_dir / name).stat().st_size > 0 for name in expected)


def test_write_reports_returns_the_paths_in_order(tmp_path: Path, document: dict[str, Any]) -> None:
    document["experiments"] = document["experiments"][1:]
    paths = write_reports(document, tmp_path / "run")
    assert [p.name for p in paths[:4]] == REPORT_FILES
    assert paths[4].name.startswith("series-grpc-fault.")
    assert all(p.is_file() for p in paths)


def test_summary_json_round_trips(report_dir: Path, document: dict[str, Any]) -> None:
    assert load_document(report_dir / "summary.json") == document


def test_the_series_table_has_windows_and_a_column_per_status(report_dir: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.read_parquet(report_dir / "series-pod-kill.parquet")
    assert len(frame) == 60
    assert {"failed_UNAVAILABLE", "failed_CLIENT_OVERLOAD", "hdr", "offset_s"} <= set(frame)
    assert list(frame["window"].iloc[[0, 5, 25, 40]]) == ["", "baseline", "fault", "recovery"]
    assert frame["failed_UNAVAILABLE"].sum() == frame["failed"].sum() - 2
    assert frame["hdr"].isna().sum() == 1  # the second in which nothing was answered


def test_the_csv_table_without_pyarrow(tmp_path: Path, document: dict[str, Any]) -> None:
    path = tmp_path / "series.csv"
    write_series(document["experiments"][0], path)
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 60
    assert rows[26]["window"] == "fault" and int(rows[26]["failed_UNAVAILABLE"]) > 0


def test_series_file_names_are_safe_and_unique() -> None:
    names = series_file_names(["pod kill", "pod/kill", "../x", ""], ".csv")
    assert names == [
        "series-pod-kill.csv",
        "series-pod-kill-2.csv",
        "series-x.csv",
        "series-experiment.csv",
    ]


def test_render_again_rewrites_the_renderings(tmp_path: Path, document: dict[str, Any]) -> None:
    run = tmp_path / "run"
    write_reports(document, run)
    before = {name: (run / name).read_text(encoding="utf-8") for name in REPORT_FILES[1:]}
    for name in REPORT_FILES[1:]:
        (run / name).unlink()
    paths = render_again(run)
    assert [p.name for p in paths] == REPORT_FILES[1:]
    after = {name: (run / name).read_text(encoding="utf-8") for name in REPORT_FILES[1:]}
    assert after == before  # rendering is deterministic


def test_render_again_refuses_a_newer_document(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(
        '{"schema_version": 9, "kind": "tfsverify.run"}', encoding="utf-8"
    )
    with pytest.raises(BadInput, match="schema_version 9"):
        render_again(tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_a_bad_document_writes_nothing(tmp_path: Path, document: dict[str, Any]) -> None:
    document["verdict"] = "maybe"
    with pytest.raises(BadInput, match="verdict"):
        write_reports(document, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_an_unwritable_folder_is_bad_input(tmp_path: Path, document: dict[str, Any]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(BadInput, match="cannot write the report to"):
        write_reports(document, blocker / "run")
