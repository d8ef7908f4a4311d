"""Faults and checks of the nodes the serving pods run on."""
