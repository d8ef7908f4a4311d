"""Faults and checks of the mesh proxies (the Istio sidecars in front of the model servers)."""
