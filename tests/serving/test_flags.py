"""tensorflow_model_server's flags."""

import pytest

from tfsverify.errors import BadInput
from tfsverify.serving.flags import ServerFlags, parse_flags


def test_both_spellings_and_defaults() -> None:
    flags = parse_flags(
        [
            "--port=9000",
            "--rest_api_port",
            "9001",
            "--model_config_file=/c/m.config",
            "--enable_grpc_healthcheck_service",
            "--allow_version_labels_for_unavailable_models",
            "false",
            "--file_system_poll_wait_seconds=0",
        ]
    )
    assert flags.port == 9000 and flags.rest_api_port == 9001
    assert flags.model_config_file == "/c/m.config"
    assert flags.enable_grpc_healthcheck_service is True
    assert flags.allow_version_labels_for_unavailable_models is False
    assert flags.file_system_poll_wait_seconds == 0
    assert parse_flags([]) == ServerFlags()
    assert ServerFlags().port == 8500 and ServerFlags().model_name == "default"


def test_known_flags_are_ignored_and_reported() -> None:
    flags = parse_flags(
        [
            "--enable_batching",
            "--batching_parameters_file=/b",
            "--port=1",
            "--tensorflow_intra_op_parallelism",
            "2",
        ]
    )
    assert flags.ignored == (
        "enable_batching",
        "batching_parameters_file",
        "tensorflow_intra_op_parallelism",
    )
    assert flags.port == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--no_such_flag=1"], "unknown flag --no_such_flag"),
        (["--port=http"], "invalid integer"),
        (["--port=70000"], "out of range"),
        (["--enable_grpc_healthcheck_service=maybe"], "invalid bool"),
        (["--model_name"], "needs a value"),
        (["models"], "unexpected argument"),
    ],
)
def test_bad_flags(argv: list[str], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_flags(argv)
