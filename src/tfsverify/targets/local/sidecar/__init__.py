"""The local target's stand-in for Istio's Envoy sidecar, one process in front of each pod.

Run as ``python -m tfsverify.targets.local.sidecar --config PATH`` (see :mod:`.config` for
the file). It terminates the mesh's mTLS on the pod address, knows each caller by its
SPIFFE principal, enforces AuthorizationPolicy, injects VirtualService faults, forwards
every unary gRPC call to the app as raw bytes and reports Istio's request metrics on its
admin port. It never imports TensorFlow: it starts in well under a second and stays small.

Exit codes: 0 after SIGTERM/SIGINT or ``/quitquitquit``; 2 for a bad config file; 3 when
the pod or admin address is in use or the TLS files cannot be read.
"""
