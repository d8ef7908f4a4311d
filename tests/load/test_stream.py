"""``tfsverify load --stream``: the JSON lines a run writes while it runs, and their parser."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from tfsverify.load import command
from tfsverify.load.merge import merge_histograms
from tfsverify.load.mesh import fixed_upstream
from tfsverify.load.profiles import profile_from_dict
from tfsverify.load.recorder import percentiles_ms
from tfsverify.load.result import LoadResult
from tfsverify.load.stream import empty_result, read_stream, result_from_stream, run_streaming
from tfsverify.serving.golden import GoldenSet

PROFILE = {"kind": "constant", "rate_rps": 60, "duration_s": 2, "warmup_s": 1}
_RUN: list[tuple[list[str], LoadResult]] = []  # one real run shared by the tests below


@pytest.fixture
def streamed(fake_server: Any, golden: GoldenSet) -> tuple[list[str], LoadResult]:
    """One real 3-second run against the fake server: its lines and its in-process result."""
    if not _RUN:
        lines: list[str] = []
        result = run_streaming(profile_from_dict(PROFILE, name="short"),
                               fixed_upstream(fake_server.address, None), golden=golden,
                               write=lines.append)
        _RUN.append((lines, result))
    return _RUN[0]


def window_ms(result: LoadResult, first: int, last: int) -> dict[str, float | None]:
    rows = [r for r in result.series if first <= r.index <= last and r.histogram is not None]
    return percentiles_ms(merge_histograms([r.histogram for r in rows if r.histogram]))


def test_lines_are_header_seconds_progress_end(streamed: tuple[list[str], LoadResult]) -> None:
    lines, result = streamed
    kinds = [json.loads(line)["kind"] for line in lines]
    assert kinds[0] == "header" and kinds[-1] == "end"
    assert kinds.count("second") == len(result.series) == 3
    assert "progress" in kinds
    seconds = [json.loads(line) for line in lines if '"kind":"second"' in line]
    assert [s["index"] for s in seconds] == [0, 1, 2]
    assert all(isinstance(s["hdr"], str) for s in seconds)  # base64 text of encode()
    header = json.loads(lines[0])
    assert header["profile"]["name"] == "short" and header["warmup_s"] == 1
    assert header["environment"] == result.environment


def test_parsed_result_equals_the_in_process_one(streamed: tuple[list[str], LoadResult]) -> None:
    lines, result = streamed
    parsed = result_from_stream(lines)
    assert parsed.series == result.series  # histograms included, byte for byte
    assert parsed.output.totals == result.output.totals
    assert parsed.percentiles_ms() == result.percentiles_ms()
    assert parsed.to_dict(include_series=True) == result.to_dict(include_series=True)
    assert window_ms(parsed, 1, 2) == window_ms(result, 1, 2)
    assert window_ms(parsed, 0, 1) == window_ms(result, 0, 1)
    assert result.output.totals.ok > 100 and not parsed.interrupted


def test_a_stop_time_keeps_only_the_seconds_ended_by_then(
        streamed: tuple[list[str], LoadResult]) -> None:
    lines, result = streamed
    start = result.output.start_unix
    parsed = result_from_stream(lines, stop_unix=start + 2.5)
    assert [r.index for r in parsed.series] == [0, 1]
    assert parsed.series == result.series[:2]
    assert parsed.interrupted
    measured = result.series[1]
    assert parsed.output.totals.sent == measured.sent and parsed.output.totals.ok == measured.ok
    assert measured.histogram is not None
    exact = percentiles_ms(HdrHistogram.decode(measured.histogram))
    assert percentiles_ms(parsed.latency) == exact
    assert parsed.measured_s == pytest.approx(1.0)


def test_a_truncated_last_line_and_noise_are_skipped(
        streamed: tuple[list[str], LoadResult]) -> None:
    lines, _ = streamed
    body = [line for line in lines if '"kind":"end"' not in line]
    cut = "some stderr noise\n" + "".join(body[:-1]) + body[-1][: len(body[-1]) // 2]
    view = read_stream(cut.splitlines())
    assert view.end is None and view.header is not None
    parsed = result_from_stream(view)
    assert parsed.interrupted
    assert [r.index for r in parsed.series] == list(range(len(view.seconds)))
    assert view.latest() is not None


def test_no_header_is_a_target_error() -> None:
    from tfsverify.errors import TargetError

    with pytest.raises(TargetError, match="no header"):
        result_from_stream(["not json", '{"kind": "second", "index": 0}'])


def test_empty_result_sends_nothing() -> None:
    result = empty_result(profile_from_dict(PROFILE, name="short"), 1000.0)
    assert result.output.totals.sent == 0 and result.series == [] and result.interrupted


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tfsverify load")
    command.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_stream_prints_only_json_lines(
        fake_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "tiny.yaml"
    profile.write_text("kind: constant\nrate_rps: 40\nduration_s: 1\n")
    code = command.run(parse("--profile", str(profile), "--address", fake_server.address,
                             "--stream"), None)
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    parsed = result_from_stream(out)
    assert parsed.output.totals.ok == 40 and parsed.profile.name == "tiny"


def test_cli_stream_with_json_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "tiny.yaml"
    profile.write_text("kind: constant\nrate_rps: 40\nduration_s: 1\n")
    code = command.run(parse("--profile", str(profile), "--address", "127.0.0.1:1",
                             "--stream", "--json"), None)
    assert code == 2 and "--stream and --json" in capsys.readouterr().err
