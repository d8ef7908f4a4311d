"""Static validation of the reference deployment (``nox -s validate-deploy``).

Every overlay of ``reference-deploy/overlays`` is rendered with ``kubectl kustomize``
(:mod:`~tfsverify.deploycheck.render`), every object is validated against the Kubernetes
schemas of the supported versions and the CRD schemas of Istio, KEDA and the Prometheus
Operator (:mod:`~tfsverify.deploycheck.schemas`), and policy checks encode why the
deployment is resilient and secure (:mod:`~tfsverify.deploycheck.policy`). Each finding is
one line: ``check-id: Kind/name: what is wrong — why it matters``.
"""

from tfsverify.deploycheck.findings import Finding

__all__ = ["Finding"]
