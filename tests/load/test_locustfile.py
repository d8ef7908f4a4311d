"""scenarios/locustfile.py drives Locust from a profile and checks answers (run in a child
process: importing locust here would monkey-patch this test process with gevent)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def locust(address: str, profile: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "scenarios" / "locustfile.py"),
            "--headless",
            "--host",
            address,
            "--tfsverify-profile",
            str(profile),
            "--json",
            "--loglevel",
            "ERROR",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.stdout, done.stderr[-2000:]
    stats: list[dict[str, Any]] = json.loads(done.stdout)
    return stats


def test_locust_follows_the_profile_and_reports_predict(fake_server: Any, tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("kind: constant\nrate_rps: 10\nduration_s: 1.5\n")
    (predict,) = locust(fake_server.address, profile)
    assert predict["name"] == "Predict" and predict["method"] == "grpc"
    assert 10 <= predict["num_requests"] <= 30
    assert predict["num_failures"] == 0


def test_locust_counts_wrong_answers_as_failures(fake_server: Any, tmp_path: Path) -> None:
    fake_server.wrong = True
    profile = tmp_path / "p.yaml"
    profile.write_text("kind: constant\nrate_rps: 5\nduration_s: 1\n")
    (predict,) = locust(fake_server.address, profile)
    assert predict["num_requests"] > 0
    assert predict["num_failures"] == predict["num_requests"]
