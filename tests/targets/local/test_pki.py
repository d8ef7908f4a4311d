"""The local mesh PKI: CA, SPIFFE identities, the foreign CA, key file modes, reuse."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from tfsverify.errors import TargetError
from tfsverify.targets.local.pki import MeshPki, ensure_mesh_pki, issue_workload_cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> MeshPki:
    return ensure_mesh_pki(tmp_path_factory.mktemp("pki"))


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (ext.get_values_for_type(x509.UniformResourceIdentifier),
            ext.get_values_for_type(x509.DNSName))


def test_client_identities_are_spiffe_ids_signed_by_the_mesh_ca(pki: MeshPki) -> None:
    ca = load(pki.ca_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    key = ca.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    for cert, principal in ((pki.client_cert, pki.client_principal),
                            (pki.intruder_cert, pki.intruder_principal)):
        leaf = load(cert)
        leaf.verify_directly_issued_by(ca)
        assert sans(leaf) == ([f"spiffe://{principal}"], [])
    assert pki.client_principal == "cluster.local/ns/tfsverify/sa/loadgen"
    assert pki.intruder_principal == "cluster.local/ns/tfsverify/sa/intruder"


def test_foreign_client_claims_the_authorised_id_but_is_not_mesh_signed(pki: MeshPki) -> None:
    foreign = load(pki.foreign_client_cert)
    assert sans(foreign)[0] == [f"spiffe://{pki.client_principal}"]
    foreign.verify_directly_issued_by(load(pki.foreign_ca_cert))
    with pytest.raises((InvalidSignature, ValueError)):
        foreign.verify_directly_issued_by(load(pki.ca_cert))


def test_workload_cert_carries_spiffe_and_dns_sans(pki: MeshPki) -> None:
    dns = ["anomaly-detection.tfserving.svc.cluster.local", "anomaly-detection.tfserving.svc"]
    cert_path, key_path = issue_workload_cert(pki, "tfserving", "anomaly-detection", dns)
    cert = load(cert_path)
    cert.verify_directly_issued_by(load(pki.ca_cert))
    assert sans(cert) == (["spiffe://cluster.local/ns/tfserving/sa/anomaly-detection"], dns)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_every_key_file_is_0600(pki: MeshPki) -> None:
    keys = sorted(pki.directory.glob("*.key"))
    assert len(keys) >= 5
    assert {stat.S_IMODE(k.stat().st_mode) for k in keys} == {0o600}
    assert stat.S_IMODE(pki.ca_cert.stat().st_mode) == 0o644


def test_idempotent_reuse_and_reissue_on_san_change(pki: MeshPki) -> None:
    dns = ["reuse.tfserving.svc.cluster.local"]
    cert, _ = issue_workload_cert(pki, "tfserving", "reuse", dns)
    before = {p.name: p.read_bytes() for p in pki.directory.iterdir()}
    assert ensure_mesh_pki(pki.directory) == pki
    assert issue_workload_cert(pki, "tfserving", "reuse", dns)[0] == cert
    assert {p.name: p.read_bytes() for p in pki.directory.iterdir()} == before
    issue_workload_cert(pki, "tfserving", "reuse", ["other.example"])
    assert sans(load(cert))[1] == ["other.example"]


def test_a_new_ca_reissues_the_identities(tmp_path: Path) -> None:
    first = ensure_mesh_pki(tmp_path)
    first.ca_key.unlink()
    second = ensure_mesh_pki(tmp_path)
    ca = load(second.ca_cert)
    load(second.client_cert).verify_directly_issued_by(ca)
    load(second.intruder_cert).verify_directly_issued_by(ca)


def test_trust_domain(tmp_path: Path) -> None:
    pki = ensure_mesh_pki(tmp_path, trust_domain="example.org")
    assert sans(load(pki.client_cert))[0] == ["spiffe://example.org/ns/tfsverify/sa/loadgen"]


def test_issue_without_ca_is_a_target_error(tmp_path: Path, pki: MeshPki) -> None:
    empty = MeshPki(**{**pki.__dict__, "directory": tmp_path, "ca_cert": tmp_path / "ca.crt",
                       "ca_key": tmp_path / "ca.key"})
    with pytest.raises(TargetError, match="no mesh CA"):
        issue_workload_cert(empty, "ns", "sa", [])
