"""Every experiment file is valid (Chaos Toolkit validation plus ours), bad ones fail in one
line with exit 2 before anything is touched."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tfsverify.chaos import command
from tfsverify.chaos.catalogue import default_files, load_entry
from tfsverify.errors import BadInput

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((REPO / "experiments").glob("*.json"))
DATA = Path(__file__).parent / "data"


def test_the_catalogue_is_complete() -> None:
    names = {p.stem for p in EXPERIMENTS}
    assert {"pod-kill", "sidecar-failure", "node-drain", "mtls-enforcement",
            "grpc-fault"} <= names
    assert [p.stem for p in default_files()][:2] == ["pod-kill", "sidecar-failure"]


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_experiment_is_valid_and_rolls_back_always(path: Path, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    monkeypatch.chdir(REPO)
    entry = load_entry(path)
    assert entry.name == path.stem
    assert entry.experiment["runtime"]["rollbacks"]["strategy"] == "always"
    assert entry.arguments.slo.is_file()


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.json")))
def test_a_malformed_experiment_is_one_line_exit_2(
        name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    with pytest.raises(BadInput):
        load_entry(DATA / name)
    args = argparse.Namespace(experiments=[DATA / name], out=None, profile=None)
    assert command.run(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tfsverify chaos: error: ") and name in err[0]


def test_a_missing_profile_is_exit_2(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(REPO)
    bad = tmp_path / "profile.yaml"
    bad.write_text("kind: constant\nrate_rps: -1\n")
    args = argparse.Namespace(experiments=[REPO / "experiments" / "pod-kill.json"], out=None,
                              profile=bad)
    assert command.run(args) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_kubernetes_context_not_allowed_is_refused_before_anything(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: prod, context: {cluster: c, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("TFSVERIFY_TARGET", "kubernetes")
    monkeypatch.chdir(tmp_path)
    args = argparse.Namespace(experiments=[], out=None, profile=None)
    assert command.run(args) == 2
    assert "'prod' is not on the allow-list" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()
