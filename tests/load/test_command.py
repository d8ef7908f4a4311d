"""``tfsverify load`` as the CLI runs it: flags, output, exit codes."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from tfsverify.load import command
from tfsverify.targets.base import Endpoint

DATA = Path(__file__).parent / "data"


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "short.yaml"
    path.write_text("kind: constant\nrate_rps: 50\nduration_s: 0.6\n")
    return path


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tfsverify load")
    command.add_arguments(parser)
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_json_run_against_an_address_writes_results(
    fake_server: Any, profile_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = parse(
        "--profile",
        str(profile_file),
        "--address",
        fake_server.address,
        "--rate",
        "100",
        "--json",
        "--out",
        str(out),
    )
    assert command.run(args, None) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1 and doc["client"]["mode"] == "address"
    assert doc["totals"]["sent"] == 60 == doc["totals"]["ok"]
    assert doc["profile"]["stages"][0]["rate_rps"] == 100
    assert set(doc["environment"]) >= {"python", "grpc", "platform", "cpu_count"}
    assert json.loads((out / "result.json").read_text())["totals"]["ok"] == 60
    assert (out / "series.parquet").stat().st_size > 0


def test_summary_table_without_json(
    fake_server: Any, profile_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        command.run(parse("--profile", str(profile_file), "--address", fake_server.address), None)
        == 0
    )
    out = capsys.readouterr().out
    assert "latency p99" in out and "wrong answers" in out


def test_target_endpoints_are_used_without_address(
    fake_server: Any, profile_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def endpoint() -> Endpoint:
        return Endpoint(addresses=(fake_server.address,), tls=None)

    assert command.run(parse("--profile", str(profile_file), "--json"), endpoint) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["client"]["mode"] == "mesh" and doc["totals"]["ok"] == 30


def test_bad_profile_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "negative-rate.yaml"
    assert command.run(parse("--profile", str(path), "--address", "127.0.0.1:1"), None) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == f"tfsverify load: error: {path}: stages[1].rate_rps: -5 is less than the "
        "minimum of 0"
    )


def test_missing_certificate_file_exits_2(
    profile_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "ca.pem"
    args = parse("--profile", str(profile_file), "--address", "127.0.0.1:1", "--ca", str(missing))
    assert command.run(args, None) == 2
    assert f"TLS CA file {missing} does not exist" in capsys.readouterr().err


def test_unreachable_address_exits_3(
    profile_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = f"127.0.0.1:{free_port()}"
    assert command.run(parse("--profile", str(profile_file), "--address", address), None) == 3
    err = capsys.readouterr().err
    assert f"cannot reach {address}" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "give --address HOST:PORT, or select a target"),
        (("--ca", "x.pem"), "need --address"),
        (("--address", "nowhere"), "is not a host:port address"),
        (("--address", "127.0.0.1:1", "--plaintext", "--ca", "x"), "--plaintext excludes"),
        (("--address", "127.0.0.1:1", "--rate", "-3"), "--rate must be more than 0"),
    ],
)
def test_usage_errors_exit_2(
    profile_file: Path, extra: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command.run(parse("--profile", str(profile_file), *extra), None) == 2
    assert message in capsys.readouterr().err


def test_ctrl_c_stops_and_still_reports(
    fake_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "long.yaml"
    path.write_text("kind: constant\nrate_rps: 50\nduration_s: 60\n")
    out = tmp_path / "out"
    timer = threading.Timer(0.8, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        code = command.run(
            parse(
                "--profile",
                str(path),
                "--address",
                fake_server.address,
                "--json",
                "--out",
                str(out),
            ),
            None,
        )
    finally:
        timer.cancel()
    assert code == 130
    doc = json.loads(capsys.readouterr().out)
    assert doc["interrupted"] is True and 0 < doc["totals"]["sent"] < 200
    assert (out / "result.json").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
