"""The local mesh's PKI: a mesh CA, SPIFFE workload identities and a foreign CA for probes.

Istio's CA (istiod) signs every workload an X.509 certificate whose URI SAN is the SPIFFE ID
``spiffe://<trust domain>/ns/<namespace>/sa/<service account>``; sidecars trust only the
mesh root. :func:`ensure_mesh_pki` creates the same material on disk for the local target:

- the mesh CA (EC P-256), which signs every identity below and the pods' server certificates
  (:func:`issue_workload_cert`);
- the authorised client identity ``ns/tfsverify/sa/loadgen`` that the load engine holds;
- a client identity that the reference AuthorizationPolicy does not allow
  (``ns/tfsverify/sa/intruder``);
- a FOREIGN CA and a client certificate it signed that claims the authorised SPIFFE ID, for
  the "certificate from another CA" probe.

It is idempotent: what exists and still fits is reused. Private keys are written with mode
0600 from creation on and are never logged.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tfsverify.errors import TargetError

CLIENT_NAMESPACE = "tfsverify"
CLIENT_SERVICE_ACCOUNT = "loadgen"
INTRUDER_SERVICE_ACCOUNT = "intruder"

_CA_VALIDITY = dt.timedelta(days=3650)
_LEAF_VALIDITY = dt.timedelta(days=90)
_RENEW_BEFORE = dt.timedelta(days=1)
_CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class MeshPki:
    """Paths of the mesh's PKI material (PEM files) and its trust domain."""

    directory: Path
    trust_domain: str
    ca_cert: Path
    ca_key: Path
    client_cert: Path  # authorised: <trust domain>/ns/tfsverify/sa/loadgen
    client_key: Path
    intruder_cert: Path  # valid mesh identity the policy does not allow: .../sa/intruder
    intruder_key: Path
    foreign_ca_cert: Path
    foreign_client_cert: Path  # signed by the foreign CA, claims the authorised SPIFFE ID
    foreign_client_key: Path

    @property
    def client_principal(self) -> str:
        """The authorised client's principal as Istio writes it (no ``spiffe://``)."""
        return principal(self.trust_domain, CLIENT_NAMESPACE, CLIENT_SERVICE_ACCOUNT)

    @property
    def intruder_principal(self) -> str:
        return principal(self.trust_domain, CLIENT_NAMESPACE, INTRUDER_SERVICE_ACCOUNT)


def principal(trust_domain: str, namespace: str, service_account: str) -> str:
    """``<trust domain>/ns/<namespace>/sa/<service account>``, Istio's principal format."""
    return f"{trust_domain}/ns/{namespace}/sa/{service_account}"


def ensure_mesh_pki(directory: Path, trust_domain: str = "cluster.local") -> MeshPki:
    """Create (or reuse) the mesh CA, the client identities and the foreign CA in ``directory``."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _locked(directory):
            return _ensure(directory, trust_domain)
    except OSError as exc:
        raise TargetError(f"cannot write the mesh PKI in {directory}: {exc.strerror}") from exc


def issue_workload_cert(
    pki: MeshPki, namespace: str, service_account: str, dns_names: list[str] | tuple[str, ...]
) -> tuple[Path, Path]:
    """Issue (or reuse) a mesh-CA certificate for a workload; returns ``(cert, key)`` paths.

    The certificate carries the URI SAN ``spiffe://<trust domain>/ns/<ns>/sa/<sa>`` and the
    given DNS SANs (e.g. ``anomaly-detection.tfserving.svc.cluster.local``); it is valid for
    both server and client authentication, like Istio's workload certificates.
    """
    try:
        with _locked(pki.directory):
            ca = _load_pair(pki.ca_cert, pki.ca_key)
            if ca is None:
                raise TargetError(f"no mesh CA in {pki.directory}: run ensure_mesh_pki() first")
            stem = f"workload-{namespace}.{service_account}"
            cert, key = pki.directory / f"{stem}.crt", pki.directory / f"{stem}.key"
            _ensure_leaf(cert, key, ca, pki.trust_domain, namespace, service_account, dns_names)
            return cert, key
    except OSError as exc:
        raise TargetError(f"cannot write a workload certificate: {exc.strerror}") from exc


# internals ------------------------------------------------------------------------------

_Pair = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _ensure(directory: Path, trust_domain: str) -> MeshPki:
    p = directory
    pki = MeshPki(
        directory=p, trust_domain=trust_domain,
        ca_cert=p / "ca.crt", ca_key=p / "ca.key",
        client_cert=p / "loadgen.crt", client_key=p / "loadgen.key",
        intruder_cert=p / "intruder.crt", intruder_key=p / "intruder.key",
        foreign_ca_cert=p / "foreign-ca.crt",
        foreign_client_cert=p / "foreign-client.crt", foreign_client_key=p / "foreign-client.key",
    )
    ca = _ensure_ca(pki.ca_cert, pki.ca_key, f"tfsverify mesh CA ({trust_domain})")
    foreign = _ensure_ca(pki.foreign_ca_cert, p / "foreign-ca.key", "tfsverify FOREIGN CA")
    ns, sa = CLIENT_NAMESPACE, CLIENT_SERVICE_ACCOUNT
    _ensure_leaf(pki.client_cert, pki.client_key, ca, trust_domain, ns, sa, ())
    _ensure_leaf(pki.intruder_cert, pki.intruder_key, ca, trust_domain, ns,
                 INTRUDER_SERVICE_ACCOUNT, ())
    _ensure_leaf(pki.foreign_client_cert, pki.foreign_client_key, foreign, trust_domain, ns, sa, ())
    return pki


def _ensure_ca(cert_path: Path, key_path: Path, common_name: str) -> _Pair:
    pair = _load_pair(cert_path, key_path)
    if pair is not None and _fresh(pair[0]):
        return pair
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tfsverify"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW).not_valid_after(now + _CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _ensure_leaf(
    cert_path: Path, key_path: Path, ca: _Pair, trust_domain: str,
    namespace: str, service_account: str, dns_names: list[str] | tuple[str, ...],
) -> None:
    spiffe = f"spiffe://{principal(trust_domain, namespace, service_account)}"
    sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(spiffe)]
    sans += [x509.DNSName(n) for n in dns_names]
    existing = _load_pair(cert_path, key_path)
    if existing is not None and _fits(existing[0], ca[0], sans):
        return
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    ca_cert, ca_key = ca
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, trust_domain)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW).not_valid_after(now + _LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def _fits(cert: x509.Certificate, ca_cert: x509.Certificate, sans: list[x509.GeneralName]) -> bool:
    """The certificate was signed by this CA, is not about to expire and has exactly these SANs."""
    try:
        cert.verify_directly_issued_by(ca_cert)
        have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (InvalidSignature, ValueError, TypeError, x509.ExtensionNotFound):
        return False
    return _fresh(cert) and set(have) == set(sans)


def _fresh(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > _RENEW_BEFORE


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=not cert_sign,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_pair(cert_path: Path, key_path: Path) -> _Pair | None:
    """The certificate and its key if both exist, parse and belong together; else None."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if cert.public_key() != key.public_key():
        return None
    return cert, key


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write atomically: a new file (0600 for keys, from creation on) renamed over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on ``<directory>/.lock`` so concurrent callers do not race."""
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
