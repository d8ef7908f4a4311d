"""Faults and checks of the serving pods (the model server replicas)."""
