"""Faults and checks of the service mesh: Istio-style gRPC faults and mTLS enforcement."""
