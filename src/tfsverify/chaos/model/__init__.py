"""Checks of the served model."""
